using FastDfs.Protocol.Config;
using Xunit;

namespace FastDfs.Protocol.Tests.Config;

/// <summary>FastDFS 6 "inner,outer" addresses (protocol notes 11): classification, pair rules, per-caller choice.</summary>
public sealed class DualIpTests
{
    [Theory]
    [InlineData("10.0.0.1", IpKind.Private10)]
    [InlineData("10.255.255.254", IpKind.Private10)]
    [InlineData("172.16.0.1", IpKind.Private172)]
    [InlineData("172.31.255.1", IpKind.Private172)]
    [InlineData("172.15.0.1", IpKind.Outer)]
    [InlineData("172.32.0.1", IpKind.Outer)]
    [InlineData("192.168.0.196", IpKind.Private192)]
    [InlineData("192.169.0.1", IpKind.Outer)]
    [InlineData("117.136.9.67", IpKind.Outer)]
    [InlineData("127.0.0.1", IpKind.Outer)] // FastDFS counts loopback as outer
    [InlineData("2001:db8::1", IpKind.Outer)]
    [InlineData("::1", IpKind.Unknown)] // shorter than 8 characters
    [InlineData("1.2.3.4", IpKind.Unknown)]
    public void Kinds_follow_fdfs_get_ip_type(string ip, IpKind kind) => Assert.Equal(kind, DualIp.KindOf(ip));

    [Theory]
    [InlineData("10.0.0.5", "10.0.0.1")] // inner caller: inner address
    [InlineData("192.168.1.9", "10.0.0.1")] // a caller of another private kind: inner as well
    [InlineData("203.0.113.9", "117.136.9.67")] // outer caller: outer address
    [InlineData("127.0.0.1", "117.136.9.67")]
    [InlineData("::1", "10.0.0.1")] // unknown kind: inner
    public void A_caller_gets_the_address_of_its_kind(string peer, string expected) =>
        Assert.Equal(expected, DualIp.ForPeer(["10.0.0.1", "117.136.9.67"], peer));

    [Theory]
    [InlineData("10.0.0.5")]
    [InlineData("203.0.113.9")]
    [InlineData("192.168.1.9")]
    [InlineData("::1")]
    public void A_pair_kept_with_its_outer_kind_is_chosen_alike(string peer)
    {
        // The tracker keeps parsed addresses and the outer kind worked out once; the choice must be the list's.
        (int Index, string Ip) inner = (0, "10.0.0.1"), outer = (1, "117.136.9.67");
        var chosen = DualIp.ForPeer(inner, outer, DualIp.KindOf(outer.Ip), peer);
        Assert.Equal(DualIp.ForPeer([inner.Ip, outer.Ip], peer), chosen.Ip);
    }

    [Fact]
    public void Two_private_ranges_pair_by_exact_kind()
    {
        string[] pair = ["10.0.0.1", "192.168.0.1"];
        Assert.Null(DualIp.Check(pair));
        Assert.Equal(pair, DualIp.InnerFirst(pair));
        Assert.Equal("192.168.0.1", DualIp.ForPeer(pair, "192.168.7.7"));
        Assert.Equal("10.0.0.1", DualIp.ForPeer(pair, "172.16.0.9"));
        Assert.Equal("10.0.0.1", DualIp.ForPeer(["10.0.0.1"], "203.0.113.1"));
    }

    [Fact]
    public void Storage_ids_keep_pairs_inner_first()
    {
        var map = StorageIdMap.Parse("""
            100001 group1 192.168.0.196,117.136.9.67
            100002 group1 117.136.9.68,192.168.0.197:23001
            100003 group1 10.0.0.3,192.168.0.3
            """);
        Assert.Equal(
            [
                "100001 group1 192.168.0.196,117.136.9.67",
                "100002 group1 192.168.0.197,117.136.9.68:23001",
                "100003 group1 10.0.0.3,192.168.0.3",
            ],
            map.Entries.Select(e => e.ToLine()));
        var b = map.FindById("100002")!;
        Assert.Equal("192.168.0.197", b.Ip);
        Assert.Equal("117.136.9.68", b.IpFor("203.0.113.5"));
        Assert.Equal("192.168.0.197", b.IpFor("192.168.0.1"));
        Assert.Same(b, map.FindByAddress("117.136.9.68", 23001));
        Assert.Same(b, map.FindByAddress("192.168.0.197", 23001));
    }

    [Theory]
    [InlineData("100001 group1 10.0.0.1,10.0.0.2", "addresses 10.0.0.1 and 10.0.0.2 are of the same kind")]
    [InlineData("100001 group1 127.0.0.3,127.0.0.4:23000", "addresses 127.0.0.3 and 127.0.0.4 are of the same kind")]
    [InlineData("100001 group1 [2001:db8::1,2001:db8::2]", "are of the same kind")]
    public void Pairs_of_one_kind_are_refused(string line, string reason)
    {
        var e = Assert.Throws<FdfsConfigException>(() => StorageIdMap.Parse(line, "storage_ids.conf"));
        Assert.Equal(1, e.Line);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tracker_server_pairs_keep_their_order_and_any_kinds()
    {
        // Tried in the order written; FastDFS's own sample pairs two IPv6 addresses (both "outer"), so no kind rule here.
        Assert.Equal(["117.136.9.67", "192.168.0.196"], TrackerEndpoint.Parse("117.136.9.67,192.168.0.196:22122").Hosts);
        Assert.Equal(["10.0.0.1", "10.0.0.2"], TrackerEndpoint.Parse("10.0.0.1,10.0.0.2:22122").Hosts);
    }
}
