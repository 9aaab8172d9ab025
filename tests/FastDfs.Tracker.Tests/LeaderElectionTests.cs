using System.Buffers.Binary;
using System.Net;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.Messages;
using FastDfs.Protocol.TrackerState;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastDfs.Tracker.Tests;

/// <summary>Tracker peers, leader election, leader-aware notifications and state copy (protocol notes 3.4, 8.7).</summary>
public sealed class LeaderElectionTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trk-leader-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static ServerAddress At(string ip, int port = 22122) => new(ip, port);

    [Fact]
    public void Election_order_is_leader_then_running_time_then_shorter_restart_then_ip_then_port()
    {
        static int Cmp(TrackerStatus a, string aIp, TrackerStatus b, string bIp, int aPort = 22122, int bPort = 22122) =>
            Math.Sign(LeaderElection.Compare(a, At(aIp, aPort), b, At(bIp, bPort)));

        Assert.Equal(1, Cmp(new(true, 1, 99), "10.0.0.1", new(false, 1000, 0), "10.0.0.9"));
        Assert.Equal(1, Cmp(new(false, 50, 0), "10.0.0.1", new(false, 49, 0), "10.0.0.9"));
        Assert.Equal(1, Cmp(new(false, 50, 5), "10.0.0.1", new(false, 50, 6), "10.0.0.9"));
        Assert.Equal(1, Cmp(new(false, 50, 5), "10.0.0.9", new(false, 50, 5), "10.0.0.1"));
        Assert.Equal(1, Cmp(new(false, 50, 5), "10.0.0.1", new(false, 50, 5), "10.0.0.1", 22123, 22122));
        Assert.Equal(0, Cmp(new(false, 50, 5), "10.0.0.1", new(false, 50, 5), "10.0.0.1"));
    }

    [Fact]
    public void Only_the_leader_notifies_and_a_new_leader_resends_everything()
    {
        var c = new Cluster();
        var a = c.Active("10.0.0.1");
        c.Registry.Beat(a, default);

        // Follower: nothing, and nothing is consumed.
        c.Registry.SetLeader(false, At("10.0.0.100"));
        var b = c.Join("10.0.0.2");
        Assert.True(c.Registry.Beat(a, default).IsEmpty);
        Assert.True(c.Registry.Beat(b, default).IsEmpty);

        // Leader: the leader record once, the member list once per change.
        c.Registry.SetLeader(true, At("10.0.0.200", 22000));
        var first = c.Registry.Beat(a, default);
        Assert.Equal(new StorageBrief(0, 22000, "10.0.0.200", "10.0.0.200"), first.Leader);
        Assert.Equal(["10.0.0.1", "10.0.0.2"], first.GroupStorages!.Select(s => s.Ip));
        Assert.True(c.Registry.Beat(a, default).IsEmpty);

        // Wire form: flags 1|4, the leader record first.
        byte[] wire = first.ToArray();
        Assert.Equal(ChangeNotification.LeaderChanged | ChangeNotification.GroupChanged, wire[0]);
        Assert.Equal(1 + 3 * StorageBrief.Size, wire.Length);
    }

    [Fact]
    public void Merge_adds_unknown_storages_offline_and_keeps_what_storages_reported()
    {
        var leader = new Cluster();
        leader.Active("10.0.0.1");
        leader.Active("10.0.0.2");
        leader.Active("10.0.0.3", group: "group2");
        var state = leader.Registry.ExportState();

        var follower = new Cluster();
        follower.Active("10.0.0.2");
        Assert.Equal(2, follower.Registry.MergeState(state));
        Assert.Equal(StorageStatus.Offline, follower.Registry.GetStatus("group1", "10.0.0.1"));
        Assert.Equal(StorageStatus.Active, follower.Registry.GetStatus("group1", "10.0.0.2"));
        Assert.Equal(StorageStatus.Offline, follower.Registry.GetStatus("group2", "10.0.0.3"));
        Assert.Equal(["10.0.0.1", "10.0.0.2"], follower.Registry.ListStorages("group1", null)!.Select(s => s.Ip));
        Assert.Equal(0, follower.Registry.MergeState(state));
    }

    [Fact]
    public void Peers_are_learned_from_join_lines_saved_and_reloaded()
    {
        var peers = new TrackerPeers(_dir, IPAddress.Parse("127.0.0.61"));
        peers.Start(22122);
        Assert.Equal(At("127.0.0.61"), peers.Self);
        Assert.Empty(peers.Others);

        Assert.True(peers.Learn(["127.0.0.61:22122", "127.0.0.62:22122", "garbage", "127.0.0.63:0", ""]));
        Assert.False(peers.Learn(["127.0.0.62:22122"]));
        Assert.Equal([At("127.0.0.62")], peers.Others);
        Assert.True(peers.IsSelf(At("127.0.0.61")));
        Assert.False(peers.IsSelf(At("127.0.0.62")));

        var again = new TrackerPeers(_dir, IPAddress.Parse("127.0.0.61"));
        again.Start(22122);
        Assert.Equal([At("127.0.0.61"), At("127.0.0.62")], again.All);
    }

    [Fact]
    public void Peers_bound_to_all_interfaces_recognise_themselves_by_local_address()
    {
        var peers = new TrackerPeers(_dir, IPAddress.Any);
        peers.Start(22122);
        Assert.Null(peers.Self);
        peers.Learn(["127.0.0.1:22122", "192.0.2.10:22122", "127.0.0.1:22999"]);
        Assert.Equal(At("127.0.0.1"), peers.Self);
        Assert.Equal([At("127.0.0.1", 22999), At("192.0.2.10")], peers.Others);
    }

    [Fact]
    public void Peers_named_by_host_name_are_recognised_as_self()
    {
        var peers = new TrackerPeers(_dir, IPAddress.Loopback);
        peers.Start(22122);
        peers.Learn(["localhost:22122", "127.0.0.62:22122"]);
        Assert.True(peers.IsSelf(At("localhost")));
        Assert.Equal([At("127.0.0.62")], peers.Others);
    }

    [Fact]
    public void Peers_are_capped_at_sixteen_trackers()
    {
        var peers = new TrackerPeers(_dir, IPAddress.Parse("10.1.0.1"));
        peers.Start(22122);
        peers.Learn(Enumerable.Range(2, 30).Select(i => $"10.1.0.{i}:22122"));
        Assert.Equal(FdfsConstants.MaxTrackers, peers.All.Count);
    }

    private static TrackerService NewService(string dir, string ip) =>
        new(TrackerOptions.FromConfig(FdfsConfigFile.Parse($"port = 0\nbind_addr = {ip}\nbase_path = {dir}\n")), NullLogger<TrackerService>.Instance);

    private static async Task<(byte Status, byte[] Body)> CallAsync(IPEndPoint tracker, TrackerCommand command, byte[]? body = null, string? from = null)
    {
        await using var c = await FdfsConnection.ConnectAsync(tracker.Address.ToString(), tracker.Port, TimeSpan.FromSeconds(5),
            from is null ? null : IPAddress.Parse(from));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        return await c.RoundTripAsync((byte)command, body ?? [], 1 << 20, cts.Token);
    }

    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Two_services_elect_one_leader_and_the_survivor_takes_over()
    {
        var one = NewService(Path.Combine(_dir, "one"), "127.0.0.71");
        var two = NewService(Path.Combine(_dir, "two"), "127.0.0.72");
        var stopped = new List<TrackerService>();
        await one.StartAsync(CancellationToken.None);
        await two.StartAsync(CancellationToken.None);
        try
        {
            // A lone tracker leads itself.
            await WaitAsync(() => one.IsLeader && two.IsLeader, "a lone tracker did not lead itself");
            string[] lines = [one.EndPoint!.ToString(), two.EndPoint!.ToString()];
            var join = Cluster.JoinRequest() with { Trackers = lines };
            foreach (var service in new[] { one, two })
            {
                var (status, _) = await CallAsync(service.EndPoint!, TrackerCommand.StorageJoin, join.ToArray(), "127.0.0.73");
                Assert.Equal(0, status);
            }

            await WaitAsync(() => one.IsLeader != two.IsLeader, "two leaders or none");
            var (leader, follower) = one.IsLeader ? (one, two) : (two, one);
            foreach (var service in new[] { one, two })
            {
                var (status, body) = await CallAsync(service.EndPoint!, TrackerCommand.GetLeader);
                Assert.Equal(0, status);
                Assert.Equal(leader.EndPoint!.ToString(), Encoding.ASCII.GetString(body));
                (status, body) = await CallAsync(service.EndPoint!, TrackerCommand.TrackerGetStatus);
                Assert.Equal(0, status);
                Assert.Equal(service == leader, TrackerStatus.Read(body).IsLeader);
            }

            // Followers refuse follower commands; the leader accepts them.
            var ping = new byte[12];
            Assert.Equal(FdfsErrno.EOPNOTSUPP, (await CallAsync(follower.EndPoint!, TrackerCommand.TrackerPingLeader, ping)).Status);
            Assert.Equal(0, (await CallAsync(leader.EndPoint!, TrackerCommand.TrackerPingLeader, ping)).Status);
            Assert.Equal(FdfsErrno.EOPNOTSUPP, (await CallAsync(follower.EndPoint!, TrackerCommand.TrackerNotifyReselectLeader)).Status);
            Assert.Equal(FdfsErrno.EINVAL, (await CallAsync(leader.EndPoint!, TrackerCommand.TrackerPingLeader, new byte[5])).Status);

            await leader.StopAsync(CancellationToken.None);
            await leader.DisposeAsync();
            stopped.Add(leader);
            await WaitAsync(() => follower.IsLeader, "the survivor did not take over");
        }
        finally
        {
            foreach (var service in new[] { one, two }.Except(stopped))
            {
                await service.StopAsync(CancellationToken.None);
                await service.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Sys_files_serve_the_state_in_chunks_and_refuse_bad_requests()
    {
        var service = NewService(_dir, "127.0.0.81");
        await service.StartAsync(CancellationToken.None);
        try
        {
            var ep = service.EndPoint!;
            Assert.Equal(FdfsErrno.ENOENT, (await CallAsync(ep, TrackerCommand.GetSysFilesStart)).Status);
            Assert.Equal(0, (await CallAsync(ep, TrackerCommand.StorageJoin, Cluster.JoinRequest("grp9").ToArray(), "127.0.0.82")).Status);

            await using var c = await FdfsConnection.ConnectAsync(ep.Address.ToString(), ep.Port, TimeSpan.FromSeconds(5));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var (status, _) = await c.RoundTripAsync((byte)TrackerCommand.GetSysFilesStart, Array.Empty<byte>(), 100, cts.Token);
            Assert.Equal(0, status);
            (status, var body) = await c.RoundTripAsync((byte)TrackerCommand.GetOneSysFile, SysFileChunk.Request(0, 0), 1 << 20, cts.Token);
            Assert.Equal(0, status);
            long size = BinaryPrimitives.ReadInt64BigEndian(body);
            Assert.Equal(size, body.Length - 8);
            Assert.Equal("grp9", Assert.Single(TrackerGroupsFile.Parse(Encoding.UTF8.GetString(body.AsSpan(8)))).Name);

            // File 1 is storage_servers_new.dat, file 2 the sync timestamps (one row, one column), file 3 the changelog.
            (status, var servers) = await c.RoundTripAsync((byte)TrackerCommand.GetOneSysFile, SysFileChunk.Request(1, 0), 1 << 20, cts.Token);
            Assert.Equal(0, status);
            Assert.Equal("127.0.0.82", Assert.Single(TrackerServersFile.Parse(Encoding.UTF8.GetString(servers.AsSpan(8)))).IpAddr);
            (status, var sync) = await c.RoundTripAsync((byte)TrackerCommand.GetOneSysFile, SysFileChunk.Request(2, 0), 1 << 20, cts.Token);
            Assert.Equal("grp9,127.0.0.82,0\n", Encoding.UTF8.GetString(sync.AsSpan(8)));
            (status, var changelog) = await c.RoundTripAsync((byte)TrackerCommand.GetOneSysFile, SysFileChunk.Request(3, 0), 1 << 20, cts.Token);
            Assert.Equal((0, 8), (status, changelog.Length));

            (status, body) = await c.RoundTripAsync((byte)TrackerCommand.GetOneSysFile, SysFileChunk.Request(0, 10), 1 << 20, cts.Token);
            Assert.Equal((0, size - 10), (status, (long)body.Length - 8));
            Assert.Equal(FdfsErrno.EINVAL, (await c.RoundTripAsync((byte)TrackerCommand.GetOneSysFile, SysFileChunk.Request(0, size + 1), 100, cts.Token)).Status);
            Assert.Equal(FdfsErrno.EINVAL, (await c.RoundTripAsync((byte)TrackerCommand.GetOneSysFile, SysFileChunk.Request(4, 0), 100, cts.Token)).Status);
            Assert.Equal(FdfsErrno.EINVAL, (await c.RoundTripAsync((byte)TrackerCommand.GetOneSysFile, SysFileChunk.Request(7, 0), 100, cts.Token)).Status);
            Assert.Equal(FdfsErrno.EINVAL, (await c.RoundTripAsync((byte)TrackerCommand.GetOneSysFile, new byte[3], 100, cts.Token)).Status);
            Assert.Equal(0, (await c.RoundTripAsync((byte)TrackerCommand.GetSysFilesEnd, Array.Empty<byte>(), 100, cts.Token)).Status);

            // Leader changes with a bad address body are refused, the connection stays usable.
            Assert.Equal(FdfsErrno.EINVAL, (await c.RoundTripAsync((byte)TrackerCommand.TrackerNotifyNextLeader, new byte[LeaderAddressBody.Size], 100, cts.Token)).Status);
            Assert.Equal(FdfsErrno.EINVAL, (await c.RoundTripAsync((byte)TrackerCommand.TrackerCommitNextLeader, LeaderAddressBody.ToArray(At("127.0.0.99")), 100, cts.Token)).Status);
            Assert.Equal(0, (await c.RoundTripAsync((byte)TrackerCommand.ActiveTest, Array.Empty<byte>(), 100, cts.Token)).Status);
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
            await service.DisposeAsync();
        }
    }
}
