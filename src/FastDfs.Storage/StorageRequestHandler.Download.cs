using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Win32.SafeHandles;

namespace FastDfs.Storage;

/// <summary>DOWNLOAD_FILE, QUERY_FILE_INFO, DELETE_FILE.</summary>
internal sealed partial class StorageRequestHandler
{
    private const int GroupField = FdfsConstants.GroupNameMaxLength;

    /// <summary>Parses <c>g16 + remote filename</c> at <paramref name="start"/> of the buffer: group and name checks.</summary>
    private bool TryParseFileRequest(StorageConnectionState state, int start, int length, out string remote, out StorePath path, out string local, out string error)
    {
        var body = state.Buffer.AsSpan(start, length - start);
        remote = string.Empty;
        path = null!;
        local = string.Empty;
        if (body.Length <= GroupField)
        {
            error = "request carries no file name";
            return false;
        }

        if (!IsOurGroup(body[..GroupField]))
        {
            error = $"group '{WireText.FromPadded(body[..GroupField])}' is not ours ({_group})";
            return false;
        }

        remote = Encoding.UTF8.GetString(body[GroupField..]);
        return TryLocate(remote, out path, out local, out error);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> DownloadAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        int length = await ReadSmallBodyAsync(connection, header, state, 16 + GroupField + 1, cancellationToken);
        long offset = BinaryPrimitives.ReadInt64BigEndian(state.Buffer);
        long count = BinaryPrimitives.ReadInt64BigEndian(state.Buffer.AsSpan(8));
        if (!TryParseFileRequest(state, 16, length, out string remote, out _, out string local, out string error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        if (offset < 0 || count < 0)
        {
            return await Invalid(connection, header, state, $"offset {offset} / length {count} is negative", cancellationToken);
        }

        Count(StatCounter.TotalDownloadCount);
        Count(StatCounter.TotalFileOpenCount);

        // On a socket event thread only what the kernel has cached is read here; anything else moves to the pool.
        bool onEventThread = EventThread.IsCurrent;
        if (!onEventThread || !DownloadFile.TryOpenCached(local, out var file))
        {
            await EventThread.Leave();
            onEventThread = false;
            file = DownloadFile.Open(local);
        }

        using var opened = file;
        Count(StatCounter.SuccessFileOpenCount);
        long size = file.GetLength();
        if (offset >= size)
        {
            // FastDFS refuses offset >= size, which includes every download of an empty file.
            return await Invalid(connection, header, state, $"offset {offset} is not below the size {size} of {remote}", cancellationToken);
        }

        long toSend = count == 0 ? size - offset : Math.Min(count, size - offset);
        Count(StatCounter.TotalDownloadBytes, toSend);
        var buffer = state.Buffer;
        PacketHeader.Response(toSend).Write(buffer);
        int used = FdfsConstants.HeaderSize;
        long position = offset;
        long left = toSend;
        while (left > 0)
        {
            int want = (int)Math.Min(buffer.Length - used, left);
            Count(StatCounter.TotalFileReadCount);
            int n = onEventThread ? file.ReadCached(buffer.AsSpan(used, want), position) : DownloadFile.WouldBlock;
            if (n == DownloadFile.WouldBlock)
            {
                await EventThread.Leave();
                n = file.Read(buffer.AsSpan(used, want), position);
            }

            if (n <= 0)
            {
                // Truncated under us (appender truncate): the header promised more, so the stream cannot continue.
                throw new IOException($"{remote} shrank while being downloaded");
            }

            Count(StatCounter.SuccessFileReadCount);
            position += n;
            left -= n;
            await connection.SendAsync(buffer.AsMemory(0, used + n), cancellationToken);
            onEventThread = EventThread.IsCurrent; // a send that had to wait continues on the event thread
            used = 0;
        }

        Count(StatCounter.SuccessDownloadCount);
        Count(StatCounter.SuccessDownloadBytes, toSend);
        return true;
    }

    private async ValueTask<bool> QueryFileInfoAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        int length = await ReadSmallBodyAsync(connection, header, state, GroupField + 1, cancellationToken);
        if (!TryParseFileRequest(state, 0, length, out string remote, out _, out string local, out string error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        if (!FileNames.TryDecode(remote, out var info))
        {
            return await Invalid(connection, header, state, $"{remote} is not a FastDFS file name", cancellationToken);
        }

        var file = new FileInfo(local);
        if (!file.Exists)
        {
            return await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, $"{remote} does not exist", cancellationToken);
        }

        long size = file.Length;
        long timestamp;
        uint crc;
        if (info.IsAppender || info.IsSlave)
        {
            // The name does not describe the current content: mtime and (unless flag bit 0) a fresh CRC32.
            timestamp = new DateTimeOffset(file.LastWriteTimeUtc).ToUnixTimeSeconds();
            crc = (header.Status & 1) != 0 ? 0 : ComputeCrc(state, local);
        }
        else
        {
            timestamp = info.Timestamp;
            crc = info.Crc32;
        }

        var buffer = state.Buffer;
        PacketHeader.Response(FileInfoResponse.Size).Write(buffer);
        var w = new WireWriter(buffer.AsSpan(FdfsConstants.HeaderSize, FileInfoResponse.Size));
        w.WriteInt64(size);
        w.WriteInt64(timestamp);
        w.WriteInt64((int)crc); // sign-extended like FastDFS
        w.WriteFixed(SourceIpOf(info), FdfsConstants.IPv4AddressSize);
        await connection.SendAsync(buffer.AsMemory(0, FdfsConstants.HeaderSize + FileInfoResponse.Size), cancellationToken);
        return true;
    }

    /// <summary>CRC32 of a whole file through the connection buffer.</summary>
    private uint ComputeCrc(StorageConnectionState state, string local)
    {
        using var handle = File.OpenHandle(local, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        state.Crc.Reset();
        long position = 0;
        int n;
        while ((n = RandomAccess.Read(handle, state.Buffer, position)) > 0)
        {
            state.Crc.Append(state.Buffer.AsSpan(0, n));
            position += n;
        }

        return state.Crc.GetCurrentHashAsUInt32();
    }

    /// <summary>Deletes a file; false when there is none. On Linux one unlink, instead of a stat and an unlink.</summary>
    private static bool DeleteIfExists(string path)
    {
        int errno = NativeMethods.TryUnlink(path);
        if (errno == 0)
        {
            return true;
        }

        if (errno == NativeMethods.ENOENT)
        {
            return false;
        }

        // Not Linux, or another error: System.IO tries again and raises the matching exception (EACCES, EIO...).
        if (!File.Exists(path))
        {
            return false;
        }

        File.Delete(path);
        return true;
    }

    private async ValueTask<bool> DeleteAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        int length = await ReadSmallBodyAsync(connection, header, state, GroupField + 1, cancellationToken);
        if (!TryParseFileRequest(state, 0, length, out string remote, out _, out string local, out string error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        Count(StatCounter.TotalDeleteCount);
        var fileLock = LockFor(remote);
        await fileLock.WaitAsync(cancellationToken);
        bool deleted;
        try
        {
            deleted = DeleteIfExists(local);
            if (deleted)
            {
                long now = Now();
                await _binlog.AppendAsync(now, BinlogOp.Delete, remote);
                if (DeleteIfExists(local + MetaSuffix))
                {
                    await _binlog.AppendAsync(now, BinlogOp.Delete, remote + MetaSuffix);
                }

                _stats[StatCounter.LastSourceUpdate] = now;
            }
        }
        finally
        {
            fileLock.Release();
        }

        if (!deleted)
        {
            return await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, $"{remote} does not exist", cancellationToken);
        }

        Count(StatCounter.SuccessDeleteCount);
        await SendEmptyOkAsync(connection, state, cancellationToken);
        return true;
    }
}

/// <summary>
/// A file opened for a download. On Linux a raw descriptor: open, lseek(SEEK_END) for the size, pread, close. A
/// <see cref="SafeFileHandle"/> costs two more syscalls per download (File.OpenHandle: fstat at open and again for the
/// length; a handle made from a descriptor: lseek to learn whether it can seek).
/// </summary>
internal readonly struct DownloadFile : IDisposable
{
    private const int ReadOnlyCloseOnExec = 0x80000; // O_RDONLY | O_CLOEXEC (x86-64 and arm64)
    private const int SeekEnd = 2;
    private const int EINTR = 4;
    private const int EPERM = 1;
    private const int EAGAIN = 11;
    private const int EINVAL = 22;
    private const int ENOSYS = 38;
    private const int EOPNOTSUPP = 95;
    private const int AtFdCwd = -100;
    private const long ResolveCached = 0x20;
    private const int ReadNoWait = 0x8; // RWF_NOWAIT

    // openat2 has the same number on x86-64 and arm64 (the unified syscall table).
    private const long OpenAt2SysCall = 437;

    public const int WouldBlock = -1;

    private static bool s_noCachedOpen;
    private static bool s_noCachedRead;

    private readonly int _fd;
    private readonly SafeFileHandle? _handle;

    private DownloadFile(int fd, SafeFileHandle? handle)
    {
        _fd = fd;
        _handle = handle;
    }

    public static DownloadFile Open(string path)
    {
        if (OperatingSystem.IsLinux())
        {
            int fd = OpenNative(path, ReadOnlyCloseOnExec);
            if (fd >= 0)
            {
                return new DownloadFile(fd, null);
            }

            if (Marshal.GetLastPInvokeError() == NativeMethods.ENOENT)
            {
                throw new FileNotFoundException($"{path} does not exist", path);
            }
        }

        // Elsewhere, or another error: System.IO opens again and raises the matching exception (EACCES, ENOTDIR...).
        return new DownloadFile(-1, File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
    }

    /// <summary>
    /// Opens only if every path component is in the kernel's dentry cache (openat2 with RESOLVE_CACHED, Linux
    /// 5.12+), so the call cannot wait for the disk; false when it would have to. Where openat2 is missing this
    /// is a plain open.
    /// </summary>
    public static bool TryOpenCached(string path, out DownloadFile file)
    {
        if (OperatingSystem.IsLinux() && !s_noCachedOpen)
        {
            var how = new OpenHow { Flags = ReadOnlyCloseOnExec, Resolve = ResolveCached };
            int fd = (int)SysCallOpenAt2(OpenAt2SysCall, AtFdCwd, path, ref how, Marshal.SizeOf<OpenHow>());
            if (fd >= 0)
            {
                file = new DownloadFile(fd, null);
                return true;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == EAGAIN)
            {
                file = default;
                return false;
            }

            if (errno is ENOSYS or EINVAL or EPERM)
            {
                // An older kernel, or a seccomp filter that refuses openat2: plain opens from now on.
                s_noCachedOpen = true;
            }
        }

        file = Open(path);
        return true;
    }

    /// <summary>
    /// pread that takes only what the page cache holds (preadv2 with RWF_NOWAIT): the bytes read, 0 at the end of
    /// the file, or <see cref="WouldBlock"/> when the data has to come from the disk or the kernel cannot tell.
    /// </summary>
    public int ReadCached(Span<byte> destination, long offset)
    {
        if (_handle is not null || s_noCachedRead)
        {
            return WouldBlock;
        }

        while (true)
        {
            nint n;
            unsafe
            {
                fixed (byte* start = destination)
                {
                    var vector = new IoVector { Base = (nint)start, Length = destination.Length };
                    n = PReadV2Native(_fd, ref vector, 1, offset, ReadNoWait);
                }
            }

            if (n >= 0)
            {
                return (int)n;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == EINTR)
            {
                continue;
            }

            if (errno is EOPNOTSUPP or ENOSYS or EINVAL)
            {
                s_noCachedRead = true;
            }

            return WouldBlock; // EAGAIN, or an error the blocking read will raise properly
        }
    }

    public long GetLength()
    {
        if (_handle is not null)
        {
            return RandomAccess.GetLength(_handle);
        }

        long size = SeekNative(_fd, 0, SeekEnd);
        return size >= 0 ? size : throw new IOException($"lseek failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>pread(2): bytes read, 0 at the end of the file.</summary>
    public int Read(Span<byte> destination, long offset)
    {
        if (_handle is not null)
        {
            return RandomAccess.Read(_handle, destination, offset);
        }

        while (true)
        {
            nint n = PReadNative(_fd, ref MemoryMarshal.GetReference(destination), destination.Length, offset);
            if (n >= 0)
            {
                return (int)n;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR)
            {
                throw new IOException($"pread failed: errno {errno}");
            }
        }
    }

    public void Dispose()
    {
        if (_handle is not null)
        {
            _handle.Dispose();
        }
        else if (_fd >= 0)
        {
            _ = CloseNative(_fd);
        }
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int OpenNative([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "lseek", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern long SeekNative(int fd, long offset, int whence);

    [DllImport("libc", EntryPoint = "pread", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint PReadNative(int fd, ref byte buffer, nint count, long offset);

    /// <summary>struct open_how of openat2(2).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public long Flags;
        public long Mode;
        public long Resolve;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public nint Base;
        public nint Length;
    }

    // glibc has no openat2 wrapper; syscall(2) passes the arguments through in registers on x86-64 and arm64.
    [DllImport("libc", EntryPoint = "syscall", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern long SysCallOpenAt2(long number, int directoryFd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, ref OpenHow how, nint size);

    [DllImport("libc", EntryPoint = "preadv2", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint PReadV2Native(int fd, ref IoVector vector, int count, long offset, int flags);

    [DllImport("libc", EntryPoint = "close")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int CloseNative(int fd);
}
