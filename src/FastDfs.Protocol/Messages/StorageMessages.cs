using System.Text;

namespace FastDfs.Protocol.Messages;

/// <summary>Body of requests that name one file: <c>g16 + remote filename</c> (delete, get metadata, file info, fetch/update queries).</summary>
public readonly record struct FileRequest(string Group, string RemoteFileName)
{
    public int Size => FdfsConstants.GroupNameMaxLength + Encoding.UTF8.GetByteCount(RemoteFileName);

    public int Write(Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteFixed(Group, FdfsConstants.GroupNameMaxLength);
        w.WriteText(RemoteFileName);
        return w.Position;
    }

    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        Write(bytes);
        return bytes;
    }

    public static FileRequest Read(ReadOnlySpan<byte> body)
    {
        var r = new WireReader(body);
        string group = r.ReadFixed(FdfsConstants.GroupNameMaxLength, "group name");
        return new FileRequest(group, r.ReadRestAsText());
    }
}

/// <summary>Fixed part of UPLOAD_FILE / UPLOAD_APPENDER_FILE (15 bytes); the content follows.</summary>
public readonly record struct UploadRequestHeader(byte StorePathIndex, long FileSize, string Extension)
{
    public const int Size = 1 + 8 + FdfsConstants.FileExtMaxLength;

    public void Write(Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteByte(StorePathIndex);
        w.WriteInt64(FileSize);
        w.WriteFixed(Extension, FdfsConstants.FileExtMaxLength);
    }

    public static UploadRequestHeader Read(ReadOnlySpan<byte> body)
    {
        var r = new WireReader(body);
        byte index = r.ReadByte("store path index");
        long size = r.ReadInt64("file size");
        string ext = r.ReadFixed(FdfsConstants.FileExtMaxLength, "extension");
        return new UploadRequestHeader(index, size, ext);
    }
}

/// <summary>Fixed part of UPLOAD_SLAVE_FILE (38 bytes) plus the master name; the content follows.</summary>
public readonly record struct UploadSlaveRequestHeader(long MasterNameLength, long FileSize, string Prefix, string Extension)
{
    public const int Size = 8 + 8 + FdfsConstants.FilePrefixMaxLength + FdfsConstants.FileExtMaxLength;

    public void Write(Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(MasterNameLength);
        w.WriteInt64(FileSize);
        w.WriteFixed(Prefix, FdfsConstants.FilePrefixMaxLength);
        w.WriteFixed(Extension, FdfsConstants.FileExtMaxLength);
    }

    public static UploadSlaveRequestHeader Read(ReadOnlySpan<byte> body)
    {
        var r = new WireReader(body);
        return new UploadSlaveRequestHeader(
            r.ReadInt64("master name length"),
            r.ReadInt64("file size"),
            r.ReadFixed(FdfsConstants.FilePrefixMaxLength, "prefix"),
            r.ReadFixed(FdfsConstants.FileExtMaxLength, "extension"));
    }
}

/// <summary>
/// The length fields before the name in APPEND (name_len, size), MODIFY (name_len, offset, size) and
/// TRUNCATE (name_len, new_size). <see cref="Offset"/> is unused (0) for append and truncate.
/// </summary>
public readonly record struct AppenderRequestHeader(long NameLength, long Offset, long Size)
{
    public static int FixedSize(StorageCommand command) => command == StorageCommand.ModifyFile ? 24 : 16;

    public void Write(StorageCommand command, Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(NameLength);
        if (command == StorageCommand.ModifyFile)
        {
            w.WriteInt64(Offset);
        }

        w.WriteInt64(Size);
    }

    public static AppenderRequestHeader Read(StorageCommand command, ReadOnlySpan<byte> body)
    {
        var r = new WireReader(body);
        long nameLength = r.ReadInt64("name length");
        long offset = command == StorageCommand.ModifyFile ? r.ReadInt64("offset") : 0;
        long size = r.ReadInt64("size");
        return new AppenderRequestHeader(nameLength, offset, size);
    }
}

/// <summary>DOWNLOAD_FILE body: offset, length (0 = to the end), group, remote filename.</summary>
public readonly record struct DownloadRequest(long Offset, long Length, string Group, string RemoteFileName)
{
    public byte[] ToArray()
    {
        var bytes = new byte[16 + FdfsConstants.GroupNameMaxLength + Encoding.UTF8.GetByteCount(RemoteFileName)];
        var w = new WireWriter(bytes);
        w.WriteInt64(Offset);
        w.WriteInt64(Length);
        w.WriteFixed(Group, FdfsConstants.GroupNameMaxLength);
        w.WriteText(RemoteFileName);
        return bytes;
    }

    public static DownloadRequest Read(ReadOnlySpan<byte> body)
    {
        var r = new WireReader(body);
        long offset = r.ReadInt64("offset");
        long length = r.ReadInt64("length");
        string group = r.ReadFixed(FdfsConstants.GroupNameMaxLength, "group name");
        return new DownloadRequest(offset, length, group, r.ReadRestAsText());
    }
}

