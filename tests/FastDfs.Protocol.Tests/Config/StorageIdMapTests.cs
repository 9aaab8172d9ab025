using System.Net;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Protocol.Tests.Config;

/// <summary>storage_ids.conf: <c>id group ip[,ip2][:port] [rw=..]</c> lines (protocol notes 10.1, 11).</summary>
public class StorageIdMapTests
{
    private const string Sample = """
        # <id>  <group_name>  <ip_or_host[:port]>
        100001   group1  192.168.0.196
        100002   group1  192.168.0.197:23001   rw=read

        100003	group2	10.0.0.1,172.16.0.1:23000
        100004   group2  [2001:db8::5]:23000 rw=write
        100005   group3  [fe80::1,2001:db8::6]
        """;

    [Fact]
    public void Good_lines_are_parsed_and_sorted_by_id()
    {
        var map = StorageIdMap.Parse(Sample, "/etc/fdfs/storage_ids.conf");
        Assert.Equal(["100001", "100002", "100003", "100004", "100005"], map.Entries.Select(e => e.Id));

        var first = map.FindById("100001")!;
        Assert.Equal("group1", first.Group);
        Assert.Equal(["192.168.0.196"], first.Ips);
        Assert.Equal(0, first.Port);
        Assert.Equal(StorageRwMode.Both, first.RwMode);
        Assert.Equal(100001u, first.NumericId);

        var second = map.FindById("100002")!;
        Assert.Equal(23001, second.Port);
        Assert.Equal(StorageRwMode.ReadOnly, second.RwMode);

        var dual = map.FindById("100003")!;
        Assert.Equal(["10.0.0.1", "172.16.0.1"], dual.Ips);
        Assert.Equal(23000, dual.Port);

        var v6 = map.FindById("100004")!;
        Assert.Equal(["2001:db8::5"], v6.Ips);
        Assert.Equal(StorageRwMode.WriteOnly, v6.RwMode);
        Assert.Equal(["fe80::1", "2001:db8::6"], map.FindById("100005")!.Ips);
        Assert.Null(map.FindById("100006"));
    }

    [Fact]
    public void Lookup_by_address_tries_the_exact_port_then_a_portless_line()
    {
        var map = StorageIdMap.Parse(Sample);
        Assert.Equal("100001", map.FindByAddress("192.168.0.196", 23000)!.Id); // no port on the line: any port
        Assert.Equal("100002", map.FindByAddress("192.168.0.197", 23001)!.Id);
        Assert.Null(map.FindByAddress("192.168.0.197", 23000)); // that line names another port
        Assert.Equal("100003", map.FindByAddress("172.16.0.1", 23000)!.Id); // second address of a pair
        Assert.Null(map.FindByAddress("192.168.0.1", 23000));
        Assert.Equal("100003", map.FindByIp("group2", "10.0.0.1")!.Id);
        Assert.Null(map.FindByIp("group1", "10.0.0.1"));
    }

    [Fact]
    public void Lines_are_written_back_as_fetch_storage_ids_sends_them()
    {
        var map = StorageIdMap.Parse(Sample);
        Assert.Equal(
            [
                "100001 group1 192.168.0.196",
                "100002 group1 192.168.0.197:23001 rw=read",
                "100003 group2 10.0.0.1,172.16.0.1:23000",
                "100004 group2 [2001:db8::5]:23000 rw=write",
                "100005 group3 [fe80::1,2001:db8::6]",
            ],
            map.Entries.Select(e => e.ToLine()));
    }

