using System.Runtime.InteropServices;

namespace FastDfs.Storage;

/// <summary>libc calls the upload hot path makes directly (Linux only; callers fall back to System.IO elsewhere).</summary>
internal static class NativeMethods
{
    /// <summary>
    /// rename(2). <see cref="File.Move(string, string, bool)"/> stats both paths three times before it renames,
    /// which costs more than the rename itself on every upload.
    /// </summary>
    [DllImport("libc", EntryPoint = "rename")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int RenameNative([MarshalAs(UnmanagedType.LPUTF8Str)] string oldPath, [MarshalAs(UnmanagedType.LPUTF8Str)] string newPath);

    /// <summary>unlink(2); the FastDFS delete path would otherwise stat the file first to tell ENOENT apart.</summary>
    [DllImport("libc", EntryPoint = "unlink", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int UnlinkNative([MarshalAs(UnmanagedType.LPUTF8Str)] string path);

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    internal static extern int OpenNative([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mode);

    [DllImport("libc", EntryPoint = "linkat", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int LinkAtNative(int oldDirFd, [MarshalAs(UnmanagedType.LPUTF8Str)] string oldPath, int newDirFd, [MarshalAs(UnmanagedType.LPUTF8Str)] string newPath, int flags);

    [DllImport("libc", EntryPoint = "futimens", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int FutimensNative(int fd, ref TimeSpecPair times);

    /// <summary>struct timespec[2] { atime, mtime } with 64-bit tv_sec / tv_nsec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpecPair
    {
        public long AccessSeconds;
        public long AccessNanoseconds;
        public long ModifySeconds;
        public long ModifyNanoseconds;
    }

    private const long UtimeOmit = (1L << 30) - 2;

    public const int ENOENT = 2;
    public const int EEXIST = 17;
    public const int ENOSPC = 28;

    // x86_64 / aarch64 Linux values, compared with the headers by scripts/check-layouts.sh. O_TMPFILE is
    // __O_TMPFILE | O_DIRECTORY, and O_DIRECTORY differs: 0x10000 on x86-64, 0x4000 on aarch64.
    private const int OWriteOnly = 0x1;
    private const int OCloseOnExec = 0x80000;
    private const int OTmpFileX64 = 0x410000;
    private const int OTmpFileArm64 = 0x404000;
    private static readonly int OTmpFile =
        System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? OTmpFileArm64 : OTmpFileX64;
    private const int AtFdCwd = -100;
    private const int AtSymlinkFollow = 0x400;

    /// <summary>
    /// open(dir, O_TMPFILE): a file with no name. Until <see cref="TryLinkTempFile"/> names it, no reader can
    /// see it, and if the process dies the kernel frees it: an interrupted upload leaves nothing to clean.
    /// It also leaves the directory untouched until the final link, so concurrent uploads do not contend on
    /// it. Null when the platform or file system has no O_TMPFILE or the directory is missing (callers fall
    /// back to a named temp file).
    /// </summary>
    public static Microsoft.Win32.SafeHandles.SafeFileHandle? TryOpenTempFile(string directory)
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64))
        {
            return null;
        }

        int fd = OpenNative(directory, OTmpFile | OWriteOnly | OCloseOnExec, Convert.ToInt32("644", 8));
        return fd < 0 ? null : new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Gives an O_TMPFILE file its name: 0 on success, else the errno (EEXIST when the name is taken).</summary>
    public static int TryLinkTempFile(Microsoft.Win32.SafeHandles.SafeFileHandle handle, string destination)
    {
        string self = "/proc/self/fd/" + handle.DangerousGetHandle().ToInt32().ToString(System.Globalization.CultureInfo.InvariantCulture);
        return LinkAtNative(AtFdCwd, self, AtFdCwd, destination, AtSymlinkFollow) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>
    /// Sets only the mtime (atime left alone, UTIME_OMIT) with one futimens(2); <see cref="File.SetLastWriteTimeUtc(SafeFileHandle, DateTime)"/>
    /// reads the times first to keep the atime. Replicas take the source's timestamp this way on every synced file.
    /// </summary>
    public static void SetModificationTime(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long unixSeconds)
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64))
        {
            File.SetLastWriteTimeUtc(handle, DateTimeOffset.FromUnixTimeSeconds(unixSeconds).UtcDateTime);
            return;
        }

        var times = new TimeSpecPair { AccessNanoseconds = UtimeOmit, ModifySeconds = unixSeconds };
        if (FutimensNative(handle.DangerousGetHandle().ToInt32(), ref times) != 0)
        {
            throw new IOException($"futimens failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [DllImport("libc", EntryPoint = "lseek", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern long SeekNative(Microsoft.Win32.SafeHandles.SafeFileHandle fd, long offset, int whence);

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int StatxNative(Microsoft.Win32.SafeHandles.SafeFileHandle directoryFd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);

    private const int SeekData = 3;
    private const int SeekHole = 4;
    private const int ENXIO = 6;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;

    // struct statx is the same on every architecture: offsets checked by scripts/check-layouts.sh.
    private const int StatxSize = 256;
    private const int StatxInoOffset = 32;
    private const int StatxSizeOffset = 40;
    private const int StatxCtimeOffset = 96;
    private const int StatxMtimeOffset = 112;

    /// <summary>
    /// lseek(SEEK_DATA / SEEK_HOLE) from <paramref name="offset"/>: the start of the next data (or hole) there; -1 when
    /// there is no data at or past it (ENXIO: the rest is a hole); null when unsupported (not Linux, or the file system
    /// refuses), and the caller reads everything as data.
    /// </summary>
    public static long? SeekDataOrHole(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, bool hole)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        // The marshaller holds a reference on the handle for the call.
        long at = SeekNative(handle, offset, hole ? SeekHole : SeekData);
        return at >= 0 ? at : Marshal.GetLastPInvokeError() == ENXIO ? -1 : null;
    }

    /// <summary>What identifies one state of a file's content: inode, size, change and modification times (ns).</summary>
    public readonly record struct FileVersion(ulong Inode, long Size, long ChangeTimeNs, long ModifyTimeNs);

    /// <summary>statx of an open file; null when not Linux or the call fails.</summary>
    public static FileVersion? TryGetVersion(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var buffer = new byte[StatxSize];
        if (StatxNative(handle, string.Empty, AtEmptyPath, StatxBasicStats, buffer) != 0)
        {
            return null;
        }

        static long Nanoseconds(byte[] b, int at) => (BitConverter.ToInt64(b, at) * 1_000_000_000L) + BitConverter.ToUInt32(b, at + 8);
        return new FileVersion(
            BitConverter.ToUInt64(buffer, StatxInoOffset),
            BitConverter.ToInt64(buffer, StatxSizeOffset),
            Nanoseconds(buffer, StatxCtimeOffset),
            Nanoseconds(buffer, StatxMtimeOffset));
    }

    [DllImport("libc", EntryPoint = "signal")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint SignalNative(int signal, nint handler);

    /// <summary>
    /// Ignores SIGXFSZ (25 on x86-64 and aarch64), whose default action ends the process, and which .NET leaves alone:
    /// a write or ftruncate past RLIMIT_FSIZE (ulimit -f, systemd's LimitFSIZE) then fails with EFBIG, which the
    /// storage answers as it does for its file system's own limit.
    /// </summary>
    public static void IgnoreFileSizeSignal()
    {
        if (OperatingSystem.IsLinux())
        {
            _ = SignalNative(25, 1); // SIG_IGN
        }
    }

    /// <summary>Deletes with one syscall on Linux: 0 when done, else the errno; -1 when not on Linux.</summary>
    public static int TryUnlink(string path) =>
        !OperatingSystem.IsLinux() ? -1 : UnlinkNative(path) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>Renames with one syscall on Linux; false when it did not happen (any error, or not Linux).</summary>
    public static bool TryRename(string oldPath, string newPath) =>
        OperatingSystem.IsLinux() && RenameNative(oldPath, newPath) == 0;
}
