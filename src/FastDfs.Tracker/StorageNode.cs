using System.Net;
using System.Text;
using FastDfs.Protocol;
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
/// One storage server as the tracker knows it, identified by its IP (no storage-ID mode).
/// Mutated under the registry lock; the fields the query path reads without the lock are either immutable
/// (<see cref="Ip"/>, the encoded fields), replaced atomically (<see cref="Disk"/>) or cursors updated with Interlocked.
/// </summary>
internal sealed class StorageNode
{
    public StorageNode(string ip, GroupState group)
    {
        Ip = ip;
        Group = group;
        IpField = new byte[FdfsConstants.QueryIpSize];
        Encoding.ASCII.GetBytes(ip, IpField);
        NameAddress = IPAddress.TryParse(ip, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            ? FileNames.AddressToNameField(address)
            : 0;
    }

    public string Ip { get; }

    /// <summary>The ID FastDFS reports for a storage when IDs are off: its IP.</summary>
    public string Id => Ip;

    public GroupState Group { get; }

    /// <summary>IP text NUL-padded to the 15 bytes of query responses.</summary>
    public byte[] IpField { get; }

    /// <summary>The IP as file names encode it (bytes 0..3 of the name), to find a file's source without decoding text.</summary>
    public uint NameAddress { get; }

    public StorageStatus Status { get; set; }

    public int Port { get; set; }

    public int StorePathCount { get; set; }

    public int SubdirCountPerPath { get; set; }

    public long UploadPriority { get; set; }

    public long JoinTime { get; set; }

    public long UpTime { get; set; }

    public string Version { get; set; } = FdfsConstants.ServerVersion;

    /// <summary>Source storage (IP) a new storage copies its files from, and the timestamp up to which it must.</summary>
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

    public StorageBrief ToBrief() => new(Status, Port, Id, Ip);
}

/// <summary>A group: its storages sorted by IP and the long-lived round-robin cursors.</summary>
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

    /// <summary>All known storages (any status), sorted by IP as FastDFS sorts by ID.</summary>
    public List<StorageNode> Storages { get; } = [];

    public int StoragePort { get; set; }

    public int StorePathCount { get; set; }

    public int SubdirCountPerPath { get; set; }

    /// <summary>Bumped on every membership/status change; storages get the member list when theirs differs.</summary>
    public int Version { get; set; }

    public int WriteCursor;

    public int ReadCursor;

    public int UpdateCursor;

    public StorageNode? Find(string ip)
    {
        foreach (var s in Storages)
        {
            if (s.Ip == ip)
            {
                return s;
            }
        }

        return null;
    }
}
