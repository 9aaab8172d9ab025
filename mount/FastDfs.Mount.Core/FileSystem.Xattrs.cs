using System.Diagnostics;
using System.Text;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Mount.Core;

/// <summary>
/// Extended attributes of named nodes. A regular file's <c>user.*</c> attributes are the FastDFS metadata of its
/// content file, so every FastDFS client sees them; directories, symlinks and special files keep theirs in the
/// directory service. <c>security.*</c>, <c>system.*</c> and <c>trusted.*</c> are answered from memory, as in compat mode.
/// </summary>
public sealed partial class FileSystem
{
    private async ValueTask<FsResult<byte[]>> GetNamedXattrAsync(Node node, long nsInode, string name, CancellationToken cancellationToken)
    {
        if (name != Xattrs.FileIdName && !name.StartsWith(Xattrs.UserPrefix, StringComparison.Ordinal))
        {
            // security.capability is asked before every write: no round trip for it.
            return FsResult<byte[]>.Fail(Errno.ENODATA);
        }

        var current = await CurrentNamedAsync(node, cancellationToken);
        if (!current.IsOk)
        {
            return FsResult<byte[]>.Fail(current.Errno);
        }

        if (name == Xattrs.FileIdName)
        {
            return current.Value.FileId is { } id ? Encoding.UTF8.GetBytes(id) : FsResult<byte[]>.Fail(Errno.ENODATA);
        }

        if (!name.StartsWith(Xattrs.UserPrefix, StringComparison.Ordinal))
        {
            return FsResult<byte[]>.Fail(Errno.ENODATA);
        }

        if (!current.Value.IsRegular)
        {
            using var deadline = Deadline(cancellationToken);
            return await _names.GetXattrAsync(nsInode, name, deadline);
        }

        if (!TryContent(current.Value, out var content))
        {
            return FsResult<byte[]>.Fail(Errno.ENODATA); // no content yet, so no metadata
        }

        var metadata = await ContentMetadataAsync(node, content, fresh: false, cancellationToken);
        if (!metadata.IsOk)
        {
            return FsResult<byte[]>.Fail(metadata.Errno);
        }

        return metadata.Value.TryGetValue(name[Xattrs.UserPrefix.Length..], out string? value)
            ? Encoding.UTF8.GetBytes(value)
            : FsResult<byte[]>.Fail(Errno.ENODATA);
    }

    private async ValueTask<FsResult<byte[]>> ListNamedXattrAsync(Node node, long nsInode, CancellationToken cancellationToken)
    {
        var current = await CurrentNamedAsync(node, cancellationToken);
        if (!current.IsOk)
        {
            return FsResult<byte[]>.Fail(current.Errno);
        }

        if (!current.Value.IsRegular)
        {
            using var deadline = Deadline(cancellationToken);
            var names = await _names.ListXattrAsync(nsInode, deadline);
            return names.IsOk ? EncodeNames(names.Value) : FsResult<byte[]>.Fail(names.Errno);
        }

        if (!TryContent(current.Value, out var content))
        {
            return Array.Empty<byte>();
        }

        var metadata = await ContentMetadataAsync(node, content, fresh: false, cancellationToken);
        return metadata.IsOk ? Xattrs.EncodeList(metadata.Value) : FsResult<byte[]>.Fail(metadata.Errno);
    }

