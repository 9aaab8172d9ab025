using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Mount.Core;

/// <summary>What a node is in the file-ID tree.</summary>
public enum NodeKind
{
    Root,
    Group,
    StorePath,
    SubDirectory1,
    SubDirectory2,
    File,

    /// <summary>A node of a group's named tree (directory service): directory, file, symlink or special file.</summary>
    Named,
}

/// <summary>
/// One inode the kernel knows. Inode numbers are never reused within a mount; the generation is the mount's start
/// time, so a handle kept across a remount (NFS export) is told apart from a new node with the same number.
/// </summary>
public sealed class Node
{
    internal Node(ulong ino, ulong generation, NodeKind kind, string key, string group, FileId? fileId)
    {
        Ino = ino;
        Generation = generation;
        Kind = kind;
        Key = key;
        Group = group;
        FileId = fileId;
    }

    public ulong Ino { get; }

    public ulong Generation { get; }

    public NodeKind Kind { get; }

    /// <summary>Path below the mount root without a leading slash ("" for the root).</summary>
    public string Key { get; internal set; }

    public string Group { get; }

    /// <summary>Set for files only.</summary>
    public FileId? FileId { get; }

    public bool IsDirectory => Kind switch
    {
        NodeKind.File => false,
        NodeKind.Named => Named.IsDirectory,
        _ => true,
    };

    /// <summary>
    /// The directory-service inode: for <see cref="NodeKind.Named"/> nodes, and for a <see cref="NodeKind.Group"/>
    /// node when names are available (its tree's root). 0 otherwise.
    /// </summary>
    internal long NsInode;

    /// <summary>The directory service's last answer for a named node (valid with <see cref="AttributesExpire"/>).</summary>
    internal NsAttributes Named;

    /// <summary>The names epoch <see cref="Named"/> was read in (FileSystem.NameOps: unlink/rename elsewhere may change nlink/ctime).</summary>
    internal long NamedEpoch;

    /// <summary>A symlink's target once read: an inode's target never changes, so it is kept for the node's life.</summary>
    internal string? SymlinkTarget;

    /// <summary>The content file <see cref="Metadata"/> was read from (a named file's content can be replaced).</summary>
    internal string? MetadataFileId;

    /// <summary>Key of a named node: its directory-service inode, so hard links share one node and one ino.</summary>
    internal static string NamedKey(long nsInode) => "#" + nsInode.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Lookups the kernel holds (each entry reply adds one; forget subtracts).</summary>
    internal long LookupCount;

    internal int OpenCount;

    /// <summary>Attribute cache: valid until <see cref="AttributesExpire"/> (Stopwatch ticks).</summary>
    internal NodeAttributes Attributes;

    internal long AttributesExpire;

    /// <summary>
    /// Bumped by every change a writer of this mount makes to the content, so every handle's read-ahead drops chunks
    /// fetched before it (a handle that read before a writer opened must not serve the old bytes after it closed).
    /// </summary>
    internal long ContentVersion;

    internal bool IsAppender;

    /// <summary>A new regular file whose name the directory service does not hold yet (made at its first commit).</summary>
    internal PendingName? Pending;

    /// <summary>
    /// The last name went while handles were open (the directory service answered ENOENT for the inode). As an unlinked
    /// ext4 inode lives on in its descriptors, the node then lives in this mount only: its size, times and mode
    /// change locally (ftruncate, fallocate, fchmod, futimens) until the last release.
    /// </summary>
    internal volatile bool Orphaned;

    /// <summary>
    /// The name (and its directory's directory-service inode) this mount last saw the node under: lookup, create,
    /// readdirplus, rename of a file being written. New content takes its FastDFS extension from it.
    /// </summary>
    internal SeenName? LastName;

    /// <summary>A named directory this mount created: the names it may hold, so other names miss without a round trip.</summary>
    internal KnownNames? KnownNames;

    /// <summary>Metadata cache for xattrs (null = not loaded).</summary>
    internal IReadOnlyDictionary<string, string>? Metadata;

    internal long MetadataExpire;

