using System.Text;

namespace FastDfs.Protocol.Tests;

/// <summary>
/// Builds golden byte strings from hand-written hex. Spaces, '|' and newlines are ignored so the hex can be laid
/// out field by field as in the protocol notes. Nothing here calls the codecs under test.
/// </summary>
internal static class Hex
{
    public static byte[] Bytes(string hex)
    {
        var sb = new StringBuilder(hex.Length);
        foreach (char c in hex)
        {
            if (!char.IsWhiteSpace(c) && c != '|')
            {
                sb.Append(c);
            }
        }

        return Convert.FromHexString(sb.ToString());
    }

    public static string Of(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    /// <summary>Hex of ASCII text NUL-padded to <paramref name="width"/> bytes (a fixed-width wire field).</summary>
    public static string Padded(string ascii, int width)
    {
        if (ascii.Length > width)
        {
            throw new ArgumentException("text wider than its field", nameof(ascii));
        }

        return Convert.ToHexStringLower(Encoding.ASCII.GetBytes(ascii)) + Zeros(width - ascii.Length);
    }

    /// <summary>Hex of ASCII text without padding (variable-length names).</summary>
    public static string Text(string ascii) => Convert.ToHexStringLower(Encoding.ASCII.GetBytes(ascii));

    public static string Zeros(int count) => new('0', count * 2);

    /// <summary>8-byte big-endian hex of a value, spelled out digit by digit (no BinaryPrimitives).</summary>
    public static string L8(long value) => ((ulong)value).ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    public static string L4(int value) => ((uint)value).ToString("x8", System.Globalization.CultureInfo.InvariantCulture);

    public static byte[] Concat(params string[] parts) => Bytes(string.Concat(parts));
}
