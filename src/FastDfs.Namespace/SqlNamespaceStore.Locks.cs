using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Namespace;

/// <summary>
/// Cluster-wide file locks. <c>ns_lock_sessions</c> holds one row per mount (its lease's end, server clock in ns);
/// <c>ns_locks</c> one row per owner range: (inode, session, owner, kind, type, first_byte, last_byte, pid). A lock
/// counts only while its session's lease runs, so a dead mount's locks stop blocking when its lease lapses, without a
/// sweeper; the rows are removed when the session is found expired (renew, open of any session). Every change is one
/// transaction, which on PostgreSQL is SERIALIZABLE: two trackers granting conflicting locks at once cannot both commit.
/// </summary>
public abstract partial class SqlNamespaceStore
{
    private const string LiveConflict =
        "FROM ns_locks l JOIN ns_lock_sessions s ON s.id = l.session " +
        "WHERE l.inode = @p0 AND l.kind = @p1 AND NOT (l.session = @p2 AND l.owner = @p3) AND l.first_byte <= @p4 AND l.last_byte >= @p5 " +
        "AND (l.type = 1 OR @p6 = 1) AND s.expires >= @p7";

    private static long LeaseEnd(TimeSpan lease) => UnixTime.NowNanoseconds() + (lease.Ticks * 100);

    public ValueTask<long> OpenLockSessionAsync(TimeSpan lease, CancellationToken cancellationToken) =>
        WriteAsync(async (s, ct) =>
        {
            long now = UnixTime.NowNanoseconds();

            // Housekeeping while here: sessions whose lease lapsed lose their rows (they already block nobody).
            await ExecAsync(s, "DELETE FROM ns_locks WHERE session IN (SELECT id FROM ns_lock_sessions WHERE expires < @p0)", ct, now);
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
        await ExecAsync(s, "DELETE FROM ns_lock_sessions WHERE id = @p0", ct, session);
    }

    public async ValueTask<NsLockRange[]> SetLockAsync(NsLockRequest request, CancellationToken cancellationToken)
    {
        var r = request;
        var (errno, replaced) = await WriteAsync(async (s, ct) =>
        {
            long now = UnixTime.NowNanoseconds();
            bool live = await ScalarAsync(s, "SELECT 1 FROM ns_lock_sessions WHERE id = @p0 AND expires >= @p1", ct, r.Session, now) is not null;
            if (!live && r.Type != NsLockType.Unlock)
            {
                return (NamespaceErrno.ENOLCK, Array.Empty<NsLockRange>());
            }

            if (r.Type != NsLockType.Unlock && await ScalarAsync(s, "SELECT 1 " + LiveConflict + " LIMIT 1", ct,
                    r.Inode, (long)r.Kind, r.Session, r.Owner, r.End, r.Start, r.Type == NsLockType.Write ? 1L : 0L, now) is not null)
            {
                return (FdfsErrno.EAGAIN, Array.Empty<NsLockRange>());
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
                return ((byte)0, Array.Empty<NsLockRange>()); // the common close of a file that was never locked: no write at all
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

            return ((byte)0, LockRanges.Clip(held, r.Start, r.End));
        }, cancellationToken);
        if (errno != 0)
        {
            throw new NamespaceException(errno, errno == FdfsErrno.EAGAIN ? "locked by another owner" : $"lock session {r.Session} expired or unknown");
        }

        return replaced;
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
                ct, r.Inode, (long)r.Kind, r.Session, r.Owner, r.End, r.Start, r.Type == NsLockType.Write ? 1L : 0L, UnixTime.NowNanoseconds());
            return await reader.ReadAsync(ct)
                ? new NsLockHolder((NsLockType)reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), (int)reader.GetInt64(3), reader.GetInt64(4))
                : NsLockHolder.None;
        }, cancellationToken);
    }
}
