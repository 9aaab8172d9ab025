using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>FastDFS base64: standard alphabet with '-' for 62, '_' for 63, no padding (notes 6.2).</summary>
public class FdfsBase64Tests
{
    private static string Reference(byte[] data) =>
        Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Encode(byte[] data)
    {
        var chars = new char[FdfsBase64.EncodedLength(data.Length)];
        int n = FdfsBase64.Encode(data, chars);
        return new string(chars, 0, n);
    }

    [Fact]
    public void Observed_name_core_encodes_its_20_bytes()
    {
        var raw = Hex.Bytes("7f000003 6b05c082 80752e79000003e8 f7a1a378");
        Assert.Equal("fwAAA2sFwIKAdS55AAAD6Peho3g", Encode(raw));
        Assert.Equal(27, FdfsBase64.EncodedLength(20));
    }

    [Fact]
    public void Observed_name_core_decodes_to_its_20_bytes()
    {
        var buffer = new byte[21];
        Assert.True(FdfsBase64.TryDecode("fwAAA2sFwIKAdS55AAAD6Peho3g", buffer, out int written));
        Assert.Equal(20, written);
        Assert.Equal(Hex.Bytes("7f0000036b05c08280752e79000003e8f7a1a378"), buffer[..20]);
    }

    [Fact]
    public void Characters_62_and_63_are_dash_and_underscore()
    {
        Assert.Equal("-_8", Encode(Hex.Bytes("fbff")));
        Assert.Equal("____", Encode(Hex.Bytes("ffffff")));
        Assert.Equal("----", Encode(Hex.Bytes("fbefbe")));
        var buffer = new byte[3];
        Assert.True(FdfsBase64.TryDecode("-_8", buffer, out int written));
        Assert.Equal(Hex.Bytes("fbff"), buffer[..written]);
    }

    [Fact]
    public void Trunk_location_is_16_chars_for_12_bytes()
    {
        Assert.Equal(16, FdfsBase64.EncodedLength(12));
        Assert.Equal("AAAAAQAAAAIAAAAD", Encode(Hex.Bytes("00000001 00000002 00000003")));
    }

    [Fact]
    public void Matches_standard_base64_for_random_inputs()
    {
        var random = new Random(20240601);
        for (int round = 0; round < 2000; round++)
        {
            var data = new byte[random.Next(0, 70)];
            random.NextBytes(data);
            string expected = Reference(data);
            Assert.Equal(expected, Encode(data));

            var decoded = new byte[data.Length + 1];
            Assert.True(FdfsBase64.TryDecode(expected, decoded, out int written));
            Assert.Equal(data, decoded[..written]);
        }
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 2)]
    [InlineData(2, 3)]
    [InlineData(3, 4)]
    [InlineData(20, 27)]
    public void Encoded_length_has_no_padding(int bytes, int chars) => Assert.Equal(chars, FdfsBase64.EncodedLength(bytes));

    [Theory]
    [InlineData("abc+")]
    [InlineData("abc/")]
    [InlineData("abc=")]
    [InlineData("ab.c")]
    [InlineData("ab c")]
    [InlineData("ab\u00e9c")]
    [InlineData("ab\u0000c")]
    public void Characters_outside_the_alphabet_fail(string text)
    {
        Assert.False(FdfsBase64.TryDecode(text, new byte[8], out _));
    }

    [Fact]
    public void Too_small_destination_fails_instead_of_throwing()
    {
        Assert.False(FdfsBase64.TryDecode("fwAAA2sFwIKAdS55AAAD6Peho3g", new byte[19], out _));
    }

    [Fact]
    public void Alphabet_membership()
    {
        foreach (char c in "ABCXYZabcxyz0189-_")
        {
            Assert.True(FdfsBase64.IsAlphabetChar(c));
        }

        foreach (char c in "+/=. \u0080\u00ff\u4e2d")
        {
            Assert.False(FdfsBase64.IsAlphabetChar(c));
        }
    }
}
