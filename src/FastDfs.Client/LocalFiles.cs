using System.Runtime.InteropServices;

namespace FastDfs.Client;

/// <summary>What kind of file a local download destination is.</summary>
internal static partial class LocalFiles
{
    private const int FileTypeMask = 0xF000; // S_IFMT
    private const int RegularFile = 0x8000;  // S_IFREG

    // offsetof(struct stat, st_mode), a 32-bit field; scripts/check-layouts.sh compares these with the headers.
    private const int ModeOffsetX64 = 24;
    private const int ModeOffsetArm64 = 16;

    [DllImport("libc", EntryPoint = "stat", SetLastError = true)]
    private static extern int StatNative([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer);

    /// <summary>
    /// True when <paramref name="path"/> exists and is not a regular file or directory (a device such as
    /// /dev/null, a FIFO, a socket): such a destination must be written in place, because renaming a temp
    /// file over it would replace the device node with a plain file.
    /// </summary>
    public static bool IsSpecial(string path)
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64))
        {
            return false;
        }

        // 256 bytes cover struct stat on both (144 on x86-64, 128 on aarch64).
        byte[] buffer = new byte[256];
        if (StatNative(path, buffer) != 0)
        {
            return false;
        }

        int offset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? ModeOffsetX64 : ModeOffsetArm64;
        int mode = BitConverter.ToInt32(buffer, offset);
        return (mode & FileTypeMask) != RegularFile && !Directory.Exists(path);
    }
}
