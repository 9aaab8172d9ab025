using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using FastDfs.Client;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Mount.Core;

/// <summary>
/// Data of named regular files: create, open, read, write, flush, fsync, release, truncate. A named file's content
/// is a FastDFS appender file of its group (<see cref="NsAttributes.FileId"/>; null = empty). Writes go through the
/// node's <see cref="ContentWriter"/>; close and fsync return once every byte is stored and the name is bound to it.
/// </summary>
public sealed partial class FileSystem
{
    private const int AccessModeMask = 3;
    private const int OpenTruncate = 0x200;
    private const int OpenAppend = 0x400;

    private const int WriteOnly = 1;
    private const int FallocateKeepSize = 0x01;

    private readonly ConcurrentDictionary<ulong, NamedHandle> _namedHandles = new();
    private readonly Dictionary<Node, ContentWriter> _writers = [];
    private readonly Lock _writersLock = new();

    /// <summary>
    /// A write-only descriptor's data skips the kernel's page cache: one copy of each byte fewer (the writer's pages
    /// straight into the request instead of into cached pages first). It cannot be read or mapped, so nothing is lost.
    /// </summary>
    private bool BypassesPageCache(int flags) => Options.DirectWrites && (flags & AccessModeMask) == WriteOnly;

    // What the kernel may hold in its page cache per node: the content as of the last open or commit.
    private readonly ConditionalWeakTable<Node, CachedContent> _kernelCache = new();

    /// <summary>create(2): a new name with the caller's owner, and a handle open for writing.</summary>
    public async ValueTask<FsResult<(EntryReply Entry, OpenReply Open)>> CreateAsync(
        ulong parent, string name, uint mode, uint uid, uint gid, int flags, CancellationToken cancellationToken = default)
    {
        var dir = Inodes.Find(parent);
        if (dir is null)
        {
            return FsResult<(EntryReply, OpenReply)>.Fail(Errno.ENOENT);
        }

        if (!_names.NamesAvailable || dir.Kind is not (NodeKind.Group or NodeKind.Named))
        {
            return FsResult<(EntryReply, OpenReply)>.Fail(ChangeRefused(dir));
        }

        if (!dir.IsDirectory)
        {
            return FsResult<(EntryReply, OpenReply)>.Fail(Errno.ENOTDIR);
        }

        if (Options.ReadOnly)
        {
            return FsResult<(EntryReply, OpenReply)>.Fail(Errno.EROFS);
        }

        if (IsNameTooLong(name))
        {
            return FsResult<(EntryReply, OpenReply)>.Fail(Errno.ENAMETOOLONG);
        }

        if (dir.Kind == NodeKind.Group && IsStorePath(name))
        {
            return FsResult<(EntryReply, OpenReply)>.Fail(Errno.EEXIST); // M00..MFF are the file-ID paths
        }

        var parentInode = await NamedDirectoryAsync(dir, cancellationToken);
        if (!parentInode.IsOk)
        {
            return FsResult<(EntryReply, OpenReply)>.Fail(parentInode.Errno);
        }

        if ((mode & NodeAttributes.S_IFMT) == 0)
        {
            mode |= NodeAttributes.S_IFREG;
        }

        // In a setgid directory the new file takes the directory's group, as on ext4.
        uint owner = OwnerGid(dir, new Caller(uid, gid));
        NoteNewName(dir, name);
        if (dir.KnownNames is not null && (mode & NodeAttributes.S_IFMT) == NodeAttributes.S_IFREG)
        {
            return CreatePending(dir, parentInode.Value, name, mode, uid, owner, flags);
        }

        using var deadline = Deadline(cancellationToken);
        var created = await _names.CreateAsync(parentInode.Value, name, mode, uid, owner, null, 0, deadline);
        if (!created.IsOk)
        {
            return FsResult<(EntryReply, OpenReply)>.Fail(created.Errno);
        }

        var entry = NamedEntry(dir.Group, created.Value, parentInode.Value, name);
        var node = Inodes.Find(entry.Value.Ino)!;
        var writer = AcquireWriter(node, created.Value);
        ulong handle = AddNamedHandle(node, writer, flags, created.Value);
        RememberCachedContent(node, created.Value);
        return (entry.Value, new OpenReply(handle, KeepCache: false, BypassesPageCache(flags)));
    }

