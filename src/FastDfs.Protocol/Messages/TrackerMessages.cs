namespace FastDfs.Protocol.Messages;

/// <summary>An address a tracker hands out: IP text and port.</summary>
public readonly record struct ServerAddress(string Ip, int Port)
{
    public override string ToString() => Ip.Contains(':', StringComparison.Ordinal) ? $"[{Ip}]:{Port}" : $"{Ip}:{Port}";
}

/// <summary>QUERY_STORE_*_ONE response (40 bytes): group, storage, store path index.</summary>
public readonly record struct StoreTarget(string Group, ServerAddress Storage, byte StorePathIndex)
{
    public const int Size = FdfsConstants.GroupNameMaxLength + FdfsConstants.QueryIpSize + 8 + 1;

    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        var w = new WireWriter(bytes);
        w.WriteFixed(Group, FdfsConstants.GroupNameMaxLength);
        w.WriteFixed(Storage.Ip, FdfsConstants.QueryIpSize);
        w.WriteInt64(Storage.Port);
        w.WriteByte(StorePathIndex);
        return bytes;
    }

    public static StoreTarget Read(ReadOnlySpan<byte> body)
    {
        if (body.Length != Size)
        {
            throw new FdfsProtocolException($"store query response must be {Size} bytes, got {body.Length}");
        }

        var r = new WireReader(body);
        string group = r.ReadFixed(FdfsConstants.GroupNameMaxLength);
        string ip = r.ReadFixed(FdfsConstants.QueryIpSize);
        long port = r.ReadInt64();
        return new StoreTarget(group, new ServerAddress(ip, (int)port), r.ReadByte());
    }
}

/// <summary>
/// Responses listing servers of one group: QUERY_FETCH_ONE / QUERY_UPDATE (one server, 39 bytes),
/// QUERY_FETCH_ALL (g16 + N x (ip15 + port)), and QUERY_STORE_*_ALL (the same plus a trailing path index).
/// </summary>
public sealed record GroupServers(string Group, IReadOnlyList<ServerAddress> Servers, byte? StorePathIndex = null)
{
    private const int EntrySize = FdfsConstants.QueryIpSize + 8;

    public byte[] ToArray()
    {
        var bytes = new byte[FdfsConstants.GroupNameMaxLength + Servers.Count * EntrySize + (StorePathIndex.HasValue ? 1 : 0)];
        var w = new WireWriter(bytes);
        w.WriteFixed(Group, FdfsConstants.GroupNameMaxLength);
        foreach (var server in Servers)
        {
            w.WriteFixed(server.Ip, FdfsConstants.QueryIpSize);
            w.WriteInt64(server.Port);
        }

        if (StorePathIndex.HasValue)
        {
            w.WriteByte(StorePathIndex.Value);
        }

        return bytes;
    }

    public static GroupServers Read(ReadOnlySpan<byte> body, bool withStorePathIndex)
    {
        int servers = body.Length - FdfsConstants.GroupNameMaxLength - (withStorePathIndex ? 1 : 0);
        if (servers < EntrySize || servers % EntrySize != 0)
        {
            throw new FdfsProtocolException($"server list response of {body.Length} bytes is malformed");
        }

        var r = new WireReader(body);
        string group = r.ReadFixed(FdfsConstants.GroupNameMaxLength);
        var list = new List<ServerAddress>(servers / EntrySize);
        for (int i = 0; i < servers / EntrySize; i++)
        {
            string ip = r.ReadFixed(FdfsConstants.QueryIpSize);
            list.Add(new ServerAddress(ip, (int)r.ReadInt64()));
        }

        return new GroupServers(group, list, withStorePathIndex ? r.ReadByte() : null);
    }
}

/// <summary>LIST_ONE_GROUP / LIST_ALL_GROUPS record, 6.13.1+ layout (113 bytes).</summary>
public sealed record GroupStat
{
    public const int Size = 17 + 12 * 8;

    public required string Name { get; init; }
    public long TotalMb { get; init; }
    public long FreeMb { get; init; }
    public long ReservedMb { get; init; }
    public long TrunkFreeMb { get; init; }
    public long StorageCount { get; init; }
    public long StoragePort { get; init; }
    public long ReadableServerCount { get; init; }
    public long WritableServerCount { get; init; }
    public long CurrentWriteServer { get; init; }
    public long StorePathCount { get; init; }
    public long SubdirCountPerPath { get; init; }
    public long CurrentTrunkFileId { get; init; } = -1;

