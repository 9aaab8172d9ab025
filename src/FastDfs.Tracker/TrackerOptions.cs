using System.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;

namespace FastDfs.Tracker;

/// <summary><c>store_lookup</c>: how the tracker picks the group for an upload.</summary>
public enum StoreLookup
{
    RoundRobin = 0,
    SpecifiedGroup = 1,
    LoadBalance = 2,
}

/// <summary><c>store_server</c>: how the tracker picks the storage within the group.</summary>
public enum StoreServerPolicy
{
    RoundRobin = 0,
    FirstByIp = 1,
    ByPriority = 2,
}

/// <summary><c>store_path</c>: how the tracker picks the store path on the storage.</summary>
public enum StorePathPolicy
{
    RoundRobin = 0,
    LoadBalance = 2,
}

/// <summary><c>download_server</c>: which storage a download query is sent to.</summary>
public enum DownloadServerPolicy
{
    RoundRobin = 0,
    SourceFirst = 1,
}

/// <summary><c>id_type_in_filename</c>: what identifies the source storage inside new file names.</summary>
public enum IdTypeInFilename
{
    Ip = 0,
    Id = 1,
}

/// <summary><c>response_ip_addr_size</c> (6.15+): width of IP fields in tracker responses.</summary>
public enum ResponseIpAddrSize
{
    Auto = 0,
    IPv4 = 1,
    IPv6 = 2,
}

/// <summary>
/// Settings of the tracker daemon (tracker.conf, protocol notes 10.1). Defaults are the values of the sample
/// tracker.conf shipped with FastDFS 6.16.1, which differ from the C code defaults in a few places
/// (store_lookup 2, connect_timeout 5, check_active_interval 120, id_type_in_filename id).
/// </summary>
public sealed record TrackerOptions
{
    /// <summary>Keys FastDFS knows that we accept but do not act on; they are not reported as unknown.</summary>
    public static IReadOnlyList<string> IgnoredKeys { get; } =
    [
        "thread_stack_size", "sync_log_buff_interval", "rotate_error_log", "error_log_rotate_time",
        "rotate_error_log_size", "log_file_keep_days", "compress_old_error_log", "compress_error_log_days_before",
        "log_file_rotate_everyday", "log_file_compress_old", "log_file_compress_days_before",
        "trunk_create_file_advance", "trunk_create_file_time_base", "trunk_create_file_interval",
        "trunk_create_file_space_threshold", "trunk_init_check_occupying", "trunk_init_reload_from_binlog",
        "trunk_compress_binlog_min_interval", "trunk_compress_binlog_interval", "trunk_compress_binlog_time_base",
        "trunk_binlog_max_backups", "trunk_free_space_merge", "delete_unused_trunk_files",
        "use_io_uring", "use_send_zc", "buff_size", "max_pkg_size",
        "http.server_port", "http.check_alive_interval", "http.check_alive_type", "http.check_alive_uri",
    ];

    private readonly IReadOnlyList<string> _allowHosts = ["*"];

    /// <summary>The shipped defaults.</summary>
    public static TrackerOptions Default { get; } = new();

    /// <summary><c>disabled</c>: the C daemon refuses to start when true.</summary>
    public bool Disabled { get; init; }

    /// <summary><c>bind_addr</c>: empty for all addresses; may list an IPv4 and an IPv6 address, comma separated.</summary>
    public string BindAddr { get; init; } = "";

    /// <summary><see cref="BindAddr"/> split at commas.</summary>
    public IReadOnlyList<string> BindAddresses =>
        BindAddr.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary><c>address_family</c>.</summary>
    public FdfsAddressFamily AddressFamily { get; init; } = FdfsAddressFamily.Auto;

    /// <summary><c>port</c>.</summary>
    public int Port { get; init; } = FdfsConstants.DefaultTrackerPort;

    /// <summary><c>connect_timeout</c> (seconds in the file).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><c>network_timeout</c> (seconds in the file).</summary>
    public TimeSpan NetworkTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary><c>base_path</c>: data and logs. Must be absolute.</summary>
    public string BasePath { get; init; } = "/opt/fastdfs";

