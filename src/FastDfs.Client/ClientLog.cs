using Microsoft.Extensions.Logging;

namespace FastDfs.Client;

/// <summary>Client log messages, event ids 4000-4999.</summary>
internal static partial class ClientLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Debug, Message = "connected to {Server}")]
    public static partial void Connected(ILogger logger, string server);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "tracker {Tracker} failed ({Reason}); trying the next one")]
    public static partial void TrackerFailed(ILogger logger, string tracker, string reason);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Debug, Message = "connection to {Server} discarded: {Reason}")]
    public static partial void ConnectionDiscarded(ILogger logger, string server, string reason);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Debug, Message = "{Command} on {Server} answered {Errno}")]
    public static partial void ServerError(ILogger logger, string command, string server, int errno);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "{Command} on {Server} timed out after {Timeout}")]
    public static partial void Timeout(ILogger logger, string command, string server, TimeSpan timeout);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Debug, Message = "stale pooled connection to {Server} retried on a new one")]
    public static partial void StaleRetried(ILogger logger, string server);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Warning, Message = "storage {Server}: address {Failed} failed ({Reason}); trying its other address {Other}")]
    public static partial void OtherAddressTried(ILogger logger, string server, string failed, string reason, string other);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Information, Message = "{Count} storage IDs loaded from the tracker (load_fdfs_parameters_from_tracker)")]
    public static partial void StorageIdsLoaded(ILogger logger, int count);

    [LoggerMessage(EventId = 4009, Level = LogLevel.Warning, Message = "load_fdfs_parameters_from_tracker: {Reason}; going on without storage IDs")]
    public static partial void TrackerParametersUnavailable(ILogger logger, string reason);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Warning, Message = "append stream to {Server} failed: {Reason}")]
    public static partial void AppendStreamFailed(ILogger logger, string server, string reason);
}
