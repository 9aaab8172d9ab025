using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>Command codes and status values are frozen by the wire format (notes 1.2, 3, 5, 8.4).</summary>
public class CommandCodeTests
{
    public static TheoryData<TrackerCommand, byte> TrackerCodes => new()
    {
        { TrackerCommand.TrackerJoinLeader, 58 },
        { TrackerCommand.StorageChangeStatus, 59 },
        { TrackerCommand.StorageGetMyIp, 60 },
        { TrackerCommand.GetSysFilesStart, 61 },
        { TrackerCommand.GetSysFilesEnd, 62 },
        { TrackerCommand.GetOneSysFile, 63 },
        { TrackerCommand.TrackerGetStatus, 64 },
        { TrackerCommand.TrackerPingLeader, 65 },
        { TrackerCommand.TrackerNotifyNextLeader, 66 },
        { TrackerCommand.TrackerCommitNextLeader, 67 },
        { TrackerCommand.TrackerNotifyReselectLeader, 68 },
        { TrackerCommand.StorageFetchStorageIds, 69 },
        { TrackerCommand.StorageGetServerId, 70 },
        { TrackerCommand.StorageGetStatus, 71 },
        { TrackerCommand.StorageParameterReq, 75 },
        { TrackerCommand.StorageReportStatus, 76 },
        { TrackerCommand.StorageChangelogReq, 77 },
        { TrackerCommand.StorageReportIpChanged, 78 },
        { TrackerCommand.StorageSyncDestQuery, 79 },
        { TrackerCommand.StorageJoin, 81 },
        { TrackerCommand.Quit, 82 },
        { TrackerCommand.StorageBeat, 83 },
        { TrackerCommand.StorageReportDiskUsage, 84 },
        { TrackerCommand.StorageReplicaChange, 85 },
        { TrackerCommand.StorageSyncSrcReq, 86 },
        { TrackerCommand.StorageSyncDestReq, 87 },
        { TrackerCommand.StorageSyncNotify, 88 },
        { TrackerCommand.StorageSyncReport, 89 },
        { TrackerCommand.ListOneGroup, 90 },
        { TrackerCommand.ListAllGroups, 91 },
        { TrackerCommand.ListStorage, 92 },
        { TrackerCommand.DeleteStorage, 93 },
        { TrackerCommand.SetTrunkServer, 94 },
        { TrackerCommand.GetLeader, 95 },
        { TrackerCommand.TrackerClusterStat, 96 },
        { TrackerCommand.StorageClusterStat, 97 },
        { TrackerCommand.StorageVolumeStat, 98 },
        { TrackerCommand.QueryStoreWithoutGroupOne, 101 },
        { TrackerCommand.QueryFetchOne, 102 },
        { TrackerCommand.QueryUpdate, 103 },
        { TrackerCommand.QueryStoreWithGroupOne, 104 },
        { TrackerCommand.QueryFetchAll, 105 },
        { TrackerCommand.QueryStoreWithoutGroupAll, 106 },
        { TrackerCommand.QueryStoreWithGroupAll, 107 },
        { TrackerCommand.DeleteGroup, 108 },
        { TrackerCommand.StorageGetGroupName, 109 },
        { TrackerCommand.ActiveTest, 111 },
    };

    public static TheoryData<StorageCommand, byte> StorageCodes => new()
    {
        { StorageCommand.ReportServerId, 9 },
        { StorageCommand.UploadFile, 11 },
        { StorageCommand.DeleteFile, 12 },
        { StorageCommand.SetMetadata, 13 },
        { StorageCommand.DownloadFile, 14 },
        { StorageCommand.GetMetadata, 15 },
        { StorageCommand.SyncCreateFile, 16 },
        { StorageCommand.SyncDeleteFile, 17 },
        { StorageCommand.SyncUpdateFile, 18 },
        { StorageCommand.SyncCreateLink, 19 },
        { StorageCommand.CreateLink, 20 },
        { StorageCommand.UploadSlaveFile, 21 },
        { StorageCommand.QueryFileInfo, 22 },
        { StorageCommand.UploadAppenderFile, 23 },
        { StorageCommand.AppendFile, 24 },
        { StorageCommand.SyncAppendFile, 25 },
        { StorageCommand.FetchOnePathBinlog, 26 },
        { StorageCommand.ModifyFile, 34 },
        { StorageCommand.SyncModifyFile, 35 },
        { StorageCommand.TruncateFile, 36 },
        { StorageCommand.SyncTruncateFile, 37 },
        { StorageCommand.RegenerateAppenderFileName, 38 },
        { StorageCommand.SyncRenameFile, 40 },
        { StorageCommand.Quit, 82 },
        { StorageCommand.ActiveTest, 111 },
    };

