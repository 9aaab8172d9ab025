using System.Collections.Concurrent;
using System.Globalization;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>A storage joining a populated group, one returning after being offline, and a whole-cluster restart.</summary>
public sealed class ReplicationJoinTests
{
    private static readonly TimeSpan CatchUp = TimeSpan.FromSeconds(60);

    private static Dictionary<string, long> ReadMark(StorageNode node)
    {
        string dir = Path.Combine(node.BaseDir, "data", "sync");
        string mark = Directory.EnumerateFiles(dir, "*.mark").Single();
        return File.ReadAllLines(mark).Select(l => l.Split('=', 2))
            .ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture));
    }

    /// <summary>Source (upper-case) records in a storage's binlog: what its sync worker must send exactly once.</summary>
    private static int SourceRecords(StorageNode node) =>
        File.ReadLines(Path.Combine(node.BaseDir, "data", "sync", "binlog.000")).Count(l => l.Split(' ')[1] is [>= 'A' and <= 'Z']);

    [Fact]
    public async Task NewStorageGetsEveryFileAndBecomesActive()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec());
        await using var client = cluster.CreateClient();
        var files = await ReplicationCrashTests.UploadLoadAsync(client, 4, 2000, CancellationToken.None);
        Assert.Equal(2000, files.Count);

        // Some history the full copy must reproduce: deleted files stay deleted, metadata comes along.
        var deleted = files.Keys.Take(50).ToList();
        foreach (var id in deleted)
        {
            await client.DeleteAsync(id);
            files.TryRemove(id, out _);
        }

        var withMeta = files.Keys.First();
        await client.SetMetadataAsync(withMeta, new Dictionary<string, string> { ["k"] = "v" });

        await cluster.AddStorageAsync(new StorageSpec());
        await cluster.WaitAllActiveAsync(CatchUp);
        await ReplicationCrashTests.AssertAllReplicatedAsync(cluster, files, TimeSpan.FromSeconds(10));

        await using var probe = await StorageProbe.ConnectAsync(cluster.Storages[1].Endpoint);
        foreach (var id in deleted.Take(10))
        {
            Assert.Equal(FdfsErrno.ENOENT, await probe.ExistsStatusAsync(id));
        }

        Assert.NotNull(await probe.GetMetadataAsync(withMeta));
        var mark = ReadMark(cluster.Storages[0]);
        Assert.Equal(1, mark["need_sync_old"]);
        Assert.Equal(1, mark["sync_old_done"]);
    }

    [Fact]
    public async Task OfflineStorageCatchesUpOnReturn()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec(), new StorageSpec());
        await using var client = cluster.CreateClient();
        var before = await ReplicationCrashTests.UploadLoadAsync(client, 2, 50, CancellationToken.None);
        await ReplicationCrashTests.AssertAllReplicatedAsync(cluster, before, CatchUp);

        var away = cluster.Storages[1];
        await away.Process!.StopAsync();
        await StorageProbe.WaitUntilAsync(async () =>
        {
            var listed = await client.ListStoragesAsync("group1");
            return listed.Single(s => s.Ip == away.Ip).Status != StorageStatus.Active;
        }, TimeSpan.FromSeconds(20));

        var during = await ReplicationCrashTests.UploadLoadAsync(client, 2, 300, CancellationToken.None);
        Assert.Equal(300, during.Count);
        var gone = before.Keys.Take(10).ToList();
        foreach (var id in gone)
        {
            await client.DeleteAsync(id);
            before.TryRemove(id, out _);
        }

        await away.RestartAsync();
        await cluster.WaitAllActiveAsync();
        await ReplicationCrashTests.AssertAllReplicatedAsync(cluster, during, CatchUp);
        await ReplicationCrashTests.AssertAllReplicatedAsync(cluster, before, CatchUp);
        foreach (var id in gone)
        {
            await ReplicationTests.AssertGoneEverywhereAsync(cluster, id);
        }
    }

    [Fact]
    public async Task WholeClusterRestartKeepsFilesAndMarks()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec(), new StorageSpec());
        await using var client = cluster.CreateClient();
        var files = await ReplicationCrashTests.UploadLoadAsync(client, 4, 400, CancellationToken.None);
        await ReplicationCrashTests.AssertAllReplicatedAsync(cluster, files, CatchUp);

        foreach (var node in cluster.Storages)
        {
            await node.Process!.StopAsync();
        }

        await cluster.RestartTrackerAsync();
        foreach (var node in cluster.Storages)
        {
            await node.RestartAsync();
        }

        await cluster.WaitAllActiveAsync();
        await ReplicationCrashTests.UploadLoadAsync(client, 2, 40, CancellationToken.None, files);
        await ReplicationCrashTests.AssertAllReplicatedAsync(cluster, files, CatchUp);

        // Every source record was sent exactly once over both runs: no re-send of everything after the restart.
        foreach (var node in cluster.Storages)
        {
            int expected = SourceRecords(node);
            Assert.True(await StorageProbe.WaitUntilAsync(() => Task.FromResult(ReadMark(node)["sync_row_count"] == expected), CatchUp),
                $"{node.Ip}: mark says {ReadMark(node)["sync_row_count"]} records sent, binlog has {expected} source records");
        }
    }
}
