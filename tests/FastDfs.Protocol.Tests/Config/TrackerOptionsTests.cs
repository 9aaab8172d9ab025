using System.Net;
using FastDfs.Protocol.Config;
using FastDfs.Tracker;
using Xunit;

namespace FastDfs.Protocol.Tests.Config;

public class TrackerOptionsTests
{
    private static TrackerOptions FromText(string text) =>
        TrackerOptions.FromConfig(FdfsConfigFile.Parse(text, "/etc/fdfs/tracker.conf"));

    [Fact]
    public void Defaults_are_the_shipped_values()
    {
        var d = TrackerOptions.Default;
        Assert.False(d.Disabled);
        Assert.Equal("", d.BindAddr);
        Assert.Equal(22122, d.Port);
        Assert.Equal(TimeSpan.FromSeconds(5), d.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(60), d.NetworkTimeout);
        Assert.Equal("/opt/fastdfs", d.BasePath);
        Assert.Equal(1024, d.MaxConnections);
        Assert.Equal(4, d.WorkThreads);
        Assert.Equal(1, d.AcceptThreads);
        Assert.Equal(8 * 1024, d.MinBuffSize);
        Assert.Equal(128 * 1024, d.MaxBuffSize);
        Assert.Equal(StoreLookup.LoadBalance, d.StoreLookup);
        Assert.Equal("group2", d.StoreGroup);
        Assert.Equal(StoreServerPolicy.RoundRobin, d.StoreServer);
        Assert.Equal(StorePathPolicy.RoundRobin, d.StorePath);
        Assert.Equal(DownloadServerPolicy.RoundRobin, d.DownloadServer);
        Assert.Equal(ReservedSpace.FromPercent(20), d.ReservedStorageSpace);
        Assert.Equal(["*"], d.AllowHosts);
        Assert.True(d.IsAllowed(IPAddress.Parse("203.0.113.9")));
        Assert.Equal(TimeSpan.FromSeconds(120), d.CheckActiveInterval);
        Assert.Equal(TimeSpan.FromSeconds(86400), d.StorageSyncFileMaxDelay);
        Assert.Equal(TimeSpan.FromSeconds(300), d.StorageSyncFileMaxTime);
        Assert.False(d.UseTrunkFile);
        Assert.False(d.UseStorageId);
        Assert.Equal("storage_ids.conf", d.StorageIdsFilename);
        Assert.Equal(IdTypeInFilename.Id, d.IdTypeInFilename);
        Assert.False(d.StoreSlaveFileUseLink);
        Assert.True(d.UseConnectionPool);
        Assert.Equal(TimeSpan.FromSeconds(3600), d.ConnectionPoolMaxIdleTime);
        Assert.Equal(FdfsLogLevel.Info, d.LogLevel);
        d.Validate();
    }

    [Fact]
    public void Shipped_616_sample_gives_the_defaults_and_no_unknown_keys()
    {
        var cfg = FdfsConfigFile.Parse(SampleConfigs.Tracker616, "/etc/fdfs/tracker.conf");
        var o = TrackerOptions.FromConfig(cfg);

        Assert.Equal(TrackerOptions.Default with { ConfigDirectory = "/etc/fdfs", AllowHosts = o.AllowHosts, HostAccess = o.HostAccess }, o);
        Assert.Empty(cfg.UnusedKeys());
        Assert.Equal("/etc/fdfs/storage_ids.conf", o.ResolveStorageIdsPath());
    }

    [Fact]
    public void Legacy_sample_values_are_read()
    {
        var cfg = FdfsConfigFile.Parse(SampleConfigs.TrackerLegacy, "tracker.conf");
        var o = TrackerOptions.FromConfig(cfg);

        Assert.Equal(TimeSpan.FromSeconds(30), o.ConnectTimeout);
        Assert.Equal("/home/yuqing/fastdfs", o.BasePath);
        Assert.Equal(256, o.MaxConnections);
        Assert.Equal(ReservedSpace.FromPercent(10), o.ReservedStorageSpace);
        Assert.Equal(16 * 1024 * 1024, o.SlotMaxSize);
        Assert.Equal(IdTypeInFilename.Ip, o.IdTypeInFilename);
        Assert.False(o.UseConnectionPool);
        Assert.Empty(cfg.UnusedKeys());
    }

