using System.Runtime.InteropServices;

namespace FastDfs.Client;

/// <summary>What kind of file a local download destination is.</summary>
internal static partial class LocalFiles
{
    private const int FileTypeMask = 0xF000; // S_IFMT
    private const int RegularFile = 0x8000;  // S_IFREG

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

        // struct stat: st_mode is a 32-bit field at offset 24 on x86-64 and 16 on arm64; 256 bytes cover both.
        byte[] buffer = new byte[256];
        if (StatNative(path, buffer) != 0)
        {
            return false;
        }

        int offset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 24 : 16;
        int mode = BitConverter.ToInt32(buffer, offset);
        return (mode & FileTypeMask) != RegularFile && !Directory.Exists(path);
    }
}
