using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastDfs.Mount.Core;

/// <summary>
/// The mount's file system operations, independent of FUSE or Dokan. Nodes are addressed by inode number; every
/// answer is a value or an errno. Operations that need the cluster are asynchronous and bounded by
/// <see cref="MountOptions.OperationTimeout"/>; answers from caches complete synchronously.
/// </summary>
/// <remarks>
/// Layout (compat mode, no names): the root holds one directory per group; a group holds its store paths
/// (<c>M00</c>..); below them <c>HH/HH</c> directories exist implicitly (any two upper-case hex digits look up)
/// but list nothing, because FastDFS cannot enumerate files; <c>/group/Mxx/HH/HH/name</c> is the file with that ID.
/// </remarks>
public sealed partial class FileSystem : IAsyncDisposable
{
    public const ulong UnknownIno = 0xFFFF_FFFF;

    private readonly IClusterBackend _backend;
    private readonly INameService _names;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<ulong, OpenFile> _files = new();
    private readonly ConcurrentDictionary<ulong, DirectorySnapshot> _directories = new();
    private readonly long _mountTime;
    private readonly SemaphoreSlim _groupRefresh = new(1, 1);
    private ulong _nextHandle;
    private (IReadOnlyList<GroupSpace> Groups, long Expire)? _groups;

    public FileSystem(IClusterBackend backend, INameService names, MountOptions options, ILogger? logger = null)
    {
        options.Validate();
        _backend = backend;
        _names = names;
        Options = options;
        _logger = logger ?? NullLogger.Instance;
        _mountTime = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Inodes = new InodeTable((ulong)_mountTime);
        Buffers = new BufferBudget(options.MaxBuffers, () => MountLog.BuffersExhausted(_logger, options.MaxBuffers / (1024 * 1024)));
        if (names.NamesAvailable)
        {
            MountLog.NamesAvailable(_logger);
        }
        else
        {
            MountLog.NamesUnavailable(_logger);
        }
    }

    public MountOptions Options { get; }

    public InodeTable Inodes { get; }

    /// <summary>The mount-wide budget of queued write chunks and read-ahead chunks (<see cref="MountOptions.MaxBuffers"/>).</summary>
    public BufferBudget Buffers { get; }

    /// <summary>Where uploads named right after they are stored are recorded meanwhile (null: nowhere, a crash then leaks them).</summary>
    public PendingJournal? PendingJournal { get; init; }

    public bool NamesAvailable => _names.NamesAvailable;

    /// <summary>Open file handles (diagnostics and tests).</summary>
    public int OpenHandles => _files.Count + _namedHandles.Count;

    // ------------------------------------------------------------------ names

    public async ValueTask<FsResult<EntryReply>> LookupAsync(ulong parent, string name, CancellationToken cancellationToken = default)
    {
        var dir = Inodes.Find(parent);
        if (dir is null)
        {
            return FsResult<EntryReply>.Fail(Errno.ENOENT);
        }

        if (!dir.IsDirectory)
        {
            return FsResult<EntryReply>.Fail(Errno.ENOTDIR);
        }

        if (IsNameTooLong(name))
        {
            return FsResult<EntryReply>.Fail(Errno.ENAMETOOLONG);
        }

        switch (dir.Kind)
        {
            case NodeKind.Root:
                {
                    var groups = await GroupsAsync(cancellationToken);
                    if (!groups.IsOk)
                    {
                        return FsResult<EntryReply>.Fail(groups.Errno);
                    }

                    if (!groups.Value.Any(g => g.Name == name))
                    {
                        return FsResult<EntryReply>.Fail(Errno.ENOENT);
                    }

                    if (_names.NamesAvailable)
                    {
                        // The group directory is its tree's root: its owner, mode and times come from there.
                        var group = Inodes.AddLookup(name, NodeKind.Group, name, null);
                        var root = await RefreshGroupRootAsync(group, cancellationToken);
                        if (!root.IsOk)
                        {
                            Inodes.Forget(group.Ino, 1);
                            return FsResult<EntryReply>.Fail(root.Errno);
                        }

                        return Entry(group);
                    }

                    return Entry(Inodes.AddLookup(name, NodeKind.Group, name, null));
                }

            case NodeKind.Group:
                if (IsStorePath(name))
                {
                    // File-ID paths win over user names: M00..MFF are reserved at a group's top level.
                    return Entry(Inodes.AddLookup(dir.Key + "/" + name, NodeKind.StorePath, dir.Group, null));
                }

                return _names.NamesAvailable ? await LookupNamedAsync(dir, name, cancellationToken) : FsResult<EntryReply>.Fail(Errno.ENOENT);

            case NodeKind.Named:
                return await LookupNamedAsync(dir, name, cancellationToken);

            case NodeKind.StorePath:
            case NodeKind.SubDirectory1:
                return IsHexPair(name)
                    ? Entry(Inodes.AddLookup(dir.Key + "/" + name, dir.Kind + 1, dir.Group, null))
                    : FsResult<EntryReply>.Fail(Errno.ENOENT);

            case NodeKind.SubDirectory2:
                return await LookupFileAsync(dir, name, cancellationToken);

            default:
                return FsResult<EntryReply>.Fail(Errno.ENOENT);
        }
    }

