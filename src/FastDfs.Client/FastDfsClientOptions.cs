using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using Microsoft.Extensions.Logging;

namespace FastDfs.Client;

/// <summary><c>connect_first_by</c>: which address of a dual-IP storage the client tries first.</summary>
public enum ConnectFirstBy
{
    /// <summary>The address the tracker returned.</summary>
    Tracker = 0,

    /// <summary>The address that worked last time.</summary>
    LastConnected = 1,
}

/// <summary>
/// Client settings (client.conf, protocol notes 10.3) plus .NET-specific ones. Timeouts default to the shipped
/// client.conf values (5 s / 60 s). Note that <see cref="UseConnectionPool"/> defaults to true here, while the
/// shipped client.conf sets it to false (such a file still yields false).
/// </summary>
public sealed record FastDfsClientOptions
{
    /// <summary>Keys of client.conf that we accept without acting on them.</summary>
    public static IReadOnlyList<string> IgnoredKeys { get; } =
    [
        "http.tracker_server_port", "http.anti_steal.check_token", "http.anti_steal.token_ttl",
        "http.anti_steal.secret_key", "http.anti_steal.token_check_fail",
    ];

    /// <summary>Defaults, with no tracker servers.</summary>
    public static FastDfsClientOptions Default { get; } = new();

    /// <summary><c>tracker_server</c> lines; at least one is needed.</summary>
    public IReadOnlyList<TrackerEndpoint> TrackerServers { get; init; } = [];

    /// <summary><c>connect_timeout</c>.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><c>network_timeout</c>: limit for each send/receive.</summary>
    public TimeSpan NetworkTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary><c>base_path</c>: only used by the C tools for logs; optional here.</summary>
    public string? BasePath { get; init; }

    /// <summary><c>use_connection_pool</c>: keep connections to trackers and storages open for reuse.</summary>
    public bool UseConnectionPool { get; init; } = true;

    /// <summary><c>connection_pool_max_idle_time</c>: pooled connections idle longer are closed.</summary>
    public TimeSpan ConnectionPoolMaxIdleTime { get; init; } = TimeSpan.FromSeconds(3600);

    /// <summary>Our own: most connections (pooled or in use) to one server at a time.</summary>
    public int MaxConnectionsPerServer { get; init; } = 64;

    /// <summary>Our own: how long a tracker that failed is skipped before it is tried again.</summary>
    public TimeSpan TrackerRetryDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Our own: chunk size for streamed uploads and downloads (pooled buffers).</summary>
    public int TransferBufferSize { get; init; } = 256 * 1024;

    /// <summary>Our own: optional logging (event ids 4000-4999); null logs nothing.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary><c>connect_first_by</c>.</summary>
    public ConnectFirstBy ConnectFirstBy { get; init; } = ConnectFirstBy.Tracker;

    /// <summary><c>load_fdfs_parameters_from_tracker</c>.</summary>
    public bool LoadFdfsParametersFromTracker { get; init; }

    /// <summary><c>use_storage_id</c>.</summary>
    public bool UseStorageId { get; init; }

    /// <summary><c>storage_ids_filename</c>; relative names are relative to the config file's directory.</summary>
    public string StorageIdsFilename { get; init; } = "storage_ids.conf";

    /// <summary>
    /// The storage IDs (loaded from <see cref="StorageIdsFilename"/> by <see cref="FromConfig"/> when
    /// <see cref="UseStorageId"/> is true). A storage listed with two addresses is reached at the other one when the
    /// address the tracker gave fails (<see cref="ConnectFirstBy"/> decides which is tried first).
    /// </summary>
    public StorageIdMap? StorageIds { get; init; }

    /// <summary><c>log_level</c>.</summary>
    public FdfsLogLevel LogLevel { get; init; } = FdfsLogLevel.Info;

