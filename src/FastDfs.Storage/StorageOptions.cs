using System.Globalization;
using System.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;

namespace FastDfs.Storage;

/// <summary><c>file_distribute_path_mode</c>: how new files are spread over the 256x256 data directories.</summary>
public enum FileDistributePathMode
{
    RoundRobin = 0,
    Random = 1,
}

/// <summary><c>file_signature_method</c> for de-duplication via FastDHT.</summary>
public enum FileSignatureMethod
{
    Hash = 0,
    Md5 = 1,
}

/// <summary>
/// Settings of the storage daemon (storage.conf, protocol notes 10.2). Defaults are the values of the sample
/// storage.conf shipped with FastDFS 6.16.1 (e.g. stat_report_interval 60, buff_size 256KB).
/// </summary>
public sealed record StorageOptions
{
    /// <summary>Most store paths FastDFS supports.</summary>
    public const int MaxStorePaths = 256;

    /// <summary>Keys FastDFS knows that we accept but do not act on; they are not reported as unknown.</summary>
    public static IReadOnlyList<string> IgnoredKeys { get; } =
    [
        "thread_stack_size", "rotate_error_log", "error_log_rotate_time", "rotate_error_log_size",
        "log_file_keep_days", "compress_old_error_log", "compress_error_log_days_before",
        "access_log_rotate_time", "compress_old_access_log", "compress_access_log_days_before",
        "rotate_access_log_size", "log_file_rotate_everyday", "log_file_compress_old",
        "log_file_compress_days_before", "use_io_uring", "use_send_zc", "max_pkg_size",
        "min_buff_size", "max_buff_size", "http.domain_name", "http.server_port", "http.disabled",
        "http.trunk_size", "fastdht_servers",
    ];

    private readonly IReadOnlyList<string> _allowHosts = ["*"];

    /// <summary>The shipped defaults (with no tracker servers, which a real config must add).</summary>
    public static StorageOptions Default { get; } = new();

    /// <summary><c>disabled</c>: the C daemon refuses to start when true.</summary>
    public bool Disabled { get; init; }

    /// <summary>
    /// <c>group_name</c>: 1-16 letters or digits. Null when the key is absent or empty, which in FastDFS means
    /// "ask the tracker" (requires use_storage_id on the tracker).
    /// </summary>
    public string? GroupName { get; init; } = "group1";

    /// <summary><c>bind_addr</c>: empty for all addresses; may list an IPv4 and an IPv6 address, comma separated.</summary>
    public string BindAddr { get; init; } = "";

    /// <summary><see cref="BindAddr"/> split at commas.</summary>
    public IReadOnlyList<string> BindAddresses =>
        BindAddr.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary><c>client_bind</c>: outgoing connections bind to <see cref="BindAddr"/>.</summary>
    public bool ClientBind { get; init; } = true;

    /// <summary><c>port</c>.</summary>
    public int Port { get; init; } = FdfsConstants.DefaultStoragePort;

    /// <summary><c>address_family</c>.</summary>
    public FdfsAddressFamily AddressFamily { get; init; } = FdfsAddressFamily.Auto;

    /// <summary><c>server_id</c> (6.11, for NAT setups); null when not set.</summary>
    public string? ServerId { get; init; }

    /// <summary><c>use_storage_id</c> (normally learnt from the tracker; read if present).</summary>
    public bool UseStorageId { get; init; }

    /// <summary><c>connect_timeout</c>.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><c>network_timeout</c>.</summary>
    public TimeSpan NetworkTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a CRC32 of an appender's content may run before it is answered ETIMEDOUT; null: <see cref="NetworkTimeout"/>
    /// (a client would have given up by then). Not a config key: tests shorten it without shortening the stall watch.
    /// </summary>
    internal TimeSpan? CrcTimeLimit { get; init; }

    /// <summary><c>heart_beat_interval</c>.</summary>
    public TimeSpan HeartBeatInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary><c>stat_report_interval</c> (disk usage reports).</summary>
    public TimeSpan StatReportInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary><c>base_path</c>: binlogs, marks, logs. Must be absolute.</summary>
    public string BasePath { get; init; } = "/opt/fastdfs";

    /// <summary><c>max_connections</c>.</summary>
    public int MaxConnections { get; init; } = 1024;

    /// <summary><c>buff_size</c> in bytes (at least 8KB).</summary>
    public int BuffSize { get; init; } = 256 * 1024;

