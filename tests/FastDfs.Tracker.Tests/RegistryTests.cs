using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using Xunit;

namespace FastDfs.Tracker.Tests;

public class RegistryTests
{
    private static TrackerOptions Opts(StoreLookup lookup = StoreLookup.RoundRobin, StoreServerPolicy server = StoreServerPolicy.RoundRobin,
        StorePathPolicy path = StorePathPolicy.RoundRobin, DownloadServerPolicy download = DownloadServerPolicy.RoundRobin, string storeGroup = "group2") =>
        new()
        {
            BasePath = "/tmp",
            StoreLookup = lookup,
            StoreServer = server,
            StorePath = path,
            DownloadServer = download,
            StoreGroup = storeGroup,
            ReservedStorageSpace = ReservedSpace.FromPercent(10),
        };

    [Fact]
    public void No_groups_is_ENOENT()
    {
        var c = new Cluster(Opts());
        Assert.Equal("ENOENT", c.Upload(out _, out _, out _));
    }

    [Fact]
    public void Store_lookup_round_robin_alternates_groups()
    {
        var c = new Cluster(Opts(StoreLookup.RoundRobin));
        c.Active("127.0.0.2", "group1");
        c.Active("127.0.0.3", "group2");
        var seen = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal("OK", c.Upload(out var g, out _, out _));
            seen.Add(g!.State.Name);
        }

