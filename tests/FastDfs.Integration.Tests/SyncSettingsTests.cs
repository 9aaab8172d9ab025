using System.Diagnostics;
using System.Globalization;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;
using Xunit.Abstractions;

namespace FastDfs.Integration.Tests;

/// <summary>
/// The sync worker's storage.conf settings (protocol notes 9.3: sync_start_time / sync_end_time, sync_interval,
/// sync_wait_msec) and the check before a sync create (5.3), on a group of two real storages.
/// </summary>
public sealed class SyncSettingsTests(ITestOutputHelper output)
{
    private static readonly TimeSpan SyncTimeout = TimeSpan.FromSeconds(30);

    private static byte[] Random(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task<bool> HasAsync(StorageNode node, FileId id, byte[] content)
    {
        await using var probe = await StorageProbe.ConnectAsync(node.Endpoint);
        var data = await probe.DownloadAsync(id);
        return data is not null && data.AsSpan().SequenceEqual(content);
    }

    private static Task<bool> ArrivesAsync(StorageNode node, FileId id, byte[] content, TimeSpan? timeout = null) =>
        StorageProbe.WaitUntilAsync(() => HasAsync(node, id, content), timeout ?? SyncTimeout, 20);

    private static string Hhmm(DateTime time) => time.ToString("HH:mm", CultureInfo.InvariantCulture);

    private static void SetConfig(StorageNode node, string key, string value)
    {
        var lines = File.ReadAllLines(node.ConfigPath).Where(l => !l.TrimStart().StartsWith(key + " ", StringComparison.Ordinal)).ToList();
        lines.Add($"{key} = {value}");
        File.WriteAllLines(node.ConfigPath, lines);
    }

    private static StorageNode Source(Cluster cluster, FileId id) =>
        FileNames.TryDecode(id.RemoteFileName, out var info) ? cluster.Storages.Single(s => s.Ip == info.Source) : throw new InvalidOperationException(id.ToString());

    [Fact]
    public async Task Outside_the_sync_window_nothing_is_sent_and_a_window_that_includes_now_sends_it()
    {
        // The group forms with the default window (a new storage's full copy waits for the window too), then both
        // storages restart with a window that starts two hours from now (local time, as FastDFS reads it).
        await using var cluster = await Cluster.StartAsync(new StorageSpec(), new StorageSpec());
        await using var client = cluster.CreateClient();
        var now = DateTime.Now;
        foreach (var node in cluster.Storages)
        {
            SetConfig(node, "sync_start_time", Hhmm(now.AddHours(2)));
            SetConfig(node, "sync_end_time", Hhmm(now.AddHours(3)));
            await node.RestartAsync();
        }

        await cluster.WaitAllActiveAsync();
        foreach (var node in cluster.Storages)
        {
            Assert.True(
                await StorageProbe.WaitUntilAsync(() => Task.FromResult(node.Process!.LogTail.Contains("outside the sync window", StringComparison.Ordinal)), SyncTimeout),
                $"{node.Ip} does not wait for its window:\n{node.Process!.LogTail}");
        }

        var content = Random(20_000, 1);
        var id = await client.UploadAsync(content, "bin");
        var source = Source(cluster, id);
        var peer = cluster.Storages.Single(s => s != source);
        Assert.True(await HasAsync(source, id, content));

        // Replication takes milliseconds when allowed (the other tests); here it must not happen at all.
        Assert.False(await ArrivesAsync(peer, id, content, TimeSpan.FromSeconds(3)), $"{id} reached {peer.Ip} outside the sync window");

        // A window around now: the worker resumes from its mark and the file arrives.
        foreach (var node in cluster.Storages)
        {
            SetConfig(node, "sync_start_time", Hhmm(now.AddHours(-1)));
            SetConfig(node, "sync_end_time", Hhmm(now.AddHours(1)));
        }

        await source.RestartAsync();
        Assert.True(await ArrivesAsync(peer, id, content), $"{id} did not reach {peer.Ip} inside the sync window:\n{source.Process!.LogTail}");
    }

    [Fact]
    public async Task Sync_interval_pauses_after_each_file()
    {
        const int IntervalMs = 300;
        string extra = $"sync_interval = {IntervalMs}";
        await using var cluster = await Cluster.StartAsync(new StorageSpec(Extra: extra), new StorageSpec(Extra: extra));
        await using var client = cluster.CreateClient();

        // Ten files, five from each storage: each worker sends its fifth file four pauses after its first.
        var sw = Stopwatch.StartNew();
        var files = new List<(FileId Id, byte[] Content)>();
        for (int i = 0; i < 10; i++)
        {
            var content = Random(1000, 10 + i);
            files.Add((await client.UploadAsync(content, "bin"), content));
        }

        int perSource = files.GroupBy(f => Source(cluster, f.Id).Ip).Max(g => g.Count());
        foreach (var (id, content) in files)
        {
            Assert.True(await ArrivesAsync(cluster.Storages.Single(s => s != Source(cluster, id)), id, content), $"{id} not replicated");
        }

        output.WriteLine($"{files.Count} files, at most {perSource} per source, replicated after {sw.ElapsedMilliseconds} ms");
        Assert.True(sw.ElapsedMilliseconds >= (perSource - 1) * IntervalMs, $"replicated in {sw.ElapsedMilliseconds} ms, faster than {perSource - 1} pauses of {IntervalMs} ms");
    }

    [Fact]
    public async Task Sync_wait_msec_delays_reading_the_binlog_after_its_end()
    {
        const int WaitMs = 1500;
        string extra = $"sync_wait_msec = {WaitMs}";
        await using var cluster = await Cluster.StartAsync(new StorageSpec(Extra: extra), new StorageSpec(Extra: extra));
        await using var client = cluster.CreateClient();

        // Both workers connected and idle at the end of their binlogs.
        foreach (var node in cluster.Storages)
        {
            Assert.True(
                await StorageProbe.WaitUntilAsync(() => Task.FromResult(node.Process!.LogTail.Contains(": connected, resuming at", StringComparison.Ordinal)), SyncTimeout),
                $"{node.Ip}: no sync connection:\n{node.Process!.LogTail}");
        }

        var content = Random(5000, 3);
        var sw = Stopwatch.StartNew();
        var id = await client.UploadAsync(content, "bin");
        var peer = cluster.Storages.Single(s => s != Source(cluster, id));
        Assert.True(await ArrivesAsync(peer, id, content), $"{id} not replicated");
        output.WriteLine($"replicated after {sw.ElapsedMilliseconds} ms with sync_wait_msec = {WaitMs}");
        Assert.True(sw.ElapsedMilliseconds >= WaitMs - 50, $"replicated after {sw.ElapsedMilliseconds} ms, before sync_wait_msec");
    }

    [Fact]
    public async Task A_replayed_create_is_checked_first_same_size_is_skipped_and_a_different_size_is_replaced()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec(), new StorageSpec());
        await using var client = cluster.CreateClient();
        var files = new List<(FileId Id, byte[] Content)>();
        for (int i = 0; i < 12; i++)
        {
            var content = Random(10_000 + (i * 1000), 100 + i);
            files.Add((await client.UploadAsync(content, "bin"), content));
        }

