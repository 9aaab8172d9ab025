using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace FastDfs.Protocol;

/// <summary>A FastDFS file ID: <c>group/Mxx/HH/HH/name</c>.</summary>
public readonly record struct FileId(string Group, string RemoteFileName)
{
    public override string ToString() => Group + "/" + RemoteFileName;

    public static FileId Parse(string fileId) =>
        TryParse(fileId, out var id, out string? error) ? id : throw new FdfsProtocolException(error);

    public static bool TryParse(string? fileId, out FileId id, [NotNullWhen(false)] out string? error)
    {
        id = default;
        if (string.IsNullOrEmpty(fileId))
        {
            error = "empty file ID";
            return false;
        }

        int slash = fileId.IndexOf('/');
        if (slash <= 0)
        {
            error = $"file ID '{fileId}' has no group part";
            return false;
        }

        string group = fileId[..slash];
        string remote = fileId[(slash + 1)..];
        if (!GroupName.IsValid(group))
        {
            error = $"invalid group name '{group}' in file ID";
            return false;
        }

        if (!RemoteNames.TryValidate(remote, out error))
        {
            return false;
        }

        id = new FileId(group, remote);
        return true;
    }
}

/// <summary>The facts a FastDFS file name encodes (protocol notes 6.2, 6.3).</summary>
public readonly record struct FileNameInfo(
    uint SourceAddress,
    long Timestamp,
    long SizeField,
    uint Crc32,
    bool IsAppender,
    bool IsTrunk,
    bool IsSlave)
{
    /// <summary>Size the name records; meaningless for appender and slave files (ask the storage).</summary>
    public long FileSize => FileNames.SizeFromField(SizeField);

    /// <summary>
    /// True when the 4 source bytes hold a numeric storage ID instead of an IPv4 address: read little-endian
    /// (as <see cref="SourceAddress"/> is), IDs are 1..2^24-1 and IPv4 addresses are larger (notes 6.2).
    /// </summary>
    public bool HasServerId => SourceAddress is > 0 and <= 0xFFFFFF;

    /// <summary>Source IPv4 address in dotted form (bytes 0..3 in order), or the storage ID number as text.</summary>
    public string Source
    {
        get
        {
            if (HasServerId)
            {
                return SourceAddress.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(bytes, SourceAddress);
            return new IPAddress(bytes).ToString();
        }
    }
}

/// <summary>Remote filename rules: <c>Mxx/HH/HH/name</c>, upper-case hex, no further slash, no dot-dot.</summary>
public static class RemoteNames
{
    public static bool TryValidate(string? remote, [NotNullWhen(false)] out string? error)
    {
        error = null;
        if (remote is null || remote.Length < FdfsConstants.LogicPathLength + FdfsConstants.FileNameCoreLength)
        {
            error = "remote filename too short";
            return false;
        }

        if (remote.Length > FdfsConstants.RemoteFileNameMaxLength)
        {
            error = "remote filename too long";
            return false;
        }

        if (remote[0] != 'M' || !IsUpperHex(remote[1]) || !IsUpperHex(remote[2]) || remote[3] != '/'
            || !IsUpperHex(remote[4]) || !IsUpperHex(remote[5]) || remote[6] != '/'
            || !IsUpperHex(remote[7]) || !IsUpperHex(remote[8]) || remote[9] != '/')
        {
            error = "remote filename must start with Mxx/HH/HH/";
            return false;
        }

        var name = remote.AsSpan(FdfsConstants.LogicPathLength);
        if (name.StartsWith(".") || name.Contains("..", StringComparison.Ordinal))
        {
            error = "remote filename contains '..'";
            return false;
        }

        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                error = $"remote filename contains '{c}'";
                return false;
            }
        }

        return true;
    }

    public static string Validate(string remote) =>
        TryValidate(remote, out string? error) ? remote : throw new FdfsProtocolException(error);

    /// <summary>Store path index from the <c>Mxx</c> prefix of a validated name.</summary>
    public static int StorePathIndex(string remote) => HexValue(remote[1]) * 16 + HexValue(remote[2]);

    private static bool IsUpperHex(char c) => c is (>= '0' and <= '9') or (>= 'A' and <= 'F');

    private static int HexValue(char c) => c <= '9' ? c - '0' : c - 'A' + 10;
}

/// <summary>Builds and decodes FastDFS file names (protocol notes section 6).</summary>
public static class FileNames
{
    public const long NormalFlag = unchecked((long)0x8000000000000000UL);
    public const long AppenderFlag = 0x0400000000000000L;
    public const long TrunkFlag = 0x0800000000000000L;
    private const long RandomMask = 0x007FFFFF;

    public static long SizeFromField(long field)
    {
        if ((field & AppenderFlag) != 0)
        {
            return 0;
        }

        if ((field & NormalFlag) != 0 || (field & TrunkFlag) != 0)
        {
            return field & 0xFFFFFFFFL;
        }

        return field;
    }

