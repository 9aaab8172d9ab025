using System.Net;
using System.Net.Sockets;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastDfs.Tracker.Tests;

/// <summary>IPv6 storages and <c>response_ip_addr_size</c> (notes 10.1, 11; FastDFS 6.11 / 6.15).</summary>
public sealed class IPv6Tests
{
    private const string LongV6 = "2001:db8:85a3::8a2e:370:7334"; // 28 chars: too wide for 15-byte IPv4-mode fields

    private static readonly StorageIdMap V4Ids = StorageIdMap.Parse("100001 group1 127.0.0.42");
    private static readonly StorageIdMap V6Ids = StorageIdMap.Parse($"100001 group1 127.0.0.42\n100002 group1 [{LongV6}]\n100003 group1 [::1]");

    private static TrackerOptions Options(StorageIdMap? ids, ResponseIpAddrSize size = ResponseIpAddrSize.Auto, IdTypeInFilename idType = IdTypeInFilename.Id) => new()
    {
        BasePath = "/tmp",
        ReservedStorageSpace = ReservedSpace.FromPercent(10),
        UseStorageId = ids is not null,
        StorageIds = ids,
        IdTypeInFilename = idType,
        ResponseIpAddrSize = size,
    };

    [Fact]
    public void Auto_picks_ipv6_fields_only_with_an_ipv6_storage_id_address()
    {
        Assert.False(Options(null).IPv6Responses);
        Assert.False(Options(V4Ids).IPv6Responses);
        Assert.True(Options(V6Ids).IPv6Responses);
        Assert.True(Options(V4Ids, ResponseIpAddrSize.IPv6).IPv6Responses);
        Assert.False(Options(V6Ids, ResponseIpAddrSize.IPv4).IPv6Responses);
        Assert.False(Options(null, ResponseIpAddrSize.Auto).IPv6Responses);
    }

    [Fact]
    public void Config_key_is_read()
    {
        static TrackerOptions Read(string value) => TrackerOptions.FromConfig(FdfsConfigFile.Parse($"base_path = /tmp\nresponse_ip_addr_size = {value}\n"));
        Assert.Equal(ResponseIpAddrSize.IPv6, Read("IPv6").ResponseIpAddrSize);
        Assert.Equal(ResponseIpAddrSize.IPv4, Read("ipv4").ResponseIpAddrSize);
        Assert.Equal(ResponseIpAddrSize.Auto, Read("auto").ResponseIpAddrSize);
        Assert.True(Read("IPv6").IPv6Responses);
    }

    [Fact]
    public void Ipv6_storage_joins_in_id_mode_with_ipv6_fields()
    {
        var c = new Cluster(Options(V6Ids));
        var node = c.Join(LongV6);
        Assert.Equal("100002", node.Id);
        Assert.Equal(LongV6, Assert.Single(c.Registry.ListStorages("group1", null)!).Ip);
    }

    [Fact]
    public void Ipv6_storage_with_ip_type_names_is_refused()
    {
        foreach (var options in new[] { Options(null), Options(V6Ids, idType: IdTypeInFilename.Ip) })
        {
            var c = new Cluster(options);
            byte errno = c.Registry.Join("::1", Cluster.JoinRequest(), 1, out var node, out string? error);
            Assert.Equal(FdfsErrno.EINVAL, errno);
            Assert.Null(node);
            Assert.Contains("id_type_in_filename = id", error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Long_address_is_refused_in_ipv4_response_mode()
    {
        var c = new Cluster(Options(V6Ids, ResponseIpAddrSize.IPv4));
        byte errno = c.Registry.Join(LongV6, Cluster.JoinRequest(), 1, out _, out string? error);
        Assert.Equal(FdfsErrno.EINVAL, errno);
        Assert.Contains("response_ip_addr_size = IPv6", error, StringComparison.Ordinal);

        // A short IPv6 address fits the 15-byte field: accepted in IPv4 mode too.
        Assert.Equal("100003", c.Join("::1").Id);
    }

    [Fact]
    public void Listen_addresses_follow_bind_addr_and_address_family()
    {
        Assert.Equal((IPAddress.Any, 0, false), Shape(ListenAddress.Choose([], FdfsAddressFamily.Auto)));
        Assert.Equal((IPAddress.Any, 0, false), Shape(ListenAddress.Choose([], FdfsAddressFamily.IPv4)));
        Assert.Equal((IPAddress.IPv6Any, 0, false), Shape(ListenAddress.Choose([], FdfsAddressFamily.IPv6)));
        Assert.Equal((IPAddress.IPv6Any, 0, true), Shape(ListenAddress.Choose([], FdfsAddressFamily.Both)));
        Assert.Equal((IPAddress.IPv6Loopback, 0, false), Shape(ListenAddress.Choose(["[::1]"], FdfsAddressFamily.Auto)));

        // One IPv4 and one IPv6 address, the first named first; a second of a family and other families are left out.
        var (first, others, dual) = ListenAddress.Choose(["127.0.0.5", "::1", "127.0.0.6"], FdfsAddressFamily.Auto);
        Assert.Equal(IPAddress.Parse("127.0.0.5"), first);
        Assert.Equal([IPAddress.IPv6Loopback], others);
        Assert.False(dual);
        Assert.Equal((IPAddress.IPv6Loopback, 0, false), Shape(ListenAddress.Choose(["127.0.0.5", "::1"], FdfsAddressFamily.IPv6)));

        Assert.Equal("[::1]", ListenAddress.Format(IPAddress.IPv6Loopback));
        Assert.Null(ListenAddress.Problem(["127.0.0.5", "[::1]", "::1"]));
        Assert.Equal("bind_addr: 'tracker.example' is not an IP address (host names are not resolved here)", ListenAddress.Problem(["127.0.0.5", "tracker.example"]));
        Assert.Equal("127.0.0.5", ListenAddress.Format(IPAddress.Parse("127.0.0.5")));
    }

    [Fact]
    public async Task Server_listens_on_an_ipv4_and_an_ipv6_address_with_one_port()
    {
        var registry = new ClusterRegistry(Options(null));
        await using var server = new FdfsServer(
            new IPEndPoint(IPAddress.Parse("127.0.0.45"), 0), new TrackerRequestHandler(registry), NullLogger.Instance)
        {
            AlsoListenOn = [IPAddress.IPv6Loopback],
        };
        server.Start();
        Assert.Equal(2, server.EndPoints.Count);
        Assert.Equal(server.EndPoint.Port, server.EndPoints[1].Port);
        foreach (var address in new[] { IPAddress.Parse("127.0.0.45"), IPAddress.IPv6Loopback })
        {
            await using var connection = await FdfsConnection.ConnectAsync(
                address.ToString(), server.EndPoint.Port, TimeSpan.FromSeconds(5), null, CancellationToken.None);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var (status, body) = await connection.RoundTripAsync((byte)TrackerCommand.ListAllGroups, ReadOnlyMemory<byte>.Empty, 1 << 20, cts.Token);
            Assert.Equal(0, status);
            Assert.Empty(body);
        }
    }

    private static (IPAddress, int, bool) Shape((IPAddress Address, IReadOnlyList<IPAddress> Others, bool DualStack) chosen) =>
        (chosen.Address, chosen.Others.Count, chosen.DualStack);
}