    /// <summary>
    /// Options for the given trackers (<c>host:port</c>, <c>host</c> for port 22122, <c>[ipv6]:port</c>,
    /// <c>host1,host2:port</c>). Throws <see cref="FormatException"/> for a malformed address.
    /// </summary>
    public static FastDfsClientOptions FromTrackers(params string[] hostPorts)
    {
        ArgumentNullException.ThrowIfNull(hostPorts);
        if (hostPorts.Length == 0)
        {
            throw new ArgumentException("at least one tracker address is required", nameof(hostPorts));
        }

        return new FastDfsClientOptions
        {
            TrackerServers = hostPorts.Select(h => TrackerEndpoint.Parse(h)).ToArray(),
        };
    }

    /// <summary>
    /// Reads client.conf settings. Absent keys keep the defaults; malformed or invalid values throw
    /// <see cref="FdfsConfigException"/> with file:line.
    /// </summary>
    public static FastDfsClientOptions FromConfig(FdfsConfigFile config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var d = Default;
        config.MarkUsed(IgnoredKeys);
        string? basePath = config.GetString("base_path");
        var options = new FastDfsClientOptions
        {
            TrackerServers = config.GetTrackerEndpoints("tracker_server"),
            ConnectTimeout = config.GetSeconds("connect_timeout", d.ConnectTimeout, int.MinValue),
            NetworkTimeout = config.GetSeconds("network_timeout", d.NetworkTimeout, int.MinValue),
            BasePath = string.IsNullOrEmpty(basePath) ? null : basePath,
            UseConnectionPool = config.GetBool("use_connection_pool", d.UseConnectionPool),
            ConnectionPoolMaxIdleTime = config.GetSeconds("connection_pool_max_idle_time", d.ConnectionPoolMaxIdleTime, int.MinValue),
            ConnectFirstBy = config.GetChoice("connect_first_by", "tracker", "tracker", "last-connected") == "tracker"
                ? ConnectFirstBy.Tracker
                : ConnectFirstBy.LastConnected,
            LoadFdfsParametersFromTracker = config.GetBool("load_fdfs_parameters_from_tracker", d.LoadFdfsParametersFromTracker),
            UseStorageId = config.GetBool("use_storage_id", d.UseStorageId),
            StorageIdsFilename = config.GetString("storage_ids_filename", d.StorageIdsFilename),
            LogLevel = config.GetLogLevel("log_level", d.LogLevel),
        };
        if (options.UseStorageId && !options.LoadFdfsParametersFromTracker)
        {
            // As the C client: a storage_ids.conf that cannot be read or parsed is a config error (file and line).
            string path = FdfsConfigFile.ResolvePath(options.StorageIdsFilename, config.ConfigDirectory);
            options = options with { StorageIds = StorageIdMap.Load(path, System.Net.Dns.GetHostAddresses) };
        }

        options.Validate(config);
        return options;
    }

    /// <summary>Checks the settings; throws <see cref="FdfsConfigException"/>.</summary>
    public void Validate() => Validate(null);

    private void Validate(FdfsConfigFile? config)
    {
        FdfsConfigException Fail(string key, string message) =>
            config?.Error(key, message) ?? new FdfsConfigException(message, null, null, key);

        if (TrackerServers.Count == 0)
        {
            throw Fail("tracker_server", "at least one tracker_server is required");
        }

        if (TrackerServers.Count > FdfsConstants.MaxTrackers)
        {
            throw Fail("tracker_server", $"at most {FdfsConstants.MaxTrackers} tracker servers are supported (got {TrackerServers.Count})");
        }

        if (ConnectTimeout <= TimeSpan.Zero)
        {
            throw Fail("connect_timeout", "connect_timeout must be greater than 0");
        }

        if (NetworkTimeout <= TimeSpan.Zero)
        {
            throw Fail("network_timeout", "network_timeout must be greater than 0");
        }

        if (UseConnectionPool && ConnectionPoolMaxIdleTime <= TimeSpan.Zero)
        {
            throw Fail("connection_pool_max_idle_time", "connection_pool_max_idle_time must be greater than 0");
        }

        if (MaxConnectionsPerServer < 1)
        {
            throw Fail("max_connections_per_server", $"MaxConnectionsPerServer must be at least 1 (got {MaxConnectionsPerServer})");
        }
    }
}
