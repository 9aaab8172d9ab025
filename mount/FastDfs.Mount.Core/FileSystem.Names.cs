using System.Diagnostics;
using FastDfs.Protocol.Messages;

namespace FastDfs.Mount.Core;

/// <summary>
/// The named tree (directory service): each group directory is the root of that group's tree, beside the file-ID
/// paths (<c>Mxx</c>), which stay reachable by name but are not listed when names are available.
/// </summary>
public sealed partial class FileSystem
{
    /// <summary>Entries fetched per READ_DIR_PLUS round trip.</summary>
    private const int DirectoryPage = 1024;

    /// <summary>The directory-service inode of a directory node (a group root or a named directory); 0 if it has none.</summary>
    private async ValueTask<FsResult<long>> NamedDirectoryAsync(Node dir, CancellationToken cancellationToken)
    {
        switch (dir.Kind)
        {
            case NodeKind.Named:
                return dir.NsInode;
            case NodeKind.Group when _names.NamesAvailable:
                {
                    long known = Volatile.Read(ref dir.NsInode);
                    if (known != 0)
                    {
                        return known;
                    }

                    using var deadline = Deadline(cancellationToken);
                    var root = await _names.RootAsync(dir.Group, deadline.Token);
                    if (!root.IsOk)
                    {
                        return FsResult<long>.Fail(root.Errno);
                    }

                    SetNamed(dir, root.Value);
                    Volatile.Write(ref dir.NsInode, root.Value.Inode);
                    return root.Value.Inode;
                }

            default:
                return FsResult<long>.Fail(Errno.ENOENT);
        }
    }

    private async ValueTask<FsResult<EntryReply>> LookupNamedAsync(Node dir, string name, CancellationToken cancellationToken)
    {
        var parent = await NamedDirectoryAsync(dir, cancellationToken);
        if (!parent.IsOk)
        {
            return FsResult<EntryReply>.Fail(parent.Errno);
        }

        using var deadline = Deadline(cancellationToken);
        var found = await _names.LookupAsync(parent.Value, name, deadline.Token);
        return found.IsOk ? NamedEntry(dir.Group, found.Value) : FsResult<EntryReply>.Fail(found.Errno);
    }

    /// <summary>The node for a directory-service answer, with one more kernel lookup counted.</summary>
    private FsResult<EntryReply> NamedEntry(string group, NsAttributes attributes)
    {
        var node = Inodes.AddLookup(Node.NamedKey(attributes.Inode), NodeKind.Named, group, null);
        node.NsInode = attributes.Inode;
        SetNamed(node, attributes);
        return Entry(node);
    }

    /// <summary>Caches a directory-service answer as the node's attributes.</summary>
    private NodeAttributes SetNamed(Node node, NsAttributes ns)
    {
        long size = NamespaceModeIsDirectory(ns.Mode) ? 4096 : ns.Size;
        var attributes = new NodeAttributes(node.Ino, ns.Mode, ns.Nlink, ns.Uid, ns.Gid, size, ns.AtimeNs, ns.MtimeNs, ns.CtimeNs);
        node.Named = ns;
        node.Attributes = attributes;
        node.NamedEpoch = Volatile.Read(ref _namesEpoch);
        node.AttributesExpire = Stopwatch.GetTimestamp() + (long)(Options.AttrTimeout.TotalSeconds * Stopwatch.Frequency);
        return attributes;
    }

    /// <summary>While handles hold unwritten data, the size and mtime the writer sees are local, not the directory service's.</summary>
    private NodeAttributes WithPendingWrites(Node node, NodeAttributes attributes) =>
        attributes.IsRegular && HasPendingWrites(node, out long size, out long mtimeNs) ? attributes with { Size = size, MtimeNs = mtimeNs } : attributes;

