namespace FastDfs.Protocol.Messages;

/// <summary>
/// Fixed part of SYNC_CREATE_FILE (16) and SYNC_UPDATE_FILE (18), 36 bytes (protocol notes 5.3):
/// name_len <c>L8</c> + file_size <c>L8</c> + source timestamp <c>L4</c> + <c>g16</c>; the remote filename and the
/// content follow.
/// </summary>
public readonly record struct SyncFileHeader(long NameLength, long FileSize, int Timestamp, string Group)
{
    public const int Size = 8 + 8 + 4 + FdfsConstants.GroupNameMaxLength;

    public void Write(Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(NameLength);
        w.WriteInt64(FileSize);
        w.WriteInt32(Timestamp);
        w.WriteFixed(Group, FdfsConstants.GroupNameMaxLength);
    }

    public static SyncFileHeader Read(ReadOnlySpan<byte> body)
    {
        var r = new WireReader(body);
        return new SyncFileHeader(
            r.ReadInt64("name length"),
            r.ReadInt64("file size"),
            r.ReadInt32("timestamp"),
            r.ReadFixed(FdfsConstants.GroupNameMaxLength, "group name"));
    }
}

/// <summary>
/// Fixed part of SYNC_APPEND_FILE (25), SYNC_MODIFY_FILE (35) and SYNC_TRUNCATE_FILE (37), 44 bytes:
/// name_len <c>L8</c> + two <c>L8</c> (append/modify: start offset and length; truncate: old and new size) +
/// timestamp <c>L4</c> + <c>g16</c>; the filename (and for append/modify the bytes) follow.
/// </summary>
public readonly record struct SyncRangeHeader(long NameLength, long First, long Second, int Timestamp, string Group)
{
    public const int Size = 8 + 8 + 8 + 4 + FdfsConstants.GroupNameMaxLength;

    public void Write(Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(NameLength);
        w.WriteInt64(First);
        w.WriteInt64(Second);
        w.WriteInt32(Timestamp);
        w.WriteFixed(Group, FdfsConstants.GroupNameMaxLength);
    }

    public static SyncRangeHeader Read(ReadOnlySpan<byte> body)
    {
        var r = new WireReader(body);
        return new SyncRangeHeader(
            r.ReadInt64("name length"),
            r.ReadInt64("offset"),
            r.ReadInt64("length"),
            r.ReadInt32("timestamp"),
            r.ReadFixed(FdfsConstants.GroupNameMaxLength, "group name"));
    }
}

/// <summary>
/// Fixed part of SYNC_RENAME_FILE (40: new name, old name) and SYNC_CREATE_LINK (19: link name, source name),
/// 36 bytes: two name lengths <c>L8</c> + timestamp <c>L4</c> + <c>g16</c>; both names follow in that order.
/// </summary>
public readonly record struct SyncTwoNamesHeader(long FirstNameLength, long SecondNameLength, int Timestamp, string Group)
{
    public const int Size = 8 + 8 + 4 + FdfsConstants.GroupNameMaxLength;

    public void Write(Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(FirstNameLength);
        w.WriteInt64(SecondNameLength);
        w.WriteInt32(Timestamp);
        w.WriteFixed(Group, FdfsConstants.GroupNameMaxLength);
    }

    public static SyncTwoNamesHeader Read(ReadOnlySpan<byte> body)
    {
        var r = new WireReader(body);
        return new SyncTwoNamesHeader(
            r.ReadInt64("first name length"),
            r.ReadInt64("second name length"),
            r.ReadInt32("timestamp"),
            r.ReadFixed(FdfsConstants.GroupNameMaxLength, "group name"));
    }
}

/// <summary>Fixed part of SYNC_DELETE_FILE (17), 20 bytes: timestamp <c>L4</c> + <c>g16</c>; the filename follows.</summary>
public readonly record struct SyncDeleteHeader(int Timestamp, string Group)
{
    public const int Size = 4 + FdfsConstants.GroupNameMaxLength;

    public void Write(Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteInt32(Timestamp);
        w.WriteFixed(Group, FdfsConstants.GroupNameMaxLength);
    }

    public static SyncDeleteHeader Read(ReadOnlySpan<byte> body)
    {
        var r = new WireReader(body);
        return new SyncDeleteHeader(r.ReadInt32("timestamp"), r.ReadFixed(FdfsConstants.GroupNameMaxLength, "group name"));
    }
}

/// <summary>REPORT_SERVER_ID (9): the sender's storage ID (its IP when IDs are off), NUL-padded to 16 bytes.</summary>
public readonly record struct ReportServerIdRequest(string StorageId)
{
    public const int Size = FdfsConstants.StorageIdMaxSize;

    public void Write(Span<byte> destination) => new WireWriter(destination).WriteFixed(StorageId, Size);

    public static ReportServerIdRequest Read(ReadOnlySpan<byte> body) =>
        new(new WireReader(body).ReadFixed(Size, "storage id"));
}

/// <summary>FETCH_ONE_PATH_BINLOG (26), 17 bytes: <c>g16</c> + store path index (1).</summary>
public readonly record struct FetchOnePathBinlogRequest(string Group, byte StorePathIndex)
{
    public const int Size = FdfsConstants.GroupNameMaxLength + 1;

    public void Write(Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteFixed(Group, FdfsConstants.GroupNameMaxLength);
        w.WriteByte(StorePathIndex);
    }

    public static FetchOnePathBinlogRequest Read(ReadOnlySpan<byte> body)
    {
        var r = new WireReader(body);
        return new FetchOnePathBinlogRequest(r.ReadFixed(FdfsConstants.GroupNameMaxLength, "group name"), r.ReadByte("store path index"));
    }
}

/// <summary>STORAGE_SYNC_REPORT (89) body: per source storage, its ID (16) + the source timestamp synced up to (<c>L4</c>).</summary>
public static class SyncReportBody
{
    public const int EntrySize = FdfsConstants.StorageIdMaxSize + 4;

    public static byte[] Encode(IReadOnlyList<(string SourceId, long Timestamp)> entries)
    {
        var bytes = new byte[entries.Count * EntrySize];
        var w = new WireWriter(bytes);
        foreach (var (id, ts) in entries)
        {
            w.WriteFixed(id, FdfsConstants.StorageIdMaxSize);
            w.WriteInt32((int)ts);
        }

        return bytes;
    }

    public static List<(string SourceId, long Timestamp)> Decode(ReadOnlySpan<byte> body)
    {
        if (body.Length % EntrySize != 0)
        {
            throw new FdfsProtocolException($"sync report body of {body.Length} bytes is not a multiple of {EntrySize}");
        }

        var entries = new List<(string, long)>(body.Length / EntrySize);
        var r = new WireReader(body);
        while (r.Remaining > 0)
        {
            entries.Add((r.ReadFixed(FdfsConstants.StorageIdMaxSize, "storage id"), r.ReadInt32("timestamp")));
        }

        return entries;
    }
}
