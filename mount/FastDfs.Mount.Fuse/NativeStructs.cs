using System.Runtime.InteropServices;

namespace FastDfs.Mount.Fuse;

// glibc / libfuse 3.14 layouts on x86-64 and aarch64 (fuse-binding notes 2.5). Only struct stat, and with it
// struct fuse_entry_param, differ between the two; each field names its C counterpart so scripts/check-layouts.sh can
// compile the offsets against both architectures' headers, and FuseMount.Start checks the sizes (NativeLayout).

[StructLayout(LayoutKind.Sequential)]
[NativeType("struct timespec")]
internal struct Timespec
{
    [NativeField("tv_sec")] public long Seconds;
    [NativeField("tv_nsec")] public long Nanoseconds;

    public static Timespec FromNanoseconds(long ns) =>
        new() { Seconds = Math.DivRem(ns, 1_000_000_000, out long rest) - (rest < 0 ? 1 : 0), Nanoseconds = rest < 0 ? rest + 1_000_000_000 : rest };

    public readonly long ToNanoseconds() => (Seconds * 1_000_000_000) + Nanoseconds;
}

/// <summary>x86-64 struct stat, 144 bytes (its own layout: 64-bit st_nlink before st_mode).</summary>
[StructLayout(LayoutKind.Explicit, Size = 144)]
[NativeType("struct stat", NativeArchitecture.X64)]
internal struct StatX64
{
    [FieldOffset(0)][NativeField("st_dev")] public ulong Dev;
    [FieldOffset(8)][NativeField("st_ino")] public ulong Ino;
    [FieldOffset(16)][NativeField("st_nlink")] public ulong Nlink;
    [FieldOffset(24)][NativeField("st_mode")] public uint Mode;
    [FieldOffset(28)][NativeField("st_uid")] public uint Uid;
    [FieldOffset(32)][NativeField("st_gid")] public uint Gid;
    [FieldOffset(40)][NativeField("st_rdev")] public ulong Rdev;
    [FieldOffset(48)][NativeField("st_size")] public long Size;
    [FieldOffset(56)][NativeField("st_blksize")] public long BlockSize;
    [FieldOffset(64)][NativeField("st_blocks")] public long Blocks;
    [FieldOffset(72)][NativeField("st_atim")] public Timespec Atime;
    [FieldOffset(88)][NativeField("st_mtim")] public Timespec Mtime;
    [FieldOffset(104)][NativeField("st_ctim")] public Timespec Ctime;
}

/// <summary>aarch64 struct stat, 128 bytes (the generic layout: st_mode first, 32-bit st_nlink and st_blksize).</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
[NativeType("struct stat", NativeArchitecture.Arm64)]
internal struct StatArm64
{
    [FieldOffset(0)][NativeField("st_dev")] public ulong Dev;
    [FieldOffset(8)][NativeField("st_ino")] public ulong Ino;
    [FieldOffset(16)][NativeField("st_mode")] public uint Mode;
    [FieldOffset(20)][NativeField("st_nlink")] public uint Nlink;
    [FieldOffset(24)][NativeField("st_uid")] public uint Uid;
    [FieldOffset(28)][NativeField("st_gid")] public uint Gid;
    [FieldOffset(32)][NativeField("st_rdev")] public ulong Rdev;
    [FieldOffset(48)][NativeField("st_size")] public long Size;
    [FieldOffset(56)][NativeField("st_blksize")] public int BlockSize;
    [FieldOffset(64)][NativeField("st_blocks")] public long Blocks;
    [FieldOffset(72)][NativeField("st_atim")] public Timespec Atime;
    [FieldOffset(88)][NativeField("st_mtim")] public Timespec Mtime;
    [FieldOffset(104)][NativeField("st_ctim")] public Timespec Ctime;
}

