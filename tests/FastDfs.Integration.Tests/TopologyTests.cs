using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;
using Xunit.Abstractions;

namespace FastDfs.Integration.Tests;

/// <summary>
/// The topology of issue 3: two trackers and two groups of two storages on loopback. Tracker 1 uses
/// store_lookup 0 (round robin over groups), tracker 2 store_lookup 2 (most free space); group2's storages have two
/// store paths each, so group2 reports twice group1's free space and tracker 2 always picks it.
/// </summary>
public sealed class TopologyCluster : IAsyncLifetime
{
    public Cluster Cluster { get; private set; } = null!;

    public TrackerNode Second { get; private set; } = null!;

    public IReadOnlyList<StorageNode> Group(string name) => [.. Cluster.Storages.Where(s => s.Group == name)];

    public async Task InitializeAsync()
    {
        Cluster = await Cluster.StartAsync();
        try
        {
            Second = await Cluster.AddTrackerAsync(extraConfig: "store_lookup = 2");
            foreach (var spec in new StorageSpec[] { new("group1"), new("group1"), new("group2", StorePaths: 2), new("group2", StorePaths: 2) })
            {
                await Cluster.AddStorageAsync(spec);
            }

            await WaitHealthyAsync();
        }
        catch
        {
            await Cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Every storage ACTIVE on both trackers (tests that stop something restore this before they end).</summary>
    public async Task WaitHealthyAsync()
    {
        await Cluster.WaitAllActiveAsync();
        await Cluster.WaitAllActiveAsync(tracker: Second.Endpoint);
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

public sealed class TopologyTests(TopologyCluster fixture, ITestOutputHelper output) : IClassFixture<TopologyCluster>
{
    private static readonly TimeSpan SyncTimeout = TimeSpan.FromSeconds(30);

    private Cluster Cluster => fixture.Cluster;

    private static byte[] Random(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task AssertOnAsync(IEnumerable<StorageNode> nodes, FileId fileId, byte[] expected)
    {
        foreach (var node in nodes)
        {
            await using var probe = await StorageProbe.ConnectAsync(node.Endpoint);
            byte[]? last = null;
            bool same = await StorageProbe.WaitUntilAsync(async () =>
            {
                last = await probe.DownloadAsync(fileId);
                return last is not null && last.AsSpan().SequenceEqual(expected);
            }, SyncTimeout);
            Assert.True(same, $"{fileId} on {node.Ip} ({node.Group}): {(last is null ? "missing" : $"{last.Length} bytes, crc32 {Crc32.HashToUInt32(last):x8}")}, expected {expected.Length} bytes, crc32 {Crc32.HashToUInt32(expected):x8}");
        }
    }

    private static async Task AssertGoneAsync(IEnumerable<StorageNode> nodes, FileId fileId)
    {
        foreach (var node in nodes)
        {
            await using var probe = await StorageProbe.ConnectAsync(node.Endpoint);
            Assert.True(
                await StorageProbe.WaitUntilAsync(async () => await probe.ExistsStatusAsync(fileId) == FdfsErrno.ENOENT, SyncTimeout),
                $"{fileId} still on {node.Ip}");
        }
    }

    private static async Task AssertMetadataAsync(IEnumerable<StorageNode> nodes, FileId fileId, params string[] pairs)
    {
        foreach (var node in nodes)
        {
            await using var probe = await StorageProbe.ConnectAsync(node.Endpoint);
            string? meta = null;
            Assert.True(await StorageProbe.WaitUntilAsync(async () =>
            {
                var raw = await probe.GetMetadataAsync(fileId);
                meta = raw is null ? null : Encoding.UTF8.GetString(raw);
                return meta is not null && pairs.All(p => meta.Contains(p.Replace('=', '\u0002'), StringComparison.Ordinal));
            }, SyncTimeout), $"metadata of {fileId} on {node.Ip}: {meta?.Replace('\u0001', ';').Replace('\u0002', '=')}");
        }
    }

    /// <summary>Where a file of <paramref name="fileId"/> would lie on <paramref name="node"/>'s disk (null: no such store path).</summary>
    private static string? LocalPath(StorageNode node, FileId fileId)
    {
        string remote = fileId.RemoteFileName;
        int index = int.Parse(remote.AsSpan(1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        return index < node.StorePaths.Count ? Path.Combine(node.StorePaths[index], "data", remote[4..]) : null;
    }

    [Fact]
    public async Task Every_change_type_replicates_inside_each_group()
    {
        await using var client = Cluster.CreateClient();
        foreach (string group in new[] { "group1", "group2" })
        {
            var members = fixture.Group(group);
            int seed = group == "group1" ? 0 : 1000;

            // Creates: several, so both storages of the group are a source (round robin inside the group).
            var files = new List<(FileId Id, byte[] Content)>();
            for (int i = 0; i < 4; i++)
            {
                var content = Random(1000 + (i * 7000), seed + i);
                var id = await client.UploadAsync(content, "bin", group: group);
                Assert.Equal(group, id.Group);
                files.Add((id, content));
            }

            Assert.Equal(2, files.Select(f => f.Id.RemoteFileName).Select(r => FileNames.TryDecode(r, out var info) ? info.Source : "?").Distinct().Count());
            foreach (var (id, content) in files)
            {
                await AssertOnAsync(members, id, content);
            }

            // Slave upload.
            var slaveContent = Random(5000, seed + 100);
            var slave = await client.UploadSlaveAsync(files[0].Id, "_small", "jpg", slaveContent);
            await AssertOnAsync(members, slave, slaveContent);

            // Metadata: overwrite (O), then merge (M).
            await client.SetMetadataAsync(files[1].Id, new Dictionary<string, string> { ["width"] = "100", ["height"] = "200" }, MetadataFlag.Overwrite);
            await client.SetMetadataAsync(files[1].Id, new Dictionary<string, string> { ["height"] = "300", ["color"] = "red" }, MetadataFlag.Merge);
            await AssertMetadataAsync(members, files[1].Id, "width=100", "height=300", "color=red");

            // Delete.
            await client.DeleteAsync(files[2].Id);
            await AssertGoneAsync(members, files[2].Id);

            // Appender: append, modify, truncate.
            var appended = Random(3000, seed + 7).ToList();
            var appender = await client.UploadAppenderAsync(appended.ToArray(), "log", group: group);
            var more = Random(2000, seed + 8);
            await client.AppendAsync(appender, more);
            appended.AddRange(more);
            var patch = Random(500, seed + 9);
            await client.ModifyAsync(appender, 1000, patch);
            patch.CopyTo(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(appended)[1000..]);
            await AssertOnAsync(members, appender, [.. appended]);
            await client.TruncateAsync(appender, 4200);
            await AssertOnAsync(members, appender, [.. appended.Take(4200)]);

            // Nothing of this group reached the other group's storages.
            var others = Cluster.Storages.Where(s => s.Group != group).ToList();
            foreach (var id in files.Select(f => f.Id).Append(slave).Append(appender))
            {
                Assert.All(others, other => Assert.False(LocalPath(other, id) is { } p && File.Exists(p), $"{id} found on {other.Ip} ({other.Group})"));
            }
        }
    }

    [Fact]
    public async Task Uploads_spread_over_both_groups_by_round_robin_and_go_to_the_freest_group_with_store_lookup_2()
    {
        // Tracker 1: store_lookup 0 alternates between the groups.
        await using (var client = Cluster.CreateClientFor(null, Cluster.TrackerEndpoint))
        {
            var ids = new List<FileId>();
            for (int i = 0; i < 8; i++)
            {
                ids.Add(await client.UploadAsync(Random(2000, 300 + i), "bin"));
            }

            var perGroup = ids.GroupBy(id => id.Group).ToDictionary(g => g.Key, g => g.Count());
            output.WriteLine("store_lookup 0: " + string.Join(", ", perGroup.Select(p => $"{p.Key}={p.Value}")));
            Assert.Equal(4, perGroup.GetValueOrDefault("group1"));
            Assert.Equal(4, perGroup.GetValueOrDefault("group2"));

            // Each file is on both storages of its group and on no storage of the other group.
            foreach (var id in ids)
            {
                var members = fixture.Group(id.Group);
                await AssertOnAsync(members, id, Random(2000, 300 + ids.IndexOf(id)));
                Assert.All(Cluster.Storages.Except(members), other => Assert.False(LocalPath(other, id) is { } p && File.Exists(p), $"{id} found on {other.Ip}"));
            }
        }

        // Tracker 2: store_lookup 2 picks the group with most free space: group2 (two store paths on the same disk).
        await using (var client = Cluster.CreateClientFor(null, fixture.Second.Endpoint))
        {
            Assert.True(await StorageProbe.WaitUntilAsync(async () =>
            {
                var groups = await client.ListGroupsAsync();
                return groups.Count == 2 && groups.All(g => g.TotalMb > 0);
            }, TimeSpan.FromSeconds(20)), "no disk reports on tracker 2");
            var groupsChosen = new List<string>();
            for (int i = 0; i < 6; i++)
            {
                groupsChosen.Add((await client.UploadAsync(Random(100, i), "bin")).Group);
            }

            Assert.All(groupsChosen, g => Assert.Equal("group2", g));
        }
    }

    [Fact]
    public async Task Sync_traffic_counters_cover_the_replicated_bytes_on_sender_and_receiver()
    {
        await using var client = Cluster.CreateClient();
        var group = fixture.Group("group1");
        const int Size = 50_000;
        var bySource = group.ToDictionary(n => n.Ip, _ => 0L);
        for (int i = 0; i < 10; i++)
        {
            var content = Random(Size, 500 + i);
            var id = await client.UploadAsync(content, "bin", group: "group1");
            Assert.True(FileNames.TryDecode(id.RemoteFileName, out var info));
            bySource[info.Source] += Size;
            await AssertOnAsync(group, id, content);
        }

        // Counters are cumulative (other tests of the class add to them): each storage sent at least what it is the
        // source of, and its peer received at least that. They reach the tracker with the next beat.
        string last = string.Empty;
        bool ok = await StorageProbe.WaitUntilAsync(async () =>
        {
            var listed = await client.ListStoragesAsync("group1");
            var sb = new StringBuilder();
            bool all = true;
            foreach (var node in group)
            {
                var me = listed.Single(s => s.Ip == node.Ip).Stats;
                var peer = listed.Single(s => s.Ip != node.Ip && group.Any(g => g.Ip == s.Ip)).Stats;
                long sent = bySource[node.Ip];
                sb.Append(CultureInfo.InvariantCulture,
                    $"{node.Ip}: sent {sent}, out {me[StatCounter.SuccessSyncOutBytes]}/{me[StatCounter.TotalSyncOutBytes]}, peer in {peer[StatCounter.SuccessSyncInBytes]}/{peer[StatCounter.TotalSyncInBytes]}; ");
                all &= me[StatCounter.SuccessSyncOutBytes] >= sent && me[StatCounter.TotalSyncOutBytes] >= me[StatCounter.SuccessSyncOutBytes]
                    && peer[StatCounter.SuccessSyncInBytes] >= sent && peer[StatCounter.TotalSyncInBytes] >= peer[StatCounter.SuccessSyncInBytes];
            }

            last = sb.ToString();
            return all;
        }, TimeSpan.FromSeconds(20), 200);
        output.WriteLine(last);
        Assert.True(ok, last);

        // fdfs storages shows them (fdfs_monitor's sync in / sync out rows).
        var (code, stdout, stderr) = await FdfsCli.RunAsync(Cluster.TrackerEndpoint, "storages", "-g", "group1");
        Assert.True(code == 0, stderr);
        var rows = stdout.Split('\n').Where(l => l.TrimStart().StartsWith("sync in", StringComparison.Ordinal) || l.TrimStart().StartsWith("sync out", StringComparison.Ordinal)).ToList();
        output.WriteLine(string.Join("\n", rows));
        Assert.Equal(4, rows.Count);
        Assert.All(rows, r => Assert.Matches(@"sync (in|out)\s+[1-9]", r));
    }

    [Fact]
    public async Task Kill_9_of_a_tracker_under_load_clients_and_storages_continue_and_it_returns_knowing_the_cluster()
    {
        await using var client = Cluster.CreateClientFor(TimeSpan.FromSeconds(10), Cluster.TrackerEndpoint, fixture.Second.Endpoint);
        var uploaded = new ConcurrentQueue<(FileId Id, byte[] Content, bool AfterKill)>();
        var errors = new ConcurrentQueue<string>();
        int killed = 0;
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                var content = Random(2048, (w * 100_000) + i);
                try
                {
                    bool after = Volatile.Read(ref killed) == 1;
                    uploaded.Enqueue((await client.UploadAsync(content, "bin"), content, after));
                }
                catch (Exception e) when (e is FdfsException or IOException)
                {
                    errors.Enqueue(e.Message);
                }
            }
        })).ToArray();

        try
        {
            Assert.True(await StorageProbe.WaitUntilAsync(() => Task.FromResult(uploaded.Count >= 40), TimeSpan.FromSeconds(30)), "load did not start");
            await Cluster.Tracker!.KillHardAsync();
            Volatile.Write(ref killed, 1);
            Assert.True(
                await StorageProbe.WaitUntilAsync(() => Task.FromResult(uploaded.Count(u => u.AfterKill) >= 200), TimeSpan.FromSeconds(60)),
                $"load stalled after the kill: {uploaded.Count} ok, errors: {string.Join(" | ", errors.Take(5))}");
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(workers);
        }

        output.WriteLine($"{uploaded.Count} uploads, {uploaded.Count(u => u.AfterKill)} after the kill, {errors.Count} failed");
        Assert.True(errors.IsEmpty, string.Join(" | ", errors.Take(5)));

        // Storages kept replicating without tracker 1: a sample of the files uploaded after the kill is on both storages of its group.
        var after = uploaded.Where(u => u.AfterKill).ToList();
        foreach (var (id, content, _) in after.Where((_, i) => i % 25 == 0))
        {
            await AssertOnAsync(fixture.Group(id.Group), id, content);
        }

        // Tracker 1 returns on its address and learns the cluster again: every storage ACTIVE there, and it serves
        // files uploaded while it was down.
        await Cluster.RestartTrackerAsync(hard: true);
        await fixture.WaitHealthyAsync();
        await using var first = Cluster.CreateClientFor(null, Cluster.TrackerEndpoint);
        Assert.Equal(["group1", "group2"], (await first.ListGroupsAsync()).Select(g => g.Name).Order(StringComparer.Ordinal));
        foreach (var (id, content, _) in after.Where((_, i) => i % 50 == 0))
        {
            Assert.Equal(content, await first.DownloadBytesAsync(id));
        }

        // Both trackers name the same leader again.
        string last = string.Empty;
        Assert.True(await StorageProbe.WaitUntilAsync(async () =>
        {
            var leaders = new[] { await LeaderAsync(Cluster.TrackerEndpoint), await LeaderAsync(fixture.Second.Endpoint) };
            last = string.Join(", ", leaders);
            return leaders[0] is not null && leaders[0] == leaders[1];
        }, TimeSpan.FromSeconds(40), 200), $"trackers disagree on the leader: {last}");
    }

    private static async Task<string?> LeaderAsync(string endpoint)
    {
        int colon = endpoint.LastIndexOf(':');
        try
        {
            await using var c = await FdfsConnection.ConnectAsync(endpoint[..colon], int.Parse(endpoint[(colon + 1)..], CultureInfo.InvariantCulture), TimeSpan.FromSeconds(5));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var (status, body) = await c.RoundTripAsync((byte)TrackerCommand.GetLeader, ReadOnlyMemory<byte>.Empty, 4096, cts.Token);
            return status == 0 ? Encoding.ASCII.GetString(body) : null;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            return null;
        }
    }

    [Fact]
    public async Task A_group2_storage_killed_and_restarted_catches_up()
    {
        await using var client = Cluster.CreateClient();
        var group = fixture.Group("group2");
        var before = new List<(FileId Id, byte[] Content)>();
        for (int i = 0; i < 4; i++)
        {
            var content = Random(3000, 700 + i);
            before.Add((await client.UploadAsync(content, "bin", group: "group2"), content));
        }

        foreach (var (id, content) in before)
        {
            await AssertOnAsync(group, id, content);
        }

        var down = group[1];
        var up = group[0];
        await down.KillHardAsync();
        Assert.True(await StorageProbe.WaitUntilAsync(async () =>
        {
            var listed = await client.ListStoragesAsync("group2");
            return listed.Single(s => s.Ip == down.Ip).Status != StorageStatus.Active;
        }, TimeSpan.FromSeconds(30)), "the tracker still lists the killed storage ACTIVE");

        // Changes while it is down: creates, a delete and metadata of files it has, an appender append.
        var during = new List<(FileId Id, byte[] Content)>();
        for (int i = 0; i < 12; i++)
        {
            var content = Random(1000 + (i * 1500), 800 + i);
            during.Add((await client.UploadAsync(content, "bin", group: "group2"), content));
        }

        Assert.All(during, d => Assert.True(FileNames.TryDecode(d.Id.RemoteFileName, out var info) && info.Source == up.Ip, $"{d.Id} not from {up.Ip}"));
        await client.DeleteAsync(before[0].Id);
        await client.SetMetadataAsync(before[1].Id, new Dictionary<string, string> { ["state"] = "changed-while-down" }, MetadataFlag.Overwrite);

        await down.RestartAsync();
        await fixture.WaitHealthyAsync();
        foreach (var (id, content) in during)
        {
            await AssertOnAsync([down], id, content);
        }

        await AssertGoneAsync([down], before[0].Id);
        await AssertMetadataAsync([down], before[1].Id, "state=changed-while-down");
        await AssertOnAsync([down], before[2].Id, before[2].Content);
    }
}
