namespace FastDfs.Mount.Core;

/// <summary>What a node looks like to stat(2). Mode carries the file-type bits (S_IFDIR / S_IFREG).</summary>
public readonly record struct NodeAttributes(
    ulong Ino, uint Mode, uint Nlink, uint Uid, uint Gid, long Size, long TimeSeconds, int TimeNanoseconds)
{
    public const uint S_IFDIR = 0x4000;
    public const uint S_IFREG = 0x8000;

    public bool IsDirectory => (Mode & 0xF000) == S_IFDIR;

    /// <summary>512-byte blocks, as du expects.</summary>
    public long Blocks => (Size + 511) / 512;
}

/// <summary>A successful lookup: the node, its generation and how long the kernel may cache each part.</summary>
public readonly record struct EntryReply(ulong Ino, ulong Generation, NodeAttributes Attributes, double AttrTimeout, double EntryTimeout);

/// <summary>getattr's answer.</summary>
public readonly record struct AttrReply(NodeAttributes Attributes, double Timeout);

/// <summary>open's answer: the handle and whether the kernel may keep cached pages from an earlier open.</summary>
public readonly record struct OpenReply(ulong Handle, bool KeepCache);

/// <summary>One directory entry; the adapter encodes it for its platform.</summary>
public readonly record struct DirEntry(string Name, ulong Ino, bool IsDirectory);

/// <summary>statfs's answer in blocks of <see cref="BlockSize"/> bytes.</summary>
public readonly record struct FsStats(long BlockSize, long TotalBlocks, long FreeBlocks, long AvailableBlocks, long Files, long FreeFiles, int NameMax);
