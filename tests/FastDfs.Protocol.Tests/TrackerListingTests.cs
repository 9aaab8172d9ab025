using System.Buffers.Binary;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>LIST_ONE_GROUP / LIST_ALL_GROUPS / LIST_STORAGE records and their request bodies (notes 3.2).</summary>
public class TrackerListingTests
{
    private const string Group1 = "67726f757031 00000000000000000000";

    // ---- Group record, 113 bytes ----

    private const string GroupGolden =
        "67726f757031 0000000000000000000000" + // 0   name 17
        "0000000000019000" + // 17  total_mb 102400
        "0000000000012c00" + // 25  free_mb 76800
        "0000000000000400" + // 33  reserved_mb 1024
        "0000000000000005" + // 41  trunk_free_mb
        "0000000000000002" + // 49  storage_count
        "00000000000059d8" + // 57  storage_port 23000
        "0000000000000003" + // 65  readable_server_count
        "0000000000000004" + // 73  writable_server_count
        "0000000000000006" + // 81  current_write_server
        "0000000000000007" + // 89  store_path_count
        "0000000000000100" + // 97  subdir_count_per_path 256
        "ffffffffffffffff"; //  105 current_trunk_file_id (-1: trunk disabled)

    private static GroupStat SampleGroup() => new()
    {
        Name = "group1",
        TotalMb = 102400,
        FreeMb = 76800,
        ReservedMb = 1024,
        TrunkFreeMb = 5,
        StorageCount = 2,
        StoragePort = 23000,
        ReadableServerCount = 3,
        WritableServerCount = 4,
        CurrentWriteServer = 6,
        StorePathCount = 7,
        SubdirCountPerPath = 256,
        CurrentTrunkFileId = -1,
    };

    [Fact]
    public void GroupStat_encodes_113_bytes()
    {
        Assert.Equal(113, GroupStat.Size);
        var golden = Hex.Bytes(GroupGolden);
        Assert.Equal(113, golden.Length);
        var buffer = new byte[113];
        SampleGroup().Write(buffer);
        Assert.Equal(golden, buffer);
    }

    [Fact]
    public void GroupStat_decodes()
    {
        Assert.Equal(SampleGroup(), GroupStat.Read(Hex.Bytes(GroupGolden)));
    }

    [Theory]
    [InlineData(17, 102400L)]
    [InlineData(25, 76800L)]
    [InlineData(33, 1024L)]
    [InlineData(41, 5L)]
    [InlineData(49, 2L)]
    [InlineData(57, 23000L)]
    [InlineData(65, 3L)]
    [InlineData(73, 4L)]
    [InlineData(81, 6L)]
    [InlineData(89, 7L)]
    [InlineData(97, 256L)]
    [InlineData(105, -1L)]
    public void GroupStat_fields_sit_at_their_table_offsets(int offset, long value)
    {
        var buffer = new byte[113];
        SampleGroup().Write(buffer);
        Assert.Equal(value, BinaryPrimitives.ReadInt64BigEndian(buffer.AsSpan(offset)));
    }

    [Fact]
    public void GroupStat_default_trunk_file_id_is_minus_one()
    {
        Assert.Equal(-1, new GroupStat { Name = "g" }.CurrentTrunkFileId);
    }

    [Fact]
    public void GroupStat_16_char_name_keeps_the_17th_byte_nul()
    {
        var buffer = Enumerable.Repeat((byte)0xAA, 113).ToArray();
        new GroupStat { Name = "groupname1234567" }.Write(buffer);
        Assert.Equal(Hex.Bytes("67726f75706e616d6531323334353637 00"), buffer[..17]);
    }

    [Fact]
    public void GroupStat_list_round_trip_and_length_check()
    {
        var second = SampleGroup() with { Name = "group2", CurrentTrunkFileId = 12 };
        var golden = Hex.Bytes(GroupGolden + GroupGolden.Replace("67726f757031", "67726f757032", StringComparison.Ordinal)[..^16] + "000000000000000c");
        Assert.Equal(golden, GroupStat.WriteAll([SampleGroup(), second]));
        Assert.Equal([SampleGroup(), second], GroupStat.ReadAll(golden));
        Assert.Empty(GroupStat.ReadAll([]));
        Assert.Throws<FdfsProtocolException>(() => GroupStat.ReadAll(new byte[112]));
        Assert.Throws<FdfsProtocolException>(() => GroupStat.ReadAll(new byte[105])); // pre-6.13.1 layout
    }

