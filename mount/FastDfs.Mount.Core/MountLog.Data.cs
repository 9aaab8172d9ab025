using Microsoft.Extensions.Logging;

namespace FastDfs.Mount.Core;

/// <summary>Write path events (6050-6079).</summary>
internal static partial class MountLog
{
    [LoggerMessage(EventId = 6050, Level = LogLevel.Warning, Message = "writing {Node} failed: {Reason}; later writes, flush and fsync of it answer the error (a size the storage refuses, or a full disk, only once)")]
    public static partial void WriteFailed(ILogger logger, string node, string reason);

    [LoggerMessage(EventId = 6051, Level = LogLevel.Warning, Message = "binding {Node} to its content {FileId} failed: errno {Errno}")]
    public static partial void CommitFailed(ILogger logger, string node, string fileId, int errno);

    [LoggerMessage(EventId = 6052, Level = LogLevel.Debug, Message = "{Node} now holds {FileId} ({Size} bytes)")]
    public static partial void Committed(ILogger logger, string node, string fileId, long size);

    [LoggerMessage(EventId = 6053, Level = LogLevel.Warning, Message = "upload {FileId} not registered as pending (errno {Errno}); a crash before close would leave it behind")]
    public static partial void PendingNotRegistered(ILogger logger, string fileId, int errno);

    [LoggerMessage(EventId = 6054, Level = LogLevel.Error, Message = "changes to {Node} were not saved when its last handle closed: errno {Errno}")]
    public static partial void ChangesLost(ILogger logger, string node, int errno);

    [LoggerMessage(EventId = 6056, Level = LogLevel.Debug, Message = "{Node}: large writes now go to {FileId} through an appender stream")]
    public static partial void StreamOpened(ILogger logger, string node, string fileId);

    [LoggerMessage(EventId = 6057, Level = LogLevel.Warning, Message = "the storage refused bytes of {Node} (errno {Errno}); it holds {Size} bytes, the writer goes on from there and the next flush or fsync answers the error")]
    public static partial void WriteRefused(ILogger logger, string node, int errno, long size);

    // Debug: a storage closes a stream its reader paused for longer than its network_timeout; the reopen that follows
    // logs its own warning if it fails.
    [LoggerMessage(EventId = 6058, Level = LogLevel.Debug, Message = "read stream of {FileId} broke ({Reason}); the next read reopens it")]
    public static partial void ReadStreamBroke(ILogger logger, string fileId, string reason);

    [LoggerMessage(EventId = 6055, Level = LogLevel.Debug, Message = "upload to {Storage} for {Group} failed: the next upload asks the tracker again")]
    public static partial void ChoiceDropped(ILogger logger, string storage, string group);
}
