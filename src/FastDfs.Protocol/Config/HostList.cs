namespace FastDfs.Protocol.Config;

/// <summary>How <see cref="HostList.TrySplit"/> found an address text wanting.</summary>
internal enum HostListProblem
{
    None,
    UnclosedBracket,
    TextAfterBracket,
    UnbracketedIPv6,
}

/// <summary>
/// The address syntax FastDFS's config files share: <c>host[,host2][:port]</c>, or <c>[host,host2][:port]</c> when
/// the hosts are IPv6 addresses.
/// </summary>
internal static class HostList
{
    /// <summary>The host list and the port text (null when there is none), or what is wrong with the text.</summary>
    public static HostListProblem TrySplit(string text, out string hosts, out string? port)
    {
        hosts = string.Empty;
        port = null;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return HostListProblem.UnclosedBracket;
            }

            string rest = text[(close + 1)..];
            if (rest.Length > 0 && rest[0] != ':')
            {
                return HostListProblem.TextAfterBracket;
            }

            hosts = text[1..close];
            port = rest.Length > 0 ? rest[1..] : null;
            return HostListProblem.None;
        }

        int colon = text.LastIndexOf(':');
        hosts = colon < 0 ? text : text[..colon];
        port = colon < 0 ? null : text[(colon + 1)..];
        return hosts.Contains(':', StringComparison.Ordinal) ? HostListProblem.UnbracketedIPv6 : HostListProblem.None;
    }
}
