using System.Globalization;
using System.Text;
using System.Text.Json;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using FastDfs.Protocol.TrackerState;
using Microsoft.Extensions.Logging;

namespace FastDfs.Tracker;

/// <summary>
/// Tracker cluster membership and leadership (protocol notes 8.7). A tracker alone is its own leader. With peers
/// it asks every tracker for TRACKER_GET_STATUS and sorts by (is_leader, running_time, smaller restart_interval,
/// IP, port); the greatest wins. The winner runs NOTIFY_NEXT_LEADER then COMMIT_NEXT_LEADER on the others; a
/// candidate that already leads is adopted directly. Followers ping the leader (JOIN_LEADER on each new
/// connection) and re-elect after three failed pings, waiting 1, 2, 4 s between them. A leader checks now and
/// then that no other tracker leads too (trackers that started alone each led themselves until storages
/// introduced them). A follower that started without state copies the leader's (GET_SYS_FILES_*).
/// </summary>
internal sealed class LeaderElection : IAsyncDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LeaderCheckInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan MaxPeerTimeout = TimeSpan.FromSeconds(5);

    private const int MaxPingFailures = 3;

    private readonly TrackerOptions _options;
    private readonly ClusterRegistry _registry;
    private readonly TrackerPeers _peers;
    private readonly ILogger _logger;
    private readonly long _restartInterval;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private Task? _loop;
    private ServerAddress? _leader;
    private bool _isLeader;
    private ServerAddress? _nextLeader;
    private bool _needsStateCopy;

    // Leading alone, before any peer was known: not agreed with anyone, so given up as soon as peers appear
    // (a tracker that just started must not outrank the cluster's leader on is_leader).
    private bool _provisional;

    // Bumped on every change of leadership; an election whose inputs predate a change is abandoned.
    private int _epoch;
    private FdfsConnection? _leaderConnection;
    private int _disposed;

    /// <param name="restartInterval">Seconds between this tracker's last stop and this start (0 on a first start).</param>
    /// <param name="needsStateCopy">True when the tracker started without saved state: copy the leader's once.</param>
    public LeaderElection(TrackerOptions options, ClusterRegistry registry, TrackerPeers peers, ILogger logger, long restartInterval, bool needsStateCopy)
    {
        _options = options;
        _registry = registry;
        _peers = peers;
        _logger = logger;
        _restartInterval = Math.Max(0, restartInterval);
        _needsStateCopy = needsStateCopy;
    }

    public bool IsLeader
    {
        get
        {
            lock (_gate)
            {
                return _isLeader;
            }
        }
    }

    /// <summary>The current leader (this tracker's address when it leads), or null while there is none.</summary>
    public ServerAddress? Leader
    {
        get
        {
            lock (_gate)
            {
                return _leader;
            }
        }
    }

    public TrackerPeers Peers => _peers;

    /// <summary>TRACKER_GET_STATUS of this tracker.</summary>
    public TrackerStatus LocalStatus() => new(IsLeader, _registry.Now - _registry.StartTime, _restartInterval);

    public void Start()
    {
        if (_peers.Others.Count > 0)
        {
            // Peers known from before the restart: no notifications until the cluster agrees on a leader.
            _registry.SetLeader(false, null);
        }

        _loop = Task.Run(() => RunAsync(_stopping.Token));
    }

    /// <summary>A storage's JOIN named these trackers.</summary>
    public void Learn(IReadOnlyList<string> trackers)
    {
        if (trackers.Count > 0 && _peers.Learn(trackers))
        {
            LeaderLog.Peers(_logger, string.Join(", ", _peers.All), _peers.Self?.ToString() ?? "unknown");
            bool provisional;
            lock (_gate)
            {
                provisional = _provisional;
            }

            // Synchronously, so the storage that named the peers is not told of a leadership about to end.
            if (provisional && _peers.Others.Count > 0)
            {
                ForgetLeader();
            }

            _wake.Release();
        }
    }

    /// <summary>Phase 1 (66): remember who is about to lead.</summary>
    public byte OnNotifyNextLeader(ServerAddress leader)
    {
        _peers.Learn(leader);
        lock (_gate)
        {
            _nextLeader = leader;
        }

        return FdfsErrno.Success;
    }

    /// <summary>Phase 2 (67): the notified leader takes over; EINVAL when it was not the one announced.</summary>
    public byte OnCommitNextLeader(ServerAddress leader)
    {
        lock (_gate)
        {
            if (_nextLeader != leader)
            {
                return FdfsErrno.EINVAL;
            }

            _nextLeader = null;
        }

        if (_peers.IsSelf(leader))
        {
            BecomeLeader(provisional: false);
        }
        else
        {
            Follow(leader);
        }

        return FdfsErrno.Success;
    }

    /// <summary>68: a storage saw two leaders. A leader steps down and elects again; others answer EOPNOTSUPP (as FastDFS).</summary>
    public byte OnReselect(string remote)
    {
        if (!IsLeader)
        {
            return FdfsErrno.EOPNOTSUPP;
        }

        LeaderLog.ReselectRequested(_logger, remote);
        ForgetLeader();
        _wake.Release();
        return FdfsErrno.Success;
    }

    /// <summary>Whether a JOIN_LEADER / PING_LEADER may be answered: only by the leader.</summary>
    public bool AcceptsFollowers => IsLeader;

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        int pingFailures = 0;
        long nextLeaderCheck = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var delay = Tick;
            try
            {
                var leader = Leader;
                if (_peers.Others.Count == 0)
                {
                    if (!IsLeader)
                    {
                        BecomeLeader(provisional: true);
                    }
                }
                else if (leader is null)
                {
                    pingFailures = 0;
                    await ElectAsync(cancellationToken);
                }
                else if (IsLeader)
                {
                    if (Environment.TickCount64 >= nextLeaderCheck)
                    {
                        nextLeaderCheck = Environment.TickCount64 + (long)LeaderCheckInterval.TotalMilliseconds;
                        await CheckSingleLeaderAsync(cancellationToken);
                    }
                }
                else
                {
                    string? error = await PingLeaderAsync(leader.Value, cancellationToken);
                    if (error is null)
                    {
                        pingFailures = 0;
                        if (_needsStateCopy)
                        {
                            await CopyStateAsync(leader.Value, cancellationToken);
                        }
                    }
                    else
                    {
                        pingFailures++;
                        LeaderLog.PingFailed(_logger, leader.Value.ToString(), pingFailures, error);
                        if (pingFailures >= MaxPingFailures)
                        {
                            LeaderLog.LeaderLost(_logger, leader.Value.ToString());
                            ForgetLeader();
                            pingFailures = 0;
                            continue;
                        }

                        // Back-off 1, 2, 4 s between failed pings.
                        delay = TimeSpan.FromSeconds(1 << (pingFailures - 1));
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // Never let the election loop die: a peer's bad answer must not stop the tracker.
                LeaderLog.PeerFailed(_logger, "cluster", "election", e.Message);
            }

            try
            {
                await _wake.WaitAsync(delay, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task ElectAsync(CancellationToken cancellationToken)
    {
        int epoch = Epoch;
        var self = _peers.Self ?? new ServerAddress(string.Empty, _peers.Port);
        var candidates = new List<(ServerAddress Address, TrackerStatus Status, bool Self)> { (self, LocalStatus(), true) };
        foreach (var peer in _peers.Others)
        {
            if (await GetStatusAsync(peer, cancellationToken) is { } status)
            {
                candidates.Add((peer, status, false));
            }
        }

        candidates.Sort((a, b) => Compare(b.Status, b.Address, a.Status, a.Address));
        var best = candidates[0];
        if (Epoch != epoch)
        {
            return;
        }

        if (best.Self)
        {
            var reachable = candidates.Where(c => !c.Self).Select(c => c.Address).ToList();
            foreach (var peer in reachable)
            {
                await SendLeaderAsync(peer, TrackerCommand.TrackerNotifyNextLeader, self, cancellationToken);
            }

            if (Epoch != epoch)
            {
                return;
            }

            foreach (var peer in reachable)
            {
                await SendLeaderAsync(peer, TrackerCommand.TrackerCommitNextLeader, self, cancellationToken);
            }

            if (Epoch == epoch)
            {
                BecomeLeader(provisional: false);
            }
        }
        else if (best.Status.IsLeader)
        {
            Follow(best.Address);
        }
        else
        {
            LeaderLog.WaitingForCandidate(_logger, best.Address.ToString(), candidates.Count);
        }
    }

    /// <summary>The election order (8.7): is_leader, longer running time, shorter restart interval, IP, port.</summary>
    internal static int Compare(TrackerStatus a, ServerAddress aAddress, TrackerStatus b, ServerAddress bAddress)
    {
        int c = a.IsLeader.CompareTo(b.IsLeader);
        if (c == 0)
        {
            c = a.RunningTime.CompareTo(b.RunningTime);
        }

        if (c == 0)
        {
            c = b.RestartInterval.CompareTo(a.RestartInterval);
        }

        if (c == 0)
        {
            c = string.CompareOrdinal(aAddress.Ip, bAddress.Ip);
        }

        return c != 0 ? c : aAddress.Port.CompareTo(bAddress.Port);
    }

    /// <summary>While leading: if another tracker leads too, both re-elect and the order decides.</summary>
    private async Task CheckSingleLeaderAsync(CancellationToken cancellationToken)
    {
        foreach (var peer in _peers.Others)
        {
            if (await GetStatusAsync(peer, cancellationToken) is { IsLeader: true })
            {
                LeaderLog.TwoLeaders(_logger, peer.ToString());
                await ElectAsync(cancellationToken);
                return;
            }
        }
    }

    private int Epoch
    {
        get
        {
            lock (_gate)
            {
                return _epoch;
            }
        }
    }

    private void BecomeLeader(bool provisional)
    {
        var self = _peers.Self;
        lock (_gate)
        {
            if (_isLeader && _leader == self)
            {
                _provisional = provisional;
                return;
            }

            _isLeader = true;
            _leader = self;
            _provisional = provisional;
            _epoch++;
        }

        CloseLeaderConnection();
        _registry.SetLeader(true, self);
        LeaderLog.BecameLeader(_logger, self?.ToString() ?? "address unknown", _peers.Others.Count);
    }

    private void Follow(ServerAddress leader)
    {
        lock (_gate)
        {
            if (!_isLeader && _leader == leader)
            {
                return;
            }

            _isLeader = false;
            _leader = leader;
            _provisional = false;
            _epoch++;
        }

        CloseLeaderConnection();
        _registry.SetLeader(false, leader);
        LeaderLog.Following(_logger, leader.ToString());
    }

    private void ForgetLeader()
    {
        lock (_gate)
        {
            _isLeader = false;
            _leader = null;
            _provisional = false;
            _epoch++;
        }

        CloseLeaderConnection();
        _registry.SetLeader(false, null);
    }

    private void CloseLeaderConnection()
    {
        var connection = Interlocked.Exchange(ref _leaderConnection, null);
        connection?.Dispose();
    }

    /// <summary>Pings the leader on a kept connection (JOIN_LEADER first on a new one). Returns null or the error.</summary>
    private async Task<string?> PingLeaderAsync(ServerAddress leader, CancellationToken cancellationToken)
    {
        try
        {
            var connection = _leaderConnection;
            if (connection is null)
            {
                connection = await ConnectAsync(leader, cancellationToken);
                var join = new TrackerJoinLeaderRequest(_registry.StartTime, FdfsConstants.ServerVersion, _peers.Port);
                var (joinStatus, _) = await RoundTripAsync(connection, TrackerCommand.TrackerJoinLeader, join.ToArray(), cancellationToken);
                if (joinStatus != FdfsErrno.Success)
                {
                    connection.Dispose();
                    return $"JOIN_LEADER answered {FdfsErrno.Name(joinStatus)}";
                }

                _leaderConnection = connection;
            }

            // 12 bytes of connection counters (6.16); we keep none worth reporting.
            var (status, _) = await RoundTripAsync(connection, TrackerCommand.TrackerPingLeader, new byte[12], cancellationToken);
            if (status != FdfsErrno.Success)
            {
                CloseLeaderConnection();
                return $"PING_LEADER answered {FdfsErrno.Name(status)}";
            }

            return null;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            CloseLeaderConnection();
            return e.Message;
        }
    }

    private async Task<TrackerStatus?> GetStatusAsync(ServerAddress peer, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await ConnectAsync(peer, cancellationToken);
            var (status, body) = await RoundTripAsync(connection, TrackerCommand.TrackerGetStatus, ReadOnlyMemory<byte>.Empty, cancellationToken);
            if (status != FdfsErrno.Success)
            {
                LeaderLog.PeerFailed(_logger, peer.ToString(), "TRACKER_GET_STATUS", FdfsErrno.Name(status));
                return null;
            }

            return TrackerStatus.Read(body);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LeaderLog.PeerFailed(_logger, peer.ToString(), "TRACKER_GET_STATUS", e.Message);
            return null;
        }
    }

    private async Task SendLeaderAsync(ServerAddress peer, TrackerCommand command, ServerAddress leader, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await ConnectAsync(peer, cancellationToken);
            var (status, _) = await RoundTripAsync(connection, command, LeaderAddressBody.ToArray(leader), cancellationToken);
            if (status != FdfsErrno.Success)
            {
                LeaderLog.PeerFailed(_logger, peer.ToString(), command.ToString(), FdfsErrno.Name(status));
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LeaderLog.PeerFailed(_logger, peer.ToString(), command.ToString(), e.Message);
        }
    }

    /// <summary>
    /// GET_SYS_FILES_START, GET_ONE_SYS_FILE for the four state files (each until complete), GET_SYS_FILES_END;
    /// merges the leader's state (FastDFS's format, from a C leader or ours) and takes its changelog when ours is empty.
    /// </summary>
    private async Task CopyStateAsync(ServerAddress leader, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await ConnectAsync(leader, cancellationToken);
            var (status, _) = await RoundTripAsync(connection, TrackerCommand.GetSysFilesStart, ReadOnlyMemory<byte>.Empty, cancellationToken);
            if (status == FdfsErrno.ENOENT)
            {
                // The leader knows no groups yet: nothing to copy.
                _needsStateCopy = false;
                return;
            }

            if (status != FdfsErrno.Success)
            {
                LeaderLog.StateCopyFailed(_logger, leader.ToString(), "GET_SYS_FILES_START answered " + FdfsErrno.Name(status));
                return;
            }

            var files = new byte[TrackerSysFiles.Count][];
            try
            {
                for (byte index = 0; index < files.Length; index++)
                {
                    files[index] = await FetchSysFileAsync(connection, index, cancellationToken);
                }
            }
            finally
            {
                // FastDFS's leader locks its state files from START until END: always send END.
                await RoundTripAsync(connection, TrackerCommand.GetSysFilesEnd, ReadOnlyMemory<byte>.Empty, cancellationToken);
            }

            var state = ParseCopiedState(files);
            int added = state is null ? 0 : _registry.MergeState(state);
            _registry.Changelog?.ReplaceIfEmpty(files[TrackerSysFiles.ChangelogIndex]);
            _needsStateCopy = false;
            LeaderLog.StateCopied(_logger, leader.ToString(), files.Sum(f => f.Length), added);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LeaderLog.StateCopyFailed(_logger, leader.ToString(), e.Message);
        }
    }

    private async Task<byte[]> FetchSysFileAsync(FdfsConnection connection, byte index, CancellationToken cancellationToken)
    {
        var file = new SysFileAssembler(index);
        while (!file.IsComplete)
        {
            var (status, body) = await RoundTripAsync(connection, TrackerCommand.GetOneSysFile, file.NextRequest(), cancellationToken);
            if (status != FdfsErrno.Success)
            {
                throw new InvalidDataException($"GET_ONE_SYS_FILE {file.FileName} answered {FdfsErrno.Name(status)}");
            }

            file.Add(body);
        }

        return file.ToArray();
    }

    /// <summary>The leader's files as a state; an earlier version of this tracker sent its JSON as file 0 instead.</summary>
    private ClusterState? ParseCopiedState(byte[][] files)
    {
        byte[] groups = files[TrackerSysFiles.GroupsIndex];
        if (groups.Length > 0 && groups[0] == (byte)'{')
        {
            return JsonSerializer.Deserialize(groups, ClusterStateJsonContext.Default.ClusterState);
        }

        return StateFiles.Read(Encoding.UTF8.GetString(groups), Encoding.UTF8.GetString(files[TrackerSysFiles.ServersIndex]),
            Encoding.UTF8.GetString(files[TrackerSysFiles.SyncTimestampsIndex]), side: null, _options, _registry.Now);
    }

    // A hung peer must not stall the election for network_timeout (60 s shipped): peer requests are tiny.
    private TimeSpan PeerTimeout => _options.NetworkTimeout < MaxPeerTimeout ? _options.NetworkTimeout : MaxPeerTimeout;

    private async Task<FdfsConnection> ConnectAsync(ServerAddress peer, CancellationToken cancellationToken) =>
        await FdfsConnection.ConnectAsync(peer.Ip, peer.Port, _options.ConnectTimeout < PeerTimeout ? _options.ConnectTimeout : PeerTimeout, null, cancellationToken);

    private async Task<(byte Status, byte[] Body)> RoundTripAsync(FdfsConnection connection, TrackerCommand command, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(PeerTimeout);
        try
        {
            return await connection.RoundTripAsync((byte)command, body, TrackerRequestHandler.MaxPackageSize, timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(string.Create(CultureInfo.InvariantCulture, $"no answer to {command} within {PeerTimeout.TotalSeconds} s"));
        }
    }

    /// <summary>Chunk of a state file served to a copying follower (what FastDFS's followers can take).</summary>
    public static int ChunkSize => TrackerSysFiles.MaxChunkSize;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        if (_loop is not null)
        {
            await _loop.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        // _wake stays undisposed: request handlers may still call Learn while the server drains.
        CloseLeaderConnection();
        _stopping.Dispose();
    }
}