/// <summary>
/// struct stat of this process's architecture: room for the larger (x86-64) layout, fields read and written through
/// the architecture's view. The branch on <see cref="NativeLayout.IsArm64"/> is folded by the JIT (a static readonly).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 144)]
internal struct Stat
{
    [FieldOffset(0)] public StatX64 X64;
    [FieldOffset(0)] public StatArm64 Arm64;

    public ulong Ino
    {
        readonly get => NativeLayout.IsArm64 ? Arm64.Ino : X64.Ino;
        set
        {
            if (NativeLayout.IsArm64)
            {
                Arm64.Ino = value;
            }
            else
            {
                X64.Ino = value;
            }
        }
    }

    /// <summary>32 bits on aarch64, 64 on x86-64; the kernel's link counts are 32-bit.</summary>
    public uint Nlink
    {
        readonly get => NativeLayout.IsArm64 ? Arm64.Nlink : (uint)X64.Nlink;
        set
        {
            if (NativeLayout.IsArm64)
            {
                Arm64.Nlink = value;
            }
            else
            {
                X64.Nlink = value;
            }
        }
    }

    public uint Mode
    {
        readonly get => NativeLayout.IsArm64 ? Arm64.Mode : X64.Mode;
        set
        {
            if (NativeLayout.IsArm64)
            {
                Arm64.Mode = value;
            }
            else
            {
                X64.Mode = value;
            }
        }
    }

    public uint Uid
    {
        readonly get => NativeLayout.IsArm64 ? Arm64.Uid : X64.Uid;
        set
        {
            if (NativeLayout.IsArm64)
            {
                Arm64.Uid = value;
            }
            else
            {
                X64.Uid = value;
            }
        }
    }

    public uint Gid
    {
        readonly get => NativeLayout.IsArm64 ? Arm64.Gid : X64.Gid;
        set
        {
            if (NativeLayout.IsArm64)
            {
                Arm64.Gid = value;
            }
            else
            {
                X64.Gid = value;
            }
        }
    }

    public ulong Rdev
    {
        readonly get => NativeLayout.IsArm64 ? Arm64.Rdev : X64.Rdev;
        set
        {
            if (NativeLayout.IsArm64)
            {
                Arm64.Rdev = value;
            }
            else
            {
                X64.Rdev = value;
            }
        }
    }

    public long Size
    {
        readonly get => NativeLayout.IsArm64 ? Arm64.Size : X64.Size;
        set
        {
            if (NativeLayout.IsArm64)
            {
                Arm64.Size = value;
            }
            else
            {
                X64.Size = value;
            }
        }
    }

    /// <summary>32 bits on aarch64, 64 on x86-64.</summary>
    public int BlockSize
    {
        readonly get => NativeLayout.IsArm64 ? Arm64.BlockSize : (int)X64.BlockSize;
        set
        {
            if (NativeLayout.IsArm64)
            {
                Arm64.BlockSize = value;
            }
            else
            {
                X64.BlockSize = value;
            }
        }
    }

    public long Blocks
    {
        readonly get => NativeLayout.IsArm64 ? Arm64.Blocks : X64.Blocks;
        set
        {
            if (NativeLayout.IsArm64)
            {
                Arm64.Blocks = value;
            }
            else
            {
                X64.Blocks = value;
            }
        }
    }

    public Timespec Atime
    {
        readonly get => NativeLayout.IsArm64 ? Arm64.Atime : X64.Atime;
        set
        {
            if (NativeLayout.IsArm64)
            {
                Arm64.Atime = value;
            }
            else
            {
                X64.Atime = value;
            }
        }
    }

    public Timespec Mtime
    {
        readonly get => NativeLayout.IsArm64 ? Arm64.Mtime : X64.Mtime;
        set
        {
            if (NativeLayout.IsArm64)
            {
                Arm64.Mtime = value;
            }
            else
            {
                X64.Mtime = value;
            }
        }
    }