    public void Forget(ulong ino, ulong count) => Inodes.Forget(ino, count);

    public async ValueTask<FsResult<AttrReply>> GetAttrAsync(ulong ino, CancellationToken cancellationToken = default)
    {
        var node = Inodes.Find(ino);
        if (node is null)
        {
            return FsResult<AttrReply>.Fail(Errno.ENOENT);
        }

        if (node.Kind == NodeKind.Named || (node.Kind == NodeKind.Group && _names.NamesAvailable))
        {
            var named = node.Kind == NodeKind.Named ? await RefreshNamedAsync(node, cancellationToken) : await RefreshGroupRootAsync(node, cancellationToken);
            return named.IsOk ? new AttrReply(named.Value, Options.AttrTimeout.TotalSeconds) : FsResult<AttrReply>.Fail(named.Errno);
        }

        if (node.IsDirectory)
        {
            return new AttrReply(DirectoryAttributes(node), Options.AttrTimeout.TotalSeconds);
        }

        var refreshed = await RefreshFileAsync(node, cancellationToken);
        return refreshed.IsOk ? new AttrReply(refreshed.Value, Options.AttrTimeout.TotalSeconds) : FsResult<AttrReply>.Fail(refreshed.Errno);
    }

    public async ValueTask<int> UnlinkAsync(ulong parent, string name, CancellationToken cancellationToken = default)
    {
        var dir = Inodes.Find(parent);
        if (dir is null)
        {
            return Errno.ENOENT;
        }

        if (dir.Kind == NodeKind.Named || (dir.Kind == NodeKind.Group && _names.NamesAvailable && !IsStorePath(name)))
        {
            return await UnlinkNamedAsync(dir, name, cancellationToken);
        }

        if (dir.Kind != NodeKind.SubDirectory2)
        {
            return ChangeRefused(dir);
        }

        if (Options.ReadOnly)
        {
            return Errno.EROFS;
        }

        if (!TryFileId(dir, name, out var fileId))
        {
            return Errno.ENOENT;
        }

        using var deadline = Deadline(cancellationToken);
        int errno = await _backend.DeleteAsync(fileId, deadline);
        if (errno == 0)
        {
            var node = FindFile(dir, name);
            if (node is not null)
            {
                node.AttributesExpire = 0;
                Inodes.Unlinked(node);
            }
        }

        return errno;
    }

    /// <summary>Creating names (mkdir, create, symlink, link, rename, rmdir) needs the directory service.</summary>
    public int CreateRefused(ulong parent)
    {
        var dir = Inodes.Find(parent);
        return dir is null ? Errno.ENOENT : ChangeRefused(dir);
    }