    /// <summary>The size field for a new file: random high bits keep names unique for equal inputs.</summary>
    public static long MakeSizeField(long size, bool appender, int random)
    {
        long hi = (random & RandomMask) << 32;
        if (appender)
        {
            return NormalFlag | AppenderFlag | hi;
        }

        return size < 0x1_0000_0000L ? NormalFlag | hi | size : size;
    }

    /// <summary>
    /// The name part of a new file: 27 base64 chars for (source, timestamp, size field, crc32) then a 7-char
    /// extension part (random digits, '.', extension).
    /// </summary>
    public static string MakeName(uint sourceAddressNetworkOrder, long timestamp, long sizeField, uint crc32, string? ext, Random random)
    {
        Span<byte> raw = stackalloc byte[20];
        BinaryPrimitives.WriteUInt32LittleEndian(raw, sourceAddressNetworkOrder);
        BinaryPrimitives.WriteUInt32BigEndian(raw[4..], (uint)timestamp);
        BinaryPrimitives.WriteInt64BigEndian(raw[8..], sizeField);
        BinaryPrimitives.WriteUInt32BigEndian(raw[16..], crc32);
        Span<char> chars = stackalloc char[FdfsConstants.FileNameCoreLength + FdfsConstants.FileNameExtPartLength];
        int n = FdfsBase64.Encode(raw, chars);
        int digits = FdfsConstants.FileNameExtPartLength - (string.IsNullOrEmpty(ext) ? 0 : ext.Length + 1);
        for (int i = 0; i < digits; i++)
        {
            chars[n++] = (char)('0' + random.Next(10));
        }

        if (!string.IsNullOrEmpty(ext))
        {
            chars[n++] = '.';
            ext.AsSpan().CopyTo(chars[n..]);
            n += ext.Length;
        }

        return new string(chars[..n]);
    }

    /// <summary>IPv4 address bytes as FastDFS puts them in names: dotted order in bytes 0..3.</summary>
    public static uint AddressToNameField(IPAddress address)
    {
        Span<byte> b = stackalloc byte[4];
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (!address.TryWriteBytes(b, out int written) || written != 4)
        {
            throw new ArgumentException("FastDFS file names carry IPv4 source addresses", nameof(address));
        }

        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    public static bool IsValidExtension(ReadOnlySpan<char> ext)
    {
        if (ext.Length > FdfsConstants.FileExtMaxLength)
        {
            return false;
        }

        foreach (char c in ext)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    public static bool IsValidPrefix(ReadOnlySpan<char> prefix)
    {
        if (prefix.IsEmpty || prefix.Length > FdfsConstants.FilePrefixMaxLength)
        {
            return false;
        }

        foreach (char c in prefix)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Decodes the facts in a remote filename (<c>Mxx/HH/HH/name</c>) or a bare name.</summary>
    public static bool TryDecode(string remoteOrName, out FileNameInfo info)
    {
        info = default;
        var name = remoteOrName.AsSpan();
        int logicLength = name.Length;
        if (name.Length > FdfsConstants.LogicPathLength && name[3] == '/' && name[0] == 'M')
        {
            name = name[FdfsConstants.LogicPathLength..];
        }
        else
        {
            logicLength = name.Length + FdfsConstants.LogicPathLength;
        }

        if (name.Length < FdfsConstants.FileNameCoreLength)
        {
            return false;
        }

        Span<byte> raw = stackalloc byte[21];
        if (!FdfsBase64.TryDecode(name[..FdfsConstants.FileNameCoreLength], raw, out int written) || written < 20)
        {
            return false;
        }

        uint source = BinaryPrimitives.ReadUInt32LittleEndian(raw);
        long timestamp = BinaryPrimitives.ReadUInt32BigEndian(raw[4..]);
        long sizeField = BinaryPrimitives.ReadInt64BigEndian(raw[8..]);
        uint crc = BinaryPrimitives.ReadUInt32BigEndian(raw[16..]);
        bool appender = (sizeField & AppenderFlag) != 0;
        bool trunk = !appender && (sizeField & TrunkFlag) != 0 && logicLength == FdfsConstants.TrunkLogicFileNameLength;
        bool slave = logicLength > FdfsConstants.TrunkLogicFileNameLength
            || (logicLength > FdfsConstants.NormalLogicFileNameLength && !trunk);
        info = new FileNameInfo(source, timestamp, sizeField, crc, appender, trunk, slave);
        return true;
    }

    /// <summary>
    /// Slave name: the master name without its ".ext", then prefix, then "." and the slave extension
    /// (or the master's extension when none is given). Protocol notes 6.5.
    /// </summary>
    public static string MakeSlaveName(string masterRemoteName, string prefix, string? ext)
    {
        int slash = masterRemoteName.LastIndexOf('/');
        int dot = masterRemoteName.LastIndexOf('.');
        string stem = dot > slash ? masterRemoteName[..dot] : masterRemoteName;
        string masterExt = dot > slash ? masterRemoteName[(dot + 1)..] : string.Empty;
        string useExt = string.IsNullOrEmpty(ext) ? masterExt : ext;
        return useExt.Length > 0 ? stem + prefix + "." + useExt : stem + prefix;
    }
}
