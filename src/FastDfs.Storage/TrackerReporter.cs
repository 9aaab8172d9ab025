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

    // Storage-ID mode and this storage's ID, learnt once from the first tracker that answers (as FastDFS does at start).
    private readonly SemaphoreSlim _identityGate = new(1, 1);
    private StorageIdentity? _identity;

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

    /// <summary><c>host:port</c>, an IPv6 address in brackets.</summary>
    private static string Describe(TrackerEndpoint tracker) => new ServerAddress(tracker.Host, tracker.Port).ToString();

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
        var identity = await LearnIdentityAsync(connection, name, cancellationToken);
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
            StorageId = identity.UseStorageId ? identity.Id : _options.ServerId ?? string.Empty,
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
        _peers.MyId = identity.UseStorageId ? identity.Id : me.ToString();
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

    /// <summary>
    /// Before the first join: the cluster-wide use_storage_id / id_type_in_filename from the tracker's PARAMETER_REQ
    /// (75; this storage's own use_storage_id when the tracker does not answer it) and, in ID mode, this storage's ID
    /// (server_id, else GET_SERVER_ID (70) for its address). With IDs in file names, new names carry the numeric ID.
    /// </summary>
    private async Task<StorageIdentity> LearnIdentityAsync(FdfsConnection connection, string name, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _identity) is { } known)
        {
            return known;
        }

        await _identityGate.WaitAsync(cancellationToken);
        try
        {
            if (_identity is { } learnt)
            {
                return learnt;
            }

            bool useStorageId = _options.UseStorageId;
            bool idInFilename = false;
            var (status, body) = await RoundTripAsync(connection, TrackerCommand.StorageParameterReq, ReadOnlyMemory<byte>.Empty, cancellationToken);
            if (status == 0)
            {
                var parameters = TrackerParameters.Read(body);
                useStorageId = parameters.GetBool("use_storage_id") ?? useStorageId;
                idInFilename = parameters.Values.TryGetValue("id_type_in_filename", out string? idType)
                    && idType.Equals("id", StringComparison.OrdinalIgnoreCase);

                // 6.15+: 16 or 46; absent (older trackers) or no answer keeps FastDFS's storage default of 46.
                if (parameters.Values.TryGetValue("response_ip_addr_size", out string? ipSize)
                    && int.TryParse(ipSize, NumberStyles.None, CultureInfo.InvariantCulture, out int size))
                {
                    _handler.IPv6Responses = size == FdfsConstants.IPv6AddressSize;
                    StorageLog.ResponseIpSize(_logger, name, size);
                }
            }
            else
            {
                StorageLog.TrackerRefused(_logger, name, "STORAGE_PARAMETER_REQ", FdfsErrno.Name(status));
            }

            var local = _bindAddress ?? connection.LocalEndPoint.Address;
            local = local.IsIPv4MappedToIPv6 ? local.MapToIPv4() : local;
            if (local.AddressFamily == AddressFamily.InterNetworkV6 && !(useStorageId && idInFilename))
            {
                // As FastDFS 6.11+: a name's 4 source bytes hold an IPv4 address or a server ID, never an IPv6 address.
                StorageLog.IPv6NeedsIdsInNames(_logger, name, local.ToString());
                throw new IOException($"IPv6 storage {local} needs use_storage_id = true and id_type_in_filename = id on the tracker");
            }

            var identity = new StorageIdentity(false, string.Empty, false);
            if (useStorageId)
            {
                string id = _options.ServerId ?? await GetServerIdAsync(connection, name, cancellationToken);
                identity = new StorageIdentity(true, id, idInFilename);
                _peers.UseStorageId = true;
                if (idInFilename)
                {
                    if (!StorageIdMap.IsValidId(id))
                    {
                        throw new IOException($"storage id '{id}' cannot go into file names (must be 1..{StorageIdEntry.MaxServerId})");
                    }

                    // Bytes 0..3 of new names: the ID as a little-endian uint32 (notes 6.2).
                    _handler.SourceAddress = uint.Parse(id, CultureInfo.InvariantCulture);
                    Interlocked.Exchange(ref _sourceClaim, 1);
                }

                StorageLog.StorageIdLearnt(_logger, name, id, idInFilename ? "id" : "ip");
                _handler.StorageIds = await FetchStorageIdsAsync(connection, name, cancellationToken);
            }

            Volatile.Write(ref _identity, identity);
            return identity;
        }
        finally
        {
            _identityGate.Release();
        }
    }

    /// <summary>GET_SERVER_ID (70) for <c>group + ip:port</c> of this storage.</summary>
    private async Task<string> GetServerIdAsync(FdfsConnection connection, string name, CancellationToken cancellationToken)
    {
        var me = _bindAddress ?? connection.LocalEndPoint.Address;
        me = me.IsIPv4MappedToIPv6 ? me.MapToIPv4() : me;
        string address = me.AddressFamily == AddressFamily.InterNetworkV6
            ? string.Create(CultureInfo.InvariantCulture, $"[{me}]:{_port}")
            : string.Create(CultureInfo.InvariantCulture, $"{me}:{_port}");
        var request = new GetServerIdRequest(_options.GroupName!, address);
        var (status, body) = await RoundTripAsync(connection, TrackerCommand.StorageGetServerId, request.ToArray(), cancellationToken);
        string id = status == 0 ? System.Text.Encoding.ASCII.GetString(body).TrimEnd('\0') : string.Empty;
        if (status != 0 || id.Length == 0)
        {
            StorageLog.TrackerRefused(_logger, name, "STORAGE_GET_SERVER_ID " + address, FdfsErrno.Name(status));
            throw new IOException($"tracker {name} knows no storage id for {address} in {_options.GroupName}: add it to storage_ids.conf");
        }

        return id;
    }

    /// <summary>
    /// FETCH_STORAGE_IDS (69), page by page: the ID -> address map the storage needs to name a file's source in
    /// QUERY_FILE_INFO. Best effort: without it file info shows the ID instead of the IP.
    /// </summary>
    private async Task<StorageIdMap?> FetchStorageIdsAsync(FdfsConnection connection, string name, CancellationToken cancellationToken)
    {
        var reader = new StorageIdListReader();
        try
        {
            while (true)
            {
                var (status, body) = await RoundTripAsync(connection, TrackerCommand.StorageFetchStorageIds, reader.NextRequest.ToArray(), cancellationToken);
                switch (reader.Accept(status, body))
                {
                    case StorageIdPage.Complete:
                        return reader.ToMap($"storage IDs from {name}");
                    case StorageIdPage.Refused:
                        StorageLog.TrackerRefused(_logger, name, "STORAGE_FETCH_STORAGE_IDS", FdfsErrno.Name(status));
                        return null;
                }
            }
        }
        catch (Exception e) when (e is FdfsProtocolException or FdfsConfigException)
        {
            StorageLog.TrackerFailed(_logger, name, "bad FETCH_STORAGE_IDS answer: " + e.Message, 0);
            return null;
        }
    }

    private sealed record StorageIdentity(bool UseStorageId, string Id, bool IdInFilename);

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
        await EventThread.Leave(); // the flag is a file write
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
            if ((brief.Id.Length > 0 ? brief.Id : brief.Ip) == me && brief.Port == _port)
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
        _identityGate.Dispose();
    }
}