    // ---- Storage record, 487 bytes ----

    private static string StatsHex()
    {
        // 3 x L4 connection counters, then counter i = 0x0100 + i.
        var parts = new List<string> { "00000011", "00000012", "00000013" };
        for (int i = 0; i < 42; i++)
        {
            parts.Add(Hex.L8(0x0100 + i));
        }

        return string.Concat(parts);
    }

    private static StorageStats SampleStats()
    {
        var stats = new StorageStats { ConnectionAllocCount = 0x11, ConnectionCurrentCount = 0x12, ConnectionMaxCount = 0x13 };
        for (int i = 0; i < 42; i++)
        {
            stats[(StatCounter)i] = 0x0100 + i;
        }

        return stats;
    }

    private static string StorageGolden() => string.Concat(
        "07", //                                    0   status ACTIVE
        "06", //                                    1   rw_mode both
        "3132372e302e302e3300000000000000", //      2   id "127.0.0.3"
        "3132372e302e302e3300000000000000", //      18  ip
        "3132372e302e302e3400000000000000", //      34  sync source "127.0.0.4"
        "362e31362e310000", //                      50  version "6.16.1"
        "000000006b050000", //                      58  join_time
        "000000006b050100", //                      66  up_time
        "0000000000019000", //                      74  total_mb
        "0000000000012c00", //                      82  free_mb
        "0000000000000400", //                      90  reserved_mb
        "000000000000000a", //                      98  upload_priority
        "0000000000000002", //                      106 store_path_count
        "0000000000000100", //                      114 subdir_count_per_path
        "0000000000000001", //                      122 current_write_path
        "00000000000059d8", //                      130 storage_port
        StatsHex(), //                              138 stats 348
        "01"); //                                   486 is_trunk_server

    private static StorageInfo SampleStorage() => new()
    {
        Status = StorageStatus.Active,
        RwMode = StorageRwMode.Both,
        Id = "127.0.0.3",
        Ip = "127.0.0.3",
        SyncSourceId = "127.0.0.4",
        Version = "6.16.1",
        JoinTime = 0x6b050000,
        UpTime = 0x6b050100,
        TotalMb = 102400,
        FreeMb = 76800,
        ReservedMb = 1024,
        UploadPriority = 10,
        StorePathCount = 2,
        SubdirCountPerPath = 256,
        CurrentWritePath = 1,
        StoragePort = 23000,
        Stats = SampleStats(),
        IsTrunkServer = true,
    };

    [Fact]
    public void StorageInfo_encodes_487_bytes()
    {
        Assert.Equal(487, StorageInfo.Size);
        var golden = Hex.Bytes(StorageGolden());
        Assert.Equal(487, golden.Length);
        var buffer = new byte[487];
        SampleStorage().Write(buffer);
        Assert.Equal(Hex.Of(golden), Hex.Of(buffer));
    }

    [Fact]
    public void StorageInfo_decodes()
    {
        var decoded = StorageInfo.Read(Hex.Bytes(StorageGolden()));
        var expected = SampleStorage();
        Assert.Equal(expected.Status, decoded.Status);
        Assert.Equal(expected.RwMode, decoded.RwMode);
        Assert.Equal(expected.Id, decoded.Id);
        Assert.Equal(expected.Ip, decoded.Ip);
        Assert.Equal(expected.SyncSourceId, decoded.SyncSourceId);
        Assert.Equal(expected.Version, decoded.Version);
        Assert.Equal(expected.JoinTime, decoded.JoinTime);
        Assert.Equal(expected.UpTime, decoded.UpTime);
        Assert.Equal(expected.TotalMb, decoded.TotalMb);
        Assert.Equal(expected.FreeMb, decoded.FreeMb);
        Assert.Equal(expected.ReservedMb, decoded.ReservedMb);
        Assert.Equal(expected.UploadPriority, decoded.UploadPriority);
        Assert.Equal(expected.StorePathCount, decoded.StorePathCount);
        Assert.Equal(expected.SubdirCountPerPath, decoded.SubdirCountPerPath);
        Assert.Equal(expected.CurrentWritePath, decoded.CurrentWritePath);
        Assert.Equal(expected.StoragePort, decoded.StoragePort);
        Assert.True(decoded.IsTrunkServer);
        Assert.Equal(0x11, decoded.Stats.ConnectionAllocCount);
        Assert.Equal(0x12, decoded.Stats.ConnectionCurrentCount);
        Assert.Equal(0x13, decoded.Stats.ConnectionMaxCount);
        for (int i = 0; i < 42; i++)
        {
            Assert.Equal(0x0100 + i, decoded.Stats[(StatCounter)i]);
        }
    }

