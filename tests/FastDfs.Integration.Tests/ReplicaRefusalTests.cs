using System.Text.RegularExpressions;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>
/// A replica that cannot take a synced change: a file past its size limit (EFBIG, here its RLIMIT_FSIZE) is answered
/// and skipped by the source, logged once, and everything after it still replicates; a full disk (ENOSPC, here a
/// small tmpfs) holds replication back without dropping anything until there is room again.
/// </summary>
public sealed partial class ReplicaRefusalTests
{
    private static readonly TimeSpan SyncTimeout = TimeSpan.FromSeconds(20);

    private static byte[] Random(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static StoreTarget On(StorageNode node) => new("group1", new ServerAddress(node.Ip, node.Process!.Port), 0);

    private static int Count(string text, string what) => Regex.Matches(text, Regex.Escape(what)).Count;

    private static async Task WaitForLogAsync(StorageNode node, string what)
    {
        Assert.True(
            await StorageProbe.WaitUntilAsync(() => Task.FromResult(node.Process!.Output.Contains(what, StringComparison.Ordinal)), SyncTimeout),
            $"no '{what}' in the log of {node.Ip}:\n{node.Process!.LogTail}");
    }

    private static async Task<byte[]?> DownloadFromAsync(StorageNode node, FileId id)
    {
        await using var probe = await StorageProbe.ConnectAsync(node.Endpoint);
        return await probe.DownloadAsync(id);
    }

    [Fact]
    public async Task A_file_past_the_replicas_size_limit_is_logged_once_and_skipped_and_later_changes_still_replicate()
    {
        const int Limit = 1 << 20;
        await using var cluster = await Cluster.StartAsync(new StorageSpec(), new StorageSpec(FileSizeLimit: Limit));
        var (source, replica) = (cluster.Storages[0], cluster.Storages[1]);
        await using var client = cluster.CreateClient();

        var content = Random(700_000, 1).ToList();
        var big = await client.UploadAppenderAsync(content.ToArray(), "log", On(source));
        var small = await client.UploadAppenderAsync(Random(1000, 2), "log", On(source));
        await ReplicationTests.AssertOnAllAsync(cluster, big, [.. content]);
        int logStart = source.Process!.Output.Length;

        // 1.2 MB on the source, more than the replica may write: it answers EFBIG, keeps its 700 KB copy and the connection.
        var appended = Random(500_000, 3);
        await client.AppendAsync(big, appended);
        content.AddRange(appended);
        await WaitForLogAsync(source, "[3066]");

        // Later records of the same file are skipped without a word; everything else flows.
        var more = Random(100_000, 4);
        await client.AppendAsync(big, more);
        content.AddRange(more);
        var patch = Random(50, 5);
        await client.ModifyAsync(big, 10, patch);
        for (int i = 0; i < patch.Length; i++)
        {
            content[10 + i] = patch[i];
        }

        var tail = Random(3000, 6);
        await client.AppendAsync(small, tail);
        var others = new List<(FileId Id, byte[] Content)>();
        for (int i = 0; i < 3; i++)
        {
            var bytes = Random(20_000 + i, 10 + i);
            others.Add((await client.UploadAsync(bytes, "bin"), bytes));
        }

        await ReplicationTests.AssertOnAllAsync(cluster, small, [.. Random(1000, 2), .. tail], SyncTimeout);
        foreach (var (id, bytes) in others)
        {
            await ReplicationTests.AssertOnAllAsync(cluster, id, bytes, SyncTimeout);
        }

        // The replica's copy is as it was before the refused append: no byte of it, nor of the skipped records, landed.
        Assert.Equal(Random(700_000, 1), await DownloadFromAsync(replica, big));

        string log = source.Process.Output[logStart..];
        Assert.Equal(1, Count(log, "[3066]"));
        Assert.Contains($"sync to {replica.Ip}:{replica.Process!.Port}: {big.RemoteFileName} cannot be 1200000 bytes there (EFBIG", log, StringComparison.Ordinal);
        Assert.Equal(0, Count(log, "[3042]")); // no dropped connection, no retry
        Assert.Equal(0, Count(log, "[3046]")); // nothing else refused
        Assert.False(replica.Process.HasExited); // SIGXFSZ ignored
        Assert.Contains("EFBIG", replica.Process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("request handler failed", replica.Process.Output, StringComparison.Ordinal);

        // Cut below the limit at the source: the whole file goes over and the replica is in step again.
        await client.TruncateAsync(big, 900_000);
        await ReplicationTests.AssertOnAllAsync(cluster, big, [.. content.Take(900_000)], SyncTimeout);
        await WaitForLogAsync(source, "[3068]");
        await client.AppendAsync(big, more.AsMemory(0, 1000));
        await ReplicationTests.AssertOnAllAsync(cluster, big, [.. content.Take(900_000), .. more.Take(1000)], SyncTimeout);
        Assert.Equal(1, Count(source.Process.Output[logStart..], "[3066]"));
    }

    [Fact]
    public async Task New_files_past_the_replicas_size_limit_are_refused_whole_and_skipped_and_later_files_still_replicate()
    {
        const int Limit = 1 << 20;
        await using var cluster = await Cluster.StartAsync(new StorageSpec(), new StorageSpec(FileSizeLimit: Limit));
        var (source, replica) = (cluster.Storages[0], cluster.Storages[1]);
        await using var client = cluster.CreateClient();
        var first = Random(1000, 1);
        var firstId = await client.UploadAppenderAsync(first, "bin", On(source));
        await ReplicationTests.AssertOnAllAsync(cluster, firstId, first);
        int logStart = source.Process!.Output.Length;

        // Uploads the source takes and the replica cannot write: each SYNC_CREATE_FILE is answered EFBIG on a
        // connection that goes on with the next record.
        var big = await client.UploadAppenderAsync(Random(1_500_000, 2), "bin", On(source));
        var bigAppender = await client.UploadAppenderAsync(Random(1_200_000, 3), "log", On(source));
        var after = new List<(FileId Id, byte[] Content)>();
        for (int i = 0; i < 3; i++)
        {
            var bytes = Random(20_000 + i, 10 + i);
            after.Add((await client.UploadAppenderAsync(bytes, "bin", On(source)), bytes));
        }

        foreach (var (id, bytes) in after)
        {
            await ReplicationTests.AssertOnAllAsync(cluster, id, bytes, SyncTimeout);
        }

        Assert.Null(await DownloadFromAsync(replica, big));
        Assert.Null(await DownloadFromAsync(replica, bigAppender));
        string log = source.Process.Output[logStart..];
        Assert.Equal(2, Count(log, "[3066]")); // once per file
        Assert.Contains($"{big.RemoteFileName} cannot be 1500000 bytes there (EFBIG", log, StringComparison.Ordinal);
        Assert.Equal(0, Count(log, "[3042]")); // no dropped connection, no retry
        Assert.Equal(0, Count(log, "[3046]"));
        Assert.Equal(2, Count(replica.Process!.Output, "EFBIG: sync create of"));
        Assert.DoesNotContain("request handler failed", replica.Process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("I/O error handling", replica.Process.Output, StringComparison.Ordinal);

        // Nothing of the refused files on the replica, named or temporary: only the four that fit.
        Assert.Equal(4, replica.DataFiles().Count());
        string temp = Path.Combine(replica.StorePaths[0], "data", ".tmp");
        Assert.Empty(Directory.Exists(temp) ? Directory.EnumerateFiles(temp) : []);
    }

    [Fact]
    public async Task A_full_replica_holds_replication_back_and_gets_everything_once_it_has_room()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec(), new StorageSpec(Extra: "reserved_storage_space = 1%", TmpfsBytes: 8 << 20));
        var (source, replica) = (cluster.Storages[0], cluster.Storages[1]);
        await using var client = cluster.CreateClient();

        // Most of the replica's 8 MiB taken by a file of its own (a reserve of 1%, not the default 16 MiB, lets it in).
        var filler = await client.UploadAppenderAsync(Random(5 << 20, 1), "bin", On(replica));
        await ReplicationTests.AssertOnAllAsync(cluster, filler, Random(5 << 20, 1), SyncTimeout);
        int logStart = source.Process!.Output.Length;

        var large = Random(4_000_000, 2);
        var largeId = await client.UploadAppenderAsync(large, "bin", On(source));
        var after = Random(5000, 3);
        var afterId = await client.UploadAppenderAsync(after, "bin", On(source));
        await WaitForLogAsync(source, "[3069]");

        // Retried, not skipped, and not in a tight loop: a few tries over three seconds, one log line.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Null(await DownloadFromAsync(replica, largeId));
        int tries = Count(replica.Process!.Output, "ENOSPC");
        Assert.InRange(tries, 2, 6);
        Assert.Equal(1, Count(source.Process.Output[logStart..], "[3069]"));

        // Room again: the file that did not fit and the one behind it arrive.
        await client.DeleteAsync(filler);
        await ReplicationTests.AssertOnAllAsync(cluster, largeId, large, SyncTimeout);
        await ReplicationTests.AssertOnAllAsync(cluster, afterId, after, SyncTimeout);
        await WaitForLogAsync(source, "[3049]");
        string log = source.Process.Output[logStart..];
        Assert.Equal(1, Count(log, "[3069]"));
        Assert.Equal(0, Count(log, "[3046]")); // nothing skipped
        Assert.DoesNotContain("request handler failed", replica.Process.Output, StringComparison.Ordinal);
    }
}
