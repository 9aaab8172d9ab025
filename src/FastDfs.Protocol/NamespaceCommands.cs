namespace FastDfs.Protocol;

/// <summary>
/// Directory service commands served by our trackers (not part of FastDFS). FastDFS's tracker uses codes up to 111
/// and answers 100; 200-227 are unused by FastDFS 6.16, so a FastDFS tracker answers them with EINVAL, which tells a
/// client that names are unavailable there. Layouts are in <see cref="Messages.NamespaceMessages"/>.
/// </summary>
public enum NamespaceCommand : byte
{
    Root = 200,
    Lookup = 201,
    GetAttr = 202,
    ReadDir = 203,
    ReadDirPlus = 204,
    MkDir = 205,
    Create = 206,
    SetContent = 207,
    Symlink = 208,
    ReadLink = 209,
    Link = 210,
    Unlink = 211,
    RmDir = 212,
    Rename = 213,
    SetAttr = 214,
    SetXattr = 215,
    GetXattr = 216,
    ListXattr = 217,
    RemoveXattr = 218,
    StatFs = 219,
    FindByFileId = 220,
    RegisterPending = 221,
    ForgetPending = 222,

    // Cluster-wide file locks (fcntl record locks and flock) held by a mount's lock session; layouts in LockMessages.
    OpenLockSession = 223,
    RenewLockSession = 224,
    CloseLockSession = 225,
    SetLock = 226,
    GetLock = 227,
}

/// <summary>The first and last code of <see cref="NamespaceCommand"/> (a contiguous range).</summary>
public static class NamespaceCommands
{
    public const byte First = 200;
    public const byte Last = 227;

    public static bool IsNamespace(byte command) => command is >= First and <= Last;
}

/// <summary>Linux errno values the directory service returns beyond those FastDFS uses (<see cref="FdfsErrno"/>).</summary>
public static class NamespaceErrno
{
    public const byte E2BIG = 7;
    public const byte EXDEV = 18;
    public const byte ENOTDIR = 20;
    public const byte EMLINK = 31;
    public const byte ERANGE = 34;
    public const byte EDEADLK = 35;
    public const byte ENOLCK = 37;
    public const byte ENOTEMPTY = 39;
    public const byte ENODATA = 61;

    /// <summary>The errno's symbolic name, including those only the directory service uses.</summary>
    public static string Name(int errno) => errno switch
    {
        E2BIG => "E2BIG",
        EXDEV => "EXDEV",
        ENOTDIR => "ENOTDIR",
        EMLINK => "EMLINK",
        ERANGE => "ERANGE",
        EDEADLK => "EDEADLK",
        ENOLCK => "ENOLCK",
        ENOTEMPTY => "ENOTEMPTY",
        ENODATA => "ENODATA",
        _ => FdfsErrno.Name(errno),
    };

    /// <summary>A human description of a directory-service refusal.</summary>
    public static string Describe(int errno) => errno switch
    {
        FdfsErrno.ENOENT => "no such file or directory",
        FdfsErrno.EEXIST => "file exists",
        FdfsErrno.EISDIR => "is a directory",
        FdfsErrno.EPERM => "operation not permitted",
        E2BIG => "attribute value too large",
        EXDEV => "cross-group link or rename",
        ENOTDIR => "not a directory",
        EMLINK => "too many links",
        ERANGE => "attribute name out of range",
        EDEADLK => "the wait would deadlock (a cycle of owners waiting for each other's locks)",
        ENOLCK => "no such lock session (expired or closed)",
        ENOTEMPTY => "directory not empty",
        ENODATA => "no such attribute",
        FdfsErrno.EAGAIN => "locked by another owner",
        _ => FdfsErrno.Describe(errno),
    };
}

/// <summary>File type bits of a mode (S_IFMT and friends, as in Linux's stat.h).</summary>
public static class NamespaceMode
{
    public const uint TypeMask = 0xF000;
    public const uint Fifo = 0x1000;
    public const uint CharDevice = 0x2000;
    public const uint Directory = 0x4000;
    public const uint BlockDevice = 0x6000;
    public const uint Regular = 0x8000;
    public const uint Symlink = 0xA000;
    public const uint Socket = 0xC000;
    public const uint PermissionMask = 0xFFF;

    public static bool IsDirectory(uint mode) => (mode & TypeMask) == Directory;

    public static bool IsRegular(uint mode) => (mode & TypeMask) == Regular;

    public static bool IsSymlink(uint mode) => (mode & TypeMask) == Symlink;

    /// <summary>A character or block device: the only types that keep a device number (rdev).</summary>
    public static bool IsDevice(uint mode) => (mode & TypeMask) is CharDevice or BlockDevice;
}

/// <summary>Limits the directory service enforces (ext4's).</summary>
public static class NamespaceLimits
{
    /// <summary>Bytes in one name (NAME_MAX); longer ones get ENAMETOOLONG.</summary>
    public const int MaxNameLength = 255;

    /// <summary>Bytes in a symlink target including the NUL ext4 keeps (PATH_MAX); longer ones get ENAMETOOLONG.</summary>
    public const int MaxSymlinkLength = 4095;

    /// <summary>Bytes in an xattr name (XATTR_NAME_MAX); longer ones get ERANGE.</summary>
    public const int MaxXattrNameLength = 255;

    /// <summary>Bytes in an xattr value (XATTR_SIZE_MAX); longer ones get E2BIG.</summary>
    public const int MaxXattrValueLength = 64 * 1024;

    /// <summary>Hard links to one inode (ext4's EXT4_LINK_MAX); more get EMLINK.</summary>
    public const int MaxLinks = 65000;

    /// <summary>Bytes in a file ID (group/remote name) on the wire.</summary>
    public const int MaxFileIdLength = 255;
}

/// <summary>Which fields of a SET_ATTR request apply.</summary>
[Flags]
public enum NamespaceSetAttr : uint
{
    None = 0,
    Mode = 1,
    Uid = 2,
    Gid = 4,
    Size = 8,
    Atime = 16,
    Mtime = 32,
    Ctime = 64,

    /// <summary>Set atime to the server's clock (utimensat UTIME_NOW).</summary>
    AtimeNow = 128,

    /// <summary>Set mtime to the server's clock (utimensat UTIME_NOW).</summary>
    MtimeNow = 256,
}

/// <summary>renameat2 flags.</summary>
[Flags]
public enum NamespaceRenameFlags : uint
{
    None = 0,
    NoReplace = 1,
    Exchange = 2,
}

/// <summary>setxattr flags.</summary>
[Flags]
public enum NamespaceXattrFlags : uint
{
    None = 0,
    Create = 1,
    Replace = 2,
}
