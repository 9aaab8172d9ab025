using System.Buffers;
using System.Globalization;
using FastDfs.Protocol.TrackerState;

namespace FastDfs.Protocol.Messages;

/// <summary>TRACKER_GET_STATUS response (17 bytes): is_leader, running time and restart interval in seconds.</summary>
public readonly record struct TrackerStatus(bool IsLeader, long RunningTime, long RestartInterval)
{
    public const int Size = 1 + 8 + 8;

    public void Write(Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteByte(IsLeader ? (byte)1 : (byte)0);
        w.WriteInt64(RunningTime);
        w.WriteInt64(RestartInterval);
    }

    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        Write(bytes);
        return bytes;
    }

    public static TrackerStatus Read(ReadOnlySpan<byte> body)
    {
        if (body.Length != Size)
        {
            throw new FdfsProtocolException($"tracker status must be {Size} bytes, got {body.Length}");
        }

        var r = new WireReader(body);
        return new TrackerStatus(r.ReadByte() != 0, r.ReadInt64(), r.ReadInt64());
    }
}

/// <summary>
/// NOTIFY_NEXT_LEADER / COMMIT_NEXT_LEADER body: the leader's <c>ip:port</c> text NUL-padded to
/// FDFS_PROTO_IP_PORT_SIZE (IP_ADDRESS_SIZE + 6 = 52 bytes). IPv6 addresses go without brackets, as C splits at the
/// first colon only for IPv4; we split at the last one.
/// </summary>
public static class LeaderAddressBody
{
    public const int Size = FdfsConstants.InternalIpSize + 6;

    public static void Write(Span<byte> destination, ServerAddress leader)
    {
        var w = new WireWriter(destination);
        w.WriteFixed(leader.Ip + ":" + leader.Port.ToString(CultureInfo.InvariantCulture), Size);
    }

    public static byte[] ToArray(ServerAddress leader)
    {
        var bytes = new byte[Size];
        Write(bytes, leader);
        return bytes;
    }

    /// <summary>Parses the body; false for a wrong size or text that is not <c>ip:port</c>.</summary>
    public static bool TryRead(ReadOnlySpan<byte> body, out ServerAddress leader)
    {
        leader = default;
        if (body.Length != Size)
        {
            return false;
        }

        return TryParse(WireText.FromPadded(body), out leader);
    }

    /// <summary>Parses <c>ip:port</c> or <c>[ip]:port</c>.</summary>
    public static bool TryParse(string text, out ServerAddress address)
    {
        address = default;
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port)
            || port is <= 0 or > 65535)
        {
            return false;
        }

        string ip = text[..colon].Trim();
        if (ip.StartsWith('[') && ip.EndsWith(']'))
        {
            ip = ip[1..^1];
        }

        if (ip.Length == 0 || ip.Length >= FdfsConstants.InternalIpSize)
        {
            return false;
        }

        address = new ServerAddress(ip, port);
        return true;
    }
}

/// <summary>TRACKER_JOIN_LEADER request (24 bytes, 6.15.5+): the follower's up time, version and port.</summary>
public readonly record struct TrackerJoinLeaderRequest(long UpTime, string Version, long Port)
{
    public const int Size = 8 + FdfsConstants.VersionSize + 8;

    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        var w = new WireWriter(bytes);
        w.WriteInt64(UpTime);
        w.WriteFixed(Version, FdfsConstants.VersionSize);
        w.WriteInt64(Port);
        return bytes;
    }

    public static TrackerJoinLeaderRequest Read(ReadOnlySpan<byte> body)
    {
        if (body.Length != Size)
        {
            throw new FdfsProtocolException($"join leader request must be {Size} bytes, got {body.Length}");
        }

        var r = new WireReader(body);
        return new TrackerJoinLeaderRequest(r.ReadInt64(), r.ReadFixed(FdfsConstants.VersionSize), r.ReadInt64());
    }
}

/// <summary>
/// GET_ONE_SYS_FILE: request = file index (1) + offset L8; response = whole file size L8 + the bytes from the
/// offset (as many as fit one packet).
/// </summary>
public static class SysFileChunk
{
    public const int RequestSize = 1 + 8;
    public const int ResponseHeaderSize = 8;

