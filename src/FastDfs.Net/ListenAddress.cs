using System.Net;
using System.Net.Sockets;
using FastDfs.Protocol.Config;

namespace FastDfs.Net;

/// <summary>Where a daemon listens, from <c>bind_addr</c> and <c>address_family</c> (FastDFS 6.11+).</summary>
public static class ListenAddress
{
    /// <summary>
    /// The addresses to listen on: the <c>bind_addr</c> addresses of the allowed families, at most one IPv4 and one
    /// IPv6 as FastDFS takes them, the first one first; without any, the any-address of the family. <c>both</c> then
    /// makes one dual-stack IPv6 socket that takes IPv4 clients too; <c>auto</c> stays IPv4, as before 6.11, so an
    /// upgrade does not change who can connect.
    /// </summary>
    public static (IPAddress Address, IReadOnlyList<IPAddress> Others, bool DualStack) Choose(
        IReadOnlyList<string> bindAddresses, FdfsAddressFamily family)
    {
        var chosen = new List<IPAddress>(2);
        foreach (string text in bindAddresses)
        {
            if (IPAddress.TryParse(text.Trim('[', ']'), out var address) && Allowed(address, family)
                && !chosen.Exists(a => a.AddressFamily == address.AddressFamily))
            {
                chosen.Add(address);
            }
        }

        if (chosen.Count > 0)
        {
            bool dual = family == FdfsAddressFamily.Both && chosen.Count == 1 && chosen[0].Equals(IPAddress.IPv6Any);
            return (chosen[0], chosen[1..], dual);
        }

        return family switch
        {
            FdfsAddressFamily.IPv6 => (IPAddress.IPv6Any, [], false),
            FdfsAddressFamily.Both => (IPAddress.IPv6Any, [], true),
            _ => (IPAddress.Any, [], false),
        };
    }

    /// <summary>
    /// Why <c>bind_addr</c> cannot be used, or null. Every entry must be an IP address: one that is not would otherwise
    /// be skipped, and the daemon would listen on every interface instead (FastDFS refuses it as well).
    /// </summary>
    public static string? Problem(IReadOnlyList<string> bindAddresses)
    {
        foreach (string text in bindAddresses)
        {
            if (!IPAddress.TryParse(text.Trim('[', ']'), out _))
            {
                return $"bind_addr: '{text}' is not an IP address (host names are not resolved here)";
            }
        }

        return null;
    }

    /// <summary>The address as it goes before <c>:port</c>: IPv6 in brackets.</summary>
    public static string Format(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();

    private static bool Allowed(IPAddress address, FdfsAddressFamily family) => family switch
    {
        FdfsAddressFamily.IPv4 => address.AddressFamily == AddressFamily.InterNetwork,
        FdfsAddressFamily.IPv6 => address.AddressFamily == AddressFamily.InterNetworkV6,
        _ => true,
    };
}
