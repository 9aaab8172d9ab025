namespace FastDfs.Protocol.Config;

/// <summary>syslog-style <c>log_level</c> values (numbered as syslog priorities).</summary>
public enum FdfsLogLevel
{
    Emerg = 0,
    Alert = 1,
    Crit = 2,
    Error = 3,
    Warn = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

/// <summary><c>address_family</c> (6.11+): which IP stacks to serve.</summary>
public enum FdfsAddressFamily
{
    Auto = 0,
    IPv4 = 1,
    IPv6 = 2,
    Both = 3,
}

/// <summary>Parsing of the word-valued settings shared by all FastDFS config files.</summary>
public static class FdfsConfigValues
{
    /// <summary>Parses a log level: emerg, alert, crit, error, warn, notice, info, debug (case-insensitive; the
    /// long forms emergency/critical/warning and err are accepted too). Throws <see cref="FormatException"/>.</summary>
    public static FdfsLogLevel ParseLogLevel(string text) => text.Trim().ToLowerInvariant() switch
    {
        "emerg" or "emergency" => FdfsLogLevel.Emerg,
        "alert" => FdfsLogLevel.Alert,
        "crit" or "critical" => FdfsLogLevel.Crit,
        "error" or "err" => FdfsLogLevel.Error,
        "warn" or "warning" => FdfsLogLevel.Warn,
        "notice" => FdfsLogLevel.Notice,
        "info" => FdfsLogLevel.Info,
        "debug" => FdfsLogLevel.Debug,
        _ => throw new FormatException("expected a log level: emerg, alert, crit, error, warn, notice, info or debug"),
    };

    /// <summary>Parses auto, IPv4, IPv6 or both (case-insensitive). Throws <see cref="FormatException"/>.</summary>
    public static FdfsAddressFamily ParseAddressFamily(string text) => text.Trim().ToLowerInvariant() switch
    {
        "auto" => FdfsAddressFamily.Auto,
        "ipv4" => FdfsAddressFamily.IPv4,
        "ipv6" => FdfsAddressFamily.IPv6,
        "both" => FdfsAddressFamily.Both,
        _ => throw new FormatException("expected an address family: auto, IPv4, IPv6 or both"),
    };

    /// <summary>The spelling used in config files (<c>info</c>, <c>warn</c>, ...).</summary>
    public static string ToConfigString(this FdfsLogLevel level) => level.ToString().ToLowerInvariant();

    /// <summary>Reads a <c>log_level</c>-style key.</summary>
    public static FdfsLogLevel GetLogLevel(this FdfsConfigFile config, string key, FdfsLogLevel defaultValue) =>
        config.GetParsed(key, defaultValue, ParseLogLevel);

    /// <summary>Reads an <c>address_family</c>-style key.</summary>
    public static FdfsAddressFamily GetAddressFamily(this FdfsConfigFile config, string key, FdfsAddressFamily defaultValue) =>
        config.GetParsed(key, defaultValue, ParseAddressFamily);

    /// <summary>Reads a repeatable <c>tracker_server</c>-style key.</summary>
    public static IReadOnlyList<TrackerEndpoint> GetTrackerEndpoints(this FdfsConfigFile config, string key, int defaultPort = FdfsConstants.DefaultTrackerPort) =>
        config.GetAllParsed(key, v => TrackerEndpoint.Parse(v, defaultPort));

    /// <summary>
    /// Reads a repeatable <c>allow_hosts</c> key into its raw values, validating each one with its location.
    /// Absent key: <c>["*"]</c> (everyone allowed, as in FastDFS).
    /// </summary>
    public static IReadOnlyList<string> GetAllowHosts(this FdfsConfigFile config, string key = "allow_hosts")
    {
        var entries = config.GetEntries(key);
        if (entries.Count == 0)
        {
            return ["*"];
        }

        var values = config.GetAllParsed(key, v =>
        {
            HostAccessList.ValidatePattern(v);
            return v;
        });
        return values.Count == 0 ? ["*"] : values;
    }

    /// <summary>True if <paramref name="path"/> is an absolute path (<c>/...</c> on Unix).</summary>
    public static bool IsAbsolutePath(string path) => path.Length > 0 && Path.IsPathFullyQualified(path);
}