    public Timespec Ctime
    {
        readonly get => NativeLayout.IsArm64 ? Arm64.Ctime : X64.Ctime;
        set
        {
            if (NativeLayout.IsArm64)
            {
                Arm64.Ctime = value;
            }
            else
            {
                X64.Ctime = value;
            }
        }
    }
}

/// <summary>x86-64 struct fuse_entry_param, 176 bytes; the timeouts are doubles.</summary>
[StructLayout(LayoutKind.Explicit, Size = 176)]
[NativeType("struct fuse_entry_param", NativeArchitecture.X64)]
internal struct EntryParamX64
{
    [FieldOffset(0)][NativeField("ino")] public ulong Ino;
    [FieldOffset(8)][NativeField("generation")] public ulong Generation;
    [FieldOffset(16)][NativeField("attr")] public StatX64 Attr;
    [FieldOffset(160)][NativeField("attr_timeout")] public double AttrTimeout;
    [FieldOffset(168)][NativeField("entry_timeout")] public double EntryTimeout;
}

/// <summary>aarch64 struct fuse_entry_param, 160 bytes: the timeouts follow the shorter struct stat.</summary>
[StructLayout(LayoutKind.Explicit, Size = 160)]
[NativeType("struct fuse_entry_param", NativeArchitecture.Arm64)]
internal struct EntryParamArm64
{
    [FieldOffset(0)][NativeField("ino")] public ulong Ino;
    [FieldOffset(8)][NativeField("generation")] public ulong Generation;
    [FieldOffset(16)][NativeField("attr")] public StatArm64 Attr;
    [FieldOffset(144)][NativeField("attr_timeout")] public double AttrTimeout;
    [FieldOffset(152)][NativeField("entry_timeout")] public double EntryTimeout;
}

/// <summary>
/// struct fuse_entry_param of this process's architecture. <see cref="Attr"/> spans 144 bytes, which on aarch64 covers
/// the timeouts too: set its fields one by one (its aarch64 view ends where they start), never assign a whole Stat.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 176)]
internal struct EntryParam
{
    [FieldOffset(0)] public ulong Ino;
    [FieldOffset(8)] public ulong Generation;
    [FieldOffset(16)] public Stat Attr;
    [FieldOffset(0)] public EntryParamX64 X64;
    [FieldOffset(0)] public EntryParamArm64 Arm64;

    public double AttrTimeout
    {
        readonly get => NativeLayout.IsArm64 ? Arm64.AttrTimeout : X64.AttrTimeout;
        set
        {
            if (NativeLayout.IsArm64)
            {
                Arm64.AttrTimeout = value;
            }
            else
            {
                X64.AttrTimeout = value;
            }
        }
    }

    public double EntryTimeout
    {
        readonly get => NativeLayout.IsArm64 ? Arm64.EntryTimeout : X64.EntryTimeout;
        set
        {
            if (NativeLayout.IsArm64)
            {
                Arm64.EntryTimeout = value;
            }
            else
            {
                X64.EntryTimeout = value;
            }
        }
    }
}

/// <summary>struct fuse_file_info, 40 bytes in 3.14 (64 in 3.17+, same offsets); libfuse owns it.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
[NativeType("struct fuse_file_info")]
internal struct FuseFileInfo
{
    [NativeBit("direct_io")] public const uint DirectIo = 0x02;
    [NativeBit("keep_cache")] public const uint KeepCache = 0x04;
    [NativeBit("flock_release")] public const uint FlockRelease = 0x20;
    [NativeBit("cache_readdir")] public const uint CacheReaddir = 0x40;

    [FieldOffset(0)][NativeField("flags")] public int Flags;
    [FieldOffset(4)] public uint Bits;
    [FieldOffset(16)][NativeField("fh")] public ulong Fh;
    [FieldOffset(24)][NativeField("lock_owner")] public ulong LockOwner;
    [FieldOffset(32)][NativeField("poll_events")] public uint PollEvents;
}