    /// <summary>
    /// Deferred CREATE, in a directory this mount created (<see cref="KnownNames"/>: cp -r, tar, rsync, unpackers, where
    /// no other client is expected to use the new names yet): the new file is a local node until its first commit (flush, fsync, last release), which makes
    /// the name together with its content in one directory-service request (CREATE with the file ID) instead of CREATE
    /// now and SET_CONTENT then. Until then only this mount sees the name (lookup, getattr); anything that needs it in
    /// the directory service (listing, link, rename, unlink, setattr, xattrs) commits first. If another client made the
    /// same name meanwhile, the commit fails: close answers EIO and the uploaded content is left to the collector.
    /// </summary>
    private FsResult<(EntryReply Entry, OpenReply Open)> CreatePending(Node dir, long parentNs, string name, uint mode, uint uid, uint gid, int flags)
    {
        uint fullMode = NamespaceMode.Regular | (mode & NamespaceMode.PermissionMask);
        long now = UnixTime.NowNanoseconds();
        var attributes = new NsAttributes(0, 0, fullMode, uid, gid, 1, 0, now, now, now, null);
        string key = "~" + Interlocked.Increment(ref _nextPending).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var node = Inodes.AddLookup(key, NodeKind.Named, dir.Group, null);
        node.Pending = new PendingName(dir, parentNs, name, fullMode, uid, gid);
        SeenAs(node, parentNs, name);
        SetNamed(node, attributes);
        _pendingNames[(parentNs, name)] = node;
        var writer = AcquireWriter(node, attributes);
        ulong handle = AddNamedHandle(node, writer, flags, attributes);
        RememberCachedContent(node, attributes);
        return (Entry(node).Value, new OpenReply(handle, KeepCache: false, BypassesPageCache(flags)));
    }

    /// <summary>A pending node's name is made now: its writer commits (content stored, name made with it).</summary>
    private async ValueTask<int> EnsureNamedAsync(Node node, CancellationToken cancellationToken)
    {
        if (node.Pending is null)
        {
            return 0;
        }

        if (FindWriter(node) is not { } writer)
        {
            return node.Pending is null ? 0 : Errno.ENOENT; // its commit failed: the name was never made
        }

        using var deadline = CommitDeadline(cancellationToken);
        int errno = await writer.CommitAsync(deadline);
        return errno != 0 ? errno : node.Pending is null ? 0 : Errno.EIO;
    }

    /// <summary>
    /// Pending names in directory <paramref name="parentNs"/> (every directory: 0) called <paramref name="name"/> (any:
    /// null) are made now, before a change or listing that must see them. Only a named call reports a failure.
    /// </summary>
    private async ValueTask<int> EnsureNamedInAsync(long parentNs, string? name, CancellationToken cancellationToken)
    {
        if (_pendingNames.IsEmpty)
        {
            return 0;
        }

        foreach (var ((parent, pendingName), node) in _pendingNames)
        {
            if ((parentNs == 0 || parent == parentNs) && (name is null || pendingName == name))
            {
                int errno = await EnsureNamedAsync(node, cancellationToken);
                if (errno != 0 && name is not null)
                {
                    return errno;
                }
            }
        }

        return 0;
    }

    /// <summary>A pending node this mount looks up by name (the kernel's entry expired before the commit).</summary>
    private bool TryLookupPending(long parentNs, string name, out Node node) =>
        _pendingNames.TryGetValue((parentNs, name), out node!) && Inodes.TryAddLookup(node);

    /// <summary>The deferred CREATE succeeded: the node is the directory service's inode from now on (same ino).</summary>
    private void NamePending(Node node, PendingName pending, NsAttributes created)
    {
        Inodes.Rekey(node, Node.NamedKey(created.Inode));
        Volatile.Write(ref node.NsInode, created.Inode);
        SetNamed(node, created);
        node.Pending = null;
        _pendingNames.TryRemove(new KeyValuePair<(long, string), Node>((pending.ParentNs, pending.Name), node));
        pending.Dir.AttributesExpire = 0; // the parent's mtime and ctime changed
    }

