namespace FastDfs.Protocol;

/// <summary>
/// FastDFS's base64 for file names: the standard alphabet with '-' for 62 and '_' for 63, no padding
/// (protocol notes 6.2). Names are short, so a tiny table-driven codec beats converting through Convert.
/// </summary>
public static class FdfsBase64
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    private static readonly sbyte[] Reverse = BuildReverse();

    private static sbyte[] BuildReverse()
    {
        var table = new sbyte[128];
        Array.Fill(table, (sbyte)-1);
        for (int i = 0; i < Alphabet.Length; i++)
        {
            table[Alphabet[i]] = (sbyte)i;
        }

        return table;
    }

    public static int EncodedLength(int byteCount) => (byteCount * 8 + 5) / 6;

    public static int Encode(ReadOnlySpan<byte> source, Span<char> destination)
    {
        int o = 0;
        int i = 0;
        for (; i + 3 <= source.Length; i += 3)
        {
            int v = (source[i] << 16) | (source[i + 1] << 8) | source[i + 2];
            destination[o++] = Alphabet[(v >> 18) & 63];
            destination[o++] = Alphabet[(v >> 12) & 63];
            destination[o++] = Alphabet[(v >> 6) & 63];
            destination[o++] = Alphabet[v & 63];
        }

        int left = source.Length - i;
        if (left == 1)
        {
            int v = source[i] << 16;
            destination[o++] = Alphabet[(v >> 18) & 63];
            destination[o++] = Alphabet[(v >> 12) & 63];
        }
        else if (left == 2)
        {
            int v = (source[i] << 16) | (source[i + 1] << 8);
            destination[o++] = Alphabet[(v >> 18) & 63];
            destination[o++] = Alphabet[(v >> 12) & 63];
            destination[o++] = Alphabet[(v >> 6) & 63];
        }

        return o;
    }

    /// <summary>Decodes unpadded text; returns false on a character outside the alphabet.</summary>
    public static bool TryDecode(ReadOnlySpan<char> source, Span<byte> destination, out int written)
    {
        written = 0;
        int bits = 0;
        int acc = 0;
        foreach (char c in source)
        {
            int v = c < 128 ? Reverse[c] : -1;
            if (v < 0)
            {
                return false;
            }

            acc = (acc << 6) | v;
            bits += 6;
            if (bits >= 8)
            {
                bits -= 8;
                if (written >= destination.Length)
                {
                    return false;
                }

                destination[written++] = (byte)(acc >> bits);
                acc &= (1 << bits) - 1;
            }
        }

        return true;
    }

    public static bool IsAlphabetChar(char c) => c < 128 && Reverse[c] >= 0;
}
