using System.Net;
using System.Text;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.Messages;

namespace FastDfs.Tracker;

/// <summary>Per-path disk usage from the last REPORT_DISK_USAGE, replaced as a whole so readers see a consistent set.</summary>
internal sealed class DiskUsage
{
    public DiskUsage(long[] totalMb, long[] freeMb)
    {
        TotalMb = totalMb;
        FreeMb = freeMb;
        int best = 0;
        for (int i = 0; i < freeMb.Length; i++)
        {
            SumTotalMb += totalMb[i];
            SumFreeMb += freeMb[i];
            if (freeMb[i] > freeMb[best])
            {
                best = i;
            }
        }

        MostFreePath = best;
    }

    public long[] TotalMb { get; }

    public long[] FreeMb { get; }

    public long SumTotalMb { get; }

    public long SumFreeMb { get; }

    /// <summary>Path with the most free space (store_path = 2).</summary>
    public int MostFreePath { get; }
}

/// <summary>
/// One storage server as the tracker knows it, identified by its ID: the numeric ID from storage_ids.conf with
/// use_storage_id, else its IP. Mutated under the registry lock; the fields the query path reads without the lock are
/// either immutable (<see cref="Id"/>), replaced atomically (<see cref="Disk"/>, the address) or cursors updated with
/// Interlocked.
/// </summary>
internal sealed class StorageNode
{
    private NodeAddress _address;

