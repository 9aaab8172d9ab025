using System.Buffers.Binary;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>
/// IPv6 response mode (<c>response_ip_addr_size = IPv6</c>, notes 2, 3.1, 3.2, 5.1, 11): query IP fields widen from
/// 15 to 45 bytes, the storage record's IP from 16 to 46 (517 bytes), file info's from 16 to 46 (70 bytes). Readers
/// tell the modes apart by length. The IPv4 layouts are pinned by the other golden tests, unchanged.
/// </summary>
public class IPv6ResponseTests
{
    private const string Group1 = "67726f757031 00000000000000000000";
    private const string Port23000 = "00000000000059d8";

    // "::1" and "2001:db8::7" NUL-padded to the 45-byte query field, spelled out by hand.
    private const string Ip6Loopback45 = "3a3a31" + "000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
    private const string Ip6Doc45 = "323030313a6462383a3a37" + "00000000000000000000000000000000000000000000000000000000000000000000";

    // The longest IPv6 text (45 chars) fills the query field with no NUL.
    private const string LongestIPv6 = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";

    [Fact]
    public void Field_sizes()
    {
        Assert.Equal(45, FdfsConstants.QueryIpSizeV6);
        Assert.Equal(45, Ip6Loopback45.Length / 2);
        Assert.Equal(45, Ip6Doc45.Length / 2);
        Assert.Equal(70, StoreTarget.SizeV6);
        Assert.Equal(517, StorageInfo.SizeV6);
        Assert.Equal(70, FileInfoResponse.SizeV6);
        Assert.Equal(15, QueryIp.Size(ipv6Fields: false));
        Assert.Equal(45, QueryIp.Size(ipv6Fields: true));
    }

    [Fact]
    public void StoreTarget_70_bytes_both_directions()
    {
        var golden = Hex.Bytes(Group1 + Ip6Loopback45 + Port23000 + "00");
        Assert.Equal(70, golden.Length);
        var target = new StoreTarget("group1", new ServerAddress("::1", 23000), 0);
        Assert.Equal(golden, target.ToArray(ipv6Fields: true));
        Assert.Equal(target, StoreTarget.Read(golden));
    }

    [Fact]
    public void StoreTarget_full_width_ipv6_field()
    {
        var golden = Hex.Bytes(Group1 + Hex.Text(LongestIPv6) + "000000000000ffff" + "01");
        var target = new StoreTarget("group1", new ServerAddress(LongestIPv6, 65535), 1);
        Assert.Equal(golden, target.ToArray(ipv6Fields: true));
        Assert.Equal(target, StoreTarget.Read(golden));
        Assert.Throws<FdfsProtocolException>(() => new StoreTarget("group1", new ServerAddress(LongestIPv6 + "0", 1), 0).ToArray(true));
    }

    [Fact]
    public void StoreTarget_ipv4_mode_is_the_default_and_refuses_long_ipv6()
    {
        var target = new StoreTarget("group1", new ServerAddress("127.0.0.3", 23000), 0);
        Assert.Equal(target.ToArray(), target.ToArray(ipv6Fields: false));
        Assert.Equal(40, target.ToArray().Length);
        Assert.Throws<FdfsProtocolException>(() => new StoreTarget("group1", new ServerAddress("2001:db8::1:2:3:4", 1), 0).ToArray());
    }

    [Theory]
    [InlineData(69)]
    [InlineData(71)]
    public void StoreTarget_lengths_around_70_throw(int length)
    {
        Assert.Throws<FdfsProtocolException>(() => StoreTarget.Read(new byte[length]));
    }

    [Fact]
    public void FetchOne_69_bytes_both_directions()
    {
        var golden = Hex.Bytes(Group1 + Ip6Loopback45 + Port23000);
        Assert.Equal(69, golden.Length);
        var servers = new GroupServers("group1", [new ServerAddress("::1", 23000)]);
        Assert.Equal(golden, servers.ToArray(ipv6Fields: true));

        var decoded = GroupServers.Read(golden, withStorePathIndex: false);
        Assert.Equal("group1", decoded.Group);
        Assert.Equal([new ServerAddress("::1", 23000)], decoded.Servers);
    }

    [Fact]
    public void FetchAll_and_StoreAll_53_bytes_a_server()
    {
        var fetchAll = Hex.Bytes(Group1 + Ip6Loopback45 + Port23000 + Ip6Doc45 + "0000000000005dc0");
        Assert.Equal(16 + 2 * 53, fetchAll.Length);
        var servers = new GroupServers("group1", [new ServerAddress("::1", 23000), new ServerAddress("2001:db8::7", 24000)]);
        Assert.Equal(fetchAll, servers.ToArray(ipv6Fields: true));
        Assert.Equal(servers.Servers, GroupServers.Read(fetchAll, withStorePathIndex: false).Servers);

        var storeAll = Hex.Bytes(Group1 + Ip6Loopback45 + Port23000 + Ip6Doc45 + "0000000000005dc0" + "02");
        var withIndex = servers with { StorePathIndex = 2 };
        Assert.Equal(storeAll, withIndex.ToArray(ipv6Fields: true));
        var decoded = GroupServers.Read(storeAll, withStorePathIndex: true);
        Assert.Equal(withIndex.Servers, decoded.Servers);
        Assert.Equal((byte)2, decoded.StorePathIndex);
    }

