using Microsoft.Extensions.Logging;

namespace FastDfs.Storage;

/// <summary>Log messages of the sync workers' settings and checks (event ids 3060-3069).</summary>
internal static partial class StorageLog
{
    [LoggerMessage(EventId = 3060, Level = LogLevel.Information,
        Message = "sync to {PeerIp}:{PeerPort}: outside the sync window {Start:HH\\:mm}-{End:HH\\:mm}, waiting {Wait}")]
    public static partial void SyncWindowClosed(ILogger logger, string peerIp, int peerPort, TimeOnly start, TimeOnly end, TimeSpan wait);

    [LoggerMessage(EventId = 3061, Level = LogLevel.Information, Message = "sync to {PeerIp}:{PeerPort}: sync window {Start:HH\\:mm}-{End:HH\\:mm} ended, pausing")]
    public static partial void SyncWindowEnded(ILogger logger, string peerIp, int peerPort, TimeOnly start, TimeOnly end);

    [LoggerMessage(EventId = 3062, Level = LogLevel.Warning,
        Message = "sync to {PeerIp}:{PeerPort}: {RemoteName} exists there with {PeerSize} bytes, not {Size}: sending it as an update")]
    public static partial void SyncCreateSizeDiffers(ILogger logger, string peerIp, int peerPort, string remoteName, long peerSize, long size);

    [LoggerMessage(EventId = 3063, Level = LogLevel.Information, Message = "tracker {Tracker}: storage IDs in use, this storage is {Id} (id_type_in_filename={IdType})")]
    public static partial void StorageIdLearnt(ILogger logger, string tracker, string id, string idType);

    [LoggerMessage(EventId = 3064, Level = LogLevel.Error,
        Message = "tracker {Tracker}: this storage's address {Address} is IPv6, which file names cannot carry: the tracker needs use_storage_id = true and id_type_in_filename = id")]
    public static partial void IPv6NeedsIdsInNames(ILogger logger, string tracker, string address);

    [LoggerMessage(EventId = 3065, Level = LogLevel.Information, Message = "tracker {Tracker}: response_ip_addr_size={Size} (file info answers with {Size}-byte IPs)")]
    public static partial void ResponseIpSize(ILogger logger, string tracker, int size);
}
