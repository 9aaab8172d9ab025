using FastDfs.Protocol;
using FastDfs.Protocol.Config;

namespace FastDfs.Storage;

/// <summary>Storage-ID mode on the serving side (protocol notes 6.2, 11).</summary>
internal sealed partial class StorageRequestHandler
{
    private StorageIdMap? _storageIds;
    private volatile bool _ipv6Responses;

    /// <summary>The cluster's storage IDs (FETCH_STORAGE_IDS from the tracker in ID mode), null without IDs.</summary>
    public StorageIdMap? StorageIds
    {
        get => Volatile.Read(ref _storageIds);
        set => Volatile.Write(ref _storageIds, value);
    }

    /// <summary>
    /// The tracker's <c>response_ip_addr_size</c> is 46 (STORAGE_PARAMETER_REQ): QUERY_FILE_INFO answers with a
    /// 46-byte source IP (70 bytes in all) instead of 16 (40).
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