    /// <summary><c>max_connections</c>.</summary>
    public int MaxConnections { get; init; } = 1024;

    /// <summary><c>work_threads</c>.</summary>
    public int WorkThreads { get; init; } = 4;

    /// <summary><c>accept_threads</c>.</summary>
    public int AcceptThreads { get; init; } = 1;

    /// <summary><c>min_buff_size</c> in bytes.</summary>
    public int MinBuffSize { get; init; } = 8 * 1024;

    /// <summary><c>max_buff_size</c> in bytes.</summary>
    public int MaxBuffSize { get; init; } = 128 * 1024;

    /// <summary><c>store_lookup</c>.</summary>
    public StoreLookup StoreLookup { get; init; } = StoreLookup.LoadBalance;

    /// <summary><c>store_group</c>: the upload group when <see cref="StoreLookup"/> is SpecifiedGroup.</summary>
    public string StoreGroup { get; init; } = "group2";

    /// <summary><c>store_server</c>.</summary>
    public StoreServerPolicy StoreServer { get; init; } = StoreServerPolicy.RoundRobin;

    /// <summary><c>store_path</c>.</summary>
    public StorePathPolicy StorePath { get; init; } = StorePathPolicy.RoundRobin;

    /// <summary><c>download_server</c>.</summary>
    public DownloadServerPolicy DownloadServer { get; init; } = DownloadServerPolicy.RoundRobin;

    /// <summary><c>reserved_storage_space</c>.</summary>
    public ReservedSpace ReservedStorageSpace { get; init; } = ReservedSpace.FromPercent(20);

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

