using FastDfs.Mount.Core;

namespace FastDfs.Mount.Fuse;

/// <summary>The asynchronous halves of the data callbacks (outside the unsafe part: they await).</summary>
public sealed partial class FuseMount
{
    private static async Task CreateLaterAsync(FuseMount mount, nint req, ValueTask<FsResult<(EntryReply Entry, OpenReply Open)>> pending)
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

        ReplyCreated(req, result);
        Interlocked.Decrement(ref mount._inFlight);
    }

    private static async Task WriteLaterAsync(FuseMount mount, nint req, byte[] buffer, ValueTask<FsResult<int>> pending)
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

        ReplyWritten(req, buffer, result);
        Interlocked.Decrement(ref mount._inFlight);
    }
}
