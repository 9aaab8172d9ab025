using System.Net;
using FastDfs.Protocol.Config;
using Xunit;

namespace FastDfs.Protocol.Tests.Config;

public class ReservedSpaceTests
{
    [Fact]
    public void Percent_is_reached_at_or_below_the_ratio()
    {
        var r = ReservedSpace.Parse("20%");
        Assert.False(r.IsReached(totalMb: 1000, freeMb: 201));
        Assert.True(r.IsReached(totalMb: 1000, freeMb: 200));
        Assert.True(r.IsReached(totalMb: 1000, freeMb: 10));
        Assert.True(r.IsReached(totalMb: 0, freeMb: 0));
        Assert.Equal(200, r.GetReservedMb(1000));
    }

    [Fact]
    public void Absolute_size_compares_whole_megabytes()
    {
        var r = ReservedSpace.Parse("10G");
        Assert.Equal(10240, r.Megabytes);
        Assert.False(r.IsReached(totalMb: 100_000, freeMb: 10241));
        Assert.True(r.IsReached(totalMb: 100_000, freeMb: 10240));
        Assert.Equal(10240, r.GetReservedMb(123));

        // Below one MB rounds down to nothing reserved, like FastDFS.
        Assert.False(ReservedSpace.Parse("1000").IsReached(10, 1));
    }

    [Theory]
    [InlineData("20%", "20%")]
    [InlineData("12.5%", "12.5%")]
    [InlineData("10G", "10G")]
    [InlineData("1024M", "1G")]
    [InlineData("1536MB", "1536M")]
    [InlineData("100", "100")]
    public void Round_trips_to_string(string text, string expected) =>
        Assert.Equal(expected, ReservedSpace.Parse(text).ToString());

    [Theory]
    [InlineData("")]
    [InlineData("0%")]
    [InlineData("100%")]
    [InlineData("-5%")]
    [InlineData("abc")]
    [InlineData("10X")]
    public void Rejects_invalid(string text)
    {
        Assert.False(ReservedSpace.TryParse(text, out _));
        Assert.Throws<FormatException>(() => ReservedSpace.Parse(text));
    }

    [Fact]
    public void Factories_validate()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ReservedSpace.FromPercent(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReservedSpace.FromBytes(-1));
        Assert.Equal(ReservedSpace.Parse("2M"), ReservedSpace.FromBytes(2 * 1024 * 1024));
    }
}

public class TrackerEndpointTests
{
    [Fact]
    public void Parses_host_and_port()
    {
        var e = TrackerEndpoint.Parse("192.168.0.196:22122");
        Assert.Equal("192.168.0.196", e.Host);
        Assert.Equal(22122, e.Port);
        Assert.Empty(e.AlternateHosts);
        Assert.Equal(["192.168.0.196"], e.Hosts);
        Assert.Equal("192.168.0.196:22122", e.ToString());
    }

    [Fact]
    public void Parses_host_name_and_default_port()
    {
        var e = TrackerEndpoint.Parse("  tracker-1.example.com ");
        Assert.Equal(new TrackerEndpoint("tracker-1.example.com", 22122), e);
        Assert.Equal(22000, TrackerEndpoint.Parse("t1", 22000).Port);
    }

    [Fact]
    public void Parses_dual_ip_form_as_alternatives()
    {
        var e = TrackerEndpoint.Parse("192.168.2.100,122.244.141.46:22122");
        Assert.Equal("192.168.2.100", e.Host);
        Assert.Equal(["122.244.141.46"], e.AlternateHosts);
        Assert.Equal(["192.168.2.100", "122.244.141.46"], e.Hosts);
        Assert.Equal("192.168.2.100,122.244.141.46:22122", e.ToString());
    }

    [Fact]
    public void Parses_bracketed_ipv6()
    {
        var e = TrackerEndpoint.Parse("[2409:8a20:42d:2f40:587a:4c47:72c0:ad8e]:22122");
        Assert.Equal("2409:8a20:42d:2f40:587a:4c47:72c0:ad8e", e.Host);
        Assert.Equal(22122, e.Port);
        Assert.Equal("[2409:8a20:42d:2f40:587a:4c47:72c0:ad8e]:22122", e.ToString());

        var local = TrackerEndpoint.Parse("[::1]");
        Assert.Equal("::1", local.Host);
        Assert.Equal(22122, local.Port);
    }

    [Fact]
    public void Parses_bracketed_dual_ipv6()
    {
        var e = TrackerEndpoint.Parse("[2409:8a20:42d:2f40:587a:4c47:72c0:ad8e,fe80::1ee9:90a8:1351:436c]:22122");
        Assert.Equal(["2409:8a20:42d:2f40:587a:4c47:72c0:ad8e", "fe80::1ee9:90a8:1351:436c"], e.Hosts);
        Assert.Equal(e, TrackerEndpoint.Parse(e.ToString()));
    }

