using FastDfs.Protocol.Messages;
using FastDfs.Protocol.TrackerState;
using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>
/// Golden text of FastDFS's tracker state files, written by hand from docs/tracker-state.md (tracker_mem.c's save
/// functions: tab-indented <c>key=value</c>, sections numbered %03d, comments before each section).
/// </summary>
public sealed class TrackerStateFilesTests
{
    private const string GroupsGolden =
        "# global section\n[Global]\n\tgroup_count=2\n\n"
        + "# group: group1\n[Group001]\n\tgroup_name=group1\n\tstorage_port=23000\n\tstorage_http_port=8888\n"
        + "\tstore_path_count=2\n\tsubdir_count_per_path=256\n\tcurrent_trunk_file_id=0\n\ttrunk_server=\n\tlast_trunk_server=\n\n"
        + "# group: group2\n[Group002]\n\tgroup_name=group2\n\tstorage_port=23001\n\tstorage_http_port=0\n"
        + "\tstore_path_count=1\n\tsubdir_count_per_path=16\n\tcurrent_trunk_file_id=3\n\ttrunk_server=100001\n\tlast_trunk_server=100001\n\n";

    private static string StorageSection(int number, string? id, string group, string ip, int status, string source, long offset) =>
        $"# storage {ip}:23000\n[Storage{number:000}]\n" + (id is null ? "" : $"\tid={id}\n")
        + $"\tgroup_name={group}\n\tip_addr={ip}\n\tstatus={status}\n\tversion=6.16\n\tjoin_time=1700000000\n"
        + "\tstorage_port=23000\n\tstorage_http_port=0\n\tdomain_name=\n"
        + $"\tsync_src_server={source}\n\tsync_until_timestamp={(source.Length > 0 ? 1700000100 : 0)}\n"
        + "\tstore_path_count=2\n\tsubdir_count_per_path=256\n\tupload_priority=10\n\ttotal_mb=1000\n\tfree_mb=800\n"
        + "\ttotal_upload_count=5\n\tsuccess_upload_count=4\n\ttotal_append_count=0\n\tsuccess_append_count=0\n"
        + "\ttotal_set_meta_count=0\n\tsuccess_set_meta_count=0\n\ttotal_delete_count=0\n\tsuccess_delete_count=0\n"
        + "\ttotal_download_count=0\n\tsuccess_download_count=0\n\ttotal_get_meta_count=0\n\tsuccess_get_meta_count=0\n"
        + "\ttotal_create_link_count=0\n\tsuccess_create_link_count=0\n\ttotal_delete_link_count=0\n\tsuccess_delete_link_count=0\n"
        + "\ttotal_upload_bytes=0\n\tsuccess_upload_bytes=0\n\ttotal_append_bytes=0\n\tsuccess_append_bytes=0\n"
        + "\ttotal_download_bytes=0\n\tsuccess_download_bytes=0\n\ttotal_sync_in_bytes=0\n\tsuccess_sync_in_bytes=0\n"
        + "\ttotal_sync_out_bytes=0\n\tsuccess_sync_out_bytes=0\n\ttotal_file_open_count=0\n\tsuccess_file_open_count=0\n"
        + "\ttotal_file_read_count=0\n\tsuccess_file_read_count=0\n\ttotal_file_write_count=0\n\tsuccess_file_write_count=0\n"
        + $"\tlast_source_update=0\n\tlast_sync_update=0\n\tlast_synced_timestamp=1700000050\n\tlast_heart_beat_time=1700000200\n\tchangelog_offset={offset}\n\n";

