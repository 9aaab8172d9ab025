using System.Net;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastDfs.Tracker.Tests;

/// <summary>use_storage_id = true: storages are known by the IDs of storage_ids.conf (protocol notes 8.2, 11).</summary>
public sealed class StorageIdModeTests : IAsyncLifetime
{
    private const string TrackerIp = "127.0.0.41";
    private const string StorageA = "127.0.0.42";
    private const string StorageB = "127.0.0.43";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private static readonly StorageIdMap Ids = StorageIdMap.Parse($"""
        100001 group1 {StorageA}
        100002 group1 {StorageB}:23001 rw=read
        100003 group2 127.0.0.44
        """);

    private static TrackerOptions Options(bool trust = true, DownloadServerPolicy download = DownloadServerPolicy.RoundRobin) => new()
    {
        BasePath = "/tmp",
        StoreLookup = StoreLookup.RoundRobin,
        DownloadServer = download,
        ReservedStorageSpace = ReservedSpace.FromPercent(10),
        UseStorageId = true,
        StorageIds = Ids,
        TrustStorageServerId = trust,
    };

    private readonly ClusterRegistry _registry = new(Options());
    private FdfsServer _server = null!;

    public Task InitializeAsync()
    {
        _server = new FdfsServer(new IPEndPoint(IPAddress.Parse(TrackerIp), 0), new TrackerRequestHandler(_registry), NullLogger.Instance);
        _server.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public void Options_without_the_ids_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new ClusterRegistry(new TrackerOptions { BasePath = "/tmp", UseStorageId = true }));
        Assert.Throws<FdfsConfigException>(() => new TrackerOptions { BasePath = "/tmp", UseStorageId = true }.Validate());
    }

    [Fact]
    public void A_joining_storage_is_known_by_the_id_of_its_address()
    {
        var c = new Cluster(Options());
        var a = c.Join(StorageA);
        Assert.Equal("100001", a.Id);
        Assert.Equal(StorageA, a.Ip);
        Assert.Equal(100001u, a.NumericId);

        var listed = Assert.Single(c.Registry.ListStorages("group1", null)!);
        Assert.Equal("100001", listed.Id);
        Assert.Equal(StorageA, listed.Ip);
        Assert.Equal(StorageRwMode.Both, listed.RwMode);
        Assert.NotNull(c.Registry.ListStorages("group1", "100001"));
        Assert.Null(c.Registry.ListStorages("group1", StorageA));

        // The change notification lists members by ID.
        var brief = Assert.Single(c.Registry.Beat(a, default).GroupStorages!);
        Assert.Equal(new StorageBrief(StorageStatus.Active, 23000, "100001", StorageA), brief);
    }

    [Fact]
    public void Unknown_address_is_ENOENT_and_another_groups_id_is_EINVAL()
    {
        var c = new Cluster(Options(trust: false));
        Assert.Equal(FdfsErrno.ENOENT, c.Registry.Join("127.0.0.99", Cluster.JoinRequest(), 1, out _, out string? error));
        Assert.Contains("127.0.0.99:23000", error, StringComparison.Ordinal);
        Assert.Contains("storage_ids.conf", error, StringComparison.Ordinal);

        // storage_ids.conf puts 127.0.0.44 in group2.
        Assert.Equal(FdfsErrno.EINVAL, c.Registry.Join("127.0.0.44", Cluster.JoinRequest("group1"), 2, out _, out error));
        Assert.Contains("group2", error, StringComparison.Ordinal);

        // The line for StorageB names port 23001.
        Assert.Equal(FdfsErrno.ENOENT, c.Registry.Join(StorageB, Cluster.JoinRequest(), 3, out _, out _));
        Assert.Equal("100002", c.Join(StorageB, Cluster.JoinRequest(port: 23001)).Id);
        Assert.Equal(0, c.Registry.GroupCount - 1);
    }

    [Fact]
    public void The_id_a_storage_sends_is_used_when_trusted()
    {
        var trusted = new Cluster(Options(trust: true));
        var request = Cluster.JoinRequest() with { StorageId = "100002" };
        var node = trusted.Join("127.0.0.77", request);
        Assert.Equal("100002", node.Id);
        Assert.Equal("127.0.0.77", node.Ip);
        Assert.Equal(FdfsErrno.ENOENT, trusted.Registry.Join(StorageA, Cluster.JoinRequest() with { StorageId = "999" }, 9, out _, out _));

        // Not trusted: the address decides, whatever the storage claims.
        var strict = new Cluster(Options(trust: false));
        Assert.Equal("100001", strict.Join(StorageA, request).Id);
    }

    [Fact]
    public void Storages_of_a_group_may_use_different_ports_and_rw_modes_apply()
    {
        var c = new Cluster(Options());
        var a = c.Active(StorageA);
        var b = c.Join(StorageB, Cluster.JoinRequest(port: 23001));
        c.Registry.Beat(b, default);
        c.Disk(b, 500, 500);
        Assert.Equal(StorageStatus.Active, b.Status);
        Assert.Equal(-1, c.Registry.GetGroup("group1")!.StoragePort);

        // 100002 is rw=read: it serves downloads but takes no uploads.
        var group = c.Registry.Snapshot.Find("group1")!;
        Assert.Equal([a], group.Writable);
        Assert.Equal(2, group.Readable.Length);
        Assert.Equal(StorageRwMode.ReadOnly, c.Registry.ListStorages("group1", "100002")!.Single().RwMode);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal("OK", c.Upload(out _, out var s, out _));
            Assert.Same(a, s);
        }
    }

    [Fact]
    public void Files_named_by_id_find_their_source_and_the_sync_rule_uses_ids()
    {
        var c = new Cluster(Options(download: DownloadServerPolicy.SourceFirst) with { StorageIds = StorageIdMap.Parse($"100001 group1 {StorageA}\n100002 group1 {StorageB}\n") });
        var a = c.Active(StorageA);
        var b = c.Active(StorageB);
        var group = c.Registry.Snapshot.Find("group1")!;
        string name = FileNames.MakeName(100002, c.Time.Seconds - 10, FileNames.MakeSizeField(1000, false, 1), 0xDEADBEEF, "txt", new Random(1));
        var file = Cluster.Decode("M00/00/00/" + name);

        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(0, c.Registry.SelectFetch(group, file, out var s));
            Assert.Same(b, s); // download_server = 1: the source, found by its ID
            Assert.Equal(0, c.Registry.SelectUpdate(group, file, out s));
            Assert.Same(b, s);
        }

        // Only once A reports (by the source's ID) that it synced past the file does it serve it too.
        var all = new List<StorageNode>();
        Assert.Equal(0, c.Registry.SelectFetchAll(group, file, all));
        Assert.Equal([b], all);
        c.Registry.SyncReport(a, [("100002", c.Time.Seconds)]);
        all.Clear();
        Assert.Equal(0, c.Registry.SelectFetchAll(group, file, all));
        Assert.Equal(2, all.Count);
    }

    [Fact]
    public void Delete_by_id_and_saved_state_keep_the_ids()
    {
        var c = new Cluster(Options());
        var a = c.Active(StorageA);
        var b = c.Join(StorageB, Cluster.JoinRequest(port: 23001));
        c.Registry.SyncReport(a, [("100002", 1234)]);
        c.Registry.ChangeStatus(b, StorageStatus.Offline);

        // Through the JSON of tracker_cluster.json and of the state copy between trackers (61/63/62).
        byte[] json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(c.Registry.ExportState(), ClusterStateJsonContext.Default.ClusterState);
        Assert.Contains("\"id\": \"100002\"", Encoding.UTF8.GetString(json), StringComparison.Ordinal);
        var state = System.Text.Json.JsonSerializer.Deserialize(json, ClusterStateJsonContext.Default.ClusterState)!;
        Assert.Equal(["100001", "100002"], state.Groups.Single().Storages.Select(s => s.Id));

        var restarted = new ClusterRegistry(Options());
        restarted.ImportState(state);
        var listed = restarted.ListStorages("group1", null)!;
        Assert.Equal(["100001", "100002"], listed.Select(s => s.Id));
        Assert.Equal([StorageA, StorageB], listed.Select(s => s.Ip));
        Assert.Equal(StorageRwMode.ReadOnly, listed[1].RwMode);

        // A copying tracker merges the same records (state copy between trackers).
        var follower = new ClusterRegistry(Options());
        Assert.Equal(2, follower.MergeState(state));
        Assert.Equal(["100001", "100002"], follower.ListStorages("group1", null)!.Select(s => s.Id));

        Assert.Equal(FdfsErrno.ENOENT, c.Registry.DeleteStorage("group1", StorageB));
        Assert.Equal(FdfsErrno.EBUSY, c.Registry.DeleteStorage("group1", "100001"));
        Assert.Equal(FdfsErrno.Success, c.Registry.DeleteStorage("group1", "100002"));
        Assert.Equal(StorageStatus.Deleted, c.Registry.GetStatus("group1", "100002"));
    }

    private Task<FdfsConnection> ConnectAsync(string from) =>
        FdfsConnection.ConnectAsync(TrackerIp, _server.EndPoint.Port, Timeout, IPAddress.Parse(from)).AsTask();

    private static async Task<(byte Status, byte[] Body)> CallAsync(FdfsConnection c, TrackerCommand command, byte[]? body = null)
    {
        using var cts = new CancellationTokenSource(Timeout);
        return await c.RoundTripAsync((byte)command, body ?? [], 1 << 20, cts.Token);
    }

    [Fact]
    public async Task Storage_id_commands_over_the_wire()
    {
        await using var s = await ConnectAsync(StorageA);

        var (status, body) = await CallAsync(s, TrackerCommand.StorageParameterReq);
        Assert.Equal(0, status);
        string parameters = Encoding.ASCII.GetString(body);
        Assert.Contains("use_storage_id=1\n", parameters, StringComparison.Ordinal);
        Assert.Contains("id_type_in_filename=id\n", parameters, StringComparison.Ordinal);
        Assert.Contains("response_ip_addr_size=16\n", parameters, StringComparison.Ordinal); // no IPv6 address in the IDs

        (status, body) = await CallAsync(s, TrackerCommand.StorageGetServerId, new GetServerIdRequest("group1", StorageA + ":23000").ToArray());
        Assert.Equal(0, status);
        Assert.Equal("100001", Encoding.ASCII.GetString(body));
        (status, body) = await CallAsync(s, TrackerCommand.StorageGetServerId, new GetServerIdRequest("group1", "").ToArray());
        Assert.Equal(0, status);
        Assert.Equal("100001", Encoding.ASCII.GetString(body)); // no address: the caller's
        (status, _) = await CallAsync(s, TrackerCommand.StorageGetServerId, new GetServerIdRequest("group1", "127.0.0.99:23000").ToArray());
        Assert.Equal(FdfsErrno.ENOENT, status);
        (status, _) = await CallAsync(s, TrackerCommand.StorageGetServerId, new GetServerIdRequest("group2", StorageA + ":23000").ToArray());
        Assert.Equal(FdfsErrno.ENOENT, status);

        (status, body) = await CallAsync(s, TrackerCommand.StorageFetchStorageIds, new FetchStorageIdsRequest(1).ToArray());
        Assert.Equal(0, status);
        var page = FetchStorageIdsResponse.Read(body);
        Assert.Equal(3, page.TotalCount);
        Assert.Equal([$"100002 group1 {StorageB}:23001 rw=read", "100003 group2 127.0.0.44"], page.Lines);
        (status, body) = await CallAsync(s, TrackerCommand.StorageFetchStorageIds, new FetchStorageIdsRequest(3, true).ToArray());
        Assert.Equal(0, status);
        Assert.Empty(FetchStorageIdsResponse.Read(body).Lines);
        (status, _) = await CallAsync(s, TrackerCommand.StorageFetchStorageIds, new FetchStorageIdsRequest(3).ToArray());
        Assert.Equal(FdfsErrno.EINVAL, status);

        (status, body) = await CallAsync(s, TrackerCommand.StorageGetGroupName, [0, 0, 0x59, 0xd8]);
        Assert.Equal(0, status);
        Assert.Equal("group1", WireText.FromPadded(body));

        // Join: the tracker answers by ID from then on.
        var join = Cluster.JoinRequest(init: true);
        (status, _) = await CallAsync(s, TrackerCommand.StorageJoin, join.ToArray());
        Assert.Equal(0, status);
        (status, body) = await CallAsync(s, TrackerCommand.StorageGetStatus, new GetServerIdRequest("group1", StorageA + ":23000").ToArray());
        Assert.Equal(0, status);
        Assert.Equal("100001", StorageBrief.Read(body).Id);

        // A peer reports this storage's status by ID (REPORT_STATUS brief).
        var report = new byte[16 + StorageBrief.Size];
        Cluster.Field("group1").CopyTo(report, 0);
        new StorageBrief(StorageStatus.Syncing, 23000, "100001", StorageA).Write(report.AsSpan(16));
        (status, _) = await CallAsync(s, TrackerCommand.StorageReportStatus, report);
        Assert.Equal(0, status);
        Assert.Equal(StorageStatus.Syncing, _registry.GetStatus("group1", "100001"));

        // An address missing from storage_ids.conf cannot join.
        await using var stranger = await ConnectAsync("127.0.0.45");
        (status, _) = await CallAsync(stranger, TrackerCommand.StorageJoin, Cluster.JoinRequest().ToArray());
        Assert.Equal(FdfsErrno.ENOENT, status);
    }
}
