using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>Tracker client-facing query responses (notes 3.1).</summary>
public class TrackerQueryTests
{
    private const string Group1 = "67726f757031 00000000000000000000";
    private const string Ip127_0_0_3 = "3132372e302e302e33 000000000000"; // ip15
    private const string Ip127_0_0_4 = "3132372e302e302e34 000000000000";
    private const string Port23000 = "00000000000059d8";

    // Observed single-storage answer to QUERY_STORE_WITHOUT_GROUP_ONE (notes 3.1), verbatim.
    private const string ObservedStore = "67726f757031 00000000000000000000 | 3132372e302e302e33 000000000000 | 00000000000059d8 | 00";

    [Fact]
    public void StoreTarget_decodes_observed_40_bytes()
    {
        var golden = Hex.Bytes(ObservedStore);
        Assert.Equal(40, golden.Length);
        Assert.Equal(new StoreTarget("group1", new ServerAddress("127.0.0.3", 23000), 0), StoreTarget.Read(golden));
    }

    [Fact]
    public void StoreTarget_encodes_observed_40_bytes()
    {
        Assert.Equal(40, StoreTarget.Size);
        Assert.Equal(Hex.Bytes(ObservedStore), new StoreTarget("group1", new ServerAddress("127.0.0.3", 23000), 0).ToArray());
    }

    [Fact]
    public void StoreTarget_full_width_fields()
    {
        // A 16-char group fills its field, a 15-char IP fills ip15: no NUL terminators.
        string hex = "47524f555047524f555047524f555031" + "3139322e3136382e3130302e323030" + "000000000000ffff" + "fe";
        var target = new StoreTarget("GROUPGROUPGROUP1", new ServerAddress("192.168.100.200", 65535), 0xFE);
        Assert.Equal(Hex.Bytes(hex), target.ToArray());
        Assert.Equal(target, StoreTarget.Read(Hex.Bytes(hex)));
    }

    [Theory]
    [InlineData(39)]
    [InlineData(41)]
    [InlineData(0)]
    public void StoreTarget_wrong_length_throws(int length)
    {
        Assert.Throws<FdfsProtocolException>(() => StoreTarget.Read(new byte[length]));
    }

    [Fact]
    public void StoreTarget_refuses_ip_wider_than_15()
    {
        var target = new StoreTarget("group1", new ServerAddress("1234567890123456", 1), 0);
        Assert.Throws<FdfsProtocolException>(() => target.ToArray());
    }

    [Fact]
    public void FetchOne_is_39_bytes()
    {
        var golden = Hex.Bytes(Group1 + Ip127_0_0_3 + Port23000);
        Assert.Equal(39, golden.Length);
        var servers = new GroupServers("group1", [new ServerAddress("127.0.0.3", 23000)]);
        Assert.Equal(golden, servers.ToArray());

        var decoded = GroupServers.Read(golden, withStorePathIndex: false);
        Assert.Equal("group1", decoded.Group);
        Assert.Equal([new ServerAddress("127.0.0.3", 23000)], decoded.Servers);
        Assert.Null(decoded.StorePathIndex);
    }

    [Fact]
    public void FetchAll_lists_every_server()
    {
        var golden = Hex.Bytes(Group1 + Ip127_0_0_3 + Port23000 + Ip127_0_0_4 + "0000000000005dc0");
        Assert.Equal(39 + 23, golden.Length);
        var servers = new GroupServers("group1", [new ServerAddress("127.0.0.3", 23000), new ServerAddress("127.0.0.4", 24000)]);
        Assert.Equal(golden, servers.ToArray());

        var decoded = GroupServers.Read(golden, withStorePathIndex: false);
        Assert.Equal(servers.Servers, decoded.Servers);
    }

    [Fact]
    public void StoreAll_has_trailing_path_index()
    {
        var golden = Hex.Bytes(Group1 + Ip127_0_0_3 + Port23000 + Ip127_0_0_4 + Port23000 + "03");
        Assert.Equal(16 + 2 * 23 + 1, golden.Length);
        var servers = new GroupServers("group1", [new ServerAddress("127.0.0.3", 23000), new ServerAddress("127.0.0.4", 23000)], 3);
        Assert.Equal(golden, servers.ToArray());

        var decoded = GroupServers.Read(golden, withStorePathIndex: true);
        Assert.Equal("group1", decoded.Group);
        Assert.Equal(servers.Servers, decoded.Servers);
        Assert.Equal((byte)3, decoded.StorePathIndex);
    }

    [Theory]
    [InlineData(16, false)] // no server
    [InlineData(38, false)]
    [InlineData(40, false)]
    [InlineData(17, true)] // only group + index
    [InlineData(39, true)]
    [InlineData(41, true)]
    public void GroupServers_malformed_lengths_throw(int length, bool withIndex)
    {
        Assert.Throws<FdfsProtocolException>(() => GroupServers.Read(new byte[length], withIndex));
    }

    [Fact]
    public void ServerAddress_formats_ipv6_in_brackets()
    {
        Assert.Equal("127.0.0.3:23000", new ServerAddress("127.0.0.3", 23000).ToString());
        Assert.Equal("[::1]:23000", new ServerAddress("::1", 23000).ToString());
    }
}