    /// <summary>chmod/chown/utimens/truncate of a file-ID file: its content and times are fixed.</summary>
    public int SetAttrRefused(ulong ino) => Inodes.Find(ino) is null ? Errno.ENOENT : Options.ReadOnly ? Errno.EROFS : Errno.EPERM;

    // ------------------------------------------------------------------ files

    public async ValueTask<FsResult<OpenReply>> OpenAsync(ulong ino, int flags, CancellationToken cancellationToken = default)
    {
        var node = Inodes.Find(ino);
        if (node is null)
        {
            return FsResult<OpenReply>.Fail(Errno.ENOENT);
        }

        if (node.IsDirectory)
        {
            return FsResult<OpenReply>.Fail(Errno.EISDIR);
        }

        if (node.Kind == NodeKind.Named)
        {
            return await OpenNamedAsync(node, flags, cancellationToken);
        }

        if ((flags & AccessModeMask) != 0 || (flags & OpenTruncate) != 0)
        {
            // File-ID files are immutable here; writing needs names (a later milestone).
            return FsResult<OpenReply>.Fail(Errno.EROFS);
        }

        var attributes = await RefreshFileAsync(node, cancellationToken);
        if (!attributes.IsOk)
        {
            return FsResult<OpenReply>.Fail(attributes.Errno);
        }

        var file = new OpenFile(node, node.FileId!.Value, attributes.Value.Size, _backend, Options, Buffers);
        ulong handle = Interlocked.Increment(ref _nextHandle);
        Inodes.Opened(node);
        _files[handle] = file;

        // A normal FastDFS file never changes, so pages cached by an earlier open stay valid; appenders can grow.
        return new OpenReply(handle, KeepCache: !node.IsAppender);
    }

    public ValueTask<FsResult<int>> ReadAsync(ulong handle, long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (_namedHandles.TryGetValue(handle, out var named))
        {
            return ReadNamedAsync(named, offset, destination, cancellationToken);
        }

        if (!_files.TryGetValue(handle, out var file))
        {
            return ValueTask.FromResult(FsResult<int>.Fail(Errno.EBADF));
        }

        return ReadWithDeadlineAsync(file, offset, destination, cancellationToken);
    }

    /// <summary>
    /// read(2) for an adapter that sends the bytes from memory it borrows (FUSE replies from the read-ahead chunk,
    /// no copy); the caller sends <see cref="ReadLease.Span"/>, then calls <see cref="ReadLease.Release"/>.
    /// </summary>
    public ValueTask<FsResult<ReadLease>> ReadLeaseAsync(ulong handle, long offset, int length, CancellationToken cancellationToken = default)
    {
        if (_namedHandles.TryGetValue(handle, out var named))
        {
            return ReadNamedLeaseAsync(named, offset, length, cancellationToken);
        }

        if (!_files.TryGetValue(handle, out var file))
        {
            return ValueTask.FromResult(FsResult<ReadLease>.Fail(Errno.EBADF));
        }

        return LeaseWithDeadlineAsync(file, offset, length, cancellationToken);
    }

    public void Release(ulong handle)
    {
        if (ReleaseNamed(handle))
        {
            return;
        }

        if (_files.TryRemove(handle, out var file))
        {
            file.Close();
            Inodes.Closed(file.Node);
        }
    }

    // ------------------------------------------------------------------ directories

