using System.Text;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.TrackerState;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastDfs.Tracker.Tests;

/// <summary>The tracker's state in FastDFS's .dat files: save/load, JSON migration, C files, the changelog.</summary>
public sealed class StateFilesTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trk-dat-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private string Data(string name) => Path.Combine(_dir, "data", name);

    private Cluster NewCluster() => new(new TrackerOptions { BasePath = _dir, ReservedStorageSpace = ReservedSpace.FromPercent(10) });

    [Fact]
    public void Round_trip_through_the_dat_files_keeps_storages_marks_offsets_and_deleted_ones()
    {
        var c = NewCluster();
        c.Registry.Changelog = new StorageChangelog(Path.Combine(_dir, "data"));
        var a = c.Active("127.0.0.2");
        var b = c.Active("127.0.0.3");
        var d = c.Join("127.0.0.4", Cluster.JoinRequest(init: true));
        c.Registry.SyncReport(a, [("127.0.0.3", 1_700_000_123)]);
        c.Registry.SyncReport(b, [("127.0.0.2", 1_700_000_456)]);
        c.Registry.ChangeStatus(d, StorageStatus.Offline);
        Assert.Equal(FdfsErrno.Success, c.Registry.DeleteStorage("group1", "127.0.0.4"));
        c.Active("127.0.0.9", group: "group0");

        var store = new ClusterStateStore(c.Options);
        store.Save(c.Registry.ExportState());

        // FastDFS's files: groups sorted by name, the deleted storage left out of the servers and sync files.
        string groups = File.ReadAllText(store.GroupsPath);
        Assert.True(groups.IndexOf("group_name=group0", StringComparison.Ordinal) < groups.IndexOf("group_name=group1", StringComparison.Ordinal));
        string servers = File.ReadAllText(store.ServersPath);
        Assert.Contains("\tstorage_count=3\n", servers, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.4", servers, StringComparison.Ordinal);
        Assert.DoesNotContain("\tid=", servers, StringComparison.Ordinal); // IP mode: the IP is the ID
        Assert.Equal("group0,127.0.0.9,0\ngroup1,127.0.0.2,0,1700000456\ngroup1,127.0.0.3,1700000123,0\n", File.ReadAllText(store.SyncTimestampsPath));
        Assert.StartsWith(c.Time.Seconds + " group1 127.0.0.4 4 \n", File.ReadAllText(Data(TrackerSysFiles.ChangelogFileName)), StringComparison.Ordinal);

        var restored = new ClusterRegistry(c.Options, c.Time);
        restored.ImportState(store.Load()!);
        Assert.False(store.LoadedLegacyJson);
        var ra = restored.FindStorage("group1", "127.0.0.2")!;
        Assert.Equal(StorageStatus.Offline, ra.Status);
        Assert.Equal(1_700_000_123, ra.SyncedFrom["127.0.0.3"]);
        Assert.Equal(1_700_000_456, restored.FindStorage("group1", "127.0.0.3")!.SyncedFrom["127.0.0.2"]);
        Assert.Equal(1_700_000_100, ra.UpTime); // from the side file
        Assert.Equal(StorageStatus.Deleted, restored.GetStatus("group1", "127.0.0.4")); // from the side file
        Assert.Equal(StorageStatus.Offline, restored.GetStatus("group0", "127.0.0.9"));
    }

    [Fact]
    public async Task Json_state_of_an_earlier_version_is_migrated_once()
    {
        var c = NewCluster();
        var a = c.Active("127.0.0.2");
        c.Active("127.0.0.3");
        c.Registry.SyncReport(a, [("127.0.0.3", 1_700_000_777)]);
        Directory.CreateDirectory(Path.Combine(_dir, "data"));
        File.WriteAllBytes(Data(ClusterStateStore.LegacyJsonFileName),
            System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(c.Registry.ExportState(), ClusterStateJsonContext.Default.ClusterState));

        var options = new TrackerOptions { BasePath = _dir, Port = 0, BindAddr = "127.0.0.71" };
        var service = new TrackerService(options, NullLogger<TrackerService>.Instance);
        await service.StartAsync(CancellationToken.None);
        try
        {
            Assert.Equal(StorageStatus.Offline, service.Registry.GetStatus("group1", "127.0.0.2"));
            Assert.Equal(1_700_000_777, service.Registry.FindStorage("group1", "127.0.0.2")!.SyncedFrom["127.0.0.3"]);
            Assert.True(File.Exists(Data(TrackerSysFiles.GroupsFileName)));
            Assert.False(File.Exists(Data(ClusterStateStore.LegacyJsonFileName)));
            Assert.True(File.Exists(Data(ClusterStateStore.LegacyJsonFileName + ".migrated")));
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
            await service.DisposeAsync();
        }

        // From now on the .dat files are the state: a stale JSON file put back is ignored.
        File.WriteAllText(Data(ClusterStateStore.LegacyJsonFileName), "{\"format_version\": 1, \"groups\": []}");
        var store = new ClusterStateStore(options);
        var state = store.Load()!;
        Assert.False(store.LoadedLegacyJson);
        Assert.Equal(2, Assert.Single(state.Groups).Storages.Count);
    }

    /// <summary>What a FastDFS 6.x tracker leaves in base_path/data, written by hand (no side file of ours).</summary>
    internal static void WriteCTrackerFiles(string dataDir, string group, string ipA, string ipB, int port, long markAFromB)
    {
        Directory.CreateDirectory(dataDir);
        File.WriteAllText(Path.Combine(dataDir, TrackerSysFiles.GroupsFileName),
            "# global section\n[Global]\n\tgroup_count=1\n\n"
            + $"# group: {group}\n[Group001]\n\tgroup_name={group}\n\tstorage_port={port}\n\tstorage_http_port=8888\n\tstore_path_count=1\n"
            + "\tsubdir_count_per_path=16\n\tcurrent_trunk_file_id=0\n\ttrunk_server=\n\tlast_trunk_server=\n\n");
        string Section(int n, string ip) =>
            $"# storage {ip}:{port}\n[Storage{n:000}]\n\tgroup_name={group}\n\tip_addr={ip}\n\tstatus=7\n\tversion=6.16\n\tjoin_time=1700000000\n"
            + $"\tstorage_port={port}\n\tstorage_http_port=8888\n\tdomain_name=\n\tsync_src_server=\n\tsync_until_timestamp=0\n\tstore_path_count=1\n"
            + "\tsubdir_count_per_path=16\n\tupload_priority=10\n\ttotal_mb=1000\n\tfree_mb=900\n\ttotal_upload_count=3\n\tsuccess_upload_count=3\n"
            + "\tlast_source_update=1700000300\n\tlast_sync_update=0\n\tlast_synced_timestamp=0\n\tlast_heart_beat_time=1700000400\n\tchangelog_offset=0\n\n";
        File.WriteAllText(Path.Combine(dataDir, TrackerSysFiles.ServersFileName),
            Section(1, ipA) + Section(2, ipB) + "\n# global section\n[Global]\n\tstorage_count=2\n");
        File.WriteAllText(Path.Combine(dataDir, TrackerSysFiles.SyncTimestampsFileName),
            $"{group},{ipA},0,0\n{group},{ipB},{markAFromB},0\n");
        File.WriteAllText(Path.Combine(dataDir, TrackerSysFiles.ChangelogFileName), "");
    }

    [Fact]
    public void Files_of_a_c_tracker_are_taken_over()
    {
        WriteCTrackerFiles(Path.Combine(_dir, "data"), "legacy", "127.0.0.5", "127.0.0.6", 23010, 1_700_000_222);
        var c = NewCluster();
        var store = new ClusterStateStore(c.Options);
        var state = store.Load()!;
        Assert.True(state.SavedAt > 0); // no side file: the files' age
        c.Registry.ImportState(state);

        var group = c.Registry.GetGroup("legacy")!;
        Assert.Equal((23010, 1, 16), (group.StoragePort, group.StorePathCount, group.SubdirCountPerPath));
        var a = c.Registry.FindStorage("legacy", "127.0.0.5")!;
        Assert.Equal(StorageStatus.Offline, a.Status); // ACTIVE in the file: offline until it reports here
        Assert.Equal(1_700_000_222, a.SyncedFrom["127.0.0.6"]);
        Assert.Empty(c.Registry.FindStorage("legacy", "127.0.0.6")!.SyncedFrom);

        // The storage reports and is in service again.
        var node = c.Join("127.0.0.5", Cluster.JoinRequest("legacy", port: 23010, paths: 1, subdirs: 16));
        c.Registry.Beat(node, default);
        Assert.Equal(StorageStatus.Active, c.Registry.GetStatus("legacy", "127.0.0.5"));
    }

    [Fact]
    public void Inconsistent_files_are_refused_as_fastdfs_refuses_them()
    {
        WriteCTrackerFiles(Path.Combine(_dir, "data"), "legacy", "127.0.0.5", "127.0.0.6", 23010, 1);
        var store = new ClusterStateStore(NewCluster().Options);
        File.WriteAllText(store.SyncTimestampsPath, "legacy,127.0.0.77,0,0\n");
        Assert.Contains("127.0.0.77", Assert.Throws<InvalidDataException>(store.Load).Message, StringComparison.Ordinal);
        File.WriteAllText(store.SyncTimestampsPath, "other,127.0.0.5,0,0\n");
        Assert.Contains("other", Assert.Throws<InvalidDataException>(store.Load).Message, StringComparison.Ordinal);
        File.WriteAllText(store.GroupsPath, "[Global]\ngroup_count=0\n");
        Assert.Contains("legacy", Assert.Throws<InvalidDataException>(store.Load).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unreadable_files_are_moved_aside_and_the_tracker_starts_empty()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "data"));
        File.WriteAllText(Data(TrackerSysFiles.GroupsFileName), "[Global]\ngroup_count=oops\n");
        var service = new TrackerService(new TrackerOptions { BasePath = _dir, Port = 0, BindAddr = "127.0.0.72" }, NullLogger<TrackerService>.Instance);
        await service.StartAsync(CancellationToken.None);
        try
        {
            Assert.Equal(0, service.Registry.GroupCount);
            Assert.False(File.Exists(Data(TrackerSysFiles.GroupsFileName)));
            string aside = Assert.Single(Directory.GetFiles(Path.Combine(_dir, "data"), TrackerSysFiles.GroupsFileName + ".bad-*"));
            Assert.Equal("[Global]\ngroup_count=oops\n", File.ReadAllText(aside));
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
            await service.DisposeAsync();
        }
    }

    [Fact]
    public void Changelog_is_answered_from_each_storages_offset_and_new_storages_start_at_the_end()
    {
        var c = NewCluster();
        var changelog = new StorageChangelog(Path.Combine(_dir, "data"));
        c.Registry.Changelog = changelog;
        var a = c.Active("127.0.0.2");
        var b = c.Join("127.0.0.3", Cluster.JoinRequest(init: true));
        c.Registry.ChangeStatus(b, StorageStatus.Offline);
        Assert.Empty(c.Registry.TakeChangelog(a));

        Assert.Equal(FdfsErrno.Success, c.Registry.DeleteStorage("group1", "127.0.0.3"));
        string line = c.Time.Seconds + " group1 127.0.0.3 4 \n";
        Assert.Equal(line, Encoding.UTF8.GetString(c.Registry.TakeChangelog(a)));
        Assert.Equal(line.Length, a.ChangelogOffset);
        Assert.Empty(c.Registry.TakeChangelog(a));

        // A storage joining afresh (INIT) does not replay what happened before it.
        var fresh = c.Join("127.0.0.4", Cluster.JoinRequest(init: true));
        Assert.Equal(changelog.Size, fresh.ChangelogOffset);
        Assert.Empty(c.Registry.TakeChangelog(fresh));

        // A changelog longer than one FastDFS packet comes in packet-sized pieces.
        for (int i = 0; i < 400; i++)
        {
            changelog.Append(new ChangelogEntry(1_700_000_000 + i, "group1", "127.0.0.3", StorageStatus.Deleted, ""));
        }

        var all = new List<byte>();
        byte[] piece;
        while ((piece = c.Registry.TakeChangelog(a)).Length > 0)
        {
            Assert.True(piece.Length <= TrackerSysFiles.MaxChangelogChunk);
            all.AddRange(piece);
        }

        Assert.Equal(400, StorageChangelogFile.Parse(Encoding.UTF8.GetString(all.ToArray()), out int skipped).Count);
        Assert.Equal(0, skipped);
    }

    [Fact]
    public void Ip_change_moves_the_record_and_is_logged()
    {
        var c = NewCluster();
        c.Registry.Changelog = new StorageChangelog(Path.Combine(_dir, "data"));
        var a = c.Active("127.0.0.2");
        var b = c.Active("127.0.0.3");
        c.Registry.SyncReport(a, [("127.0.0.3", 1_700_000_010)]);
        Assert.Equal(FdfsErrno.EBUSY, c.Registry.ReportIpChanged("group1", "127.0.0.3", "127.0.0.8"));
        c.Registry.ChangeStatus(b, StorageStatus.Offline);
        Assert.Equal(FdfsErrno.EEXIST, c.Registry.ReportIpChanged("group1", "127.0.0.3", "127.0.0.2"));
        Assert.Equal(FdfsErrno.ENOENT, c.Registry.ReportIpChanged("group1", "127.0.0.99", "127.0.0.8"));

        Assert.Equal(FdfsErrno.Success, c.Registry.ReportIpChanged("group1", "127.0.0.3", "127.0.0.8"));
        Assert.Equal(StorageStatus.IpChanged, c.Registry.GetStatus("group1", "127.0.0.3"));
        Assert.Equal(StorageStatus.Offline, c.Registry.GetStatus("group1", "127.0.0.8"));
        Assert.Equal(1_700_000_010, a.SyncedFrom["127.0.0.8"]); // the peer's mark follows the storage
        Assert.Equal(FdfsErrno.EALREADY, c.Registry.ReportIpChanged("group1", "127.0.0.3", "127.0.0.9"));
        Assert.Equal(FdfsErrno.ENOENT, c.Registry.DeleteStorage("group1", "127.0.0.3")); // as FastDFS: not deletable
        Assert.Equal(c.Time.Seconds + " group1 127.0.0.3 3 127.0.0.8\n", Encoding.UTF8.GetString(c.Registry.TakeChangelog(a)));
    }
}
