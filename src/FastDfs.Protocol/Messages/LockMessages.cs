using System.Buffers.Binary;

namespace FastDfs.Protocol.Messages;

/// <summary>Which lock family: fcntl record locks and flock never conflict with each other (as on Linux's local file systems).</summary>
public enum NsLockKind : byte
{
    Posix = 1,
    Flock = 2,
}

/// <summary>A lock's type; the values are Linux's F_RDLCK, F_WRLCK and F_UNLCK.</summary>
public enum NsLockType : byte
{
    Read = 0,
    Write = 1,
    Unlock = 2,
}

/// <summary>
/// What a SET_LOCK says about waiting, for deadlock detection (POSIX locks only; flock never waits on the graph).
/// </summary>
public enum NsLockWait : byte
{
    /// <summary>An F_SETLK, an unlock, a flock: nothing about waiting (the byte is left out of the request).</summary>
    None = 0,

    /// <summary>
    /// One attempt of a waiting F_SETLKW: on a conflict the server records that the owner waits for this range (until
    /// granted, given up or the session's lease ends), unless the wait would close a cycle of owners each waiting for
    /// the next: then EDEADLK, and nothing is recorded.
    /// </summary>
    Wait = 1,

    /// <summary>The waiter gave up (interrupted): its wait for this range (same owner, type and range) is forgotten; no lock changes.</summary>
    GiveUp = 2,
}

/// <summary>
/// SET_LOCK / GET_LOCK request: the lock owner is (<see cref="Session"/>, <see cref="Owner"/>), the mount's lock
/// session and the kernel's lock_owner; the range is [<see cref="Start"/>, <see cref="End"/>] inclusive, with
/// <see cref="End"/> = <see cref="long.MaxValue"/> for "to the end of the file, however long" (the kernel's OFFSET_MAX).
/// <see cref="Pid"/> is the locking process as the mount saw it (what F_GETLK reports to the same mount).
/// Layout: session L8, inode L8, owner L8, kind 1, type 1, start L8, end L8, pid 4, then for SET_LOCK an optional
/// wait 1 (<see cref="NsLockWait"/>): written only when not None, so every request an older mount sends (46 bytes)
/// still reads, as None.
/// </summary>
public readonly record struct NsLockRequest(
    long Session, long Inode, long Owner, NsLockKind Kind, NsLockType Type, long Start, long End, int Pid, NsLockWait Wait = NsLockWait.None)
{
    /// <summary>The request without the wait byte (GET_LOCK, and SET_LOCK with <see cref="NsLockWait.None"/>).</summary>
    public const int Size = 8 + 8 + 8 + 1 + 1 + 8 + 8 + 4;

    /// <summary>The longest request: with the wait byte.</summary>
    public const int MaxSize = Size + 1;

    public int Write(Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(Session);
        w.WriteInt64(Inode);
        w.WriteInt64(Owner);
        w.WriteByte((byte)Kind);
        w.WriteByte((byte)Type);
        w.WriteInt64(Start);
        w.WriteInt64(End);
        w.WriteInt32(Pid);
        if (Wait != NsLockWait.None)
        {
            w.WriteByte((byte)Wait);
        }

        return w.Position;
    }

    /// <summary>Reads and checks a request: an unknown kind, type or wait, or a range that is empty or negative, is refused.</summary>
    public static NsLockRequest Read(ReadOnlySpan<byte> body)
    {
        if (body.Length is not (Size or MaxSize))
        {
            throw new FdfsProtocolException($"lock request must be {Size} or {MaxSize} bytes, got {body.Length}");
        }

        var r = new WireReader(body);
        var request = new NsLockRequest(
            r.ReadInt64("session"), r.ReadInt64("inode"), r.ReadInt64("owner"), (NsLockKind)r.ReadByte("kind"), (NsLockType)r.ReadByte("type"),
            r.ReadInt64("start"), r.ReadInt64("end"), r.ReadInt32("pid"), r.Remaining > 0 ? (NsLockWait)r.ReadByte("wait") : NsLockWait.None);
        if (!Enum.IsDefined(request.Kind) || !Enum.IsDefined(request.Type) || !Enum.IsDefined(request.Wait))
        {
            throw new FdfsProtocolException($"unknown lock kind {(byte)request.Kind}, type {(byte)request.Type} or wait {(byte)request.Wait}");
        }

        if (request.Start < 0 || request.End < request.Start)
        {
            throw new FdfsProtocolException($"invalid lock range {request.Start}..{request.End}");
        }

        return request;
    }
}

/// <summary>
/// GET_LOCK answer: the first lock that conflicts with the request, or <see cref="NsLockType.Unlock"/> (and zeros) when
/// none does. <see cref="Session"/> is the holder's lock session, so a mount can tell its own processes (whose pid it
/// may report) from other mounts' (whose pids mean nothing on this host).
/// Layout: type 1, start L8, end L8, pid 4, session L8.
/// </summary>
public readonly record struct NsLockHolder(NsLockType Type, long Start, long End, int Pid, long Session)
{
    public const int Size = 1 + 8 + 8 + 4 + 8;

    public static NsLockHolder None => new(NsLockType.Unlock, 0, 0, 0, 0);

    public int Write(Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteByte((byte)Type);
        w.WriteInt64(Start);
        w.WriteInt64(End);
        w.WriteInt32(Pid);
        w.WriteInt64(Session);
        return w.Position;
    }

    public static NsLockHolder Read(ReadOnlySpan<byte> body)
    {
        if (body.Length != Size)
        {
            throw new FdfsProtocolException($"lock answer must be {Size} bytes, got {body.Length}");
        }

        var r = new WireReader(body);
        var holder = new NsLockHolder((NsLockType)r.ReadByte("type"), r.ReadInt64("start"), r.ReadInt64("end"), r.ReadInt32("pid"), r.ReadInt64("session"));
        return Enum.IsDefined(holder.Type) ? holder : throw new FdfsProtocolException($"unknown lock type {(byte)holder.Type}");
    }
}

