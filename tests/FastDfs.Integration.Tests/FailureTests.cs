using System.Diagnostics;
using System.Text;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>Dead and hung servers: the client fails over or fails within its timeout, never hangs.</summary>
public sealed class FailureTests
{
    [Fact]
    public async Task Client_fails_over_from_a_dead_tracker_to_a_live_one()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec());

        // 127.0.0.1:1 refuses connections; the live tracker comes second.
        await using var client = new FastDfsClient(FastDfsClientOptions.FromTrackers("127.0.0.1:1", cluster.TrackerEndpoint));
        for (int i = 0; i < 3; i++)
        {
            var id = await client.UploadAsync(Encoding.ASCII.GetBytes("failover " + i), "txt");
            Assert.Equal("failover " + i, Encoding.ASCII.GetString(await client.DownloadBytesAsync(id)));
        }
    }

    [Fact]
    public async Task A_hung_storage_gives_a_timeout_not_a_hang_and_service_resumes()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec());
        await using var client = cluster.CreateClient(TimeSpan.FromSeconds(1));
        var id = await client.UploadAsync(Encoding.ASCII.GetBytes("before"), "txt");

        var storage = cluster.Storages[0].Process!;
        storage.Freeze(true);
        try
        {
            var clock = Stopwatch.StartNew();
            var e = await Assert.ThrowsAnyAsync<FdfsException>(() => client.DownloadBytesAsync(id));
            Assert.True(e is FdfsTimeoutException or FdfsConnectionException, e.GetType().Name + ": " + e.Message);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        }
        finally
        {
            storage.Freeze(false);
        }

        Assert.Equal("before", Encoding.ASCII.GetString(await client.DownloadBytesAsync(id)));
    }

    [Fact]
    public async Task A_dead_tracker_gives_a_connection_error_quickly()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec());
        await using var client = cluster.CreateClient(TimeSpan.FromSeconds(2));
        await cluster.Tracker!.KillHardAsync();
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<FdfsConnectionException>(() => client.UploadAsync(new byte[] { 1 }, "bin"));
        Assert.Contains(cluster.TrackerEndpoint, e.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }
}