    public static byte[] Request(byte index, long offset)
    {
        var bytes = new byte[RequestSize];
        var w = new WireWriter(bytes);
        w.WriteByte(index);
        w.WriteInt64(offset);
        return bytes;
    }

    public static (byte Index, long Offset) ReadRequest(ReadOnlySpan<byte> body)
    {
        if (body.Length != RequestSize)
        {
            throw new FdfsProtocolException($"sys file request must be {RequestSize} bytes, got {body.Length}");
        }

        var r = new WireReader(body);
        return (r.ReadByte(), r.ReadInt64());
    }

    /// <summary>Splits a response into the file's total size and this chunk.</summary>
    public static (long FileSize, ReadOnlyMemory<byte> Chunk) ReadResponse(ReadOnlyMemory<byte> body)
    {
        if (body.Length < ResponseHeaderSize)
        {
            throw FdfsProtocolException.Truncated("sys file response", ResponseHeaderSize, body.Length);
        }

        var r = new WireReader(body.Span);
        long size = r.ReadInt64();
        if (size < 0 || body.Length - ResponseHeaderSize > size)
        {
            throw new FdfsProtocolException($"sys file response: file size {size} with a chunk of {body.Length - ResponseHeaderSize} bytes");
        }

        return (size, body[ResponseHeaderSize..]);
    }
}

/// <summary>
/// One state file put together from its GET_ONE_SYS_FILE answers, without the I/O: the caller sends
/// <see cref="NextRequest"/>, feeds each successful answer's body to <see cref="Add"/> and stops at
/// <see cref="IsComplete"/>. Every answer must announce the same file size, carry a chunk that moves forward and
/// fits inside it, and the size is capped so a peer cannot make the caller buffer without bound; any other answer
/// is a <see cref="FdfsProtocolException"/> and leaves what was received untouched.
/// </summary>
public sealed class SysFileAssembler
{
    /// <summary>Largest file accepted: state files of a full cluster stay far below.</summary>
    public const long MaxFileSize = 64L << 20;

    private readonly ArrayBufferWriter<byte> _content = new();
    private long _size = -1;

    public SysFileAssembler(byte index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, TrackerSysFiles.Count);
        Index = index;
    }

    /// <summary>The file's GET_ONE_SYS_FILE index (<see cref="TrackerSysFiles.Names"/>).</summary>
    public byte Index { get; }

    public string FileName => TrackerSysFiles.Names[Index];

    /// <summary>Bytes received so far: where the next request asks to go on.</summary>
    public long Offset => _content.WrittenCount;

    /// <summary>True once the announced size has arrived (at the first answer for an empty file).</summary>
    public bool IsComplete => _size >= 0 && Offset == _size;

    public byte[] NextRequest() => SysFileChunk.Request(Index, Offset);

    /// <summary>Checks one answer body (file size L8 + chunk) and appends its chunk.</summary>
    public void Add(ReadOnlyMemory<byte> answerBody)
    {
        if (IsComplete)
        {
            throw new InvalidOperationException($"{FileName} is already complete");
        }

        var (size, chunk) = SysFileChunk.ReadResponse(answerBody);
        if (size > MaxFileSize)
        {
            throw new FdfsProtocolException($"{FileName}: announced size {size} is over the {MaxFileSize}-byte limit");
        }

        if (_size >= 0 && size != _size)
        {
            throw new FdfsProtocolException($"{FileName}: announced size changed from {_size} to {size} between chunks");
        }

        if (chunk.Length > size - Offset)
        {
            throw new FdfsProtocolException($"{FileName}: a chunk of {chunk.Length} bytes at offset {Offset} runs past the announced size {size}");
        }

        if (chunk.IsEmpty && Offset < size)
        {
            throw new FdfsProtocolException($"{FileName}: empty chunk at offset {Offset} of {size}");
        }

        _size = size;
        _content.Write(chunk.Span);
    }

    /// <summary>The whole file, once <see cref="IsComplete"/>.</summary>
    public byte[] ToArray() =>
        IsComplete ? _content.WrittenSpan.ToArray() : throw new InvalidOperationException($"{FileName} is not complete: {Offset} of {_size} bytes");
}
