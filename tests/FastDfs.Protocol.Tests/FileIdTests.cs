using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>File IDs (<c>group/Mxx/HH/HH/name</c>) and remote filename validation (notes 5.1, 6.1).</summary>
public class FileIdTests
{
    private const string Observed = "group1/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt";

    [Theory]
    [InlineData(Observed, "group1", "M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    [InlineData("group1/M00/00/00/fwAAA2sFvYyAAqYQAAAnENbsmls633.bin", "group1", "M00/00/00/fwAAA2sFvYyAAqYQAAAnENbsmls633.bin")]
    [InlineData("group1/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674_150x150.jpg", "group1", "M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674_150x150.jpg")]
    [InlineData("G/MFF/FF/0A/fwAAA2sFwIKAdS55AAAD6Peho3g6135722", "G", "MFF/FF/0A/fwAAA2sFwIKAdS55AAAD6Peho3g6135722")]
    [InlineData("groupname1234567/M1A/B0/C9/fwAAA2sFwIKAdS55AAAD6Peho3g", "groupname1234567", "M1A/B0/C9/fwAAA2sFwIKAdS55AAAD6Peho3g")]
    [InlineData("group1/M00/00/00/-_AAA2sFwIKAdS55AAAD6Peho3g674.txt", "group1", "M00/00/00/-_AAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    public void Valid_ids_parse(string fileId, string group, string remote)
    {
        var id = FileId.Parse(fileId);
        Assert.Equal(group, id.Group);
        Assert.Equal(remote, id.RemoteFileName);
        Assert.Equal(fileId, id.ToString());
        Assert.True(FileId.TryParse(fileId, out var again, out string? error));
        Assert.Null(error);
        Assert.Equal(id, again);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("group1")] // no slash
    [InlineData("/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")] // empty group / absolute
    [InlineData("/etc/passwd")]
    [InlineData("/group1/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    [InlineData("group1//M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")] // remote is absolute
    [InlineData("groupname12345678/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")] // group 17 chars
    [InlineData("group-1/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    [InlineData("group_1/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    [InlineData("group.1/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    [InlineData("..//M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    [InlineData("gr\u00fcp1/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")] // non-ASCII letter
    [InlineData("group 1/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    [InlineData("group1/M00/03/52/../../../../etc/passwd")] // traversal
    [InlineData("group1/M00/03/52/..fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    [InlineData("group1/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674..txt")]
    [InlineData("group1/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt/..")]
    [InlineData("group1/M00/03/52/fwAAA2sFwIKAdS55/AAD6Peho3g674.txt")] // '/' inside the name
    [InlineData("group1/M00/03/52/sub/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    [InlineData("group1/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674\\x.txt")]
    [InlineData("group1/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674\u0000.txt")]
    [InlineData("group1/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674 .txt")]
    [InlineData("group1/M00/03/52/.fwAAA2sFwIKAdS55AAAD6Peho3g674")] // hidden name
    [InlineData("group1/m00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")] // lower-case m
    [InlineData("group1/M0a/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")] // lower-case hex
    [InlineData("group1/M00/0a/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    [InlineData("group1/M00/03/5f/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    [InlineData("group1/M0G/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")] // not hex
    [InlineData("group1/M000/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")] // wrong path lengths
    [InlineData("group1/M00/003/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    [InlineData("group1/M00/03/5/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    [InlineData("group1/M00/03/52")]
    [InlineData("group1/M00/03/52/")]
    [InlineData("group1/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3")] // name shorter than the 27-char core
    [InlineData("group1/X00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    [InlineData("group1/M00\\03\\52\\fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    public void Hostile_or_malformed_ids_are_rejected(string? fileId)
    {
        Assert.False(FileId.TryParse(fileId, out _, out string? error));
        Assert.False(string.IsNullOrEmpty(error));
        if (fileId is not null)
        {
            var ex = Assert.Throws<FdfsProtocolException>(() => FileId.Parse(fileId));
            Assert.Equal(FdfsErrno.EINVAL, ex.Errno);
        }
    }

    [Fact]
    public void Remote_name_longer_than_127_is_rejected()
    {
        string ok = "M00/00/00/" + new string('a', 117);
        Assert.Equal(127, ok.Length);
        Assert.True(RemoteNames.TryValidate(ok, out _));
        Assert.False(RemoteNames.TryValidate(ok + "a", out _));
    }

    [Fact]
    public void Remote_name_minimum_is_path_plus_core()
    {
        Assert.True(RemoteNames.TryValidate("M00/00/00/" + new string('A', 27), out _));
        Assert.False(RemoteNames.TryValidate("M00/00/00/" + new string('A', 26), out _));
        Assert.False(RemoteNames.TryValidate(null, out _));
    }

    [Fact]
    public void Validate_throws_EINVAL()
    {
        Assert.Equal("M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt", RemoteNames.Validate("M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt"));
        Assert.Equal(FdfsErrno.EINVAL, Assert.Throws<FdfsProtocolException>(() => RemoteNames.Validate("M00/03/52/../x")).Errno);
    }

    [Theory]
    [InlineData("M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt", 0)]
    [InlineData("M01/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt", 1)]
    [InlineData("M0F/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt", 15)]
    [InlineData("M1A/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt", 26)]
    [InlineData("MFF/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt", 255)]
    public void Store_path_index_comes_from_Mxx(string remote, int index) => Assert.Equal(index, RemoteNames.StorePathIndex(remote));

    [Theory]
    [InlineData("group1", true)]
    [InlineData("G", true)]
    [InlineData("groupname1234567", true)]
    [InlineData("groupname12345678", false)]
    [InlineData("", false)]
    [InlineData("group-1", false)]
    [InlineData("group_1", false)]
    [InlineData("gr\u00fcp", false)]
    [InlineData("group\u0000", false)]
    public void Group_name_rules(string name, bool valid)
    {
        Assert.Equal(valid, GroupName.IsValid(name));
        if (valid)
        {
            Assert.Equal(name, GroupName.Validate(name));
        }
        else
        {
            Assert.Throws<FdfsProtocolException>(() => GroupName.Validate(name));
        }
    }
}
