using FastDfs.Protocol;
using FastDfs.Protocol.Config;

namespace FastDfs.Storage;

/// <summary>Storage-ID mode on the serving side (protocol notes 6.2, 11).</summary>
internal sealed partial class StorageRequestHandler
{
    private StorageIdMap? _storageIds;
    // FastDFS's storage starts with 46-byte IP fields (g_response_ip_addr_size = IPV6_ADDRESS_SIZE) and narrows
    // them only when the tracker's parameters say 16.
    private volatile bool _ipv6Responses = true;

    /// <summary>The cluster's storage IDs (FETCH_STORAGE_IDS from the tracker in ID mode), null without IDs.</summary>
    public StorageIdMap? StorageIds
    {
        get => Volatile.Read(ref _storageIds);
        set => Volatile.Write(ref _storageIds, value);
    }

    /// <summary>
    /// QUERY_FILE_INFO answers with a 46-byte source IP (70 bytes in all) instead of 16 (40): true until the tracker's
    /// STORAGE_PARAMETER_REQ answer carries <c>response_ip_addr_size = 16</c>, as in FastDFS.
    /// </summary>
    public bool IPv6Responses
    {
        get => _ipv6Responses;
        set => _ipv6Responses = value;
    }

    /// <summary>
    /// The source IP QUERY_FILE_INFO reports: a name carrying a server ID is resolved to that storage's address, as
    /// FastDFS does; the ID text when it is unknown here.
    /// </summary>
    private string SourceIpOf(in FileNameInfo info) =>
        info.HasServerId && StorageIds?.FindById(info.Source) is { } entry ? entry.Ip : info.Source;
}
