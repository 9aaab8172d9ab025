using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FastDfs.Protocol.Messages;

namespace FastDfs.Protocol.Config;

/// <summary>
/// One line of <c>storage_ids.conf</c> (protocol notes 10.1, 11): a storage's stable numeric ID, its group, one or two
/// IP addresses (inner first, then outer, whatever order the line gave), the port when several storages share a host (0: any port) and its read/write mode.
/// </summary>
public sealed record StorageIdEntry(string Id, string Group, IReadOnlyList<string> Ips, int Port, StorageRwMode RwMode)
{
    /// <summary>The largest ID FastDFS accepts: IDs must fit the 3 low bytes of a file name's source field (notes 6.2).</summary>
    public const int MaxServerId = 0xFFFFFF;

    /// <summary>The ID as file names carry it (bytes 0..3, little-endian).</summary>
    public uint NumericId => uint.Parse(Id, NumberStyles.None, CultureInfo.InvariantCulture);

    /// <summary>The first (inner) address.</summary>
    public string Ip => Ips[0];

    /// <summary>The address a caller at <paramref name="peerIp"/> should be given (FastDFS's inner/outer rule).</summary>
    public string IpFor(string peerIp) => DualIp.ForPeer(Ips, peerIp);

    /// <summary>The line as FETCH_STORAGE_IDS (69) sends it: <c>id group ip[,ip2][:port][ rw=..]</c>, IPv6 in brackets.</summary>
    public string ToLine()
    {
        var sb = new StringBuilder();
        string ips = string.Join(',', Ips);
        sb.Append(Id).Append(' ').Append(Group).Append(' ');
        sb.Append(ips.Contains(':', StringComparison.Ordinal) ? "[" + ips + "]" : ips);
        if (Port > 0)
        {
            sb.Append(':').Append(Port.ToString(CultureInfo.InvariantCulture));
        }

        if (RwMode != StorageRwMode.Both)
        {
            sb.Append(" rw=").Append(StorageIdMap.RwModeText(RwMode));
        }

        return sb.ToString();
    }
}

/// <summary>
/// The parsed <c>storage_ids.conf</c>: lines <c>id group ip[,ip2][:port] [rw=both|read|write|none]</c>, <c>#</c>
/// comments and blank lines. IDs are decimal numbers 1..2^24-1 (FastDFS's <c>fdfs_is_server_id_valid</c>); an ID and
/// an address:port may each appear once. Errors name the file and line.
/// </summary>
public sealed class StorageIdMap
{
    private readonly Dictionary<string, StorageIdEntry> _byId;
    private readonly Dictionary<(string Ip, int Port), StorageIdEntry> _byAddress;

    private StorageIdMap(List<StorageIdEntry> entries)
    {
        // FastDFS keeps the list sorted by ID string (strcmp); FETCH_STORAGE_IDS pages through it in that order.
        entries.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        Entries = entries;
        _byId = entries.ToDictionary(e => e.Id, StringComparer.Ordinal);
        _byAddress = [];
        foreach (var e in entries)
        {
            foreach (string ip in e.Ips)
            {
                _byAddress[(ip, e.Port)] = e;
            }
        }
    }

    public IReadOnlyList<StorageIdEntry> Entries { get; }

    public int Count => Entries.Count;

    /// <summary>True when an entry has an IPv6 address: the tracker's auto <c>response_ip_addr_size</c> then picks IPv6.</summary>
    public bool HasIPv6Address => Entries.Any(e => e.Ips.Any(ip => ip.Contains(':', StringComparison.Ordinal)));

