using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using FastDfs.Mount.Core;

namespace FastDfs.Mount.Fuse;

/// <summary>File data: open, create, read, write, flush and release.</summary>
public sealed unsafe partial class FuseMount
{
    [UnmanagedCallersOnly]
    private static void OnOpen(nint req, ulong ino, FuseFileInfo* fi)
    {
        try
        {
            Complete<OpenReply, OpenSender>(req, Fs.OpenAsync(ino, fi->Flags));
        }
        catch (Exception e)
        {
            Failed(req, "open", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnRead(nint req, ulong ino, nuint size, long offset, FuseFileInfo* fi)
    {
        try
        {
            int length = (int)Math.Min(size, 16u * 1024 * 1024);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
            var pending = Fs.ReadAsync(fi->Fh, offset, buffer.AsMemory(0, length));
            if (pending.IsCompletedSuccessfully)
            {
                ReplyRead(req, buffer, pending.Result);
                return;
            }

            var mount = Current;
            Interlocked.Increment(ref mount._inFlight);
            _ = ReadLaterAsync(mount, req, buffer, pending);
        }
        catch (Exception e)
        {
            Failed(req, "read", e);
        }
    }

    private static void ReplyRead(nint req, byte[] buffer, in FsResult<int> result)
    {
        if (result.IsOk)
        {
            fixed (byte* p = buffer)
            {
                LibFuse.ReplyBuf(req, p, (nuint)result.Value);
            }
        }
        else
        {
            LibFuse.ReplyErr(req, result.Errno);
        }

        ArrayPool<byte>.Shared.Return(buffer);
    }

    [UnmanagedCallersOnly]
    private static void OnRelease(nint req, ulong ino, FuseFileInfo* fi)
    {
        try
        {
            Fs.Release(fi->Fh);
        }
        catch (Exception e)
        {
            FuseLog.CallbackFailed(Current._logger, "release", e);
        }

        LibFuse.ReplyErr(req, 0);
    }
}