    [Theory]
    [InlineData(58, 0x6b050000L)]
    [InlineData(66, 0x6b050100L)]
    [InlineData(74, 102400L)]
    [InlineData(82, 76800L)]
    [InlineData(90, 1024L)]
    [InlineData(98, 10L)]
    [InlineData(106, 2L)]
    [InlineData(114, 256L)]
    [InlineData(122, 1L)]
    [InlineData(130, 23000L)]
    [InlineData(138 + 12, 0x0100L)] // total upload count
    [InlineData(138 + 12 + 41 * 8, 0x0100L + 41)] // last_heart_beat_time
    public void StorageInfo_fields_sit_at_their_table_offsets(int offset, long value)
    {
        var buffer = new byte[487];
        SampleStorage().Write(buffer);
        Assert.Equal(value, BinaryPrimitives.ReadInt64BigEndian(buffer.AsSpan(offset)));
    }

    [Fact]
    public void StorageInfo_text_and_flag_offsets()
    {
        var buffer = new byte[487];
        SampleStorage().Write(buffer);
        Assert.Equal(7, buffer[0]);
        Assert.Equal(6, buffer[1]);
        Assert.Equal((byte)'1', buffer[2]);
        Assert.Equal((byte)'1', buffer[18]);
        Assert.Equal((byte)'4', buffer[34 + 8]);
        Assert.Equal((byte)'6', buffer[50]);
        Assert.Equal(0x11, BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(138)));
        Assert.Equal(0x13, BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(146)));
        Assert.Equal(1, buffer[486]);
    }

    [Fact]
    public void StorageInfo_defaults_and_non_trunk_flag()
    {
        var storage = new StorageInfo { Id = "s1", Ip = "10.0.0.1" };
        var buffer = Enumerable.Repeat((byte)0xAA, 487).ToArray();
        storage.Write(buffer);
        Assert.Equal(0, buffer[486]);
        Assert.Equal((byte)StorageRwMode.Both, buffer[1]);
        Assert.Equal(Hex.Bytes("362e31362e310000"), buffer[50..58]);
    }

    [Fact]
    public void StorageInfo_list_round_trip_and_length_check()
    {
        var golden = Hex.Bytes(StorageGolden() + StorageGolden());
        Assert.Equal(golden, StorageInfo.WriteAll([SampleStorage(), SampleStorage()]));
        Assert.Equal(2, StorageInfo.ReadAll(golden).Count);
        Assert.Throws<FdfsProtocolException>(() => StorageInfo.ReadAll(new byte[486]));
        Assert.Throws<FdfsProtocolException>(() => StorageInfo.ReadAll(new byte[612])); // 5.x layout
    }

    [Theory]
    [InlineData(StorageRwMode.None, 0)]
    [InlineData(StorageRwMode.WriteOnly, 2)]
    [InlineData(StorageRwMode.ReadOnly, 4)]
    [InlineData(StorageRwMode.Both, 6)]
    public void Rw_mode_values_are_frozen(StorageRwMode mode, byte value) => Assert.Equal(value, (byte)mode);

    // ---- Statistics block, 348 bytes ----

    [Fact]
    public void StorageStats_encodes_348_bytes()
    {
        Assert.Equal(348, StorageStats.Size);
        Assert.Equal(Hex.Bytes(StatsHex()), SampleStats().ToArray());
    }

    [Fact]
    public void StorageStats_decodes_and_clones()
    {
        var stats = StorageStats.Read(Hex.Bytes(StatsHex()));
        Assert.Equal(Hex.Bytes(StatsHex()), stats.ToArray());
        Assert.Equal(Hex.Bytes(StatsHex()), stats.Clone().ToArray());
        Assert.Equal(0x0100 + 20, stats[StatCounter.TotalUploadBytes]);
    }

    [Fact]
    public void StorageStats_counter_order_matches_the_notes()
    {
        // Notes 3.2: total/success pairs of 10 counts, 6 byte counters, 3 file counters, then 4 timestamps.
        string[] expected =
        [
            "TotalUploadCount", "SuccessUploadCount", "TotalAppendCount", "SuccessAppendCount",
            "TotalModifyCount", "SuccessModifyCount", "TotalTruncateCount", "SuccessTruncateCount",
            "TotalSetMetaCount", "SuccessSetMetaCount", "TotalDeleteCount", "SuccessDeleteCount",
            "TotalDownloadCount", "SuccessDownloadCount", "TotalGetMetaCount", "SuccessGetMetaCount",
            "TotalCreateLinkCount", "SuccessCreateLinkCount", "TotalDeleteLinkCount", "SuccessDeleteLinkCount",
            "TotalUploadBytes", "SuccessUploadBytes", "TotalAppendBytes", "SuccessAppendBytes",
            "TotalModifyBytes", "SuccessModifyBytes", "TotalDownloadBytes", "SuccessDownloadBytes",
            "TotalSyncInBytes", "SuccessSyncInBytes", "TotalSyncOutBytes", "SuccessSyncOutBytes",
            "TotalFileOpenCount", "SuccessFileOpenCount", "TotalFileReadCount", "SuccessFileReadCount",
            "TotalFileWriteCount", "SuccessFileWriteCount",
            "LastSourceUpdate", "LastSyncUpdate", "LastSyncedTimestamp", "LastHeartBeatTime",
        ];
        Assert.Equal(expected, Enum.GetNames<StatCounter>());
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(i, (int)Enum.Parse<StatCounter>(expected[i]));
        }
    }

    [Theory]
    [InlineData(StatCounter.TotalUploadCount, 12)]
    [InlineData(StatCounter.SuccessDeleteLinkCount, 12 + 19 * 8)]
    [InlineData(StatCounter.TotalUploadBytes, 12 + 20 * 8)]
    [InlineData(StatCounter.SuccessSyncOutBytes, 12 + 31 * 8)]
    [InlineData(StatCounter.TotalFileOpenCount, 12 + 32 * 8)]
    [InlineData(StatCounter.LastSourceUpdate, 12 + 38 * 8)]
    [InlineData(StatCounter.LastHeartBeatTime, 340)]
    public void StorageStats_counter_offsets(StatCounter counter, int offset)
    {
        var stats = new StorageStats();
        stats[counter] = 0x0102030405060708;
        var bytes = stats.ToArray();
        Assert.Equal(Hex.Bytes("0102030405060708"), bytes[offset..(offset + 8)]);
        Assert.Equal(8, bytes.Count(b => b != 0));
    }

    [Fact]
    public void StorageStats_ref_updates_the_counter()
    {
        var stats = new StorageStats();
        Interlocked.Increment(ref stats.Ref(StatCounter.SuccessUploadCount));
        Assert.Equal(1, stats[StatCounter.SuccessUploadCount]);
        Assert.Equal(Hex.Bytes("0000000000000001"), stats.ToArray()[20..28]);
    }

    // ---- g16 [+ storage id] requests ----

    [Fact]
    public void GroupAndStorage_with_id_encodes_and_decodes()
    {
        var golden = Hex.Bytes(Group1 + "3132372e302e302e33");
        Assert.Equal(golden, new GroupAndStorageRequest("group1", "127.0.0.3").ToArray());
        Assert.Equal(new GroupAndStorageRequest("group1", "127.0.0.3"), GroupAndStorageRequest.Read(golden, idRequired: true));
        Assert.Equal(new GroupAndStorageRequest("group1", "127.0.0.3"), GroupAndStorageRequest.Read(golden, idRequired: false));
    }

    [Fact]
    public void GroupAndStorage_without_id()
    {
        var golden = Hex.Bytes(Group1);
        Assert.Equal(golden, new GroupAndStorageRequest("group1", null).ToArray());
        Assert.Equal(golden, new GroupAndStorageRequest("group1", string.Empty).ToArray());
        Assert.Equal(new GroupAndStorageRequest("group1", null), GroupAndStorageRequest.Read(golden, idRequired: false));
        Assert.Throws<FdfsProtocolException>(() => GroupAndStorageRequest.Read(golden, idRequired: true));
    }

    [Fact]
    public void GroupAndStorage_id_limits()
    {
        var fifteen = Hex.Bytes(Group1 + "313233343536373839303132333435");
        Assert.Equal("123456789012345", GroupAndStorageRequest.Read(fifteen, idRequired: true).StorageId);
        Assert.Throws<FdfsProtocolException>(() => GroupAndStorageRequest.Read(Hex.Bytes(Group1 + "31323334353637383930313233343536"), true));
        Assert.Throws<FdfsProtocolException>(() => new GroupAndStorageRequest("group1", "1234567890123456").ToArray());
        Assert.Throws<FdfsProtocolException>(() => GroupAndStorageRequest.Read(new byte[15], false));
    }
}
