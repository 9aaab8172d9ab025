using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace FastDfs.Protocol.Messages;

/// <summary>
/// STORAGE_FETCH_STORAGE_IDS (69) request: <c>start_index L4</c>, optionally followed by an allow_empty byte (protocol
/// notes 3.3; older trackers send only the index). The reply pages through the tracker's storage_ids.conf.
/// </summary>
public readonly record struct FetchStorageIdsRequest(int StartIndex, bool? AllowEmpty = null)
{
    public int Size => AllowEmpty is null ? 4 : 5;

    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        BinaryPrimitives.WriteInt32BigEndian(bytes, StartIndex);
        if (AllowEmpty is { } allow)
        {
            bytes[4] = allow ? (byte)1 : (byte)0;
        }

        return bytes;
    }

    public static FetchStorageIdsRequest Read(ReadOnlySpan<byte> body)
    {
        if (body.Length is not (4 or 5))
        {
            throw new FdfsProtocolException($"fetch storage ids body of {body.Length} bytes (expected 4 or 5)");
        }

        int start = BinaryPrimitives.ReadInt32BigEndian(body);
        return new FetchStorageIdsRequest(start, body.Length == 5 ? body[4] != 0 : null);
    }
}

/// <summary>
/// STORAGE_FETCH_STORAGE_IDS (69) response: total count <c>L4</c> + returned count <c>L4</c> + one text line per ID,
/// <c>id group ip[:port] [rw=..]\n</c>.
/// </summary>
public sealed record FetchStorageIdsResponse(int TotalCount, IReadOnlyList<string> Lines)
{
    public const int HeaderSize = 8;

    public byte[] ToArray()
    {
        var text = new StringBuilder();
        foreach (string line in Lines)
        {
            text.Append(line).Append('\n');
        }

        var bytes = new byte[HeaderSize + Encoding.ASCII.GetByteCount(text.ToString())];
        BinaryPrimitives.WriteInt32BigEndian(bytes, TotalCount);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), Lines.Count);
        Encoding.ASCII.GetBytes(text.ToString(), bytes.AsSpan(HeaderSize));
        return bytes;
    }

    public static FetchStorageIdsResponse Read(ReadOnlySpan<byte> body)
    {
        if (body.Length < HeaderSize)
        {
            throw new FdfsProtocolException($"storage ids response of {body.Length} bytes is too short");
        }

        int total = BinaryPrimitives.ReadInt32BigEndian(body);
        int count = BinaryPrimitives.ReadInt32BigEndian(body[4..]);
        string[] lines = Encoding.ASCII.GetString(body[HeaderSize..]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (count < 0 || total < 0 || lines.Length != count)
        {
            throw new FdfsProtocolException(string.Create(CultureInfo.InvariantCulture,
                $"storage ids response says {count} of {total} lines but carries {lines.Length}"));
        }

        return new FetchStorageIdsResponse(total, lines);
    }
}

/// <summary>
/// STORAGE_GET_SERVER_ID (70) request: <c>g16</c> + the storage's address as text (<c>ip</c> or <c>ip:port</c>, no NUL).
/// A bare <c>g16</c> asks about the caller's own IP. The reply is the storage ID as text, no NUL.
/// </summary>
public readonly record struct GetServerIdRequest(string Group, string Address)
{
    public byte[] ToArray()
    {
        int addressLength = Encoding.ASCII.GetByteCount(Address);
        if (addressLength >= FdfsConstants.IPv6AddressSize + 8)
        {
            throw new FdfsProtocolException($"address '{Address}' is too long");
        }

        var bytes = new byte[FdfsConstants.GroupNameMaxLength + addressLength];
        var w = new WireWriter(bytes);
        w.WriteFixed(Group, FdfsConstants.GroupNameMaxLength);
        w.WriteText(Address);
        return bytes;
    }

    public static GetServerIdRequest Read(ReadOnlySpan<byte> body)
    {
        if (body.Length < FdfsConstants.GroupNameMaxLength)
        {
            throw new FdfsProtocolException($"get server id body of {body.Length} bytes is too short");
        }

        var r = new WireReader(body);
        string group = r.ReadFixed(FdfsConstants.GroupNameMaxLength, "group name");
        return new GetServerIdRequest(group, WireText.FromPadded(r.Rest));
    }

    /// <summary><see cref="Address"/> split into IP and port (0 when absent); IPv6 as <c>[addr]:port</c>.</summary>
    public (string Ip, int Port) SplitAddress()
    {
        string ip = Address;
        string? port = null;
        if (Address.StartsWith('['))
        {
            int close = Address.IndexOf(']', StringComparison.Ordinal);
            if (close > 0)
            {
                ip = Address[1..close];
                port = Address.Length > close + 1 && Address[close + 1] == ':' ? Address[(close + 2)..] : null;
            }
        }
        else if (Address.Count(c => c == ':') == 1)
        {
            int colon = Address.IndexOf(':', StringComparison.Ordinal);
            ip = Address[..colon];
            port = Address[(colon + 1)..];
        }

        return (ip, port is not null && int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int p) ? p : 0);
    }
}
