using System.Net;
using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>File name construction and decoding (notes 6.2 - 6.5). Golden names are the observed ones or were
/// computed from the layout in the notes with an independent base64 implementation.</summary>
public class FileNamesTests
{
    private const string ObservedRemote = "M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt";
    private const string ObservedBin = "fwAAA2sFvYyAAqYQAAAnENbsmls633.bin";
    private const long ObservedSizeField = unchecked((long)0x80752e79000003e8UL);
    private const long ObservedAppenderSizeField = unchecked((long)0x8406755200000000UL);

    private static FileNameInfo Decode(string name)
    {
        Assert.True(FileNames.TryDecode(name, out var info), name);
        return info;
    }

    [Fact]
    public void Decodes_the_observed_txt_name()
    {
        var info = Decode(ObservedRemote);
        Assert.Equal("127.0.0.3", info.Source);
        Assert.False(info.HasServerId);
        Assert.Equal(0x6b05c082, info.Timestamp);
        Assert.Equal(ObservedSizeField, info.SizeField);
        Assert.Equal(1000, info.FileSize);
        Assert.Equal(0xf7a1a378u, info.Crc32);
        Assert.False(info.IsAppender);
        Assert.False(info.IsTrunk);
        Assert.False(info.IsSlave);
    }

    [Fact]
    public void Observed_size_field_has_bit_63_and_23_random_bits()
    {
        var info = Decode(ObservedRemote);
        Assert.NotEqual(0, info.SizeField & FileNames.NormalFlag);
        Assert.Equal(0, info.SizeField & FileNames.AppenderFlag);
        Assert.Equal(0, info.SizeField & FileNames.TrunkFlag);
        Assert.Equal(0x752e79, (info.SizeField >>> 32) & 0x7FFFFFFF);
        Assert.Equal(1000, info.SizeField & 0xFFFFFFFF);
    }

    [Fact]
    public void Decodes_the_observed_bin_name_without_path()
    {
        var info = Decode(ObservedBin);
        Assert.Equal("127.0.0.3", info.Source);
        Assert.Equal(0x6b05bd8c, info.Timestamp);
        Assert.Equal(unchecked((long)0x8002a61000002710UL), info.SizeField);
        Assert.Equal(10000, info.FileSize);
        Assert.Equal(0xd6ec9a5bu, info.Crc32);
        Assert.False(info.IsSlave);
        Assert.False(info.IsAppender);
    }

    [Fact]
    public void Source_field_is_dotted_order_in_bytes_0_to_3()
    {
        // 7f 00 00 03 read little-endian.
        Assert.Equal(0x0300007fu, Decode(ObservedRemote).SourceAddress);
        Assert.Equal(0x0300007fu, FileNames.AddressToNameField(IPAddress.Parse("127.0.0.3")));
        Assert.Equal(0x0300007fu, FileNames.AddressToNameField(IPAddress.Parse("::ffff:127.0.0.3")));
        Assert.Throws<ArgumentException>(() => FileNames.AddressToNameField(IPAddress.IPv6Loopback));
    }

    // ---- size field ----

    [Fact]
    public void Size_field_for_a_normal_file()
    {
        Assert.Equal(ObservedSizeField, FileNames.MakeSizeField(1000, appender: false, random: 0x752e79));
        Assert.Equal(unchecked((long)0x80000000FFFFFFFFUL), FileNames.MakeSizeField(0xFFFFFFFF, false, 0));
        Assert.Equal(unchecked((long)0x8000000000000000UL), FileNames.MakeSizeField(0, false, 0));
    }

    [Fact]
    public void Size_field_random_bits_are_limited_to_23()
    {
        Assert.Equal(unchecked((long)0x807FFFFF00000001UL), FileNames.MakeSizeField(1, false, -1));
    }

    [Fact]
    public void Size_field_for_an_appender_file()
    {
        Assert.Equal(ObservedAppenderSizeField, FileNames.MakeSizeField(0, appender: true, random: 0x067552));
        Assert.Equal(ObservedAppenderSizeField, FileNames.MakeSizeField(12345, appender: true, random: 0x067552));
    }

    [Theory]
    [InlineData(0x100000000L)]
    [InlineData(0x140000000L)]
    [InlineData(0x00FFFFFFFFFFFFFFL)] // bits 58/59/63 must stay clear: sizes that large are ambiguous by design
    public void Size_field_from_4_GiB_up_is_the_plain_size(long size)
    {
        Assert.Equal(size, FileNames.MakeSizeField(size, false, 0x123456));
        Assert.Equal(size, FileNames.SizeFromField(size));
    }

    [Theory]
    [InlineData(0x80752e79000003e8UL, 1000L)] // normal
    [InlineData(0x8406755200000000UL, 0L)] // appender: name gives no size
    [InlineData(0x88752e79000003e8UL, 1000L)] // trunk
    [InlineData(0x08000000000003e8UL, 1000L)] // trunk bit only
    [InlineData(0x0000000140000000UL, 0x140000000L)] // >= 4 GiB
    public void Size_from_field_rules(ulong field, long size) => Assert.Equal(size, FileNames.SizeFromField((long)field));

