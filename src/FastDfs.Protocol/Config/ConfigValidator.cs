namespace FastDfs.Protocol.Config;

/// <summary>
/// Range checks shared by the options records. Errors name the key and, when the options came from a file,
/// the file and line that set it.
/// </summary>
public readonly struct ConfigValidator(FdfsConfigFile? config)
{
    public FdfsConfigException Fail(string key, string message) =>
        config?.Error(key, message) ?? new FdfsConfigException(message, null, null, key);

    public void RequirePositive(TimeSpan value, string key)
    {
        if (value <= TimeSpan.Zero)
        {
            throw Fail(key, $"{key} must be greater than 0 (got {value.TotalSeconds:0.###}s)");
        }
    }

    public void RequireAtLeast(long value, long min, string key)
    {
        if (value < min)
        {
            throw Fail(key, $"{key} must be at least {min} (got {value})");
        }
    }

    public void RequireDefined<TEnum>(TEnum value, string key)
        where TEnum : struct, Enum
    {
        if (!Enum.IsDefined(value))
        {
            throw Fail(key, $"{key} has an unsupported value {value}");
        }
    }
}
