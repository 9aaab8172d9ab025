using FastDfs.Integration.Tests.TestKit;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>Disk recovery (protocol notes 9.6): a wiped store path is rebuilt from the peer before the storage serves again.</summary>
public sealed class ReplicationRecoveryTests
{
    [Fact]
    public async Task WipedStorePathIsRecoveredFromThePeer()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec(), new StorageSpec());
        await using var client = cluster.CreateClient();
        var files = await ReplicationCrashTests.UploadLoadAsync(client, 4, 300, CancellationToken.None);
        var withMeta = files.Keys.First();
        await client.SetMetadataAsync(withMeta, new Dictionary<string, string> { ["owner"] = "alice" });
        await ReplicationCrashTests.AssertAllReplicatedAsync(cluster, files, TimeSpan.FromSeconds(60));

        var victim = cluster.Storages[1];
        await victim.Process!.StopAsync();
        foreach (string path in victim.StorePaths)
        {
            // A replaced disk: the mount point is there, empty.
            Directory.Delete(path, recursive: true);
            Directory.CreateDirectory(path);
        }

        await victim.RestartAsync();
        await cluster.WaitAllActiveAsync(TimeSpan.FromSeconds(90));
        Assert.True(victim.Process!.LogTail.Contains("recovered from", StringComparison.Ordinal), victim.Process.LogTail);
        await ReplicationCrashTests.AssertAllReplicatedAsync(cluster, files, TimeSpan.FromSeconds(10));

        await using var probe = await StorageProbe.ConnectAsync(victim.Endpoint);
        var meta = await probe.GetMetadataAsync(withMeta);
        Assert.NotNull(meta);
        Assert.Contains("owner\u0002alice", System.Text.Encoding.UTF8.GetString(meta), StringComparison.Ordinal);
    }
}