/// <summary>struct statvfs, 112 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 112)]
[NativeType("struct statvfs")]
internal struct StatVfs
{
    [FieldOffset(0)][NativeField("f_bsize")] public ulong BlockSize;
    [FieldOffset(8)][NativeField("f_frsize")] public ulong FragmentSize;
    [FieldOffset(16)][NativeField("f_blocks")] public ulong Blocks;
    [FieldOffset(24)][NativeField("f_bfree")] public ulong BlocksFree;
    [FieldOffset(32)][NativeField("f_bavail")] public ulong BlocksAvailable;
    [FieldOffset(40)][NativeField("f_files")] public ulong Files;
    [FieldOffset(48)][NativeField("f_ffree")] public ulong FilesFree;
    [FieldOffset(56)][NativeField("f_favail")] public ulong FilesAvailable;
    [FieldOffset(64)][NativeField("f_fsid")] public ulong FsId;
    [FieldOffset(72)][NativeField("f_flag")] public ulong Flag;
    [FieldOffset(80)][NativeField("f_namemax")] public ulong NameMax;
}

/// <summary>struct fuse_conn_info: only the first ten u32 fields are touched (stable across 3.x).</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
[NativeType("struct fuse_conn_info")]
internal struct ConnInfo
{
    [FieldOffset(0)][NativeField("proto_major")] public uint ProtoMajor;
    [FieldOffset(4)][NativeField("proto_minor")] public uint ProtoMinor;
    [FieldOffset(8)][NativeField("max_write")] public uint MaxWrite;
    [FieldOffset(12)][NativeField("max_read")] public uint MaxRead;
    [FieldOffset(16)][NativeField("max_readahead")] public uint MaxReadahead;
    [FieldOffset(20)][NativeField("capable")] public uint Capable;
    [FieldOffset(24)][NativeField("want")] public uint Want;
    [FieldOffset(28)][NativeField("max_background")] public uint MaxBackground;
    [FieldOffset(32)][NativeField("congestion_threshold")] public uint CongestionThreshold;
    [FieldOffset(36)][NativeField("time_gran")] public uint TimeGranularity;
}

/// <summary>struct fuse_buf, 40 bytes; zero-initialised, libfuse allocates <see cref="Mem"/> on first receive.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
[NativeType("struct fuse_buf")]
internal struct FuseBuf
{
    [NativeConstant("FUSE_BUF_IS_FD")] public const int IsFd = 1 << 1;

    [FieldOffset(0)][NativeField("size")] public nuint Size;
    [FieldOffset(8)][NativeField("flags")] public int Flags;
    [FieldOffset(16)][NativeField("mem")] public nint Mem;
    [FieldOffset(24)][NativeField("fd")] public int Fd;
    [FieldOffset(32)][NativeField("pos")] public long Pos;
}

/// <summary>struct fuse_bufvec with its one inline buffer, 64 bytes: what libfuse hands write_buf.</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
[NativeType("struct fuse_bufvec")]
internal struct FuseBufvec
{
    [FieldOffset(0)][NativeField("count")] public nuint Count;
    [FieldOffset(8)][NativeField("idx")] public nuint Index;
    [FieldOffset(16)][NativeField("off")] public nuint Offset;
    [FieldOffset(24)][NativeField("buf")] public FuseBuf Buffer;
}

/// <summary>struct fuse_args, 24 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 24)]
[NativeType("struct fuse_args")]
internal struct FuseArgs
{
    [FieldOffset(0)][NativeField("argc")] public int Argc;
    [FieldOffset(8)][NativeField("argv")] public nint Argv;
    [FieldOffset(16)][NativeField("allocated")] public int Allocated;
}

/// <summary>struct fuse_forget_data, 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
[NativeType("struct fuse_forget_data")]
internal struct ForgetData
{
    [NativeField("ino")] public ulong Ino;
    [NativeField("nlookup")] public ulong Nlookup;
}

