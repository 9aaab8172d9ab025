using System.Net;
using Microsoft.Extensions.Logging;

namespace FastDfs.Storage;

/// <summary>Source-generated log messages of the storage role (event ids 3000-3999).</summary>
internal static partial class StorageLog
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Information,
        Message = "fdfs-storaged {Version} starting: group {Group}, {PathCount} store path(s) [{Paths}], trackers [{Trackers}]")]
    public static partial void Banner(ILogger logger, string version, string group, int pathCount, string paths, string trackers);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "storage listening on {Ip}:{Port}")]
    public static partial void Listening(ILogger logger, string ip, int port);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "storage stopping")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "storage stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information, Message = "creating {Count} sub-directories under {Path}")]
    public static partial void CreatingSubdirs(ILogger logger, int count, string path);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Information, Message = "sub-directories of {Path} ready")]
    public static partial void CreatedSubdirs(ILogger logger, string path);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Error, Message = "creating sub-directories failed")]
    public static partial void CreateSubdirsFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Information, Message = "removed {Count} unfinished temp file(s) under {Path}")]
    public static partial void RemovedTempFiles(ILogger logger, int count, string path);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "request from {Remote} refused: cmd {Command}, {Errno}: {Reason}")]
    public static partial void RequestRefused(ILogger logger, IPEndPoint remote, byte command, string errno, string reason);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Error, Message = "I/O error handling cmd {Command} from {Remote}")]
    public static partial void IoError(ILogger logger, byte command, IPEndPoint remote, Exception exception);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Information, Message = "CRC32 of {RemoteFile} for {Remote} stopped after {Seconds:0.#} s: the client went away")]
    public static partial void CrcAbandoned(ILogger logger, string remoteFile, IPEndPoint remote, double seconds);

    [LoggerMessage(EventId = 3020, Level = LogLevel.Error, Message = "binlog write failed")]
    public static partial void BinlogFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3030, Level = LogLevel.Information, Message = "joined tracker {Tracker}: status {Status}, sync source '{SyncSource}'")]
    public static partial void Joined(ILogger logger, string tracker, string status, string syncSource);

    [LoggerMessage(EventId = 3031, Level = LogLevel.Warning, Message = "tracker {Tracker}: {Reason}; retrying in {DelaySeconds} s")]
    public static partial void TrackerFailed(ILogger logger, string tracker, string reason, double delaySeconds);

    [LoggerMessage(EventId = 3032, Level = LogLevel.Warning, Message = "tracker {Tracker} refused {Command}: {Errno}")]
    public static partial void TrackerRefused(ILogger logger, string tracker, string command, string errno);

    [LoggerMessage(EventId = 3033, Level = LogLevel.Information, Message = "file names use source address {Address}")]
    public static partial void SourceAddress(ILogger logger, IPAddress address);

    [LoggerMessage(EventId = 3034, Level = LogLevel.Debug, Message = "tracker {Tracker}: change notification {Notification}")]
    public static partial void Notification(ILogger logger, string tracker, string notification);

    [LoggerMessage(EventId = 3035, Level = LogLevel.Warning, Message = "no tracker_server configured: running stand-alone")]
    public static partial void NoTrackers(ILogger logger);

    [LoggerMessage(EventId = 3040, Level = LogLevel.Information, Message = "sync: peer {PeerIp}:{PeerPort} added (status {Status})")]
    public static partial void PeerAdded(ILogger logger, string peerIp, int peerPort, string status);

    [LoggerMessage(EventId = 3041, Level = LogLevel.Information, Message = "sync: peer {PeerIp}:{PeerPort} removed")]
    public static partial void PeerRemoved(ILogger logger, string peerIp, int peerPort);

    [LoggerMessage(EventId = 3042, Level = LogLevel.Warning, Message = "sync to {PeerIp}:{PeerPort}: {Reason}; retrying in {DelaySeconds} s")]
    public static partial void SyncPeerFailed(ILogger logger, string peerIp, int peerPort, string reason, double delaySeconds);

    [LoggerMessage(EventId = 3043, Level = LogLevel.Information, Message = "sync to {PeerIp}:{PeerPort}: mark created, need_sync_old={NeedSyncOld}, until_timestamp={Until}")]
    public static partial void SyncMarkCreated(ILogger logger, string peerIp, int peerPort, bool needSyncOld, long until);

    [LoggerMessage(EventId = 3044, Level = LogLevel.Information, Message = "sync to {PeerIp}:{PeerPort}: connected, resuming at binlog.{Index:D3} offset {Offset}")]
    public static partial void SyncPeerConnected(ILogger logger, string peerIp, int peerPort, int index, long offset);

    [LoggerMessage(EventId = 3045, Level = LogLevel.Information, Message = "sync to {PeerIp}:{PeerPort}: full copy done ({Rows} records)")]
    public static partial void FullSyncDone(ILogger logger, string peerIp, int peerPort, long rows);

    [LoggerMessage(EventId = 3046, Level = LogLevel.Warning, Message = "sync to {PeerIp}:{PeerPort}: record {Op} {RemoteName} refused with {Errno}, skipped")]
    public static partial void SyncRecordRefused(ILogger logger, string peerIp, int peerPort, char op, string remoteName, string errno);

    [LoggerMessage(EventId = 3047, Level = LogLevel.Information, Message = "reported peer {PeerIp}:{PeerPort} as {Status} (accepted: {Accepted})")]
    public static partial void PeerStatusReported(ILogger logger, string peerIp, int peerPort, string status, bool accepted);

    [LoggerMessage(EventId = 3048, Level = LogLevel.Information, Message = "the tracker lists this storage as {Status}: joining again")]
    public static partial void Rejoining(ILogger logger, string status);

    [LoggerMessage(EventId = 3050, Level = LogLevel.Warning, Message = "store path {Index} ({Path}) has no data directory: recovering it from a peer (RECOVERY)")]
    public static partial void RecoveryNeeded(ILogger logger, int index, string path);

    [LoggerMessage(EventId = 3051, Level = LogLevel.Information, Message = "store path {Index} recovered from {Peer}: {Files} file(s)")]
    public static partial void RecoveryDone(ILogger logger, int index, string peer, int files);

    [LoggerMessage(EventId = 3052, Level = LogLevel.Warning, Message = "recovery of store path {Index} from {Peer} failed: {Reason}; retrying")]
    public static partial void RecoveryFailed(ILogger logger, int index, string peer, string reason);

    [LoggerMessage(EventId = 3095, Level = LogLevel.Information, Message = "tracker {Tracker}: the tracker leader is {Leader}")]
    public static partial void TrackerLeader(ILogger logger, string tracker, string leader);

    [LoggerMessage(EventId = 3096, Level = LogLevel.Warning, Message = "two tracker leaders ({Old} and {New}): asking both to elect again")]
    public static partial void TwoTrackerLeaders(ILogger logger, string old, string @new);

    [LoggerMessage(EventId = 3053, Level = LogLevel.Warning, Message = "no other storage in the group: {Count} store path(s) cannot be recovered and stay empty")]
    public static partial void RecoveryWithoutPeers(ILogger logger, int count);

    [LoggerMessage(EventId = 3070, Level = LogLevel.Information, Message = "{Count} counters loaded from {Path}")]
    public static partial void LoadedStatFile(ILogger logger, int count, string path);

    [LoggerMessage(EventId = 3071, Level = LogLevel.Warning, Message = "cannot write {Path}; the counters are kept in memory and written next time")]
    public static partial void StatFileWriteFailed(ILogger logger, string path, Exception exception);

    [LoggerMessage(EventId = 3072, Level = LogLevel.Information, Message = "sync: peer {PeerId} moved from {OldIp} to {NewIp}:{PeerPort}")]
    public static partial void PeerMoved(ILogger logger, string peerId, string oldIp, string newIp, int peerPort);
}
