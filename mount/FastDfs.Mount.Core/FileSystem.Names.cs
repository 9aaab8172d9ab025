using System.Diagnostics;
using FastDfs.Client;
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
                    var root = await _names.RootAsync(dir.Group, deadline);
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

        if (TryLookupPending(parent.Value, name, out var pending))
        {
            return Entry(pending);
        }

        if (dir.KnownNames is { } known && await IsKnownAbsentAsync(dir, known, parent.Value, name, cancellationToken))
        {
            return FsResult<EntryReply>.Fail(Errno.ENOENT);
        }

        using var deadline = Deadline(cancellationToken);
        var found = await _names.LookupAsync(parent.Value, name, deadline);
        return found.IsOk ? NamedEntry(dir.Group, found.Value, parent.Value, name) : FsResult<EntryReply>.Fail(found.Errno);
    }

    /// <summary>
    /// True when <paramref name="name"/> is surely not in <paramref name="dir"/>, a directory this mount created: not in
    /// its known names, which were read no longer than negative_timeout ago (read again here when older).
    /// </summary>
    private async ValueTask<bool> IsKnownAbsentAsync(Node dir, KnownNames known, long nsInode, string name, CancellationToken cancellationToken)
    {
        switch (known.Check(name, Stopwatch.GetTimestamp()))
        {
            case KnownNames.Answer.Absent:
                return true;
            case KnownNames.Answer.Unknown:
                return false;
        }

        // One listing per directory at a time, under its own deadline: concurrent lookups share it.
        bool listed = await known.RefreshAsync(() => ListNamesAsync(nsInode), Stopwatch.GetTimestamp() + NegativeTicks).WaitAsync(cancellationToken);
        if (!listed)
        {
            dir.KnownNames = null; // too big or unreadable: ask the directory service for every name again
            return false;
        }

        return known.Check(name, Stopwatch.GetTimestamp()) == KnownNames.Answer.Absent;
    }

    /// <summary>Every name of a directory, or null when it has more than <see cref="KnownNames.MaxNames"/> or cannot be read.</summary>
    private async Task<List<string>?> ListNamesAsync(long nsInode)
    {
        using var deadline = Deadline(CancellationToken.None);
        var names = new List<string>();
        for (long cookie = 0; ;)
        {
            var page = await _names.ReadDirAsync(nsInode, cookie, DirectoryPage, deadline);
            if (!page.IsOk || names.Count + page.Value.Entries.Count > KnownNames.MaxNames)
            {
                return null;
            }

            foreach (var entry in page.Value.Entries)
            {
                names.Add(entry.Name);
                cookie = entry.Cookie;
            }

            if (page.Value.Eof || page.Value.Entries.Count == 0)
            {
                return names;
            }
        }
    }

    /// <summary>A name this mount is about to make in <paramref name="dir"/>: its known names must hold it before any lookup can see it.</summary>
    private static void NoteNewName(Node dir, string name) => dir.KnownNames?.Add(name);

    /// <summary>A directory this mount just created is empty: until negative_timeout, only names this mount adds exist in it.</summary>
    private void TrackNewDirectory(ulong ino)
    {
        if (Options.NegativeTimeout > TimeSpan.Zero && Inodes.Find(ino) is { } node)
        {
            node.KnownNames = new KnownNames(Stopwatch.GetTimestamp() + NegativeTicks);
        }
    }

    private long NegativeTicks => (long)(Options.NegativeTimeout.TotalSeconds * Stopwatch.Frequency);

    /// <summary>The node for a directory-service answer, with one more kernel lookup counted.</summary>
    private FsResult<EntryReply> NamedEntry(string group, NsAttributes attributes, long parentNs, string name)
    {
        var node = Inodes.AddLookup(Node.NamedKey(attributes.Inode), NodeKind.Named, group, null);
        node.NsInode = attributes.Inode;
        SeenAs(node, parentNs, name);
        SetNamed(node, attributes);
        return Entry(node);
    }

    /// <summary>Remembers the name a node was last seen under (hard links: any of its names).</summary>
    private static void SeenAs(Node node, long parentNs, string name)
    {
        // Lookups and listings repeat the same name far more often than a rename changes it: no new record then.
        if (Volatile.Read(ref node.LastName) is not { } seen || seen.Parent != parentNs || seen.Name != name)
        {
            Volatile.Write(ref node.LastName, new SeenName(parentNs, name));
        }
    }

    /// <summary>The FastDFS extension (file ID suffix) for new content of <paramref name="node"/>: that of its current name, if FastDFS accepts it.</summary>
    private static string? ContentExtension(Node node)
    {
        string? name = node.Pending?.Name ?? Volatile.Read(ref node.LastName)?.Name;
        return name is null ? null : FastDfsClient.ExtensionOf(name);
    }

    /// <summary>Caches a directory-service answer as the node's attributes.</summary>
    private NodeAttributes SetNamed(Node node, NsAttributes ns)
    {
        long size = NamespaceModeIsDirectory(ns.Mode) ? 4096 : ns.Size;
        var attributes = new NodeAttributes(node.Ino, ns.Mode, ns.Nlink, ns.Uid, ns.Gid, size, ns.AtimeNs, ns.MtimeNs, ns.CtimeNs, ns.Rdev);
        node.Named = ns;
        node.Attributes = attributes;
        node.NamedEpoch = Volatile.Read(ref _namesEpoch);
        node.AttributesExpire = Stopwatch.GetTimestamp() + (long)(Options.AttrTimeout.TotalSeconds * Stopwatch.Frequency);
        return attributes;
    }

    /// <summary>
    /// The directory service no longer knows <paramref name="node"/> (ENOENT) but handles of this mount hold it open:
    /// it becomes an orphan (nlink 0) that lives on locally until the last release. False for a node nobody holds open.
    /// </summary>
    internal bool TryOrphan(Node node)
    {
        if (node.Kind != NodeKind.Named || Volatile.Read(ref node.OpenCount) <= 0)
        {
            return false;
        }

        if (!node.Orphaned)
        {
            node.Attributes = node.Attributes with { Nlink = 0 };
            node.Orphaned = true;
        }

        return true;
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
        if (node.Pending is not null)
        {
            return WithPendingWrites(node, node.Attributes); // only this mount knows it yet
        }

        if (node.Orphaned || (Stopwatch.GetTimestamp() < node.AttributesExpire && node.NamedEpoch == Volatile.Read(ref _namesEpoch)))
        {
            return WithPendingWrites(node, node.Attributes);
        }

        using var deadline = Deadline(cancellationToken);
        var fresh = await _names.GetAttrAsync(node.NsInode, deadline);
        if (fresh.IsOk)
        {
            return WithPendingWrites(node, SetNamed(node, fresh.Value));
        }

        if (fresh.Errno == Errno.ENOENT && TryOrphan(node))
        {
            // Unlinked while open: fstat still works on ext4 and shows nlink 0; the handle keeps the content until release.
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

        await EnsureNamedInAsync(parent.Value, null, cancellationToken); // a name that fails to be made is not listed
        using var deadline = Deadline(cancellationToken);
        for (long cookie = 0; ;)
        {
            var page = await _names.ReadDirPlusAsync(parent.Value, cookie, DirectoryPage, deadline);
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
            var stats = await _names.StatFsAsync(group.Name, deadline);
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
        if (index < snapshot.Entries.Length)
        {
            SeenAs(node, snapshot.ParentNs, snapshot.Entries[index].Name);
        }

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
internal sealed record DirectorySnapshot(DirEntry[] Entries, NsAttributes[]? Named, string Group, long ParentNs)
{
    public const int DotEntries = 2;
}

/// <summary>
/// The names a directory this mount created may hold. cp -r, tar and rsync look up every name before creating it;
/// in a directory the mount made itself, a name missing here is answered ENOENT without a round trip. The set may
/// hold more names than the directory, never fewer: a name is added before the request that makes it, and never
/// removed (a removed name is asked for again). What other mounts add becomes visible after at most
/// negative_timeout, the bound the kernel's own negative entries already have: the directory is then listed again and
/// the listed names are added.
/// </summary>
internal sealed class KnownNames(long validUntil)
{
    /// <summary>Larger directories are not tracked: reading them again every negative_timeout would cost more than it saves.</summary>
    public const int MaxNames = 4096;

    private readonly Lock _lock = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private Task<bool>? _refresh;
    private long _validUntil = validUntil;

    public enum Answer
    {
        /// <summary>The directory may hold the name: ask the directory service.</summary>
        Unknown,

        /// <summary>The directory does not hold the name.</summary>
        Absent,

        /// <summary>Not a known name, but the set is older than negative_timeout.</summary>
        Expired,
    }

    public Answer Check(string name, long now)
    {
        lock (_lock)
        {
            return _names.Contains(name) ? Answer.Unknown : now < _validUntil ? Answer.Absent : Answer.Expired;
        }
    }

    public void Add(string name)
    {
        lock (_lock)
        {
            _names.Add(name);
            if (_names.Count > MaxNames)
            {
                _validUntil = 0; // too many to keep: the next miss lists the directory, which then gives up on it
            }
        }
    }

    /// <summary>Reads the names again (one listing at a time); false when the listing failed or was too big.</summary>
    /// <param name="validUntil">When the new set expires, counted from before the listing started.</param>
    public Task<bool> RefreshAsync(Func<Task<List<string>?>> list, long validUntil)
    {
        lock (_lock)
        {
            if (_refresh is null || _refresh.IsCompleted)
            {
                _refresh = RunAsync(list, validUntil);
            }

            return _refresh;
        }
    }

    private async Task<bool> RunAsync(Func<Task<List<string>?>> list, long validUntil)
    {
        await Task.Yield(); // the caller's lock is released before the listing starts
        var listed = await list();
        lock (_lock)
        {
            if (listed is null)
            {
                return false;
            }

            // Added to, never replaced: names this mount made while the listing ran, and files not yet named (deferred
            // CREATE), may be missing from it.
            _names.UnionWith(listed);
            _validUntil = validUntil;
            return _names.Count <= MaxNames; // false: the caller stops tracking the directory
        }
    }
}
