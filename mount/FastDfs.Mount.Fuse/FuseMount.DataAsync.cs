using System.Buffers;
using FastDfs.Mount.Core;

namespace FastDfs.Mount.Fuse;

/// <summary>The asynchronous halves of the data callbacks (outside the unsafe part: they await).</summary>
public sealed partial class FuseMount
{
    private static async Task CreateLaterAsync(FuseMount mount, PendingRequest request, ValueTask<FsResult<(EntryReply Entry, OpenReply Open)>> pending)
    {
        FsResult<(EntryReply, OpenReply)> result;
        try
        {
            result = await pending;
        }
        catch (Exception e)
        {
            FuseLog.CallbackFailed(mount._logger, "create", e);
            result = FsResult<(EntryReply, OpenReply)>.Fail(Errno.EIO);
        }

        if (request.TryAnswer())
        {
            ReplyCreated(request.Req, result);
        }
        else if (result.IsOk)
        {
            // Answered EINTR meanwhile: neither the lookup nor the handle reached the kernel.
            var (entry, open) = result.Value;
            Fs.Release(open.Handle);
            Fs.Forget(entry.Ino, 1);
        }

        request.Unregister();
        Interlocked.Decrement(ref mount._inFlight);
    }

    private static async Task WriteLaterAsync(FuseMount mount, PendingRequest request, byte[] buffer, ValueTask<FsResult<int>> pending)
    {
        FsResult<int> result;
        try
        {
            result = await pending;
        }
        catch (Exception e)
        {
            FuseLog.CallbackFailed(mount._logger, "write", e);
            result = FsResult<int>.Fail(Errno.EIO);
        }

        if (request.TryAnswer())
        {
            ReplyWritten(request.Req, buffer, result);
        }
        else
        {
            ArrayPool<byte>.Shared.Return(buffer); // answered EINTR meanwhile; the write itself went through
        }

        request.Unregister();
        Interlocked.Decrement(ref mount._inFlight);
    }
}
