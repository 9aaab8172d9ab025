namespace FastDfs.Protocol.Config;

/// <summary>
/// A configuration file that cannot be used: bad syntax, a value of the wrong type, or a
/// setting that fails validation. <see cref="Exception.Message"/> already carries the location
/// (<c>file:line</c>) and key when they are known.
/// </summary>
public sealed class FdfsConfigException : Exception
{
    public FdfsConfigException(string message)
        : base(message)
    {
    }

    public FdfsConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public FdfsConfigException(string message, string? filePath, int? line, string? key, Exception? innerException = null)
        : base(FormatMessage(message, filePath, line, key), innerException)
    {
        FilePath = filePath;
        Line = line;
        Key = key;
        Reason = message;
    }

    /// <summary>The file the offending line is in (the including file's name for nested includes).</summary>
    public string? FilePath { get; }

    /// <summary>1-based line number, or null when the problem is not tied to one line.</summary>
    public int? Line { get; }

    /// <summary>The config key concerned (<c>section.key</c> for keys inside a section), if any.</summary>
    public string? Key { get; }

    /// <summary>The message without the location prefix.</summary>
    public string? Reason { get; }

    private static string FormatMessage(string message, string? filePath, int? line, string? key)
    {
        string location = (filePath, line) switch
        {
            (null, null) => "",
            (null, int l) => $"line {l}: ",
            (string f, null) => $"{f}: ",
            (string f, int l) => $"{f}:{l}: ",
        };
        string keyPart = key is null ? "" : $"'{key}': ";
        return location + keyPart + message;
    }
}
