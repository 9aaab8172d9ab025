using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Hashing;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>
/// Replication across crashes and restarts: an acknowledged upload is in the binlog (write(2) before the answer),
/// so kill -9 loses none, and the per-peer marks make the sync resume exactly where it stopped.
/// </summary>
public sealed class ReplicationCrashTests
{
    private static readonly TimeSpan CatchUp = TimeSpan.FromSeconds(60);

    /// <summary>Small random files, uploaded by <paramref name="workers"/> concurrent tasks until cancelled or <paramref name="count"/> are done.</summary>
    internal static async Task<ConcurrentDictionary<FileId, byte[]>> UploadLoadAsync(
        FastDfsClient client, int workers, int count, CancellationToken stop, ConcurrentDictionary<FileId, byte[]>? into = null)
    {
        var acked = into ?? new ConcurrentDictionary<FileId, byte[]>();
        int issued = 0;
        await Task.WhenAll(Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
        {
            var random = new Random(w * 7919 + acked.Count);
            while (!stop.IsCancellationRequested && Interlocked.Increment(ref issued) <= count)
            {
                var content = new byte[random.Next(1, 8) * 1024 + random.Next(0, 1000)];
                random.NextBytes(content);
                try
                {
                    acked[await client.UploadAsync(content, "bin")] = content;
                }
                catch (FdfsException)
                {
                    // Not acknowledged (the storage died under it): not required to exist.
                }
            }
        })));
        return acked;
    }

    /// <summary>Every file byte-identical on every running storage, read from each directly; fails with the count of lost files.</summary>
    internal static async Task AssertAllReplicatedAsync(Cluster cluster, IReadOnlyDictionary<FileId, byte[]> files, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        foreach (var node in cluster.Storages.Where(s => s.Process is { HasExited: false }))
        {
            await using var probe = await StorageProbe.ConnectAsync(node.Endpoint);
            var missing = new List<FileId>();
            foreach (var (id, content) in files)
            {
                while (true)
                {
                    var got = await probe.DownloadAsync(id);
                    if (got is not null && Crc32.HashToUInt32(got) == Crc32.HashToUInt32(content) && got.AsSpan().SequenceEqual(content))
                    {
                        break;
                    }

                    if (DateTime.UtcNow > deadline)
                    {
                        missing.Add(id);
                        break;
                    }

                    await Task.Delay(100);
                }
            }

            Assert.True(missing.Count == 0,
                $"{missing.Count} of {files.Count} acknowledged files missing or different on {node.Ip}, e.g. {string.Join(", ", missing.Take(5))}\n{node.Process?.LogTail}");
        }
    }

    [Fact]
    public async Task KillOneStorageDuringUploadsLosesNothing()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec(), new StorageSpec());
        await using var client = cluster.CreateClient(TimeSpan.FromSeconds(10));
        using var stop = new CancellationTokenSource();
        var acked = new ConcurrentDictionary<FileId, byte[]>();
        var load = UploadLoadAsync(client, 4, int.MaxValue, stop.Token, acked);

        var victim = cluster.Storages[1];
        Assert.True(await StorageProbe.WaitUntilAsync(() => Task.FromResult(acked.Count >= 300), TimeSpan.FromSeconds(30)), "uploads do not progress");
        await victim.KillHardAsync();
        int atKill = acked.Count;
        Assert.True(await StorageProbe.WaitUntilAsync(() => Task.FromResult(acked.Count >= atKill + 200), TimeSpan.FromSeconds(30)), "uploads stopped after the kill");
        await stop.CancelAsync();
        await load;

        await victim.RestartAsync();
        await cluster.WaitAllActiveAsync();
        await AssertAllReplicatedAsync(cluster, acked, CatchUp);
    }

    /// <summary>
    /// The receiver dies right after a burst, while the sender most likely has pipelined creates in flight: the sender redoes the records
    /// past its mark on a new connection, the receiver answers EEXIST for what it had applied, so every file arrives
    /// and none is logged twice; the sender's mark then stands at the end of its binlog.
    /// </summary>
    [Fact]
    public async Task ReceiverKilledDuringPipelinedSyncGetsEveryFileOnce()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec(), new StorageSpec());
        await using var client = cluster.CreateClient(TimeSpan.FromSeconds(10));
        var acked = await UploadLoadAsync(client, 8, 1500, CancellationToken.None);
        Assert.Equal(1500, acked.Count);

        var (sender, receiver) = (cluster.Storages[0], cluster.Storages[1]);
        await receiver.KillHardAsync();
        await receiver.RestartAsync();
        await cluster.WaitAllActiveAsync();
        await AssertAllReplicatedAsync(cluster, acked, CatchUp);

        string senderBinlog = Path.Combine(sender.BaseDir, "data", "sync", "binlog.000");
        var sent = File.ReadLines(senderBinlog).Select(l => l.Split(' ')).Where(f => f[1] == "C").Select(f => f[2]).ToHashSet();
        Assert.NotEmpty(sent);
        var logged = File.ReadLines(Path.Combine(receiver.BaseDir, "data", "sync", "binlog.000"))
            .Select(l => l.Split(' ')).Where(f => f[1] == "c" && sent.Contains(f[2])).GroupBy(f => f[2]).ToList();
        Assert.All(logged, g => Assert.Single(g));

        string markFile = Directory.EnumerateFiles(Path.Combine(sender.BaseDir, "data", "sync"), "*.mark").Single();
        long binlogLength = new FileInfo(senderBinlog).Length;
        Assert.True(
            await StorageProbe.WaitUntilAsync(() => Task.FromResult(ReadMarkOffset(markFile) == binlogLength), TimeSpan.FromSeconds(10)),
            $"mark at {ReadMarkOffset(markFile)}, binlog {binlogLength} bytes");
    }

    private static long ReadMarkOffset(string markFile) =>
        File.ReadLines(markFile).Where(l => l.StartsWith("binlog_offset=", StringComparison.Ordinal))
            .Select(l => long.Parse(l.AsSpan(14), CultureInfo.InvariantCulture)).Single();

    [Fact]
    public async Task KillBothStoragesRightAfterABurstLosesNothing()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec(), new StorageSpec());
        await using var client = cluster.CreateClient(TimeSpan.FromSeconds(10));
        var acked = await UploadLoadAsync(client, 8, 800, CancellationToken.None);
        Assert.Equal(800, acked.Count);

        // No pause: whatever was acknowledged must already be in each binlog.
        await Task.WhenAll(cluster.Storages.Select(s => s.KillHardAsync()));
        foreach (var node in cluster.Storages)
        {
            await node.RestartAsync();
        }

        await cluster.WaitAllActiveAsync();
        await AssertAllReplicatedAsync(cluster, acked, CatchUp);
    }
}