        foreach (var (id, content) in files)
        {
            Assert.True(await ArrivesAsync(cluster.Storages.Single(s => s != Source(cluster, id)), id, content), $"{id} not replicated");
        }

        // Storage A loses its mark for B, so it replays every create it is the source of. Meanwhile B's copies of two
        // of them were damaged (other sizes).
        var a = cluster.Storages[0];
        var b = cluster.Storages[1];
        var fromA = files.Where(f => Source(cluster, f.Id) == a).ToList();
        Assert.True(fromA.Count >= 3, $"only {fromA.Count} files from {a.Ip}");
        Assert.Equal(0, await a.Process!.StopAsync());
        string BPath(FileId id) => Path.Combine(b.StorePaths[0], "data", id.RemoteFileName[4..]);
        var damaged = fromA.Skip(1).Take(2).ToList();
        foreach (var (id, content) in damaged)
        {
            File.WriteAllBytes(BPath(id), content.AsSpan(0, content.Length / 2).ToArray());
        }

        File.Delete(Path.Combine(a.BaseDir, "data", "sync", $"{b.Ip}_{b.Process!.Port}.mark"));

        // A's counters survive the restart (storage_stat.dat, written at stop): what it had sent so far.
        var saved = File.ReadAllLines(Path.Combine(a.BaseDir, "data", "storage_stat.dat"))
            .Select(line => line.Split('='))
            .ToDictionary(kv => kv[0], kv => long.Parse(kv[1], System.Globalization.CultureInfo.InvariantCulture), StringComparer.Ordinal);
        long sentBefore = saved["total_sync_out_bytes"];
        Assert.Equal(sentBefore, saved["success_sync_out_bytes"]);
        await a.RestartAsync();
        await cluster.WaitAllActiveAsync();

        foreach (var (id, content) in damaged)
        {
            Assert.True(await ArrivesAsync(b, id, content), $"{id} not repaired on {b.Ip}:\n{a.Process!.LogTail}");
        }

        foreach (var (id, content) in fromA)
        {
            Assert.True(await HasAsync(b, id, content), $"{id} changed on {b.Ip}");
        }

        // Only the damaged files' content went out again: the others were confirmed by name and size, without content.
        long expected = sentBefore + damaged.Sum(f => (long)f.Content.Length);
        long last = -1;
        bool exact = await StorageProbe.WaitUntilAsync(async () =>
        {
            var me = (await client.ListStoragesAsync("group1")).Single(s => s.Ip == a.Ip).Stats;
            last = me[StatCounter.TotalSyncOutBytes];
            return last == expected && me[StatCounter.SuccessSyncOutBytes] == expected;
        }, TimeSpan.FromSeconds(15), 200);
        Assert.True(exact, $"{a.Ip} sent {last} bytes of content, expected {expected}:\n{a.Process!.LogTail}");
        Assert.True(
            await StorageProbe.WaitUntilAsync(
                () => Task.FromResult(damaged.All(d => a.Process!.LogTail.Contains($"{d.Id.RemoteFileName} exists there with {d.Content.Length / 2} bytes", StringComparison.Ordinal))),
                TimeSpan.FromSeconds(10)),
            $"no size warning for the damaged files:\n{a.Process!.LogTail}");
    }
}
