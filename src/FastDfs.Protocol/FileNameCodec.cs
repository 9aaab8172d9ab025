using System.Text;
using System.Text.Unicode;

namespace FastDfs.Protocol;

/// <summary>
/// File names and symlink targets as bytes &lt;-&gt; strings without loss (Python's "surrogateescape"). Linux names are
/// any bytes but '/' and NUL; valid UTF-8 decodes as usual, and every byte that is not part of valid UTF-8 becomes the
/// lone surrogate U+DC80..U+DCFF (U+DC00 + the byte). Valid UTF-8 never decodes to a lone surrogate, so encoding maps
/// those back to their bytes exactly, and a valid UTF-8 name encodes to the bytes <see cref="Encoding.UTF8"/> gives.
/// A lone surrogate outside that range has no byte to go back to: encoding refuses it.
/// </summary>
public static class FileNameCodec
{
    private const char FirstEscape = '\uDC80';
    private const char LastEscape = '\uDCFF';

    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes))
        {
            return Encoding.UTF8.GetString(bytes);
        }

        var text = new StringBuilder(bytes.Length);
        Span<char> pair = stackalloc char[2];
        while (!bytes.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(bytes, out var rune, out int consumed) == System.Buffers.OperationStatus.Done)
            {
                text.Append(pair[..rune.EncodeToUtf16(pair)]);
            }
            else
            {
                // The maximal invalid subsequence: a lead byte and the continuation bytes it claimed (never ASCII).
                foreach (byte b in bytes[..consumed])
                {
                    text.Append((char)(0xDC00 + b));
                }
            }

            bytes = bytes[consumed..];
        }

        return text.ToString();
    }

    /// <summary>The encoded length in bytes (what NAME_MAX counts).</summary>
    public static int GetByteCount(ReadOnlySpan<char> text)
    {
        if (!HasSurrogates(text))
        {
            return Encoding.UTF8.GetByteCount(text);
        }

        int count = 0;
        for (int i = 0; i < text.Length;)
        {
            count += Step(text, ref i, default, write: false);
        }

        return count;
    }

    /// <summary>Writes the bytes of <paramref name="text"/>; returns how many. The destination must be large enough.</summary>
    public static int Encode(ReadOnlySpan<char> text, Span<byte> destination)
    {
        if (!HasSurrogates(text))
        {
            return Encoding.UTF8.GetBytes(text, destination);
        }

        int at = 0;
        for (int i = 0; i < text.Length;)
        {
            at += Step(text, ref i, destination[at..], write: true);
        }

        return at;
    }

    public static byte[] Encode(string text)
    {
        byte[] bytes = new byte[GetByteCount(text)];
        Encode(text, bytes);
        return bytes;
    }

    /// <summary>True when <paramref name="text"/> has a lone surrogate that is not an escaped byte (no bytes map to it).</summary>
    public static bool IsEncodable(ReadOnlySpan<char> text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c) && c is not (>= FirstEscape and <= LastEscape))
            {
                return false;
            }
        }

        return true;
    }

    private static bool HasSurrogates(ReadOnlySpan<char> text) => text.IndexOfAnyInRange('\uD800', '\uDFFF') >= 0;

    /// <summary>
    /// Encodes (or with <paramref name="write"/> false only measures) the scalar or escaped byte at <paramref name="i"/>
    /// and moves past it; returns its byte count.
    /// </summary>
    private static int Step(ReadOnlySpan<char> text, ref int i, Span<byte> destination, bool write)
    {
        char c = text[i];
        if (c is >= FirstEscape and <= LastEscape)
        {
            i++;
            if (write)
            {
                destination[0] = (byte)(c - 0xDC00);
            }

            return 1;
        }

        if (Rune.DecodeFromUtf16(text[i..], out var rune, out int used) != System.Buffers.OperationStatus.Done)
        {
            throw new ArgumentException(
                $"the name has a lone surrogate U+{(int)c:X4} at {i}: only U+DC80..U+DCFF stand for bytes", nameof(text));
        }

        i += used;
        return write ? rune.EncodeToUtf8(destination) : rune.Utf8SequenceLength;
    }
}
