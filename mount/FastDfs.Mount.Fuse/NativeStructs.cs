using System.Runtime.InteropServices;

namespace FastDfs.Mount.Fuse;

// x86-64 glibc / libfuse 3.14 layouts (fuse-binding notes 2.5); tests assert the sizes and offsets.

[StructLayout(LayoutKind.Sequential)]
internal struct Timespec
{
    public long Seconds;
    public long Nanoseconds;

    public static Timespec FromNanoseconds(long ns) =>
        new() { Seconds = Math.DivRem(ns, 1_000_000_000, out long rest) - (rest < 0 ? 1 : 0), Nanoseconds = rest < 0 ? rest + 1_000_000_000 : rest };

    public readonly long ToNanoseconds() => (Seconds * 1_000_000_000) + Nanoseconds;
}

/// <summary>struct stat, 144 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 144)]
internal struct Stat
{
    [FieldOffset(0)] public ulong Dev;
    [FieldOffset(8)] public ulong Ino;
    [FieldOffset(16)] public ulong Nlink;
    [FieldOffset(24)] public uint Mode;
    [FieldOffset(28)] public uint Uid;
    [FieldOffset(32)] public uint Gid;
    [FieldOffset(40)] public ulong Rdev;
    [FieldOffset(48)] public long Size;
    [FieldOffset(56)] public long BlockSize;
    [FieldOffset(64)] public long Blocks;
    [FieldOffset(72)] public Timespec Atime;
    [FieldOffset(88)] public Timespec Mtime;
    [FieldOffset(104)] public Timespec Ctime;
}

/// <summary>struct fuse_entry_param, 176 bytes; the timeouts are doubles.</summary>
[StructLayout(LayoutKind.Explicit, Size = 176)]
internal struct EntryParam
{
    [FieldOffset(0)] public ulong Ino;
    [FieldOffset(8)] public ulong Generation;
    [FieldOffset(16)] public Stat Attr;
    [FieldOffset(160)] public double AttrTimeout;
    [FieldOffset(168)] public double EntryTimeout;
}

/// <summary>struct fuse_file_info, 40 bytes in 3.14 (64 in 3.17+, same offsets); libfuse owns it.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal struct FuseFileInfo
{
    public const uint DirectIo = 0x02;
    public const uint KeepCache = 0x04;
    public const uint CacheReaddir = 0x40;

    [FieldOffset(0)] public int Flags;
    [FieldOffset(4)] public uint Bits;
    [FieldOffset(16)] public ulong Fh;
    [FieldOffset(24)] public ulong LockOwner;
    [FieldOffset(32)] public uint PollEvents;
}

/// <summary>struct statvfs, 112 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 112)]
internal struct StatVfs
{
    [FieldOffset(0)] public ulong BlockSize;
    [FieldOffset(8)] public ulong FragmentSize;
    [FieldOffset(16)] public ulong Blocks;
    [FieldOffset(24)] public ulong BlocksFree;
    [FieldOffset(32)] public ulong BlocksAvailable;
    [FieldOffset(40)] public ulong Files;
    [FieldOffset(48)] public ulong FilesFree;
    [FieldOffset(56)] public ulong FilesAvailable;
    [FieldOffset(64)] public ulong FsId;
    [FieldOffset(72)] public ulong Flag;
    [FieldOffset(80)] public ulong NameMax;
}

/// <summary>struct fuse_conn_info: only the first ten u32 fields are touched (stable across 3.x).</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct ConnInfo
{
    [FieldOffset(0)] public uint ProtoMajor;
    [FieldOffset(4)] public uint ProtoMinor;
    [FieldOffset(8)] public uint MaxWrite;
    [FieldOffset(12)] public uint MaxRead;
    [FieldOffset(16)] public uint MaxReadahead;
    [FieldOffset(20)] public uint Capable;
    [FieldOffset(24)] public uint Want;
    [FieldOffset(28)] public uint MaxBackground;
    [FieldOffset(32)] public uint CongestionThreshold;
    [FieldOffset(36)] public uint TimeGranularity;
}

/// <summary>struct fuse_buf, 40 bytes; zero-initialised, libfuse allocates <see cref="Mem"/> on first receive.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal struct FuseBuf
{
    [FieldOffset(0)] public nuint Size;
    [FieldOffset(8)] public int Flags;
    [FieldOffset(16)] public nint Mem;
    [FieldOffset(24)] public int Fd;
    [FieldOffset(32)] public long Pos;
}

/// <summary>struct fuse_args, 24 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 24)]
internal struct FuseArgs
{
    [FieldOffset(0)] public int Argc;
    [FieldOffset(8)] public nint Argv;
    [FieldOffset(16)] public int Allocated;
}

/// <summary>struct fuse_forget_data, 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ForgetData
{
    public ulong Ino;
    public ulong Nlookup;
}

/// <summary>struct fuse_ctx: the caller of a request (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseCtx
{
    public uint Uid;
    public uint Gid;
    public int Pid;
    public uint Umask;
}

/// <summary>struct iovec.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoVec
{
    public nint Base;
    public nuint Length;
}

/// <summary>Slots of struct fuse_lowlevel_ops (3.14: 44 pointers). Later libfuse versions only append.</summary>
internal enum OpSlot
{
    Init = 0,
    Destroy = 1,
    Lookup = 2,
    Forget = 3,
    GetAttr = 4,
    SetAttr = 5,
    ReadLink = 6,
    MkNod = 7,
    MkDir = 8,
    Unlink = 9,
    RmDir = 10,
    Symlink = 11,
    Rename = 12,
    Link = 13,
    Open = 14,
    Read = 15,
    Write = 16,
    Flush = 17,
    Release = 18,
    FSync = 19,
    OpenDir = 20,
    ReadDir = 21,
    ReleaseDir = 22,
    FSyncDir = 23,
    StatFs = 24,
    SetXattr = 25,
    GetXattr = 26,
    ListXattr = 27,
    RemoveXattr = 28,
    Access = 29,
    Create = 30,
    ForgetMulti = 38,
    Fallocate = 40,
    ReadDirPlus = 41,
    Count = 44,
}