    /// <summary>The writer of a pending node is gone without making the name: the node is unlinked (nlink 0).</summary>
    private void DropPending(Node node)
    {
        if (node.Pending is { } pending)
        {
            node.Pending = null;
            _pendingNames.TryRemove(new KeyValuePair<(long, string), Node>((pending.ParentNs, pending.Name), node));
            Inodes.Unlinked(node);
        }
    }

    public async ValueTask<FsResult<int>> WriteAsync(ulong handle, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        if (!_namedHandles.TryGetValue(handle, out var open) || open.Writer is null)
        {
            return FsResult<int>.Fail(Errno.EBADF);
        }

        if (offset < 0)
        {
            return FsResult<int>.Fail(Errno.EINVAL);
        }

        if (offset + data.Length > MaxFileSize)
        {
            // As a file system at its maximum file size: EFBIG from there on, a short write up to it.
            if (offset >= MaxFileSize)
            {
                return FsResult<int>.Fail(Errno.EFBIG);
            }

            data = data[..(int)(MaxFileSize - offset)];
        }

        // A write may wait behind queued chunks (each with its own deadline): the commit bound applies.
        using var deadline = CommitDeadline(cancellationToken);
        return await open.Writer.WriteAsync(offset, data, open.Append, deadline.Token);
    }

    /// <summary>
    /// write(2) without waiting, for an adapter whose buffer is only valid during the call: true (and the result)
    /// when the bytes could be taken at once, false when the caller must copy them and use <see cref="WriteAsync"/>.
    /// </summary>
    public bool TryWriteInline(ulong handle, long offset, ReadOnlySpan<byte> data, out FsResult<int> result)
    {
        result = default;
        if (InlineWriter(handle, offset, data.Length) is not { } open || !open.Writer!.TryWriteInline(offset, data, open.Append, out int errno))
        {
            return false;
        }

        result = errno == 0 ? data.Length : FsResult<int>.Fail(errno);
        return true;
    }

    /// <summary>The handle of a write the caller's thread may do at once; null leaves it (and its errors) to the asynchronous path.</summary>
    private NamedHandle? InlineWriter(ulong handle, long offset, int length) =>
        _namedHandles.TryGetValue(handle, out var open) && open.Writer is not null && offset >= 0 && offset + length <= MaxFileSize ? open : null;

    /// <summary>
    /// A write whose bytes the adapter can put straight on a connection (<paramref name="body"/>: the FUSE adapter
    /// sends them from its receive buffer, or splices them from the pipe the kernel filled). Taken for a write of at least
    /// <see cref="MountOptions.StreamedWriteMin"/> bytes that extends a named file whose content exists or overwrites
    /// bytes already stored: sent on the caller's thread through the file's appender stream. False when the write
    /// needs the ordinary path; the caller then reads the bytes into memory.
    /// </summary>
    public bool TryWriteStreamed(ulong handle, long offset, int length, IRequestBody body, out FsResult<int> result)
    {
        result = default;
        if (length < Options.StreamedWriteMin || InlineWriter(handle, offset, length) is not { } open
            || !open.Writer!.TryWriteStreamed(offset, length, body, open.Append, out int errno))
        {
            return false;
        }

        result = errno == 0 ? length : FsResult<int>.Fail(errno);
        return true;
    }

    /// <summary>close(2) of one descriptor: every byte written through the node is stored and named.</summary>
    public ValueTask<int> FlushAsync(ulong handle, CancellationToken cancellationToken = default) => CommitHandleAsync(handle, cancellationToken);

    public ValueTask<int> FSyncAsync(ulong handle, CancellationToken cancellationToken = default) => CommitHandleAsync(handle, cancellationToken);

