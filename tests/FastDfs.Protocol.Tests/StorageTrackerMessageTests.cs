using System.Buffers.Binary;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>Storage -> tracker messages: join, brief records, change notifications, disk usage (notes 3.3).</summary>
public class StorageTrackerMessageTests
{
    // ---- JOIN: 145-byte record + "host:port\n" per tracker ----

    private const string JoinGolden =
        "67726f757031 0000000000000000000000" + //          0   group name 17
        "00000000000059d8" + //                            17  storage_port 23000
        "0000000000000002" + //                            25  store_path_count
        "0000000000000100" + //                            33  subdir_count_per_path
        "000000000000000a" + //                            41  upload_priority
        "000000006b050000" + //                            49  join_time
        "000000006b050100" + //                            57  up_time
        "362e31362e310000" + //                            65  version 8
        "01" + //                                          73  init_flag
        "06" + //                                          74  status ONLINE
        "3132372e302e302e3300000000000000" + //            75  storage id 16
        "3132372e302e302e32" + "00000000000000000000000000000000000000000000000000000000000000000000000000" + // 91 tracker ip 46
        "0000000000000002"; //                             137 tracker_count

    private const string JoinLines = "3132372e302e302e323a32323132320a" + "3132372e302e302e353a32323132320a"; // 127.0.0.2:22122\n 127.0.0.5:22122\n

    private static StorageJoinRequest SampleJoin() => new()
    {
        Group = "group1",
        StoragePort = 23000,
        StorePathCount = 2,
        SubdirCountPerPath = 256,
        UploadPriority = 10,
        JoinTime = 0x6b050000,
        UpTime = 0x6b050100,
        Version = "6.16.1",
        InitFlag = true,
        Status = StorageStatus.Online,
        StorageId = "127.0.0.3",
        CurrentTrackerIp = "127.0.0.2",
        Trackers = ["127.0.0.2:22122", "127.0.0.5:22122"],
    };

    [Fact]
    public void Join_record_is_145_bytes()
    {
        Assert.Equal(145, StorageJoinRequest.FixedSize);
        Assert.Equal(145, Hex.Bytes(JoinGolden).Length);
    }

    [Fact]
    public void Join_encodes()
    {
        Assert.Equal(Hex.Of(Hex.Bytes(JoinGolden + JoinLines)), Hex.Of(SampleJoin().ToArray()));
    }

    [Fact]
    public void Join_decodes()
    {
        var join = StorageJoinRequest.Read(Hex.Bytes(JoinGolden + JoinLines));
        var expected = SampleJoin();
        Assert.Equal(expected.Group, join.Group);
        Assert.Equal(expected.StoragePort, join.StoragePort);
        Assert.Equal(expected.StorePathCount, join.StorePathCount);
        Assert.Equal(expected.SubdirCountPerPath, join.SubdirCountPerPath);
        Assert.Equal(expected.UploadPriority, join.UploadPriority);
        Assert.Equal(expected.JoinTime, join.JoinTime);
        Assert.Equal(expected.UpTime, join.UpTime);
        Assert.Equal(expected.Version, join.Version);
        Assert.True(join.InitFlag);
        Assert.Equal(StorageStatus.Online, join.Status);
        Assert.Equal(expected.StorageId, join.StorageId);
        Assert.Equal(expected.CurrentTrackerIp, join.CurrentTrackerIp);
        Assert.Equal(expected.Trackers, join.Trackers);
    }