    /// <summary><c>accept_threads</c>.</summary>
    public int AcceptThreads { get; init; } = 1;

    /// <summary><c>work_threads</c>.</summary>
    public int WorkThreads { get; init; } = 4;

    /// <summary><c>disk_rw_separated</c>.</summary>
    public bool DiskRwSeparated { get; init; } = true;

    /// <summary><c>disk_reader_threads</c> per store path.</summary>
    public int DiskReaderThreads { get; init; } = 2;

    /// <summary><c>disk_writer_threads</c> per store path.</summary>
    public int DiskWriterThreads { get; init; } = 1;

    /// <summary><c>disk_recovery_threads</c>.</summary>
    public int DiskRecoveryThreads { get; init; } = 4;

    /// <summary><c>sync_min_threads</c>.</summary>
    public int SyncMinThreads { get; init; } = 1;

    /// <summary><c>sync_max_threads</c>; null for <c>auto</c>.</summary>
    public int? SyncMaxThreads { get; init; }

    /// <summary><c>sync_wait_msec</c>: pause when the binlog has nothing to sync.</summary>
    public TimeSpan SyncWait { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary><c>sync_interval</c> (ms): pause after each synced file; 0 for none.</summary>
    public TimeSpan SyncInterval { get; init; } = TimeSpan.Zero;

    /// <summary><c>sync_start_time</c>.</summary>
    public TimeOnly SyncStartTime { get; init; } = new(0, 0);

    /// <summary><c>sync_end_time</c>.</summary>
    public TimeOnly SyncEndTime { get; init; } = new(23, 59);

    /// <summary><c>write_mark_file_freq</c>: write the sync mark file every N files.</summary>
    public int WriteMarkFileFreq { get; init; } = 500;

    /// <summary>
    /// <c>store_path0..N</c> (<c>store_path_count</c> entries). In a config, a missing store_path0 means
    /// <see cref="BasePath"/>.
    /// </summary>
    public IReadOnlyList<string> StorePaths { get; init; } = ["/opt/fastdfs"];

    /// <summary><c>store_path_count</c> (always <see cref="StorePaths"/>.Count).</summary>
    public int StorePathCount => StorePaths.Count;

    /// <summary>Indexes of store paths marked <c>store_pathN_readonly = true</c> (no new files).</summary>
    public IReadOnlySet<int> ReadOnlyStorePaths { get; init; } = new HashSet<int>();

    /// <summary><c>subdir_count_per_path</c> (1..256): N x N data directories per store path.</summary>
    public int SubdirCountPerPath { get; init; } = 256;

    /// <summary><c>tracker_server</c> lines. 127.0.0.1 is accepted (see <see cref="TrackerEndpoint.IsLoopbackLiteral"/>).</summary>
    public IReadOnlyList<TrackerEndpoint> TrackerServers { get; init; } = [];

    /// <summary><c>log_level</c>.</summary>
    public FdfsLogLevel LogLevel { get; init; } = FdfsLogLevel.Info;

    /// <summary><c>run_by_group</c>.</summary>
    public string RunByGroup { get; init; } = "";

    /// <summary><c>run_by_user</c>.</summary>
    public string RunByUser { get; init; } = "";

    /// <summary>
    /// <c>allow_hosts</c> patterns (see <see cref="HostAccessList"/>). Setting it rebuilds <see cref="HostAccess"/>;
    /// an invalid pattern throws <see cref="FdfsConfigException"/>.
    /// </summary>
    public IReadOnlyList<string> AllowHosts
    {
        get => _allowHosts;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            _allowHosts = value;
            HostAccess = HostAccessList.FromAllowHosts(value);
        }
    }

    /// <summary>
    /// The compiled <see cref="AllowHosts"/>; replace it with a resolved copy
    /// (<see cref="HostAccessList.WithResolvedHostNames"/>) to match host names. In an object initializer set it
    /// after <see cref="AllowHosts"/>, which rebuilds it.
    /// </summary>
    public HostAccessList HostAccess { get; init; } = HostAccessList.AllowAll;

    /// <summary><c>file_distribute_path_mode</c>.</summary>
    public FileDistributePathMode FileDistributePathMode { get; init; } = FileDistributePathMode.RoundRobin;

    /// <summary><c>file_distribute_rotate_count</c>.</summary>
    public int FileDistributeRotateCount { get; init; } = 100;

