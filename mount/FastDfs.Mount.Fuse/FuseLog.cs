using Microsoft.Extensions.Logging;

namespace FastDfs.Mount.Fuse;

/// <summary>FUSE adapter log events (6100-6199).</summary>
internal static partial class FuseLog
{
    [LoggerMessage(EventId = 6101, Level = LogLevel.Information, Message = "mounted {MountPoint} (libfuse {Version}, {Threads} receive threads, options {Options})")]
    public static partial void Mounted(ILogger logger, string mountPoint, int version, int threads, string options);

    [LoggerMessage(EventId = 6102, Level = LogLevel.Information, Message = "unmounted {MountPoint}")]
    public static partial void Unmounted(ILogger logger, string mountPoint);

    [LoggerMessage(EventId = 6103, Level = LogLevel.Error, Message = "{Operation} failed inside the adapter; answering EIO")]
    public static partial void CallbackFailed(ILogger logger, string operation, Exception exception);

    [LoggerMessage(EventId = 6104, Level = LogLevel.Warning, Message = "receive loop ended with error {Errno}")]
    public static partial void ReceiveFailed(ILogger logger, int errno);

    [LoggerMessage(EventId = 6105, Level = LogLevel.Warning, Message = "{Count} requests still unanswered at shutdown; destroying the session anyway")]
    public static partial void InFlightAtShutdown(ILogger logger, int count);

    [LoggerMessage(EventId = 6106, Level = LogLevel.Information, Message = "unmounting {MountPoint}")]
    public static partial void Unmounting(ILogger logger, string mountPoint);

    [LoggerMessage(EventId = 6107, Level = LogLevel.Debug, Message = "kernel read-ahead for {MountPoint} set to {Kilobytes} KiB ({Path})")]
    public static partial void ReadAheadSet(ILogger logger, string mountPoint, int kilobytes, string path);

    [LoggerMessage(EventId = 6108, Level = LogLevel.Warning, Message = "unmount of {MountPoint} failed: {Reason}")]
    public static partial void UnmountFailed(ILogger logger, string mountPoint, string reason);

    [LoggerMessage(EventId = 6109, Level = LogLevel.Debug, Message = "{Operation} interrupted by the caller's signal; answered EINTR")]
    public static partial void Interrupted(ILogger logger, string operation);
}
