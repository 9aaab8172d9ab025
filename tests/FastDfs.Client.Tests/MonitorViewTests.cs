using FastDfs.Cli;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Spectre.Console;
using Xunit;

namespace FastDfs.Client.Tests;

/// <summary>`fdfs storages` / `fdfs groups` as functions of listing records: sync progress, totals, 80 columns.</summary>
public sealed class MonitorViewTests
{
    private const long Now = 1_800_000_000;

    private static StorageInfo Storage(string ip, long lastSourceUpdate = 0, long lastSynced = 0, StorageStatus status = StorageStatus.Active)
    {
        var stats = new StorageStats();
        stats[StatCounter.LastSourceUpdate] = lastSourceUpdate;
        stats[StatCounter.LastSyncedTimestamp] = lastSynced;
        stats[StatCounter.LastHeartBeatTime] = Now - 1;
        return new StorageInfo { Id = ip, Ip = ip, Status = status, StoragePort = 23000, Stats = stats };
    }

    [Fact]
    public void Sync_progress_is_measured_against_each_peers_last_change()
    {
        var a = Storage("10.0.0.1", lastSourceUpdate: Now - 10, lastSynced: Now - 100);
        var b = Storage("10.0.0.2", lastSourceUpdate: Now - 60, lastSynced: Now - 40);
        var c = Storage("10.0.0.3", lastSourceUpdate: 0, lastSynced: Now - 5);
        StorageInfo[] group = [a, b, c];

        // b has applied changes up to Now-40: a's last change (Now-10) is 30 s ahead of that, c has made none.
        var progress = MonitorCommands.SyncProgress.Of(b, group);
        Assert.Equal(30, progress.BehindSeconds);
        var fromA = Assert.Single(progress.Sources, x => x.Id == "10.0.0.1");
        Assert.Equal(30, fromA.BehindSeconds);
        Assert.Equal(Now - 40, fromA.SyncedUpTo);
        Assert.Contains("30 s behind", fromA.Text, StringComparison.Ordinal);
        var fromC = Assert.Single(progress.Sources, x => x.Id == "10.0.0.3");
        Assert.Equal(0, fromC.BehindSeconds);
        Assert.Contains("30 s behind", progress.Summary, StringComparison.Ordinal);

        // c's mark is past every peer's last change: caught up. Without the tracker's matrix the listing's one mark
        // stands in for every source.
        progress = MonitorCommands.SyncProgress.Of(c, group);
        Assert.Equal(0, progress.BehindSeconds);
        Assert.False(progress.PerSourceFromTracker);
        Assert.All(progress.Sources, x => Assert.Equal(0, x.BehindSeconds));
        Assert.Equal(Now - 5, progress.Sources.Single(x => x.Id == "10.0.0.2").SyncedUpTo);
    }

    [Fact]
    public void The_trackers_per_source_marks_replace_the_single_listing_mark()
    {
        var a = Storage("10.0.0.1", lastSourceUpdate: Now - 10);
        var b = Storage("10.0.0.2", lastSourceUpdate: Now - 60, lastSynced: Now - 40);
        var c = Storage("10.0.0.3", lastSourceUpdate: Now - 30);
        var marks = new Dictionary<string, long> { ["10.0.0.1"] = Now - 12, ["10.0.0.3"] = Now - 30 };

        var progress = MonitorCommands.SyncProgress.Of(b, [a, b, c], marks);
        Assert.True(progress.PerSourceFromTracker);
        var fromA = progress.Sources.Single(x => x.Id == "10.0.0.1");
        Assert.Equal(2, fromA.BehindSeconds);
        Assert.Equal(Now - 12, fromA.SyncedUpTo);
        Assert.Equal(0, progress.Sources.Single(x => x.Id == "10.0.0.3").BehindSeconds);
        Assert.Equal(2, progress.BehindSeconds);

        // A source missing from the tracker's row has never been synced from.
        progress = MonitorCommands.SyncProgress.Of(b, [a, b, c], new Dictionary<string, long> { ["10.0.0.1"] = Now });
        Assert.Null(progress.Sources.Single(x => x.Id == "10.0.0.3").BehindSeconds);
        Assert.Null(progress.BehindSeconds);
    }

