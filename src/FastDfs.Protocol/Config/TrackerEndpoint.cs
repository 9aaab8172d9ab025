using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace FastDfs.Protocol.Config;

/// <summary>
/// One <c>tracker_server</c> value: a tracker reachable at <see cref="Host"/>:<see cref="Port"/>, optionally with
/// an alternative address of the same tracker (FastDFS 6 "dual IP": an inner and an outer address).
/// </summary>
/// <remarks>
/// Accepted forms: <c>host:port</c>, <c>host</c> (default port), <c>[ipv6]:port</c>, <c>host1,host2:port</c> and
/// <c>[ipv6a,ipv6b]:port</c>. An IPv6 address must be in brackets. At most two addresses, like FastDFS.
/// </remarks>
/// <param name="Host">The first (preferred) address or host name.</param>
/// <param name="Port">TCP port, 1..65535.</param>
public sealed record TrackerEndpoint(string Host, int Port)
{
    /// <summary>FastDFS allows at most this many addresses per tracker.</summary>
    public const int MaxAddresses = 2;

    private static readonly string[] LoopbackLiterals = ["127.0.0.1", "::1", "fe80::1"];

    /// <summary>Further addresses of the same tracker (the second half of <c>host1,host2:port</c>).</summary>
    public IReadOnlyList<string> AlternateHosts { get; init; } = [];

    /// <summary><see cref="Host"/> followed by <see cref="AlternateHosts"/>.</summary>
    public IReadOnlyList<string> Hosts => [Host, .. AlternateHosts];

    /// <summary>
    /// True when an address is exactly <c>127.0.0.1</c>, <c>::1</c> or <c>fe80::1</c>. The C storage daemon
    /// refuses such a tracker_server; we accept it, this only lets callers mention it.
    /// </summary>
    public bool IsLoopbackLiteral =>
        Hosts.Any(h => LoopbackLiterals.Contains(h, StringComparer.OrdinalIgnoreCase));

    /// <summary>Parses a <c>tracker_server</c> value. Throws <see cref="FormatException"/>.</summary>
    public static TrackerEndpoint Parse(string text, int defaultPort = FdfsConstants.DefaultTrackerPort) =>
        TryParse(text, out var endpoint, out string? error, defaultPort) ? endpoint! : throw new FormatException(error);

    public static bool TryParse(string? text, out TrackerEndpoint? endpoint, int defaultPort = FdfsConstants.DefaultTrackerPort) =>
        TryParse(text, out endpoint, out _, defaultPort);

    public static bool TryParse(string? text, out TrackerEndpoint? endpoint, out string? error, int defaultPort = FdfsConstants.DefaultTrackerPort)
    {
        endpoint = null;
        string s = (text ?? "").Trim();
        if (s.Length == 0)
        {
            error = "tracker address is empty";
            return false;
        }

        bool bracketed = s[0] == '[';
        switch (HostList.TrySplit(s, out string hostsPart, out string? portPart))
        {
            case HostListProblem.UnclosedBracket:
                error = $"invalid tracker address '{s}': missing ']'";
                return false;
            case HostListProblem.TextAfterBracket:
                error = $"invalid tracker address '{s}': expected ':port' after ']'";
                return false;
            case HostListProblem.UnbracketedIPv6:
                error = $"invalid tracker address '{s}': write IPv6 addresses in brackets, e.g. [::1]:{defaultPort}";
                return false;
        }

        int port = defaultPort;
        if (portPart is not null
            && (!int.TryParse(portPart.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            error = $"invalid tracker address '{s}': port must be 1..65535";
            return false;
        }

        string[] hosts = hostsPart.Split(',', StringSplitOptions.TrimEntries);
        if (hosts.Length > MaxAddresses)
        {
            error = $"invalid tracker address '{s}': at most {MaxAddresses} addresses per tracker";
            return false;
        }

        foreach (string host in hosts)
        {
            if (!IsValidHost(host, bracketed))
            {
                error = host.Length == 0
                    ? $"invalid tracker address '{s}': empty host"
                    : $"invalid tracker address '{s}': '{host}' is not a valid host";
                return false;
            }
        }

        endpoint = new TrackerEndpoint(hosts[0], port) { AlternateHosts = hosts[1..] };
        error = null;
        return true;
    }

    /// <summary>The config spelling: <c>host:port</c>, <c>h1,h2:port</c> or <c>[v6a,v6b]:port</c>.</summary>
    public override string ToString()
    {
        string hosts = string.Join(",", Hosts);
        bool needsBrackets = Hosts.Any(h => h.Contains(':', StringComparison.Ordinal));
        return needsBrackets
            ? $"[{hosts}]:{Port.ToString(CultureInfo.InvariantCulture)}"
            : $"{hosts}:{Port.ToString(CultureInfo.InvariantCulture)}";
    }

    public bool Equals(TrackerEndpoint? other) =>
        other is not null
        && string.Equals(Host, other.Host, StringComparison.OrdinalIgnoreCase)
        && Port == other.Port
        && AlternateHosts.SequenceEqual(other.AlternateHosts, StringComparer.OrdinalIgnoreCase);

    public override int GetHashCode() =>
        HashCode.Combine(StringComparer.OrdinalIgnoreCase.GetHashCode(Host), Port, AlternateHosts.Count);

    private static bool IsValidHost(string host, bool bracketed)
    {
        if (host.Length == 0)
        {
            return false;
        }

        if (host.Contains(':', StringComparison.Ordinal))
        {
            return bracketed && IPAddress.TryParse(host, out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6;
        }

        if (bracketed)
        {
            // Brackets are for IP addresses (an IPv4 one may share them with an IPv6 one), not names.
            return IsIPv4Literal(host);
        }

        if (host.Length > 253 || host[0] is '-' or '.' || host[^1] == '-')
        {
            return false;
        }

        foreach (char c in host)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_'))
            {
                return false;
            }
        }

        // All-numeric dotted text must be a real IPv4 address ("10.0.0.300" is a typo, not a name).
        return !host.Split('.').All(l => l.Length > 0 && l.All(char.IsAsciiDigit)) || IsIPv4Literal(host);
    }

    private static bool IsIPv4Literal(string host)
    {
        string[] labels = host.Split('.');
        return labels.Length == 4
            && labels.All(l => l.Length is > 0 and <= 3 && l.All(char.IsAsciiDigit) && int.Parse(l, CultureInfo.InvariantCulture) <= 255);
    }
}
