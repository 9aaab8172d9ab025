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

    public const int ENOENT = 2;

    /// <summary>Deletes with one syscall on Linux: 0 when done, else the errno; -1 when not on Linux.</summary>
    public static int TryUnlink(string path) =>
        !OperatingSystem.IsLinux() ? -1 : UnlinkNative(path) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>Renames with one syscall on Linux; false when it did not happen (any error, or not Linux).</summary>
    public static bool TryRename(string oldPath, string newPath) =>
        OperatingSystem.IsLinux() && RenameNative(oldPath, newPath) == 0;
}
