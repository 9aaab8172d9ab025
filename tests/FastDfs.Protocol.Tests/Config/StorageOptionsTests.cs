using System.Net;
using FastDfs.Protocol.Config;
using FastDfs.Storage;
using Xunit;

namespace FastDfs.Protocol.Tests.Config;

public class StorageOptionsTests
{
    private const string Minimal = "base_path = /data/fdfs\ntracker_server = 10.0.0.1:22122\n";

    private static StorageOptions FromText(string text) =>
        StorageOptions.FromConfig(FdfsConfigFile.Parse(text, "/etc/fdfs/storage.conf"));

    [Fact]
    public void Shipped_616_sample()
    {
        var cfg = FdfsConfigFile.Parse(SampleConfigs.Storage616, "/etc/fdfs/storage.conf");
        var o = StorageOptions.FromConfig(cfg);

        Assert.Empty(cfg.UnusedKeys());
        Assert.False(o.Disabled);
        Assert.Equal("group1", o.GroupName);
        Assert.Equal("", o.BindAddr);
        Assert.Empty(o.BindAddresses);
        Assert.True(o.ClientBind);
        Assert.Equal(23000, o.Port);
        Assert.Equal(FdfsAddressFamily.Auto, o.AddressFamily);
        Assert.Null(o.ServerId);
        Assert.Equal(TimeSpan.FromSeconds(5), o.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(60), o.NetworkTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), o.HeartBeatInterval);
        Assert.Equal(TimeSpan.FromSeconds(60), o.StatReportInterval);
        Assert.Equal("/opt/fastdfs", o.BasePath);
        Assert.Equal(1024, o.MaxConnections);
        Assert.Equal(256 * 1024, o.BuffSize);
        Assert.Equal(1, o.AcceptThreads);
        Assert.Equal(4, o.WorkThreads);
        Assert.True(o.DiskRwSeparated);
        Assert.Equal(2, o.DiskReaderThreads);
        Assert.Equal(1, o.DiskWriterThreads);
        Assert.Equal(4, o.DiskRecoveryThreads);
        Assert.Equal(1, o.SyncMinThreads);
        Assert.Null(o.SyncMaxThreads);
        Assert.Equal(TimeSpan.FromMilliseconds(10), o.SyncWait);
        Assert.Equal(TimeSpan.Zero, o.SyncInterval);
        Assert.Equal(new TimeOnly(0, 0), o.SyncStartTime);
        Assert.Equal(new TimeOnly(23, 59), o.SyncEndTime);
        Assert.Equal(500, o.WriteMarkFileFreq);
        Assert.Equal(["/opt/fastdfs"], o.StorePaths);
        Assert.Equal(1, o.StorePathCount);
        Assert.Empty(o.ReadOnlyStorePaths);
        Assert.Equal(256, o.SubdirCountPerPath);
        Assert.Equal(
            [new TrackerEndpoint("192.168.209.121", 22122), new TrackerEndpoint("192.168.209.122", 22122)],
            o.TrackerServers);
        Assert.Equal(FdfsLogLevel.Info, o.LogLevel);
        Assert.Equal("", o.RunByGroup);
        Assert.Equal(["*"], o.AllowHosts);
        Assert.Equal(FileDistributePathMode.RoundRobin, o.FileDistributePathMode);
        Assert.Equal(100, o.FileDistributeRotateCount);
        Assert.Equal(0, o.FsyncAfterWrittenBytes);
        Assert.Equal(TimeSpan.FromSeconds(1), o.SyncLogBuffInterval);
        Assert.Equal(TimeSpan.FromSeconds(1), o.SyncBinlogBuffInterval);
        Assert.Equal(TimeSpan.FromSeconds(60), o.SyncStatFileInterval);
        Assert.Equal(10, o.UploadPriority);
        Assert.Equal("", o.IfAliasPrefix);
        Assert.False(o.CheckFileDuplicate);
        Assert.Equal(FileSignatureMethod.Hash, o.FileSignatureMethod);
        Assert.Equal("FastDFS", o.KeyNamespace);
        Assert.False(o.KeepAlive);
        Assert.False(o.UseAccessLog);
        Assert.False(o.RotateAccessLog);
        Assert.False(o.FileSyncSkipInvalidRecord);
        Assert.True(o.UseConnectionPool);
        Assert.Equal(TimeSpan.FromSeconds(3600), o.ConnectionPoolMaxIdleTime);
        Assert.True(o.CompressBinlog);
        Assert.Equal(new TimeOnly(1, 30), o.CompressBinlogTime);
        Assert.True(o.CheckStorePathMark);
    }

    [Fact]
    public void Defaults_match_the_shipped_sample()
    {
        var fromSample = StorageOptions.FromConfig(FdfsConfigFile.Parse(SampleConfigs.Storage616));
        var expected = StorageOptions.Default with
        {
            TrackerServers = fromSample.TrackerServers,
            StorePaths = fromSample.StorePaths,
            ReadOnlyStorePaths = fromSample.ReadOnlyStorePaths,
            AllowHosts = fromSample.AllowHosts,
            HostAccess = fromSample.HostAccess,
        };
        Assert.Equal(expected, fromSample);
    }

    [Fact]
    public void Legacy_sample_with_http_keys_and_use_access_log()
    {
        var cfg = FdfsConfigFile.Parse(SampleConfigs.StorageLegacy);
        var o = StorageOptions.FromConfig(cfg);
        Assert.Equal(TimeSpan.FromMilliseconds(50), o.SyncWait);
        Assert.Equal(TimeSpan.FromSeconds(300), o.SyncStatFileInterval);
        Assert.Equal(3, o.DiskRecoveryThreads);
        Assert.Empty(cfg.UnusedKeys());
    }

    [Fact]
    public void Store_path0_defaults_to_base_path()
    {
        var o = FromText(Minimal);
        Assert.Equal(["/data/fdfs"], o.StorePaths);
    }

    [Fact]
    public void Several_store_paths_and_readonly_flags()
    {
        var o = FromText(Minimal + """
            store_path_count = 3
            store_path0 = /disk0
            store_path1 = /disk1
            store_path2 = /disk2/
            store_path1_readonly = true
            """);
        Assert.Equal(["/disk0", "/disk1", "/disk2/"], o.StorePaths);
        Assert.Equal(3, o.StorePathCount);
        Assert.Equal([1], o.ReadOnlyStorePaths);
    }

    [Fact]
    public void Store_path_count_must_match_the_paths()
    {
        var missing = Assert.Throws<FdfsConfigException>(() => FromText(Minimal + "store_path_count = 2\nstore_path0 = /d0\n"));
        Assert.Equal("store_path_count", missing.Key);
        Assert.Equal(3, missing.Line);
        Assert.Contains("store_path1 is not set", missing.Message, StringComparison.Ordinal);

        var extra = Assert.Throws<FdfsConfigException>(() => FromText(Minimal + "store_path0 = /d0\nstore_path1 = /d1\n"));
        Assert.Equal("store_path1", extra.Key);
        Assert.Equal(4, extra.Line);

        Assert.Throws<FdfsConfigException>(() => FromText(Minimal + "store_path_count = 0\n"));
        Assert.Throws<FdfsConfigException>(() => FromText(Minimal + "store_path_count = 257\n"));
    }

    [Fact]
    public void Store_paths_must_be_absolute_and_distinct()
    {
        var rel = Assert.Throws<FdfsConfigException>(() => FromText(Minimal + "store_path0 = data\n"));
        Assert.Equal("store_path0", rel.Key);
        Assert.Equal(3, rel.Line);

        var dup = Assert.Throws<FdfsConfigException>(() => FromText(Minimal + "store_path_count = 2\nstore_path0 = /d\nstore_path1 = /d/\n"));
        Assert.Equal("store_path1", dup.Key);
    }

    [Theory]
    [InlineData("group_name = group_1", "group_name")]
    [InlineData("group_name = group12345678901234", "group_name")]
    [InlineData("subdir_count_per_path = 0", "subdir_count_per_path")]
    [InlineData("subdir_count_per_path = 257", "subdir_count_per_path")]
    [InlineData("port = 65536", "port")]
    [InlineData("buff_size = 4KB", "buff_size")]
    [InlineData("buff_size = lots", "buff_size")]
    [InlineData("sync_wait_msec = 0", "sync_wait_msec")]
    [InlineData("sync_start_time = 25:00", "sync_start_time")]
    [InlineData("sync_max_threads = many", "sync_max_threads")]
    [InlineData("file_distribute_path_mode = 2", "file_distribute_path_mode")]
    [InlineData("file_signature_method = sha1", "file_signature_method")]
    [InlineData("tracker_server = host:99999", "tracker_server")]
    [InlineData("heart_beat_interval = 0", "heart_beat_interval")]
    [InlineData("address_family = ipx", "address_family")]
    [InlineData("compress_binlog_time = 1", "compress_binlog_time")]
    public void Invalid_values_are_reported_with_line_and_key(string line, string key)
    {
        var ex = Assert.Throws<FdfsConfigException>(() => FromText(Minimal + line + "\n"));
        Assert.Equal(key, ex.Key);
        Assert.Equal(3, ex.Line);
        Assert.Equal("/etc/fdfs/storage.conf", ex.FilePath);
    }

    [Fact]
    public void Tracker_server_is_required()
    {
        var ex = Assert.Throws<FdfsConfigException>(() => FromText("base_path = /x\n"));
        Assert.Equal("tracker_server", ex.Key);
        Assert.Contains("at least one tracker_server", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Base_path_is_required()
    {
        var ex = Assert.Throws<FdfsConfigException>(() => FromText("tracker_server = t:1\n"));
        Assert.Equal("base_path", ex.Key);
    }

    [Fact]
    public void Tracker_servers_of_every_form_and_loopback_is_accepted()
    {
        var o = FromText("base_path = /x\n" + """
            tracker_server = 127.0.0.1:22122
            tracker_server = 192.168.1.10,122.244.141.46:22122
            tracker_server = [2409:8a20::1,fe80::1ee9]:22122
            tracker_server = tracker.local
            """);
        Assert.Equal(4, o.TrackerServers.Count);
        Assert.True(o.TrackerServers[0].IsLoopbackLiteral);
        Assert.Equal(["122.244.141.46"], o.TrackerServers[1].AlternateHosts);
        Assert.Equal("2409:8a20::1", o.TrackerServers[2].Host);
        Assert.Equal(22122, o.TrackerServers[3].Port);
    }

    [Fact]
    public void Missing_group_name_means_ask_the_tracker()
    {
        Assert.Null(FromText(Minimal).GroupName);
        Assert.Null(FromText(Minimal + "group_name =\n").GroupName);
        Assert.Equal("g2", FromText(Minimal + "group_name = g2\n").GroupName);
    }

    [Fact]
    public void Access_log_section_wins_over_the_old_key()
    {
        Assert.True(FromText(Minimal + "use_access_log = true\n").UseAccessLog);
        Assert.True(FromText(Minimal + "use_access_log = false\n[access-log]\nenabled = true\n").UseAccessLog);
        var cfg = FdfsConfigFile.Parse(Minimal + "[access-log]\nenabled = false\n");
        Assert.False(StorageOptions.FromConfig(cfg).UseAccessLog);
        Assert.Empty(cfg.UnusedKeys());
    }

    [Fact]
    public void Reads_other_settings()
    {
        var o = FromText(Minimal + """
            server_id = 100001
            bind_addr = 10.0.0.5
            client_bind = false
            disk_rw_separated = false
            disk_reader_threads = 0
            disk_writer_threads = 2
            sync_max_threads = 8
            sync_wait_msec = 200
            sync_interval = 5
            sync_start_time = 01:00
            sync_end_time = 05:30
            fsync_after_written_bytes = 64MB
            file_distribute_path_mode = 1
            check_file_duplicate = yes
            file_signature_method = md5
            keep_alive = 1
            upload_priority = 1
            if_alias_prefix = eth
            allow_hosts = 10.0.0.[1-3]
            compress_binlog = no
            check_store_path_mark = false
            """);
        Assert.Equal("100001", o.ServerId);
        Assert.Equal(["10.0.0.5"], o.BindAddresses);
        Assert.False(o.ClientBind);
        Assert.False(o.DiskRwSeparated);
        Assert.Equal(0, o.DiskReaderThreads);
        Assert.Equal(8, o.SyncMaxThreads);
        Assert.Equal(TimeSpan.FromMilliseconds(200), o.SyncWait);
        Assert.Equal(TimeSpan.FromMilliseconds(5), o.SyncInterval);
        Assert.Equal(new TimeOnly(1, 0), o.SyncStartTime);
        Assert.Equal(new TimeOnly(5, 30), o.SyncEndTime);
        Assert.Equal(64L << 20, o.FsyncAfterWrittenBytes);
        Assert.Equal(FileDistributePathMode.Random, o.FileDistributePathMode);
        Assert.True(o.CheckFileDuplicate);
        Assert.Equal(FileSignatureMethod.Md5, o.FileSignatureMethod);
        Assert.True(o.KeepAlive);
        Assert.Equal(1, o.UploadPriority);
        Assert.Equal("eth", o.IfAliasPrefix);
        Assert.True(o.IsAllowed(IPAddress.Parse("10.0.0.2")));
        Assert.False(o.IsAllowed(IPAddress.Parse("10.0.0.4")));
        Assert.False(o.CompressBinlog);
        Assert.False(o.CheckStorePathMark);
    }

    [Fact]
    public void Unknown_keys_are_not_errors()
    {
        var cfg = FdfsConfigFile.Parse(Minimal + "tracker_connect_retry_interval = 3\n");
        StorageOptions.FromConfig(cfg);
        Assert.Equal(["tracker_connect_retry_interval"], cfg.UnusedKeys().Select(e => e.Key));
    }

    [Fact]
    public void Validate_catches_bad_manual_options()
    {
        var ok = StorageOptions.Default with { TrackerServers = [new TrackerEndpoint("t", 22122)] };
        ok.Validate();
        Assert.Throws<FdfsConfigException>(StorageOptions.Default.Validate);
        Assert.Throws<FdfsConfigException>((ok with { StorePaths = [] }).Validate);
        Assert.Throws<FdfsConfigException>((ok with { ReadOnlyStorePaths = new HashSet<int> { 3 } }).Validate);
        Assert.Throws<FdfsConfigException>((ok with { GroupName = "" }).Validate);
    }
}
