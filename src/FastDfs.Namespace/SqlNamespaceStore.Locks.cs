using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Namespace;

/// <summary>
/// Cluster-wide file locks. <c>ns_lock_sessions</c> holds one row per mount (its lease's end, server clock in ns);
/// <c>ns_locks</c> one row per owner range: (inode, session, owner, kind, type, first_byte, last_byte, pid). A lock
/// counts only while its session's lease runs, so a dead mount's locks stop blocking when its lease lapses, without a
/// sweeper; the rows are removed when the session is found expired (renew, open of any session). Every change is one
/// transaction, which on PostgreSQL is SERIALIZABLE: two trackers granting conflicting locks at once cannot both commit.
/// <para>
/// Deadlock detection: <c>ns_lock_waits</c> holds one row per waiting F_SETLKW, (session, owner, inode, type,
/// first_byte, last_byte, expires): the request itself, not the owners it waited for, so whom it waits for is always
/// computed from the locks held now (a holder that unlocked is waited for no longer, even before the waiter asks
/// again). A row lasts until the wait is granted, given up, or its expiry: the session's lease end when it was
/// recorded, which each new attempt (every 0.5 s at most) moves on. Before recording a wait, the owners it conflicts
/// with are followed through their own waits, like Linux's posix_locks_deadlock, up to <see cref="MaxDeadlockWaits"/>
/// steps; reaching the requester answers EDEADLK. Two waits that would close a cycle together on two trackers each
/// read the other's row: SERIALIZABLE lets one commit and retries the other, which then sees the cycle.
/// </para>
/// </summary>
public abstract partial class SqlNamespaceStore
{
    private const string LiveConflict =
        "FROM ns_locks l JOIN ns_lock_sessions s ON s.id = l.session " +
        "WHERE l.inode = @p0 AND l.kind = @p1 AND NOT (l.session = @p2 AND l.owner = @p3) AND l.first_byte <= @p4 AND l.last_byte >= @p5 " +
        "AND (l.type = 1 OR @p6 = 1) AND s.expires >= @p7";

    /// <summary>The parameters of <see cref="LiveConflict"/> for a request: its inode, kind, owner and range, and whether it writes.</summary>
    private static object?[] LiveConflictArgs(NsLockRequest r, long now) =>
        [r.Inode, (long)r.Kind, r.Session, r.Owner, r.End, r.Start, r.Type == NsLockType.Write ? 1L : 0L, now];

    /// <summary>
    /// How many waits the deadlock search follows: as many as Linux, whose loop (<c>if (i++ &gt; MAX_DEADLK_ITERATIONS)</c>,
    /// 10) follows eleven, so a ring of 12 owners answers EDEADLK on ext4 and one of 13 waits.
    /// </summary>
    public const int MaxDeadlockWaits = 11;

    /// <summary>How many owners one search visits at most: keeps the transaction bounded when many owners wait.</summary>
    private const int MaxDeadlockOwners = 256;

    /// <summary>Owners (session, owner) whose live POSIX locks conflict with the waits of owner (@p0, @p1) that have not expired (@p2).</summary>
    private const string WaitedFor =
        "SELECT DISTINCT l.session, l.owner FROM ns_lock_waits w " +
        "JOIN ns_locks l ON l.inode = w.inode AND l.kind = 1 AND NOT (l.session = w.session AND l.owner = w.owner) " +
        "AND l.first_byte <= w.last_byte AND l.last_byte >= w.first_byte AND (l.type = 1 OR w.type = 1) " +
        "JOIN ns_lock_sessions s ON s.id = l.session " +
        "WHERE w.session = @p0 AND w.owner = @p1 AND w.expires >= @p2 AND s.expires >= @p2";

    private const string ForgetWait =
        "DELETE FROM ns_lock_waits WHERE session = @p0 AND owner = @p1 AND inode = @p2 AND type = @p3 AND first_byte = @p4 AND last_byte = @p5";

    private static long LeaseEnd(TimeSpan lease) => UnixTime.NowNanoseconds() + (lease.Ticks * 100);