    [Theory]
    [InlineData(17, 23000L)]
    [InlineData(25, 2L)]
    [InlineData(33, 256L)]
    [InlineData(41, 10L)]
    [InlineData(49, 0x6b050000L)]
    [InlineData(57, 0x6b050100L)]
    [InlineData(137, 2L)]
    public void Join_fields_sit_at_their_offsets(int offset, long value)
    {
        var bytes = SampleJoin().ToArray();
        Assert.Equal(value, BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(offset)));
    }

    [Fact]
    public void Join_byte_fields_sit_at_their_offsets()
    {
        var bytes = SampleJoin().ToArray();
        Assert.Equal(0, bytes[16]); // group NUL
        Assert.Equal((byte)'6', bytes[65]);
        Assert.Equal(1, bytes[73]);
        Assert.Equal(6, bytes[74]);
        Assert.Equal((byte)'1', bytes[75]);
        Assert.Equal((byte)'1', bytes[91]);
        Assert.Equal((byte)'1', bytes[145]);
    }

    [Fact]
    public void Join_decodes_crlf_free_lines_and_tolerates_missing_final_newline()
    {
        var join = StorageJoinRequest.Read(Hex.Bytes(JoinGolden + "3132372e302e302e323a3232313232"));
        Assert.Equal(["127.0.0.2:22122"], join.Trackers);
    }

    [Theory]
    [InlineData("0000000000000000")]
    [InlineData("0000000000000011")]
    [InlineData("ffffffffffffffff")]
    public void Join_tracker_count_out_of_range_is_EINVAL(string count)
    {
        var body = Hex.Bytes(JoinGolden[..^16] + count + JoinLines);
        var ex = Assert.Throws<FdfsProtocolException>(() => StorageJoinRequest.Read(body));
        Assert.Equal(FdfsErrno.EINVAL, ex.Errno);
    }

    [Fact]
    public void Join_shorter_than_record_throws()
    {
        Assert.Throws<FdfsProtocolException>(() => StorageJoinRequest.Read(Hex.Bytes(JoinGolden).AsSpan(0, 144)));
    }

    // ---- JOIN response: status 1 + sync source id 16 ----

    [Fact]
    public void JoinResponse_encodes_and_decodes()
    {
        var golden = Hex.Bytes("01 | 3132372e302e302e3400000000000000");
        Assert.Equal(17, StorageJoinResponse.Size);
        Assert.Equal(golden, new StorageJoinResponse(StorageStatus.WaitSync, "127.0.0.4").ToArray());
        Assert.Equal(new StorageJoinResponse(StorageStatus.WaitSync, "127.0.0.4"), StorageJoinResponse.Read(golden));
    }

    [Fact]
    public void JoinResponse_without_source()
    {
        var golden = Hex.Bytes("07" + Hex.Zeros(16));
        Assert.Equal(golden, new StorageJoinResponse(StorageStatus.Active, string.Empty).ToArray());
        Assert.Equal(new StorageJoinResponse(StorageStatus.Active, string.Empty), StorageJoinResponse.Read(golden));
    }

    // ---- Brief record: status 1 + port L4 + id 16 + ip 46 = 67 ----

    private static string BriefHex(string status, string port, string idHex, string ipHex) =>
        status + port + idHex + ipHex;

    private static readonly string BriefA = BriefHex(
        "07", "000059d8", "3132372e302e302e3300000000000000", "3132372e302e302e33" + Hex.Zeros(46 - 9));

    private static readonly string BriefB = BriefHex(
        "05", "00005dc0", "3132372e302e302e3400000000000000", "3132372e302e302e34" + Hex.Zeros(46 - 9));

    private static readonly string BriefLeader = BriefHex(
        "00", "00005662", Hex.Zeros(16), "3132372e302e302e32" + Hex.Zeros(46 - 9));

    private static readonly StorageBrief A = new(StorageStatus.Active, 23000, "127.0.0.3", "127.0.0.3");
    private static readonly StorageBrief B = new(StorageStatus.Offline, 24000, "127.0.0.4", "127.0.0.4");
    private static readonly StorageBrief Leader = new(StorageStatus.Init, 22114, string.Empty, "127.0.0.2");
    private static readonly StorageBrief NoTrunk = new(StorageStatus.Init, 0, string.Empty, string.Empty);

    [Fact]
    public void Brief_encodes_and_decodes()
    {
        Assert.Equal(67, StorageBrief.Size);
        var golden = Hex.Bytes(BriefA);
        Assert.Equal(67, golden.Length);
        var buffer = new byte[67];
        A.Write(buffer);
        Assert.Equal(golden, buffer);
        Assert.Equal(A, StorageBrief.Read(golden));
    }

    [Fact]
    public void Brief_all_zero_is_the_empty_record()
    {
        Assert.Equal(NoTrunk, StorageBrief.Read(new byte[67]));
    }

    // ---- Change notification ----

    [Fact]
    public void Nothing_changed_is_an_empty_body()
    {
        Assert.Empty(ChangeNotification.Nothing.ToArray());
        var decoded = ChangeNotification.Read([]);
        Assert.True(decoded.IsEmpty);
        Assert.Null(decoded.Leader);
        Assert.Null(decoded.TrunkServer);
        Assert.Null(decoded.GroupStorages);
    }

    public static TheoryData<int> AllFlagCombinations => new() { 1, 2, 3, 4, 5, 6, 7 };

    [Theory]
    [MemberData(nameof(AllFlagCombinations))]
    public void Each_flag_combination_encodes_and_decodes(int flags)
    {
        bool leader = (flags & 1) != 0, trunk = (flags & 2) != 0, group = (flags & 4) != 0;
        string hex = flags.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)
            + (leader ? BriefLeader : string.Empty)
            + (trunk ? BriefA : string.Empty)
            + (group ? BriefA + BriefB : string.Empty);
        var notification = new ChangeNotification(leader ? Leader : null, trunk ? A : null, group ? [A, B] : null);

        var golden = Hex.Bytes(hex);
        Assert.Equal(1 + 67 * ((leader ? 1 : 0) + (trunk ? 1 : 0) + (group ? 2 : 0)), golden.Length);
        Assert.Equal(Hex.Of(golden), Hex.Of(notification.ToArray()));

        var decoded = ChangeNotification.Read(golden);
        Assert.Equal(notification.Leader, decoded.Leader);
        Assert.Equal(notification.TrunkServer, decoded.TrunkServer);
        if (group)
        {
            Assert.Equal([A, B], decoded.GroupStorages!);
        }
        else
        {
            Assert.Null(decoded.GroupStorages);
        }
    }

    [Fact]
    public void Trunk_server_cleared_is_an_all_zero_record()
    {
        var golden = Hex.Bytes("02" + Hex.Zeros(67));
        Assert.Equal(golden, new ChangeNotification(null, NoTrunk, null).ToArray());
        Assert.Equal(NoTrunk, ChangeNotification.Read(golden).TrunkServer);
    }

    [Fact]
    public void Group_flag_with_one_storage()
    {
        var golden = Hex.Bytes("04" + BriefB);
        Assert.Equal(golden, new ChangeNotification(null, null, [B]).ToArray());
        Assert.Equal([B], ChangeNotification.Read(golden).GroupStorages!);
    }

    [Theory]
    [InlineData("01")] // leader flag without the record
    [InlineData("03")]
    [InlineData("02 00")]
    public void Flag_without_its_record_throws(string hex)
    {
        Assert.Throws<FdfsProtocolException>(() => ChangeNotification.Read(Hex.Bytes(hex)));
    }

    [Fact]
    public void Group_records_with_trailing_bytes_throw()
    {
        Assert.Throws<FdfsProtocolException>(() => ChangeNotification.Read(Hex.Bytes("04" + BriefA + "00")));
    }

    // ---- Disk usage report: per path total_mb L8 + free_mb L8 ----

    [Fact]
    public void DiskUsage_encodes_and_decodes()
    {
        var golden = Hex.Bytes("0000000000019000 0000000000012c00 | 0000000000000400 0000000000000000");
        var paths = new List<(long TotalMb, long FreeMb)> { (102400, 76800), (1024, 0) };
        Assert.Equal(golden, DiskUsageReport.Encode(paths));
        Assert.Equal(paths, DiskUsageReport.Decode(golden, 2));
    }

    [Theory]
    [InlineData(31, 2)]
    [InlineData(33, 2)]
    [InlineData(16, 2)]
    [InlineData(32, 1)]
    public void DiskUsage_wrong_length_throws(int length, int paths)
    {
        Assert.Throws<FdfsProtocolException>(() => DiskUsageReport.Decode(new byte[length], paths));
    }
}
