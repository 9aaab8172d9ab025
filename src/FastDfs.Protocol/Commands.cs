namespace FastDfs.Protocol;

/// <summary>Tracker command codes (protocol notes sections 1.2, 3). Values are frozen by the wire format.</summary>
public enum TrackerCommand : byte
{
    TrackerJoinLeader = 58,
    StorageChangeStatus = 59,
    StorageGetMyIp = 60,
    GetSysFilesStart = 61,
    GetSysFilesEnd = 62,
    GetOneSysFile = 63,
    TrackerGetStatus = 64,
    TrackerPingLeader = 65,
    TrackerNotifyNextLeader = 66,
    TrackerCommitNextLeader = 67,
    TrackerNotifyReselectLeader = 68,
    StorageFetchStorageIds = 69,
    StorageGetServerId = 70,
    StorageGetStatus = 71,
    StorageParameterReq = 75,
    StorageReportStatus = 76,
    StorageChangelogReq = 77,
    StorageReportIpChanged = 78,
    StorageSyncDestQuery = 79,
    StorageJoin = 81,
    Quit = 82,
    StorageBeat = 83,
    StorageReportDiskUsage = 84,
    StorageReplicaChange = 85,
    StorageSyncSrcReq = 86,
    StorageSyncDestReq = 87,
    StorageSyncNotify = 88,
    StorageSyncReport = 89,
    ListOneGroup = 90,
    ListAllGroups = 91,
    ListStorage = 92,
    DeleteStorage = 93,
    SetTrunkServer = 94,
    GetLeader = 95,
    TrackerClusterStat = 96,
    StorageClusterStat = 97,
    StorageVolumeStat = 98,
    QueryStoreWithoutGroupOne = 101,
    QueryFetchOne = 102,
    QueryUpdate = 103,
    QueryStoreWithGroupOne = 104,
    QueryFetchAll = 105,
    QueryStoreWithoutGroupAll = 106,
    QueryStoreWithGroupAll = 107,
    DeleteGroup = 108,
    StorageGetGroupName = 109,
    ActiveTest = 111,
}

/// <summary>Storage command codes (protocol notes sections 1.2, 5). Values are frozen by the wire format.</summary>
public enum StorageCommand : byte
{
    ReportServerId = 9,
    UploadFile = 11,
    DeleteFile = 12,
    SetMetadata = 13,
    DownloadFile = 14,
    GetMetadata = 15,
    SyncCreateFile = 16,
    SyncDeleteFile = 17,
    SyncUpdateFile = 18,
    SyncCreateLink = 19,
    CreateLink = 20,
    UploadSlaveFile = 21,
    QueryFileInfo = 22,
    UploadAppenderFile = 23,
    AppendFile = 24,
    SyncAppendFile = 25,
    FetchOnePathBinlog = 26,
    ModifyFile = 34,
    SyncModifyFile = 35,
    TruncateFile = 36,
    SyncTruncateFile = 37,
    RegenerateAppenderFileName = 38,
    SyncRenameFile = 40,
    Quit = 82,
    ActiveTest = 111,
}

/// <summary>Storage status values as the tracker keeps and reports them (protocol notes 8.4).</summary>
public enum StorageStatus : byte
{
    Init = 0,
    WaitSync = 1,
    Syncing = 2,
    IpChanged = 3,
    Deleted = 4,
    Offline = 5,
    Online = 6,
    Active = 7,
    Recovery = 9,
    None = 99,
}

/// <summary>Linux errno values FastDFS puts in the status byte (protocol notes 1.3).</summary>
public static class FdfsErrno
{
    public const byte Success = 0;
    public const byte EPERM = 1;
    public const byte ENOENT = 2;
    public const byte EINTR = 4;
    public const byte EIO = 5;
    public const byte EAGAIN = 11;
    public const byte ENOMEM = 12;
    public const byte EACCES = 13;
    public const byte EBUSY = 16;
    public const byte EEXIST = 17;
    public const byte EISDIR = 21;
    public const byte EINVAL = 22;
    public const byte EFBIG = 27;
    public const byte ENOSPC = 28;
    public const byte ENAMETOOLONG = 36;
    public const byte ENOSYS = 38;
    public const byte EOPNOTSUPP = 95;
    public const byte ECONNREFUSED = 111;
    public const byte ETIMEDOUT = 110;
    public const byte EALREADY = 114;

    /// <summary>Short symbolic name, for messages.</summary>
    public static string Name(int errno) => errno switch
    {
        0 => "OK",
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        EIO => "EIO",
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        EBUSY => "EBUSY",
        EEXIST => "EEXIST",
        EISDIR => "EISDIR",
        EINVAL => "EINVAL",
        EFBIG => "EFBIG",
        ENOSPC => "ENOSPC",
        ENAMETOOLONG => "ENAMETOOLONG",
        ENOSYS => "ENOSYS",
        EOPNOTSUPP => "EOPNOTSUPP",
        ETIMEDOUT => "ETIMEDOUT",
        ECONNREFUSED => "ECONNREFUSED",
        EALREADY => "EALREADY",
        _ => "errno " + errno,
    };

    /// <summary>A human description, for CLI messages.</summary>
    public static string Describe(int errno) => errno switch
    {
        ENOENT => "not found",
        EIO => "I/O error on the server",
        EACCES => "permission denied",
        EBUSY => "busy",
        EEXIST => "already exists",
        EINVAL => "invalid argument",
        EFBIG => "file too large",
        ENOSPC => "no space left",
        ENAMETOOLONG => "name too long",
        EOPNOTSUPP => "not supported",
        ETIMEDOUT => "timed out",
        EALREADY => "already done",
        _ => Name(errno),
    };
}