    /// <summary><c>fsync_after_written_bytes</c>; 0 never.</summary>
    public long FsyncAfterWrittenBytes { get; init; }

    /// <summary><c>sync_log_buff_interval</c>: flush the error log buffer.</summary>
    public TimeSpan SyncLogBuffInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary><c>sync_binlog_buff_interval</c>: flush the binlog buffer.</summary>
    public TimeSpan SyncBinlogBuffInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary><c>sync_stat_file_interval</c>: write storage_stat.dat.</summary>
    public TimeSpan SyncStatFileInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary><c>upload_priority</c>: lower is preferred with tracker store_server = 2.</summary>
    public int UploadPriority { get; init; } = 10;

    /// <summary><c>if_alias_prefix</c>.</summary>
    public string IfAliasPrefix { get; init; } = "";

    /// <summary><c>check_file_duplicate</c> (FastDHT de-dup).</summary>
    public bool CheckFileDuplicate { get; init; }

    /// <summary><c>file_signature_method</c>.</summary>
    public FileSignatureMethod FileSignatureMethod { get; init; } = FileSignatureMethod.Hash;

    /// <summary><c>key_namespace</c>.</summary>
    public string KeyNamespace { get; init; } = "FastDFS";

    /// <summary><c>keep_alive</c> (FastDHT connections).</summary>
    public bool KeepAlive { get; init; }

    /// <summary><c>[access-log] enabled</c>, or the older <c>use_access_log</c>.</summary>
    public bool UseAccessLog { get; init; }

    /// <summary><c>rotate_access_log</c>.</summary>
    public bool RotateAccessLog { get; init; }

    /// <summary><c>file_sync_skip_invalid_record</c>.</summary>
    public bool FileSyncSkipInvalidRecord { get; init; }

    /// <summary><c>use_connection_pool</c>.</summary>
    public bool UseConnectionPool { get; init; } = true;

    /// <summary><c>connection_pool_max_idle_time</c>.</summary>
    public TimeSpan ConnectionPoolMaxIdleTime { get; init; } = TimeSpan.FromSeconds(3600);

    /// <summary><c>compress_binlog</c>.</summary>
    public bool CompressBinlog { get; init; } = true;

    /// <summary><c>compress_binlog_time</c>.</summary>
    public TimeOnly CompressBinlogTime { get; init; } = new(1, 30);

    /// <summary><c>check_store_path_mark</c>.</summary>
    public bool CheckStorePathMark { get; init; } = true;

    /// <summary>
    /// <c>reserved_storage_space</c>: free space a store path keeps; uploads beyond it get ENOSPC. FastDFS takes it
    /// from the tracker; we also read it from storage.conf and otherwise keep a small fixed reserve.
    /// </summary>
    public ReservedSpace ReservedStorageSpace { get; init; } = ReservedSpace.FromBytes(16L * 1024 * 1024);

    /// <summary>
    /// <c>store_path</c> (a tracker.conf key the tracker hands to storages): 0 = round robin, 2 = most free space,
    /// used when a client lets the storage choose (index 0xFF).
    /// </summary>
    public bool StorePathLoadBalance { get; init; }

    /// <summary>True when <paramref name="address"/> passes <see cref="AllowHosts"/>.</summary>
    public bool IsAllowed(IPAddress address) => HostAccess.IsAllowed(address);

