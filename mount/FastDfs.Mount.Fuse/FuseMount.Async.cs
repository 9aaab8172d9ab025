using FastDfs.Mount.Core;
using FastDfs.Protocol.Messages;

namespace FastDfs.Mount.Fuse;

/// <summary>The asynchronous halves of the callbacks (outside the unsafe part: they await).</summary>
public sealed partial class FuseMount
{
    private static async Task CompleteLaterAsync<T, TSender>(FuseMount mount, PendingRequest request, ValueTask<FsResult<T>> pending)
        where TSender : IReply<T>
    {
        FsResult<T> result;
        try
        {
            result = await pending;
        }
        catch (Exception e)
        {
            FuseLog.CallbackFailed(mount._logger, typeof(T).Name, e);
            result = FsResult<T>.Fail(Errno.EIO);
        }

        try
        {
            if (request.TryAnswer())
            {
                TSender.Send(request.Req, result);
            }
            else
            {
                TSender.Abandon(result);
            }
        }
        finally
        {
            request.Unregister();
            Interlocked.Decrement(ref mount._inFlight);
        }
    }

    private static async Task CompleteErrnoLaterAsync(FuseMount mount, PendingRequest request, ValueTask<int> pending)
    {
        int errno;
        try
        {
            errno = await pending;
        }
        catch (Exception e)
        {
            FuseLog.CallbackFailed(mount._logger, "operation", e);
            errno = Errno.EIO;
        }

        if (request.TryAnswer())
        {
            ReplyErrno(request.Req, errno);
        }

        request.Unregister();
        Interlocked.Decrement(ref mount._inFlight);
    }

    private static async Task ReadLaterAsync(FuseMount mount, PendingRequest request, ValueTask<FsResult<ReadLease>> pending)
    {
        FsResult<ReadLease> result;
        try
        {
            result = await pending;
        }
        catch (Exception e)
        {
            FuseLog.CallbackFailed(mount._logger, "read", e);
            result = FsResult<ReadLease>.Fail(Errno.EIO);
        }

        try
        {
            if (request.TryAnswer())
            {
                ReplyRead(request.Req, result);
            }
            else if (result.IsOk)
            {
                result.Value.Release();
            }
        }
        finally
        {
            request.Unregister();
            Interlocked.Decrement(ref mount._inFlight);
        }
    }

    /// <summary>Pairs a value with the buffer size the caller offered, without an async hop when it is ready.</summary>
    private static ValueTask<FsResult<(byte[], int)>> WithRequested(ValueTask<FsResult<byte[]>> pending, int requested)
    {
        if (pending.IsCompletedSuccessfully)
        {
            var r = pending.Result;
            return ValueTask.FromResult(r.IsOk ? FsResult<(byte[], int)>.Ok((r.Value, requested)) : FsResult<(byte[], int)>.Fail(r.Errno));
        }

        return Later(pending, requested);

        static async ValueTask<FsResult<(byte[], int)>> Later(ValueTask<FsResult<byte[]>> pending, int requested)
        {
            var r = await pending;
            return r.IsOk ? FsResult<(byte[], int)>.Ok((r.Value, requested)) : FsResult<(byte[], int)>.Fail(r.Errno);
        }
    }

    /// <summary>Release always succeeds: a failed unlock is logged by the core, and the lease ends the lock anyway.</summary>
    private static async ValueTask<int> Released(ValueTask<int> unlocked)
    {
        await unlocked;
        return 0;
    }

    /// <summary>The end of a waiting lock (FuseMount.Locks): answered unless an interrupt answered EINTR first.</summary>
    private static async Task WaitForLockAsync(
        FuseMount mount, PendingRequest request, ValueTask<LockGrant> pending, ulong ino, ulong owner, NsLockKind kind, long start, long end, WaitingLock waiting)
    {
        LockGrant grant;
        try
        {
            grant = await pending;
        }
        catch (Exception e)
        {
            FuseLog.CallbackFailed(mount._logger, "lock", e);
            grant = new LockGrant(Errno.EIO, []);
        }

        try
        {
            if (request.TryAnswer())
            {
                ReplyErrno(request.Req, grant.Errno);
            }
            else if (grant.Errno == 0)
            {
                // Answered EINTR meanwhile: the caller must hold what it held before the call, not less (an upgrade's
                // read lock) and not more.
                await mount._fs.GiveBackLockAsync(ino, owner, kind, start, end, grant.Replaced);
            }
        }
        finally
        {
            mount.Settle(ino, owner, kind, waiting);
            request.Unregister();
            Interlocked.Decrement(ref mount._inFlight);
        }
    }

    private static async Task SetLockAfterAsync(
        FuseMount mount, Task earlier, nint req, ulong ino, ulong handle, ulong owner, NsLockKind kind, NsLockType type, long start, long end, int pid, bool wait, string operation)
    {
        try
        {
            await earlier;
            SetLockNow(req, ino, handle, owner, kind, type, start, end, pid, wait, operation);
        }
        catch (Exception e)
        {
            Failed(req, operation, e);
        }
        finally
        {
            Interlocked.Decrement(ref mount._inFlight);
        }
    }

    /// <summary><paramref name="operation"/> once <paramref name="earlier"/> (an interrupted lock call) settled.</summary>
    private static async ValueTask<int> AfterAsync(Task earlier, Func<ValueTask<int>> operation)
    {
        await earlier;
        return await operation();
    }
}
