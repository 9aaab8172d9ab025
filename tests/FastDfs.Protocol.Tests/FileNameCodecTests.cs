using System.Text;
using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>Lossless names: bytes that are not UTF-8 survive as U+DC80..U+DCFF, valid UTF-8 is untouched.</summary>
public class FileNameCodecTests
{
    [Theory]
    [InlineData("docs")]
    [InlineData("café.txt")]
    [InlineData("日本語")]
    [InlineData("emoji 😀 pair")]
    [InlineData("\uFFFDX")]
    [InlineData("")]
    public void Valid_utf8_is_encoded_as_Encoding_UTF8_does(string name)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(name);
        Assert.Equal(utf8, FileNameCodec.Encode(name));
        Assert.Equal(utf8.Length, FileNameCodec.GetByteCount(name));
        Assert.Equal(name, FileNameCodec.Decode(utf8));
    }

    [Fact]
    public void Invalid_bytes_become_escapes_and_come_back()
    {
        // Latin-1 "café" (e9 alone is not UTF-8) and \xff, which is never UTF-8.
        byte[] latin1 = [0x63, 0x61, 0x66, 0xE9];
        Assert.Equal("caf\uDCE9", FileNameCodec.Decode(latin1));
        Assert.Equal(latin1, FileNameCodec.Encode("caf\uDCE9"));

        // \xffX stays distinct from U+FFFD X (what lossy decoding made of it).
        string escaped = FileNameCodec.Decode([0xFF, 0x58]);
        Assert.Equal("\uDCFFX", escaped);
        Assert.NotEqual(FileNameCodec.Encode("\uFFFDX"), FileNameCodec.Encode(escaped));

        // A truncated 3-byte sequence, an encoded surrogate (ED B2 80 = U+DC80, invalid in UTF-8) and an overlong '/'.
        byte[] tricky = [0xE2, 0x82, 0x41, 0xED, 0xB2, 0x80, 0xC0, 0xAF, 0xF0, 0x9F, 0x98, 0x80];
        string text = FileNameCodec.Decode(tricky);
        Assert.Equal("\uDCE2\uDC82A\uDCED\uDCB2\uDC80\uDCC0\uDCAF😀", text);
        Assert.Equal(tricky, FileNameCodec.Encode(text));
        Assert.Equal(tricky.Length, FileNameCodec.GetByteCount(text));
    }

    [Fact]
    public void Random_byte_names_round_trip()
    {
        var random = new Random(20240611);
        var seen = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] name = new byte[random.Next(1, 256)];
            random.NextBytes(name);
            for (int j = 0; j < name.Length; j++)
            {
                // Any byte but NUL and '/', biased towards the high half where UTF-8 goes wrong.
                while (name[j] is 0 or (byte)'/')
                {
                    name[j] = (byte)random.Next(256);
                }

                if (random.Next(3) == 0)
                {
                    name[j] |= 0x80;
                }
            }

            string text = FileNameCodec.Decode(name);
            Assert.True(FileNameCodec.IsEncodable(text));
            Assert.Equal(name.Length, FileNameCodec.GetByteCount(text));
            byte[] back = new byte[name.Length];
            Assert.Equal(name.Length, FileNameCodec.Encode(text, back));
            Assert.Equal(name, back);

            // Injective: two different byte names never share a string.
            if (seen.TryGetValue(text, out byte[]? earlier))
            {
                Assert.Equal(earlier, name);
            }

            seen[text] = name;
        }
    }

    [Fact]
    public void Lone_surrogates_that_stand_for_no_byte_are_refused()
    {
        // Not theory data: xUnit's serialization of test cases would turn a lone surrogate into U+FFFD.
        foreach (string name in new[] { "a\uD800b", "a\uDC7Fb", "a\uDD00", "tail\uD83D" })
        {
            Assert.False(FileNameCodec.IsEncodable(name));
            Assert.Throws<ArgumentException>(() => FileNameCodec.GetByteCount(name));
            Assert.Throws<ArgumentException>(() => FileNameCodec.Encode(name));
        }
    }
}