    [Fact]
    public void Sync_timestamp_file_rows_are_sources_and_columns_destinations()
    {
        // Rows: group, source, then one column per storage of the group in row order (docs/tracker-state.md).
        var matrix = TrackerSyncMatrix.ParseSyncTimestamps("""
            group1,10.0.0.1,0,1800000005,0
            group1,10.0.0.2,1800000001,0,1800000002
            group1,10.0.0.3,0,0,0
            group2,10.0.1.1,0

            """);
        Assert.Equal(1_800_000_001, matrix[("group1", "10.0.0.1")]["10.0.0.2"]);
        Assert.Single(matrix[("group1", "10.0.0.1")]);
        Assert.Equal(1_800_000_005, matrix[("group1", "10.0.0.2")]["10.0.0.1"]);
        Assert.Equal(1_800_000_002, matrix[("group1", "10.0.0.3")]["10.0.0.2"]);
        Assert.False(matrix[("group1", "10.0.0.3")].ContainsKey("10.0.0.1"));
        Assert.Empty(matrix[("group2", "10.0.1.1")]);
        Assert.Throws<InvalidDataException>(() => TrackerSyncMatrix.ParseSyncTimestamps("group1,10.0.0.1,x\n"));
    }

    [Fact]
    public void Tracker_state_yields_the_sync_matrix_and_other_formats_none()
    {
        byte[] state = """
            {"format_version": 1, "saved_at": 1, "groups": [{"name": "group1", "storage_port": 23000, "storages": [
              {"ip": "10.0.0.1", "status": "Active", "synced_from": {"10.0.0.2": 1800000000}},
              {"ip": "10.0.0.2", "status": "Active", "synced_from": null}]}]}
            """u8.ToArray();
        var matrix = TrackerSyncMatrix.ParseLegacyJson(state);
        Assert.NotNull(matrix);
        Assert.Equal(1_800_000_000, matrix[("group1", "10.0.0.1")]["10.0.0.2"]);
        Assert.Empty(matrix[("group1", "10.0.0.2")]);

        Assert.Null(TrackerSyncMatrix.ParseLegacyJson("""{"format_version": 2, "groups": []}"""u8.ToArray()));
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => TrackerSyncMatrix.ParseLegacyJson("[Group001]\ngroup_name=group1\n"u8.ToArray()));
    }

    [Fact]
    public void Never_synced_and_lonely_storages_have_no_lag_figure()
    {
        var source = Storage("10.0.0.1", lastSourceUpdate: Now - 10);
        var fresh = Storage("10.0.0.2", status: StorageStatus.WaitSync);
        var progress = MonitorCommands.SyncProgress.Of(fresh, [source, fresh]);
        Assert.Null(progress.BehindSeconds);
        Assert.StartsWith("never synced", progress.Summary, StringComparison.Ordinal);
        Assert.Null(Assert.Single(progress.Sources).BehindSeconds);

        // The source itself: its peer has made no changes, so nothing to sync.
        progress = MonitorCommands.SyncProgress.Of(source, [source, fresh]);
        Assert.Equal(0, progress.BehindSeconds);

        // Deleted peers do not count; alone in a group there is nothing to sync.
        progress = MonitorCommands.SyncProgress.Of(source, [source, Storage("10.0.0.9", Now, 0, StorageStatus.Deleted)]);
        Assert.Null(progress.BehindSeconds);
        Assert.Empty(progress.Sources);
        Assert.Contains("no peers", progress.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Storages_view_fits_80_columns_with_the_widest_values()
    {
        var stats = new StorageStats { ConnectionAllocCount = int.MaxValue, ConnectionCurrentCount = int.MaxValue, ConnectionMaxCount = int.MaxValue };
        foreach (var counter in Enum.GetValues<StatCounter>())
        {
            stats[counter] = counter >= StatCounter.LastSourceUpdate ? Now - 86_400 * 400 : 99_999_999_999; // 1e11 operations or bytes
        }

        var wide = new StorageInfo
        {
            Id = "storage-id-0015",
            Ip = "255.255.255.255",
            Status = StorageStatus.WaitSync,
            StoragePort = 65535,
            Version = "6.16.100",
            SyncSourceId = "storage-id-0016",
            JoinTime = Now,
            UpTime = Now,
            TotalMb = 999_999_999_999,
            FreeMb = 999_999_999_999,
            ReservedMb = 999_999_999_999,
            UploadPriority = long.MinValue,
            StorePathCount = 256,
            SubdirCountPerPath = 256,
            CurrentWritePath = 255,
            Stats = stats,
            IsTrunkServer = true,
        };
        var peer = wide with { Id = "storage-id-0016", Ip = "255.255.255.254", Stats = stats.Clone() };
        peer.Stats[StatCounter.LastSyncedTimestamp] = 0;
        var group = new GroupStat
        {
            Name = "groupname0123456",
            TotalMb = 9_999_999_999,
            FreeMb = 9_999_999_999,
            ReservedMb = 9_999_999_999,
            StorageCount = 2,
            StoragePort = 65535,
            ReadableServerCount = 2,
            WritableServerCount = 2,
            StorePathCount = 256,
            SubdirCountPerPath = 256,
            CurrentWriteServer = 1,
            CurrentTrunkFileId = int.MaxValue,
        };

        var marks = new Dictionary<(string, string), IReadOnlyDictionary<string, long>>
        {
            [(group.Name, wide.Id)] = new Dictionary<string, long> { [peer.Id] = Now - 86_400 * 500 },
            [(group.Name, peer.Id)] = new Dictionary<string, long>(),
        };
        var lines = MonitorCommands.StoragesView([(group, [wide, peer])], Now, marks).Select(Markup.Remove).ToList();
        Assert.All(lines, l => Assert.True(l.Length <= 80, $"{l.Length} columns: '{l}'"));
        Assert.Contains(lines, l => l.StartsWith("  storage 2  255.255.255.254:65535  WAIT_SYNC  id storage-id-0016", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains(" 99,999,999,999 99,999,999,999", StringComparison.Ordinal)); // columns stay apart
        Assert.Contains(lines, l => l.Contains("from storage-id-0016", StringComparison.Ordinal));
    }

    [Fact]
    public void Groups_table_sums_capacity_and_fits_80_columns()
    {
        GroupStat[] groups =
        [
            new() { Name = "group1", TotalMb = 1_000, FreeMb = 400, ReservedMb = 10, StorageCount = 2, ReadableServerCount = 2, WritableServerCount = 2 },
            new() { Name = "groupname0123456", TotalMb = 9_999_999_999, FreeMb = 9_999_999_000, ReservedMb = 99_999_999, StorageCount = 1 },
        ];
        var lines = MonitorCommands.GroupTable(groups).ToList();
        Assert.All(lines, l => Assert.True(l.Length <= 80, $"{l.Length} columns: '{l}'"));
        Assert.StartsWith("group1 ", lines[1], StringComparison.Ordinal);
        Assert.Contains("40%", lines[1], StringComparison.Ordinal);
        string total = lines[^1];
        Assert.StartsWith("total (2)", total, StringComparison.Ordinal);
        Assert.Contains("10,000,000,999", total, StringComparison.Ordinal); // 10 PB
        Assert.Contains("9,999,999,400", total, StringComparison.Ordinal);
        Assert.Contains("100,000,009", total, StringComparison.Ordinal);
    }

    [Fact]
    public void Status_names_are_fdfs_monitors()
    {
        Assert.Equal("WAIT_SYNC", MonitorCommands.StatusName(StorageStatus.WaitSync));
        Assert.Equal("IP_CHANGED", MonitorCommands.StatusName(StorageStatus.IpChanged));
        Assert.Equal("ACTIVE", MonitorCommands.StatusName(StorageStatus.Active));
        Assert.Equal("UNKNOWN(42)", MonitorCommands.StatusName((StorageStatus)42));
    }
}
