using System.Text;

namespace FastDfs.Protocol.Messages;

/// <summary>STORAGE_JOIN body (6.16): the 145-byte join record then one <c>host:port\n</c> line per tracker.</summary>
public sealed record StorageJoinRequest
{
    public const int FixedSize = 17 + 6 * 8 + FdfsConstants.VersionSize + 1 + 1 + FdfsConstants.StorageIdMaxSize + FdfsConstants.InternalIpSize + 8;

    public required string Group { get; init; }
    public long StoragePort { get; init; }
    public long StorePathCount { get; init; }
    public long SubdirCountPerPath { get; init; }
    public long UploadPriority { get; init; }
    public long JoinTime { get; init; }
    public long UpTime { get; init; }
    public string Version { get; init; } = FdfsConstants.ServerVersion;
    public bool InitFlag { get; init; }
    public StorageStatus Status { get; init; }
    public string StorageId { get; init; } = string.Empty;
    public string CurrentTrackerIp { get; init; } = string.Empty;
    public IReadOnlyList<string> Trackers { get; init; } = [];

    public byte[] ToArray()
    {
        string lines = string.Concat(Trackers.Select(t => t + "\n"));
        var bytes = new byte[FixedSize + Encoding.UTF8.GetByteCount(lines)];
        var w = new WireWriter(bytes);
        w.WriteFixed(Group, FdfsConstants.GroupNameMaxLength + 1);
        foreach (long value in (ReadOnlySpan<long>)[StoragePort, StorePathCount, SubdirCountPerPath, UploadPriority, JoinTime, UpTime])
        {
            w.WriteInt64(value);
        }

        w.WriteFixed(Version, FdfsConstants.VersionSize);
        w.WriteByte(InitFlag ? (byte)1 : (byte)0);
        w.WriteByte((byte)Status);
        w.WriteFixed(StorageId, FdfsConstants.StorageIdMaxSize);
        w.WriteFixed(CurrentTrackerIp, FdfsConstants.InternalIpSize);
        w.WriteInt64(Math.Max(1, Trackers.Count));
        w.WriteText(lines);
        return bytes;
    }

    public static StorageJoinRequest Read(ReadOnlySpan<byte> body)
    {
        if (body.Length < FixedSize)
        {
            throw FdfsProtocolException.Truncated("storage join", FixedSize, body.Length);
        }

        var r = new WireReader(body);
        string group = r.ReadFixed(FdfsConstants.GroupNameMaxLength + 1);
        long port = r.ReadInt64(), pathCount = r.ReadInt64(), subdirs = r.ReadInt64(), priority = r.ReadInt64();
        long joinTime = r.ReadInt64(), upTime = r.ReadInt64();
        string version = r.ReadFixed(FdfsConstants.VersionSize);
        bool init = r.ReadByte() != 0;
        var status = (StorageStatus)r.ReadByte();
        string id = r.ReadFixed(FdfsConstants.StorageIdMaxSize);
        string trackerIp = r.ReadFixed(FdfsConstants.InternalIpSize);
        long trackerCount = r.ReadInt64();
        if (trackerCount is < 1 or > FdfsConstants.MaxTrackers)
        {
            throw new FdfsProtocolException($"storage join: tracker count {trackerCount} out of 1..16");
        }

        var trackers = r.ReadRestAsText().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new StorageJoinRequest
        {
            Group = group,
            StoragePort = port,
            StorePathCount = pathCount,
            SubdirCountPerPath = subdirs,
            UploadPriority = priority,
            JoinTime = joinTime,
            UpTime = upTime,
            Version = version,
            InitFlag = init,
            Status = status,
            StorageId = id,
            CurrentTrackerIp = trackerIp,
            Trackers = trackers,
        };
    }
}

/// <summary>STORAGE_JOIN response (17 bytes): the status the tracker holds for the storage and its sync source.</summary>
public readonly record struct StorageJoinResponse(StorageStatus Status, string SyncSourceId)
{
    public const int Size = 1 + FdfsConstants.StorageIdMaxSize;

    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        var w = new WireWriter(bytes);
        w.WriteByte((byte)Status);
        w.WriteFixed(SyncSourceId, FdfsConstants.StorageIdMaxSize);
        return bytes;
    }

    public static StorageJoinResponse Read(ReadOnlySpan<byte> body)
    {
        var r = new WireReader(body);
        return new StorageJoinResponse((StorageStatus)r.ReadByte("join status"), r.ReadFixed(FdfsConstants.StorageIdMaxSize, "sync source"));
    }
}

