using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Tracker.Tests;

/// <summary>
/// Dual-IP storages (FastDFS 6, protocol notes 11): a storage_ids.conf line with an inner and an outer address; every
/// answer names the storage by the address of the caller's kind.
/// </summary>
public sealed class DualIpTests
{
    private const string Outer = "127.0.0.52"; // loopback counts as "outer" in FastDFS
    private const string Inner = "10.1.2.52";
    private const string Single = "127.0.0.53";

    private static Cluster NewCluster() => new(new TrackerOptions
    {
        BasePath = "/tmp",
        ReservedStorageSpace = ReservedSpace.FromPercent(10),
        UseStorageId = true,
        IdTypeInFilename = IdTypeInFilename.Id,
        // Written outer first: the tracker keeps it inner first, as FastDFS does.
        StorageIds = StorageIdMap.Parse($"100001 group1 {Outer},{Inner}\n100002 group1 {Single}\n"),
    });

    [Fact]
    public void Each_caller_gets_the_address_of_its_kind()
    {
        var c = NewCluster();
        var dual = c.Active(Outer);
        var single = c.Active(Single);
        Assert.Equal("100001", dual.Id);
        Assert.Equal([Inner, Outer], dual.DualIps);
        Assert.Null(single.DualIps);

        Assert.Equal(Inner, dual.IpFor("10.9.9.9"));
        Assert.Equal(Inner, dual.IpFor("192.168.3.3")); // another private kind than the outer one: inner
        Assert.Equal(Outer, dual.IpFor("127.0.0.1"));
        Assert.Equal(Outer, dual.IpFor("203.0.113.5"));
        Assert.Equal(Single, single.IpFor("10.9.9.9")); // one address: always that one

        // LIST_STORAGE lists the caller's kind of address.
        Assert.Equal([Inner, Single], c.Registry.ListStorages("group1", null, "10.9.9.9")!.Select(s => s.Ip));
        Assert.Equal([Outer, Single], c.Registry.ListStorages("group1", null, "127.0.0.1")!.Select(s => s.Ip));

        // The query answers write the field of the same address (what QUERY_STORE / QUERY_FETCH send).
        Assert.StartsWith(Inner + "\0", System.Text.Encoding.ASCII.GetString(dual.IpFieldFor("10.9.9.9")), StringComparison.Ordinal);
        Assert.StartsWith(Outer + "\0", System.Text.Encoding.ASCII.GetString(dual.IpFieldFor("127.0.0.1")), StringComparison.Ordinal);

        // Found by either address (GET_STATUS, REPORT_STATUS name storages by IP).
        Assert.Same(dual, c.Registry.FindStorageByAddress("group1", Inner, 0));
        Assert.Same(dual, c.Registry.FindStorageByAddress("group1", Outer, 0));
    }

    [Fact]
    public void Peers_learn_a_dual_ip_storage_by_the_address_of_their_own_kind()
    {
        var c = NewCluster();
        c.Registry.SetLeader(true, new ServerAddress("127.0.0.1", 22122));
        var dual = c.Active(Outer);
        var single = c.Active(Single);

        // The member list a storage gets with its beat once the group changed: the dual-IP peer named as seen
        // from 127.0.0.53 (outer kind).
        dual.Group.Version++;
        var briefs = c.Registry.Beat(single, default).GroupStorages;
        Assert.NotNull(briefs);
        Assert.Equal(Outer, briefs!.Single(b => b.Id == "100001").Ip);
        Assert.Equal(Inner, dual.ToBrief("10.0.0.9").Ip);
    }
}
