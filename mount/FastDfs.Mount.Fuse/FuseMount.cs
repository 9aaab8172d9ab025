using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using FastDfs.Mount.Core;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace FastDfs.Mount.Fuse;

/// <summary>
/// A FUSE mount of a <see cref="FileSystem"/> through libfuse3's low-level API. Dedicated receive threads (not
/// libfuse's) read requests and let libfuse dispatch them to our callbacks on the same thread; an answer that is
/// ready at once (cache hit) is sent inline, anything that needs the cluster replies later from whichever thread
/// finishes it, so concurrency is not capped by threads (fuse-binding notes 0 and 2.4). One mount per process.
/// </summary>
public sealed unsafe partial class FuseMount : IDisposable
{
    [NativeConstant("EINTR")]
    private const int EINTR = 4;

    private static FuseMount? s_current;

    private readonly FileSystem _fs;
    private readonly ILogger _logger;
    private readonly string[] _fuseOptions;
    private readonly int _threadCount;
    private readonly List<Thread> _threads = [];
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private nint _session;
    private nint _ops;
    private int _running;
    private int _inFlight;

    // Receive threads sending a streamed or spliced write themselves (FuseMount.Data: TrySendStreamed).
    private int _streamingThreads;

    // Waiting lock calls by (inode, lock owner, kind), so a call after an interrupted one waits until it settled.
    private readonly ConcurrentDictionary<(ulong Ino, ulong Owner, NsLockKind Kind), WaitingLock> _waitingLocks = new();
    private int _unmountRequested;
    private int _disposed;

    /// <param name="fuseOptions">Mount options for libfuse (allow_other, default_permissions, auto_unmount, ro, ...).</param>
    public FuseMount(FileSystem fs, string mountPoint, IEnumerable<string> fuseOptions, int receiveThreads, ILogger logger)
    {
        _fs = fs;
        MountPoint = Path.GetFullPath(mountPoint);
        _fuseOptions = [.. fuseOptions];
        _threadCount = Math.Clamp(receiveThreads, 1, 16);
        _logger = logger;
    }

    public string MountPoint { get; }

    /// <summary>Completes when every receive thread has stopped (the file system was unmounted).</summary>
    public Task Ended => _ended.Task;

    /// <summary>Requests waiting for an asynchronous reply (diagnostics).</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Kernel read-ahead to ask for after mounting (KiB; 0 keeps the kernel's 128). Needs root.</summary>
    public int ReadAheadKilobytes { get; init; } = 1024;

    /// <summary>
    /// How long an interrupted request that cannot be stopped (anything but a read) may still send its real answer
    /// before it is answered EINTR (FuseMount.Interrupts).
    /// </summary>
    public TimeSpan InterruptGrace { get; init; } = DefaultInterruptGrace;

    public static readonly TimeSpan DefaultInterruptGrace = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The C layouts the binding declares, one fact per line, for scripts/check-layouts.sh (<c>fdfs-mount --print-layouts</c>).
    /// </summary>
    public static IEnumerable<string> DescribeNativeLayouts() => NativeLayout.Describe();

    /// <summary>Creates the session, mounts, and starts the receive threads.</summary>
    public void Start()
    {
        if (Interlocked.CompareExchange(ref s_current, this, null) is not null)
        {
            throw new InvalidOperationException("one FUSE mount per process");
        }

        try
        {
            NativeLayout.EnsureSupported();
            LibFuse.Load();
            _ops = BuildOps(_fs.Options.SplicedWrites);
            var args = default(FuseArgs);
            AddArg(&args, "fdfs-mount");
            string options = string.Join(',', new[] { "fsname=fastdfs", "subtype=fastdfs" }.Concat(_fuseOptions));
            AddArg(&args, "-o");
            AddArg(&args, options);
            try
            {
                _session = LibFuse.SessionNew(&args, _ops, (nuint)((int)OpSlot.Count * sizeof(nint)), 0);
            }
            finally
            {
                LibFuse.OptFreeArgs(&args);
            }

            if (_session == 0)
            {
                throw new IOException($"libfuse refused the options '{options}' (see its message above)");
            }

            byte[] path = Encoding.UTF8.GetBytes(MountPoint + "\0");
            fixed (byte* p = path)
            {
                if (LibFuse.SessionMount(_session, p) != 0)
                {
                    LibFuse.SessionDestroy(_session);
                    _session = 0;
                    throw new IOException($"cannot mount {MountPoint} (see libfuse's message above)");
                }
            }

            CloseOnExec();
            Volatile.Write(ref _running, _threadCount);
            for (int i = 0; i < _threadCount; i++)
            {
                var thread = new Thread(ReceiveLoop) { IsBackground = true, Name = $"fuse-receive-{i}" };
                _threads.Add(thread);
                thread.Start();
            }

            FuseLog.Mounted(_logger, MountPoint, LibFuse.Version(), _threadCount, options);
            if (ReadAheadKilobytes > 0)
            {
                RaiseReadAhead();
            }
        }
        catch
        {
            if (_ops != 0)
            {
                NativeMemory.Free((void*)_ops);
                _ops = 0;
            }

            Interlocked.CompareExchange(ref s_current, null, this);
            throw;
        }
    }