/// <summary>Brief storage record (67 bytes): status, port, id, ip. Used in change notifications and status queries.</summary>
public readonly record struct StorageBrief(StorageStatus Status, int Port, string Id, string Ip)
{
    public const int Size = 1 + 4 + FdfsConstants.StorageIdMaxSize + FdfsConstants.InternalIpSize;

    public void Write(Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteByte((byte)Status);
        w.WriteInt32(Port);
        w.WriteFixed(Id, FdfsConstants.StorageIdMaxSize);
        w.WriteFixed(Ip, FdfsConstants.InternalIpSize);
    }

    public static StorageBrief Read(ReadOnlySpan<byte> record)
    {
        var r = new WireReader(record);
        return new StorageBrief((StorageStatus)r.ReadByte("brief"), r.ReadInt32("brief"),
            r.ReadFixed(FdfsConstants.StorageIdMaxSize, "brief"), r.ReadFixed(FdfsConstants.InternalIpSize, "brief"));
    }
}

/// <summary>
/// The change notification a tracker leader appends to its answers to BEAT / disk / sync reports: a flag byte,
/// then a leader record (bit 1), a trunk server record (bit 2), and one record per storage of the group (bit 4).
/// An empty body means "nothing changed".
/// </summary>
public sealed record ChangeNotification(StorageBrief? Leader, StorageBrief? TrunkServer, IReadOnlyList<StorageBrief>? GroupStorages)
{
    public const byte LeaderChanged = 1;
    public const byte TrunkServerChanged = 2;
    public const byte GroupChanged = 4;

    public static readonly ChangeNotification Nothing = new(null, null, null);

    public bool IsEmpty => Leader is null && TrunkServer is null && GroupStorages is null;

    public byte[] ToArray()
    {
        if (IsEmpty)
        {
            return [];
        }

        int records = (Leader is null ? 0 : 1) + (TrunkServer is null ? 0 : 1) + (GroupStorages?.Count ?? 0);
        var bytes = new byte[1 + records * StorageBrief.Size];
        byte flags = 0;
        int o = 1;
        foreach (var (record, flag) in new[] { (Leader, LeaderChanged), (TrunkServer, TrunkServerChanged) })
        {
            if (record is { } r)
            {
                flags |= flag;
                r.Write(bytes.AsSpan(o, StorageBrief.Size));
                o += StorageBrief.Size;
            }
        }

        if (GroupStorages is not null)
        {
            flags |= GroupChanged;
            foreach (var storage in GroupStorages)
            {
                storage.Write(bytes.AsSpan(o, StorageBrief.Size));
                o += StorageBrief.Size;
            }
        }

        bytes[0] = flags;
        return bytes;
    }

    public static ChangeNotification Read(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return Nothing;
        }

        byte flags = body[0];
        var rest = body[1..];
        StorageBrief? Next(ref ReadOnlySpan<byte> span)
        {
            if (span.Length < StorageBrief.Size)
            {
                throw FdfsProtocolException.Truncated("change notification", StorageBrief.Size, span.Length);
            }

            var record = StorageBrief.Read(span[..StorageBrief.Size]);
            span = span[StorageBrief.Size..];
            return record;
        }

        var leader = (flags & LeaderChanged) != 0 ? Next(ref rest) : null;
        var trunk = (flags & TrunkServerChanged) != 0 ? Next(ref rest) : null;
        List<StorageBrief>? group = null;
        if ((flags & GroupChanged) != 0)
        {
            if (rest.Length % StorageBrief.Size != 0)
            {
                throw new FdfsProtocolException("change notification: trailing bytes");
            }

            group = [];
            while (!rest.IsEmpty)
            {
                group.Add(Next(ref rest)!.Value);
            }
        }

        return new ChangeNotification(leader, trunk, group);
    }
}

/// <summary>REPORT_DISK_USAGE body: per store path, total MB and free MB.</summary>
public static class DiskUsageReport
{
    public static byte[] Encode(IReadOnlyList<(long TotalMb, long FreeMb)> paths)
    {
        var bytes = new byte[paths.Count * 16];
        var w = new WireWriter(bytes);
        foreach (var (total, free) in paths)
        {
            w.WriteInt64(total);
            w.WriteInt64(free);
        }

        return bytes;
    }

    public static List<(long TotalMb, long FreeMb)> Decode(ReadOnlySpan<byte> body, int expectedPaths)
    {
        // Compared by division: expectedPaths * 16 can wrap to the body's length (0x10000000 paths to 0 bytes).
        if (expectedPaths < 0 || body.Length % 16 != 0 || body.Length / 16 != expectedPaths)
        {
            throw new FdfsProtocolException($"disk usage report of {body.Length} bytes for {expectedPaths} paths");
        }

        var r = new WireReader(body);
        var list = new List<(long, long)>(expectedPaths);
        for (int i = 0; i < expectedPaths; i++)
        {
            list.Add((r.ReadInt64(), r.ReadInt64()));
        }

        return list;
    }
}
