using System.Text;
using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>Metadata wire/disk format (notes 7): records split by 0x01, name/value by 0x02.</summary>
public class MetadataCodecTests
{
    // Observed after two set-metadata calls: a 02 b 01 k1 02 v9 01 z 02 last
    private const string Observed = "61 02 62 | 01 | 6b31 02 7639 | 01 | 7a 02 6c617374";

    private static KeyValuePair<string, string> P(string key, string value) => new(key, value);

    [Fact]
    public void Encodes_the_observed_example()
    {
        Assert.Equal(Hex.Bytes(Observed), MetadataCodec.Encode([P("a", "b"), P("k1", "v9"), P("z", "last")]));
    }

    [Fact]
    public void Decodes_the_observed_example()
    {
        Assert.Equal([P("a", "b"), P("k1", "v9"), P("z", "last")], MetadataCodec.Decode(Hex.Bytes(Observed)));
    }

    [Fact]
    public void Byte_count_matches_encoding()
    {
        Assert.Equal(16, MetadataCodec.GetByteCount([P("a", "b"), P("k1", "v9"), P("z", "last")]));
        Assert.Equal(0, MetadataCodec.GetByteCount([]));
    }

    [Fact]
    public void Empty_list_is_empty_bytes_and_back()
    {
        Assert.Empty(MetadataCodec.Encode([]));
        Assert.Empty(MetadataCodec.Decode([]));
    }

    [Fact]
    public void Single_record_has_no_separator()
    {
        Assert.Equal(Hex.Bytes("6b 02 76"), MetadataCodec.Encode([P("k", "v")]));
    }

    [Fact]
    public void Empty_value_is_kept()
    {
        Assert.Equal(Hex.Bytes("6b 02 01 6c 02 78"), MetadataCodec.Encode([P("k", string.Empty), P("l", "x")]));
        Assert.Equal([P("k", string.Empty), P("l", "x")], MetadataCodec.Decode(Hex.Bytes("6b 02 01 6c 02 78")));
    }

    [Fact]
    public void Records_without_field_separator_are_skipped()
    {
        // "a" 01 "k1" 02 "v9" 01 01 "junk" 01 "z" 02 "last"
        var data = Hex.Bytes("61 01 6b31 02 7639 01 01 6a756e6b 01 7a 02 6c617374");
        Assert.Equal([P("k1", "v9"), P("z", "last")], MetadataCodec.Decode(data));
    }

    [Fact]
    public void Value_may_contain_a_second_field_separator()
    {
        // Only the first 0x02 splits name from value.
        Assert.Equal([P("k", "a\u0002b")], MetadataCodec.Decode(Hex.Bytes("6b 02 61 02 62")));
    }

    [Fact]
    public void Trailing_record_separator_is_harmless()
    {
        Assert.Equal([P("k", "v")], MetadataCodec.Decode(Hex.Bytes("6b 02 76 01")));
    }

    [Fact]
    public void Over_long_name_and_value_are_truncated_when_decoding()
    {
        string name = new('n', 65);
        string value = new('v', 257);
        var data = Encoding.ASCII.GetBytes(name + "\u0002" + value);
        var decoded = Assert.Single(MetadataCodec.Decode(data));
        Assert.Equal(new string('n', 64), decoded.Key);
        Assert.Equal(new string('v', 256), decoded.Value);
    }

    [Fact]
    public void Exact_limits_are_kept_when_decoding_and_encoding()
    {
        var pair = P(new string('n', 64), new string('v', 256));
        var bytes = MetadataCodec.Encode([pair]);
        Assert.Equal(64 + 1 + 256, bytes.Length);
        Assert.Equal([pair], MetadataCodec.Decode(bytes));
    }

    [Theory]
    [InlineData(65, 1)]
    [InlineData(1, 257)]
    [InlineData(0, 1)]
    public void Over_long_or_empty_name_and_over_long_value_are_refused_when_encoding(int nameLength, int valueLength)
    {
        var pair = P(new string('n', nameLength), new string('v', valueLength));
        Assert.Throws<FdfsProtocolException>(() => MetadataCodec.Encode([pair]));
    }

    [Fact]
    public void Limits_count_utf8_bytes()
    {
        // 33 x U+00E9 is 66 UTF-8 bytes: over the 64-byte name limit even though it is 33 chars.
        Assert.Throws<FdfsProtocolException>(() => MetadataCodec.Encode([P(new string('\u00e9', 33), "v")]));
        Assert.Equal(Hex.Bytes("c3a9 02 c3a9"), MetadataCodec.Encode([P("\u00e9", "\u00e9")]));
    }

    [Theory]
    [InlineData("a\u0001b", "v")]
    [InlineData("a\u0002b", "v")]
    [InlineData("k", "x\u0001y")]
    [InlineData("k", "x\u0002y")]
    public void Separators_inside_names_or_values_are_refused(string key, string value)
    {
        Assert.Throws<FdfsProtocolException>(() => MetadataCodec.Encode([P(key, value)]));
    }

    [Fact]
    public void Normalize_sorts_by_name_bytewise_and_later_duplicates_win()
    {
        var sorted = MetadataCodec.Normalize([P("z", "last"), P("k1", "v1"), P("a", "b"), P("B", "upper"), P("k1", "v9")]);
        Assert.Equal([P("B", "upper"), P("a", "b"), P("k1", "v9"), P("z", "last")], sorted);
        Assert.Equal(Hex.Bytes("42 02 7570706572 01" + Observed), MetadataCodec.Encode(sorted));
    }

    [Fact]
    public void Normalize_orders_by_utf8_bytes_not_utf16_units()
    {
        // U+FF61 is ef bd a1, U+1F600 is f0 9f 98 80: byte-wise (strcmp) U+FF61 sorts first,
        // while UTF-16 code-unit order (0xFF61 vs 0xD83D) would put the emoji first.
        string halfwidth = "\uff61";
        string emoji = "\U0001F600";
        var sorted = MetadataCodec.Normalize([P(emoji, "1"), P(halfwidth, "2")]);
        Assert.Equal([P(halfwidth, "2"), P(emoji, "1")], sorted);
    }

    [Fact]
    public void Merge_replaces_and_adds_keeping_other_keys()
    {
        var existing = MetadataCodec.Decode(Hex.Bytes("61 02 62 01 6b31 02 7631"));
        var merged = MetadataCodec.Merge(existing, [P("z", "last"), P("k1", "v9")]);
        Assert.Equal(Hex.Bytes(Observed), MetadataCodec.Encode(merged));
    }

    [Fact]
    public void Merge_with_empty_update_is_a_no_op()
    {
        var existing = MetadataCodec.Decode(Hex.Bytes(Observed));
        Assert.Equal(existing, MetadataCodec.Merge(existing, []));
    }

    [Fact]
    public void Flag_bytes_are_O_and_M()
    {
        Assert.Equal(0x4f, (byte)MetadataFlag.Overwrite);
        Assert.Equal(0x4d, (byte)MetadataFlag.Merge);
    }
}