/// <summary>
/// One of an owner's ranges that a SET_LOCK replaced, clipped to the request's range: what a waiting lock that was
/// interrupted just as it was granted puts back, so the owner holds exactly what it held before (an upgrade's read lock).
/// SET_LOCK's answer is a run of these, in range order; empty when the owner held nothing there.
/// Layout: type 1, start L8, end L8, pid 4.
/// </summary>
public readonly record struct NsLockRange(NsLockType Type, long Start, long End, int Pid)
{
    public const int Size = 1 + 8 + 8 + 4;

    public static int WriteAll(Span<byte> destination, IReadOnlyList<NsLockRange> ranges)
    {
        var w = new WireWriter(destination);
        foreach (var range in ranges)
        {
            w.WriteByte((byte)range.Type);
            w.WriteInt64(range.Start);
            w.WriteInt64(range.End);
            w.WriteInt32(range.Pid);
        }

        return w.Position;
    }

    /// <summary>Reads a SET_LOCK answer; a length that is not whole ranges, an unknown type or an empty range is refused.</summary>
    public static NsLockRange[] ReadAll(ReadOnlySpan<byte> body)
    {
        if (body.Length % Size != 0)
        {
            throw new FdfsProtocolException($"lock ranges must be a multiple of {Size} bytes, got {body.Length}");
        }

        var ranges = new NsLockRange[body.Length / Size];
        var r = new WireReader(body);
        for (int i = 0; i < ranges.Length; i++)
        {
            var range = new NsLockRange((NsLockType)r.ReadByte("type"), r.ReadInt64("start"), r.ReadInt64("end"), r.ReadInt32("pid"));
            if (range.Type is not (NsLockType.Read or NsLockType.Write) || range.Start < 0 || range.End < range.Start)
            {
                throw new FdfsProtocolException($"invalid held lock {(byte)range.Type} {range.Start}..{range.End}");
            }

            ranges[i] = range;
        }

        return ranges;
    }
}

/// <summary>
/// Lock-session commands. OPEN_LOCK_SESSION: lease seconds 4, answered with the new session L8. RENEW_LOCK_SESSION:
/// session L8, lease seconds 4, empty answer, ENOLCK when the session has expired or was closed (its locks are gone).
/// CLOSE_LOCK_SESSION: session L8, empty answer (closing an unknown session succeeds). SET_LOCK: <see cref="NsLockRequest"/>,
/// answered with the <see cref="NsLockRange"/>s it replaced, EAGAIN when another owner's lock conflicts, EDEADLK when
/// a waiting POSIX request (<see cref="NsLockWait.Wait"/>) would close a cycle of waiting owners, ENOLCK for an unknown
/// or expired session; with <see cref="NsLockWait.GiveUp"/> an empty answer. GET_LOCK: <see cref="NsLockRequest"/>
/// (the wait byte, if any, is ignored), answered with <see cref="NsLockHolder"/>.
/// </summary>
public static class LockMessages
{
    public const int SessionSize = 8;

    public const int OpenSessionSize = 4;

    public const int RenewSessionSize = 8 + 4;

    public static int WriteOpenSession(Span<byte> destination, int leaseSeconds)
    {
        BinaryPrimitives.WriteInt32BigEndian(destination, leaseSeconds);
        return OpenSessionSize;
    }

    public static int ReadOpenSession(ReadOnlySpan<byte> body) => body.Length == OpenSessionSize
        ? BinaryPrimitives.ReadInt32BigEndian(body)
        : throw new FdfsProtocolException($"open lock session request must be {OpenSessionSize} bytes, got {body.Length}");

    public static int WriteSession(Span<byte> destination, long session)
    {
        BinaryPrimitives.WriteInt64BigEndian(destination, session);
        return SessionSize;
    }

    public static long ReadSession(ReadOnlySpan<byte> body) => body.Length == SessionSize
        ? BinaryPrimitives.ReadInt64BigEndian(body)
        : throw new FdfsProtocolException($"lock session must be {SessionSize} bytes, got {body.Length}");

    public static int WriteRenewSession(Span<byte> destination, long session, int leaseSeconds)
    {
        BinaryPrimitives.WriteInt64BigEndian(destination, session);
        BinaryPrimitives.WriteInt32BigEndian(destination[8..], leaseSeconds);
        return RenewSessionSize;
    }

    public static long ReadRenewSession(ReadOnlySpan<byte> body, out int leaseSeconds)
    {
        if (body.Length != RenewSessionSize)
        {
            throw new FdfsProtocolException($"renew lock session request must be {RenewSessionSize} bytes, got {body.Length}");
        }

        leaseSeconds = BinaryPrimitives.ReadInt32BigEndian(body[8..]);
        return BinaryPrimitives.ReadInt64BigEndian(body);
    }
}