    /// <summary>
    /// fallocate(2). FastDFS cannot reserve space, so what a caller can observe is done: mode 0 extends the size to
    /// offset + length with zeros (as a write past the end does), FALLOC_FL_KEEP_SIZE changes nothing, and punching,
    /// zeroing or collapsing ranges answers EOPNOTSUPP, as file systems without them do. Without it, glibc's
    /// posix_fallocate falls back to writing one byte per 4 KiB block through the mount.
    /// </summary>
    public async ValueTask<int> FallocateAsync(ulong handle, int mode, long offset, long length, CancellationToken cancellationToken = default)
    {
        if ((mode & ~FallocateKeepSize) != 0)
        {
            return Errno.EOPNOTSUPP;
        }

        if (offset < 0 || length <= 0)
        {
            return Errno.EINVAL;
        }

        if (!_namedHandles.TryGetValue(handle, out var open) || open.Writer is null)
        {
            return Errno.EBADF; // file-ID paths and read-only descriptors (the kernel refuses those first)
        }

        if (offset > MaxFileSize - length)
        {
            return Errno.EFBIG;
        }

        return (mode & FallocateKeepSize) != 0 ? 0 : await ResizeNamedAsync(open.Node, offset + length, cancellationToken, growOnly: true);
    }

    /// <summary>setattr size (truncate/ftruncate) of a named regular file, open or not.</summary>
    internal async ValueTask<int> ResizeNamedAsync(Node node, long size, CancellationToken cancellationToken, bool growOnly = false)
    {
        if (size < 0)
        {
            return Errno.EINVAL;
        }

        if (size > MaxFileSize)
        {
            return Errno.EFBIG;
        }

        if (Options.ReadOnly)
        {
            return Errno.EROFS;
        }

        var writer = await AcquireWriterAsync(node, cancellationToken);
        if (!writer.IsOk)
        {
            return writer.Errno;
        }

        try
        {
            using var deadline = CommitDeadline(cancellationToken);
            int errno = await writer.Value.ResizeAsync(size, deadline.Token, growOnly);
            return errno != 0 ? errno : await writer.Value.CommitAsync(deadline);
        }
        finally
        {
            ReleaseWriter(node, writer.Value);
        }
    }

    /// <summary>
    /// The content file of a named regular file; one without content gets an empty appender (bound to it), so
    /// metadata can be set on it.
    /// </summary>
    internal async ValueTask<FsResult<FileId>> EnsureContentAsync(Node node, CancellationToken cancellationToken)
    {
        if (FindWriter(node) is null && node.Named.FileId is { } known && Stopwatch.GetTimestamp() < node.AttributesExpire
            && FileId.TryParse(known, out var id, out _))
        {
            return id;
        }

        if (Options.ReadOnly)
        {
            return FsResult<FileId>.Fail(Errno.EROFS);
        }

        var writer = await AcquireWriterAsync(node, cancellationToken);
        if (!writer.IsOk)
        {
            return FsResult<FileId>.Fail(writer.Errno);
        }

        try
        {
            using var deadline = CommitDeadline(cancellationToken);
            return await writer.Value.EnsureContentAsync(deadline);
        }
        finally
        {
            ReleaseWriter(node, writer.Value);
        }
    }

    /// <summary>Size and mtime as this mount's handles left them while the directory service does not know them yet.</summary>
    internal bool HasPendingWrites(Node node, out long size, out long mtimeNs)
    {
        var writer = FindWriter(node);
        if (writer is not null && (writer.Dirty || node.Orphaned))
        {
            size = writer.Size;
            mtimeNs = writer.MtimeNs;
            return true;
        }

        size = 0;
        mtimeNs = 0;
        return false;
    }

    // ------------------------------------------------------------------ open, read, release of named files

