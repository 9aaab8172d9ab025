using System.Runtime.InteropServices;
using FastDfs.Mount.Core;
using FastDfs.Protocol.Messages;

namespace FastDfs.Mount.Fuse;

/// <summary>
/// Cluster-wide locks: fcntl record locks (getlk/setlk) and flock, held in the directory service by (this mount's lock
/// session, the kernel's lock_owner). The kernel sends them only when <see cref="OnInit"/> asked for
/// FUSE_CAP_POSIX_LOCKS and FUSE_CAP_FLOCK_LOCKS, which it does only when the file system has a lock session;
/// otherwise the kernel keeps locks local to this mount, as before. Closing a descriptor releases its owner's record
/// locks (flush carries lock_owner), the last close of an open file description its flock (release with flock_release).
/// </summary>
public sealed unsafe partial class FuseMount
{
    [NativeConstant("FUSE_CAP_POSIX_LOCKS")]
    private const uint CapPosixLocks = 1u << 1;
    [NativeConstant("FUSE_CAP_FLOCK_LOCKS")]
    private const uint CapFlockLocks = 1u << 10;
    [NativeConstant("LOCK_SH")]
    private const int LockShared = 1;
    [NativeConstant("LOCK_EX")]
    private const int LockExclusive = 2;
    [NativeConstant("LOCK_NB")]
    private const int LockNonBlocking = 4;
    [NativeConstant("LOCK_UN")]
    private const int LockUnlock = 8;

    /// <summary>Asks the kernel to send locks to us when they are cluster-wide; clears libfuse's default ask otherwise.</summary>
    private static void NegotiateLocks(ConnInfo* conn)
    {
        if (Fs.Locks is null)
        {
            conn->Want &= ~(CapPosixLocks | CapFlockLocks);
        }
        else
        {
            conn->Want |= conn->Capable & (CapPosixLocks | CapFlockLocks);
        }
    }

    private static NsLockType LockType(short type) => type switch
    {
        Flock.ReadLock => NsLockType.Read,
        Flock.WriteLock => NsLockType.Write,
        _ => NsLockType.Unlock,
    };

    /// <summary>libfuse hands over absolute ranges (SEEK_SET); length 0 means to the end of the file, however long.</summary>
    private static (long Start, long End) LockRange(Flock* lock_) =>
        (lock_->Start, lock_->Length == 0 ? long.MaxValue : lock_->Start + lock_->Length - 1);