    /// <summary>
    /// Unmounts from outside the session (signal handler, Ctrl-C): a lazy unmount aborts the kernel connection, the
    /// blocked receive threads get ENODEV and end. Same path as an external <c>fusermount3 -u</c>.
    /// </summary>
    public void RequestUnmount()
    {
        if (Interlocked.Exchange(ref _unmountRequested, 1) != 0 || _session == 0 || Ended.IsCompleted)
        {
            return;
        }

        FuseLog.Unmounting(_logger, MountPoint);
        if (Native.GetEuid() == 0 && Native.Umount2(MountPoint, Native.MntDetach) == 0)
        {
            return;
        }

        try
        {
            using var process = Process.Start(new ProcessStartInfo("fusermount3", ["-u", "-z", MountPoint]) { UseShellExecute = false });
            process?.WaitForExit(10_000);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            FuseLog.UnmountFailed(_logger, MountPoint, e.Message);
        }
    }

    /// <summary>Waits for unanswered requests (bounded), then unmounts (if still mounted) and destroys the session.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_session != 0)
        {
            if (!Ended.IsCompleted)
            {
                RequestUnmount();
                Ended.Wait(TimeSpan.FromSeconds(30));
            }

            // A reply after destroy would touch freed memory; replies to a dead connection are harmless.
            var deadline = Stopwatch.StartNew();
            var limit = _fs.Options.OperationTimeout + TimeSpan.FromSeconds(5);
            while (Volatile.Read(ref _inFlight) > 0 && deadline.Elapsed < limit)
            {
                Thread.Sleep(10);
            }

            if (Volatile.Read(ref _inFlight) > 0)
            {
                FuseLog.InFlightAtShutdown(_logger, Volatile.Read(ref _inFlight));
            }

            LibFuse.SessionUnmount(_session);
            LibFuse.SessionDestroy(_session);
            _session = 0;
            FuseLog.Unmounted(_logger, MountPoint);
        }

        if (_ops != 0)
        {
            NativeMemory.Free((void*)_ops);
            _ops = 0;
        }

