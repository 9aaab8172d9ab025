using System.Text;
using System.Text.Unicode;
using FastDfs.Client;
using FastDfs.Protocol;

namespace FastDfs.Mount.Core;

/// <summary>How the answer to a getxattr/listxattr call of <c>size</c> bytes must look (ext4's rules).</summary>
public enum XattrReplyKind
{
    /// <summary>size 0: the caller only asks how long the value is.</summary>
    SizeOnly,

    /// <summary>The value fits: send it.</summary>
    Data,

    /// <summary>The caller's buffer is too small: ERANGE.</summary>
    TooSmall,
}

/// <summary>The mapping between extended attributes and FastDFS metadata (protocol notes section 7).</summary>
public static class Xattrs
{
    public const string UserPrefix = "user.";

    /// <summary>
    /// Read-only attribute holding the node's file ID. It lives in <c>system.</c> because every <c>user.</c> name
    /// of up to 64 bytes is a possible FastDFS metadata key; like CephFS's virtual attributes it is readable by
    /// name but not listed, so cp/rsync never try to copy it onto another file.
    /// </summary>
    public const string FileIdName = "system.fdfs.file_id";

    public const int XattrCreate = 1;
    public const int XattrReplace = 2;

    public static XattrReplyKind Decide(int valueLength, int requestedSize) =>
        requestedSize == 0 ? XattrReplyKind.SizeOnly : valueLength > requestedSize ? XattrReplyKind.TooSmall : XattrReplyKind.Data;

    /// <summary>The listxattr payload: each user.* name NUL-terminated, in the storage's (sorted) order.</summary>
    public static byte[] EncodeList(IReadOnlyDictionary<string, string> metadata)
    {
        var keys = metadata.Keys.Where(k => !k.Contains('\0', StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        int length = keys.Sum(k => UserPrefix.Length + Encoding.UTF8.GetByteCount(k) + 1);
        byte[] list = new byte[length];
        int o = 0;
        foreach (string key in keys)
        {
            o += Encoding.UTF8.GetBytes(UserPrefix, list.AsSpan(o));
            o += Encoding.UTF8.GetBytes(key, list.AsSpan(o));
            list[o++] = 0;
        }

        return list;
    }

    /// <summary>
    /// Checks a user.* attribute against FastDFS's limits; 0 when it can be stored unchanged, else the errno:
    /// ERANGE for a name over 64 bytes (ext4 answers ERANGE for over-long names), E2BIG for a value over 256 bytes,
    /// EINVAL for the record separators 0x01/0x02 or a value that is not UTF-8 (it would not survive the round trip).
    /// </summary>
    public static int CheckUserAttribute(string key, ReadOnlySpan<byte> value, out string text)
    {
        text = string.Empty;
        int keyBytes = Encoding.UTF8.GetByteCount(key);
        if (keyBytes == 0)
        {
            return Errno.EINVAL;
        }

        if (keyBytes > FdfsConstants.MetaNameMaxLength)
        {
            return Errno.ERANGE;
        }

        if (value.Length > FdfsConstants.MetaValueMaxLength)
        {
            return Errno.E2BIG;
        }

        if (key.AsSpan().IndexOfAny('\u0001', '\u0002') >= 0 || value.IndexOfAny(FdfsConstants.MetaRecordSeparator, FdfsConstants.MetaFieldSeparator) >= 0)
        {
            return Errno.EINVAL;
        }

        if (!Utf8.IsValid(value))
        {
            return Errno.EINVAL;
        }

        text = Encoding.UTF8.GetString(value);
        return 0;
    }

    /// <summary>ENOSPC when the whole metadata set would not fit in one set-metadata request.</summary>
    public static int CheckTotal(IReadOnlyDictionary<string, string> metadata) =>
        MetadataCodec.GetByteCount(metadata) > FastDfsClient.MaxMetadataBytes ? Errno.ENOSPC : 0;
}
