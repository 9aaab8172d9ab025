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

/// <summary>What one FETCH_STORAGE_IDS answer means to <see cref="StorageIdListReader"/>.</summary>
public enum StorageIdPage
{
    /// <summary>Send <see cref="StorageIdListReader.NextRequest"/> for the next page.</summary>
    More,

    /// <summary>The list is whole: <see cref="StorageIdListReader.ToMap"/>.</summary>
    Complete,

    /// <summary>The tracker refused with a status (EOPNOTSUPP when it does not use storage IDs).</summary>
    Refused,
}

/// <summary>
/// Pages through STORAGE_FETCH_STORAGE_IDS (69) answers: which request goes next and when the list is whole. The
/// storage and the client (with <c>load_fdfs_parameters_from_tracker</c>) both fetch the tracker's list this way.
/// </summary>
public sealed class StorageIdListReader
{
    private readonly List<string> _lines = [];
    private bool? _allowEmpty = true; // 6.16 sends start_index + allow_empty; older trackers take the index alone

    public FetchStorageIdsRequest NextRequest => new(_lines.Count, _allowEmpty);

    /// <summary>
    /// Takes the answer to <see cref="NextRequest"/>. An EINVAL to the first request is an older tracker that wants
    /// the index alone: the next request omits allow_empty. A garbled page throws <see cref="FdfsProtocolException"/>.
    /// </summary>
    public StorageIdPage Accept(byte status, ReadOnlySpan<byte> body)
    {
        if (status == FdfsErrno.EINVAL && _allowEmpty is not null && _lines.Count == 0)
        {
            _allowEmpty = null;
            return StorageIdPage.More;
        }

        if (status != 0)
        {
            return StorageIdPage.Refused;
        }

        var page = FetchStorageIdsResponse.Read(body);
        _lines.AddRange(page.Lines);
        return page.Lines.Count == 0 || _lines.Count >= page.TotalCount ? StorageIdPage.Complete : StorageIdPage.More;
    }

    /// <summary>The IDs received, parsed as storage_ids.conf (a bad line throws FdfsConfigException naming <paramref name="source"/>).</summary>
    public Config.StorageIdMap ToMap(string source) => Config.StorageIdMap.Parse(string.Join('\n', _lines), source);
}

/// <summary>
/// STORAGE_PARAMETER_REQ (75) answer: the tracker's cluster-wide settings as <c>key=value</c> lines (use_storage_id,
/// id_type_in_filename, response_ip_addr_size, ...). Storages ask before joining; clients with
/// <c>load_fdfs_parameters_from_tracker</c> ask instead of reading use_storage_id from client.conf.
/// </summary>
public sealed class TrackerParameters(IReadOnlyDictionary<string, string> values)
{
    public IReadOnlyDictionary<string, string> Values { get; } = values;

    /// <summary>A boolean setting as FastDFS writes them (1/0, true/false, yes/no, on/off); null when absent or unreadable.</summary>
    public bool? GetBool(string key) =>
        Values.TryGetValue(key, out string? text) && Config.FdfsConfigFile.TryParseBool(text, out bool value) ? value : null;

    /// <summary>Reads the lines; lines without '=' are skipped, keys and values trimmed, the last of a repeated key wins.</summary>
    public static TrackerParameters Read(ReadOnlySpan<byte> body)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in Encoding.ASCII.GetString(body).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                values[line[..eq].Trim()] = line[(eq + 1)..].Trim();
            }
        }

        return new TrackerParameters(values);
    }
}
