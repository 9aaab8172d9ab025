using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>Field sizes and fixed values from notes section 2.</summary>
public class ConstantsTests
{
    [Fact]
    public void Constants_match_the_notes()
    {
        (string Name, int Actual, int Expected)[] table =
        [
            (nameof(FdfsConstants.HeaderSize), FdfsConstants.HeaderSize, 10),
            (nameof(FdfsConstants.ResponseCommand), FdfsConstants.ResponseCommand, 100),
            (nameof(FdfsConstants.GroupNameMaxLength), FdfsConstants.GroupNameMaxLength, 16),
            (nameof(FdfsConstants.StorageIdMaxSize), FdfsConstants.StorageIdMaxSize, 16),
            (nameof(FdfsConstants.VersionSize), FdfsConstants.VersionSize, 8),
            (nameof(FdfsConstants.IPv4AddressSize), FdfsConstants.IPv4AddressSize, 16),
            (nameof(FdfsConstants.IPv6AddressSize), FdfsConstants.IPv6AddressSize, 46),
            (nameof(FdfsConstants.QueryIpSize), FdfsConstants.QueryIpSize, 15),
            (nameof(FdfsConstants.InternalIpSize), FdfsConstants.InternalIpSize, 46),
            (nameof(FdfsConstants.FileExtMaxLength), FdfsConstants.FileExtMaxLength, 6),
            (nameof(FdfsConstants.FilePrefixMaxLength), FdfsConstants.FilePrefixMaxLength, 16),
            (nameof(FdfsConstants.MetaNameMaxLength), FdfsConstants.MetaNameMaxLength, 64),
            (nameof(FdfsConstants.MetaValueMaxLength), FdfsConstants.MetaValueMaxLength, 256),
            (nameof(FdfsConstants.MetaRecordSeparator), FdfsConstants.MetaRecordSeparator, 1),
            (nameof(FdfsConstants.MetaFieldSeparator), FdfsConstants.MetaFieldSeparator, 2),
            (nameof(FdfsConstants.MaxServersPerGroup), FdfsConstants.MaxServersPerGroup, 32),
            (nameof(FdfsConstants.MaxGroups), FdfsConstants.MaxGroups, 512),
            (nameof(FdfsConstants.MaxTrackers), FdfsConstants.MaxTrackers, 16),
            (nameof(FdfsConstants.LogicPathLength), FdfsConstants.LogicPathLength, 10),
            (nameof(FdfsConstants.FileNameCoreLength), FdfsConstants.FileNameCoreLength, 27),
            (nameof(FdfsConstants.FileNameExtPartLength), FdfsConstants.FileNameExtPartLength, 7),
            (nameof(FdfsConstants.NormalLogicFileNameLength), FdfsConstants.NormalLogicFileNameLength, 44),
            (nameof(FdfsConstants.TrunkLogicFileNameLength), FdfsConstants.TrunkLogicFileNameLength, 60),
            (nameof(FdfsConstants.RemoteFileNameMinLength), FdfsConstants.RemoteFileNameMinLength, 22),
            (nameof(FdfsConstants.RemoteFileNameMaxLength), FdfsConstants.RemoteFileNameMaxLength, 127),
            (nameof(FdfsConstants.DefaultTrackerPort), FdfsConstants.DefaultTrackerPort, 22122),
            (nameof(FdfsConstants.DefaultStoragePort), FdfsConstants.DefaultStoragePort, 23000),
            (nameof(FdfsConstants.AnyStorePath), FdfsConstants.AnyStorePath, 0xFF),
        ];
        foreach (var (name, actual, expected) in table)
        {
            Assert.True(actual == expected, $"{name} is {actual}, notes say {expected}");
        }
    }

    [Fact]
    public void Size_flags_are_bits_63_59_58()
    {
        Assert.Equal(unchecked((long)0x8000000000000000UL), FileNames.NormalFlag);
        Assert.Equal(0x0800000000000000L, FileNames.TrunkFlag);
        Assert.Equal(0x0400000000000000L, FileNames.AppenderFlag);
    }

    [Fact]
    public void Server_version_fits_its_field()
    {
        Assert.Equal("6.16.1", FdfsConstants.ServerVersion);
        Assert.True(FdfsConstants.ServerVersion.Length <= FdfsConstants.VersionSize);
    }

    [Theory]
    [InlineData(0, "OK")]
    [InlineData(2, "ENOENT")]
    [InlineData(22, "EINVAL")]
    [InlineData(200, "errno 200")]
    public void Errno_names(int errno, string name) => Assert.Equal(name, FdfsErrno.Name(errno));
}
