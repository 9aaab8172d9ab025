using System.Buffers.Binary;
using System.Text;

namespace FastDfs.Protocol;

/// <summary>Sequential big-endian writer over a caller-provided span. Fixed-width text is NUL-padded.</summary>
public ref struct WireWriter
{
    private readonly Span<byte> _buffer;
    private int _position;

    public WireWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    public readonly int Position => _position;

    public readonly Span<byte> Written => _buffer[.._position];

    public void WriteByte(byte value) => _buffer[_position++] = value;

    public void WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(_buffer[_position..], value);
        _position += 8;
    }

    public void WriteInt32(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(_buffer[_position..], value);
        _position += 4;
    }

    /// <summary>Writes ASCII text into exactly <paramref name="width"/> bytes, NUL-padded; refuses longer text.</summary>
    public void WriteFixed(string? text, int width)
    {
        var field = _buffer.Slice(_position, width);
        field.Clear();
        if (!string.IsNullOrEmpty(text))
        {
            if (Encoding.UTF8.GetByteCount(text) > width)
            {
                throw new FdfsProtocolException($"'{text}' is longer than its {width}-byte field");
            }

            Encoding.UTF8.GetBytes(text, field);
        }

        _position += width;
    }

    public void WriteFixed(ReadOnlySpan<byte> bytes, int width)
    {
        if (bytes.Length > width)
        {
            throw new FdfsProtocolException($"value is longer than its {width}-byte field");
        }

        var field = _buffer.Slice(_position, width);
        field.Clear();
        bytes.CopyTo(field);
        _position += width;
    }

    /// <summary>Writes variable-length text with no terminator.</summary>
    public void WriteText(string text) => _position += Encoding.UTF8.GetBytes(text, _buffer[_position..]);

    /// <summary>Writes a file name or symlink target (<see cref="FileNameCodec"/>) with no terminator.</summary>
    public void WriteName(string name) => _position += FileNameCodec.Encode(name, _buffer[_position..]);

    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer[_position..]);
        _position += bytes.Length;
    }
}

/// <summary>Sequential big-endian reader; every read checks the remaining length and throws EINVAL when short.</summary>
public ref struct WireReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private int _position;

    public WireReader(ReadOnlySpan<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    public readonly int Position => _position;

    public readonly int Remaining => _buffer.Length - _position;

    public readonly ReadOnlySpan<byte> Rest => _buffer[_position..];

    private readonly void Need(int count, string what)
    {
        if (Remaining < count)
        {
            throw FdfsProtocolException.Truncated(what, count, Remaining);
        }
    }

    public byte ReadByte(string what = "byte")
    {
        Need(1, what);
        return _buffer[_position++];
    }

    public long ReadInt64(string what = "int64")
    {
        Need(8, what);
        long value = BinaryPrimitives.ReadInt64BigEndian(_buffer[_position..]);
        _position += 8;
        return value;
    }

    public int ReadInt32(string what = "int32")
    {
        Need(4, what);
        int value = BinaryPrimitives.ReadInt32BigEndian(_buffer[_position..]);
        _position += 4;
        return value;
    }

    /// <summary>Reads a NUL-padded fixed-width text field; the text ends at the first NUL.</summary>
    public string ReadFixed(int width, string what = "text")
    {
        Need(width, what);
        var field = _buffer.Slice(_position, width);
        _position += width;
        return WireText.FromPadded(field);
    }

    public ReadOnlySpan<byte> ReadBytes(int count, string what = "bytes")
    {
        Need(count, what);
        var slice = _buffer.Slice(_position, count);
        _position += count;
        return slice;
    }

    /// <summary>Reads the rest of the packet as text (variable-length names carry no terminator).</summary>
    public string ReadRestAsText()
    {
        var rest = Rest;
        _position = _buffer.Length;
        return Encoding.UTF8.GetString(rest);
    }
}

public static class WireText
{
    public static string FromPadded(ReadOnlySpan<byte> field)
    {
        int end = field.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }
}