    private async ValueTask<FsResult<OpenReply>> OpenNamedAsync(Node node, int flags, CancellationToken cancellationToken)
    {
        bool writable = (flags & AccessModeMask) != 0;
        if (writable && Options.ReadOnly)
        {
            return FsResult<OpenReply>.Fail(Errno.EROFS);
        }

        if (!node.Named.IsRegular)
        {
            return FsResult<OpenReply>.Fail(Errno.EINVAL);
        }

        var writer = writable ? await AcquireWriterAsync(node, cancellationToken) : default;
        if (!writer.IsOk)
        {
            return FsResult<OpenReply>.Fail(writer.Errno);
        }

        NsAttributes attributes;
        if (writer.Value is null && FindWriter(node) is null)
        {
            // Close-to-open: what another mount committed since shows now.
            using var deadline = Deadline(cancellationToken);
            var fresh = await _names.GetAttrAsync(node.NsInode, deadline);
            if (!fresh.IsOk)
            {
                return FsResult<OpenReply>.Fail(fresh.Errno);
            }

            SetNamed(node, fresh.Value);
            attributes = fresh.Value;
        }
        else
        {
            attributes = node.Named;
        }

        bool truncate = writable && (flags & OpenTruncate) != 0;
        if (truncate)
        {
            using var deadline = CommitDeadline(cancellationToken);
            int errno = await writer.Value!.TruncateForOpenAsync(deadline.Token);
            if (errno != 0)
            {
                ReleaseWriter(node, writer.Value);
                return FsResult<OpenReply>.Fail(errno);
            }
        }

        // Pages the kernel cached stay valid when nothing changed the content since (or this mount is changing it,
        // write-through, so the pages follow).
        bool keepCache = !truncate && (FindWriter(node) is not null || IsCachedContent(node, attributes));
        RememberCachedContent(node, attributes);
        ulong handle = AddNamedHandle(node, writer.Value, flags, attributes);
        return new OpenReply(handle, keepCache, BypassesPageCache(flags));
    }

    private async ValueTask<FsResult<int>> ReadNamedAsync(NamedHandle open, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        FileId? content = open.Content;
        long stored = open.Size;
        long size = open.Size;
        long version = 0;
        var writer = FindWriter(open.Node);
        if (writer is not null)
        {
            // Reads see writes: queued operations finish first; bytes still in memory come from there.
            using var deadline = CommitDeadline(cancellationToken);
            var prepared = await writer.PrepareReadAsync(offset, destination, deadline.Token);
            if (!prepared.IsOk)
            {
                return FsResult<int>.Fail(prepared.Errno);
            }

            (content, stored, size, version) = prepared.Value;
        }

        if (offset >= size || destination.IsEmpty)
        {
            return 0;
        }

        int wanted = (int)Math.Min(destination.Length, size - offset);
        long fromStorage = Math.Min(offset + wanted, stored) - offset;
        if (fromStorage > 0)
        {
            if (content is null)
            {
                return FsResult<int>.Fail(Errno.EIO);
            }

            var reader = open.ReaderFor(content.Value, stored, version, _backend, Options, Buffers);
            var read = await ReadWithDeadlineAsync(reader, offset, destination[..(int)fromStorage], cancellationToken);
            if (!read.IsOk)
            {
                return read;
            }

            if (read.Value < fromStorage)
            {
                // The storage holds fewer bytes than the name says (another writer truncated it): zeros, as a hole.
                destination.Span[read.Value..(int)fromStorage].Clear();
            }
        }

        return wanted;
    }

    private async ValueTask<FsResult<ReadLease>> ReadNamedLeaseAsync(NamedHandle open, long offset, int length, CancellationToken cancellationToken)
    {
        // Only stored bytes of a node nobody writes through this mount can be lent from read-ahead; the rest is
        // assembled (tail bytes, holes) by the copying read.
        if (FindWriter(open.Node) is null && open.Content is { } content && offset >= 0 && offset + length <= open.Size)
        {
            var reader = open.ReaderFor(content, open.Size, Volatile.Read(ref open.Node.ContentVersion), _backend, Options, Buffers);
            var lease = await LeaseWithDeadlineAsync(reader, offset, length, cancellationToken);
            if (!lease.IsOk || lease.Value.Length == length)
            {
                return lease;
            }

            lease.Value.Release(); // the storage holds fewer bytes than the name says: the copying read zero-fills
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        var read = await ReadNamedAsync(open, offset, buffer.AsMemory(0, length), cancellationToken);
        if (!read.IsOk)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return FsResult<ReadLease>.Fail(read.Errno);
        }

        return ReadLease.Pooled(buffer, read.Value);
    }

