using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;
using Xunit.Abstractions;

namespace FastDfs.Integration.Tests;

/// <summary>Several trackers (protocol notes 8.7): one leader, leader loss, failover under load, a late tracker, restarts.</summary>
public sealed class MultiTrackerTests(ITestOutputHelper output)
{
    private static readonly TimeSpan ElectionTimeout = TimeSpan.FromSeconds(40);

    /// <summary>A cluster of two trackers (the second is an extra <see cref="TrackerNode"/>) and storages listing both.</summary>
    private static async Task<(Cluster Cluster, TrackerNode Second)> StartTwoTrackersAsync(string storageExtra = "", int storages = 2)
    {
        var cluster = await Cluster.StartAsync();
        try
        {
            var second = await cluster.AddTrackerAsync();
            for (int i = 0; i < storages; i++)
            {
                await cluster.AddStorageAsync(new StorageSpec("group1", Extra: storageExtra));
            }

            await cluster.WaitAllActiveAsync();
            await cluster.WaitAllActiveAsync(tracker: second.Endpoint);
            return (cluster, second);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private static async Task<(byte Status, byte[] Body)> RequestAsync(string endpoint, TrackerCommand command)
    {
        int colon = endpoint.LastIndexOf(':');
        await using var c = await FdfsConnection.ConnectAsync(endpoint[..colon], int.Parse(endpoint[(colon + 1)..], CultureInfo.InvariantCulture), TimeSpan.FromSeconds(5));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        return await c.RoundTripAsync((byte)command, ReadOnlyMemory<byte>.Empty, 4096, cts.Token);
    }

    private static async Task<TrackerStatus?> StatusAsync(string endpoint)
    {
        try
        {
            var (status, body) = await RequestAsync(endpoint, TrackerCommand.TrackerGetStatus);
            return status == 0 ? TrackerStatus.Read(body) : null;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException or OperationCanceledException)
        {
            return null;
        }
    }

    private static async Task<string?> LeaderAsync(string endpoint)
    {
        var (status, body) = await RequestAsync(endpoint, TrackerCommand.GetLeader);
        return status == 0 ? Encoding.ASCII.GetString(body) : null;
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException(describe());
    }

    /// <summary>Waits until exactly one of the running trackers leads and every running one names it; returns it.</summary>
    private static async Task<string> WaitSingleLeaderAsync(IReadOnlyList<string> endpoints, Func<string> logs)
    {
        string? leader = null;
        string last = "";
        await WaitForAsync(
            async () =>
            {
                var statuses = new List<(string Endpoint, TrackerStatus? Status)>();
                foreach (string e in endpoints)
                {
                    statuses.Add((e, await StatusAsync(e)));
                }

                var leaders = statuses.Where(s => s.Status is { IsLeader: true }).Select(s => s.Endpoint).ToList();
                var named = new List<string?>();
                foreach (string e in endpoints)
                {
                    named.Add(await LeaderAsync(e));
                }

                last = $"leaders by status: [{string.Join(", ", leaders)}], named: [{string.Join(", ", named)}]";
                if (leaders.Count == 1 && named.All(n => n == leaders[0]))
                {
                    leader = leaders[0];
                    return true;
                }

                return false;
            },
            ElectionTimeout,
            () => $"no single leader: {last}\n{logs()}");
        return leader!;
    }

    private static string Logs(Cluster cluster, TrackerNode second) =>
        $"tracker 1 log:\n{cluster.Tracker?.LogTail}\ntracker 2 log:\n{second.Process?.LogTail}";

    [Fact]
    public async Task Two_trackers_list_the_same_storages_and_agree_on_one_leader()
    {
        var (cluster, second) = await StartTwoTrackersAsync();
        await using var _ = cluster;
        string[] endpoints = [cluster.TrackerEndpoint, second.Endpoint];
        foreach (string endpoint in endpoints)
        {
            await using var client = Cluster.CreateClientFor(null, endpoint);
            Assert.Equal(["group1"], (await client.ListGroupsAsync()).Select(g => g.Name));
            var listed = (await client.ListStoragesAsync("group1")).Select(s => (s.Ip, s.Status)).OrderBy(s => s.Ip, StringComparer.Ordinal);
            Assert.Equal(cluster.Storages.Select(s => (s.Ip, StorageStatus.Active)).OrderBy(s => s.Ip, StringComparer.Ordinal), listed);
        }

        string leader = await WaitSingleLeaderAsync(endpoints, () => Logs(cluster, second));
        output.WriteLine($"leader: {leader}");

        // Both trackers answer client queries, leader or not.
        foreach (string endpoint in endpoints)
        {
            await using var client = Cluster.CreateClientFor(null, endpoint);
            byte[] data = RandomNumberGenerator.GetBytes(1000);
            var id = await client.UploadAsync(data, "bin");
            Assert.Equal(data, await client.DownloadBytesAsync(id));
        }
    }

    [Fact]
    public async Task Killing_the_leader_makes_the_other_leader_and_notifications_keep_flowing()
    {
        var (cluster, second) = await StartTwoTrackersAsync();
        await using var _ = cluster;
        string[] endpoints = [cluster.TrackerEndpoint, second.Endpoint];
        string leader = await WaitSingleLeaderAsync(endpoints, () => Logs(cluster, second));
        string survivor = endpoints.Single(e => e != leader);
        var sw = Stopwatch.StartNew();
        if (leader == cluster.TrackerEndpoint)
        {
            await cluster.Tracker!.KillHardAsync();
        }
        else
        {
            await second.KillHardAsync();
        }

        await WaitSingleLeaderAsync([survivor], () => Logs(cluster, second));
        output.WriteLine($"leader {leader} killed; {survivor} leads after {sw.Elapsed.TotalSeconds:0.0} s");

        // The new leader tells every storage (notification bit 1 with its address); the storages log what they learn.
        string learned = $"the tracker leader is {survivor}";
        await WaitForAsync(
            () => Task.FromResult(cluster.Storages.All(s => s.Process!.LogTail.Contains(learned, StringComparison.Ordinal))),
            TimeSpan.FromSeconds(20),
            () => $"storages did not hear of leader {survivor}:\n{cluster.Storages[0].Process!.LogTail}");
        output.WriteLine($"storages notified after {sw.Elapsed.TotalSeconds:0.0} s");

        await using var client = Cluster.CreateClientFor(null, survivor);
        var id = await client.UploadAsync(RandomNumberGenerator.GetBytes(100), "bin");
        Assert.Equal(100, (await client.DownloadBytesAsync(id)).Length);
    }

    [Fact]
    public async Task Uploads_continue_through_the_other_tracker_when_the_leader_is_killed()
    {
        var (cluster, second) = await StartTwoTrackersAsync();
        await using var _ = cluster;

        // Kill the leader: the worst case, the survivor also has to take over the leadership meanwhile.
        string leader = await WaitSingleLeaderAsync([cluster.TrackerEndpoint, second.Endpoint], () => Logs(cluster, second));
        await using var client = Cluster.CreateClientFor(TimeSpan.FromSeconds(10), cluster.TrackerEndpoint, second.Endpoint);
        byte[] data = RandomNumberGenerator.GetBytes(4096);
        int ok = 0, failed = 0;
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await client.UploadAsync(data, "bin");
                    Interlocked.Increment(ref ok);
                }
                catch (FdfsException e)
                {
                    Interlocked.Increment(ref failed);
                    errors.Enqueue(e.Message);
                }
            }
        })).ToArray();

        await WaitForAsync(() => Task.FromResult(Volatile.Read(ref ok) >= 100), TimeSpan.FromSeconds(30), () => "load did not start");
        int beforeKill = Volatile.Read(ref ok);
        await (leader == cluster.TrackerEndpoint ? cluster.Tracker! : second.Process!).KillHardAsync();
        await WaitForAsync(() => Task.FromResult(Volatile.Read(ref ok) >= beforeKill + 500), TimeSpan.FromSeconds(60), () => $"load stalled at {ok}, {failed} failed");
        await stop.CancelAsync();
        await Task.WhenAll(workers);
        output.WriteLine($"uploads: {ok} ok ({beforeKill} before the kill), {failed} failed: {string.Join(" | ", errors.Take(5))}");

        // Tracker queries are retried on the other tracker and storages are untouched: nothing may fail.
        Assert.Equal(0, failed);
    }

    [Fact]
    public async Task A_tracker_started_later_copies_the_cluster_and_serves_it()
    {
        await using var cluster = await Cluster.StartAsync();
        var late = await cluster.AddTrackerAsync(start: false);
        foreach (int _ in Enumerable.Range(0, 3))
        {
            await cluster.AddStorageAsync(new StorageSpec("group1"));
        }

        await cluster.WaitAllActiveAsync();

        // A storage that is down when the late tracker starts: only the leader's state can tell it about this one.
        var gone = cluster.Storages[2];
        Assert.Equal(0, await gone.Process!.StopAsync());
        await late.StartAsync();
        await using var client = Cluster.CreateClientFor(null, late.Endpoint);
        await WaitForAsync(
            async () =>
            {
                try
                {
                    var listed = await client.ListStoragesAsync("group1");
                    return listed.Count == 3
                        && listed.Count(s => s.Status == StorageStatus.Active) == 2
                        && listed.Single(s => s.Ip == gone.Ip).Status == StorageStatus.Offline;
                }
                catch (FdfsException)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(40),
            () => $"late tracker did not learn the cluster:\n{late.Process!.LogTail}");

        // The console log is written asynchronously: the line may trail the state it reports.
        await WaitForAsync(
            () => Task.FromResult(late.Process!.LogTail.Contains("copied cluster state from leader", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10),
            () => $"no state copy logged:\n{late.Process!.LogTail}");

        // What it copied (FastDFS's four files, read through GET_ONE_SYS_FILE) it saves in the same format.
        string servers = Path.Combine(late.Dir, "data", Protocol.TrackerState.TrackerSysFiles.ServersFileName);
        await WaitForAsync(
            () => Task.FromResult(File.Exists(servers)
                && Protocol.TrackerState.TrackerServersFile.Parse(File.ReadAllText(servers)).Select(s => s.IpAddr).Order().SequenceEqual(cluster.Storages.Select(s => s.Ip).Order())),
            TimeSpan.FromSeconds(10),
            () => $"late tracker did not save the copied state:\n{(File.Exists(servers) ? File.ReadAllText(servers) : "(none)")}");

        byte[] data = RandomNumberGenerator.GetBytes(3000);
        var id = await client.UploadAsync(data, "bin");
        Assert.Equal(data, await client.DownloadBytesAsync(id));
        await WaitSingleLeaderAsync([cluster.TrackerEndpoint, late.Endpoint], () => Logs(cluster, late));
    }

    [Fact]
    public async Task Restarting_both_trackers_keeps_groups_and_storages()
    {
        var (cluster, second) = await StartTwoTrackersAsync();
        await using var _ = cluster;
        Assert.Equal(0, await cluster.Tracker!.StopAsync());
        Assert.Equal(0, await second.Process!.StopAsync());
        await cluster.RestartTrackerAsync();
        await second.RestartAsync();
        string[] endpoints = [cluster.TrackerEndpoint, second.Endpoint];
        foreach (string endpoint in endpoints)
        {
            await using var client = Cluster.CreateClientFor(null, endpoint);
            Assert.Equal(["group1"], (await client.ListGroupsAsync()).Select(g => g.Name));
            Assert.Equal(2, (await client.ListStoragesAsync("group1")).Count);
        }

        await cluster.WaitAllActiveAsync();
        await cluster.WaitAllActiveAsync(tracker: second.Endpoint);
        await WaitSingleLeaderAsync(endpoints, () => Logs(cluster, second));
    }
}