    /// <summary>Reads and parses the file; host names in it are resolved with <paramref name="resolveHost"/> (null: IP addresses only).</summary>
    public static StorageIdMap Load(string path, Func<string, IPAddress[]>? resolveHost = null)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FdfsConfigException($"cannot read storage IDs file: {e.Message}", path, null, null, e);
        }

        return Parse(text, path, resolveHost);
    }

    /// <summary>
    /// Parses the file's text; throws <see cref="FdfsConfigException"/> naming the offending line. An address that is
    /// not an IP is a host name, resolved once here with <paramref name="resolveHost"/> as FastDFS resolves it when it
    /// loads the file (its first address, IPv4 preferred); without a resolver it is an error.
    /// </summary>
    public static StorageIdMap Parse(string text, string? sourcePath = null, Func<string, IPAddress[]>? resolveHost = null)
    {
        var entries = new List<StorageIdEntry>();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var addresses = new Dictionary<(string, int), int>();
        int lineNo = 0;
        foreach (string raw in text.Split('\n'))
        {
            lineNo++;
            string line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            FdfsConfigException Fail(string why) => new(why, sourcePath, lineNo, null);

            string[] fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 3)
            {
                throw Fail($"expected 'id group ip[:port]', got '{line}'");
            }

            string id = fields[0];
            if (!IsValidId(id))
            {
                throw Fail($"invalid storage id '{id}': must be a number from 1 to {StorageIdEntry.MaxServerId}");
            }

            if (ids.TryGetValue(id, out int firstLine))
            {
                throw Fail($"duplicate storage id {id} (first on line {firstLine})");
            }

            string group = fields[1];
            if (!GroupName.IsValid(group))
            {
                throw Fail($"invalid group name '{group}' (1-16 letters or digits)");
            }

            if (!TryParseAddress(fields[2], resolveHost, out var ips, out int port, out string? addressError))
            {
                throw Fail($"storage id {id}: {addressError}");
            }

            var rw = StorageRwMode.Both;
            for (int i = 3; i < fields.Length; i++)
            {
                string option = fields[i];
                if (!option.StartsWith("rw=", StringComparison.OrdinalIgnoreCase) || !TryParseRwMode(option[3..], out rw))
                {
                    throw Fail($"storage id {id}: unknown option '{option}' (expected rw=both, rw=read, rw=write or rw=none)");
                }
            }

            foreach (string ip in ips)
            {
                if (addresses.TryGetValue((ip, port), out int otherLine))
                {
                    string where = port > 0 ? ip + ":" + port.ToString(CultureInfo.InvariantCulture) : ip;
                    throw Fail($"duplicate storage address {where} (first on line {otherLine})");
                }

                addresses.Add((ip, port), lineNo);
            }

            ids.Add(id, lineNo);
            entries.Add(new StorageIdEntry(id, group, ips, port, rw));
        }

        if (entries.Count == 0)
        {
            throw new FdfsConfigException("no storage IDs defined", sourcePath, null, null);
        }

        return new StorageIdMap(entries);
    }

    public StorageIdEntry? FindById(string id) => _byId.GetValueOrDefault(id);

    /// <summary>The entry for a storage at <paramref name="ip"/>:<paramref name="port"/>: exact port first, then a port-less line (as FastDFS looks up).</summary>
    public StorageIdEntry? FindByAddress(string ip, int port) =>
        _byAddress.GetValueOrDefault((ip, port)) ?? _byAddress.GetValueOrDefault((ip, 0));

    /// <summary>The entry of <paramref name="group"/> with address <paramref name="ip"/> (any port).</summary>
    public StorageIdEntry? FindByIp(string group, string ip)
    {
        foreach (var e in Entries)
        {
            if (e.Group == group && e.Ips.Contains(ip, StringComparer.Ordinal))
            {
                return e;
            }
        }

        return null;
    }

    public static bool IsValidId(string id) =>
        id.Length is > 0 and < FdfsConstants.StorageIdMaxSize
        && id.All(char.IsAsciiDigit)
        && int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out int n)
        && n is > 0 and <= StorageIdEntry.MaxServerId;

    internal static string RwModeText(StorageRwMode mode) => mode switch
    {
        StorageRwMode.ReadOnly => "read",
        StorageRwMode.WriteOnly => "write",
        StorageRwMode.None => "none",
        _ => "both",
    };

    private static bool TryParseRwMode(string text, out StorageRwMode mode)
    {
        mode = text.ToLowerInvariant() switch
        {
            "both" => StorageRwMode.Both,
            "read" or "readonly" => StorageRwMode.ReadOnly,
            "write" or "writeonly" => StorageRwMode.WriteOnly,
            "none" => StorageRwMode.None,
            _ => (StorageRwMode)255,
        };
        return mode != (StorageRwMode)255;
    }

    /// <summary><c>ip</c>, <c>ip:port</c>, <c>ip1,ip2[:port]</c>, <c>[ipv6]</c>, <c>[ipv6a,ipv6b]:port</c>.</summary>
    private static bool TryParseAddress(string text, Func<string, IPAddress[]>? resolveHost, out List<string> ips, out int port, out string? error)
    {
        ips = [];
        port = 0;
        error = null;
        switch (HostList.TrySplit(text, out string list, out string? portText))
        {
            case HostListProblem.UnclosedBracket:
                error = $"unclosed '[' in address '{text}'";
                return false;
            case HostListProblem.TextAfterBracket:
                error = $"unexpected '{text[(text.IndexOf(']', StringComparison.Ordinal) + 1)..]}' after ']' in address '{text}'";
                return false;
            case HostListProblem.UnbracketedIPv6:
                error = $"IPv6 address '{text}' must be written in brackets: [addr]:port";
                return false;
        }

        if (portText is not null
            && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            error = $"invalid port '{portText}' in address '{text}'";
            return false;
        }

        foreach (string part in list.Split(','))
        {
            string ip = part.Trim();
            if (!IPAddress.TryParse(ip, out var address) && IsHostName(ip))
            {
                if (resolveHost is null)
                {
                    error = $"'{ip}' is not an IP address";
                    return false;
                }

                if (!TryResolve(ip, resolveHost, out address, out error))
                {
                    return false;
                }
            }
            else if (address is null
                || (address.AddressFamily == AddressFamily.InterNetwork && ip.Count(c => c == '.') != 3)
                || address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
            {
                // IPAddress.TryParse also takes shorthands like "10.1" or a bare number; FastDFS wants dotted quads.
                error = $"'{ip}' is not an IP address";
                return false;
            }

            ips.Add(address!.ToString()); // set by TryParse or TryResolve on every path that gets here
        }

        if (ips.Count > TrackerEndpoint.MaxAddresses)
        {
            error = $"at most {TrackerEndpoint.MaxAddresses} addresses per storage, got {ips.Count}";
            return false;
        }

        // FastDFS 6 dual IP: an inner and an outer address (or two private ranges), kept inner first.
        if (DualIp.Check(ips) is { } pairError)
        {
            error = pairError;
            return false;
        }

        ips = [.. DualIp.InnerFirst(ips)];
        return true;
    }

    /// <summary>RFC 1123 labels: letters, digits and hyphens, dot-separated, not all digits (so "10.1" stays a bad IP).</summary>
    private static bool IsHostName(string text) =>
        text.Length is > 0 and <= 253
        && text.Split('.').All(label => label.Length is > 0 and <= 63 && label[0] != '-' && label[^1] != '-'
            && label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
        && !text.All(c => char.IsAsciiDigit(c) || c == '.');

    private static bool TryResolve(string host, Func<string, IPAddress[]> resolveHost, out IPAddress? address, out string? error)
    {
        IPAddress[] found;
        try
        {
            found = resolveHost(host);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ArgumentException)
        {
            address = null;
            error = $"host '{host}' cannot be resolved: {e.Message}";
            return false;
        }

        address = found.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? found.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetworkV6);
        error = address is null ? $"host '{host}' has no IP address" : null;
        return address is not null;
    }
}