    [UnmanagedCallersOnly]
    private static void OnGetLk(nint req, ulong ino, FuseFileInfo* fi, Flock* lock_)
    {
        try
        {
            var (start, end) = LockRange(lock_);
            Complete<NsLockHolder, LockSender>(req, Fs.GetLockAsync(ino, fi->LockOwner, LockType(lock_->Type), start, end, lock_->Pid));
        }
        catch (Exception e)
        {
            Failed(req, "getlk", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnSetLk(nint req, ulong ino, FuseFileInfo* fi, Flock* lock_, int sleep)
    {
        try
        {
            var (start, end) = LockRange(lock_);
            SetLock(req, ino, fi->Fh, fi->LockOwner, NsLockKind.Posix, LockType(lock_->Type), start, end, lock_->Pid, sleep != 0, "setlk");
        }
        catch (Exception e)
        {
            Failed(req, "setlk", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnFlock(nint req, ulong ino, FuseFileInfo* fi, int op)
    {
        try
        {
            var type = (op & LockUnlock) != 0 ? NsLockType.Unlock
                : (op & LockExclusive) != 0 ? NsLockType.Write
                : (op & LockShared) != 0 ? NsLockType.Read
                : (NsLockType?)null;
            if (type is null)
            {
                LibFuse.ReplyErr(req, Errno.EINVAL);
                return;
            }

            int pid = LibFuse.RequestContext(req)->Pid;
            SetLock(req, ino, fi->Fh, fi->LockOwner, NsLockKind.Flock, type.Value, 0, long.MaxValue, pid, (op & LockNonBlocking) == 0, "flock");
        }
        catch (Exception e)
        {
            Failed(req, "flock", e);
        }
    }

    /// <summary>
    /// A lock that may wait (F_SETLKW, flock without LOCK_NB) is interruptible at once: a signal answers EINTR and
    /// stops the wait. A grant that comes after the EINTR is given back, so the caller, told it has no lock, holds what
    /// it held before the call (an upgrade's read lock included).
    /// </summary>
    private static void SetLock(nint req, ulong ino, ulong handle, ulong owner, NsLockKind kind, NsLockType type, long start, long end, int pid, bool wait, string operation)
    {
        if (Current.UnsettledLock(ino, owner, kind) is { } earlier)
        {
            // An interrupted wait of this owner on this file may still be granted and given back: this call goes
            // after it, or the give-back could undo what this call sets (a retry straight after EINTR).
            var mount = Current;
            Interlocked.Increment(ref mount._inFlight);
            _ = SetLockAfterAsync(mount, earlier, req, ino, handle, owner, kind, type, start, end, pid, wait, operation);
            return;
        }

        SetLockNow(req, ino, handle, owner, kind, type, start, end, pid, wait, operation);
    }

    /// <summary>
    /// An interrupted waiting lock of <paramref name="owner"/> on <paramref name="ino"/> that has not settled yet (its
    /// late grant not yet given back); null when there is none, which is nearly always.
    /// </summary>
    private Task? UnsettledLock(ulong ino, ulong owner, NsLockKind kind) =>
        _waitingLocks.TryGetValue((ino, owner, kind), out var waiting) && waiting.Request.WasInterrupted && !waiting.Settled.Task.IsCompleted
            ? waiting.Settled.Task
            : null;

    private void Settle(ulong ino, ulong owner, NsLockKind kind, WaitingLock waiting)
    {
        _waitingLocks.TryRemove(KeyValuePair.Create((ino, owner, kind), waiting));
        waiting.Settled.TrySetResult();
    }

    /// <summary>A waiting lock call in flight; <see cref="Settled"/> completes once its outcome stands (a late grant given back).</summary>
    private sealed class WaitingLock(PendingRequest request)
    {
        public PendingRequest Request => request;

        public TaskCompletionSource Settled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static void SetLockNow(nint req, ulong ino, ulong handle, ulong owner, NsLockKind kind, NsLockType type, long start, long end, int pid, bool wait, string operation)
    {
        if (!wait || type == NsLockType.Unlock)
        {
            CompleteErrno(req, Fs.SetLockAsync(ino, owner, kind, type, start, end, pid, wait: false, handle: handle), operation);
            return;
        }

        var cancellation = new CancellationTokenSource();
        var mount = Current;
        Interlocked.Increment(ref mount._inFlight);
        var request = RegisterInterruptible(req, operation, cancellation);
        var waiting = new WaitingLock(request);
        mount._waitingLocks[(ino, owner, kind)] = waiting;
        _ = WaitForLockAsync(mount, request, Fs.LockAsync(ino, owner, kind, type, start, end, pid, wait: true, interrupt: cancellation.Token), ino, owner, kind, start, end, waiting);
    }

    private readonly struct LockSender : IReply<NsLockHolder>
    {
        public static void Send(nint req, in FsResult<NsLockHolder> result)
        {
            if (!result.IsOk)
            {
                LibFuse.ReplyErr(req, result.Errno);
                return;
            }

            var holder = result.Value;
            var reply = default(Flock);
            reply.Whence = Flock.SeekSet;
            if (holder.Type == NsLockType.Unlock)
            {
                reply.Type = Flock.Unlock;
            }
            else
            {
                reply.Type = holder.Type == NsLockType.Write ? Flock.WriteLock : Flock.ReadLock;
                reply.Start = holder.Start;
                reply.Length = holder.End == long.MaxValue ? 0 : holder.End - holder.Start + 1;
                reply.Pid = holder.Pid;
            }

            LibFuse.ReplyLock(req, &reply);
        }
    }
}
