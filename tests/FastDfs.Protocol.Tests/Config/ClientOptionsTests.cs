using FastDfs.Client;
using FastDfs.Protocol.Config;
using Xunit;

namespace FastDfs.Protocol.Tests.Config;

public class ClientOptionsTests
{
    [Fact]
    public void Defaults()
    {
        var d = FastDfsClientOptions.Default;
        Assert.Empty(d.TrackerServers);
        Assert.Equal(TimeSpan.FromSeconds(5), d.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(60), d.NetworkTimeout);
        Assert.Null(d.BasePath);
        Assert.True(d.UseConnectionPool);
        Assert.Equal(TimeSpan.FromSeconds(3600), d.ConnectionPoolMaxIdleTime);
        Assert.Equal(64, d.MaxConnectionsPerServer);
        Assert.Equal(ConnectFirstBy.Tracker, d.ConnectFirstBy);
    }

    [Fact]
    public void Shipped_sample()
    {
        var cfg = FdfsConfigFile.Parse(SampleConfigs.Client616, "/etc/fdfs/client.conf");
        var o = FastDfsClientOptions.FromConfig(cfg);

        Assert.Equal([new TrackerEndpoint("192.168.0.196", 22122), new TrackerEndpoint("192.168.0.197", 22122)], o.TrackerServers);
        Assert.Equal(TimeSpan.FromSeconds(5), o.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(60), o.NetworkTimeout);
        Assert.Equal("/opt/fastdfs", o.BasePath);
        Assert.False(o.UseConnectionPool);
        Assert.Equal(TimeSpan.FromSeconds(3600), o.ConnectionPoolMaxIdleTime);
        Assert.False(o.LoadFdfsParametersFromTracker);
        Assert.False(o.UseStorageId);
        Assert.Equal("storage_ids.conf", o.StorageIdsFilename);
        Assert.Equal(FdfsLogLevel.Info, o.LogLevel);
        Assert.Empty(cfg.UnusedKeys());
    }

    [Fact]
    public void From_trackers()
    {
        var o = FastDfsClientOptions.FromTrackers("10.0.0.1:22122", "[::1]:22200", "tracker2");
        Assert.Equal(3, o.TrackerServers.Count);
        Assert.Equal(22200, o.TrackerServers[1].Port);
        Assert.Equal(22122, o.TrackerServers[2].Port);
        o.Validate();

        Assert.Throws<ArgumentException>(() => FastDfsClientOptions.FromTrackers());
        Assert.Throws<FormatException>(() => FastDfsClientOptions.FromTrackers("bad host:1"));
    }

    [Fact]
    public void Config_errors_have_locations()
    {
        var none = Assert.Throws<FdfsConfigException>(() => FastDfsClientOptions.FromConfig(FdfsConfigFile.Parse("connect_timeout = 5\n", "c.conf")));
        Assert.Equal("tracker_server", none.Key);

        var bad = Assert.Throws<FdfsConfigException>(() =>
            FastDfsClientOptions.FromConfig(FdfsConfigFile.Parse("tracker_server = t:1\nnetwork_timeout = 0\n", "c.conf")));
        Assert.Equal(2, bad.Line);

        var word = Assert.Throws<FdfsConfigException>(() =>
            FastDfsClientOptions.FromConfig(FdfsConfigFile.Parse("tracker_server = t:1\nconnect_first_by = random\n", "c.conf")));
        Assert.Equal("connect_first_by", word.Key);
    }

    [Fact]
    public void Connect_first_by_last_connected()
    {
        var o = FastDfsClientOptions.FromConfig(FdfsConfigFile.Parse("tracker_server = t\nconnect_first_by = last-connected\n"));
        Assert.Equal(ConnectFirstBy.LastConnected, o.ConnectFirstBy);
    }

    [Fact]
    public void Validate_checks_own_settings()
    {
        var o = FastDfsClientOptions.FromTrackers("t:1");
        Assert.Throws<FdfsConfigException>((o with { MaxConnectionsPerServer = 0 }).Validate);
        Assert.Throws<FdfsConfigException>((o with { ConnectTimeout = TimeSpan.Zero }).Validate);
        Assert.Throws<FdfsConfigException>(FastDfsClientOptions.Default.Validate);
    }
}