/// <summary>SET_METADATA body: name_len, meta_len, flag, group, remote filename, metadata bytes.</summary>
public sealed record SetMetadataRequest(MetadataFlag Flag, string Group, string RemoteFileName, byte[] Metadata)
{
    public byte[] ToArray()
    {
        int nameLength = Encoding.UTF8.GetByteCount(RemoteFileName);
        var bytes = new byte[17 + FdfsConstants.GroupNameMaxLength + nameLength + Metadata.Length];
        var w = new WireWriter(bytes);
        w.WriteInt64(nameLength);
        w.WriteInt64(Metadata.Length);
        w.WriteByte((byte)Flag);
        w.WriteFixed(Group, FdfsConstants.GroupNameMaxLength);
        w.WriteText(RemoteFileName);
        w.WriteBytes(Metadata);
        return bytes;
    }

    public static SetMetadataRequest Read(ReadOnlySpan<byte> body)
    {
        var r = new WireReader(body);
        long nameLength = r.ReadInt64("name length");
        long metaLength = r.ReadInt64("metadata length");
        byte flag = r.ReadByte("flag");
        string group = r.ReadFixed(FdfsConstants.GroupNameMaxLength, "group name");
        if (nameLength <= 0 || metaLength < 0 || nameLength + metaLength != r.Remaining)
        {
            throw new FdfsProtocolException(
                $"set metadata: name length {nameLength} + metadata length {metaLength} != {r.Remaining} remaining bytes");
        }

        if (flag != (byte)MetadataFlag.Overwrite && flag != (byte)MetadataFlag.Merge)
        {
            throw new FdfsProtocolException($"set metadata: flag must be 'O' or 'M', got 0x{flag:x2}");
        }

        string name = Encoding.UTF8.GetString(r.ReadBytes((int)nameLength));
        return new SetMetadataRequest((MetadataFlag)flag, group, name, r.ReadBytes((int)metaLength).ToArray());
    }
}

/// <summary>Upload responses: <c>g16 + remote filename</c>.</summary>
public static class UploadResponse
{
    public static byte[] Encode(string group, string remoteFileName) => new FileRequest(group, remoteFileName).ToArray();

    public static FileId Decode(ReadOnlySpan<byte> body)
    {
        if (body.Length <= FdfsConstants.GroupNameMaxLength)
        {
            throw new FdfsProtocolException($"upload response of {body.Length} bytes is too short");
        }

        var request = FileRequest.Read(body);
        return new FileId(request.Group, request.RemoteFileName);
    }
}

/// <summary>QUERY_FILE_INFO response: 40 bytes, or 70 in IPv6 response mode (a 46-byte source IP).</summary>
public readonly record struct FileInfoResponse(long FileSize, long CreateTimestamp, uint Crc32, string SourceIp)
{
    public const int Size = 24 + FdfsConstants.IPv4AddressSize;
    public const int SizeV6 = 24 + FdfsConstants.IPv6AddressSize;

    public byte[] ToArray(bool ipv6Fields = false)
    {
        var bytes = new byte[ipv6Fields ? SizeV6 : Size];
        var w = new WireWriter(bytes);
        w.WriteInt64(FileSize);
        w.WriteInt64(CreateTimestamp);

        // FastDFS sign-extends the 32-bit CRC into the 8-byte field (protocol notes 5.1).
        w.WriteInt64((int)Crc32);
        w.WriteFixed(SourceIp, ipv6Fields ? FdfsConstants.IPv6AddressSize : FdfsConstants.IPv4AddressSize);
        return bytes;
    }

    public static FileInfoResponse Read(ReadOnlySpan<byte> body)
    {
        if (body.Length is not (Size or SizeV6))
        {
            throw new FdfsProtocolException($"file info response must be 40 or 70 bytes, got {body.Length}");
        }

        var r = new WireReader(body);
        long size = r.ReadInt64();
        long created = r.ReadInt64();
        uint crc = (uint)(r.ReadInt64() & 0xFFFFFFFF);
        string ip = r.ReadFixed(r.Remaining, "source ip");
        return new FileInfoResponse(size, created, crc, ip);
    }
}