    private async ValueTask<int> SetNamedXattrAsync(Node node, long nsInode, string name, ReadOnlyMemory<byte> value, int flags, CancellationToken cancellationToken)
    {
        if (name == Xattrs.FileIdName)
        {
            return Errno.EPERM;
        }

        if (!name.StartsWith(Xattrs.UserPrefix, StringComparison.Ordinal))
        {
            return Errno.EOPNOTSUPP;
        }

        if (Options.ReadOnly)
        {
            return Errno.EROFS;
        }

        if ((flags & ~(Xattrs.XattrCreate | Xattrs.XattrReplace)) != 0 || flags == (Xattrs.XattrCreate | Xattrs.XattrReplace))
        {
            return Errno.EINVAL;
        }

        var current = await CurrentNamedAsync(node, cancellationToken);
        if (!current.IsOk)
        {
            return current.Errno;
        }

        if (!current.Value.IsRegular)
        {
            using var deadline = Deadline(cancellationToken);
            int errno = await _names.SetXattrAsync(nsInode, name, value, (NamespaceXattrFlags)flags, deadline);
            if (errno == 0)
            {
                node.AttributesExpire = 0; // ctime changed
            }

            return errno;
        }

        string key = name[Xattrs.UserPrefix.Length..];
        int invalid = Xattrs.CheckUserAttribute(key, value.Span, out string text);
        if (invalid != 0)
        {
            return invalid;
        }

        if (!TryContent(current.Value, out var content))
        {
            if ((flags & Xattrs.XattrReplace) != 0)
            {
                return Errno.ENODATA; // nothing to replace, and no reason to create content for a refusal
            }

            // Metadata lives with the content: give the empty file an (empty) appender first.
            var ensured = await EnsureContentAsync(node, cancellationToken);
            if (!ensured.IsOk)
            {
                return ensured.Errno;
            }

            content = ensured.Value;
        }

        int set = await SetContentXattrAsync(node, content, key, text, flags, cancellationToken);
        return set != 0 ? set : await XattrChangedAsync(node, nsInode, cancellationToken);
    }

    private async ValueTask<int> RemoveNamedXattrAsync(Node node, long nsInode, string name, CancellationToken cancellationToken)
    {
        if (name == Xattrs.FileIdName)
        {
            return Errno.EPERM;
        }

        if (!name.StartsWith(Xattrs.UserPrefix, StringComparison.Ordinal))
        {
            return Errno.ENODATA;
        }

        if (Options.ReadOnly)
        {
            return Errno.EROFS;
        }

        var current = await CurrentNamedAsync(node, cancellationToken);
        if (!current.IsOk)
        {
            return current.Errno;
        }

        if (!current.Value.IsRegular)
        {
            using var deadline = Deadline(cancellationToken);
            int errno = await _names.RemoveXattrAsync(nsInode, name, deadline);
            if (errno == 0)
            {
                node.AttributesExpire = 0;
            }

            return errno;
        }

        if (!TryContent(current.Value, out var content))
        {
            return Errno.ENODATA;
        }

        int removed = await RemoveContentXattrAsync(node, content, name[Xattrs.UserPrefix.Length..], cancellationToken);
        return removed != 0 ? removed : await XattrChangedAsync(node, nsInode, cancellationToken);
    }

    /// <summary>
    /// A regular file's xattr changed in its content's metadata, which the directory service does not see: its ctime
    /// moves there (SET_ATTR with nothing else to set), not its mtime, as on ext4.
    /// </summary>
    private async ValueTask<int> XattrChangedAsync(Node node, long nsInode, CancellationToken cancellationToken)
    {
        using var deadline = Deadline(cancellationToken);
        var changed = await _names.SetAttrAsync(new SetAttrRequest(nsInode, NamespaceSetAttr.None, 0, 0, 0, 0, 0, 0, 0), deadline);
        if (changed.IsOk)
        {
            SetNamed(node, changed.Value);
            return 0;
        }

        // Unlinked meanwhile (fsetxattr on an open file): the attribute is set, and there is no name left to stamp.
        return changed.Errno == Errno.ENOENT ? 0 : changed.Errno;
    }

    /// <summary>Sets one user.* attribute as a key of the content file's FastDFS metadata (ext4's flag rules).</summary>
    private async ValueTask<int> SetContentXattrAsync(Node node, FileId content, string key, string text, int flags, CancellationToken cancellationToken)
    {
        var metadata = await ContentMetadataAsync(node, content, fresh: (flags & (Xattrs.XattrCreate | Xattrs.XattrReplace)) != 0, cancellationToken);
        if (!metadata.IsOk)
        {
            return metadata.Errno;
        }

        bool exists = metadata.Value.ContainsKey(key);
        if ((flags & Xattrs.XattrCreate) != 0 && exists)
        {
            return Errno.EEXIST;
        }

        if ((flags & Xattrs.XattrReplace) != 0 && !exists)
        {
            return Errno.ENODATA;
        }

        var updated = new Dictionary<string, string>(metadata.Value, StringComparer.Ordinal) { [key] = text };
        int tooBig = Xattrs.CheckTotal(updated);
        if (tooBig != 0)
        {
            return tooBig;
        }

        using var deadline = Deadline(cancellationToken);

        // Merge sends only this key: a concurrent change to another key from another client survives.
        int errno = await _backend.SetMetadataAsync(content, new Dictionary<string, string> { [key] = text }, MetadataFlag.Merge, deadline);
        if (errno == 0)
        {
            CacheContentMetadata(node, content, updated);
        }

        return errno;
    }