    public async ValueTask<FsResult<ulong>> OpenDirAsync(ulong ino, CancellationToken cancellationToken = default)
    {
        var node = Inodes.Find(ino);
        if (node is null)
        {
            return FsResult<ulong>.Fail(Errno.ENOENT);
        }

        if (!node.IsDirectory)
        {
            return FsResult<ulong>.Fail(Errno.ENOTDIR);
        }

        var entries = new List<DirEntry> { new(".", node.Ino, true), new("..", UnknownIno, true) };
        List<NsAttributes>? named = null;
        if (node.Kind == NodeKind.Root)
        {
            var groups = await GroupsAsync(cancellationToken);
            if (!groups.IsOk)
            {
                return FsResult<ulong>.Fail(groups.Errno);
            }

            entries.AddRange(groups.Value.Select(g => new DirEntry(g.Name, UnknownIno, true)));
        }
        else if (node.Kind == NodeKind.Named || (node.Kind == NodeKind.Group && _names.NamesAvailable))
        {
            // Store paths are not listed beside user names: they stay reachable, and cp -a / rsync of the group skip them.
            named = [];
            int errno = await ListNamedAsync(node, entries, named, cancellationToken);
            if (errno != 0)
            {
                return FsResult<ulong>.Fail(errno);
            }
        }
        else if (node.Kind == NodeKind.Group)
        {
            var groups = await GroupsAsync(cancellationToken);
            int paths = groups.IsOk ? groups.Value.FirstOrDefault(g => g.Name == node.Group).StorePathCount : 0;
            for (int i = 0; i < paths; i++)
            {
                entries.Add(new DirEntry(string.Create(CultureInfo.InvariantCulture, $"M{i:X2}"), UnknownIno, true));
            }
        }

        // Below the store paths nothing is listed: FastDFS has no way to enumerate files, and listing the 65,536
        // empty HH/HH directories of each store path would only send find and du on a long walk.
        ulong handle = Interlocked.Increment(ref _nextHandle);
        _directories[handle] = new DirectorySnapshot([.. entries], named?.ToArray(), node.Group, NamedInode(node));
        return handle;
    }

    /// <summary>The snapshot taken at opendir; offsets into it are stable for the handle's lifetime.</summary>
    public IReadOnlyList<DirEntry>? DirectoryEntries(ulong handle) => _directories.GetValueOrDefault(handle)?.Entries;

    public void ReleaseDir(ulong handle) => _directories.TryRemove(handle, out _);

    public async ValueTask<FsResult<FsStats>> StatFsAsync(CancellationToken cancellationToken = default)
    {
        var groups = await GroupsAsync(cancellationToken);
        if (!groups.IsOk)
        {
            return FsResult<FsStats>.Fail(groups.Errno);
        }

        long total = groups.Value.Sum(g => g.TotalMb);
        long free = groups.Value.Sum(g => g.FreeMb);
        var (files, freeFiles) = _names.NamesAvailable ? await NamedFileCountsAsync(groups.Value, cancellationToken) : (0, 0);
        return new FsStats(1024 * 1024, total, free, Options.ReadOnly ? 0 : free, files, freeFiles, 255);
    }

    // ------------------------------------------------------------------ extended attributes

    /// <summary>The value of one attribute; the adapter applies the size-probe / ERANGE rules (<see cref="Xattrs.Decide"/>).</summary>
    public async ValueTask<FsResult<byte[]>> GetXattrAsync(ulong ino, string name, CancellationToken cancellationToken = default)
    {
        var node = Inodes.Find(ino);
        if (node is null)
        {
            return FsResult<byte[]>.Fail(Errno.ENOENT);
        }

        if (node.Pending is not null)
        {
            // Only user.* and the file ID need the name made: the kernel asks for security.capability before every write.
            bool stored = name.StartsWith(Xattrs.UserPrefix, StringComparison.Ordinal) || name == Xattrs.FileIdName;
            int named = stored ? await EnsureNamedAsync(node, cancellationToken) : Errno.ENODATA;
            if (named != 0)
            {
                return FsResult<byte[]>.Fail(named);
            }
        }

        if (NamedInode(node) is var nsInode and not 0)
        {
            return await GetNamedXattrAsync(node, nsInode, name, cancellationToken);
        }

        if (name == Xattrs.FileIdName)
        {
            return node.FileId is { } id ? System.Text.Encoding.UTF8.GetBytes(id.ToString()) : FsResult<byte[]>.Fail(Errno.ENODATA);
        }

        // security.*, system.*, trusted.*: nothing is stored, and the kernel asks for security.capability before
        // every write, so answer from memory.
        if (!name.StartsWith(Xattrs.UserPrefix, StringComparison.Ordinal) || node.IsDirectory)
        {
            return FsResult<byte[]>.Fail(Errno.ENODATA);
        }

        var metadata = await MetadataAsync(node, cancellationToken);
        if (!metadata.IsOk)
        {
            return FsResult<byte[]>.Fail(metadata.Errno);
        }

        return metadata.Value.TryGetValue(name[Xattrs.UserPrefix.Length..], out string? value)
            ? System.Text.Encoding.UTF8.GetBytes(value)
            : FsResult<byte[]>.Fail(Errno.ENODATA);
    }