    public void Write(Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteFixed(Name, FdfsConstants.GroupNameMaxLength + 1);
        foreach (long value in (ReadOnlySpan<long>)[TotalMb, FreeMb, ReservedMb, TrunkFreeMb, StorageCount, StoragePort,
                     ReadableServerCount, WritableServerCount, CurrentWriteServer, StorePathCount, SubdirCountPerPath,
                     CurrentTrunkFileId])
        {
            w.WriteInt64(value);
        }
    }

    public static GroupStat Read(ReadOnlySpan<byte> record)
    {
        var r = new WireReader(record);
        return new GroupStat
        {
            Name = r.ReadFixed(FdfsConstants.GroupNameMaxLength + 1),
            TotalMb = r.ReadInt64(),
            FreeMb = r.ReadInt64(),
            ReservedMb = r.ReadInt64(),
            TrunkFreeMb = r.ReadInt64(),
            StorageCount = r.ReadInt64(),
            StoragePort = r.ReadInt64(),
            ReadableServerCount = r.ReadInt64(),
            WritableServerCount = r.ReadInt64(),
            CurrentWriteServer = r.ReadInt64(),
            StorePathCount = r.ReadInt64(),
            SubdirCountPerPath = r.ReadInt64(),
            CurrentTrunkFileId = r.ReadInt64(),
        };
    }

    public static byte[] WriteAll(IReadOnlyList<GroupStat> groups)
    {
        var bytes = new byte[groups.Count * Size];
        for (int i = 0; i < groups.Count; i++)
        {
            groups[i].Write(bytes.AsSpan(i * Size, Size));
        }

        return bytes;
    }

    public static List<GroupStat> ReadAll(ReadOnlySpan<byte> body)
    {
        if (body.Length % Size != 0)
        {
            throw new FdfsProtocolException($"group list of {body.Length} bytes is not a multiple of {Size}");
        }

        var list = new List<GroupStat>(body.Length / Size);
        for (int o = 0; o < body.Length; o += Size)
        {
            list.Add(Read(body.Slice(o, Size)));
        }

        return list;
    }
}

/// <summary>Read/write mode of a storage in listings (6.13+).</summary>
public enum StorageRwMode : byte
{
    None = 0,
    WriteOnly = 2,
    ReadOnly = 4,
    Both = 6,
}

/// <summary>LIST_STORAGE record, 6.13+ IPv4 layout (487 bytes).</summary>
public sealed record StorageInfo
{
    public const int Size = 1 + 1 + 16 + FdfsConstants.IPv4AddressSize + 16 + FdfsConstants.VersionSize + 10 * 8 + StorageStats.Size + 1;

    public StorageStatus Status { get; init; }
    public StorageRwMode RwMode { get; init; } = StorageRwMode.Both;
    public required string Id { get; init; }
    public required string Ip { get; init; }
    public string SyncSourceId { get; init; } = string.Empty;
    public string Version { get; init; } = FdfsConstants.ServerVersion;
    public long JoinTime { get; init; }
    public long UpTime { get; init; }
    public long TotalMb { get; init; }
    public long FreeMb { get; init; }
    public long ReservedMb { get; init; }
    public long UploadPriority { get; init; }
    public long StorePathCount { get; init; }
    public long SubdirCountPerPath { get; init; }
    public long CurrentWritePath { get; init; }
    public long StoragePort { get; init; }
    public StorageStats Stats { get; init; } = new();
    public bool IsTrunkServer { get; init; }

    public void Write(Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteByte((byte)Status);
        w.WriteByte((byte)RwMode);
        w.WriteFixed(Id, FdfsConstants.StorageIdMaxSize);
        w.WriteFixed(Ip, FdfsConstants.IPv4AddressSize);
        w.WriteFixed(SyncSourceId, FdfsConstants.StorageIdMaxSize);
        w.WriteFixed(Version, FdfsConstants.VersionSize);
        foreach (long value in (ReadOnlySpan<long>)[JoinTime, UpTime, TotalMb, FreeMb, ReservedMb, UploadPriority,
                     StorePathCount, SubdirCountPerPath, CurrentWritePath, StoragePort])
        {
            w.WriteInt64(value);
        }

        Stats.Write(destination.Slice(w.Position, StorageStats.Size));
        destination[Size - 1] = IsTrunkServer ? (byte)1 : (byte)0;
    }