    // ---- MakeName ----

    [Fact]
    public void MakeName_reproduces_the_observed_core()
    {
        string name = FileNames.MakeName(FileNames.AddressToNameField(IPAddress.Parse("127.0.0.3")), 0x6b05c082,
            ObservedSizeField, 0xf7a1a378, "txt", new Random(1));
        Assert.Equal(34, name.Length);
        Assert.StartsWith("fwAAA2sFwIKAdS55AAAD6Peho3g", name, StringComparison.Ordinal);
        Assert.Matches("^fwAAA2sFwIKAdS55AAAD6Peho3g[0-9]{3}\\.txt$", name);
    }

    [Fact]
    public void MakeName_appender_matches_golden_and_round_trips()
    {
        string name = FileNames.MakeName(0x0300007f, 0x6b05c082, ObservedAppenderSizeField, 0, "log", new Random(2));
        Assert.StartsWith("fwAAA2sFwIKEBnVSAAAAAAAAAAA", name, StringComparison.Ordinal);
        var info = Decode("M00/00/00/" + name);
        Assert.True(info.IsAppender);
        Assert.False(info.IsSlave);
        Assert.False(info.IsTrunk);
        Assert.Equal(0, info.FileSize);
        Assert.Equal(ObservedAppenderSizeField, info.SizeField);
    }

    [Fact]
    public void MakeName_over_4_GiB_matches_golden_and_round_trips()
    {
        string name = FileNames.MakeName(0x0300007f, 0x6b05c082, FileNames.MakeSizeField(0x140000000, false, 0x555), 0x12345678, "iso", new Random(3));
        Assert.StartsWith("fwAAA2sFwIIAAAABQAAAABI0Vng", name, StringComparison.Ordinal);
        var info = Decode(name);
        Assert.Equal(0x140000000, info.FileSize);
        Assert.Equal(0x12345678u, info.Crc32);
        Assert.False(info.IsAppender);
    }

    [Fact]
    public void MakeName_round_trips_normal_files()
    {
        var random = new Random(4);
        for (int i = 0; i < 200; i++)
        {
            uint source = (uint)random.Next(0x01000001, int.MaxValue);
            long timestamp = (uint)random.Next();
            long size = random.NextInt64(0, 0x1_0000_0000L);
            uint crc = (uint)random.Next() ^ ((uint)random.Next(2) << 31);
            long field = FileNames.MakeSizeField(size, false, random.Next());
            string name = FileNames.MakeName(source, timestamp, field, crc, "jpg", random);
            var info = Decode("M01/AB/CD/" + name);
            Assert.Equal(source, info.SourceAddress);
            Assert.Equal(timestamp, info.Timestamp);
            Assert.Equal(field, info.SizeField);
            Assert.Equal(size, info.FileSize);
            Assert.Equal(crc, info.Crc32);
            Assert.False(info.IsAppender || info.IsSlave || info.IsTrunk);
        }
    }

    [Theory]
    [InlineData("a", "^[0-9]{5}\\.a$")]
    [InlineData("txt", "^[0-9]{3}\\.txt$")]
    [InlineData("jpeg", "^[0-9]{2}\\.jpeg$")]
    [InlineData("tar.g", "^[0-9]\\.tar\\.g$")]
    [InlineData("tar.gz", "^\\.tar\\.gz$")]
    [InlineData(null, "^[0-9]{7}$")]
    [InlineData("", "^[0-9]{7}$")]
    public void Extension_part_is_always_7_chars(string? ext, string pattern)
    {
        string name = FileNames.MakeName(0x0300007f, 1, ObservedSizeField, 0, ext, new Random(5));
        Assert.Equal(34, name.Length);
        Assert.Matches(pattern, name[27..]);
    }

    [Theory]
    [InlineData("txt", true)]
    [InlineData("tar.gz", true)]
    [InlineData("a-b_c", true)]
    [InlineData("", true)]
    [InlineData("abcdefg", false)]
    [InlineData("a/b", false)]
    [InlineData("a b", false)]
    [InlineData("\u00e9", false)]
    public void Extension_validation(string ext, bool valid) => Assert.Equal(valid, FileNames.IsValidExtension(ext));

    [Theory]
    [InlineData("_150x150", true)]
    [InlineData("-m", true)]
    [InlineData("abcdefghijklmnop", true)]
    [InlineData("abcdefghijklmnopq", false)]
    [InlineData("", false)]
    [InlineData("a/b", false)]
    [InlineData("a..b", true)]
    public void Prefix_validation(string prefix, bool valid) => Assert.Equal(valid, FileNames.IsValidPrefix(prefix));

    // ---- slave names ----