    public ValueTask<long> OpenLockSessionAsync(TimeSpan lease, CancellationToken cancellationToken) =>
        WriteAsync(async (s, ct) =>
        {
            long now = UnixTime.NowNanoseconds();

            // Housekeeping while here: sessions whose lease lapsed lose their rows (they already block nobody).
            await ExecAsync(s, "DELETE FROM ns_locks WHERE session IN (SELECT id FROM ns_lock_sessions WHERE expires < @p0)", ct, now);
            await ExecAsync(s, "DELETE FROM ns_lock_waits WHERE expires < @p0", ct, now);
            await ExecAsync(s, "DELETE FROM ns_lock_sessions WHERE expires < @p0", ct, now);
            return await InsertAsync(s, "INSERT INTO ns_lock_sessions (expires) VALUES (@p0) RETURNING id", ct, LeaseEnd(lease));
        }, cancellationToken);

    public async ValueTask RenewLockSessionAsync(long session, TimeSpan lease, CancellationToken cancellationToken)
    {
        bool renewed = await WriteAsync(async (s, ct) =>
        {
            if (await ExecAsync(s, "UPDATE ns_lock_sessions SET expires = @p1 WHERE id = @p0 AND expires >= @p2", ct, session, LeaseEnd(lease), UnixTime.NowNanoseconds()) == 1)
            {
                return true;
            }

            // Lapsed: others may hold conflicting locks by now, so the old ones must never come back.
            await DropLockSessionAsync(s, session, ct);
            return false;
        }, cancellationToken);
        if (!renewed)
        {
            throw new NamespaceException(NamespaceErrno.ENOLCK, $"lock session {session} expired or closed");
        }
    }

    public async ValueTask CloseLockSessionAsync(long session, CancellationToken cancellationToken) =>
        await WriteAsync(async (s, ct) =>
        {
            await DropLockSessionAsync(s, session, ct);
            return true;
        }, cancellationToken);

    private static async Task DropLockSessionAsync(Session s, long session, CancellationToken ct)
    {
        await ExecAsync(s, "DELETE FROM ns_locks WHERE session = @p0", ct, session);
        await ExecAsync(s, "DELETE FROM ns_lock_waits WHERE session = @p0", ct, session);
        await ExecAsync(s, "DELETE FROM ns_lock_sessions WHERE id = @p0", ct, session);
    }