        Assert.Equal(2, seen.Distinct().Count());
        Assert.NotEqual(seen[0], seen[1]);
        Assert.Equal(seen[0], seen[2]);
    }

    [Fact]
    public void Store_lookup_specified_group()
    {
        var c = new Cluster(Opts(StoreLookup.SpecifiedGroup, storeGroup: "group2"));
        c.Active("127.0.0.2", "group1");
        Assert.Equal("ENOENT", c.Upload(out _, out _, out _));
        c.Active("127.0.0.3", "group2");
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal("OK", c.Upload(out var g, out _, out _));
            Assert.Equal("group2", g!.State.Name);
        }

        // An explicit group (104) bypasses store_lookup.
        Assert.Equal("OK", c.Upload(out var explicitGroup, out _, out _, "group1"));
        Assert.Equal("group1", explicitGroup!.State.Name);
        Assert.Equal("ENOENT", c.Upload(out _, out _, out _, "nosuch"));
    }

    [Fact]
    public void Store_lookup_most_free_space_skips_full_groups_and_reports_ENOSPC()
    {
        var c = new Cluster(Opts(StoreLookup.LoadBalance));
        var a = c.Active("127.0.0.2", "group1", freeMb: 300);
        var b = c.Active("127.0.0.3", "group2", freeMb: 700);
        Assert.Equal("OK", c.Upload(out var g, out _, out _));
        Assert.Equal("group2", g!.State.Name);

        // group2 at the 10 % reserve -> group1.
        c.Disk(b, 100, 100);
        Assert.Equal("OK", c.Upload(out g, out _, out _));
        Assert.Equal("group1", g!.State.Name);

        c.Disk(a, 50, 50);
        Assert.Equal("ENOSPC", c.Upload(out _, out _, out _));
        Assert.Equal("ENOSPC", c.Upload(out _, out _, out _, "group1"));
    }

    [Fact]
    public void Group_without_writable_storage_is_ENOENT()
    {
        var c = new Cluster(Opts(StoreLookup.LoadBalance));
        var node = c.Join("127.0.0.2");
        Assert.Equal(StorageStatus.Online, node.Status);
        Assert.Equal("ENOENT", c.Upload(out _, out _, out _));
        c.Registry.Beat(node, default);
        Assert.Equal("OK", c.Upload(out _, out _, out _));
    }

    [Fact]
    public void Store_server_round_robin_first_by_ip_and_priority()
    {
        var rr = new Cluster(Opts(server: StoreServerPolicy.RoundRobin));
        rr.Active("127.0.0.9", priority: 5);
        rr.Active("127.0.0.10", priority: 1);
        var picks = Enumerable.Range(0, 4).Select(i =>
        {
            rr.Upload(out _, out var s, out _);
            return s!.Ip;
        }).ToList();
        Assert.Equal(2, picks.Distinct().Count());
        Assert.NotEqual(picks[0], picks[1]);

        var first = new Cluster(Opts(server: StoreServerPolicy.FirstByIp));
        first.Active("127.0.0.9", priority: 1);
        first.Active("127.0.0.10", priority: 5);
        for (int i = 0; i < 3; i++)
        {
            first.Upload(out _, out var s, out _);
            Assert.Equal("127.0.0.10", s!.Ip); // FastDFS orders IDs as strings
        }

        var prio = new Cluster(Opts(server: StoreServerPolicy.ByPriority));
        prio.Active("127.0.0.9", priority: 1);
        prio.Active("127.0.0.10", priority: 5);
        for (int i = 0; i < 3; i++)
        {
            prio.Upload(out _, out var s, out _);
            Assert.Equal("127.0.0.9", s!.Ip);
        }
    }

    [Fact]
    public void Store_path_round_robin_skips_paths_below_the_reserve()
    {
        var c = new Cluster(Opts(path: StorePathPolicy.RoundRobin));
        var node = c.Active("127.0.0.2", paths: 3);
        var paths = Enumerable.Range(0, 6).Select(i =>
        {
            c.Upload(out _, out _, out byte p);
            return p;
        }).ToList();
        Assert.Equal([0, 1, 2, 0, 1, 2], paths);

        c.Disk(node, 500, 50, 500);
        paths = [.. Enumerable.Range(0, 6).Select(i =>
        {
            c.Upload(out _, out _, out byte p);
            return p;
        })];
        Assert.DoesNotContain((byte)1, paths);

        c.Disk(node, 50, 50, 50);
        Assert.Equal("ENOSPC", c.Upload(out _, out _, out _));
    }

    [Fact]
    public void Store_path_most_free()
    {
        var c = new Cluster(Opts(path: StorePathPolicy.LoadBalance));
        var node = c.Active("127.0.0.2", paths: 3);
        c.Disk(node, 200, 800, 300);
        for (int i = 0; i < 3; i++)
        {
            c.Upload(out _, out _, out byte p);
            Assert.Equal(1, p);
        }
    }

    [Fact]
    public void Download_follows_the_sync_rule()
    {
        var c = new Cluster(Opts());
        var src = c.Active("127.0.0.2");
        var peer = c.Active("127.0.0.3");
        var group = c.Registry.Snapshot.Find("group1")!;
        var fresh = Cluster.Decode(Cluster.RemoteName("127.0.0.2", c.Time.Seconds - 10));

        // The peer has not synced anything: only the source may serve a fresh file.
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(0, c.Registry.SelectFetch(group, fresh, out var s));
            Assert.Equal("127.0.0.2", s!.Ip);
        }

        // Once the peer reports it synced past the file's timestamp, both serve it.
        c.Registry.SyncReport(peer, [("127.0.0.2", c.Time.Seconds)]);
        var picks = Enumerable.Range(0, 4).Select(i =>
        {
            c.Registry.SelectFetch(group, fresh, out var s);
            return s!.Ip;
        }).Distinct().Count();
        Assert.Equal(2, picks);

        // A file older than storage_sync_file_max_delay is everywhere.
        var old = Cluster.Decode(Cluster.RemoteName("127.0.0.2", c.Time.Seconds - 90000));
        var all = new List<StorageNode>();
        Assert.Equal(0, c.Registry.SelectFetchAll(group, old, all));
        Assert.Equal(2, all.Count);

        // Appender files only on their source.
        var appender = Cluster.Decode(Cluster.RemoteName("127.0.0.3", c.Time.Seconds - 90000, appender: true));
        for (int i = 0; i < 3; i++)
        {
            c.Registry.SelectFetch(group, appender, out var s);
            Assert.Equal("127.0.0.3", s!.Ip);
        }

        Assert.NotNull(src);
    }

    [Fact]
    public void Download_server_source_first()
    {
        var c = new Cluster(Opts(download: DownloadServerPolicy.SourceFirst));
        c.Active("127.0.0.2");
        c.Active("127.0.0.3");
        var group = c.Registry.Snapshot.Find("group1")!;
        var old = Cluster.Decode(Cluster.RemoteName("127.0.0.3", c.Time.Seconds - 90000));
        for (int i = 0; i < 4; i++)
        {
            c.Registry.SelectFetch(group, old, out var s);
            Assert.Equal("127.0.0.3", s!.Ip);
        }
    }

    [Fact]
    public void Update_goes_to_the_source_while_active_else_to_another_writable()
    {
        var c = new Cluster(Opts());
        var src = c.Active("127.0.0.2");
        c.Active("127.0.0.3");
        var file = Cluster.Decode(Cluster.RemoteName("127.0.0.2", c.Time.Seconds));
        var group = c.Registry.Snapshot.Find("group1")!;
        for (int i = 0; i < 3; i++)
        {
            c.Registry.SelectUpdate(group, file, out var s);
            Assert.Equal("127.0.0.2", s!.Ip);
        }

        c.Registry.ConnectionClosed(src, src.SessionId);
        Assert.Equal(StorageStatus.Offline, src.Status);
        group = c.Registry.Snapshot.Find("group1")!;
        c.Registry.SelectUpdate(group, file, out var other);
        Assert.Equal("127.0.0.3", other!.Ip);
    }

    [Fact]
    public void Heartbeat_timeout_marks_offline_and_rejoin_brings_it_back()
    {
        var c = new Cluster(new TrackerOptions { BasePath = "/tmp", CheckActiveInterval = TimeSpan.FromSeconds(100) });
        var a = c.Active("127.0.0.2");
        var b = c.Active("127.0.0.3");
        c.Time.Advance(TimeSpan.FromSeconds(60));
        c.Registry.Beat(b, default);
        c.Time.Advance(TimeSpan.FromSeconds(50));
        Assert.Equal(1, c.Registry.CheckLiveness());
        Assert.Equal(StorageStatus.Offline, a.Status);
        Assert.Equal(StorageStatus.Active, b.Status);

        c.Join("127.0.0.2");
        Assert.Equal(StorageStatus.Online, a.Status);
        c.Registry.Beat(a, default);
        Assert.Equal(StorageStatus.Active, a.Status);
    }

    [Fact]
    public void Connection_close_only_counts_for_the_current_session()
    {
        var c = new Cluster();
        var a = c.Active("127.0.0.2");
        long old = a.SessionId;
        c.Join("127.0.0.2");
        c.Registry.ConnectionClosed(a, old);
        Assert.NotEqual(StorageStatus.Offline, a.Status);
        c.Registry.ConnectionClosed(a, a.SessionId);
        Assert.Equal(StorageStatus.Offline, a.Status);
    }

    [Fact]
    public void Join_rules_and_new_storage_status_machine()
    {
        var c = new Cluster();
        byte errno = c.Registry.Join("127.0.0.2", Cluster.JoinRequest("bad-name"), 1, out _, out _);
        Assert.Equal(FdfsErrno.EINVAL, errno);
        Assert.Equal(FdfsErrno.EINVAL, c.Registry.Join("127.0.0.2", Cluster.JoinRequest(port: 0), 1, out _, out _));
        Assert.Equal(FdfsErrno.EINVAL, c.Registry.Join("127.0.0.2", Cluster.JoinRequest(paths: 0), 1, out _, out _));
        Assert.Equal(FdfsErrno.EINVAL, c.Registry.Join("127.0.0.2", Cluster.JoinRequest(subdirs: 257), 1, out _, out _));

        // First storage of a group: nothing to copy, ONLINE straight away.
        var first = c.Join("127.0.0.2", Cluster.JoinRequest(init: true));
        Assert.Equal(StorageStatus.Init, first.Status);
        Assert.False(c.Registry.SyncDestRequest(first, out _, out _));
        Assert.Equal(StorageStatus.Online, first.Status);
        c.Registry.Beat(first, default);

        // Same group, different port / path count -> EINVAL.
        Assert.Equal(FdfsErrno.EINVAL, c.Registry.Join("127.0.0.3", Cluster.JoinRequest(port: 23001, init: true), 2, out _, out _));
        Assert.Equal(FdfsErrno.EINVAL, c.Registry.Join("127.0.0.3", Cluster.JoinRequest(paths: 3, init: true), 2, out _, out _));

        // Second new storage: WAIT_SYNC from the first, until now.
        var second = c.Join("127.0.0.3", Cluster.JoinRequest(init: true));
        Assert.True(c.Registry.SyncDestRequest(second, out string source, out long until));
        Assert.Equal("127.0.0.2", source);
        Assert.Equal(c.Time.Seconds, until);
        Assert.Equal(StorageStatus.WaitSync, second.Status);

        // A storage the tracker does not know but that is not new adopts its status (ACTIVE -> ONLINE).
        var known = c.Join("127.0.0.4", Cluster.JoinRequest(status: StorageStatus.Active));
        Assert.Equal(StorageStatus.Online, known.Status);
    }

    [Fact]
    public void Change_notification_sent_once_per_change()
    {
        var c = new Cluster();
        var a = c.Active("127.0.0.2");
        var n1 = c.Registry.Beat(a, default);
        Assert.True(n1.IsEmpty); // Active() already consumed the list on its disk report
        c.Join("127.0.0.3");
        var n2 = c.Registry.Beat(a, default);
        Assert.NotNull(n2.GroupStorages);
        Assert.Equal(["127.0.0.2", "127.0.0.3"], n2.GroupStorages!.Select(s => s.Ip));
        Assert.Equal(StorageStatus.Online, n2.GroupStorages![1].Status);
        Assert.True(c.Registry.Beat(a, default).IsEmpty);
    }

    [Fact]
    public void Change_status_rules()
    {
        var c = new Cluster();
        var a = c.Active("127.0.0.2");
        c.Registry.ChangeStatus(a, StorageStatus.Online);
        Assert.Equal(StorageStatus.Active, a.Status);
        c.Registry.ChangeStatus(a, StorageStatus.Recovery);
        Assert.Equal(StorageStatus.Recovery, a.Status);
        c.Registry.ChangeStatus(a, StorageStatus.Active);
        Assert.Equal(StorageStatus.Offline, a.Status);
    }

    [Fact]
    public void Delete_storage_and_group_rules()
    {
        var c = new Cluster();
        var a = c.Active("127.0.0.2");
        Assert.Equal(FdfsErrno.ENOENT, c.Registry.DeleteStorage("group1", "127.0.0.9"));
        Assert.Equal(FdfsErrno.ENOENT, c.Registry.DeleteStorage("nosuch", "127.0.0.2"));
        Assert.Equal(FdfsErrno.EBUSY, c.Registry.DeleteStorage("group1", "127.0.0.2"));
        Assert.Equal(FdfsErrno.EBUSY, c.Registry.DeleteGroup("group1"));
        c.Registry.ConnectionClosed(a, a.SessionId);
        Assert.Equal(0, c.Registry.DeleteStorage("group1", "127.0.0.2"));
        Assert.Equal(FdfsErrno.EALREADY, c.Registry.DeleteStorage("group1", "127.0.0.2"));
        Assert.Equal(0, c.Registry.DeleteGroup("group1"));
        Assert.Equal(FdfsErrno.ENOENT, c.Registry.DeleteGroup("group1"));

        // A deleted storage that comes back starts again as new.
        var d = new Cluster();
        var b = d.Active("127.0.0.2");
        d.Registry.ConnectionClosed(b, b.SessionId);
        d.Registry.DeleteStorage("group1", "127.0.0.2");
        d.Join("127.0.0.2");
        Assert.Equal(StorageStatus.Init, b.Status);
    }

    [Fact]
    public void Deleting_a_storage_clears_it_as_the_sync_source_of_its_peers()
    {
        var c = new Cluster();
        var a = c.Active("127.0.0.2");
        var b = c.Join("127.0.0.3", Cluster.JoinRequest(init: true));
        var d = c.Join("127.0.0.4", Cluster.JoinRequest(init: true));
        Assert.True(c.Registry.SyncDestRequest(b, out string sourceOfB, out _));
        Assert.True(c.Registry.SyncDestRequest(d, out string sourceOfD, out _));
        Assert.Equal(("127.0.0.2", "127.0.0.2"), (sourceOfB, sourceOfD));

        // A WAIT_SYNC storage may be deleted: its own sync source and until-timestamp go with it.
        Assert.Equal(FdfsErrno.Success, c.Registry.DeleteStorage("group1", "127.0.0.3"));
        Assert.Equal((string.Empty, 0L), (b.SyncSource, b.SyncUntilTimestamp));

        // Deleting the source: the peer still waiting to copy from it forgets it (FastDFS keeps the until-timestamp).
        c.Registry.ConnectionClosed(a, a.SessionId);
        Assert.Equal(FdfsErrno.Success, c.Registry.DeleteStorage("group1", "127.0.0.2"));
        Assert.Equal(string.Empty, d.SyncSource);
        Assert.False(c.Registry.GetSyncSource(d, out _, out long untilOfD));
        Assert.Equal(c.Time.Seconds, untilOfD);
        Assert.Equal(string.Empty, c.Registry.ListStorages("group1", "127.0.0.4")!.Single().SyncSourceId);
        Assert.Equal(StorageStatus.WaitSync, d.Status);
    }

    [Fact]
    public void Listings_report_real_values()
    {
        var c = new Cluster();
        var a = c.Active("127.0.0.2", freeMb: 400);
        c.Active("127.0.0.3", freeMb: 300);
        var stats = new Protocol.Messages.StorageStats();
        stats[Protocol.Messages.StatCounter.SuccessUploadCount] = 42;
        c.Registry.Beat(a, stats.ToArray());

        var group = Assert.Single(c.Registry.ListGroups());
        Assert.Equal("group1", group.Name);
        Assert.Equal(2000, group.TotalMb);
        Assert.Equal(600, group.FreeMb);
        Assert.Equal(200, group.ReservedMb);
        Assert.Equal(2, group.StorageCount);
        Assert.Equal(2, group.ReadableServerCount);
        Assert.Equal(2, group.WritableServerCount);
        Assert.Equal(23000, group.StoragePort);
        Assert.Equal(2, group.StorePathCount);
        Assert.Equal(256, group.SubdirCountPerPath);
        Assert.Equal(-1, group.CurrentTrunkFileId);

        var one = Assert.Single(c.Registry.ListStorages("group1", "127.0.0.2")!);
        Assert.Equal(StorageStatus.Active, one.Status);
        Assert.Equal(800, one.FreeMb);
        Assert.Equal(42, one.Stats[Protocol.Messages.StatCounter.SuccessUploadCount]);
        Assert.Equal(c.Time.Seconds, one.Stats[Protocol.Messages.StatCounter.LastHeartBeatTime]);
        Assert.Equal(1_700_000_000, one.JoinTime);
        Assert.Null(c.Registry.ListStorages("group1", "127.0.0.9"));
    }

    [Fact]
    public void Persistence_round_trip()
    {
        string dir = Path.Combine(Path.GetTempPath(), "trk-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            var c = new Cluster();
            var a = c.Active("127.0.0.2");
            var b = c.Join("127.0.0.3", Cluster.JoinRequest(init: true, priority: 7));
            c.Registry.SyncDestRequest(b, out _, out _);
            c.Registry.SyncReport(a, [("127.0.0.3", 12345)]);
            var store = new ClusterStateStore(c.Options with { BasePath = dir });
            store.Save(c.Registry.ExportState());
            Assert.False(File.Exists(store.GroupsPath + ".tmp"));
            Assert.False(File.Exists(store.ServersPath + ".tmp"));

            var restored = new ClusterRegistry(c.Options, c.Time);
            restored.ImportState(store.Load()!);
            var ra = restored.FindStorage("group1", "127.0.0.2")!;
            var rb = restored.FindStorage("group1", "127.0.0.3")!;
            Assert.Equal(StorageStatus.Offline, ra.Status); // was ACTIVE: offline until it reports
            Assert.Equal(StorageStatus.WaitSync, rb.Status);
            Assert.Equal("127.0.0.2", rb.SyncSource);
            Assert.Equal(c.Time.Seconds, rb.SyncUntilTimestamp);
            Assert.Equal(7, rb.UploadPriority);
            Assert.Equal(12345, ra.SyncedFrom["127.0.0.3"]);
            Assert.Equal(1_700_000_000, ra.JoinTime);
            Assert.Equal(23000, ra.Port);
            Assert.Equal(2, ra.StorePathCount);
            Assert.Equal(256, restored.GetGroup("group1")!.SubdirCountPerPath);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }
}