    private static TrackerStorageEntry Entry(string? id, string group, string ip, StorageStatus status, string source, long offset)
    {
        var counters = new long[32];
        counters[0] = 5;
        counters[1] = 4;
        return new TrackerStorageEntry(group, ip)
        {
            Id = id,
            Status = status,
            Version = "6.16",
            JoinTime = 1_700_000_000,
            StoragePort = 23000,
            SyncSrcServer = source,
            SyncUntilTimestamp = source.Length > 0 ? 1_700_000_100 : 0,
            StorePathCount = 2,
            SubdirCountPerPath = 256,
            UploadPriority = 10,
            TotalMb = 1000,
            FreeMb = 800,
            Counters = counters,
            LastSyncedTimestamp = 1_700_000_050,
            LastHeartBeatTime = 1_700_000_200,
            ChangelogOffset = offset,
        };
    }

    [Fact]
    public void Groups_file_is_written_and_read_as_fastdfs_writes_it()
    {
        TrackerGroupEntry[] groups =
        [
            new("group1") { StoragePort = 23000, StorageHttpPort = 8888, StorePathCount = 2, SubdirCountPerPath = 256 },
            new("group2") { StoragePort = 23001, StorePathCount = 1, SubdirCountPerPath = 16, CurrentTrunkFileId = 3, TrunkServer = "100001", LastTrunkServer = "100001" },
        ];
        Assert.Equal(GroupsGolden, TrackerGroupsFile.Format(groups));
        Assert.Equal(groups, TrackerGroupsFile.Parse(GroupsGolden));
        Assert.Equal("# global section\n[Global]\n\tgroup_count=0\n\n", TrackerGroupsFile.Format([]));
    }

    [Fact]
    public void Servers_file_is_written_and_read_as_fastdfs_writes_it()
    {
        string golden = StorageSection(1, null, "group1", "10.0.0.1", 7, "", 0)
            + StorageSection(2, null, "group1", "10.0.0.2", 1, "10.0.0.1", 96)
            + "\n# global section\n[Global]\n\tstorage_count=2\n";
        TrackerStorageEntry[] entries =
        [
            Entry(null, "group1", "10.0.0.1", StorageStatus.Active, "", 0),
            Entry(null, "group1", "10.0.0.2", StorageStatus.WaitSync, "10.0.0.1", 96),
        ];
        Assert.Equal(golden, TrackerServersFile.Format(entries));

        var parsed = TrackerServersFile.Parse(golden);
        Assert.Equal(2, parsed.Count);
        Assert.Null(parsed[0].Id);
        Assert.Equal(StorageStatus.WaitSync, parsed[1].Status);
        Assert.Equal("10.0.0.1", parsed[1].SyncSrcServer);
        Assert.Equal(96, parsed[1].ChangelogOffset);
        Assert.Equal(1_700_000_200, parsed[0].LastHeartBeatTime);
        Assert.Equal([5L, 4L], parsed[0].Counters![..2]);
        Assert.Equal(StatCounter.TotalUploadCount, TrackerServersFile.CounterKeys[0].Counter);
        Assert.Equal(StatCounter.SuccessFileWriteCount, TrackerServersFile.CounterKeys[^1].Counter);
    }

    [Fact]
    public void Servers_file_carries_ids_only_when_given_and_reads_sparse_sections()
    {
        string withId = StorageSection(1, "100001", "group1", "10.0.0.1", 7, "", 0) + "\n# global section\n[Global]\n\tstorage_count=1\n";
        Assert.Equal(withId, TrackerServersFile.Format([Entry("100001", "group1", "10.0.0.1", StorageStatus.Active, "", 0)]));
        Assert.Equal("100001", Assert.Single(TrackerServersFile.Parse(withId)).Id);

        // Older FastDFS versions wrote fewer keys; absent numbers read as 0 (iniGetIntValue's default).
        var sparse = Assert.Single(TrackerServersFile.Parse("[Storage001]\ngroup_name=g\nip_addr = 10.0.0.9 \nstatus=5\n[Global]\nstorage_count=1\n"));
        Assert.Equal(("g", "10.0.0.9", StorageStatus.Offline, 0L, 0), (sparse.Group, sparse.IpAddr, sparse.Status, sparse.JoinTime, sparse.StoragePort));
        Assert.Equal("\n# global section\n[Global]\n\tstorage_count=0\n", TrackerServersFile.Format([]));
    }