    /// <summary>Removes one key from the content file's FastDFS metadata.</summary>
    private async ValueTask<int> RemoveContentXattrAsync(Node node, FileId content, string key, CancellationToken cancellationToken)
    {
        var metadata = await ContentMetadataAsync(node, content, fresh: true, cancellationToken);
        if (!metadata.IsOk)
        {
            return metadata.Errno;
        }

        if (!metadata.Value.ContainsKey(key))
        {
            return Errno.ENODATA;
        }

        // FastDFS cannot delete one key: write the rest back (an empty set deletes the -m file).
        var rest = metadata.Value.Where(p => p.Key != key).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        using var deadline = Deadline(cancellationToken);
        int errno = await _backend.SetMetadataAsync(content, rest, MetadataFlag.Overwrite, deadline);
        if (errno == 0)
        {
            CacheContentMetadata(node, content, rest);
        }

        return errno;
    }

    /// <summary>The node's directory-service attributes, refreshed when the cache expired (the content file ID can change with a writer elsewhere).</summary>
    private async ValueTask<FsResult<NsAttributes>> CurrentNamedAsync(Node node, CancellationToken cancellationToken)
    {
        if (node.Kind == NodeKind.Group && Volatile.Read(ref node.NsInode) == 0)
        {
            var root = await NamedDirectoryAsync(node, cancellationToken);
            if (!root.IsOk)
            {
                return FsResult<NsAttributes>.Fail(root.Errno);
            }
        }

        // An inode's type and content change only through its own attributes, so the epoch (other names changed) does
        // not matter here: attributes within their timeout are good enough.
        if (node.Named.Inode != 0 && Stopwatch.GetTimestamp() < node.AttributesExpire)
        {
            return node.Named;
        }

        var refreshed = await RefreshNamedAsync(node, cancellationToken);
        return refreshed.IsOk ? node.Named : FsResult<NsAttributes>.Fail(refreshed.Errno);
    }

    private static bool TryContent(in NsAttributes attributes, out FileId content)
    {
        content = default;
        return attributes.FileId is { } id && FileId.TryParse(id, out content, out _);
    }

    private async ValueTask<FsResult<IReadOnlyDictionary<string, string>>> ContentMetadataAsync(Node node, FileId content, bool fresh, CancellationToken cancellationToken)
    {
        string contentId = content.ToString();
        var cached = Volatile.Read(ref node.Metadata);
        if (!fresh && cached is not null && node.MetadataFileId == contentId && Stopwatch.GetTimestamp() < node.MetadataExpire)
        {
            return FsResult<IReadOnlyDictionary<string, string>>.Ok(cached);
        }

        using var deadline = Deadline(cancellationToken);
        var loaded = await _backend.GetMetadataAsync(content, deadline);
        if (loaded.IsOk)
        {
            CacheContentMetadata(node, content, loaded.Value);
        }

        return loaded;
    }

    private void CacheContentMetadata(Node node, FileId content, IReadOnlyDictionary<string, string> metadata)
    {
        node.MetadataFileId = content.ToString();
        CacheMetadata(node, metadata);
    }

    /// <summary>listxattr's payload for directory-service names: each NUL-terminated.</summary>
    private static byte[] EncodeNames(IReadOnlyList<string> names)
    {
        int length = names.Sum(n => Encoding.UTF8.GetByteCount(n) + 1);
        byte[] list = new byte[length];
        int o = 0;
        foreach (string name in names)
        {
            o += Encoding.UTF8.GetBytes(name, list.AsSpan(o));
            list[o++] = 0;
        }

        return list;
    }
}