    [Fact]
    public void GroupServers_length_tells_the_mode_for_every_group_size()
    {
        // N x 23 (IPv4) and M x 53 (IPv6) never meet for up to 32 servers a group.
        for (int n = 1; n <= FdfsConstants.MaxServersPerGroup; n++)
        {
            var list = Enumerable.Range(0, n).Select(i => new ServerAddress("::" + (i + 1).ToString("x", System.Globalization.CultureInfo.InvariantCulture), 23000 + i)).ToList();
            var v4 = new GroupServers("g", list.Select(a => a with { Ip = "10.0.0." + a.Port % 250 }).ToList());
            var v6 = new GroupServers("g", list);
            Assert.Equal(v4.Servers, GroupServers.Read(v4.ToArray(), false).Servers);
            Assert.Equal(v6.Servers, GroupServers.Read(v6.ToArray(ipv6Fields: true), false).Servers);
        }
    }

    [Theory]
    [InlineData(16 + 52)]
    [InlineData(16 + 54)]
    [InlineData(16 + (2 * 53) - 1)]
    public void GroupServers_odd_ipv6_lengths_throw(int length)
    {
        Assert.Throws<FdfsProtocolException>(() => GroupServers.Read(new byte[length], withStorePathIndex: false));
    }

    // ---- Storage record, 517 bytes: the IP field (offset 18) is 46 bytes, everything after moves by 30 ----

    private static string StatsHex()
    {
        var parts = new List<string> { "00000021", "00000022", "00000023" };
        for (int i = 0; i < 42; i++)
        {
            parts.Add(Hex.L8(0x0200 + i));
        }

        return string.Concat(parts);
    }

    private static string StorageGoldenV6() => string.Concat(
        "07", //                                    0   status ACTIVE
        "06", //                                    1   rw_mode both
        "31303030303100000000000000000000", //      2   id "100001"
        "323030313a6462383a3a37" + Hex.Zeros(35), // 18 ip "2001:db8::7", 46 bytes
        "31303030303200000000000000000000", //      64  sync source "100002"
        "362e31362e310000", //                      80  version "6.16.1"
        "000000006b050000", //                      88  join_time
        "000000006b050100", //                      96  up_time
        "0000000000019000", //                      104 total_mb
        "0000000000012c00", //                      112 free_mb
        "0000000000000400", //                      120 reserved_mb
        "000000000000000a", //                      128 upload_priority
        "0000000000000001", //                      136 store_path_count
        "0000000000000100", //                      144 subdir_count_per_path
        "0000000000000000", //                      152 current_write_path
        "00000000000059d8", //                      160 storage_port
        StatsHex(), //                              168 stats 348
        "00"); //                                   516 is_trunk_server

    private static StorageInfo SampleStorageV6()
    {
        var stats = new StorageStats { ConnectionAllocCount = 0x21, ConnectionCurrentCount = 0x22, ConnectionMaxCount = 0x23 };
        for (int i = 0; i < 42; i++)
        {
            stats[(StatCounter)i] = 0x0200 + i;
        }

        return new StorageInfo
        {
            Status = StorageStatus.Active,
            RwMode = StorageRwMode.Both,
            Id = "100001",
            Ip = "2001:db8::7",
            SyncSourceId = "100002",
            JoinTime = 0x6b050000,
            UpTime = 0x6b050100,
            TotalMb = 102400,
            FreeMb = 76800,
            ReservedMb = 1024,
            UploadPriority = 10,
            StorePathCount = 1,
            SubdirCountPerPath = 256,
            CurrentWritePath = 0,
            StoragePort = 23000,
            Stats = stats,
        };
    }

    [Fact]
    public void StorageInfo_encodes_517_bytes()
    {
        var golden = Hex.Bytes(StorageGoldenV6());
        Assert.Equal(517, golden.Length);
        var buffer = new byte[517];
        SampleStorageV6().Write(buffer, ipv6Fields: true);
        Assert.Equal(Hex.Of(golden), Hex.Of(buffer));
        Assert.Equal(golden, StorageInfo.WriteAll([SampleStorageV6()], ipv6Fields: true));
    }