    [Fact]
    public void Slave_name_of_the_observed_master()
    {
        Assert.Equal("M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674_150x150.jpg",
            FileNames.MakeSlaveName(ObservedRemote, "_150x150", "jpg"));
    }

    [Fact]
    public void Slave_name_keeps_the_master_extension_when_none_given()
    {
        Assert.Equal("M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674_s.txt", FileNames.MakeSlaveName(ObservedRemote, "_s", null));
        Assert.Equal("M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674_s.txt", FileNames.MakeSlaveName(ObservedRemote, "_s", string.Empty));
    }

    [Fact]
    public void Slave_name_of_a_master_without_extension()
    {
        const string master = "M00/00/00/fwAAA2sFwIKAdS55AAAD6Peho3g6135722";
        Assert.Equal(master + "_t", FileNames.MakeSlaveName(master, "_t", null));
        Assert.Equal(master + "_t.png", FileNames.MakeSlaveName(master, "_t", "png"));
    }

    [Fact]
    public void Slave_name_is_detected_as_slave()
    {
        var info = Decode(FileNames.MakeSlaveName(ObservedRemote, "_150x150", "jpg"));
        Assert.True(info.IsSlave);
        Assert.False(info.IsTrunk);
        Assert.False(info.IsAppender);
        Assert.Equal("127.0.0.3", info.Source);
    }

    // ---- trunk names ----

    private const string TrunkRemote = "M00/00/00/fwAAA2sFwIKIdS55AAAD6Peho3g" + "AAAAAQAAAQAAAAPo" + "674.txt";

    [Fact]
    public void Trunk_name_is_60_chars_and_detected()
    {
        Assert.Equal(60, TrunkRemote.Length);
        var info = Decode(TrunkRemote);
        Assert.True(info.IsTrunk);
        Assert.False(info.IsSlave);
        Assert.False(info.IsAppender);
        Assert.Equal(1000, info.FileSize);
    }

    [Fact]
    public void Sixty_char_name_without_trunk_bit_is_a_slave()
    {
        string remote = "M00/00/00/fwAAA2sFwIKAdS55AAAD6Peho3g" + "AAAAAQAAAQAAAAPo" + "674.txt";
        Assert.Equal(60, remote.Length);
        var info = Decode(remote);
        Assert.False(info.IsTrunk);
        Assert.True(info.IsSlave);
    }

    [Fact]
    public void Slave_of_a_trunk_file_is_a_slave()
    {
        var info = Decode(FileNames.MakeSlaveName(TrunkRemote, "_s", "jpg"));
        Assert.True(info.IsSlave);
        Assert.False(info.IsTrunk);
    }

    // ---- server ID vs IP ----

    [Fact]
    public void Server_id_in_name_is_detected()
    {
        // Server ID 100 as a little-endian int: 64 00 00 00.
        var info = Decode("M00/03/52/ZAAAAGsFwIKAdS55AAAD6Peho3g674.txt");
        Assert.True(info.HasServerId);
        Assert.Equal("100", info.Source);
        Assert.Equal(100u, info.SourceAddress);
        Assert.Equal(1000, info.FileSize);
    }

    [Fact]
    public void Largest_server_id_is_2_pow_24_minus_1()
    {
        var info = Decode("____AGsFwIKAdS55AAAD6Peho3g674.txt");
        Assert.True(info.HasServerId);
        Assert.Equal("16777215", info.Source);
    }

    [Fact]
    public void MakeName_with_a_server_id_round_trips()
    {
        string name = FileNames.MakeName(100, 0x6b05c082, ObservedSizeField, 0xf7a1a378, "txt", new Random(6));
        Assert.StartsWith("ZAAAAGsFwIKAdS55AAAD6Peho3g", name, StringComparison.Ordinal);
        Assert.True(Decode(name).HasServerId);
    }

    [Theory]
    [InlineData("127.0.0.3")]
    [InlineData("10.0.0.1")]
    [InlineData("192.168.1.1")]
    [InlineData("255.255.255.255")]
    [InlineData("0.0.0.1")]
    public void Ip_sources_are_not_server_ids(string ip)
    {
        uint field = FileNames.AddressToNameField(IPAddress.Parse(ip));
        var info = Decode(FileNames.MakeName(field, 1, ObservedSizeField, 0, "txt", new Random(7)));
        Assert.False(info.HasServerId);
        Assert.Equal(ip, info.Source);
    }

    // ---- undecodable names ----

    [Theory]
    [InlineData("")]
    [InlineData("M00/00/00/")]
    [InlineData("fwAAA2sFwIKAdS55AAAD6Peho3")] // 26 chars
    [InlineData("fwAAA2sFwIKAdS55AAAD6Pe.o3g674.txt")]
    [InlineData("M00/00/00/fwAAA2sFwIKAdS55AAAD6Pe+o3g674.txt")]
    public void Undecodable_names_return_false(string name)
    {
        Assert.False(FileNames.TryDecode(name, out _));
    }
}