    public StorageNode(string id, string ip, GroupState group)
    {
        Id = id;
        Group = group;
        _address = NodeAddress.Of(ip);
        NumericId = StorageIdMap.IsValidId(id) ? uint.Parse(id, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>Without storage IDs: a storage known by its IP.</summary>
    public StorageNode(string ip, GroupState group)
        : this(ip, ip, group)
    {
    }

    /// <summary>The storage's ID (its IP text when IDs are off); the registry key.</summary>
    public string Id { get; }

    /// <summary>The ID as file names carry it (1..2^24-1), 0 when the ID is not numeric (IP mode).</summary>
    public uint NumericId { get; }

    /// <summary>The address the storage last joined from (fixed in IP mode, may change with IDs).</summary>
    public string Ip => Volatile.Read(ref _address).Ip;

    public GroupState Group { get; }

    /// <summary>The IP as file names encode it (bytes 0..3 of the name), to find a file's source without decoding text.</summary>
    public uint NameAddress => Volatile.Read(ref _address).NameAddress;

    /// <summary>rw= of the storage's storage_ids.conf line (both without IDs).</summary>
    public StorageRwMode RwMode { get; set; } = StorageRwMode.Both;

    public bool CanWrite => (RwMode & StorageRwMode.WriteOnly) != 0;

    public bool CanRead => (RwMode & StorageRwMode.ReadOnly) != 0;

    /// <summary>
    /// FastDFS 6 dual IP: the storage's inner and outer address from its storage_ids.conf line (null with one address).
    /// Callers are given the one of their own kind (<see cref="IpFor"/>).
    /// </summary>
    public IReadOnlyList<string>? DualIps => Volatile.Read(ref _pair) is { } pair ? [pair.Inner.Ip, pair.Outer.Ip] : null;

    private DualAddress? _pair;

    /// <summary>Sets <see cref="DualIps"/> from an inner-first list; one address clears it.</summary>
    public void SetDualIps(IReadOnlyList<string>? innerFirst)
    {
        var current = Volatile.Read(ref _pair);
        if (innerFirst is not { Count: 2 })
        {
            Volatile.Write(ref _pair, null);
        }
        else if (current is null || current.Inner.Ip != innerFirst[0] || current.Outer.Ip != innerFirst[1])
        {
            Volatile.Write(ref _pair, new DualAddress(NodeAddress.Of(innerFirst[0]), NodeAddress.Of(innerFirst[1]), DualIp.KindOf(innerFirst[1])));
        }
    }

    /// <summary>The address to give a caller at <paramref name="peerIp"/>: of the caller's kind for a dual-IP storage.</summary>
    public string IpFor(string peerIp) => AddressFor(peerIp).Ip;

    /// <summary>
    /// The address for a caller at <paramref name="peerIp"/> as IP text NUL-padded to the 45 bytes of IPv6-mode query
    /// responses (IPv4 mode sends the first 15).
    /// </summary>
    public byte[] IpFieldFor(string peerIp) => AddressFor(peerIp).IpField;

    /// <summary>True when <paramref name="ip"/> is one of the storage's addresses.</summary>
    public bool HasAddress(string ip) =>
        Ip == ip || (Volatile.Read(ref _pair) is { } pair && (pair.Inner.Ip == ip || pair.Outer.Ip == ip));

    private NodeAddress AddressFor(string peerIp) =>
        Volatile.Read(ref _pair) is { } pair ? DualIp.ForPeer(pair.Inner, pair.Outer, pair.OuterKind, peerIp) : Volatile.Read(ref _address);

    /// <summary>With IDs a storage may join from another of its addresses; queries pick up the new one at once.</summary>
    public void SetIp(string ip)
    {
        if (ip != Ip)
        {
            Volatile.Write(ref _address, NodeAddress.Of(ip));
        }
    }

    public StorageStatus Status { get; set; }

    public int Port { get; set; }

    public int StorePathCount { get; set; }

    public int SubdirCountPerPath { get; set; }

    public long UploadPriority { get; set; }

    public long JoinTime { get; set; }

    public long UpTime { get; set; }

    public string Version { get; set; } = FdfsConstants.ServerVersion;

    /// <summary>Source storage (ID) a new storage copies its files from, and the timestamp up to which it must.</summary>
    public string SyncSource { get; set; } = string.Empty;

    public long SyncUntilTimestamp { get; set; }

    /// <summary>Per source storage: the source timestamp up to which this storage has applied its binlog.</summary>
    public Dictionary<string, long> SyncedFrom { get; } = new(StringComparer.Ordinal);

    private long _lastSyncedTimestamp;

    /// <summary>Derived from <see cref="SyncedFrom"/> (protocol notes 8.3); read by the download sync rule.</summary>
    public long LastSyncedTimestamp
    {
        get => Volatile.Read(ref _lastSyncedTimestamp);
        set => Volatile.Write(ref _lastSyncedTimestamp, value);
    }

    public long LastHeartbeat { get; set; }

    /// <summary>How far into storage_changelog.dat this storage has been answered (STORAGE_CHANGELOG_REQ).</summary>
    public long ChangelogOffset { get; set; }

    public DiskUsage? Disk { get; set; }

    /// <summary>The last 348-byte statistics block the storage sent (null until its first BEAT with stats).</summary>
    public byte[]? Stats { get; set; }

    /// <summary>Store path round-robin cursor (store_path = 0).</summary>
    public int PathCursor;

    /// <summary>The group change version last sent to this storage in a change notification.</summary>
    public int NotifiedVersion = -1;

    /// <summary>The registry's leader version last sent to this storage (change notification bit 1).</summary>
    public int NotifiedLeaderVersion = -1;

    /// <summary>The connection of the storage's current tracker session; only that one's close marks it OFFLINE.</summary>
    public long SessionId { get; set; }

    public bool IsAvailable => Status is StorageStatus.Online or StorageStatus.Active;

    /// <summary>The brief record as a storage at <paramref name="peerIp"/> is sent it (its kind of address).</summary>
    public StorageBrief ToBrief(string peerIp) => new(Status, Port, Id, IpFor(peerIp));

    private sealed record NodeAddress(string Ip, byte[] IpField, uint NameAddress)
    {
        public static NodeAddress Of(string ip)
        {
            var field = new byte[FdfsConstants.QueryIpSizeV6];
            Encoding.ASCII.GetBytes(ip.AsSpan(0, Math.Min(ip.Length, field.Length)), field);
            uint name = IPAddress.TryParse(ip, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
                ? FileNames.AddressToNameField(address)
                : 0;
            return new NodeAddress(ip, field, name);
        }
    }

    /// <summary>A dual-IP storage's inner-first pair; the outer address's kind is worked out once, not per query.</summary>
    private sealed record DualAddress(NodeAddress Inner, NodeAddress Outer, IpKind OuterKind);
}

/// <summary>A group: its storages sorted by ID and the long-lived round-robin cursors.</summary>
internal sealed class GroupState
{
    public GroupState(string name)
    {
        Name = name;
        NameBytes = Encoding.ASCII.GetBytes(name);
        NameField = new byte[FdfsConstants.GroupNameMaxLength];
        NameBytes.CopyTo(NameField, 0);
    }

    public string Name { get; }

    public byte[] NameBytes { get; }

    /// <summary>Name NUL-padded to 16 bytes, as in responses.</summary>
    public byte[] NameField { get; }

    /// <summary>All known storages (any status), sorted by ID as FastDFS sorts them.</summary>
    public List<StorageNode> Storages { get; } = [];

    public int StoragePort { get; set; }

    public int StorePathCount { get; set; }

    public int SubdirCountPerPath { get; set; }

    /// <summary>Bumped on every membership/status change; storages get the member list when theirs differs.</summary>
    public int Version { get; set; }

    public int WriteCursor;

    public int ReadCursor;

    public int UpdateCursor;

    public StorageNode? Find(string id)
    {
        foreach (var s in Storages)
        {
            if (s.Id == id)
            {
                return s;
            }
        }

        return null;
    }

    /// <summary>The storage at <paramref name="ip"/> (and <paramref name="port"/> unless 0): how IP-addressed commands find one.</summary>
    public StorageNode? FindByAddress(string ip, int port = 0)
    {
        foreach (var s in Storages)
        {
            if (s.HasAddress(ip) && (port == 0 || s.Port == port))
            {
                return s;
            }
        }

        return null;
    }

    /// <summary>Inserts keeping the list sorted by ID.</summary>
    public void Insert(StorageNode node)
    {
        int at = Storages.FindIndex(s => string.CompareOrdinal(s.Id, node.Id) > 0);
        Storages.Insert(at < 0 ? Storages.Count : at, node);
    }
}