    [Fact]
    public void Equality_includes_alternatives()
    {
        Assert.Equal(TrackerEndpoint.Parse("a,b:1"), TrackerEndpoint.Parse("a,b:1"));
        Assert.NotEqual(TrackerEndpoint.Parse("a,b:1"), TrackerEndpoint.Parse("a,c:1"));
        Assert.NotEqual(TrackerEndpoint.Parse("a:1"), TrackerEndpoint.Parse("a:2"));
    }

    [Theory]
    [InlineData("127.0.0.1:22122", true)]
    [InlineData("[::1]:22122", true)]
    [InlineData("[fe80::1]:22122", true)]
    [InlineData("10.0.0.1,127.0.0.1:22122", true)]
    [InlineData("127.0.0.2:22122", false)]
    [InlineData("localhost:22122", false)]
    public void Loopback_literals_are_accepted_but_flagged(string text, bool flagged) =>
        Assert.Equal(flagged, TrackerEndpoint.Parse(text).IsLoopbackLiteral);

    [Theory]
    [InlineData("")]
    [InlineData("host:")]
    [InlineData("host:0")]
    [InlineData("host:65536")]
    [InlineData("host:abc")]
    [InlineData(":22122")]
    [InlineData("::1:22122")]
    [InlineData("2001:db8::1")]
    [InlineData("[::1")]
    [InlineData("[::1]x")]
    [InlineData("[not-v6]:1")]
    [InlineData("a,,b:1")]
    [InlineData("a,b,c:1")]
    [InlineData("bad host:1")]
    [InlineData("10.0.0.300:1")]
    public void Rejects_malformed(string text)
    {
        Assert.False(TrackerEndpoint.TryParse(text, out _, out string? error));
        Assert.False(string.IsNullOrEmpty(error));
        Assert.Throws<FormatException>(() => TrackerEndpoint.Parse(text));
    }

    [Fact]
    public void Ipv6_without_brackets_gets_a_helpful_message()
    {
        var ex = Assert.Throws<FormatException>(() => TrackerEndpoint.Parse("fe80::2:22122"));
        Assert.Contains("brackets", ex.Message, StringComparison.Ordinal);
    }
}

public class HostAccessListTests
{
    private static IPAddress Ip(string s) => IPAddress.Parse(s);

    [Fact]
    public void Star_or_nothing_allows_everyone()
    {
        Assert.True(HostAccessList.Parse(["*"]).IsAllowed(Ip("8.8.8.8")));
        Assert.True(HostAccessList.Parse(["10.0.0.1", "*"]).AllowsAll);
        Assert.True(HostAccessList.Parse([]).IsAllowed(Ip("::1")));
        Assert.True(HostAccessList.Parse(["", "  "]).AllowsAll);
    }

    [Fact]
    public void Single_addresses()
    {
        var list = HostAccessList.Parse(["192.168.0.10", "2001:db8::5"]);
        Assert.False(list.AllowsAll);
        Assert.True(list.IsAllowed(Ip("192.168.0.10")));
        Assert.False(list.IsAllowed(Ip("192.168.0.11")));
        Assert.True(list.IsAllowed(Ip("2001:db8::5")));
        Assert.False(list.IsAllowed(Ip("2001:db8::6")));
    }

    [Fact]
    public void Ipv4_mapped_peers_match_ipv4_rules()
    {
        var list = HostAccessList.Parse(["10.0.0.0/8"]);
        Assert.True(list.IsAllowed(Ip("10.1.2.3").MapToIPv6()));
        Assert.False(list.IsAllowed(Ip("11.1.2.3").MapToIPv6()));
    }

    [Fact]
    public void Cidr_ranges()
    {
        var list = HostAccessList.Parse(["10.0.0.0/8", "192.168.5.64/26", "2001:db8::/32", "172.16.0.5/32"]);
        Assert.True(list.IsAllowed(Ip("10.255.255.255")));
        Assert.False(list.IsAllowed(Ip("11.0.0.0")));
        Assert.True(list.IsAllowed(Ip("192.168.5.64")));
        Assert.True(list.IsAllowed(Ip("192.168.5.127")));
        Assert.False(list.IsAllowed(Ip("192.168.5.128")));
        Assert.False(list.IsAllowed(Ip("192.168.5.63")));
        Assert.True(list.IsAllowed(Ip("2001:db8:ffff::1")));
        Assert.False(list.IsAllowed(Ip("2001:db9::1")));
        Assert.True(list.IsAllowed(Ip("172.16.0.5")));
        Assert.False(list.IsAllowed(Ip("172.16.0.6")));
    }

    [Fact]
    public void Cidr_host_bits_are_masked()
    {
        var list = HostAccessList.Parse(["192.168.5.70/26"]);
        Assert.True(list.IsAllowed(Ip("192.168.5.64")));
        Assert.True(list.IsAllowed(Ip("192.168.5.100")));
    }