    [Fact]
    public void StorageInfo_decodes_517_bytes()
    {
        var decoded = StorageInfo.Read(Hex.Bytes(StorageGoldenV6()));
        var expected = SampleStorageV6();
        Assert.Equal("100001", decoded.Id);
        Assert.Equal("2001:db8::7", decoded.Ip);
        Assert.Equal("100002", decoded.SyncSourceId);
        Assert.Equal("6.16.1", decoded.Version);
        Assert.Equal(expected.JoinTime, decoded.JoinTime);
        Assert.Equal(expected.TotalMb, decoded.TotalMb);
        Assert.Equal(expected.StoragePort, decoded.StoragePort);
        Assert.Equal(0x23, decoded.Stats.ConnectionMaxCount);
        Assert.Equal(0x0200 + 41, decoded.Stats[(StatCounter)41]);
        Assert.False(decoded.IsTrunkServer);
    }

    [Fact]
    public void StorageInfo_ipv6_fields_sit_30_bytes_later()
    {
        var buffer = new byte[517];
        SampleStorageV6().Write(buffer, ipv6Fields: true);
        Assert.Equal((byte)'2', buffer[18]);
        Assert.Equal(0, buffer[18 + 45]);
        Assert.Equal((byte)'1', buffer[64]);
        Assert.Equal(23000, BinaryPrimitives.ReadInt64BigEndian(buffer.AsSpan(130 + 30)));
        Assert.Equal(0x21, BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(138 + 30)));
    }

    [Fact]
    public void StorageInfo_lists_read_either_mode_by_length()
    {
        var v6 = Hex.Bytes(StorageGoldenV6() + StorageGoldenV6());
        Assert.Equal(v6, StorageInfo.WriteAll([SampleStorageV6(), SampleStorageV6()], ipv6Fields: true));
        Assert.Equal(["2001:db8::7", "2001:db8::7"], StorageInfo.ReadAll(v6).Select(s => s.Ip));

        // 487 and 517 share no multiple below 33 records: every listing length names one mode.
        var v4Record = SampleStorageV6() with { Ip = "10.0.0.7" };
        for (int n = 1; n <= FdfsConstants.MaxServersPerGroup; n++)
        {
            var many = Enumerable.Repeat(v4Record, n).ToList();
            Assert.Equal(n, StorageInfo.ReadAll(StorageInfo.WriteAll(many)).Count(s => s.Ip == "10.0.0.7"));
            Assert.Equal(n, StorageInfo.ReadAll(StorageInfo.WriteAll(many, ipv6Fields: true)).Count(s => s.Ip == "10.0.0.7"));
        }

        Assert.Throws<FdfsProtocolException>(() => StorageInfo.ReadAll(new byte[516]));
        Assert.Throws<FdfsProtocolException>(() => StorageInfo.ReadAll(new byte[518]));
        Assert.Throws<FdfsProtocolException>(() => StorageInfo.Read(new byte[500]));
    }

    [Fact]
    public void StorageInfo_ipv4_mode_refuses_a_long_ipv6_address()
    {
        var buffer = new byte[StorageInfo.Size];
        Assert.Throws<FdfsProtocolException>(() => (SampleStorageV6() with { Ip = "2001:db8::1:2:3:4" }).Write(buffer));
    }

    // ---- QUERY_FILE_INFO, 70 bytes ----

    [Fact]
    public void FileInfo_encodes_70_bytes()
    {
        var golden = Hex.Concat("00000000000003e8", "000000006b05c082", "fffffffff7a1a378", "3a3a31", Hex.Zeros(43));
        Assert.Equal(70, golden.Length);
        var info = new FileInfoResponse(1000, 0x6b05c082, 0xf7a1a378, "::1");
        Assert.Equal(golden, info.ToArray(ipv6Fields: true));
        Assert.Equal(info, FileInfoResponse.Read(golden));
        Assert.Equal(40, info.ToArray().Length);
    }

    // ---- Selection: auto = IPv6 when storage_ids.conf has an IPv6 address ----

    [Fact]
    public void StorageIdMap_reports_ipv6_addresses()
    {
        Assert.False(StorageIdMap.Parse("100001 group1 127.0.0.3\n100002 group1 10.0.0.2,192.168.0.3:23001").HasIPv6Address);
        Assert.True(StorageIdMap.Parse("100001 group1 127.0.0.3\n100002 group1 [::1]:23001").HasIPv6Address);
        Assert.True(StorageIdMap.Parse("100002 group1 [2001:db8::7]").HasIPv6Address);
    }

    [Fact]
    public void QueryIp_fits()
    {
        Assert.True(QueryIp.Fits("192.168.100.200", ipv6Fields: false));
        Assert.False(QueryIp.Fits("2001:db8::1:2:3:4", ipv6Fields: false));
        Assert.True(QueryIp.Fits(LongestIPv6, ipv6Fields: true));
    }
}