    [Fact]
    public void Reads_every_setting()
    {
        // use_storage_id loads the IDs file, so it must exist.
        string ids = Path.Combine(Path.GetTempPath(), $"fdfs-options-ids-{Environment.ProcessId}.conf");
        File.WriteAllText(ids, "100001 group7 10.0.0.5\n");
        var o = FromText("""
            disabled = true
            bind_addr = 10.0.0.1, ::1
            port = 22200
            connect_timeout = 2
            network_timeout = 10
            base_path = /data/tracker
            max_connections = 100
            work_threads = 8
            accept_threads = 2
            min_buff_size = 16KB
            max_buff_size = 1MB
            store_lookup = 1
            store_group = group7
            store_server = 2
            store_path = 2
            download_server = 1
            reserved_storage_space = 5G
            allow_hosts = 10.0.0.0/8
            allow_hosts = 192.168.1.[1-9]
            check_active_interval = 30
            storage_sync_file_max_delay = 3600
            storage_sync_file_max_time = 60
            use_storage_id = yes
            storage_ids_filename = IDS_FILE
            id_type_in_filename = IP
            store_slave_file_use_link = on
            use_connection_pool = false
            connection_pool_max_idle_time = 10
            log_level = debug
            run_by_user = fdfs
            """.Replace("IDS_FILE", ids, StringComparison.Ordinal));
        File.Delete(ids);

        Assert.True(o.Disabled);
        Assert.Equal(["10.0.0.1", "::1"], o.BindAddresses);
        Assert.Equal(22200, o.Port);
        Assert.Equal(TimeSpan.FromSeconds(2), o.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), o.NetworkTimeout);
        Assert.Equal("/data/tracker", o.BasePath);
        Assert.Equal(100, o.MaxConnections);
        Assert.Equal(8, o.WorkThreads);
        Assert.Equal(2, o.AcceptThreads);
        Assert.Equal(16 * 1024, o.MinBuffSize);
        Assert.Equal(1024 * 1024, o.MaxBuffSize);
        Assert.Equal(StoreLookup.SpecifiedGroup, o.StoreLookup);
        Assert.Equal("group7", o.StoreGroup);
        Assert.Equal(StoreServerPolicy.ByPriority, o.StoreServer);
        Assert.Equal(StorePathPolicy.LoadBalance, o.StorePath);
        Assert.Equal(DownloadServerPolicy.SourceFirst, o.DownloadServer);
        Assert.Equal(5L << 30, o.ReservedStorageSpace.Bytes);
        Assert.Equal(["10.0.0.0/8", "192.168.1.[1-9]"], o.AllowHosts);
        Assert.True(o.IsAllowed(IPAddress.Parse("10.20.30.40")));
        Assert.True(o.IsAllowed(IPAddress.Parse("192.168.1.9")));
        Assert.False(o.IsAllowed(IPAddress.Parse("192.168.1.10")));
        Assert.Equal(TimeSpan.FromSeconds(30), o.CheckActiveInterval);
        Assert.Equal(TimeSpan.FromHours(1), o.StorageSyncFileMaxDelay);
        Assert.Equal(TimeSpan.FromMinutes(1), o.StorageSyncFileMaxTime);
        Assert.True(o.UseStorageId);
        Assert.Equal(ids, o.ResolveStorageIdsPath());
        Assert.Equal("100001", Assert.Single(o.StorageIds!.Entries).Id);
        Assert.Equal(IdTypeInFilename.Ip, o.IdTypeInFilename);
        Assert.True(o.StoreSlaveFileUseLink);
        Assert.False(o.UseConnectionPool);
        Assert.Equal(FdfsLogLevel.Debug, o.LogLevel);
        Assert.Equal("fdfs", o.RunByUser);
    }

    [Fact]
    public void Missing_keys_keep_the_defaults()
    {
        var o = FromText("base_path = /srv/fdfs\n");
        Assert.Equal(TrackerOptions.Default with { BasePath = "/srv/fdfs", ConfigDirectory = "/etc/fdfs", AllowHosts = o.AllowHosts, HostAccess = o.HostAccess }, o);
    }

    [Fact]
    public void Base_path_is_required_and_absolute()
    {
        var missing = Assert.Throws<FdfsConfigException>(() => FromText("port = 22122\n"));
        Assert.Contains("base_path is required", missing.Message, StringComparison.Ordinal);
        Assert.Equal("/etc/fdfs/tracker.conf", missing.FilePath);

        var relative = Assert.Throws<FdfsConfigException>(() => FromText("port = 1\nbase_path = data/fdfs\n"));
        Assert.Equal(2, relative.Line);
        Assert.Contains("absolute", relative.Message, StringComparison.Ordinal);

        Assert.Throws<FdfsConfigException>(() => FromText("base_path =\n"));
    }

    [Theory]
    [InlineData("port = -1", 2, "port")]
    [InlineData("port = 70000", 2, "port")]
    [InlineData("port = http", 2, "port")]
    [InlineData("store_lookup = 3", 2, "store_lookup")]
    [InlineData("store_server = 5", 2, "store_server")]
    [InlineData("store_path = 1", 2, "store_path")]
    [InlineData("download_server = 2", 2, "download_server")]
    [InlineData("reserved_storage_space = 150%", 2, "reserved_storage_space")]
    [InlineData("connect_timeout = 0", 2, "connect_timeout")]
    [InlineData("work_threads = 0", 2, "work_threads")]
    [InlineData("max_buff_size = 1KB", 2, "max_buff_size")]
    [InlineData("slot_max_size = 128", 2, "slot_max_size")]
    [InlineData("id_type_in_filename = name", 2, "id_type_in_filename")]
    [InlineData("allow_hosts = 10.0.0.0/40", 2, "allow_hosts")]
    [InlineData("log_level = chatty", 2, "log_level")]
    [InlineData("use_trunk_file = perhaps", 2, "use_trunk_file")]
    public void Invalid_values_are_reported_with_line_and_key(string line, int lineNo, string key)
    {
        var ex = Assert.Throws<FdfsConfigException>(() => FromText($"base_path = /opt/fastdfs\n{line}\n"));
        Assert.Equal(lineNo, ex.Line);
        Assert.Equal(key, ex.Key);
        Assert.Equal("/etc/fdfs/tracker.conf", ex.FilePath);
    }

    [Fact]
    public void Port_zero_means_an_ephemeral_port()
    {
        Assert.Equal(0, FromText("base_path = /x\nport = 0\n").Port);
    }

    [Fact]
    public void Specified_group_needs_a_valid_store_group()
    {
        var ex = Assert.Throws<FdfsConfigException>(() => FromText("base_path = /x\nstore_lookup = 1\nstore_group = group-1\n"));
        Assert.Equal("store_group", ex.Key);
        Assert.Equal(3, ex.Line);

        var empty = Assert.Throws<FdfsConfigException>(() => FromText("base_path = /x\nstore_lookup = 1\nstore_group =\n"));
        Assert.Contains("required", empty.Message, StringComparison.Ordinal);

        // Without store_lookup = 1 the group is not checked (FastDFS ignores it).
        Assert.Equal("bad-name", FromText("base_path = /x\nstore_group = bad-name\n").StoreGroup);
    }

    [Fact]
    public void Trunk_mode_switches_round_robin_store_server_to_first_by_ip()
    {
        var o = FromText("base_path = /x\nuse_trunk_file = true\nstore_server = 0\n");
        Assert.Equal(StoreServerPolicy.FirstByIp, o.StoreServer);
        Assert.Equal(StoreServerPolicy.ByPriority, FromText("base_path = /x\nuse_trunk_file = true\nstore_server = 2\n").StoreServer);

        var manual = TrackerOptions.Default with { UseTrunkFile = true };
        Assert.Throws<FdfsConfigException>(manual.Validate);
    }

    [Fact]
    public void Non_positive_intervals_fall_back_to_defaults_like_fastdfs()
    {
        var o = FromText("base_path = /x\ncheck_active_interval = 0\nstorage_sync_file_max_delay = -1\nstorage_sync_file_max_time = 0\n");
        Assert.Equal(TimeSpan.FromSeconds(120), o.CheckActiveInterval);
        Assert.Equal(TimeSpan.FromSeconds(86400), o.StorageSyncFileMaxDelay);
        Assert.Equal(TimeSpan.FromSeconds(300), o.StorageSyncFileMaxTime);
    }

    [Fact]
    public void Unknown_keys_are_not_errors_but_are_listed()
    {
        var cfg = FdfsConfigFile.Parse("base_path = /x\nmystery_key = 1\nhttp.server_port = 8080\n");
        TrackerOptions.FromConfig(cfg);
        Assert.Equal(["mystery_key"], cfg.UnusedKeys().Select(e => e.Key));
    }

    [Fact]
    public void Validate_catches_bad_manual_options()
    {
        Assert.Throws<FdfsConfigException>((TrackerOptions.Default with { Port = -1 }).Validate);
        Assert.Throws<FdfsConfigException>((TrackerOptions.Default with { BasePath = "relative" }).Validate);
        Assert.Throws<FdfsConfigException>((TrackerOptions.Default with { StoreLookup = (StoreLookup)9 }).Validate);
        var ex = Assert.Throws<FdfsConfigException>((TrackerOptions.Default with { NetworkTimeout = TimeSpan.Zero }).Validate);
        Assert.Equal("network_timeout", ex.Key);
        Assert.Null(ex.Line);
    }

    [Fact]
    public void Setting_allow_hosts_rebuilds_the_access_list()
    {
        var o = TrackerOptions.Default with { AllowHosts = ["127.0.0.1"] };
        Assert.True(o.IsAllowed(IPAddress.Loopback));
        Assert.False(o.IsAllowed(IPAddress.Parse("10.0.0.1")));
        Assert.Throws<FdfsConfigException>(() => TrackerOptions.Default with { AllowHosts = ["10.0.0.[1-"] });
    }
}
