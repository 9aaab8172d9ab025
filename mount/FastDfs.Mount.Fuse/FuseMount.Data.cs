using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using FastDfs.Client;
using FastDfs.Mount.Core;
using FastDfs.Protocol.Messages;

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
            // The reply is sent from the read-ahead chunk itself (lent until the reply is written): no copy.
            int length = (int)Math.Min(size, 16u * 1024 * 1024);
            var cancellation = SpareCancellation();
            var pending = Fs.ReadLeaseAsync(fi->Fh, offset, length, cancellation.Token);
            if (pending.IsCompletedSuccessfully)
            {
                KeepSpareCancellation(cancellation);
                ReplyRead(req, pending.Result);
                return;
            }

            // Waiting for the storage: an interrupt answers EINTR and stops the wait (read-ahead fetches go on).
            var mount = Current;
            Interlocked.Increment(ref mount._inFlight);
            _ = ReadLaterAsync(mount, RegisterInterruptible(req, "read", cancellation), pending);
        }
        catch (Exception e)
        {
            Failed(req, "read", e);
        }
    }

    private static void ReplyRead(nint req, in FsResult<ReadLease> result)
    {
        if (!result.IsOk)
        {
            LibFuse.ReplyErr(req, result.Errno);
            return;
        }

        var lease = result.Value;
        try
        {
            // fuse_reply_buf is one writev: the kernel has copied the bytes when it returns.
            fixed (byte* p = lease.Buffer)
            {
                LibFuse.ReplyBuf(req, p + lease.Start, (nuint)lease.Length);
            }
        }
        finally
        {
            lease.Release();
        }
    }

    /// <summary>create: the name (owned by the caller, from fuse_req_ctx) and an open handle, in one reply.</summary>
    [UnmanagedCallersOnly]
    private static void OnCreateFile(nint req, ulong parent, byte* name, uint mode, FuseFileInfo* fi)
    {
        try
        {
            var caller = LibFuse.RequestContext(req);
            var pending = Fs.CreateAsync(parent, NameOf(name), mode, caller->Uid, caller->Gid, fi->Flags);
            if (pending.IsCompletedSuccessfully)
            {
                ReplyCreated(req, pending.Result);
                return;
            }

            var mount = Current;
            Interlocked.Increment(ref mount._inFlight);
            _ = CreateLaterAsync(mount, RegisterInterruptible(req, "create", null), pending);
        }
        catch (Exception e)
        {
            Failed(req, "create", e);
        }
    }

    private static void ReplyCreated(nint req, in FsResult<(EntryReply Entry, OpenReply Open)> result)
    {
        if (!result.IsOk)
        {
            LibFuse.ReplyErr(req, result.Errno);
            return;
        }

        var (reply, open) = result.Value;
        var entry = default(EntryParam);
        Fill(ref entry, reply);
        var fi = FileInfoFor(open);
        if (LibFuse.ReplyCreate(req, &entry, &fi) != 0)
        {
            // Interrupted: neither the lookup nor the handle reached the kernel.
            Fs.Release(open.Handle);
            Fs.Forget(reply.Ino, 1);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnWrite(nint req, ulong ino, byte* data, nuint size, long offset, FuseFileInfo* fi)
    {
        try
        {
            WriteFromReceiveBuffer(req, fi->Fh, offset, new ReadOnlySpan<byte>(data, (int)size));
        }
        catch (Exception e)
        {
            Failed(req, "write", e);
        }
    }

    /// <summary>A write whose bytes lie in libfuse's receive buffer, which the next request reuses.</summary>
    private static void WriteFromReceiveBuffer(nint req, ulong handle, long offset, ReadOnlySpan<byte> data)
    {
        // Large writes at the end or over stored bytes go from the receive buffer onto the file's appender stream.
        if (data.Length >= Fs.Options.StreamedWriteMin && Fs.Options.StreamedWrites)
        {
            bool taken;
            FsResult<int> streamed;
            fixed (byte* bytes = data)
            {
                taken = TrySendStreamed(handle, offset, data.Length, ReceiveBufferBody.ForThread(bytes), out streamed);
            }

            if (taken)
            {
                ReplyWrittenInline(req, streamed);
                return;
            }
        }

        // Most other writes only extend the file's buffered chunk: taken straight from the receive buffer.
        if (Fs.TryWriteInline(handle, offset, data, out var inline))
        {
            ReplyWrittenInline(req, inline);
            return;
        }

        // Otherwise copy it now.
        byte[] buffer = ArrayPool<byte>.Shared.Rent(data.Length);
        data.CopyTo(buffer);
        WriteBuffered(req, handle, offset, buffer, data.Length);
    }

    /// <summary>
    /// A receive thread may send a streamed write itself only while another one stays free: a storage that takes no
    /// bytes holds the sending thread until the timeout, and every other request of the mount needs a thread meanwhile.
    /// Past the limit a write takes the chunk queue, which waits without holding a thread.
    /// </summary>
    private static bool TrySendStreamed(ulong handle, long offset, int length, IRequestBody body, out FsResult<int> result)
    {
        var mount = Current;
        try
        {
            if (Interlocked.Increment(ref mount._streamingThreads) > Math.Max(1, mount._threadCount - 1))
            {
                result = default;
                return false;
            }

            return Fs.TryWriteStreamed(handle, offset, length, body, out result);
        }
        finally
        {
            // Before the caller answers: the writer's next write may reach another receive thread at once.
            Interlocked.Decrement(ref mount._streamingThreads);
        }
    }

    /// <summary>A WRITE's bytes in the receive thread's buffer, sent onto a storage's socket during the callback.</summary>
    private sealed class ReceiveBufferBody : IRequestBody
    {
        [ThreadStatic]
        private static ReceiveBufferBody? t_current;

        private byte* _bytes;

        /// <summary>The receive thread's instance, pointed at this request's bytes.</summary>
        public static ReceiveBufferBody ForThread(byte* bytes)
        {
            var body = t_current ??= new ReceiveBufferBody();
            body._bytes = bytes;
            return body;
        }

        public void WriteTo(Socket socket, int length, TimeSpan timeout) =>
            AppenderStream.SendAll(socket, new ReadOnlySpan<byte>(_bytes, length), timeout);
    }

    /// <summary>A write from a pooled <paramref name="buffer"/> of ours, returned once the write is answered.</summary>
    private static void WriteBuffered(nint req, ulong handle, long offset, byte[] buffer, int length)
    {
        var pending = Fs.WriteAsync(handle, offset, buffer.AsMemory(0, length));
        if (pending.IsCompletedSuccessfully)
        {
            ReplyWritten(req, buffer, pending.Result);
            return;
        }

        var mount = Current;
        Interlocked.Increment(ref mount._inFlight);
        _ = WriteLaterAsync(mount, RegisterInterruptible(req, "write", null), buffer, pending);
    }

    private static void ReplyWritten(nint req, byte[] buffer, in FsResult<int> result)
    {
        ArrayPool<byte>.Shared.Return(buffer);
        ReplyWrittenInline(req, result);
    }

    private static void ReplyWrittenInline(nint req, in FsResult<int> result)
    {
        if (result.IsOk)
        {
            LibFuse.ReplyWrite(req, (nuint)result.Value);
        }
        else
        {
            LibFuse.ReplyErr(req, result.Errno);
        }
    }

    /// <summary>flush (each close of a descriptor): answers once the data is stored and named and the closer's record locks are gone.</summary>
    [UnmanagedCallersOnly]
    private static void OnFlush(nint req, ulong ino, FuseFileInfo* fi)
    {
        try
        {
            // The close drops the owner's record locks: after any late grant of an interrupted F_SETLKW is given back.
            ulong handle = fi->Fh, owner = fi->LockOwner;
            CompleteErrno(req, Current.UnsettledLock(ino, owner, NsLockKind.Posix) is { } earlier
                ? AfterAsync(earlier, () => Fs.FlushAsync(handle, ino, owner))
                : Fs.FlushAsync(handle, ino, owner));
        }
        catch (Exception e)
        {
            Failed(req, "flush", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnFSync(nint req, ulong ino, int dataSync, FuseFileInfo* fi)
    {
        try
        {
            CompleteErrno(req, Fs.FSyncAsync(fi->Fh));
        }
        catch (Exception e)
        {
            Failed(req, "fsync", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnFallocate(nint req, ulong ino, int mode, long offset, long length, FuseFileInfo* fi)
    {
        try
        {
            CompleteErrno(req, Fs.FallocateAsync(fi->Fh, mode, offset, length));
        }
        catch (Exception e)
        {
            Failed(req, "fallocate", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnRelease(nint req, ulong ino, FuseFileInfo* fi)
    {
        try
        {
            Fs.Release(fi->Fh);
            if ((fi->Bits & FuseFileInfo.FlockRelease) != 0)
            {
                // The last close of an open file description that flocked: its lock goes before release is answered.
                ulong owner = fi->LockOwner;
                CompleteErrno(req, Current.UnsettledLock(ino, owner, NsLockKind.Flock) is { } earlier
                    ? AfterAsync(earlier, () => Released(Fs.ReleaseFlockAsync(ino, owner)))
                    : Released(Fs.ReleaseFlockAsync(ino, owner)));
                return;
            }
        }
        catch (Exception e)
        {
            FuseLog.CallbackFailed(Current._logger, "release", e);
        }

        LibFuse.ReplyErr(req, 0);
    }
}