/// <summary>struct fuse_ctx: the caller of a request (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
[NativeType("struct fuse_ctx")]
internal struct FuseCtx
{
    [NativeField("uid")] public uint Uid;
    [NativeField("gid")] public uint Gid;
    [NativeField("pid")] public int Pid;
    [NativeField("umask")] public uint Umask;
}

/// <summary>struct iovec.</summary>
[StructLayout(LayoutKind.Sequential)]
[NativeType("struct iovec")]
internal struct IoVec
{
    [NativeField("iov_base")] public nint Base;
    [NativeField("iov_len")] public nuint Length;
}

/// <summary>Slots of struct fuse_lowlevel_ops (3.14: 44 pointers; <see cref="Count"/> is its size). Later libfuse versions only append.</summary>
[NativeType("struct fuse_lowlevel_ops")]
internal enum OpSlot
{
    [NativeField("init")] Init = 0,
    [NativeField("destroy")] Destroy = 1,
    [NativeField("lookup")] Lookup = 2,
    [NativeField("forget")] Forget = 3,
    [NativeField("getattr")] GetAttr = 4,
    [NativeField("setattr")] SetAttr = 5,
    [NativeField("readlink")] ReadLink = 6,
    [NativeField("mknod")] MkNod = 7,
    [NativeField("mkdir")] MkDir = 8,
    [NativeField("unlink")] Unlink = 9,
    [NativeField("rmdir")] RmDir = 10,
    [NativeField("symlink")] Symlink = 11,
    [NativeField("rename")] Rename = 12,
    [NativeField("link")] Link = 13,
    [NativeField("open")] Open = 14,
    [NativeField("read")] Read = 15,
    [NativeField("write")] Write = 16,
    [NativeField("flush")] Flush = 17,
    [NativeField("release")] Release = 18,
    [NativeField("fsync")] FSync = 19,
    [NativeField("opendir")] OpenDir = 20,
    [NativeField("readdir")] ReadDir = 21,
    [NativeField("releasedir")] ReleaseDir = 22,
    [NativeField("fsyncdir")] FSyncDir = 23,
    [NativeField("statfs")] StatFs = 24,
    [NativeField("setxattr")] SetXattr = 25,
    [NativeField("getxattr")] GetXattr = 26,
    [NativeField("listxattr")] ListXattr = 27,
    [NativeField("removexattr")] RemoveXattr = 28,
    [NativeField("access")] Access = 29,
    [NativeField("create")] Create = 30,
    [NativeField("getlk")] GetLk = 31,
    [NativeField("setlk")] SetLk = 32,
    [NativeField("write_buf")] WriteBuf = 36,
    [NativeField("forget_multi")] ForgetMulti = 38,
    [NativeField("flock")] Flock = 39,
    [NativeField("fallocate")] Fallocate = 40,
    [NativeField("readdirplus")] ReadDirPlus = 41,
    Count = 44,
}

/// <summary>
/// struct flock (fcntl.h), 32 bytes on both architectures: what libfuse passes to getlk/setlk (already made absolute:
/// l_whence SEEK_SET, l_len 0 = to the end of the file) and takes back in fuse_reply_lock.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
[NativeType("struct flock")]
internal struct Flock
{
    [NativeConstant("F_RDLCK")] public const short ReadLock = 0;
    [NativeConstant("F_WRLCK")] public const short WriteLock = 1;
    [NativeConstant("F_UNLCK")] public const short Unlock = 2;
    [NativeConstant("SEEK_SET")] public const short SeekSet = 0;

    [FieldOffset(0)][NativeField("l_type")] public short Type;
    [FieldOffset(2)][NativeField("l_whence")] public short Whence;
    [FieldOffset(8)][NativeField("l_start")] public long Start;
    [FieldOffset(16)][NativeField("l_len")] public long Length;
    [FieldOffset(24)][NativeField("l_pid")] public int Pid;
}
