namespace FastDfs.Mount.Core;

/// <summary>What a node looks like to stat(2). Mode carries the file-type bits; times are nanoseconds since the epoch.</summary>
public readonly record struct NodeAttributes(
    ulong Ino, uint Mode, uint Nlink, uint Uid, uint Gid, long Size, long AtimeNs, long MtimeNs, long CtimeNs, ulong Rdev = 0)
{
    public const uint S_IFMT = 0xF000;
    public const uint S_IFDIR = 0x4000;
    public const uint S_IFREG = 0x8000;
    public const uint S_IFLNK = 0xA000;
    public const long NanosecondsPerSecond = 1_000_000_000;

    /// <summary>Attributes whose three times are one instant in whole seconds (file-ID files: the create time).</summary>
    public static NodeAttributes AtSeconds(ulong ino, uint mode, uint nlink, uint uid, uint gid, long size, long seconds) =>
        new(ino, mode, nlink, uid, gid, size, seconds * NanosecondsPerSecond, seconds * NanosecondsPerSecond, seconds * NanosecondsPerSecond);

    public bool IsRegular => (Mode & S_IFMT) == S_IFREG;

    public bool IsSymlink => (Mode & S_IFMT) == S_IFLNK;

    public bool IsDirectory => (Mode & S_IFMT) == S_IFDIR;

    /// <summary>512-byte blocks, as du expects.</summary>
    public long Blocks => (Size + 511) / 512;
}

/// <summary>A successful lookup: the node, its generation and how long the kernel may cache each part.</summary>
public readonly record struct EntryReply(ulong Ino, ulong Generation, NodeAttributes Attributes, double AttrTimeout, double EntryTimeout);

/// <summary>getattr's answer.</summary>
public readonly record struct AttrReply(NodeAttributes Attributes, double Timeout);

/// <summary>
/// open's answer: the handle, whether the kernel may keep cached pages from an earlier open, and whether its I/O
/// should bypass the kernel's page cache (<see cref="MountOptions.DirectWrites"/>).
/// </summary>
public readonly record struct OpenReply(ulong Handle, bool KeepCache, bool BypassPageCache = false);

/// <summary>One directory entry; the adapter encodes it for its platform. <see cref="Mode"/> (type bits) is 0 when only <see cref="IsDirectory"/> is known.</summary>
public readonly record struct DirEntry(string Name, ulong Ino, bool IsDirectory, uint Mode = 0)
{
    /// <summary>The type bits readdir reports: <see cref="Mode"/> when known, else directory or regular file.</summary>
    public uint TypeMode => Mode != 0 ? Mode : IsDirectory ? NodeAttributes.S_IFDIR : NodeAttributes.S_IFREG;
}

/// <summary>statfs's answer in blocks of <see cref="BlockSize"/> bytes.</summary>
public readonly record struct FsStats(long BlockSize, long TotalBlocks, long FreeBlocks, long AvailableBlocks, long Files, long FreeFiles, int NameMax);