    private bool ReleaseNamed(ulong handle)
    {
        if (!_namedHandles.TryRemove(handle, out var open))
        {
            return false;
        }

        open.CloseReader();
        Inodes.Closed(open.Node);
        if (open.Writer is not null)
        {
            ReleaseWriter(open.Node, open.Writer);
        }

        return true;
    }

    private async ValueTask<int> CommitHandleAsync(ulong handle, CancellationToken cancellationToken)
    {
        if (!_namedHandles.TryGetValue(handle, out var open))
        {
            return _files.ContainsKey(handle) ? 0 : Errno.EBADF;
        }

        var writer = open.Writer ?? FindWriter(open.Node);
        if (writer is null)
        {
            return 0;
        }

        using var deadline = CommitDeadline(cancellationToken);
        return await writer.CommitAsync(deadline, answerRefusal: true);
    }

    private ulong AddNamedHandle(Node node, ContentWriter? writer, int flags, NsAttributes attributes)
    {
        ulong handle = Interlocked.Increment(ref _nextHandle);
        var content = attributes.FileId is not null && FileId.TryParse(attributes.FileId, out var id, out _) ? id : (FileId?)null;
        Inodes.Opened(node);
        _namedHandles[handle] = new NamedHandle(node, writer, (flags & OpenAppend) != 0, content, content is null ? 0 : attributes.Size);
        return handle;
    }

    // ------------------------------------------------------------------ writers

    private ContentWriter? FindWriter(Node node)
    {
        lock (_writersLock)
        {
            return _writers.GetValueOrDefault(node);
        }
    }

    /// <summary>
    /// A rename moved <paramref name="name"/>: a file being written under it takes the new name (and extension) for
    /// content it uploads next. Others learn it at their next lookup; the kernel keeps its dentry across a rename.
    /// </summary>
    private void RenamedWhileWritten(long parentNs, string name, long newParentNs, string newName)
    {
        lock (_writersLock)
        {
            foreach (var node in _writers.Keys)
            {
                if (Volatile.Read(ref node.LastName) is { } seen && seen.Parent == parentNs && seen.Name == name)
                {
                    SeenAs(node, newParentNs, newName);
                }
            }
        }
    }

    private ContentWriter AcquireWriter(Node node, NsAttributes attributes)
    {
        lock (_writersLock)
        {
            if (!_writers.TryGetValue(node, out var writer))
            {
                writer = new ContentWriter(this, node, attributes);
                _writers[node] = writer;
            }

            writer.Handles++;
            return writer;
        }
    }

    /// <summary>The node's writer; a new one starts from the directory service's current attributes.</summary>
    private async ValueTask<FsResult<ContentWriter>> AcquireWriterAsync(Node node, CancellationToken cancellationToken)
    {
        lock (_writersLock)
        {
            if (_writers.TryGetValue(node, out var existing))
            {
                existing.Handles++;
                return existing;
            }
        }

        using var deadline = Deadline(cancellationToken);
        var fresh = await _names.GetAttrAsync(node.NsInode, deadline);
        if (!fresh.IsOk)
        {
            return FsResult<ContentWriter>.Fail(fresh.Errno);
        }

        SetNamed(node, fresh.Value);
        return fresh.Value.IsRegular ? AcquireWriter(node, fresh.Value) : FsResult<ContentWriter>.Fail(Errno.EINVAL);
    }

    private void ReleaseWriter(Node node, ContentWriter writer)
    {
        lock (_writersLock)
        {
            if (--writer.Handles > 0)
            {
                return;
            }
        }

        _ = FinishWriterAsync(node, writer);
    }

