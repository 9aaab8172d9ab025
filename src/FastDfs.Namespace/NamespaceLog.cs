using Microsoft.Extensions.Logging;

namespace FastDfs.Namespace;

/// <summary>Directory service log messages (event ids 7000-7999).</summary>
internal static partial class NamespaceLog
{
    [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "directory service: {Store} store {Location}, namespace {NamespaceId}")]
    public static partial void StoreOpened(ILogger logger, string store, string location, Guid namespaceId);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Debug, Message = "namespace request {Command} from {Remote} refused: {Errno} ({Reason})")]
    public static partial void Refused(ILogger logger, string command, System.Net.IPEndPoint remote, string errno, string reason);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Error, Message = "namespace request {Command} failed in the store")]
    public static partial void StoreFailed(ILogger logger, string command, Exception exception);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Information, Message = "directory service disabled (namespace_enabled = false)")]
    public static partial void Disabled(ILogger logger);

    [LoggerMessage(EventId = 7005, Level = LogLevel.Warning, Message = "directory service: checkpoint of {Path} failed (retried after the next commits)")]
    public static partial void CheckpointFailed(ILogger logger, string path, Exception exception);

    [LoggerMessage(EventId = 7010, Level = LogLevel.Debug, Message = "orphan collector deleted {FileId} ({Kind})")]
    public static partial void OrphanDeleted(ILogger logger, string fileId, string kind);

    [LoggerMessage(EventId = 7011, Level = LogLevel.Warning, Message = "orphan collector could not delete {FileId} (attempt {Attempt}), retrying in {Delay}: {Error}")]
    public static partial void OrphanDeleteFailed(ILogger logger, string fileId, int attempt, TimeSpan delay, string error);

    [LoggerMessage(EventId = 7012, Level = LogLevel.Error, Message = "orphan collector pass failed")]
    public static partial void CollectorFailed(ILogger logger, Exception exception);
}
