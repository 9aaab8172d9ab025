using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace FastDfs.Protocol.Config;

/// <summary>
/// The <c>allow_hosts</c> rules of tracker.conf / storage.conf: which client addresses may connect.
/// </summary>
/// <remarks>
/// Patterns (one per <c>allow_hosts</c> line):
/// <list type="bullet">
/// <item><c>*</c>: everyone (wins over every other line).</item>
/// <item>A single address: <c>192.168.0.10</c>, <c>2001:db8::1</c>.</item>
/// <item>CIDR: <c>10.0.0.0/8</c>, <c>2001:db8::/32</c> (any prefix length; FastDFS itself only takes /10../31
///   for IPv4 and does not mask the host bits, we mask them).</item>
/// <item>One numeric range group in brackets: <c>10.0.1.[1-15,20]</c>, <c>host[01-08,20-25].domain.com</c>
///   (numbers keep the zero padding of the range start).</item>
/// <item>A host name: kept in <see cref="HostNames"/>; it only matches after
///   <see cref="WithResolvedHostNames"/> (FastDFS resolves names once at start-up, so does the daemon).</item>
/// </list>
/// An empty list or one of only blank lines allows everyone. IPv4-mapped IPv6 peers are matched as IPv4.
/// </remarks>
public sealed class HostAccessList
{
    private const int MaxRangeExpansion = 65536;

    private readonly List<(uint Start, uint End)> _v4 = [];
    private readonly List<(UInt128 Start, UInt128 End)> _v6 = [];
    private readonly List<string> _hostNames = [];

    private HostAccessList(IReadOnlyList<string> patterns, bool allowsAll)
    {
        Patterns = patterns;
        AllowsAll = allowsAll;
    }

    /// <summary>A list that lets everyone in (<c>allow_hosts = *</c>).</summary>
    public static HostAccessList AllowAll { get; } = new(["*"], allowsAll: true);

    /// <summary>The patterns the list was built from.</summary>
    public IReadOnlyList<string> Patterns { get; }

    /// <summary>True when any pattern is <c>*</c> or there are no patterns.</summary>
    public bool AllowsAll { get; }

    /// <summary>Host names (ranges expanded) that still need resolving.</summary>
    public IReadOnlyList<string> HostNames => _hostNames;

    /// <summary>Builds the list. Throws <see cref="FormatException"/> for a malformed pattern.</summary>
    /// <summary>Parses the <c>allow_hosts</c> key of a config; a bad pattern is a config error naming the key.</summary>
    public static HostAccessList FromAllowHosts(IEnumerable<string> patterns)
    {
        try
        {
            return Parse(patterns);
        }
        catch (FormatException ex)
        {
            throw new FdfsConfigException(ex.Message, null, null, "allow_hosts", ex);
        }
    }

    public static HostAccessList Parse(IEnumerable<string> patterns)
    {
        var list = patterns.Select(p => p.Trim()).Where(p => p.Length > 0).ToList();
        if (list.Count == 0 || list.Contains("*"))
        {
            return list.Count == 0 ? AllowAll : new HostAccessList(list, allowsAll: true);
        }

        var result = new HostAccessList(list, allowsAll: false);
        foreach (string pattern in list)
        {
            result.Add(pattern);
        }

        return result;
    }

    /// <summary>Throws <see cref="FormatException"/> if <paramref name="pattern"/> is not a valid allow_hosts value.</summary>
    public static void ValidatePattern(string pattern)
    {
        string p = pattern.Trim();
        if (p.Length == 0 || p == "*")
        {
            return;
        }

        new HostAccessList([p], allowsAll: false).Add(p);
    }