    [Theory]
    [InlineData("[Global]\n", "storage_count")]
    [InlineData("[Global]\nstorage_count=1\n", "group_name")]
    [InlineData("[Global]\nstorage_count=1\n[Storage001]\ngroup_name=g\n", "ip_addr")]
    [InlineData("[Global]\nstorage_count=1\n[Storage001]\ngroup_name=g\nip_addr=1.2.3.4\nstatus=x\n", "status")]
    public void Bad_servers_files_are_refused_with_the_reason(string text, string mentioned)
    {
        var e = Assert.Throws<InvalidDataException>(() => TrackerServersFile.Parse(text));
        Assert.Contains(mentioned, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[Global]\n", "group_count")]
    [InlineData("[Global]\ngroup_count=1\n", "group_name")]
    [InlineData("[Global]\ngroup_count=2\n[Group001]\ngroup_name=g\n[Group002]\ngroup_name=g\n", "duplicate")]
    [InlineData("[Global]\ngroup_count=1\n[Group001]\ngroup_name=bad name\n", "invalid")]
    public void Bad_groups_files_are_refused_with_the_reason(string text, string mentioned)
    {
        var e = Assert.Throws<InvalidDataException>(() => TrackerGroupsFile.Parse(text));
        Assert.Contains(mentioned, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sync_timestamp_rows_are_comma_separated()
    {
        const string golden = "group1,10.0.0.1,0,1700000001\ngroup1,10.0.0.2,1700000002,0\n";
        SyncTimestampRow[] rows = [new("group1", "10.0.0.1", [0, 1_700_000_001]), new("group1", "10.0.0.2", [1_700_000_002, 0])];
        Assert.Equal(golden, SyncTimestampsFile.Format(rows));
        var parsed = SyncTimestampsFile.Parse(golden + "\n");
        Assert.Equal(2, parsed.Count);
        Assert.Equal(("group1", "10.0.0.2"), (parsed[1].Group, parsed[1].SourceId));
        Assert.Equal([1_700_000_002L, 0L], parsed[1].Timestamps);
        Assert.Equal(12, Assert.Single(SyncTimestampsFile.Parse("g , s , 12\n")).Timestamps[0]);
        Assert.Throws<InvalidDataException>(() => SyncTimestampsFile.Parse("group1,10.0.0.1\n"));
        Assert.Throws<InvalidDataException>(() => SyncTimestampsFile.Parse("group1,10.0.0.1,12x\n"));
    }

    [Fact]
    public void Changelog_lines_have_five_space_separated_fields()
    {
        var deleted = new ChangelogEntry(1_700_000_000, "group1", "10.0.0.2", StorageStatus.Deleted, "");
        var moved = new ChangelogEntry(1_700_000_001, "group1", "10.0.0.3", StorageStatus.IpChanged, "10.0.0.4");
        Assert.Equal("1700000000 group1 10.0.0.2 4 \n", deleted.ToLine());
        Assert.Equal("1700000001 group1 10.0.0.3 3 10.0.0.4\n", moved.ToLine());

        var parsed = StorageChangelogFile.Parse(deleted.ToLine() + "garbage line\n" + moved.ToLine(), out int skipped);
        Assert.Equal([deleted, moved], parsed);
        Assert.Equal(1, skipped);
    }

    [Fact]
    public void Sys_file_names_and_chunk_limits_match_fastdfs()
    {
        Assert.Equal(["storage_groups_new.dat", "storage_servers_new.dat", "storage_sync_timestamp.dat", "storage_changelog.dat"], TrackerSysFiles.Names);
        Assert.Equal(8173, TrackerSysFiles.MaxChunkSize);
        Assert.Equal(8182, TrackerSysFiles.MaxChangelogChunk);
    }
}