    public async ValueTask<NsLockOutcome> TrySetLockAsync(NsLockRequest request, CancellationToken cancellationToken)
    {
        var r = request;

        // Deadlock detection is POSIX's (F_SETLKW): flock waits are never recorded, so flock never answers EDEADLK.
        bool waits = r.Wait == NsLockWait.Wait && r.Kind == NsLockKind.Posix && r.Type != NsLockType.Unlock;
        var outcome = await WriteAsync<NsLockOutcome?>(async (s, ct) =>
        {
            if (r.Wait == NsLockWait.GiveUp)
            {
                // Whatever the session's state: a lapsed session's waits must go too.
                await ExecAsync(s, ForgetWait, ct, r.Session, r.Owner, r.Inode, (long)r.Type, r.Start, r.End);
                return NsLockOutcome.Grant([]);
            }

            if (r.Type != NsLockType.Unlock)
            {
                // An unlock needs no live session (a lapsed one's rows are dropped all the same) and never conflicts.
                long now = UnixTime.NowNanoseconds();
                object? expires = await ScalarAsync(s, "SELECT expires FROM ns_lock_sessions WHERE id = @p0 AND expires >= @p1", ct, r.Session, now);
                if (expires is null)
                {
                    return null; // a real error, thrown below: the mount's session is gone, and with it its locks
                }

                if (!waits)
                {
                    if (await ScalarAsync(s, "SELECT 1 " + LiveConflict + " LIMIT 1", ct, LiveConflictArgs(r, now)) is not null)
                    {
                        return NsLockOutcome.WouldBlock;
                    }
                }
                else
                {
                    // This attempt replaces the previous one's row: granted, deadlocked or waiting again.
                    await ExecAsync(s, ForgetWait, ct, r.Session, r.Owner, r.Inode, (long)r.Type, r.Start, r.End);
                    var holders = await ConflictingOwnersAsync(s, r, now, ct);
                    if (holders.Count > 0)
                    {
                        if (await WouldDeadlockAsync(s, (r.Session, r.Owner), holders, now, ct))
                        {
                            return NsLockOutcome.Deadlock;
                        }

                        await ExecAsync(s,
                            "INSERT INTO ns_lock_waits (session, owner, inode, type, first_byte, last_byte, expires) VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6)",
                            ct, r.Session, r.Owner, r.Inode, (long)r.Type, r.Start, r.End, Convert.ToInt64(expires, System.Globalization.CultureInfo.InvariantCulture));
                        return NsLockOutcome.WouldBlock;
                    }
                }
            }

            var held = new List<NsLockRange>();
            await using (var reader = await ReaderAsync(s,
                "SELECT type, first_byte, last_byte, pid FROM ns_locks WHERE inode = @p0 AND kind = @p1 AND session = @p2 AND owner = @p3",
                ct, r.Inode, (long)r.Kind, r.Session, r.Owner))
            {
                while (await reader.ReadAsync(ct))
                {
                    held.Add(new NsLockRange((NsLockType)reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), (int)reader.GetInt64(3)));
                }
            }

            if (held.Count == 0 && r.Type == NsLockType.Unlock)
            {
                return NsLockOutcome.Grant([]); // the common close of a file that was never locked: no write at all
            }

            var after = LockRanges.Apply(held, r.Type, r.Start, r.End, r.Pid);
            await ExecAsync(s, "DELETE FROM ns_locks WHERE inode = @p0 AND kind = @p1 AND session = @p2 AND owner = @p3",
                ct, r.Inode, (long)r.Kind, r.Session, r.Owner);
            foreach (var range in after)
            {
                await ExecAsync(s,
                    "INSERT INTO ns_locks (inode, session, owner, kind, type, first_byte, last_byte, pid) VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7)",
                    ct, r.Inode, r.Session, r.Owner, (long)r.Kind, (long)range.Type, range.Start, range.End, (long)range.Pid);
            }

            return NsLockOutcome.Grant(LockRanges.Clip(held, r.Start, r.End));
        }, cancellationToken);
        return outcome ?? throw new NamespaceException(NamespaceErrno.ENOLCK, $"lock session {r.Session} expired or unknown");
    }

    /// <summary>The (session, owner) pairs whose live locks conflict with <paramref name="r"/>.</summary>
    private static async Task<List<(long Session, long Owner)>> ConflictingOwnersAsync(Session s, NsLockRequest r, long now, CancellationToken ct)
    {
        var owners = new List<(long Session, long Owner)>();
        await using var reader = await ReaderAsync(s, "SELECT DISTINCT l.session, l.owner " + LiveConflict, ct, LiveConflictArgs(r, now));
        while (await reader.ReadAsync(ct))
        {
            owners.Add((reader.GetInt64(0), reader.GetInt64(1)));
        }

        return owners;
    }

    /// <summary>
    /// True when the <paramref name="frontier"/> owners (those the request conflicts with) wait, through a chain of at
    /// most <see cref="MaxDeadlockWaits"/> waits, for the <paramref name="requester"/> itself. Breadth first over every
    /// conflicting owner (not just the first, as Linux follows), with each owner visited once, so a cycle that does not
    /// include the requester ends the search instead of looping.
    /// </summary>
    private static async Task<bool> WouldDeadlockAsync(Session s, (long Session, long Owner) requester, List<(long Session, long Owner)> frontier, long now, CancellationToken ct)
    {
        var visited = new HashSet<(long, long)>();
        for (int depth = 0; depth < MaxDeadlockWaits && frontier.Count > 0; depth++)
        {
            var next = new List<(long Session, long Owner)>();
            foreach (var owner in frontier)
            {
                if (!visited.Add(owner) || visited.Count > MaxDeadlockOwners)
                {
                    continue;
                }

                await using var reader = await ReaderAsync(s, WaitedFor, ct, owner.Session, owner.Owner, now);
                while (await reader.ReadAsync(ct))
                {
                    var waitedFor = (reader.GetInt64(0), reader.GetInt64(1));
                    if (waitedFor == requester)
                    {
                        return true;
                    }

                    next.Add(waitedFor);
                }
            }

            frontier = next;
        }

        return false;
    }

    public ValueTask<NsLockHolder> GetLockAsync(NsLockRequest request, CancellationToken cancellationToken)
    {
        var r = request;
        if (r.Type == NsLockType.Unlock)
        {
            return ValueTask.FromResult(NsLockHolder.None);
        }

        return ReadAsync(async (s, ct) =>
        {
            await using var reader = await ReaderAsync(s,
                "SELECT l.type, l.first_byte, l.last_byte, l.pid, l.session " + LiveConflict + " ORDER BY l.first_byte LIMIT 1",
                ct, LiveConflictArgs(r, UnixTime.NowNanoseconds()));
            return await reader.ReadAsync(ct)
                ? new NsLockHolder((NsLockType)reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), (int)reader.GetInt64(3), reader.GetInt64(4))
                : NsLockHolder.None;
        }, cancellationToken);
    }
}
