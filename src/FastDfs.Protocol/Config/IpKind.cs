namespace FastDfs.Protocol.Config;

/// <summary>
/// The network kind of an address as FastDFS 6 sorts them for dual-IP servers (<c>fdfs_get_ip_type</c>): one of
/// the three private IPv4 ranges, or "outer" for anything else, loopback and IPv6 included.
/// </summary>
public enum IpKind
{
    /// <summary>Text shorter than 8 characters (FastDFS's test; e.g. <c>::1</c>).</summary>
    Unknown = 0,

    /// <summary>10.0.0.0/8.</summary>
    Private10 = 1,

    /// <summary>172.16.0.0/12.</summary>
    Private172 = 2,

    /// <summary>192.168.0.0/16.</summary>
    Private192 = 3,

    /// <summary>Everything else: public addresses, but also 127.x and IPv6.</summary>
    Outer = 4,
}

/// <summary>
/// The FastDFS 6 rules for servers with two addresses (protocol notes 11): <c>inner,outer</c> pairs in
/// <c>storage_ids.conf</c> and <c>tracker_server</c>, and which one a caller is given.
/// </summary>
public static class DualIp
{
    /// <summary>FastDFS's classification, by text prefix as it does it.</summary>
    public static IpKind KindOf(string ip)
    {
        if (ip.Length < 8)
        {
            return IpKind.Unknown;
        }

        if (ip.StartsWith("10.", StringComparison.Ordinal))
        {
            return IpKind.Private10;
        }

        if (ip.StartsWith("192.168.", StringComparison.Ordinal))
        {
            return IpKind.Private192;
        }

        if (ip.StartsWith("172.", StringComparison.Ordinal))
        {
            // atoi of the second octet: leading digits only.
            int second = 0;
            for (int i = 4; i < ip.Length && char.IsAsciiDigit(ip[i]) && second < 1000; i++)
            {
                second = second * 10 + (ip[i] - '0');
            }

            if (second is >= 16 and < 32)
            {
                return IpKind.Private172;
            }
        }

        return IpKind.Outer;
    }

    /// <summary>
    /// Checks a server's address list: two addresses must be of different kinds (an inner and an outer one, or two
    /// different private ranges), as FastDFS requires; null when fine, else why not.
    /// </summary>
    public static string? Check(IReadOnlyList<string> ips)
    {
        if (ips.Count == 2 && KindOf(ips[0]) == KindOf(ips[1]))
        {
            return $"addresses {ips[0]} and {ips[1]} are of the same kind: one must be an inner (10/8, 172.16/12, 192.168/16) "
                + "and the other an outer address, or two different inner ranges";
        }

        return null;
    }

    /// <summary>
    /// The list in FastDFS's order (<c>fdfs_check_and_format_ips</c>): inner first, so an <c>outer,inner</c> pair is
    /// swapped. Call after <see cref="Check"/>.
    /// </summary>
    public static IReadOnlyList<string> InnerFirst(IReadOnlyList<string> ips) =>
        ips.Count == 2 && KindOf(ips[0]) == IpKind.Outer ? [ips[1], ips[0]] : ips;

    /// <summary>
    /// The address of an inner-first pair that a caller at <paramref name="peerIp"/> should use
    /// (<c>fdfs_get_ipaddr_by_peer_ip</c>): the second ("outer") one when it is of the caller's kind, else the first.
    /// A single address is always the answer.
    /// </summary>
    public static string ForPeer(IReadOnlyList<string> innerFirst, string peerIp) =>
        innerFirst.Count < 2 ? innerFirst[0] : ForPeer(innerFirst[0], innerFirst[1], KindOf(innerFirst[1]), peerIp);

    /// <summary>
    /// The same choice for a pair kept in another shape (the tracker's parsed addresses): <paramref name="outer"/>,
    /// whose kind the caller worked out once as <paramref name="outerKind"/>, when the peer is of that kind, else
    /// <paramref name="inner"/>.
    /// </summary>
    public static T ForPeer<T>(T inner, T outer, IpKind outerKind, string peerIp) =>
        outerKind == KindOf(peerIp) ? outer : inner;
}