    [Fact]
    public void Bracket_ranges_of_addresses()
    {
        var list = HostAccessList.Parse(["10.0.0.[1-15]", "10.0.1.[1-3, 20]"]);
        Assert.True(list.IsAllowed(Ip("10.0.0.1")));
        Assert.True(list.IsAllowed(Ip("10.0.0.15")));
        Assert.False(list.IsAllowed(Ip("10.0.0.16")));
        Assert.False(list.IsAllowed(Ip("10.0.0.0")));
        Assert.True(list.IsAllowed(Ip("10.0.1.20")));
        Assert.False(list.IsAllowed(Ip("10.0.1.19")));
        Assert.Empty(list.HostNames);
    }

    [Fact]
    public void Bracket_ranges_of_host_names_keep_zero_padding_and_resolve_later()
    {
        var list = HostAccessList.Parse(["host[01-03,10].domain.com", "storage1"]);
        Assert.Equal(
            ["host01.domain.com", "host02.domain.com", "host03.domain.com", "host10.domain.com", "storage1"],
            list.HostNames);
        Assert.False(list.IsAllowed(Ip("10.9.9.2")));

        var resolved = list.WithResolvedHostNames(name => name == "host02.domain.com" ? [Ip("10.9.9.2")] : []);
        Assert.True(resolved.IsAllowed(Ip("10.9.9.2")));
        Assert.False(resolved.IsAllowed(Ip("10.9.9.3")));
        Assert.False(list.IsAllowed(Ip("10.9.9.2")));
    }

    [Theory]
    [InlineData("10.0.0.[1-15")]
    [InlineData("10.0.0.[15-1]")]
    [InlineData("10.0.0.[a-b]")]
    [InlineData("10.0.0.[1]-[2]")]
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0.0.0/x")]
    [InlineData("2001:db8::/129")]
    [InlineData("bogus/8")]
    [InlineData("10.0.0.300")]
    [InlineData("not a host")]
    [InlineData("10.0.[0-255].[0-255]")]
    [InlineData("10.[0-255].[0-255].1")]
    public void Rejects_malformed_patterns(string pattern)
    {
        Assert.Throws<FormatException>(() => HostAccessList.Parse([pattern]));
        Assert.Throws<FormatException>(() => HostAccessList.ValidatePattern(pattern));
    }

    [Fact]
    public void Huge_ranges_are_rejected()
    {
        Assert.Throws<FormatException>(() => HostAccessList.Parse(["h[0-99999]"]));
    }
}

public class FdfsConfigValuesTests
{
    [Theory]
    [InlineData("info", FdfsLogLevel.Info)]
    [InlineData("DEBUG", FdfsLogLevel.Debug)]
    [InlineData("warn", FdfsLogLevel.Warn)]
    [InlineData("warning", FdfsLogLevel.Warn)]
    [InlineData("err", FdfsLogLevel.Error)]
    [InlineData("crit", FdfsLogLevel.Crit)]
    [InlineData("emerg", FdfsLogLevel.Emerg)]
    [InlineData("notice", FdfsLogLevel.Notice)]
    [InlineData("alert", FdfsLogLevel.Alert)]
    public void Log_levels(string text, FdfsLogLevel expected) =>
        Assert.Equal(expected, FdfsConfigValues.ParseLogLevel(text));

    [Fact]
    public void Bad_log_level_in_config_has_location()
    {
        var cfg = FdfsConfigFile.Parse("log_level = loud\n", "t.conf");
        var ex = Assert.Throws<FdfsConfigException>(() => cfg.GetLogLevel("log_level", FdfsLogLevel.Info));
        Assert.Equal(1, ex.Line);
        Assert.Equal("info", FdfsLogLevel.Info.ToConfigString());
    }

    [Theory]
    [InlineData("auto", FdfsAddressFamily.Auto)]
    [InlineData("IPv4", FdfsAddressFamily.IPv4)]
    [InlineData("ipv6", FdfsAddressFamily.IPv6)]
    [InlineData("both", FdfsAddressFamily.Both)]
    public void Address_families(string text, FdfsAddressFamily expected) =>
        Assert.Equal(expected, FdfsConfigValues.ParseAddressFamily(text));

    [Fact]
    public void Allow_hosts_reader_validates_each_line()
    {
        var cfg = FdfsConfigFile.Parse("allow_hosts = 10.0.0.1\nallow_hosts = 10.0.0.[1-\n", "t.conf");
        var ex = Assert.Throws<FdfsConfigException>(() => cfg.GetAllowHosts());
        Assert.Equal(2, ex.Line);
        Assert.Equal(["*"], FdfsConfigFile.Parse("").GetAllowHosts());
    }
}
