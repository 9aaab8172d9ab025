namespace FastDfs.Protocol.Messages;

/// <summary>An address a tracker hands out: IP text and port.</summary>
public readonly record struct ServerAddress(string Ip, int Port)
{
    public override string ToString() => Ip.Contains(':', StringComparison.Ordinal) ? $"[{Ip}]:{Port}" : $"{Ip}:{Port}";
}

/// <summary>
/// QUERY_STORE_*_ONE response: group, storage, store path index. 40 bytes, or 70 in IPv6 response mode
/// (<c>response_ip_addr_size = IPv6</c>: the IP field widens from 15 to 45 bytes); readers tell them apart by length.
/// </summary>
public readonly record struct StoreTarget(string Group, ServerAddress Storage, byte StorePathIndex)
{
    public const int Size = FdfsConstants.GroupNameMaxLength + FdfsConstants.QueryIpSize + 8 + 1;
    public const int SizeV6 = FdfsConstants.GroupNameMaxLength + FdfsConstants.QueryIpSizeV6 + 8 + 1;

    public byte[] ToArray(bool ipv6Fields = false)
    {
        int ipSize = QueryIp.Size(ipv6Fields);
        var bytes = new byte[FdfsConstants.GroupNameMaxLength + ipSize + 8 + 1];
        var w = new WireWriter(bytes);
        w.WriteFixed(Group, FdfsConstants.GroupNameMaxLength);
        w.WriteFixed(Storage.Ip, ipSize);
        w.WriteInt64(Storage.Port);
        w.WriteByte(StorePathIndex);
        return bytes;
    }

    public static StoreTarget Read(ReadOnlySpan<byte> body)
    {
        if (body.Length is not (Size or SizeV6))
        {
            throw new FdfsProtocolException($"store query response must be {Size} or {SizeV6} bytes, got {body.Length}");
        }

        var r = new WireReader(body);
        string group = r.ReadFixed(FdfsConstants.GroupNameMaxLength);
        string ip = r.ReadFixed(QueryIp.Size(body.Length == SizeV6));
        long port = r.ReadInt64();
        return new StoreTarget(group, new ServerAddress(ip, (int)port), r.ReadByte());
    }
}

/// <summary>The IP field of tracker query responses: 15 bytes, 45 in IPv6 response mode.</summary>
public static class QueryIp
{
    public static int Size(bool ipv6Fields) => ipv6Fields ? FdfsConstants.QueryIpSizeV6 : FdfsConstants.QueryIpSize;

    /// <summary>True when an address text fits the query IP field of the mode (FastDFS would cut it).</summary>
    public static bool Fits(string ip, bool ipv6Fields) => ip.Length <= Size(ipv6Fields);
}

/// <summary>
/// Responses listing servers of one group: QUERY_FETCH_ONE / QUERY_UPDATE (one server, 39 bytes),
/// QUERY_FETCH_ALL (g16 + N x (ip15 + port)), and QUERY_STORE_*_ALL (the same plus a trailing path index).
/// In IPv6 response mode each IP field is 45 bytes (69 for one server); readers tell the modes apart by length
/// (N x 23 and M x 53 never meet below 32 servers a group).
/// </summary>
public sealed record GroupServers(string Group, IReadOnlyList<ServerAddress> Servers, byte? StorePathIndex = null)
{
    private const int EntrySize = FdfsConstants.QueryIpSize + 8;
    private const int EntrySizeV6 = FdfsConstants.QueryIpSizeV6 + 8;