    /// <summary>True when <paramref name="address"/> may connect.</summary>
    public bool IsAllowed(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (AllowsAll)
        {
            return true;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            uint v = ToUInt32(address);
            foreach (var (start, end) in _v4)
            {
                if (v >= start && v <= end)
                {
                    return true;
                }
            }

            return false;
        }

        UInt128 v6 = ToUInt128(address);
        foreach (var (start, end) in _v6)
        {
            if (v6 >= start && v6 <= end)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A copy in which every host name is replaced by the addresses <paramref name="resolve"/> returns for it
    /// (e.g. <c>Dns.GetHostAddresses</c>). Names that resolve to nothing simply match nothing.
    /// </summary>
    public HostAccessList WithResolvedHostNames(Func<string, IEnumerable<IPAddress>> resolve)
    {
        ArgumentNullException.ThrowIfNull(resolve);
        if (AllowsAll || _hostNames.Count == 0)
        {
            return this;
        }

        var copy = new HostAccessList(Patterns, allowsAll: false);
        copy._v4.AddRange(_v4);
        copy._v6.AddRange(_v6);
        foreach (string name in _hostNames)
        {
            foreach (var address in resolve(name))
            {
                copy.AddAddress(address);
            }
        }

        return copy;
    }

    public override string ToString() => string.Join(", ", Patterns);

    private void Add(string pattern)
    {
        int open = pattern.IndexOf('[', StringComparison.Ordinal);
        if (open >= 0)
        {
            int close = pattern.IndexOf(']', open + 1);
            if (close < 0)
            {
                throw new FormatException($"invalid allow_hosts pattern '{pattern}': expected ']'");
            }

            string head = pattern[..open];
            string tail = pattern[(close + 1)..];
            if (tail.Contains('[', StringComparison.Ordinal))
            {
                throw new FormatException($"invalid allow_hosts pattern '{pattern}': only one [range] group is supported");
            }

            foreach (string expanded in ExpandRange(pattern, pattern[(open + 1)..close], head, tail))
            {
                AddSingle(pattern, expanded, allowCidr: false);
            }

            return;
        }

        AddSingle(pattern, pattern, allowCidr: true);
    }

    private void AddSingle(string pattern, string text, bool allowCidr)
    {
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            if (!allowCidr)
            {
                throw new FormatException($"invalid allow_hosts pattern '{pattern}': CIDR cannot be combined with a range");
            }

            AddCidr(pattern, text[..slash], text[(slash + 1)..]);
            return;
        }

        if (IPAddress.TryParse(text, out var address) && (text.Contains(':', StringComparison.Ordinal) || IsDottedQuad(text)))
        {
            AddAddress(address);
            return;
        }

        if (!IsHostName(text))
        {
            throw new FormatException($"invalid allow_hosts pattern '{pattern}': '{text}' is neither an IP address nor a host name");
        }

        _hostNames.Add(text);
    }

    private void AddCidr(string pattern, string ipText, string bitsText)
    {
        if (!IPAddress.TryParse(ipText, out var ip) || !(ipText.Contains(':', StringComparison.Ordinal) || IsDottedQuad(ipText)))
        {
            throw new FormatException($"invalid allow_hosts pattern '{pattern}': '{ipText}' is not an IP address");
        }

        int maxBits = ip.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (!int.TryParse(bitsText, NumberStyles.None, CultureInfo.InvariantCulture, out int bits) || bits > maxBits)
        {
            throw new FormatException($"invalid allow_hosts pattern '{pattern}': prefix length must be 0..{maxBits}");
        }

        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            uint mask = bits == 0 ? 0 : uint.MaxValue << (32 - bits);
            uint start = ToUInt32(ip) & mask;
            _v4.Add((start, start | ~mask));
        }
        else
        {
            UInt128 mask = bits == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - bits);
            UInt128 start = ToUInt128(ip) & mask;
            _v6.Add((start, start | ~mask));
        }
    }

    private void AddAddress(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            uint v = ToUInt32(address);
            _v4.Add((v, v));
        }
        else
        {
            UInt128 v = ToUInt128(address);
            _v6.Add((v, v));
        }
    }

    private static List<string> ExpandRange(string pattern, string inner, string head, string tail)
    {
        var result = new List<string>();
        foreach (string rawPart in inner.Split(','))
        {
            string part = rawPart.Trim();
            string startText = part;
            string endText = part;
            int dash = part.IndexOf('-', StringComparison.Ordinal);
            if (dash >= 0)
            {
                startText = part[..dash].Trim();
                endText = part[(dash + 1)..].Trim();
            }

            if (!int.TryParse(startText, NumberStyles.None, CultureInfo.InvariantCulture, out int start)
                || !int.TryParse(endText, NumberStyles.None, CultureInfo.InvariantCulture, out int end))
            {
                throw new FormatException($"invalid allow_hosts pattern '{pattern}': bad range item '{part}'");
            }

            if (end < start)
            {
                throw new FormatException($"invalid allow_hosts pattern '{pattern}': range {start}-{end} is reversed");
            }

            // In 64 bits: end - start + 1 overflows int for [0-2147483647], and an int counter never passes int.MaxValue.
            if (result.Count + ((long)end - start + 1) > MaxRangeExpansion)
            {
                throw new FormatException($"invalid allow_hosts pattern '{pattern}': range expands to more than {MaxRangeExpansion} hosts");
            }

            string format = "D" + startText.Length.ToString(CultureInfo.InvariantCulture);
            for (long i = start; i <= end; i++)
            {
                result.Add(head + i.ToString(format, CultureInfo.InvariantCulture) + tail);
            }
        }

        return result;
    }

    private static bool IsDottedQuad(string text)
    {
        string[] parts = text.Split('.');
        return parts.Length == 4 && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit));
    }

    private static bool IsHostName(string text)
    {
        if (text.Length is 0 or > 253 || text[0] is '.' or '-' || text[^1] == '-')
        {
            return false;
        }

        foreach (char c in text)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_'))
            {
                return false;
            }
        }

        // "10.0.0.300" is a typo for an address, not a name.
        return !text.Split('.').All(p => p.Length > 0 && p.All(char.IsAsciiDigit));
    }

    private static uint ToUInt32(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return ((uint)bytes[0] << 24) | ((uint)bytes[1] << 16) | ((uint)bytes[2] << 8) | bytes[3];
    }

    private static UInt128 ToUInt128(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        UInt128 v = 0;
        foreach (byte b in bytes)
        {
            v = (v << 8) | b;
        }

        return v;
    }
}
