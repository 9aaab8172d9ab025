using System.Buffers.Binary;
using System.Net;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastDfs.Tracker.Tests;

/// <summary>The handler under <see cref="FdfsServer"/> on loopback, driven over real sockets.</summary>
public sealed class ProtocolTests : IAsyncLifetime
{
    private const string TrackerIp = "127.0.0.31";
    private const string StorageIp = "127.0.0.32";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private readonly ClusterRegistry _registry = new(new TrackerOptions
    {
        BasePath = "/tmp",
        StoreLookup = StoreLookup.LoadBalance,
        ReservedStorageSpace = ReservedSpace.FromPercent(10),
    });

    private FdfsServer _server = null!;

    public Task InitializeAsync()
    {
        _server = new FdfsServer(new IPEndPoint(IPAddress.Parse(TrackerIp), 0), new TrackerRequestHandler(_registry), NullLogger.Instance);
        _server.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private Task<FdfsConnection> ConnectAsync(string? from = null) =>
        FdfsConnection.ConnectAsync(TrackerIp, _server.EndPoint.Port, Timeout, from is null ? null : IPAddress.Parse(from)).AsTask();

    private static async Task<(byte Status, byte[] Body)> CallAsync(FdfsConnection c, TrackerCommand command, byte[]? body = null)
    {
        using var cts = new CancellationTokenSource(Timeout);
        return await c.RoundTripAsync((byte)command, body ?? [], 1 << 20, cts.Token);
    }

    private static byte[] Group(string name) => Cluster.Field(name);

    /// <summary>Joins as a storage with two paths and brings it to ACTIVE with stats and disk usage.</summary>
    private static async Task<FdfsConnection> JoinActiveAsync(FdfsConnection s, StorageStats? stats = null)
    {
        var join = Cluster.JoinRequest(init: true);
        var (status, body) = await CallAsync(s, TrackerCommand.StorageJoin, join.ToArray());
        Assert.Equal(0, status);
        var joined = StorageJoinResponse.Read(body);
        Assert.Equal(StorageStatus.Init, joined.Status);

        (status, body) = await CallAsync(s, TrackerCommand.StorageSyncDestReq);
        Assert.Equal(0, status);
        Assert.Empty(body); // first storage of the group: nothing to copy

        (status, body) = await CallAsync(s, TrackerCommand.StorageBeat, (stats ?? new StorageStats()).ToArray());
        Assert.Equal(0, status);
        var change = ChangeNotification.Read(body);
        var me = Assert.Single(change.GroupStorages!);
        Assert.Equal(StorageIp, me.Ip);
        Assert.Equal(StorageStatus.Active, me.Status);

        (status, body) = await CallAsync(s, TrackerCommand.StorageReportDiskUsage, DiskUsageReport.Encode([(1000, 300), (1000, 700)]));
        Assert.Equal(0, status);
        Assert.Empty(body);
        return s;
    }

    [Fact]
    public async Task Storage_joins_and_client_queries_and_lists()
    {
        await using var storage = await ConnectAsync(StorageIp);
        var stats = new StorageStats { ConnectionCurrentCount = 3 };
        stats[StatCounter.SuccessUploadCount] = 77;
        await JoinActiveAsync(storage, stats);

        await using var client = await ConnectAsync();
        var (status, body) = await CallAsync(client, TrackerCommand.QueryStoreWithoutGroupOne);
        Assert.Equal(0, status);
        Assert.Equal(40, body.Length);
        var target = StoreTarget.Read(body);
        Assert.Equal(new StoreTarget("group1", new ServerAddress(StorageIp, 23000), 0), target);

        (status, body) = await CallAsync(client, TrackerCommand.QueryStoreWithGroupOne, Group("group1"));
        Assert.Equal(0, status);
        Assert.Equal(1, StoreTarget.Read(body).StorePathIndex); // round robin per storage

        (status, body) = await CallAsync(client, TrackerCommand.QueryStoreWithoutGroupAll);
        Assert.Equal(0, status);
        var all = GroupServers.Read(body, withStorePathIndex: true);
        Assert.Equal([new ServerAddress(StorageIp, 23000)], all.Servers);

        string remote = Cluster.RemoteName(StorageIp, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        byte[] fileQuery = [.. Group("group1"), .. Encoding.ASCII.GetBytes(remote)];
        foreach (var cmd in new[] { TrackerCommand.QueryFetchOne, TrackerCommand.QueryUpdate })
        {
            (status, body) = await CallAsync(client, cmd, fileQuery);
            Assert.Equal(0, status);
            Assert.Equal(39, body.Length);
            Assert.Equal(new ServerAddress(StorageIp, 23000), GroupServers.Read(body, false).Servers[0]);
        }

        (status, body) = await CallAsync(client, TrackerCommand.QueryFetchAll, fileQuery);
        Assert.Equal(0, status);
        Assert.Single(GroupServers.Read(body, false).Servers);

        (status, body) = await CallAsync(client, TrackerCommand.QueryFetchOne, [.. Group("nosuch"), .. Encoding.ASCII.GetBytes(remote)]);
        Assert.Equal(FdfsErrno.ENOENT, status);

        // Group listing: 113-byte records.
        (status, body) = await CallAsync(client, TrackerCommand.ListAllGroups);
        Assert.Equal(0, status);
        Assert.Equal(113, body.Length);
        var group = GroupStat.Read(body);
        Assert.Equal("group1", group.Name);
        Assert.Equal(2000, group.TotalMb);
        Assert.Equal(1000, group.FreeMb);
        Assert.Equal(200, group.ReservedMb);
        Assert.Equal(1, group.StorageCount);
        Assert.Equal(23000, group.StoragePort);
        Assert.Equal(1, group.ReadableServerCount);
        Assert.Equal(1, group.WritableServerCount);
        Assert.Equal(2, group.StorePathCount);
        Assert.Equal(256, group.SubdirCountPerPath);
        Assert.Equal(-1, group.CurrentTrunkFileId);
        Assert.Equal(-1L, BinaryPrimitives.ReadInt64BigEndian(body.AsSpan(105)));

        (status, body) = await CallAsync(client, TrackerCommand.ListOneGroup, Group("group1"));
        Assert.Equal(0, status);
        Assert.Equal(113, body.Length);
        (status, _) = await CallAsync(client, TrackerCommand.ListOneGroup, Group("group9"));
        Assert.Equal(FdfsErrno.ENOENT, status);

        // Storage listing: 487-byte records.
        (status, body) = await CallAsync(client, TrackerCommand.ListStorage, Group("group1"));
        Assert.Equal(0, status);
        Assert.Equal(487, body.Length);
        Assert.Equal((byte)StorageStatus.Active, body[0]);
        Assert.Equal((byte)StorageRwMode.Both, body[1]);
        var info = StorageInfo.Read(body);
        Assert.Equal(StorageIp, info.Id);
        Assert.Equal(StorageIp, info.Ip);
        Assert.Equal(FdfsConstants.ServerVersion, info.Version);
        Assert.Equal(1_700_000_000, info.JoinTime);
        Assert.Equal(1_700_000_100, info.UpTime);
        Assert.Equal(2000, info.TotalMb);
        Assert.Equal(1000, info.FreeMb);
        Assert.Equal(200, info.ReservedMb);
        Assert.Equal(10, info.UploadPriority);
        Assert.Equal(2, info.StorePathCount);
        Assert.Equal(256, info.SubdirCountPerPath);
        Assert.Equal(23000, info.StoragePort);
        Assert.Equal(3, info.Stats.ConnectionCurrentCount);
        Assert.Equal(77, info.Stats[StatCounter.SuccessUploadCount]);
        Assert.True(info.Stats[StatCounter.LastHeartBeatTime] > 1_700_000_000);

        (status, body) = await CallAsync(client, TrackerCommand.ListStorage, [.. Group("group1"), .. Encoding.ASCII.GetBytes(StorageIp)]);
        Assert.Equal(0, status);
        Assert.Equal(487, body.Length);
        (status, _) = await CallAsync(client, TrackerCommand.ListStorage, [.. Group("group1"), .. Encoding.ASCII.GetBytes("127.0.0.99")]);
        Assert.Equal(FdfsErrno.ENOENT, status);

        // In service: delete refused.
        (status, _) = await CallAsync(client, TrackerCommand.DeleteStorage, [.. Group("group1"), .. Encoding.ASCII.GetBytes(StorageIp)]);
        Assert.Equal(FdfsErrno.EBUSY, status);

        (status, body) = await CallAsync(client, TrackerCommand.GetLeader);
        Assert.Equal(0, status);
        Assert.Equal($"{TrackerIp}:{_server.EndPoint.Port}", Encoding.ASCII.GetString(body));
    }

    [Fact]
    public async Task Storage_helper_commands()
    {
        await using var storage = await ConnectAsync(StorageIp);
        await JoinActiveAsync(storage);

        var (status, body) = await CallAsync(storage, TrackerCommand.StorageGetMyIp, [.. Group("group1"), 0, .. new byte[4]]);
        Assert.Equal(0, status);
        Assert.Equal(StorageIp, Encoding.ASCII.GetString(body));

        byte[] address = [.. Group("group1"), .. Encoding.ASCII.GetBytes(StorageIp + ":23000")];
        (status, body) = await CallAsync(storage, TrackerCommand.StorageGetServerId, address);
        Assert.Equal(0, status);
        Assert.Equal(StorageIp, Encoding.ASCII.GetString(body));

        (status, body) = await CallAsync(storage, TrackerCommand.StorageGetStatus, address);
        Assert.Equal(0, status);
        Assert.Equal(new StorageBrief(StorageStatus.Active, 23000, StorageIp, StorageIp), StorageBrief.Read(body));

        (status, body) = await CallAsync(storage, (TrackerCommand)75);
        Assert.Equal(0, status);
        Assert.Contains("store_path=0\n", Encoding.ASCII.GetString(body), StringComparison.Ordinal);
        Assert.Contains("reserved_storage_space=10%\n", Encoding.ASCII.GetString(body), StringComparison.Ordinal);

        (status, _) = await CallAsync(storage, TrackerCommand.StorageFetchStorageIds, [0, 0, 0, 0, 1]);
        Assert.Equal(FdfsErrno.EOPNOTSUPP, status);

        byte[] syncReport = [.. Group("127.0.0.33"), 0, 0, 0, 9];
        (status, body) = await CallAsync(storage, TrackerCommand.StorageSyncReport, syncReport);
        Assert.Equal(0, status);
        Assert.Empty(body);

        (status, body) = await CallAsync(storage, TrackerCommand.StorageSyncDestQuery);
        Assert.Equal(0, status);
        Assert.Empty(body);

        (status, body) = await CallAsync(storage, TrackerCommand.StorageChangeStatus, [(byte)StorageStatus.Recovery]);
        Assert.Equal(0, status);
        Assert.Equal(StorageStatus.Recovery, _registry.GetStatus("group1", StorageIp));
    }

    [Fact]
    public async Task Second_new_storage_waits_for_sync_and_first_hears_of_it()
    {
        await using var first = await ConnectAsync(StorageIp);
        await JoinActiveAsync(first);

        await using var second = await ConnectAsync("127.0.0.33");
        var (status, body) = await CallAsync(second, TrackerCommand.StorageJoin, Cluster.JoinRequest(init: true).ToArray());
        Assert.Equal(0, status);
        (status, body) = await CallAsync(second, TrackerCommand.StorageSyncDestReq);
        Assert.Equal(0, status);
        Assert.Equal(24, body.Length);
        Assert.Equal(StorageIp, WireText.FromPadded(body.AsSpan(0, 16)));
        Assert.True(BinaryPrimitives.ReadInt64BigEndian(body.AsSpan(16)) > 1_700_000_000);

        (status, body) = await CallAsync(first, TrackerCommand.StorageBeat);
        Assert.Equal(0, status);
        var change = ChangeNotification.Read(body);
        Assert.Equal(2, change.GroupStorages!.Count);
        Assert.Equal(StorageStatus.WaitSync, change.GroupStorages[1].Status);

        // The source reports the copy finished: the new one goes OFFLINE, then re-joins ONLINE.
        byte[] report = [.. Group("group1"), .. new byte[StorageBrief.Size]];
        new StorageBrief(StorageStatus.Offline, 23000, "127.0.0.33", "127.0.0.33").Write(report.AsSpan(16));
        (status, _) = await CallAsync(first, TrackerCommand.StorageReportStatus, report);
        Assert.Equal(0, status);
        (status, body) = await CallAsync(second, TrackerCommand.StorageJoin, Cluster.JoinRequest().ToArray());
        Assert.Equal(0, status);
        Assert.Equal(StorageStatus.Online, StorageJoinResponse.Read(body).Status);
    }

    [Fact]
    public async Task Closing_the_storage_connection_marks_it_offline()
    {
        var storage = await ConnectAsync(StorageIp);
        await JoinActiveAsync(storage);
        Assert.Equal(StorageStatus.Active, _registry.GetStatus("group1", StorageIp));
        storage.Dispose();
        for (int i = 0; i < 100 && _registry.GetStatus("group1", StorageIp) != StorageStatus.Offline; i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal(StorageStatus.Offline, _registry.GetStatus("group1", StorageIp));
    }

    [Fact]
    public async Task Bad_input_gets_errno_and_keeps_the_connection()
    {
        await using var c = await ConnectAsync(StorageIp);

        Assert.Equal(FdfsErrno.ENOENT, (await CallAsync(c, TrackerCommand.QueryStoreWithoutGroupOne)).Status);
        Assert.Equal(FdfsErrno.EINVAL, (await CallAsync(c, TrackerCommand.QueryStoreWithoutGroupOne, [1, 2, 3])).Status);
        Assert.Equal(FdfsErrno.EINVAL, (await CallAsync(c, TrackerCommand.QueryStoreWithGroupOne, [1, 2, 3])).Status);
        Assert.Equal(FdfsErrno.EINVAL, (await CallAsync(c, TrackerCommand.QueryFetchOne, Group("group1"))).Status);
        Assert.Equal(FdfsErrno.EINVAL, (await CallAsync(c, TrackerCommand.ListAllGroups, [0])).Status);
        Assert.Equal(FdfsErrno.EINVAL, (await CallAsync(c, (TrackerCommand)250, new byte[100])).Status);
        Assert.Equal(FdfsErrno.EINVAL, (await CallAsync(c, TrackerCommand.DeleteStorage, Group("group1"))).Status);

        // Storage commands before JOIN.
        Assert.Equal(FdfsErrno.EACCES, (await CallAsync(c, TrackerCommand.StorageBeat)).Status);
        Assert.Equal(FdfsErrno.EACCES, (await CallAsync(c, TrackerCommand.StorageReportDiskUsage, new byte[32])).Status);
        Assert.Equal(FdfsErrno.EACCES, (await CallAsync(c, TrackerCommand.StorageSyncDestReq)).Status);
        Assert.Equal(FdfsErrno.EACCES, (await CallAsync(c, TrackerCommand.StorageChangeStatus, [5])).Status);

        // Bad joins.
        Assert.Equal(FdfsErrno.EINVAL, (await CallAsync(c, TrackerCommand.StorageJoin, new byte[10])).Status);
        Assert.Equal(FdfsErrno.EINVAL, (await CallAsync(c, TrackerCommand.StorageJoin, Cluster.JoinRequest("gr_1").ToArray())).Status);
        Assert.Equal(FdfsErrno.EINVAL, (await CallAsync(c, TrackerCommand.StorageJoin, Cluster.JoinRequest(paths: 300).ToArray())).Status);

        // Joined: wrong report sizes.
        Assert.Equal(0, (await CallAsync(c, TrackerCommand.StorageJoin, Cluster.JoinRequest().ToArray())).Status);
        Assert.Equal(FdfsErrno.EINVAL, (await CallAsync(c, TrackerCommand.StorageBeat, new byte[100])).Status);
        Assert.Equal(FdfsErrno.EINVAL, (await CallAsync(c, TrackerCommand.StorageReportDiskUsage, new byte[16])).Status);
        Assert.Equal(FdfsErrno.EINVAL, (await CallAsync(c, TrackerCommand.StorageSyncReport, new byte[7])).Status);

        // Still in sync after all of that.
        Assert.Equal(0, (await CallAsync(c, TrackerCommand.StorageBeat)).Status);
        Assert.Equal(0, (await CallAsync(c, TrackerCommand.ListAllGroups)).Status);
    }

    [Fact]
    public async Task Negative_length_and_oversized_bodies_close_the_connection()
    {
        foreach (long length in new[] { -1L, TrackerRequestHandler.MaxPackageSize + 1L })
        {
            await using var c = await ConnectAsync();
            var header = new byte[10];
            BinaryPrimitives.WriteInt64BigEndian(header, length);
            header[8] = (byte)TrackerCommand.ListAllGroups;
            using var cts = new CancellationTokenSource(Timeout);
            await c.SendAsync(header, cts.Token);
            var (status, _) = await c.ReadResponseAsync(0, cts.Token);
            Assert.Equal(FdfsErrno.EINVAL, status);
            Assert.Null(await c.ReadHeaderOrEndAsync(cts.Token));
        }
    }
}
