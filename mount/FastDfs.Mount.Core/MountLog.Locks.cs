using Microsoft.Extensions.Logging;

namespace FastDfs.Mount.Core;

/// <summary>Cluster-wide lock events (6060-6069).</summary>
internal static partial class MountLog
{
    [LoggerMessage(EventId = 6060, Level = LogLevel.Information, Message = "lock session {Session} open (lease {LeaseSeconds} s): flock and fcntl locks are cluster-wide")]
    public static partial void LockSessionOpened(ILogger logger, long session, double leaseSeconds);

    [LoggerMessage(EventId = 6061, Level = LogLevel.Warning,
        Message = "lock session {Session} lapsed (not renewed within {LeaseSeconds} s): the locks this mount held are lost, other mounts may have taken them")]
    public static partial void LockSessionLapsed(ILogger logger, long session, double leaseSeconds);

    [LoggerMessage(EventId = 6062, Level = LogLevel.Warning, Message = "{Operation} failed: {Reason}")]
    public static partial void LockRequestFailed(ILogger logger, string operation, string reason);

    [LoggerMessage(EventId = 6063, Level = LogLevel.Warning,
        Message = "the trackers refuse waiting lock requests (older than deadlock detection): F_SETLKW waits without it, as before, until the mount restarts")]
    public static partial void LockWaitsUnsupported(ILogger logger);

    [LoggerMessage(EventId = 6064, Level = LogLevel.Warning,
        Message = "{Request}: no answer within {TimeoutSeconds} s, answered EIO; the trackers may still apply it, so its answer is awaited {WindowSeconds} s more and undone")]
    public static partial void LockAnswerLate(ILogger logger, string request, double timeoutSeconds, double windowSeconds);

    [LoggerMessage(EventId = 6065, Level = LogLevel.Information, Message = "{Request} (answered EIO) was {Outcome} late: {Undone}")]
    public static partial void LockLateAnswerUndone(ILogger logger, string request, string outcome, string undone);
}