    /// <summary>A group directory's attributes when names are available: those of the group tree's root.</summary>
    private async ValueTask<FsResult<NodeAttributes>> RefreshGroupRootAsync(Node group, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref group.NsInode) == 0)
        {
            var root = await NamedDirectoryAsync(group, cancellationToken);
            return root.IsOk ? group.Attributes : FsResult<NodeAttributes>.Fail(root.Errno);
        }

        return await RefreshNamedAsync(group, cancellationToken);
    }

    private async ValueTask<FsResult<NodeAttributes>> RefreshNamedAsync(Node node, CancellationToken cancellationToken)
    {
        if (Stopwatch.GetTimestamp() < node.AttributesExpire && node.NamedEpoch == Volatile.Read(ref _namesEpoch))
        {
            return WithPendingWrites(node, node.Attributes);
        }

        using var deadline = Deadline(cancellationToken);
        var fresh = await _names.GetAttrAsync(node.NsInode, deadline.Token);
        if (fresh.IsOk)
        {
            return WithPendingWrites(node, SetNamed(node, fresh.Value));
        }

        if (fresh.Errno == Errno.ENOENT && node.Kind == NodeKind.Named && Volatile.Read(ref node.OpenCount) > 0)
        {
            // Unlinked while open: fstat still works on ext4 and shows nlink 0; the handle keeps the content until release.
            node.Attributes = node.Attributes with { Nlink = 0 };
            return WithPendingWrites(node, node.Attributes);
        }

        return FsResult<NodeAttributes>.Fail(fresh.Errno);
    }

    /// <summary>A named directory's entries (after "." and ".."), page by page.</summary>
    private async ValueTask<int> ListNamedAsync(Node dir, List<DirEntry> entries, List<NsAttributes> named, CancellationToken cancellationToken)
    {
        var parent = await NamedDirectoryAsync(dir, cancellationToken);
        if (!parent.IsOk)
        {
            return parent.Errno;
        }

        using var deadline = Deadline(cancellationToken);
        for (long cookie = 0; ;)
        {
            var page = await _names.ReadDirPlusAsync(parent.Value, cookie, DirectoryPage, deadline.Token);
            if (!page.IsOk)
            {
                return page.Errno;
            }

            foreach (var entry in page.Value.Entries)
            {
                entries.Add(new DirEntry(entry.Name, UnknownIno, entry.Attributes.IsDirectory, entry.Attributes.Mode));
                named.Add(entry.Attributes);
                cookie = entry.Cookie;
            }

            if (page.Value.Eof || page.Value.Entries.Count == 0)
            {
                return 0;
            }
        }
    }

    /// <summary>
    /// statfs's inode counts: what the groups' trees hold, plus a fixed allowance as free (the directory service has
    /// no inode limit, but df -i and some installers want a non-zero free count). Best effort: 0/0 when a group does not answer.
    /// </summary>
    private async ValueTask<(long Files, long FreeFiles)> NamedFileCountsAsync(IReadOnlyList<GroupSpace> groups, CancellationToken cancellationToken)
    {
        const long FreeFileAllowance = 1L << 32;
        long used = 0;
        using var deadline = Deadline(cancellationToken);
        foreach (var group in groups)
        {
            var stats = await _names.StatFsAsync(group.Name, deadline.Token);
            if (!stats.IsOk)
            {
                return (0, 0);
            }

            used += stats.Value.Directories + stats.Value.Files + stats.Value.Symlinks;
        }

        return (used + FreeFileAllowance, FreeFileAllowance);
    }

    /// <summary>
    /// READDIRPLUS: the entry at <paramref name="index"/> of a handle's snapshot with its node and attributes, or false
    /// when the snapshot has none for it ("." and "..", file-ID directories): the adapter then sends the name only.
    /// Each true answer counts one kernel lookup, as readdirplus replies do; the adapter forgets it if the entry is not sent.
    /// </summary>
    public bool TryDirectoryEntryPlus(ulong handle, int index, out EntryReply entry)
    {
        entry = default;
        if (!_directories.TryGetValue(handle, out var snapshot) || snapshot.Named is null)
        {
            return false;
        }

        int namedIndex = index - DirectorySnapshot.DotEntries;
        if (namedIndex < 0 || namedIndex >= snapshot.Named.Length)
        {
            return false;
        }

        var attributes = snapshot.Named[namedIndex];
        var node = Inodes.AddLookup(Node.NamedKey(attributes.Inode), NodeKind.Named, snapshot.Group, null);
        node.NsInode = attributes.Inode;

        // The listing may be older than what the node already knows (a change made after opendir): keep the newer.
        if (node.Named.Inode == 0 || attributes.Generation >= node.Named.Generation)
        {
            SetNamed(node, attributes);
        }

        var reply = Entry(node);
        entry = reply.Value;
        return true;
    }

    private static bool NamespaceModeIsDirectory(uint mode) => (mode & NodeAttributes.S_IFMT) == NodeAttributes.S_IFDIR;
}

/// <summary>
/// A directory listing taken at opendir: offsets into it are stable for the handle's lifetime. <see cref="Named"/>
/// holds the directory service's attributes of entries after "." and ".." (named directories only), for READDIRPLUS.
/// </summary>
internal sealed record DirectorySnapshot(DirEntry[] Entries, NsAttributes[]? Named, string Group)
{
    public const int DotEntries = 2;
}