    public byte[] ToArray(bool ipv6Fields = false)
    {
        int ipSize = QueryIp.Size(ipv6Fields);
        var bytes = new byte[FdfsConstants.GroupNameMaxLength + Servers.Count * (ipSize + 8) + (StorePathIndex.HasValue ? 1 : 0)];
        var w = new WireWriter(bytes);
        w.WriteFixed(Group, FdfsConstants.GroupNameMaxLength);
        foreach (var server in Servers)
        {
            w.WriteFixed(server.Ip, ipSize);
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
        int entrySize = servers > 0 && servers % EntrySize == 0 && servers / EntrySize <= FdfsConstants.MaxServersPerGroup ? EntrySize
            : servers > 0 && servers % EntrySizeV6 == 0 ? EntrySizeV6
            : 0;
        if (entrySize == 0)
        {
            throw new FdfsProtocolException($"server list response of {body.Length} bytes is malformed");
        }

        int ipSize = entrySize - 8;
        var r = new WireReader(body);
        string group = r.ReadFixed(FdfsConstants.GroupNameMaxLength);
        var list = new List<ServerAddress>(servers / entrySize);
        for (int i = 0; i < servers / entrySize; i++)
        {
            string ip = r.ReadFixed(ipSize);
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

/// <summary>
/// LIST_STORAGE record, 6.13+ layout: 487 bytes, or 517 in IPv6 response mode (the IP field is 46 bytes instead
/// of 16). Readers of a whole listing tell the modes apart by length.
/// </summary>
public sealed record StorageInfo
{
    public const int Size = 1 + 1 + 16 + FdfsConstants.IPv4AddressSize + 16 + FdfsConstants.VersionSize + 10 * 8 + StorageStats.Size + 1;
    public const int SizeV6 = Size - FdfsConstants.IPv4AddressSize + FdfsConstants.IPv6AddressSize;

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

    /// <summary>Record size of the mode.</summary>
    public static int SizeOf(bool ipv6Fields) => ipv6Fields ? SizeV6 : Size;

    public void Write(Span<byte> destination, bool ipv6Fields = false)
    {
        var w = new WireWriter(destination);
        w.WriteByte((byte)Status);
        w.WriteByte((byte)RwMode);
        w.WriteFixed(Id, FdfsConstants.StorageIdMaxSize);
        w.WriteFixed(Ip, ipv6Fields ? FdfsConstants.IPv6AddressSize : FdfsConstants.IPv4AddressSize);
        w.WriteFixed(SyncSourceId, FdfsConstants.StorageIdMaxSize);
        w.WriteFixed(Version, FdfsConstants.VersionSize);
        foreach (long value in (ReadOnlySpan<long>)[JoinTime, UpTime, TotalMb, FreeMb, ReservedMb, UploadPriority,
                     StorePathCount, SubdirCountPerPath, CurrentWritePath, StoragePort])
        {
            w.WriteInt64(value);
        }

        Stats.Write(destination.Slice(w.Position, StorageStats.Size));
        destination[SizeOf(ipv6Fields) - 1] = IsTrunkServer ? (byte)1 : (byte)0;
    }

    /// <summary>Reads one record of <see cref="Size"/> or <see cref="SizeV6"/> bytes (the length gives the mode).</summary>
    public static StorageInfo Read(ReadOnlySpan<byte> record)
    {
        if (record.Length is not (Size or SizeV6))
        {
            throw new FdfsProtocolException($"storage record must be {Size} or {SizeV6} bytes, got {record.Length}");
        }

        var r = new WireReader(record);
        var status = (StorageStatus)r.ReadByte();
        var rw = (StorageRwMode)r.ReadByte();
        string id = r.ReadFixed(FdfsConstants.StorageIdMaxSize);
        string ip = r.ReadFixed(record.Length == SizeV6 ? FdfsConstants.IPv6AddressSize : FdfsConstants.IPv4AddressSize);
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

    /// <summary>
    /// A whole listing, IPv4 or IPv6 mode by length: 487 and 517 are coprime, so a body of at most 32 records
    /// (servers per group) is a multiple of only one of them.
    /// </summary>
    public static List<StorageInfo> ReadAll(ReadOnlySpan<byte> body)
    {
        int size = body.Length % Size == 0 && body.Length / Size <= FdfsConstants.MaxServersPerGroup ? Size
            : body.Length % SizeV6 == 0 ? SizeV6
            : 0;
        if (size == 0)
        {
            throw new FdfsProtocolException($"storage list of {body.Length} bytes is not a multiple of {Size} or {SizeV6}");
        }

        var list = new List<StorageInfo>(body.Length / size);
        for (int o = 0; o < body.Length; o += size)
        {
            list.Add(Read(body.Slice(o, size)));
        }

        return list;
    }

    public static byte[] WriteAll(IReadOnlyList<StorageInfo> storages, bool ipv6Fields = false)
    {
        int size = SizeOf(ipv6Fields);
        var bytes = new byte[storages.Count * size];
        for (int i = 0; i < storages.Count; i++)
        {
            storages[i].Write(bytes.AsSpan(i * size, size), ipv6Fields);
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