    public async ValueTask<FsResult<byte[]>> ListXattrAsync(ulong ino, CancellationToken cancellationToken = default)
    {
        var node = Inodes.Find(ino);
        if (node is null)
        {
            return FsResult<byte[]>.Fail(Errno.ENOENT);
        }

        if (await EnsureNamedAsync(node, cancellationToken) is var named and not 0)
        {
            return FsResult<byte[]>.Fail(named);
        }

        if (NamedInode(node) is var nsInode and not 0)
        {
            return await ListNamedXattrAsync(node, nsInode, cancellationToken);
        }

        if (node.IsDirectory)
        {
            return Array.Empty<byte>();
        }

        var metadata = await MetadataAsync(node, cancellationToken);
        return metadata.IsOk ? Xattrs.EncodeList(metadata.Value) : FsResult<byte[]>.Fail(metadata.Errno);
    }

    public async ValueTask<int> SetXattrAsync(ulong ino, string name, ReadOnlyMemory<byte> value, int flags, CancellationToken cancellationToken = default)
    {
        var node = Inodes.Find(ino);
        if (node is null)
        {
            return Errno.ENOENT;
        }

        if (await EnsureNamedAsync(node, cancellationToken) is var named and not 0)
        {
            return named;
        }

        if (NamedInode(node) is var nsInode and not 0)
        {
            return await SetNamedXattrAsync(node, nsInode, name, value, flags, cancellationToken);
        }

        if (name == Xattrs.FileIdName)
        {
            return Errno.EPERM;
        }

        if (!name.StartsWith(Xattrs.UserPrefix, StringComparison.Ordinal) || node.IsDirectory)
        {
            return Errno.EOPNOTSUPP;
        }

        if (Options.ReadOnly)
        {
            return Errno.EROFS;
        }

        string key = name[Xattrs.UserPrefix.Length..];
        int invalid = Xattrs.CheckUserAttribute(key, value.Span, out string text);
        if (invalid != 0)
        {
            return invalid;
        }

        return await SetContentXattrAsync(node, node.FileId!.Value, key, text, flags, cancellationToken);
    }

