using System.Collections.Concurrent;
using FastDfs.Client;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace FastDfs.Mount.Core;

/// <summary>
/// This mount's lock session with the directory service: every flock and fcntl lock taken through the mount is held
/// by (session, kernel lock owner) in the trackers' store, so processes on other mounts see it. The session lives for
/// <see cref="Lease"/> and is renewed every third of it; a mount that dies stops renewing and its locks stop blocking
/// others once the lease lapses. <see cref="CloseAsync"/> (clean unmount) drops them at once. If a renewal finds the
/// session lapsed (the trackers were unreachable for a whole lease), the locks this mount held are lost: a new
/// session is opened and the loss is logged, as NFS does when its lock state cannot be reclaimed.
/// <para>
/// A request the trackers do not answer within the operation timeout is answered EIO, but a stalled tracker may still
/// apply it later. Its answer is awaited on the same connection for <see cref="_lateAnswerWindow"/> more and what it did
/// is undone (a grant given back, a recorded wait withdrawn), so the owner ends with what it held before, as after an
/// interrupted wait; meanwhile the owner's next request on that file waits for this to settle.
/// </para>
/// </summary>
public sealed class ClusterLocks : IAsyncDisposable
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LastRetry = TimeSpan.FromMilliseconds(500);

    private readonly NamespaceClient _client;
    private readonly TimeSpan _operationTimeout;
    private readonly ILogger _logger;
    private readonly TimeSpan _lateAnswerWindow;
    private readonly SemaphoreSlim _opening = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();

    // (file, owner, kind) whose request was answered EIO while the trackers may still apply it: until its late answer is
    // undone, the owner's next request there waits, or the undoing could take back what that request set.
    private readonly ConcurrentDictionary<(long Key, long Owner, NsLockKind Kind), Task> _unsettled = new();
    private Task? _renewing;
    private long _session;
    private volatile bool _waitsRefused; // the trackers predate deadlock detection: ask them the old way

    public ClusterLocks(NamespaceClient client, TimeSpan lease, TimeSpan operationTimeout, ILogger logger)
    {
        _client = client;
        Lease = lease;
        _operationTimeout = operationTimeout;
        _logger = logger;

        // A tracker stalled for longer than a lease has let this session lapse (nothing renewed it), so whatever it
        // applies after that is refused (ENOLCK); only a shorter stall leaves something to undo.
        _lateAnswerWindow = lease > operationTimeout ? lease : operationTimeout;
    }

    /// <summary>How long the session (and so the locks) outlives the last renewal.</summary>
    public TimeSpan Lease { get; }

    /// <summary>The current session (0 until the first one is open).</summary>
    public long Session => Interlocked.Read(ref _session);

    /// <summary>Opens the session (or leaves that to the first lock if the trackers do not answer) and starts renewing it.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await SessionAsync(0, cancellationToken);
        }
        catch (Exception e) when (e is FdfsException or OperationCanceledException or IOException)
        {
            MountLog.LockRequestFailed(_logger, "open lock session", e.Message);
        }

        _renewing = Task.Run(() => RenewLoopAsync(_stopping.Token), CancellationToken.None);
    }

    /// <summary>
    /// Sets or clears a lock. Without <paramref name="wait"/> a conflict answers EAGAIN; with it the request asks again
    /// with a growing pause (10 ms to 0.5 s) until granted or until <paramref name="interrupt"/> fires (EINTR). A waiting
    /// POSIX lock is answered EDEADLK when the owners holding the range wait, directly or not, for this owner (the
    /// trackers check it on each attempt). Each attempt is bounded by the mount's operation timeout (EIO); what a late
    /// answer did is undone in the background (see the class remarks).
    /// </summary>
    public async ValueTask<int> SetAsync(long key, long owner, NsLockKind kind, NsLockType type, long start, long end, int pid, bool wait, CancellationToken interrupt) =>
        (await LockAsync(key, owner, kind, type, start, end, pid, wait, interrupt)).Errno;

    /// <summary>
    /// <see cref="SetAsync"/>, also answering what a grant replaced. The interrupt ends the pauses, never an attempt
    /// under way: a request the trackers may have granted must come back, or the caller would not know it holds a lock.
    /// A grant that arrives after the interrupt is still answered as a grant; the caller gives it back with
    /// <see cref="GiveBackAsync"/> when it already told the process EINTR. While an earlier request of the owner on the
    /// file that was answered EIO is still settling, this one waits for it (at most the operation timeout, then EIO).
    /// </summary>
    public async ValueTask<LockGrant> LockAsync(long key, long owner, NsLockKind kind, NsLockType type, long start, long end, int pid, bool wait, CancellationToken interrupt)
    {
        // Only a waiting POSIX lock takes part in deadlock detection (as on Linux: flock waits are never checked).
        var waiting = wait && kind == NsLockKind.Posix && type != NsLockType.Unlock ? NsLockWait.Wait : NsLockWait.None;
        var request = new NsLockRequest(0, key, owner, kind, type, start, end, pid, waiting);
        if (_unsettled.TryGetValue((key, owner, kind), out var earlier))
        {
            try
            {
                await earlier.WaitAsync(_operationTimeout, interrupt);
            }
            catch (OperationCanceledException)
            {
                return new LockGrant(Errno.EINTR, []); // nothing was asked yet
            }
            catch (TimeoutException)
            {
                // The trackers have not answered the earlier request yet, so this one would get no answer in time either.
                // An unlock still happens once they do: a close drops the process's locks whatever it is told.
                if (type == NsLockType.Unlock)
                {
                    Unsettle(request, UnlockAfterAsync(earlier, request));
                }

                return new LockGrant(Errno.EIO, []);
            }
        }

        var pause = FirstRetry;
        while (true)
        {
            var grant = await AttemptAsync(request);
            if (grant.Errno != Errno.EAGAIN || !wait)
            {
                return grant;
            }

            try
            {
                await Task.Delay(pause, interrupt);
            }
            catch (OperationCanceledException)
            {
                if (waiting == NsLockWait.Wait)
                {
                    // Otherwise the recorded wait would count until the lease ends: another owner could get EDEADLK for
                    // a cycle through a process that no longer waits. (Nothing is sent when the trackers refused waits.)
                    await TrySetAsync(request with { Wait = NsLockWait.GiveUp }, _operationTimeout);
                }

                return new LockGrant(Errno.EINTR, []);
            }

            pause = TimeSpan.FromTicks(Math.Min(LastRetry.Ticks, pause.Ticks * 2));
        }
    }

    /// <summary>
    /// Undoes a grant of [<paramref name="start"/>, <paramref name="end"/>] that the caller was told it did not get:
    /// the ranges the grant replaced (<see cref="LockGrant.Replaced"/>) are set again at their old types, then the rest
    /// of the range is unlocked, so the owner ends with exactly what it held before (an upgrade's read lock stays).
    /// Inside a granted write lock each step is a downgrade, which never conflicts, and the owner never holds less than
    /// before. Only a waiting read lock that replaced the owner's own write lock can fail to get the write lock back,
    /// when another reader came in between (logged).
    /// </summary>
    public async ValueTask GiveBackAsync(long key, long owner, NsLockKind kind, long start, long end, NsLockRange[] replaced)
    {
        foreach (var range in replaced)
        {
            var restored = await TrySetAsync(new NsLockRequest(0, key, owner, kind, range.Type, range.Start, range.End, range.Pid), _operationTimeout);
            if (restored.Errno != 0)
            {
                MountLog.LockRequestFailed(_logger, "give back an interrupted lock", $"the held {range.Type} lock on {range.Start}..{range.End} could not be restored (errno {restored.Errno})");
            }
        }

        long next = start;
        bool past = false; // the last range reached long.MaxValue: nothing after it
        foreach (var range in replaced)
        {
            if (range.Start > next)
            {
                await TrySetAsync(new NsLockRequest(0, key, owner, kind, NsLockType.Unlock, next, range.Start - 1, 0), _operationTimeout);
            }

            past = range.End == long.MaxValue;
            next = past ? long.MaxValue : range.End + 1;
        }

        if (!past && next <= end)
        {
            await TrySetAsync(new NsLockRequest(0, key, owner, kind, NsLockType.Unlock, next, end, 0), _operationTimeout);
        }
    }

    /// <summary>The first conflicting lock of another owner (type Unlock when none).</summary>
    public async ValueTask<FsResult<NsLockHolder>> GetAsync(long key, long owner, NsLockKind kind, NsLockType type, long start, long end, int pid)
    {
        using var deadline = new CancellationTokenSource(_operationTimeout);
        try
        {
            long session = await SessionAsync(0, deadline.Token);
            return await _client.GetLockAsync(new NsLockRequest(session, key, owner, kind, type, start, end, pid), deadline.Token);
        }
        catch (Exception e) when (e is FdfsException or OperationCanceledException or IOException)
        {
            MountLog.LockRequestFailed(_logger, "getlk", e.Message);
            return FsResult<NsLockHolder>.Fail(Errno.EIO);
        }
    }

    /// <summary>Ends the session: every lock this mount holds goes at once (clean unmount).</summary>
    public async Task CloseAsync()
    {
        await _stopping.CancelAsync();
        if (_renewing is not null)
        {
            await _renewing.ContinueWith(_ => { }, TaskScheduler.Default);
        }

        // Late answers no longer matter: closing the session drops whatever they set. The stop ends their waits at once.
        await Task.WhenAll(_unsettled.Values);

        long session = Interlocked.Exchange(ref _session, 0);
        if (session == 0)
        {
            return;
        }

        using var deadline = new CancellationTokenSource(_operationTimeout);
        try
        {
            await _client.CloseLockSessionAsync(session, deadline.Token);
        }
        catch (Exception e) when (e is FdfsException or OperationCanceledException or IOException)
        {
            MountLog.LockRequestFailed(_logger, "close lock session", e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        _stopping.Dispose();
        _opening.Dispose();
    }

    /// <summary>
    /// One attempt of a caller's request, answered within the operation timeout. An EIO (no answer in time, or a
    /// connection lost with the request on it) leaves its outcome open: <see cref="SettleAsync"/> then awaits the late
    /// answer and undoes it, and the owner's next request on the file waits for that.
    /// </summary>
    private async ValueTask<LockGrant> AttemptAsync(NsLockRequest request)
    {
        var attempt = TrySetAsync(request, _operationTimeout + _lateAnswerWindow).AsTask();
        LockGrant grant;
        try
        {
            grant = await attempt.WaitAsync(_operationTimeout);
        }
        catch (TimeoutException)
        {
            MountLog.LockAnswerLate(_logger, Describe(request), _operationTimeout.TotalSeconds, _lateAnswerWindow.TotalSeconds);
            grant = new LockGrant(Errno.EIO, []);
        }

        if (grant.Errno == Errno.EIO)
        {
            Unsettle(request, SettleAsync(request, attempt));
        }

        return grant;
    }

    /// <summary>Makes the owner's next requests on the file wait for <paramref name="settling"/> (and for what it follows).</summary>
    private void Unsettle(NsLockRequest request, Task settling)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        var id = (request.Inode, request.Owner, request.Kind);
        var entry = _unsettled.AddOrUpdate(id, settling, (_, earlier) => Task.WhenAll(earlier, settling));
        _ = entry.ContinueWith(
            settled => _unsettled.TryRemove(KeyValuePair.Create(id, settled)), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task UnlockAfterAsync(Task earlier, NsLockRequest unlock)
    {
        await earlier;
        if (!_stopping.IsCancellationRequested)
        {
            await TrySetAsync(unlock, _operationTimeout);
        }
    }

    /// <summary>
    /// What became of a request answered EIO, undone: a grant is given back (the caller was told it got nothing); a wait
    /// the trackers recorded, by this attempt or an earlier one, is withdrawn, or another owner could be refused EDEADLK
    /// for a cycle through an owner that no longer waits, until the lease ends. Never throws.
    /// </summary>
    private async Task SettleAsync(NsLockRequest request, Task<LockGrant> attempt)
    {
        try
        {
            var late = await attempt; // bounded by the attempt's own deadline, and by the stop
            if (_stopping.IsCancellationRequested)
            {
                return;
            }

            if (late.Errno == 0 && request.Type != NsLockType.Unlock)
            {
                await GiveBackAsync(request.Inode, request.Owner, request.Kind, request.Start, request.End, late.Replaced);
                MountLog.LockLateAnswerUndone(_logger, Describe(request), "granted", "given back");
            }
            else if (request.Wait == NsLockWait.Wait && late.Errno is Errno.EAGAIN or Errno.EIO)
            {
                // After no answer at all this is the best that can be done: a tracker that applies the attempt later
                // still records it, until the lease ends.
                await TrySetAsync(request with { Wait = NsLockWait.GiveUp }, _operationTimeout);
                if (late.Errno == Errno.EAGAIN)
                {
                    MountLog.LockLateAnswerUndone(_logger, Describe(request), "still waiting", "wait withdrawn");
                }
            }
        }
        catch (Exception e) when (e is FdfsException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            MountLog.LockRequestFailed(_logger, "settle a lock request answered EIO", e.Message);
        }
    }

    private static string Describe(NsLockRequest r) =>
        $"{(r.Kind == NsLockKind.Flock ? "flock" : "fcntl")} {r.Type} {r.Start}..{r.End} of owner {r.Owner} on {r.Inode}";

    /// <summary>
    /// One request, bounded by <paramref name="bound"/> (and the stop); a lapsed session (ENOLCK) is replaced once and the
    /// request asked again. Trackers from before deadlock detection refuse the wait byte (EINVAL): the request goes again
    /// without it, and so do all later ones.
    /// </summary>
    private async ValueTask<LockGrant> TrySetAsync(NsLockRequest request, TimeSpan bound)
    {
        long lapsed = 0;
        bool renewed = false;
        while (true)
        {
            if (request.Wait != NsLockWait.None && _waitsRefused)
            {
                if (request.Wait == NsLockWait.GiveUp)
                {
                    return new LockGrant(0, []);
                }

                request = request with { Wait = NsLockWait.None };
            }

            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            deadline.CancelAfter(bound);
            try
            {
                long session = await SessionAsync(lapsed, deadline.Token);

                // The deadline alone bounds the answer: the network timeout would close the connection and, with it,
                // the one way to learn what a stalled tracker did with the request.
                var replaced = await _client.SetLockAsync(request with { Session = session }, Timeout.InfiniteTimeSpan, deadline.Token);
                return replaced is null ? new LockGrant(Errno.EAGAIN, []) : new LockGrant(0, replaced);
            }
            catch (FdfsNamespaceException e) when (e.Errno == NamespaceErrno.ENOLCK && !renewed)
            {
                lapsed = Session;
                renewed = true;
            }
            catch (FdfsNamespaceException e) when (e.Errno == FdfsErrno.EINVAL && request.Wait != NsLockWait.None && !_waitsRefused)
            {
                _waitsRefused = true;
                MountLog.LockWaitsUnsupported(_logger);
            }
            catch (FdfsNamespaceException e) when (e.Errno == NamespaceErrno.EDEADLK)
            {
                return new LockGrant(Errno.EDEADLK, []); // an answer for the process, not a failure to log
            }
            catch (Exception e) when (e is FdfsException or OperationCanceledException or IOException)
            {
                if (!_stopping.IsCancellationRequested)
                {
                    MountLog.LockRequestFailed(_logger, request.Type == NsLockType.Unlock ? "unlock" : "lock", e.Message);
                }

                return new LockGrant(e is FdfsNamespaceException refused ? refused.Errno : Errno.EIO, []);
            }
        }
    }

    /// <summary>The live session; opens a new one when there is none or <paramref name="lapsed"/> is the current one.</summary>
    private async ValueTask<long> SessionAsync(long lapsed, CancellationToken cancellationToken)
    {
        long current = Session;
        if (current != 0 && current != lapsed)
        {
            return current;
        }

        await _opening.WaitAsync(cancellationToken);
        try
        {
            current = Session;
            if (current != 0 && current != lapsed)
            {
                return current;
            }

            if (current != 0)
            {
                MountLog.LockSessionLapsed(_logger, current, Lease.TotalSeconds);
            }

            long opened = await _client.OpenLockSessionAsync(Lease, cancellationToken);
            Interlocked.Exchange(ref _session, opened);
            MountLog.LockSessionOpened(_logger, opened, Lease.TotalSeconds);
            return opened;
        }
        finally
        {
            _opening.Release();
        }
    }

    private async Task RenewLoopAsync(CancellationToken stopping)
    {
        var interval = Lease / 3;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, stopping);
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                deadline.CancelAfter(interval < _operationTimeout ? interval : _operationTimeout);
                long session = Session;
                try
                {
                    if (session == 0)
                    {
                        await SessionAsync(0, deadline.Token);
                    }
                    else
                    {
                        await _client.RenewLockSessionAsync(session, Lease, deadline.Token);
                    }
                }
                catch (FdfsNamespaceException e) when (e.Errno == NamespaceErrno.ENOLCK)
                {
                    await SessionAsync(session, deadline.Token);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is FdfsException or OperationCanceledException or IOException)
            {
                // The next renewal tries again; the locks hold as long as one succeeds within the lease.
                MountLog.LockRequestFailed(_logger, "renew lock session", e.Message);
            }
        }
    }
}

/// <summary>A lock request's end: 0 (granted) or an errno, and for a grant the owner's ranges it replaced.</summary>
public readonly record struct LockGrant(int Errno, NsLockRange[] Replaced);
