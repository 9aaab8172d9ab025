using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastDfs.Tracker.Tests;

public class ServiceTests
{
    [Fact]
    public async Task Service_binds_ephemeral_port_and_remembers_groups_across_restarts()
    {
        string dir = Path.Combine(Path.GetTempPath(), "trk-svc-" + Guid.NewGuid().ToString("N"));
        try
        {
            var config = FdfsConfigFile.Parse($"port = 0\nbind_addr = 127.0.0.41\nbase_path = {dir}\nallow_hosts = 127.0.0.0/8\n");
            var options = TrackerOptions.FromConfig(config);
            var service = new TrackerService(options, NullLogger<TrackerService>.Instance);
            await service.StartAsync(CancellationToken.None);
            Assert.NotEqual(0, service.EndPoint!.Port);
            Assert.Equal("127.0.0.41", service.EndPoint.Address.ToString());

            await using (var storage = await FdfsConnection.ConnectAsync("127.0.0.41", service.EndPoint.Port, TimeSpan.FromSeconds(5),
                System.Net.IPAddress.Parse("127.0.0.42")))
            {
                var (status, _) = await storage.RoundTripAsync((byte)TrackerCommand.StorageJoin, Cluster.JoinRequest("grp7").ToArray(), 100, CancellationToken.None);
                Assert.Equal(0, status);
            }

            await service.StopAsync(CancellationToken.None);
            await service.DisposeAsync();
            Assert.True(File.Exists(Path.Combine(dir, "data", Protocol.TrackerState.TrackerSysFiles.GroupsFileName)));
            Assert.Contains("ip_addr=127.0.0.42", File.ReadAllText(Path.Combine(dir, "data", Protocol.TrackerState.TrackerSysFiles.ServersFileName)));

            var again = new TrackerService(options, NullLogger<TrackerService>.Instance);
            await again.StartAsync(CancellationToken.None);
            Assert.Equal(StorageStatus.Offline, again.Registry.GetStatus("grp7", "127.0.0.42"));
            await again.StopAsync(CancellationToken.None);
            await again.DisposeAsync();
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public void Shipped_style_config_loads_with_port_zero()
    {
        var config = FdfsConfigFile.Parse("port = 0\nbase_path = /tmp/x\nstore_lookup = 0\nsome_new_key = 1\nuse_io_uring = false\n");
        var options = TrackerOptions.FromConfig(config);
        Assert.Equal(0, options.Port);
        Assert.Equal(StoreLookup.RoundRobin, options.StoreLookup);
        Assert.Equal(["some_new_key"], config.UnusedKeys().Select(e => e.Key));
    }
}
