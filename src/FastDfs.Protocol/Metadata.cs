using System.Text;

namespace FastDfs.Protocol;

/// <summary>
/// Metadata wire/disk format: records separated by 0x01, name and value by 0x02, no trailing separator
/// (protocol notes section 7). Stored sorted by name, byte-wise.
/// </summary>
public static class MetadataCodec
{
    public static int GetByteCount(IReadOnlyCollection<KeyValuePair<string, string>> items)
    {
        int total = 0;
        foreach (var (key, value) in items)
        {
            total += Encoding.UTF8.GetByteCount(key) + 1 + Encoding.UTF8.GetByteCount(value);
        }

        return Math.Max(0, total + items.Count - 1);
    }

    /// <summary>Encodes; refuses names over 64 bytes and values over 256 bytes rather than truncating.</summary>
    public static byte[] Encode(IEnumerable<KeyValuePair<string, string>> items)
    {
        var list = items as IReadOnlyCollection<KeyValuePair<string, string>> ?? items.ToList();
        foreach (var (key, value) in list)
        {
            Check(key, value);
        }

        var bytes = new byte[GetByteCount(list)];
        int o = 0;
        bool first = true;
        foreach (var (key, value) in list)
        {
            if (!first)
            {
                bytes[o++] = FdfsConstants.MetaRecordSeparator;
            }

            first = false;
            o += Encoding.UTF8.GetBytes(key, bytes.AsSpan(o));
            bytes[o++] = FdfsConstants.MetaFieldSeparator;
            o += Encoding.UTF8.GetBytes(value, bytes.AsSpan(o));
        }

        return bytes;
    }

    public static void Check(string key, string value)
    {
        int k = Encoding.UTF8.GetByteCount(key);
        if (k == 0 || k > FdfsConstants.MetaNameMaxLength)
        {
            throw new FdfsProtocolException($"metadata name must be 1..{FdfsConstants.MetaNameMaxLength} bytes: '{key}'");
        }

        if (Encoding.UTF8.GetByteCount(value) > FdfsConstants.MetaValueMaxLength)
        {
            throw new FdfsProtocolException($"metadata value of '{key}' is over {FdfsConstants.MetaValueMaxLength} bytes");
        }

        if (key.AsSpan().IndexOfAny('\u0001', '\u0002') >= 0 || value.AsSpan().IndexOfAny('\u0001', '\u0002') >= 0)
        {
            throw new FdfsProtocolException($"metadata '{key}' contains a separator byte");
        }
    }

    /// <summary>
    /// Decodes as FastDFS does: records without 0x02 are skipped; over-long names and values are cut to
    /// the limits (the server must accept what C clients send).
    /// </summary>
    public static List<KeyValuePair<string, string>> Decode(ReadOnlySpan<byte> data)
    {
        var result = new List<KeyValuePair<string, string>>();
        while (!data.IsEmpty)
        {
            int end = data.IndexOf(FdfsConstants.MetaRecordSeparator);
            var record = end < 0 ? data : data[..end];
            data = end < 0 ? default : data[(end + 1)..];
            int sep = record.IndexOf(FdfsConstants.MetaFieldSeparator);
            if (sep < 0)
            {
                continue;
            }

            var name = record[..sep];
            var value = record[(sep + 1)..];
            if (name.Length > FdfsConstants.MetaNameMaxLength)
            {
                name = name[..FdfsConstants.MetaNameMaxLength];
            }

            if (value.Length > FdfsConstants.MetaValueMaxLength)
            {
                value = value[..FdfsConstants.MetaValueMaxLength];
            }

            result.Add(new(Encoding.UTF8.GetString(name), Encoding.UTF8.GetString(value)));
        }

        return result;
    }

    /// <summary>Sorts by name byte-wise, later duplicates winning, as the storage writes its -m file.</summary>
    public static List<KeyValuePair<string, string>> Normalize(IEnumerable<KeyValuePair<string, string>> items)
    {
        var map = new SortedDictionary<string, string>(Utf8ByteOrder.Instance);
        foreach (var (key, value) in items)
        {
            map[key] = value;
        }

        return map.ToList();
    }

    /// <summary>Merge (flag M): request keys replace or add, others are kept.</summary>
    public static List<KeyValuePair<string, string>> Merge(
        IEnumerable<KeyValuePair<string, string>> existing, IEnumerable<KeyValuePair<string, string>> update) =>
        Normalize(existing.Concat(update));
}

/// <summary>
/// Orders strings as their UTF-8 bytes compare (the C storage uses strcmp). Code-point order equals UTF-8 byte
/// order, whereas ordinal UTF-16 order differs for characters above U+D7FF vs supplementary ones.
/// </summary>
internal sealed class Utf8ByteOrder : IComparer<string>
{
    public static readonly Utf8ByteOrder Instance = new();

    public int Compare(string? x, string? y)
    {
        if (x is null || y is null)
        {
            return x is null ? (y is null ? 0 : -1) : 1;
        }

        var a = x.AsSpan().EnumerateRunes();
        var b = y.AsSpan().EnumerateRunes();
        while (true)
        {
            bool hasA = a.MoveNext();
            bool hasB = b.MoveNext();
            if (!hasA || !hasB)
            {
                return hasA ? 1 : hasB ? -1 : 0;
            }

            int c = a.Current.Value.CompareTo(b.Current.Value);
            if (c != 0)
            {
                return c;
            }
        }
    }
}

/// <summary>Set-metadata flag byte.</summary>
public enum MetadataFlag : byte
{
    Overwrite = (byte)'O',
    Merge = (byte)'M',
}
