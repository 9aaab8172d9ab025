using Microsoft.Extensions.Logging;

namespace FastDfs.Mount.Core;

/// <summary>Mount core log events (6000-6099).</summary>
internal static partial class MountLog
{
    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning,
        Message = "names are unavailable: the trackers have no directory service, so the mount serves file-ID paths only (/<group>/Mxx/HH/HH/<name>)")]
    public static partial void NamesUnavailable(ILogger logger);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "{Operation} {Target} failed: {Reason}")]
    public static partial void OperationFailed(ILogger logger, string operation, string target, string reason);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Warning, Message = "{Operation} {Target} gave no answer within {Seconds} s; answering EIO")]
    public static partial void OperationTimedOut(ILogger logger, string operation, string target, double seconds);

    [LoggerMessage(EventId = 6010, Level = LogLevel.Warning,
        Message = "no storage of group {Group} takes uploads (the tracker knows none active); new content of that group answers EIO")]
    public static partial void NoStorageToUpload(ILogger logger, string group);

    [LoggerMessage(EventId = 6009, Level = LogLevel.Debug, Message = "{Operation} {Target} cancelled by the caller (interrupted); answering EINTR")]
    public static partial void OperationInterrupted(ILogger logger, string operation, string target);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Information, Message = "storage {Storage} failed while reading {FileId}; asking the tracker again")]
    public static partial void ReadFailover(ILogger logger, string storage, string fileId);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Debug, Message = "deleted {FileId}")]
    public static partial void Deleted(ILogger logger, string fileId);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Debug, Message = "{Operation} {Target} refused: {Reason}")]
    public static partial void NameOperationRefused(ILogger logger, string operation, string target, string reason);

    [LoggerMessage(EventId = 6007, Level = LogLevel.Information, Message = "names are served by the trackers' directory service")]
    public static partial void NamesAvailable(ILogger logger);

    [LoggerMessage(EventId = 6008, Level = LogLevel.Information,
        Message = "data buffers reached max_buffers ({MiB} MiB): writes now wait for queued chunks to be stored and read-ahead pauses until buffers free up (logged once)")]
    public static partial void BuffersExhausted(ILogger logger, long miB);
}