    [Fact]
    public void Host_names_are_resolved_once_at_load_ipv4_first()
    {
        var asked = new List<string>();
        IPAddress[] Resolve(string host)
        {
            asked.Add(host);
            return host switch
            {
                "storage-a.example" => [IPAddress.Parse("2001:db8::7"), IPAddress.Parse("10.0.0.7")],
                "storage-b.example" => [IPAddress.Parse("2001:db8::8")],
                _ => throw new System.Net.Sockets.SocketException(11001),
            };
        }

        var map = StorageIdMap.Parse("100001 group1 storage-a.example:23000\n100002 group1 [storage-b.example,10.0.0.9]\n", null, Resolve);
        Assert.Equal(["storage-a.example", "storage-b.example"], asked);
        Assert.Equal(["100001 group1 10.0.0.7:23000", "100002 group1 [10.0.0.9,2001:db8::8]"], map.Entries.Select(e => e.ToLine()));
        Assert.Equal("100001", map.FindByAddress("10.0.0.7", 23000)?.Id);

        var e = Assert.Throws<FdfsConfigException>(() => StorageIdMap.Parse("100001 group1 gone.example", "ids.conf", Resolve));
        Assert.Contains("host 'gone.example' cannot be resolved", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Localhost_resolves_through_the_system_resolver()
    {
        var map = StorageIdMap.Parse("100001 group1 localhost", null, Dns.GetHostAddresses);
        Assert.True(IPAddress.IsLoopback(IPAddress.Parse(map.Entries[0].Ip)));
    }

    [Theory]
    [InlineData("100001 group1", 1, "expected 'id group ip[:port]'")]
    [InlineData("abc group1 10.0.0.1", 1, "invalid storage id 'abc'")]
    [InlineData("0 group1 10.0.0.1", 1, "invalid storage id '0'")]
    [InlineData("16777216 group1 10.0.0.1", 1, "invalid storage id '16777216'")]
    [InlineData("100001 group_1 10.0.0.1", 1, "invalid group name 'group_1'")]
    [InlineData("100001 group1 10.0.0", 1, "'10.0.0' is not an IP address")]
    [InlineData("100001 group1 storage-a.example", 1, "is not an IP address")]
    [InlineData("100001 group1 10.0.0.1:0", 1, "invalid port '0'")]
    [InlineData("100001 group1 10.0.0.1:99999", 1, "invalid port '99999'")]
    [InlineData("100001 group1 2001:db8::5", 1, "must be written in brackets")]
    [InlineData("100001 group1 [2001:db8::5", 1, "unclosed '['")]
    [InlineData("100001 group1 10.0.0.1,10.0.0.2,10.0.0.3", 1, "at most 2 addresses")]
    [InlineData("100001 group1 10.0.0.1 rw=sometimes", 1, "unknown option 'rw=sometimes'")]
    [InlineData("# ok\n100001 group1 10.0.0.1\n100001 group1 10.0.0.2", 3, "duplicate storage id 100001 (first on line 2)")]
    [InlineData("100001 group1 10.0.0.1:23000\n100002 group1 10.0.0.1:23000", 2, "duplicate storage address 10.0.0.1:23000")]
    public void Bad_lines_are_errors_naming_the_line(string text, int line, string reason)
    {
        var e = Assert.Throws<FdfsConfigException>(() => StorageIdMap.Parse(text, "/etc/fdfs/storage_ids.conf"));
        Assert.Equal("/etc/fdfs/storage_ids.conf", e.FilePath);
        Assert.Equal(line, e.Line);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.StartsWith($"/etc/fdfs/storage_ids.conf:{line}: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Same_address_on_different_ports_is_two_storages()
    {
        var map = StorageIdMap.Parse("100001 group1 10.0.0.1:23000\n100002 group1 10.0.0.1:23001\n");
        Assert.Equal("100001", map.FindByAddress("10.0.0.1", 23000)!.Id);
        Assert.Equal("100002", map.FindByAddress("10.0.0.1", 23001)!.Id);
    }

    [Fact]
    public void A_file_without_ids_or_a_missing_file_is_an_error()
    {
        var empty = Assert.Throws<FdfsConfigException>(() => StorageIdMap.Parse("# nothing\n\n", "ids.conf"));
        Assert.Contains("no storage IDs", empty.Message, StringComparison.Ordinal);

        string missing = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "storage_ids.conf");
        var e = Assert.Throws<FdfsConfigException>(() => StorageIdMap.Load(missing));
        Assert.Equal(missing, e.FilePath);
    }

    [Fact]
    public void Tracker_and_client_options_load_the_file_relative_to_their_conf()
    {
        string dir = Path.Combine(Path.GetTempPath(), "fdfs-ids-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "ids.conf"), "100001 group1 10.0.0.1\n");
            string conf = Path.Combine(dir, "tracker.conf");
            File.WriteAllText(conf, "base_path = /tmp\nuse_storage_id = true\nstorage_ids_filename = ids.conf\n");
            var o = FastDfs.Tracker.TrackerOptions.FromConfig(FdfsConfigFile.Load(conf));
            Assert.Equal("100001", Assert.Single(o.StorageIds!.Entries).Id);

            File.WriteAllText(Path.Combine(dir, "ids.conf"), "100001 group1 10.0.0.1\nbad line\n");
            var e = Assert.Throws<FdfsConfigException>(() => FastDfs.Tracker.TrackerOptions.FromConfig(FdfsConfigFile.Load(conf)));
            Assert.Equal(Path.Combine(dir, "ids.conf"), e.FilePath);
            Assert.Equal(2, e.Line);

            // The client resolves the same name by the same rule: the file beside client.conf, not in the working directory.
            string client = Path.Combine(dir, "client.conf");
            File.WriteAllText(client,
                "tracker_server = 127.0.0.1:22122\nuse_storage_id = true\nload_fdfs_parameters_from_tracker = false\nstorage_ids_filename = ids.conf\n");
            var fromClient = Assert.Throws<FdfsConfigException>(() => FastDfs.Client.FastDfsClientOptions.FromConfig(FdfsConfigFile.Load(client)));
            Assert.Equal((Path.Combine(dir, "ids.conf"), 2), (fromClient.FilePath, fromClient.Line));
            File.WriteAllText(Path.Combine(dir, "ids.conf"), "100002 group1 10.0.0.2\n");
            Assert.Equal("100002", Assert.Single(FastDfs.Client.FastDfsClientOptions.FromConfig(FdfsConfigFile.Load(client)).StorageIds!.Entries).Id);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