    public static TheoryData<StorageStatus, byte> StatusValues => new()
    {
        { StorageStatus.Init, 0 },
        { StorageStatus.WaitSync, 1 },
        { StorageStatus.Syncing, 2 },
        { StorageStatus.IpChanged, 3 },
        { StorageStatus.Deleted, 4 },
        { StorageStatus.Offline, 5 },
        { StorageStatus.Online, 6 },
        { StorageStatus.Active, 7 },
        { StorageStatus.Recovery, 9 },
        { StorageStatus.None, 99 },
    };

    [Theory]
    [MemberData(nameof(TrackerCodes))]
    public void Tracker_command_codes_are_frozen(TrackerCommand command, byte code) => Assert.Equal(code, (byte)command);

    [Theory]
    [MemberData(nameof(StorageCodes))]
    public void Storage_command_codes_are_frozen(StorageCommand command, byte code) => Assert.Equal(code, (byte)command);

    [Theory]
    [MemberData(nameof(StatusValues))]
    public void Storage_status_values_are_frozen(StorageStatus status, byte value) => Assert.Equal(value, (byte)status);

    [Fact]
    public void Every_enum_member_is_in_the_frozen_tables()
    {
        // A member added without a table row would escape the frozen-value tests above.
        Assert.Equal(Enum.GetValues<TrackerCommand>().Length, TrackerCodes.Count());
        Assert.Equal(Enum.GetValues<StorageCommand>().Length, StorageCodes.Count());
        Assert.Equal(Enum.GetValues<StorageStatus>().Length, StatusValues.Count());
    }

    [Fact]
    public void Command_codes_are_unique_within_each_enum()
    {
        AssertUnique<TrackerCommand>();
        AssertUnique<StorageCommand>();
        AssertUnique<StorageStatus>();
    }

    [Fact]
    public void No_command_uses_the_response_code()
    {
        Assert.DoesNotContain(Enum.GetValues<TrackerCommand>(), c => (byte)c == FdfsConstants.ResponseCommand);
        Assert.DoesNotContain(Enum.GetValues<StorageCommand>(), c => (byte)c == FdfsConstants.ResponseCommand);
    }

    [Fact]
    public void Connection_level_commands_share_codes()
    {
        Assert.Equal((byte)TrackerCommand.ActiveTest, (byte)StorageCommand.ActiveTest);
        Assert.Equal((byte)TrackerCommand.Quit, (byte)StorageCommand.Quit);
    }

    [Theory]
    [InlineData(FdfsErrno.EPERM, 1)]
    [InlineData(FdfsErrno.ENOENT, 2)]
    [InlineData(FdfsErrno.EIO, 5)]
    [InlineData(FdfsErrno.EAGAIN, 11)]
    [InlineData(FdfsErrno.ENOMEM, 12)]
    [InlineData(FdfsErrno.EACCES, 13)]
    [InlineData(FdfsErrno.EBUSY, 16)]
    [InlineData(FdfsErrno.EEXIST, 17)]
    [InlineData(FdfsErrno.EISDIR, 21)]
    [InlineData(FdfsErrno.EINVAL, 22)]
    [InlineData(FdfsErrno.ENOSPC, 28)]
    [InlineData(FdfsErrno.ENAMETOOLONG, 36)]
    [InlineData(FdfsErrno.EOPNOTSUPP, 95)]
    [InlineData(FdfsErrno.ETIMEDOUT, 110)]
    [InlineData(FdfsErrno.EALREADY, 114)]
    public void Errno_values_are_linux_values(byte actual, byte expected) => Assert.Equal(expected, actual);

    private static void AssertUnique<T>()
        where T : struct, Enum
    {
        var values = Enum.GetValues<T>().Select(v => Convert.ToByte(v, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(values.Count, values.Distinct().Count());
        Assert.Equal(Enum.GetNames<T>().Length, values.Count);
    }
}
