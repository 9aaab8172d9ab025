using Microsoft.Extensions.Logging;

namespace FastDfs.Mount.Core;

/// <summary>Pending-upload journal events (6080-6089).</summary>
internal static partial class MountLog
{
    [LoggerMessage(EventId = 6080, Level = LogLevel.Warning, Message = "pending journal {Path} cannot be written ({Reason}); a crash before close would leave uploads behind")]
    public static partial void JournalWriteFailed(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 6081, Level = LogLevel.Information, Message = "pending journal {Path} of a mount that ended: {Count} uploads registered with the collector")]
    public static partial void JournalRecovered(ILogger logger, string path, int count);

    [LoggerMessage(EventId = 6082, Level = LogLevel.Warning, Message = "pending journal {Path} of a mount that ended is kept for the next mount: registering failed with errno {Errno}")]
    public static partial void JournalNotRecovered(ILogger logger, string path, int errno);

    [LoggerMessage(EventId = 6083, Level = LogLevel.Warning, Message = "pending journal {Path} cannot be read: {Reason}")]
    public static partial void JournalUnreadable(ILogger logger, string path, string reason);
}