    /// <summary>The tracker's download choice, shared by the node's open handles.</summary>
    internal StorageChoice Storage { get; } = new();
}

/// <summary>A name of a named node: its directory's directory-service inode and the name in it.</summary>
internal sealed record SeenName(long Parent, string Name);

/// <summary>
/// Inode numbers ↔ nodes, with the kernel's lookup counts. A node leaves the table when the kernel forgets its
/// last lookup and no handle is open; the root never leaves.
/// </summary>
public sealed class InodeTable
{
    public const ulong RootIno = 1;

    private readonly Dictionary<ulong, Node> _byIno = [];
    private readonly Dictionary<string, Node> _byKey = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private ulong _next = RootIno + 1;

    public InodeTable(ulong generation)
    {
        Generation = generation;
        Root = new Node(RootIno, generation, NodeKind.Root, string.Empty, string.Empty, null) { LookupCount = 1 };
        _byIno.Add(RootIno, Root);
        _byKey.Add(string.Empty, Root);
    }

    public ulong Generation { get; }

    public Node Root { get; }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byIno.Count;
            }
        }
    }

    public Node? Find(ulong ino)
    {
        lock (_lock)
        {
            return _byIno.GetValueOrDefault(ino);
        }
    }

    public Node? Find(string key)
    {
        lock (_lock)
        {
            return _byKey.GetValueOrDefault(key);
        }
    }

    /// <summary>The node for <paramref name="key"/>, created if new, with one more lookup counted.</summary>
    public Node AddLookup(string key, NodeKind kind, string group, FileId? fileId)
    {
        lock (_lock)
        {
            if (!_byKey.TryGetValue(key, out var node))
            {
                node = new Node(_next++, Generation, kind, key, group, fileId);
                _byKey.Add(key, node);
                _byIno.Add(node.Ino, node);
            }

            node.LookupCount++;
            return node;
        }
    }

    /// <summary>One more kernel lookup of a node found by other means than its key; false when it left the table.</summary>
    public bool TryAddLookup(Node node)
    {
        lock (_lock)
        {
            if (!_byIno.TryGetValue(node.Ino, out var current) || !ReferenceEquals(current, node))
            {
                return false;
            }

            node.LookupCount++;
            return true;
        }
    }

    /// <summary>A pending node got its directory-service inode: it is found by the new key from now on (same ino).</summary>
    public void Rekey(Node node, string key)
    {
        lock (_lock)
        {
            if (_byKey.TryGetValue(node.Key, out var current) && ReferenceEquals(current, node))
            {
                _byKey.Remove(node.Key);
            }

            node.Key = key;
            if (_byIno.ContainsKey(node.Ino))
            {
                _byKey[key] = node;
            }
        }
    }

    /// <summary>The kernel dropped <paramref name="count"/> lookups of <paramref name="ino"/>.</summary>
    public void Forget(ulong ino, ulong count)
    {
        lock (_lock)
        {
            if (ino == RootIno || !_byIno.TryGetValue(ino, out var node))
            {
                return;
            }

            node.LookupCount -= (long)Math.Min(count, (ulong)long.MaxValue);
            RemoveIfUnused(node);
        }
    }

    public void Opened(Node node)
    {
        lock (_lock)
        {
            node.OpenCount++;
        }
    }

    public void Closed(Node node)
    {
        lock (_lock)
        {
            node.OpenCount--;
            RemoveIfUnused(node);
        }
    }

    /// <summary>The name is gone (unlinked): later lookups of the same key get a new node.</summary>
    public void Unlinked(Node node)
    {
        lock (_lock)
        {
            if (_byKey.TryGetValue(node.Key, out var current) && ReferenceEquals(current, node))
            {
                _byKey.Remove(node.Key);
            }
        }
    }

    private void RemoveIfUnused(Node node)
    {
        if (node.LookupCount <= 0 && node.OpenCount <= 0 && node.Ino != RootIno)
        {
            _byIno.Remove(node.Ino);
            if (_byKey.TryGetValue(node.Key, out var current) && ReferenceEquals(current, node))
            {
                _byKey.Remove(node.Key);
            }
        }
    }
}
