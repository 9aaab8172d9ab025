using Microsoft.Extensions.Logging;

namespace FastDfs.Tracker;

/// <summary>Log messages of the tracker cluster: peers, leader election, state copy (event ids 2100-2149).</summary>
internal static partial class LeaderLog
{
    [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "tracker peers: {Peers} (self {Self})")]
    public static partial void Peers(ILogger logger, string peers, string self);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "I am the tracker leader ({Self}), {Others} other tracker(s)")]
    public static partial void BecameLeader(ILogger logger, string self, int others);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Information, Message = "tracker leader is {Leader}")]
    public static partial void Following(ILogger logger, string leader);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Warning, Message = "ping to tracker leader {Leader} failed ({Failures} in a row): {Reason}")]
    public static partial void PingFailed(ILogger logger, string leader, int failures, string reason);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Warning, Message = "tracker leader {Leader} lost; electing a new one")]
    public static partial void LeaderLost(ILogger logger, string leader);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Debug, Message = "tracker {Peer}: {Command} failed: {Reason}")]
    public static partial void PeerFailed(ILogger logger, string peer, string command, string reason);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Information, Message = "election: candidate {Candidate} (of {Count} reachable), waiting for it to take the lead")]
    public static partial void WaitingForCandidate(ILogger logger, string candidate, int count);

    [LoggerMessage(EventId = 2107, Level = LogLevel.Warning, Message = "reselect leader requested by {Remote}")]
    public static partial void ReselectRequested(ILogger logger, string remote);

    [LoggerMessage(EventId = 2108, Level = LogLevel.Information, Message = "copied cluster state from leader {Leader}: {Bytes} bytes, {Added} storage(s) added")]
    public static partial void StateCopied(ILogger logger, string leader, int bytes, int added);

    [LoggerMessage(EventId = 2109, Level = LogLevel.Warning, Message = "cannot copy cluster state from leader {Leader}: {Reason}")]
    public static partial void StateCopyFailed(ILogger logger, string leader, string reason);

    [LoggerMessage(EventId = 2110, Level = LogLevel.Warning, Message = "another tracker leader {Other} found while leading; re-electing")]
    public static partial void TwoLeaders(ILogger logger, string other);
}