    public static StorageInfo Read(ReadOnlySpan<byte> record)
    {
        var r = new WireReader(record);
        var status = (StorageStatus)r.ReadByte();
        var rw = (StorageRwMode)r.ReadByte();
        string id = r.ReadFixed(FdfsConstants.StorageIdMaxSize);
        string ip = r.ReadFixed(FdfsConstants.IPv4AddressSize);
        string src = r.ReadFixed(FdfsConstants.StorageIdMaxSize);
        string version = r.ReadFixed(FdfsConstants.VersionSize);
        var info = new StorageInfo
        {
            Status = status,
            RwMode = rw,
            Id = id,
            Ip = ip,
            SyncSourceId = src,
            Version = version,
            JoinTime = r.ReadInt64(),
            UpTime = r.ReadInt64(),
            TotalMb = r.ReadInt64(),
            FreeMb = r.ReadInt64(),
            ReservedMb = r.ReadInt64(),
            UploadPriority = r.ReadInt64(),
            StorePathCount = r.ReadInt64(),
            SubdirCountPerPath = r.ReadInt64(),
            CurrentWritePath = r.ReadInt64(),
            StoragePort = r.ReadInt64(),
            Stats = StorageStats.Read(r.ReadBytes(StorageStats.Size)),
            IsTrunkServer = r.ReadByte() != 0,
        };
        return info;
    }

    public static List<StorageInfo> ReadAll(ReadOnlySpan<byte> body)
    {
        if (body.Length % Size != 0)
        {
            throw new FdfsProtocolException($"storage list of {body.Length} bytes is not a multiple of {Size}");
        }

        var list = new List<StorageInfo>(body.Length / Size);
        for (int o = 0; o < body.Length; o += Size)
        {
            list.Add(Read(body.Slice(o, Size)));
        }

        return list;
    }

    public static byte[] WriteAll(IReadOnlyList<StorageInfo> storages)
    {
        var bytes = new byte[storages.Count * Size];
        for (int i = 0; i < storages.Count; i++)
        {
            storages[i].Write(bytes.AsSpan(i * Size, Size));
        }

        return bytes;
    }
}

/// <summary>Request body of LIST_ONE_GROUP, LIST_STORAGE (g16 [+ storage id]) and DELETE_STORAGE (g16 + id).</summary>
public readonly record struct GroupAndStorageRequest(string Group, string? StorageId)
{
    public byte[] ToArray()
    {
        int idLength = string.IsNullOrEmpty(StorageId) ? 0 : System.Text.Encoding.UTF8.GetByteCount(StorageId);
        if (idLength >= FdfsConstants.StorageIdMaxSize)
        {
            throw new FdfsProtocolException($"storage id '{StorageId}' is longer than 15 bytes");
        }

        var bytes = new byte[FdfsConstants.GroupNameMaxLength + idLength];
        var w = new WireWriter(bytes);
        w.WriteFixed(Group, FdfsConstants.GroupNameMaxLength);
        if (idLength > 0)
        {
            w.WriteText(StorageId!);
        }

        return bytes;
    }

    public static GroupAndStorageRequest Read(ReadOnlySpan<byte> body, bool idRequired)
    {
        if (body.Length < FdfsConstants.GroupNameMaxLength
            || body.Length >= FdfsConstants.GroupNameMaxLength + FdfsConstants.StorageIdMaxSize
            || (idRequired && body.Length == FdfsConstants.GroupNameMaxLength))
        {
            throw new FdfsProtocolException($"group/storage request of {body.Length} bytes is malformed");
        }

        var r = new WireReader(body);
        string group = r.ReadFixed(FdfsConstants.GroupNameMaxLength);
        string id = WireText.FromPadded(r.Rest);
        return new GroupAndStorageRequest(group, id.Length == 0 ? null : id);
    }
}
