using Microsoft.Extensions.Logging;

namespace FastDfs.Storage;

/// <summary>Log messages of the sync workers' settings and checks (event ids 3060-3069, and 3049).</summary>
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

    [LoggerMessage(EventId = 3066, Level = LogLevel.Error,
        Message = "sync to {PeerIp}:{PeerPort}: {RemoteName} cannot be {Size} bytes there (EFBIG: past the peer's file-size limit); record {Op} skipped: the peer's copy stays behind until a later change brings the file under its limit, then it is sent whole")]
    public static partial void SyncFileTooBig(ILogger logger, string peerIp, int peerPort, char op, string remoteName, long size);

    [LoggerMessage(EventId = 3067, Level = LogLevel.Debug,
        Message = "sync to {PeerIp}:{PeerPort}: record {Op} {RemoteName} skipped: {Size} bytes, and the peer refused {RefusedAt} (EFBIG)")]
    public static partial void SyncFileStillTooBig(ILogger logger, string peerIp, int peerPort, char op, string remoteName, long size, long refusedAt);

    [LoggerMessage(EventId = 3068, Level = LogLevel.Information,
        Message = "sync to {PeerIp}:{PeerPort}: {RemoteName} fits there again ({Size} bytes): sent whole, the peer's copy is in step")]
    public static partial void SyncFileInStep(ILogger logger, string peerIp, int peerPort, string remoteName, long size);

    [LoggerMessage(EventId = 3069, Level = LogLevel.Error,
        Message = "sync to {PeerIp}:{PeerPort}: the peer has no space left (ENOSPC) for record {Op} {RemoteName}: replication to it waits, retried after pauses of up to {MaxPause} s until it has room")]
    public static partial void SyncPeerFull(ILogger logger, string peerIp, int peerPort, char op, string remoteName, double maxPause);

    [LoggerMessage(EventId = 3049, Level = LogLevel.Information, Message = "sync to {PeerIp}:{PeerPort}: the peer has room again after {Seconds:F0} s; replication resumes")]
    public static partial void SyncPeerHasRoom(ILogger logger, string peerIp, int peerPort, double seconds);

    [LoggerMessage(EventId = 3063, Level = LogLevel.Information, Message = "tracker {Tracker}: storage IDs in use, this storage is {Id} (id_type_in_filename={IdType})")]
    public static partial void StorageIdLearnt(ILogger logger, string tracker, string id, string idType);

    [LoggerMessage(EventId = 3064, Level = LogLevel.Error,
        Message = "tracker {Tracker}: this storage's address {Address} is IPv6, which file names cannot carry: the tracker needs use_storage_id = true and id_type_in_filename = id")]
    public static partial void IPv6NeedsIdsInNames(ILogger logger, string tracker, string address);

    [LoggerMessage(EventId = 3065, Level = LogLevel.Information, Message = "tracker {Tracker}: response_ip_addr_size={Size} (file info answers with {Size}-byte IPs)")]
    public static partial void ResponseIpSize(ILogger logger, string tracker, int size);
}