    /// <summary>The last handle is gone: commit what flush did not (a failed flush, a killed writer), then drop the writer.</summary>
    private async Task FinishWriterAsync(Node node, ContentWriter writer)
    {
        int errno;
        using (var deadline = CommitDeadline(CancellationToken.None))
        {
            errno = writer.Error != 0 ? writer.Error : await writer.CommitAsync(deadline, answerRefusal: true);
        }

        if (errno != 0)
        {
            MountLog.ChangesLost(_logger, node.Key, errno);
        }

        lock (_writersLock)
        {
            if (writer.Handles > 0 || !_writers.TryGetValue(node, out var current) || !ReferenceEquals(current, writer))
            {
                return; // reopened meanwhile: the writer lives on
            }

            _writers.Remove(node);
        }

        DropPending(node); // no-op once the name was made
        writer.Discard();
        if (errno != 0)
        {
            node.AttributesExpire = 0; // what the directory service says is the truth again
        }
    }

    /// <summary>A commit waits for up to write_chunks queued operations, each with its own deadline, then names.</summary>
    private OperationDeadline CommitDeadline(CancellationToken cancellationToken) =>
        new(Options.OperationTimeout * (Options.WriteChunks + 2), cancellationToken);

    // ------------------------------------------------------------------ kernel page cache

    private void RememberCachedContent(Node node, NsAttributes attributes) =>
        _kernelCache.AddOrUpdate(node, new CachedContent(attributes.FileId, attributes.Size, attributes.MtimeNs));

    private bool IsCachedContent(Node node, NsAttributes attributes) =>
        _kernelCache.TryGetValue(node, out var cached) && cached == new CachedContent(attributes.FileId, attributes.Size, attributes.MtimeNs);

    /// <summary>FastDFS sizes are signed 64-bit; ext4's limit is 16 TiB.</summary>
    private const long MaxFileSize = 16L << 40;

    private sealed record CachedContent(string? FileId, long Size, long MtimeNs);

    private long _nextPending;

    // Pending nodes (deferred CREATE) by directory-service parent inode and name.
    private readonly ConcurrentDictionary<(long Parent, string Name), Node> _pendingNames = new();

    /// <summary>One open handle of a named file. Reads of stored bytes go through <see cref="OpenFile"/> (read-ahead).</summary>
    private sealed class NamedHandle(Node node, ContentWriter? writer, bool append, FileId? content, long size)
    {
        private readonly Lock _lock = new();
        private readonly StorageChoice _storage = new();
        private OpenFile? _reader;
        private long _readerVersion;

        public Node Node { get; } = node;

        /// <summary>Null for read-only handles.</summary>
        public ContentWriter? Writer { get; } = writer;

        /// <summary>O_APPEND: every write goes to the current end, whatever offset the kernel sends.</summary>
        public bool Append { get; } = append;

        /// <summary>Content and size at open; reads of a node without a writer see this version (close-to-open).</summary>
        public FileId? Content { get; } = content;

        public long Size { get; } = size;

        /// <summary>
        /// A reader of <paramref name="content"/>'s first <paramref name="stored"/> bytes as of the writer's
        /// <paramref name="version"/>; a new one (empty read-ahead) when any of them changed.
        /// </summary>
        public OpenFile ReaderFor(FileId content, long stored, long version, IClusterBackend backend, MountOptions options, BufferBudget buffers)
        {
            lock (_lock)
            {
                if (_reader is { } current && current.ContentId == content && current.Size == stored && _readerVersion == version)
                {
                    return current;
                }

                _reader?.Close();
                if (_reader is null || _reader.ContentId != content)
                {
                    _storage.Address = null; // new content may sit on another storage of the group
                }

                _reader = new OpenFile(Node, content, stored, backend, options, buffers, _storage);
                _readerVersion = version;
                return _reader;
            }
        }

        public void CloseReader()
        {
            lock (_lock)
            {
                _reader?.Close();
                _reader = null;
            }
        }
    }
}

/// <summary>Where a pending node's name goes, and with which mode and owner (<see cref="FileSystem"/>'s deferred CREATE).</summary>
internal sealed record PendingName(Node Dir, long ParentNs, string Name, uint Mode, uint Uid, uint Gid);