    /// <summary>
    /// Reads storage.conf settings. Absent keys keep the shipped defaults. Throws <see cref="FdfsConfigException"/>
    /// (with file:line) for malformed or invalid values. Unknown keys are not errors; they stay in
    /// <see cref="FdfsConfigFile.UnusedKeys"/>.
    /// </summary>
    public static StorageOptions FromConfig(FdfsConfigFile config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var d = Default;
        config.MarkUsed(IgnoredKeys);

        if (!config.Contains("base_path"))
        {
            throw config.Error("base_path", "base_path is required");
        }

        string basePath = config.GetString("base_path", "");
        string? groupName = config.GetString("group_name");
        string? serverId = config.GetString("server_id");
        int? syncMaxThreads = config.GetParsed<int?>("sync_max_threads", null, v =>
            string.Equals(v, "auto", StringComparison.OrdinalIgnoreCase)
                ? null
                : int.Parse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
        var (storePaths, readOnly) = ReadStorePaths(config, basePath);

        var options = new StorageOptions
        {
            Disabled = config.GetBool("disabled", d.Disabled),
            GroupName = string.IsNullOrEmpty(groupName) ? null : groupName,
            BindAddr = config.GetString("bind_addr", d.BindAddr),
            ClientBind = config.GetBool("client_bind", d.ClientBind),
            Port = config.GetInt("port", d.Port),
            AddressFamily = config.GetAddressFamily("address_family", d.AddressFamily),
            ServerId = string.IsNullOrEmpty(serverId) ? null : serverId,
            UseStorageId = config.GetBool("use_storage_id", d.UseStorageId),
            ConnectTimeout = config.GetSeconds("connect_timeout", d.ConnectTimeout, int.MinValue),
            NetworkTimeout = config.GetSeconds("network_timeout", d.NetworkTimeout, int.MinValue),
            HeartBeatInterval = config.GetSeconds("heart_beat_interval", d.HeartBeatInterval, int.MinValue),
            StatReportInterval = config.GetSeconds("stat_report_interval", d.StatReportInterval, int.MinValue),
            BasePath = basePath,
            MaxConnections = config.GetInt("max_connections", d.MaxConnections),
            BuffSize = (int)config.GetSize("buff_size", d.BuffSize, max: int.MaxValue),
            AcceptThreads = config.GetInt("accept_threads", d.AcceptThreads),
            WorkThreads = config.GetInt("work_threads", d.WorkThreads),
            DiskRwSeparated = config.GetBool("disk_rw_separated", d.DiskRwSeparated),
            DiskReaderThreads = config.GetInt("disk_reader_threads", d.DiskReaderThreads),
            DiskWriterThreads = config.GetInt("disk_writer_threads", d.DiskWriterThreads),
            DiskRecoveryThreads = config.GetInt("disk_recovery_threads", d.DiskRecoveryThreads),
            SyncMinThreads = config.GetInt("sync_min_threads", d.SyncMinThreads),
            SyncMaxThreads = syncMaxThreads,
            SyncWait = TimeSpan.FromMilliseconds(config.GetInt("sync_wait_msec", (int)d.SyncWait.TotalMilliseconds)),
            SyncInterval = TimeSpan.FromMilliseconds(config.GetInt("sync_interval", (int)d.SyncInterval.TotalMilliseconds)),
            SyncStartTime = config.GetTimeOfDay("sync_start_time", d.SyncStartTime),
            SyncEndTime = config.GetTimeOfDay("sync_end_time", d.SyncEndTime),
            WriteMarkFileFreq = config.GetInt("write_mark_file_freq", d.WriteMarkFileFreq),
            StorePaths = storePaths,
            ReadOnlyStorePaths = readOnly,
            SubdirCountPerPath = config.GetInt("subdir_count_per_path", d.SubdirCountPerPath),
            TrackerServers = config.GetTrackerEndpoints("tracker_server"),
            LogLevel = config.GetLogLevel("log_level", d.LogLevel),
            RunByGroup = config.GetString("run_by_group", d.RunByGroup),
            RunByUser = config.GetString("run_by_user", d.RunByUser),
            AllowHosts = config.GetAllowHosts(),
            FileDistributePathMode = config.GetIntEnum("file_distribute_path_mode", d.FileDistributePathMode),
            FileDistributeRotateCount = config.GetInt("file_distribute_rotate_count", d.FileDistributeRotateCount),
            FsyncAfterWrittenBytes = config.GetSize("fsync_after_written_bytes", d.FsyncAfterWrittenBytes),
            SyncLogBuffInterval = config.GetSeconds("sync_log_buff_interval", d.SyncLogBuffInterval, int.MinValue),
            SyncBinlogBuffInterval = config.GetSeconds("sync_binlog_buff_interval", d.SyncBinlogBuffInterval, int.MinValue),
            SyncStatFileInterval = config.GetSeconds("sync_stat_file_interval", d.SyncStatFileInterval, int.MinValue),
            UploadPriority = config.GetInt("upload_priority", d.UploadPriority),
            IfAliasPrefix = config.GetString("if_alias_prefix", d.IfAliasPrefix),
            CheckFileDuplicate = config.GetBool("check_file_duplicate", d.CheckFileDuplicate),
            FileSignatureMethod = config.GetChoice("file_signature_method", "hash", "hash", "md5") == "md5"
                ? FileSignatureMethod.Md5
                : FileSignatureMethod.Hash,
            KeyNamespace = config.GetString("key_namespace", d.KeyNamespace),
            KeepAlive = config.GetBool("keep_alive", d.KeepAlive),
            UseAccessLog = config.Contains("access-log.enabled")
                ? config.GetBool("access-log.enabled", d.UseAccessLog)
                : config.GetBool("use_access_log", d.UseAccessLog),
            RotateAccessLog = config.GetBool("rotate_access_log", d.RotateAccessLog),
            FileSyncSkipInvalidRecord = config.GetBool("file_sync_skip_invalid_record", d.FileSyncSkipInvalidRecord),
            UseConnectionPool = config.GetBool("use_connection_pool", d.UseConnectionPool),
            ConnectionPoolMaxIdleTime = config.GetSeconds("connection_pool_max_idle_time", d.ConnectionPoolMaxIdleTime, int.MinValue),
            CompressBinlog = config.GetBool("compress_binlog", d.CompressBinlog),
            CompressBinlogTime = config.GetTimeOfDay("compress_binlog_time", d.CompressBinlogTime),
            CheckStorePathMark = config.GetBool("check_store_path_mark", d.CheckStorePathMark),
            ReservedStorageSpace = config.GetPercentOrSize("reserved_storage_space", d.ReservedStorageSpace),
            StorePathLoadBalance = config.GetInt("store_path", 0, 0, 2) == 2,
        };

        // Read so they are not reported as unknown even when only one of the pair is used.
        config.MarkUsed("use_access_log", "access-log.enabled");
        options.Validate(config);
        return options;
    }

    /// <summary>Checks ranges and cross-setting rules; throws <see cref="FdfsConfigException"/>.</summary>
    public void Validate() => Validate(null);

    private void Validate(FdfsConfigFile? config)
    {
        var check = new ConfigValidator(config);

        if (GroupName is not null && !FastDfs.Protocol.GroupName.IsValid(GroupName))
        {
            throw check.Fail("group_name", $"group_name '{GroupName}' is invalid: 1-16 letters or digits");
        }

        if (!FdfsConfigValues.IsAbsolutePath(BasePath))
        {
            throw check.Fail("base_path", BasePath.Length == 0 ? "base_path is required" : $"base_path must be an absolute path (got '{BasePath}')");
        }

        // 0 = ephemeral port (tests and side-by-side runs); the real port goes into JOIN.
        if (Port is < 0 or > 65535)
        {
            throw check.Fail("port", $"port must be between 0 and 65535 (got {Port})");
        }

        check.RequirePositive(ConnectTimeout, "connect_timeout");
        check.RequirePositive(NetworkTimeout, "network_timeout");
        check.RequirePositive(HeartBeatInterval, "heart_beat_interval");
        check.RequirePositive(StatReportInterval, "stat_report_interval");
        check.RequireAtLeast(MaxConnections, 1, "max_connections");
        check.RequireAtLeast(BuffSize, 8 * 1024, "buff_size");
        check.RequireAtLeast(AcceptThreads, 1, "accept_threads");
        check.RequireAtLeast(WorkThreads, 1, "work_threads");
        if (DiskRwSeparated)
        {
            check.RequireAtLeast(DiskReaderThreads, 1, "disk_reader_threads");
            check.RequireAtLeast(DiskWriterThreads, 1, "disk_writer_threads");
        }
        else
        {
            check.RequireAtLeast(DiskReaderThreads, 0, "disk_reader_threads");
            check.RequireAtLeast(DiskWriterThreads, 0, "disk_writer_threads");
            if (DiskReaderThreads + DiskWriterThreads < 1)
            {
                throw check.Fail("disk_reader_threads", "disk_reader_threads + disk_writer_threads must be at least 1");
            }
        }

        check.RequireAtLeast(DiskRecoveryThreads, 1, "disk_recovery_threads");
        check.RequireAtLeast(SyncMinThreads, 1, "sync_min_threads");
        if (SyncMaxThreads is int maxThreads && maxThreads < SyncMinThreads)
        {
            throw check.Fail("sync_max_threads", $"sync_max_threads ({maxThreads}) must not be smaller than sync_min_threads ({SyncMinThreads})");
        }

        check.RequirePositive(SyncWait, "sync_wait_msec");
        if (SyncInterval < TimeSpan.Zero)
        {
            throw check.Fail("sync_interval", "sync_interval must not be negative");
        }

        check.RequireAtLeast(WriteMarkFileFreq, 1, "write_mark_file_freq");
        if (StorePaths.Count is < 1 or > MaxStorePaths)
        {
            throw check.Fail("store_path_count", $"store_path_count must be between 1 and {MaxStorePaths} (got {StorePaths.Count})");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < StorePaths.Count; i++)
        {
            string path = StorePaths[i];
            if (!FdfsConfigValues.IsAbsolutePath(path))
            {
                throw check.Fail(StorePathKey(i, config), $"store_path{i} must be an absolute path (got '{path}')");
            }

            if (!seen.Add(Path.TrimEndingDirectorySeparator(path)))
            {
                throw check.Fail(StorePathKey(i, config), $"store_path{i} '{path}' is listed twice");
            }
        }

        foreach (int index in ReadOnlyStorePaths)
        {
            if (index < 0 || index >= StorePaths.Count)
            {
                throw check.Fail($"store_path{index}_readonly", $"store_path{index}_readonly refers to a store path that does not exist");
            }
        }

        if (SubdirCountPerPath is < 1 or > 256)
        {
            throw check.Fail("subdir_count_per_path", $"subdir_count_per_path must be between 1 and 256 (got {SubdirCountPerPath})");
        }

        if (TrackerServers.Count == 0)
        {
            throw check.Fail("tracker_server", "at least one tracker_server is required");
        }

        check.RequireDefined(FileDistributePathMode, "file_distribute_path_mode");
        check.RequireDefined(FileSignatureMethod, "file_signature_method");
        check.RequireAtLeast(FileDistributeRotateCount, 1, "file_distribute_rotate_count");
        check.RequireAtLeast(FsyncAfterWrittenBytes, 0, "fsync_after_written_bytes");
        check.RequirePositive(SyncLogBuffInterval, "sync_log_buff_interval");
        check.RequirePositive(SyncBinlogBuffInterval, "sync_binlog_buff_interval");
        check.RequirePositive(SyncStatFileInterval, "sync_stat_file_interval");
        if (CheckFileDuplicate && KeyNamespace.Length == 0)
        {
            throw check.Fail("key_namespace", "key_namespace is required when check_file_duplicate is true");
        }

        if (UseConnectionPool)
        {
            check.RequirePositive(ConnectionPoolMaxIdleTime, "connection_pool_max_idle_time");
        }
    }

    private static string StorePathKey(int index, FdfsConfigFile? config)
    {
        string key = "store_path" + index.ToString(CultureInfo.InvariantCulture);
        return index == 0 && config is not null && !config.Contains(key) ? "base_path" : key;
    }

    private static (IReadOnlyList<string> Paths, IReadOnlySet<int> ReadOnly) ReadStorePaths(FdfsConfigFile config, string basePath)
    {
        int count = config.GetInt("store_path_count", 1);
        if (count is < 1 or > MaxStorePaths)
        {
            throw config.Error("store_path_count", $"store_path_count must be between 1 and {MaxStorePaths} (got {count})");
        }

        var paths = new List<string>(count);
        var readOnly = new HashSet<int>();
        for (int i = 0; i < count; i++)
        {
            string key = "store_path" + i.ToString(CultureInfo.InvariantCulture);
            string? path = config.GetString(key);
            if (string.IsNullOrEmpty(path))
            {
                if (i > 0)
                {
                    throw config.Error("store_path_count", $"store_path_count is {count} but {key} is not set");
                }

                path = basePath;
            }

            paths.Add(path);
            if (config.GetBool(key + "_readonly", false))
            {
                readOnly.Add(i);
            }
        }

        // A store_pathN beyond the count is almost certainly a forgotten store_path_count update.
        foreach (string key in config.Keys)
        {
            if (key.StartsWith("store_path", StringComparison.Ordinal) && key.Length > "store_path".Length)
            {
                string rest = key["store_path".Length..];
                if (rest.EndsWith("_readonly", StringComparison.Ordinal))
                {
                    rest = rest[..^"_readonly".Length];
                }

                if (rest.Length > 0 && rest.All(char.IsAsciiDigit)
                    && int.TryParse(rest, NumberStyles.None, CultureInfo.InvariantCulture, out int index)
                    && index >= count)
                {
                    throw config.Error(key, $"{key} is set but store_path_count is {count}");
                }
            }
        }

        return (paths, readOnly);
    }
}
