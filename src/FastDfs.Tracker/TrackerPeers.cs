using System.Net;
using System.Net.NetworkInformation;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Tracker;

/// <summary>
/// The trackers of the cluster as this tracker knows them (protocol notes 8.7). tracker.conf lists no peers: like
/// FastDFS, a tracker learns them from the <c>host:port</c> lines of storage JOIN bodies, and keeps them in
/// <c>base_path/data/tracker_peers.txt</c> so that after a restart it can find the leader before any storage reports.
/// </summary>
internal sealed class TrackerPeers
{
    public const string FileName = "tracker_peers.txt";

    private readonly Lock _gate = new();
    private readonly string _path;
    private readonly IPAddress? _bindAddress;
    private readonly HashSet<IPAddress> _localAddresses;
    private readonly Dictionary<string, bool> _selfByText = new(StringComparer.Ordinal);
    private ServerAddress[] _all = [];
    private ServerAddress[] _others = [];
    private int _port;

    /// <param name="dataDirectory">base_path/data.</param>
    /// <param name="bindAddress">The listen address; null or any-address when bound to all interfaces.</param>
    public TrackerPeers(string dataDirectory, IPAddress? bindAddress)
    {
        _path = Path.Combine(dataDirectory, FileName);
        _bindAddress = bindAddress is null || bindAddress.Equals(IPAddress.Any) || bindAddress.Equals(IPAddress.IPv6Any) ? null : bindAddress;
        _localAddresses = _bindAddress is null ? LocalAddresses() : [];
    }

    /// <summary>This tracker's own address as the cluster names it; null until known (bound to all interfaces).</summary>
    public ServerAddress? Self { get; private set; }

    /// <summary>Every known tracker, this one included when its address is known, sorted.</summary>
    public IReadOnlyList<ServerAddress> All => Volatile.Read(ref _all);

    /// <summary>The other trackers.</summary>
    public IReadOnlyList<ServerAddress> Others => Volatile.Read(ref _others);

    public string FilePath => _path;

    /// <summary>This tracker's listen port.</summary>
    public int Port => _port;

    /// <summary>Sets the listen port (known once bound) and loads the saved list.</summary>
    public void Start(int port)
    {
        _port = port;
        if (_bindAddress is not null)
        {
            Self = new ServerAddress(Unmap(_bindAddress).ToString(), port);
        }

        var saved = new List<string>();
        if (File.Exists(_path))
        {
            try
            {
                saved.AddRange(File.ReadAllLines(_path));
            }
            catch (IOException)
            {
                // Unreadable: the storages' next joins rebuild it.
            }
        }

        lock (_gate)
        {
            AddUnderLock(Self?.ToString());
            foreach (string line in saved)
            {
                AddUnderLock(line);
            }

            PublishUnderLock();
        }
    }

    /// <summary>Adds the trackers named in a storage's JOIN body; true when the list grew (it is saved then).</summary>
    public bool Learn(IEnumerable<string> lines)
    {
        bool added = false;
        string[] snapshot;
        lock (_gate)
        {
            foreach (string line in lines)
            {
                added |= AddUnderLock(line);
            }

            if (!added)
            {
                return false;
            }

            PublishUnderLock();
            snapshot = [.. _all.Select(a => a.ToString())];
        }

        Save(snapshot);
        return true;
    }

    /// <summary>Adds one tracker (a leader that notified us before any storage named it).</summary>
    public bool Learn(ServerAddress address) => Learn([address.ToString()]);

    public bool IsSelf(ServerAddress address)
    {
        if (address.Port != _port)
        {
            return false;
        }

        if (Self is { } self && self == address)
        {
            return true;
        }

        lock (_gate)
        {
            return IsLocalUnderLock(address.Ip);
        }
    }

    private bool AddUnderLock(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || !LeaderAddressBody.TryParse(text.Trim(), out var address))
        {
            return false;
        }

        var all = _all;
        if (Array.IndexOf(all, address) >= 0 || all.Length >= FdfsConstants.MaxTrackers)
        {
            return false;
        }

        if (Self is null && address.Port == _port && _bindAddress is null && IsLocalUnderLock(address.Ip))
        {
            // Bound to all interfaces: the first name the storages use for us becomes ours.
            Self = address;
        }

        _all = [.. all, address];
        return true;
    }

    private void PublishUnderLock()
    {
        var sorted = _all.OrderBy(a => a.Ip, StringComparer.Ordinal).ThenBy(a => a.Port).ToArray();
        Volatile.Write(ref _all, sorted);
        Volatile.Write(ref _others, Array.FindAll(sorted, a => !(a.Port == _port && (a == Self || IsLocalUnderLock(a.Ip)))));
    }

    /// <summary>Whether <paramref name="host"/> (an IP or a name, resolved once) is an address this tracker listens on.</summary>
    private bool IsLocalUnderLock(string host)
    {
        if (_selfByText.TryGetValue(host, out bool local))
        {
            return local;
        }

        IPAddress[] addresses;
        if (IPAddress.TryParse(host, out var parsed))
        {
            addresses = [parsed];
        }
        else
        {
            try
            {
                addresses = Dns.GetHostAddresses(host);
            }
            catch (System.Net.Sockets.SocketException)
            {
                addresses = [];
            }
        }

        // Bound to one address, only names of that address are us (other trackers may share the host on other IPs).
        local = _bindAddress is not null
            ? addresses.Any(a => Unmap(a).Equals(Unmap(_bindAddress)))
            : addresses.Any(a => IPAddress.IsLoopback(Unmap(a)) || _localAddresses.Contains(Unmap(a)));
        _selfByText[host] = local;
        return local;
    }

    private void Save(string[] lines)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
            string temp = _path + ".tmp";
            File.WriteAllLines(temp, lines);
            File.Move(temp, _path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not fatal: the list is rebuilt from joins after a restart.
        }
    }

    private static IPAddress Unmap(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static HashSet<IPAddress> LocalAddresses()
    {
        var set = new HashSet<IPAddress>();
        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                {
                    set.Add(Unmap(unicast.Address));
                }
            }
        }
        catch (NetworkInformationException)
        {
        }

        return set;
    }
}