    /// <summary><c>check_active_interval</c>: a storage without heartbeat for this long goes OFFLINE.</summary>
    public TimeSpan CheckActiveInterval { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary><c>storage_ip_changed_auto_adjust</c>.</summary>
    public bool StorageIpChangedAutoAdjust { get; init; } = true;

    /// <summary><c>storage_sync_file_max_delay</c> (sync rule, protocol notes 8.6).</summary>
    public TimeSpan StorageSyncFileMaxDelay { get; init; } = TimeSpan.FromSeconds(86400);

    /// <summary><c>storage_sync_file_max_time</c> (sync rule, protocol notes 8.6).</summary>
    public TimeSpan StorageSyncFileMaxTime { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary><c>use_trunk_file</c>.</summary>
    public bool UseTrunkFile { get; init; }

    /// <summary><c>slot_min_size</c> in bytes.</summary>
    public int SlotMinSize { get; init; } = 256;

    /// <summary><c>slot_max_size</c> in bytes.</summary>
    public int SlotMaxSize { get; init; } = 1024 * 1024;

    /// <summary><c>trunk_file_size</c> in bytes.</summary>
    public int TrunkFileSize { get; init; } = 64 * 1024 * 1024;

    /// <summary><c>trunk_alloc_alignment_size</c> in bytes.</summary>
    public int TrunkAllocAlignmentSize { get; init; } = 256;

    /// <summary><c>use_storage_id</c>.</summary>
    public bool UseStorageId { get; init; }

    /// <summary><c>storage_ids_filename</c>; relative names are relative to the config file's directory.</summary>
    public string StorageIdsFilename { get; init; } = "storage_ids.conf";

    /// <summary>
    /// The parsed <see cref="StorageIdsFilename"/>: loaded by <see cref="FromConfig"/> when <see cref="UseStorageId"/>
    /// is true (set it directly for options built in code).
    /// </summary>
    public StorageIdMap? StorageIds { get; init; }

    /// <summary><c>id_type_in_filename</c> (only meaningful with <see cref="UseStorageId"/>).</summary>
    public IdTypeInFilename IdTypeInFilename { get; init; } = IdTypeInFilename.Id;

    /// <summary><c>trust_storage_server_id</c>.</summary>
    public bool TrustStorageServerId { get; init; } = true;

    /// <summary><c>response_ip_addr_size</c>.</summary>
    public ResponseIpAddrSize ResponseIpAddrSize { get; init; } = ResponseIpAddrSize.Auto;

    /// <summary>
    /// True when responses carry IPv6-wide IP fields (45 bytes in queries, 46 in storage listings and file info):
    /// <c>response_ip_addr_size = IPv6</c>, or auto with storage IDs of which one has an IPv6 address, as FastDFS 6.15.
    /// </summary>
    public bool IPv6Responses => ResponseIpAddrSize switch
    {
        ResponseIpAddrSize.IPv6 => true,
        ResponseIpAddrSize.IPv4 => false,
        _ => UseStorageId && StorageIds?.HasIPv6Address == true,
    };

    /// <summary><c>store_slave_file_use_link</c>.</summary>
    public bool StoreSlaveFileUseLink { get; init; }

    /// <summary><c>use_connection_pool</c> (tracker's outgoing connections).</summary>
    public bool UseConnectionPool { get; init; } = true;

    /// <summary><c>connection_pool_max_idle_time</c>.</summary>
    public TimeSpan ConnectionPoolMaxIdleTime { get; init; } = TimeSpan.FromSeconds(3600);

    /// <summary><c>log_level</c>.</summary>
    public FdfsLogLevel LogLevel { get; init; } = FdfsLogLevel.Info;

    /// <summary><c>run_by_group</c> (empty: current group).</summary>
    public string RunByGroup { get; init; } = "";

    /// <summary><c>run_by_user</c> (empty: current user).</summary>
    public string RunByUser { get; init; } = "";

    /// <summary>Directory of the config file these options came from (null when built in code).</summary>
    public string? ConfigDirectory { get; init; }

    /// <summary><c>namespace_enabled</c> (ours): serve the directory service (names for the mount). Default true.</summary>
    public bool NamespaceEnabled { get; init; } = true;

    /// <summary>
    /// <c>namespace_store</c> (ours): empty for SQLite in base_path/data; a PostgreSQL connection string
    /// (<c>Host=...;Database=...</c> or <c>postgresql://...</c>) when several trackers share one namespace.
    /// </summary>
    public string NamespaceStore { get; init; } = "";

    /// <summary><c>namespace_orphan_delay</c> (ours, seconds): how long content stays after losing its last name.</summary>
    public TimeSpan NamespaceOrphanDelay { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>True when <paramref name="address"/> passes <see cref="AllowHosts"/>.</summary>
    public bool IsAllowed(IPAddress address) => HostAccess.IsAllowed(address);

    /// <summary><see cref="StorageIdsFilename"/> resolved against <see cref="ConfigDirectory"/>.</summary>
    public string ResolveStorageIdsPath() => FdfsConfigFile.ResolvePath(StorageIdsFilename, ConfigDirectory);

    /// <summary>
    /// Reads tracker.conf settings. Absent keys keep the shipped defaults. Throws <see cref="FdfsConfigException"/>
    /// (with file:line) for malformed or invalid values. Keys not read here stay in
    /// <see cref="FdfsConfigFile.UnusedKeys"/> (FastDFS keys listed in <see cref="IgnoredKeys"/> are marked used).
    /// </summary>
    public static TrackerOptions FromConfig(FdfsConfigFile config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var d = Default;
        config.MarkUsed(IgnoredKeys);

        if (!config.Contains("base_path"))
        {
            throw config.Error("base_path", "base_path is required");
        }

        var storeServer = config.GetIntEnum("store_server", d.StoreServer);
        bool useTrunk = config.GetBool("use_trunk_file", d.UseTrunkFile);
        if (useTrunk && storeServer == StoreServerPolicy.RoundRobin)
        {
            // As FastDFS: trunk files need a stable upload server per group.
            storeServer = StoreServerPolicy.FirstByIp;
        }

        var checkActive = config.GetSeconds("check_active_interval", d.CheckActiveInterval, int.MinValue);
        var maxDelay = config.GetSeconds("storage_sync_file_max_delay", d.StorageSyncFileMaxDelay, int.MinValue);
        var maxTime = config.GetSeconds("storage_sync_file_max_time", d.StorageSyncFileMaxTime, int.MinValue);

        var options = new TrackerOptions
        {
            Disabled = config.GetBool("disabled", d.Disabled),
            BindAddr = config.GetString("bind_addr", d.BindAddr),
            AddressFamily = config.GetAddressFamily("address_family", d.AddressFamily),
            Port = config.GetInt("port", d.Port),
            ConnectTimeout = config.GetSeconds("connect_timeout", d.ConnectTimeout, int.MinValue),
            NetworkTimeout = config.GetSeconds("network_timeout", d.NetworkTimeout, int.MinValue),
            BasePath = config.GetString("base_path", ""),
            MaxConnections = config.GetInt("max_connections", d.MaxConnections),
            WorkThreads = config.GetInt("work_threads", d.WorkThreads),
            AcceptThreads = config.GetInt("accept_threads", d.AcceptThreads),
            MinBuffSize = (int)config.GetSize("min_buff_size", d.MinBuffSize, max: int.MaxValue),
            MaxBuffSize = (int)config.GetSize("max_buff_size", d.MaxBuffSize, max: int.MaxValue),
            StoreLookup = config.GetIntEnum("store_lookup", d.StoreLookup),
            StoreGroup = config.GetString("store_group", d.StoreGroup),
            StoreServer = storeServer,
            StorePath = config.GetIntEnum("store_path", d.StorePath),
            DownloadServer = config.GetIntEnum("download_server", d.DownloadServer),
            ReservedStorageSpace = config.GetPercentOrSize("reserved_storage_space", d.ReservedStorageSpace),
            AllowHosts = config.GetAllowHosts(),

            // FastDFS replaces non-positive values of these three by the default.
            CheckActiveInterval = checkActive > TimeSpan.Zero ? checkActive : d.CheckActiveInterval,
            StorageIpChangedAutoAdjust = config.GetBool("storage_ip_changed_auto_adjust", d.StorageIpChangedAutoAdjust),
            StorageSyncFileMaxDelay = maxDelay > TimeSpan.Zero ? maxDelay : d.StorageSyncFileMaxDelay,
            StorageSyncFileMaxTime = maxTime > TimeSpan.Zero ? maxTime : d.StorageSyncFileMaxTime,
            UseTrunkFile = useTrunk,
            SlotMinSize = (int)config.GetSize("slot_min_size", d.SlotMinSize, max: int.MaxValue),
            SlotMaxSize = (int)config.GetSize("slot_max_size", d.SlotMaxSize, max: int.MaxValue),
            TrunkFileSize = (int)config.GetSize("trunk_file_size", d.TrunkFileSize, max: int.MaxValue),
            TrunkAllocAlignmentSize = (int)config.GetSize("trunk_alloc_alignment_size", d.TrunkAllocAlignmentSize, max: int.MaxValue),
            UseStorageId = config.GetBool("use_storage_id", d.UseStorageId),
            StorageIdsFilename = config.GetString("storage_ids_filename", d.StorageIdsFilename),
            IdTypeInFilename = config.GetChoice("id_type_in_filename", "id", "ip", "id") == "ip" ? IdTypeInFilename.Ip : IdTypeInFilename.Id,
            TrustStorageServerId = config.GetBool("trust_storage_server_id", d.TrustStorageServerId),
            ResponseIpAddrSize = config.GetChoice("response_ip_addr_size", "auto", "auto", "IPv4", "IPv6") switch
            {
                "IPv4" => ResponseIpAddrSize.IPv4,
                "IPv6" => ResponseIpAddrSize.IPv6,
                _ => ResponseIpAddrSize.Auto,
            },
            StoreSlaveFileUseLink = config.GetBool("store_slave_file_use_link", d.StoreSlaveFileUseLink),
            UseConnectionPool = config.GetBool("use_connection_pool", d.UseConnectionPool),
            ConnectionPoolMaxIdleTime = config.GetSeconds("connection_pool_max_idle_time", d.ConnectionPoolMaxIdleTime, int.MinValue),
            LogLevel = config.GetLogLevel("log_level", d.LogLevel),
            RunByGroup = config.GetString("run_by_group", d.RunByGroup),
            RunByUser = config.GetString("run_by_user", d.RunByUser),
            ConfigDirectory = config.ConfigDirectory,
            NamespaceEnabled = config.GetBool("namespace_enabled", d.NamespaceEnabled),
            NamespaceStore = config.GetString("namespace_store", d.NamespaceStore),
            NamespaceOrphanDelay = config.GetSeconds("namespace_orphan_delay", d.NamespaceOrphanDelay, 0),
        };

        if (options.UseStorageId && options.StorageIdsFilename.Length > 0)
        {
            // A bad storage_ids.conf stops the tracker with the file and line, as any other config error does.
            options = options with { StorageIds = StorageIdMap.Load(options.ResolveStorageIdsPath(), System.Net.Dns.GetHostAddresses) };
        }

        options.Validate(config);
        return options;
    }

    /// <summary>Checks ranges and cross-setting rules; throws <see cref="FdfsConfigException"/>.</summary>
    public void Validate() => Validate(null);

    private void Validate(FdfsConfigFile? config)
    {
        var check = new ConfigValidator(config);

        if (!FdfsConfigValues.IsAbsolutePath(BasePath))
        {
            throw check.Fail("base_path", BasePath.Length == 0 ? "base_path is required" : $"base_path must be an absolute path (got '{BasePath}')");
        }

        // 0 binds an ephemeral port (tests and side-by-side instances read it from the startup line).
        if (Port is < 0 or > 65535)
        {
            throw check.Fail("port", $"port must be between 0 and 65535 (got {Port})");
        }

        check.RequirePositive(ConnectTimeout, "connect_timeout");
        check.RequirePositive(NetworkTimeout, "network_timeout");
        check.RequireAtLeast(MaxConnections, 1, "max_connections");
        check.RequireAtLeast(WorkThreads, 1, "work_threads");
        check.RequireAtLeast(AcceptThreads, 1, "accept_threads");
        check.RequireAtLeast(MinBuffSize, 1024, "min_buff_size");
        if (MaxBuffSize < MinBuffSize)
        {
            throw check.Fail("max_buff_size", $"max_buff_size ({MaxBuffSize}) must not be smaller than min_buff_size ({MinBuffSize})");
        }

        check.RequireDefined(StoreLookup, "store_lookup");
        check.RequireDefined(StoreServer, "store_server");
        check.RequireDefined(StorePath, "store_path");
        check.RequireDefined(DownloadServer, "download_server");
        if (StoreLookup == StoreLookup.SpecifiedGroup && !GroupName.IsValid(StoreGroup))
        {
            throw check.Fail("store_group", StoreGroup.Length == 0
                ? "store_group is required when store_lookup = 1"
                : $"store_group '{StoreGroup}' is not a valid group name (1-16 letters or digits)");
        }

        check.RequirePositive(CheckActiveInterval, "check_active_interval");
        check.RequirePositive(StorageSyncFileMaxDelay, "storage_sync_file_max_delay");
        check.RequirePositive(StorageSyncFileMaxTime, "storage_sync_file_max_time");
        check.RequireAtLeast(SlotMinSize, 1, "slot_min_size");
        if (SlotMaxSize <= SlotMinSize)
        {
            throw check.Fail("slot_max_size", $"slot_max_size ({SlotMaxSize}) must be larger than slot_min_size ({SlotMinSize})");
        }

        check.RequireAtLeast(TrunkFileSize, 4 * 1024 * 1024, "trunk_file_size");
        check.RequireAtLeast(TrunkAllocAlignmentSize, 0, "trunk_alloc_alignment_size");
        if (UseTrunkFile && StoreServer == StoreServerPolicy.RoundRobin)
        {
            throw check.Fail("store_server", "store_server must be 1 or 2 when use_trunk_file is true");
        }

        if (UseStorageId && StorageIdsFilename.Length == 0)
        {
            throw check.Fail("storage_ids_filename", "storage_ids_filename is required when use_storage_id is true");
        }

        if (UseStorageId && StorageIds is null)
        {
            throw check.Fail("storage_ids_filename", "use_storage_id is true but no storage IDs were loaded");
        }

        if (UseConnectionPool)
        {
            check.RequirePositive(ConnectionPoolMaxIdleTime, "connection_pool_max_idle_time");
        }
    }
}