        Interlocked.CompareExchange(ref s_current, null, this);
    }

    private void ReceiveLoop()
    {
        var buffer = default(FuseBuf);
        try
        {
            while (true)
            {
                // A request that came through the pipe leaves fd and flags set; older libfuse also dropped mem then.
                nint memory = buffer.Mem;
                buffer.Flags = 0;
                int received = LibFuse.SessionReceiveBuf(_session, &buffer);
                if (buffer.Mem == 0)
                {
                    buffer.Mem = memory;
                }

                if (received == -EINTR)
                {
                    continue;
                }

                if (received <= 0)
                {
                    // 0: the kernel connection is gone (unmounted); libfuse has marked the session exited.
                    if (received < 0)
                    {
                        FuseLog.ReceiveFailed(_logger, -received);
                    }

                    LibFuse.SessionExit(_session);
                    break;
                }

                LibFuse.SessionProcessBuf(_session, &buffer);
            }
        }
        finally
        {
            NativeMemory.Free((void*)buffer.Mem);
            if (Interlocked.Decrement(ref _running) == 0)
            {
                _ended.TrySetResult();
            }
        }
    }

    private static void AddArg(FuseArgs* args, string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value + "\0");
        fixed (byte* p = bytes)
        {
            if (LibFuse.OptAddArg(args, p) != 0)
            {
                throw new OutOfMemoryException("fuse_opt_add_arg failed");
            }
        }
    }

    /// <summary>Asks the kernel for larger read-ahead (1 MiB reads instead of 128 KiB); best effort, root only.</summary>
    private void RaiseReadAhead()
    {
        string mountPoint = MountPoint;
        int kilobytes = ReadAheadKilobytes;
        var logger = _logger;
        _ = Task.Run(() =>
        {
            try
            {
                foreach (string line in File.ReadLines("/proc/self/mountinfo"))
                {
                    string[] fields = line.Split(' ');
                    if (fields.Length > 4 && fields[4] == mountPoint)
                    {
                        string path = $"/sys/class/bdi/{fields[2]}/read_ahead_kb";
                        File.WriteAllText(path, kilobytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
                        FuseLog.ReadAheadSet(logger, mountPoint, kilobytes, path);
                        return;
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Not root, or no sysfs: the kernel's default read-ahead stays.
            }
        });
    }

    /// <summary>
    /// libfuse opens /dev/fuse and, with auto_unmount, the socket to its fusermount3 watchdog without FD_CLOEXEC. A
    /// child process would inherit them, and the watchdog unmounts only once every copy of that socket is closed.
    /// The socket is also moved above /dev/fuse: a killed process closes its descriptors in ascending order, and the
    /// watchdog, woken by the socket's close, unmounts only if opening the mount point fails with ENOTCONN. With the
    /// socket first, its check could run before /dev/fuse was closed, get ECONNABORTED instead, and leave a dead
    /// mount point behind ("Transport endpoint is not connected").
    /// </summary>
    private void CloseOnExec()
    {
        try
        {
            var inherited = new List<(int Fd, string? Target)>();
            foreach (string entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
            {
                if (int.TryParse(Path.GetFileName(entry), out int fd) && fd > 2)
                {
                    int flags = Native.Fcntl(fd, Native.FGetFd, 0);
                    if (flags >= 0 && (flags & Native.FdCloExec) == 0)
                    {
                        _ = Native.Fcntl(fd, Native.FSetFd, flags | Native.FdCloExec);
                        inherited.Add((fd, new FileInfo(entry).LinkTarget));
                    }
                }
            }

            // Only descriptors .NET did not open (it sets FD_CLOEXEC on its own) are candidates: libfuse's.
            int device = inherited.Where(f => f.Target == "/dev/fuse").Select(f => f.Fd).DefaultIfEmpty(-1).Max();
            foreach (var (fd, target) in inherited)
            {
                if (device > fd && target is not null && target.StartsWith("socket:", StringComparison.Ordinal))
                {
                    int moved = Native.Fcntl(fd, Native.FDupFdCloExec, device + 1);
                    if (moved > device)
                    {
                        _ = Native.Close(fd);
                    }
                }
            }
        }
        catch (IOException e)
        {
            FuseLog.CallbackFailed(_logger, "close-on-exec", e);
        }
    }

    private static partial class Native
    {
        [NativeConstant("MNT_DETACH")]
        public const int MntDetach = 2;
        [NativeConstant("F_GETFD")]
        public const int FGetFd = 1;
        [NativeConstant("F_SETFD")]
        public const int FSetFd = 2;
        [NativeConstant("FD_CLOEXEC")]
        public const int FdCloExec = 1;
        [NativeConstant("F_DUPFD_CLOEXEC")]
        public const int FDupFdCloExec = 1030;

        [LibraryImport("libc", EntryPoint = "close")]
        public static partial int Close(int fd);

        [LibraryImport("libc", EntryPoint = "fcntl")]
        public static partial int Fcntl(int fd, int command, int argument);

        [LibraryImport("libc", EntryPoint = "geteuid")]
        public static partial uint GetEuid();

        [LibraryImport("libc", EntryPoint = "umount2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int Umount2(string target, int flags);

        // SPLICE_F_MOVE (fcntl.h, Linux): move pages rather than copy where the kernel can.
        public const uint SpliceMove = 1;

        [LibraryImport("libc", EntryPoint = "splice", SetLastError = true)]
        public static partial nint Splice(int fdIn, long* offIn, int fdOut, long* offOut, nuint length, uint flags);

        [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
        public static partial nint Read(int fd, byte* buffer, nuint count);
    }
}
