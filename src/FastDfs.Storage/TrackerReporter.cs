using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace FastDfs.Storage;

/// <summary>
/// Keeps one long-lived connection per configured tracker (protocol notes 3.3, 8.2, 8.3): JOIN, the first-start
/// SYNC_DEST_REQ / SYNC_NOTIFY handshake, then BEAT and REPORT_DISK_USAGE on their intervals. A tracker that is
/// down is retried with back-off; nothing here may take the storage down.
/// </summary>
internal sealed class TrackerReporter : IAsyncDisposable
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly StorageOptions _options;
    private readonly StorePaths _paths;
    private readonly StorageStats _stats;
    private readonly StorageRequestHandler _handler;
    private readonly DataInitFlag _initFlag;
    private readonly GroupPeers _peers;
    private readonly DiskRecovery _recovery;
    private readonly ILogger _logger;
    private readonly long _upTime;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _loops = [];
    private readonly IPAddress? _bindAddress;
    private int _port;
    private int _syncHandshakeClaimed;

    // Bumped when one tracker session learns the storage must join again; the other sessions follow, since only
    // the leader tracker sends change notifications but every tracker must see the re-join.
    private int _rejoinGeneration;

    // The tracker leader as last announced (change notification bit 1).
    private readonly Lock _leaderGate = new();
    private ServerAddress? _trackerLeader;
    private int _sourceClaim;
    private StorageStatus _myStatus = StorageStatus.Init;

    public TrackerReporter(
        StorageOptions options, StorePaths paths, StorageStats stats, StorageRequestHandler handler, DataInitFlag initFlag, GroupPeers peers, DiskRecovery recovery, ILogger logger)
    {
        _peers = peers;
        _recovery = recovery;
        _options = options;
        _paths = paths;
        _stats = stats;
        _handler = handler;
        _initFlag = initFlag;
        _logger = logger;
        _upTime = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        _bindAddress = options.BindAddresses.Select(a => IPAddress.TryParse(a, out var ip) ? ip : null)
            .FirstOrDefault(ip => ip is not null && ip.AddressFamily == AddressFamily.InterNetwork);
    }

    public void Start(int port)
    {
        _port = port;
        if (_bindAddress is not null)
        {
            _handler.SourceAddress = FileNames.AddressToNameField(_bindAddress);
            StorageLog.SourceAddress(_logger, _bindAddress);
        }

        if (_options.TrackerServers.Count == 0)
        {
            StorageLog.NoTrackers(_logger);
            return;
        }

        foreach (var tracker in _options.TrackerServers)
        {
            _loops.Add(Task.Run(() => RunAsync(tracker, _stopping.Token)));
        }
    }

    private static string Describe(TrackerEndpoint tracker) => $"{tracker.Host}:{tracker.Port}";

    private async Task RunAsync(TrackerEndpoint tracker, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await ConnectAsync(tracker, cancellationToken);
                await SessionAsync(connection, tracker, () => delay = TimeSpan.FromSeconds(1), cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (RejoinRequiredException)
            {
                // The tracker lists us OFFLINE (e.g. a peer finished our full copy): join again at once.
                continue;
            }
            catch (Exception e)
            {
                StorageLog.TrackerFailed(_logger, Describe(tracker), e.Message, delay.TotalSeconds);
            }

            try
            {
                await Task.Delay(delay, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            // Like FastDFS, retry a dead tracker at least every heart_beat_interval so it is back in use soon after it returns.
            long cap = Math.Min(MaxBackoff.Ticks, Math.Max(TimeSpan.TicksPerSecond, _options.HeartBeatInterval.Ticks));
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, cap));
        }
    }

    private async Task<FdfsConnection> ConnectAsync(TrackerEndpoint tracker, CancellationToken cancellationToken)
    {
        Exception? last = null;
        foreach (string host in tracker.Hosts)
        {
            try
            {
                return await FdfsConnection.ConnectAsync(
                    host, tracker.Port, _options.ConnectTimeout, _options.ClientBind ? _bindAddress : null, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                last = e;
            }
        }

        throw last ?? new IOException("tracker has no address");
    }

    private async Task SessionAsync(FdfsConnection connection, TrackerEndpoint tracker, Action joined, CancellationToken cancellationToken)
    {
        string name = Describe(tracker);
        int rejoinGeneration = Volatile.Read(ref _rejoinGeneration);
        var join = new StorageJoinRequest
        {
            Group = _options.GroupName!,
            StoragePort = _port,
            StorePathCount = _paths.Count,
            SubdirCountPerPath = _paths.SubdirCount,
            UploadPriority = _options.UploadPriority,
            JoinTime = _initFlag.StorageJoinTime,
            UpTime = _upTime,
            InitFlag = !_initFlag.SyncOldDone,
            Status = _myStatus,
            StorageId = _options.ServerId ?? string.Empty,
            CurrentTrackerIp = connection.RemoteEndPoint.Address.ToString(),
            Trackers = _options.TrackerServers.Select(Describe).ToList(),
        };

        var (status, body) = await RoundTripAsync(connection, TrackerCommand.StorageJoin, join.ToArray(), cancellationToken);
        if (status != 0)
        {
            StorageLog.TrackerRefused(_logger, name, "STORAGE_JOIN", FdfsErrno.Name(status));
            throw new IOException($"join refused with {FdfsErrno.Name(status)}");
        }

        var response = StorageJoinResponse.Read(body);
        if (Enum.IsDefined(response.Status))
        {
            _myStatus = response.Status;
        }

        joined();
        StorageLog.Joined(_logger, name, response.Status.ToString(), response.SyncSourceId);
        var me = _bindAddress ?? connection.LocalEndPoint.Address;
        me = me.IsIPv4MappedToIPv6 ? me.MapToIPv4() : me;
        _peers.MyId = me.ToString();
        _handler.Progress.Resend();
        if (_bindAddress is null && _handler.SourceAddress == 0)
        {
            var local = connection.LocalEndPoint.Address;
            local = local.IsIPv4MappedToIPv6 ? local.MapToIPv4() : local;
            if (local.AddressFamily == AddressFamily.InterNetwork
                && Interlocked.CompareExchange(ref _sourceClaim, 1, 0) == 0)
            {
                _handler.SourceAddress = FileNames.AddressToNameField(local);
                StorageLog.SourceAddress(_logger, local);
            }
        }

        // One tracker session asks where to copy old files from; the others wait for that answer and pass it on
        // with SYNC_NOTIFY, as FastDFS does, or their tracker would keep this storage at INIT.
        bool handshook = false;
        while (!_initFlag.SyncOldDone)
        {
            if (Interlocked.CompareExchange(ref _syncHandshakeClaimed, 1, 0) == 0)
            {
                try
                {
                    await SyncHandshakeAsync(connection, name, cancellationToken);
                    handshook = true;
                }
                catch
                {
                    Volatile.Write(ref _syncHandshakeClaimed, 0);
                    throw;
                }

                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        if (!handshook && response.Status == StorageStatus.Init)
        {
            await SyncNotifyAsync(connection, name, _initFlag.SyncSourceServer, _initFlag.SyncUntilTimestamp, cancellationToken);
        }

        bool toldRecovery = false;
        if (_recovery.Pending)
        {
            // 9.6: out of the active lists until the lost store path is rebuilt.
            var (changeStatus, _) = await RoundTripAsync(connection, TrackerCommand.StorageChangeStatus, new[] { (byte)StorageStatus.Recovery }, cancellationToken);
            toldRecovery = changeStatus == 0;
        }

        long nextBeat = 0;
        long nextDisk = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (Volatile.Read(ref _rejoinGeneration) != rejoinGeneration)
            {
                throw new RejoinRequiredException();
            }

            if (toldRecovery && !_recovery.Pending)
            {
                // Join again: the tracker moves RECOVERY to ONLINE on a join, then ACTIVE on the next beat.
                throw new RejoinRequiredException();
            }

            long now = Environment.TickCount64;
            if (now >= nextDisk)
            {
                await ReportDiskUsageAsync(connection, name, cancellationToken);
                nextDisk = Environment.TickCount64 + (long)_options.StatReportInterval.TotalMilliseconds;
            }

            if (now >= nextBeat)
            {
                await BeatAsync(connection, name, cancellationToken);
                if (_handler.Progress.TakeChanges() is { } progress)
                {
                    await SyncReportAsync(connection, name, progress, cancellationToken);
                }

                nextBeat = Environment.TickCount64 + (long)_options.HeartBeatInterval.TotalMilliseconds;
            }

            long wait = Math.Max(10, Math.Min(nextBeat, nextDisk) - Environment.TickCount64);
            await Task.Delay(TimeSpan.FromMilliseconds(wait), cancellationToken);
        }
    }

    /// <summary>First start only: ask which peer to copy old files from, then confirm it (as the C storage does).</summary>
    private async Task SyncHandshakeAsync(FdfsConnection connection, string name, CancellationToken cancellationToken)
    {
        var (status, body) = await RoundTripAsync(connection, TrackerCommand.StorageSyncDestReq, ReadOnlyMemory<byte>.Empty, cancellationToken);
        if (status != 0)
        {
            StorageLog.TrackerRefused(_logger, name, "STORAGE_SYNC_DEST_REQ", FdfsErrno.Name(status));
            throw new IOException($"sync dest request refused with {FdfsErrno.Name(status)}");
        }

        string source = string.Empty;
        long until = 0;
        if (body.Length >= FdfsConstants.StorageIdMaxSize + 8)
        {
            source = WireText.FromPadded(body.AsSpan(0, FdfsConstants.StorageIdMaxSize));
            until = BinaryPrimitives.ReadInt64BigEndian(body.AsSpan(FdfsConstants.StorageIdMaxSize));
        }

        await SyncNotifyAsync(connection, name, source, until, cancellationToken);
        _initFlag.MarkSyncDone(source, until);
    }

    private async Task SyncNotifyAsync(FdfsConnection connection, string name, string source, long until, CancellationToken cancellationToken)
    {
        var notify = new byte[FdfsConstants.StorageIdMaxSize + 8];
        var w = new WireWriter(notify);
        w.WriteFixed(source, FdfsConstants.StorageIdMaxSize);
        w.WriteInt64(until);
        var (status, _) = await RoundTripAsync(connection, TrackerCommand.StorageSyncNotify, notify, cancellationToken);
        if (status != 0)
        {
            StorageLog.TrackerRefused(_logger, name, "STORAGE_SYNC_NOTIFY", FdfsErrno.Name(status));
            throw new IOException($"sync notify refused with {FdfsErrno.Name(status)}");
        }
    }

    private async Task BeatAsync(FdfsConnection connection, string name, CancellationToken cancellationToken)
    {
        _stats[StatCounter.LastHeartBeatTime] = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var (status, body) = await RoundTripAsync(connection, TrackerCommand.StorageBeat, _stats.ToArray(), cancellationToken);
        HandleReply(name, "STORAGE_BEAT", status, body);
    }

    /// <summary>STORAGE_SYNC_REPORT: per source storage, the source timestamp applied here (8.3).</summary>
    private async Task SyncReportAsync(FdfsConnection connection, string name, List<(string SourceId, long Timestamp)> progress, CancellationToken cancellationToken)
    {
        var (status, body) = await RoundTripAsync(connection, TrackerCommand.StorageSyncReport, SyncReportBody.Encode(progress), cancellationToken);
        HandleReply(name, "STORAGE_SYNC_REPORT", status, body);
    }

    private async Task ReportDiskUsageAsync(FdfsConnection connection, string name, CancellationToken cancellationToken)
    {
        var usage = _paths.Paths.Select(p => (p.TotalBytes / (1024 * 1024), Math.Max(0, p.FreeBytes(refresh: true)) / (1024 * 1024))).ToList();
        var (status, body) = await RoundTripAsync(connection, TrackerCommand.StorageReportDiskUsage, DiskUsageReport.Encode(usage), cancellationToken);
        HandleReply(name, "STORAGE_REPORT_DISK_USAGE", status, body);
    }

    private void HandleReply(string name, string command, byte status, byte[] body)
    {
        if (status != 0)
        {
            StorageLog.TrackerRefused(_logger, name, command, FdfsErrno.Name(status));
            throw new IOException($"{command} refused with {FdfsErrno.Name(status)}");
        }

        var notification = ChangeNotification.Read(body);
        if (notification.IsEmpty)
        {
            return;
        }

        StorageLog.Notification(_logger, name, notification.ToString());
        if (notification.Leader is { } leader)
        {
            OnLeaderAnnounced(name, leader);
        }

        if (notification.GroupStorages is not { } storages)
        {
            return;
        }

        _peers.Update(storages);
        string me = _peers.MyId;
        foreach (var brief in storages)
        {
            if ((brief.Ip.Length > 0 ? brief.Ip : brief.Id) == me && brief.Port == _port)
            {
                if (brief.Status == StorageStatus.Offline && _myStatus != StorageStatus.Offline)
                {
                    _myStatus = StorageStatus.Offline;
                    StorageLog.Rejoining(_logger, brief.Status.ToString());
                    Interlocked.Increment(ref _rejoinGeneration);
                    throw new RejoinRequiredException();
                }

                if (Enum.IsDefined(brief.Status))
                {
                    _myStatus = brief.Status;
                }
            }
        }
    }

    /// <summary>
    /// Only a leader announces the leader. When a different one is announced while the previous one still claims to
    /// lead, there are two leaders (as FastDFS checks): both are told to elect again (NOTIFY_RESELECT_LEADER).
    /// </summary>
    private void OnLeaderAnnounced(string name, StorageBrief leader)
    {
        ServerAddress? announced = leader.Ip.Length > 0 ? new ServerAddress(leader.Ip, leader.Port) : null;
        ServerAddress? previous;
        lock (_leaderGate)
        {
            previous = _trackerLeader;
            _trackerLeader = announced;
        }

        if (announced is not { } current)
        {
            return;
        }

        StorageLog.TrackerLeader(_logger, name, current.ToString());
        if (previous is { } old && old != current)
        {
            _ = Task.Run(() => CheckTwoLeadersAsync(old, current, _stopping.Token));
        }
    }

    private async Task CheckTwoLeadersAsync(ServerAddress old, ServerAddress current, CancellationToken cancellationToken)
    {
        try
        {
            var (status, body) = await OneShotAsync(old, TrackerCommand.TrackerGetStatus, cancellationToken);
            if (status != 0 || body.Length != TrackerStatus.Size || !TrackerStatus.Read(body).IsLeader)
            {
                return;
            }

            StorageLog.TwoTrackerLeaders(_logger, old.ToString(), current.ToString());
            lock (_leaderGate)
            {
                _trackerLeader = null;
            }

            await OneShotAsync(old, TrackerCommand.TrackerNotifyReselectLeader, cancellationToken);
            await OneShotAsync(current, TrackerCommand.TrackerNotifyReselectLeader, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Best effort: the old leader being unreachable means it no longer leads.
        }
    }

    private async Task<(byte Status, byte[] Body)> OneShotAsync(ServerAddress tracker, TrackerCommand command, CancellationToken cancellationToken)
    {
        await using var connection = await FdfsConnection.ConnectAsync(
            tracker.Ip, tracker.Port, _options.ConnectTimeout, _options.ClientBind ? _bindAddress : null, cancellationToken);
        return await RoundTripAsync(connection, command, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    /// <summary>Ends the tracker session so the storage joins again without the back-off of a failure.</summary>
    private sealed class RejoinRequiredException : Exception
    {
    }

    private async Task<(byte Status, byte[] Body)> RoundTripAsync(FdfsConnection connection, TrackerCommand command, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.NetworkTimeout);
        try
        {
            return await connection.RoundTripAsync((byte)command, body, 64 * 1024, timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(string.Create(CultureInfo.InvariantCulture, $"no answer to {command} within {_options.NetworkTimeout.TotalSeconds} s"));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await Task.WhenAll(_loops).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _stopping.Dispose();
    }
}