    public async ValueTask<int> RemoveXattrAsync(ulong ino, string name, CancellationToken cancellationToken = default)
    {
        var node = Inodes.Find(ino);
        if (node is null)
        {
            return Errno.ENOENT;
        }

        if (await EnsureNamedAsync(node, cancellationToken) is var named and not 0)
        {
            return named;
        }

        if (NamedInode(node) is var nsInode and not 0)
        {
            return await RemoveNamedXattrAsync(node, nsInode, name, cancellationToken);
        }

        if (name == Xattrs.FileIdName)
        {
            return Errno.EPERM;
        }

        if (!name.StartsWith(Xattrs.UserPrefix, StringComparison.Ordinal) || node.IsDirectory)
        {
            return Errno.ENODATA;
        }

        if (Options.ReadOnly)
        {
            return Errno.EROFS;
        }

        return await RemoveContentXattrAsync(node, node.FileId!.Value, name[Xattrs.UserPrefix.Length..], cancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        foreach (ulong handle in _files.Keys.Concat(_namedHandles.Keys))
        {
            Release(handle);
        }

        _groupRefresh.Dispose();
        return ValueTask.CompletedTask;
    }

    // ------------------------------------------------------------------ helpers

    private ValueTask<FsResult<int>> ReadWithDeadlineAsync(OpenFile file, long offset, Memory<byte> destination, CancellationToken cancellationToken) =>
        ReadBoundedAsync(file, (offset, destination), static (f, a, ct) => f.ReadAsync(a.offset, a.destination, ct), cancellationToken);

    private ValueTask<FsResult<ReadLease>> LeaseWithDeadlineAsync(OpenFile file, long offset, int length, CancellationToken cancellationToken) =>
        ReadBoundedAsync(file, (offset, length), static (f, a, ct) => f.ReadLeaseAsync(a.offset, a.length, ct), cancellationToken);

    /// <summary>
    /// A read from an open file with its cancellation answered as an errno: EINTR when the caller gave up (a signal;
    /// read-ahead fetches go on), EIO with the timeout warning when a fetch's deadline passed. Every fetch inside
    /// carries its own deadline, so a read served from read-ahead costs no timer.
    /// </summary>
    private async ValueTask<FsResult<T>> ReadBoundedAsync<TArgs, T>(
        OpenFile file, TArgs args, Func<OpenFile, TArgs, CancellationToken, ValueTask<FsResult<T>>> read, CancellationToken cancellationToken)
    {
        try
        {
            return await read(file, args, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return FsResult<T>.Fail(Errno.EINTR);
        }
        catch (OperationCanceledException)
        {
            MountLog.OperationTimedOut(_logger, "read", file.Node.Key, Options.OperationTimeout.TotalSeconds);
            return FsResult<T>.Fail(Errno.EIO);
        }
    }

    private async ValueTask<FsResult<EntryReply>> LookupFileAsync(Node dir, string name, CancellationToken cancellationToken)
    {
        if (!TryFileId(dir, name, out var fileId))
        {
            return FsResult<EntryReply>.Fail(Errno.ENOENT);
        }

        // A node the kernel still holds answers from its attribute cache.
        var known = FindFile(dir, name);
        if (known is not null && Stopwatch.GetTimestamp() < known.AttributesExpire)
        {
            return Entry(Inodes.AddLookup(known.Key, NodeKind.File, dir.Group, fileId));
        }

        using var deadline = Deadline(cancellationToken);
        var stored = await _backend.GetFileAsync(fileId, deadline);
        if (!stored.IsOk)
        {
            return FsResult<EntryReply>.Fail(stored.Errno);
        }

        var node = Inodes.AddLookup(dir.Key + "/" + name, NodeKind.File, dir.Group, fileId);
        SetFileAttributes(node, stored.Value);
        return Entry(node);
    }

    private Node? FindFile(Node dir, string name) => Inodes.Find(dir.Key + "/" + name);

    private async ValueTask<FsResult<NodeAttributes>> RefreshFileAsync(Node node, CancellationToken cancellationToken)
    {
        if (Stopwatch.GetTimestamp() < node.AttributesExpire)
        {
            return node.Attributes;
        }

        using var deadline = Deadline(cancellationToken);
        var stored = await _backend.GetFileAsync(node.FileId!.Value, deadline);
        if (!stored.IsOk)
        {
            return FsResult<NodeAttributes>.Fail(stored.Errno);
        }

        return SetFileAttributes(node, stored.Value);
    }

    private NodeAttributes SetFileAttributes(Node node, StoredFile stored)
    {
        uint permissions = Options.ReadOnly ? 0x124u : 0x1A4u; // 0444 / 0644
        var attributes = NodeAttributes.AtSeconds(
            node.Ino, NodeAttributes.S_IFREG | permissions, 1, Options.Uid, Options.Gid, stored.Size, stored.CreateTimestamp);
        node.Attributes = attributes;
        node.IsAppender = stored.IsAppender;
        node.AttributesExpire = Stopwatch.GetTimestamp() + (long)(Options.AttrTimeout.TotalSeconds * Stopwatch.Frequency);
        return attributes;
    }

    private NodeAttributes DirectoryAttributes(Node node)
    {
        uint permissions = Options.ReadOnly ? 0x16Du : 0x1EDu; // 0555 / 0755
        return NodeAttributes.AtSeconds(node.Ino, NodeAttributes.S_IFDIR | permissions, 2, Options.Uid, Options.Gid, 4096, _mountTime);
    }

    private FsResult<EntryReply> Entry(Node node)
    {
        var attributes = node.IsDirectory && node.Kind != NodeKind.Named && node.NsInode == 0 ? DirectoryAttributes(node)
            : node.Kind == NodeKind.Named ? WithPendingWrites(node, node.Attributes) : node.Attributes;
        return new EntryReply(node.Ino, node.Generation, attributes, Options.AttrTimeout.TotalSeconds, Options.EntryTimeout.TotalSeconds);
    }

    /// <summary>A file-ID file's metadata: its content never changes, so it is its own content.</summary>
    private ValueTask<FsResult<IReadOnlyDictionary<string, string>>> MetadataAsync(Node node, CancellationToken cancellationToken) =>
        ContentMetadataAsync(node, node.FileId!.Value, fresh: false, cancellationToken);

    private void CacheMetadata(Node node, IReadOnlyDictionary<string, string> metadata)
    {
        node.MetadataExpire = Stopwatch.GetTimestamp() + (long)(Options.XattrTimeout.TotalSeconds * Stopwatch.Frequency);
        Volatile.Write(ref node.Metadata, metadata);
    }

    private async ValueTask<FsResult<IReadOnlyList<GroupSpace>>> GroupsAsync(CancellationToken cancellationToken)
    {
        var cached = _groups;
        if (cached is { } c && Stopwatch.GetTimestamp() < c.Expire)
        {
            return FsResult<IReadOnlyList<GroupSpace>>.Ok(c.Groups);
        }

        using var deadline = Deadline(cancellationToken);
        try
        {
            await _groupRefresh.WaitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            return FsResult<IReadOnlyList<GroupSpace>>.Fail(deadline.CallerCancelled ? Errno.EINTR : Errno.EIO);
        }

        try
        {
            // Another caller may have refreshed while this one waited.
            if (_groups is { } again && Stopwatch.GetTimestamp() < again.Expire)
            {
                return FsResult<IReadOnlyList<GroupSpace>>.Ok(again.Groups);
            }

            var loaded = await _backend.ListGroupsAsync(deadline);
            if (loaded.IsOk)
            {
                _groups = (loaded.Value, Stopwatch.GetTimestamp() + (long)(Options.ClusterInfoTimeout.TotalSeconds * Stopwatch.Frequency));
            }

            return loaded;
        }
        finally
        {
            _groupRefresh.Release();
        }
    }

    /// <summary>NAME_MAX counts the bytes the kernel sent (<see cref="FileNameCodec"/>), not UTF-16 characters.</summary>
    private static bool IsNameTooLong(string name) => FileNameCodec.GetByteCount(name) > NamespaceLimits.MaxNameLength;

    /// <summary>One cluster operation's bound: the caller's token (an interrupt) and <see cref="MountOptions.OperationTimeout"/>.</summary>
    private OperationDeadline Deadline(CancellationToken cancellationToken) => new(Options.OperationTimeout, cancellationToken);

    /// <summary>Without names nothing can be created; EROFS is the answer tools understand ("Read-only file system").</summary>
    private int ChangeRefused(Node dir) => dir.Kind == NodeKind.File ? Errno.ENOTDIR : _names.NamesAvailable ? Errno.EPERM : Errno.EROFS;

    private static bool TryFileId(Node dir, string name, out FileId fileId)
    {
        fileId = default;
        string remote = dir.Key[(dir.Group.Length + 1)..] + "/" + name;
        if (!RemoteNames.TryValidate(remote, out _))
        {
            return false;
        }

        fileId = new FileId(dir.Group, remote);
        return true;
    }

    internal static bool IsStorePath(string name) => name.Length == 3 && name[0] == 'M' && IsHexPair(name.AsSpan(1));

    internal static bool IsHexPair(ReadOnlySpan<char> name) => name.Length == 2 && IsUpperHex(name[0]) && IsUpperHex(name[1]);

    private static bool IsUpperHex(char c) => c is (>= '0' and <= '9') or (>= 'A' and <= 'F');
}
