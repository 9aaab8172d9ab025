using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using FastDfs.Client;
using FastDfs.Mount.Core;

namespace FastDfs.Mount.Fuse;

/// <summary>
/// Spliced writes (<c>splice_writes</c>): libfuse moves each large WRITE request from /dev/fuse into a pipe (the
/// kernel references page-cache pages there instead of copying them), and a write that extends a file is spliced from
/// that pipe onto the storage's socket. The mount never copies those bytes; the storage's receive is the first copy.
/// </summary>
public sealed unsafe partial class FuseMount
{
    [UnmanagedCallersOnly]
    private static void OnWriteBuf(nint req, ulong ino, FuseBufvec* bufv, long offset, FuseFileInfo* fi)
    {
        try
        {
            ref var buffer = ref bufv->Buffer;
            int length = (int)(buffer.Size - bufv->Offset);
            if ((buffer.Flags & FuseBuf.IsFd) == 0)
            {
                // Small requests come in memory, as for write.
                WriteFromReceiveBuffer(req, fi->Fh, offset, new ReadOnlySpan<byte>((byte*)buffer.Mem + bufv->Offset, length));
                return;
            }

            var body = PipeBody.ForThread(buffer.Fd);
            if (TrySendStreamed(fi->Fh, offset, length, body, out var spliced))
            {
                if (body.Consumed == length)
                {
                    Consumed(bufv); // otherwise libfuse empties the pipe (it recreates it) before the next request
                }

                ReplyWrittenInline(req, spliced);
                return;
            }

            // Not a stream append: the bytes into memory, then the ordinary path.
            byte[] bytes = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                PipeBody.ReadExactly(buffer.Fd, bytes.AsSpan(0, length));
            }
            catch
            {
                ArrayPool<byte>.Shared.Return(bytes);
                throw;
            }

            Consumed(bufv);
            if (Fs.TryWriteInline(fi->Fh, offset, bytes.AsSpan(0, length), out var small))
            {
                ArrayPool<byte>.Shared.Return(bytes);
                ReplyWrittenInline(req, small);
                return;
            }

            WriteBuffered(req, fi->Fh, offset, bytes, length);
        }
        catch (Exception e)
        {
            Failed(req, "write", e);
        }
    }

    private static void Consumed(FuseBufvec* bufv)
    {
        bufv->Index = bufv->Count;
        bufv->Offset = 0;
    }

    /// <summary>A WRITE's bytes waiting in libfuse's per-thread pipe, spliced onto a socket.</summary>
    private sealed class PipeBody : IRequestBody
    {
        [ThreadStatic]
        private static PipeBody? t_current;

        private int _pipe;

        /// <summary>Bytes moved out of the pipe so far.</summary>
        public int Consumed { get; private set; }

        /// <summary>The receive thread's instance (the pipe is per thread too), reset for one request.</summary>
        public static PipeBody ForThread(int pipe)
        {
            var body = t_current ??= new PipeBody();
            body._pipe = pipe;
            body.Consumed = 0;
            return body;
        }

        public void WriteTo(Socket socket, int length, TimeSpan timeout)
        {
            bool added = false;
            var handle = socket.SafeHandle;
            try
            {
                handle.DangerousAddRef(ref added);
                int fd = (int)handle.DangerousGetHandle();
                while (length > 0)
                {
                    nint n = Native.Splice(_pipe, null, fd, null, (nuint)length, Native.SpliceMove);
                    if (n > 0)
                    {
                        length -= (int)n;
                        Consumed += (int)n;
                        continue;
                    }

                    if (n == 0)
                    {
                        throw new IOException("the request's pipe ended early");
                    }

                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Errno.EINTR)
                    {
                        continue;
                    }

                    // The socket is non-blocking: wait for the storage to take bytes.
                    if (errno != Errno.EAGAIN)
                    {
                        throw new IOException($"splice to the storage failed: errno {errno}");
                    }

                    AppenderStream.WaitForRoom(socket, timeout);
                }
            }
            finally
            {
                if (added)
                {
                    handle.DangerousRelease();
                }
            }
        }

        /// <summary>Reads the whole request body out of the pipe (it is all there: the kernel wrote it before libfuse called us).</summary>
        public static void ReadExactly(int pipe, Span<byte> destination)
        {
            fixed (byte* start = destination)
            {
                int done = 0;
                while (done < destination.Length)
                {
                    nint n = Native.Read(pipe, start + done, (nuint)(destination.Length - done));
                    if (n > 0)
                    {
                        done += (int)n;
                    }
                    else if (n == 0 || Marshal.GetLastPInvokeError() != Errno.EINTR)
                    {
                        throw new IOException($"reading a write request from its pipe failed after {done} of {destination.Length} bytes");
                    }
                }
            }
        }
    }
}
