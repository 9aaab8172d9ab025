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
}
