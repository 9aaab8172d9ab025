using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastDfs.Client;

/// <summary>The directory service refused an operation; <see cref="FdfsException.Errno"/> is what ext4 would return.</summary>
public sealed class FdfsNamespaceException(int errno, NamespaceCommand command, string server)
    : FdfsException($"{NamespaceErrno.Name(errno)} ({errno}): {NamespaceErrno.Describe(errno)} ({command} on {server})", errno)
{
    public NamespaceCommand Command { get; } = command;

    public string Server { get; } = server;
}

/// <summary>A page of a directory listing; pass the last entry's cookie to get the next page.</summary>
public sealed record NamespacePage<T>(IReadOnlyList<T> Entries, bool Eof);

/// <summary>
/// Client of the directory service our trackers serve (names, directories, attributes; <see cref="NamespaceCommand"/>).
/// Thread-safe; share one instance. Connections are pooled per tracker. It sticks to one tracker and moves to the
/// next only when that one cannot be reached: trackers on SQLite each have their own namespace, trackers on a shared
/// PostgreSQL store serve the same one (compare <see cref="NsStatFs.NamespaceId"/>). A refusal is a
/// <see cref="FdfsNamespaceException"/> carrying the errno; unreachable trackers give <see cref="FdfsConnectionException"/>
/// or <see cref="FdfsTimeoutException"/>. A FastDFS tracker without the service answers EINVAL (see <see cref="IsAvailableAsync"/>).
/// Mutations are not idempotent: after a connection breaks mid-request the caller cannot tell whether it was applied.
/// </summary>
public sealed class NamespaceClient : IAsyncDisposable
{
    /// <summary>Largest answer accepted (a READ_DIR_PLUS page is far smaller).</summary>
    private const int MaxResponse = 4 * 1024 * 1024;

    private readonly Slot[] _trackers;
    private readonly FastDfsClientOptions _options;
    private readonly ILogger _logger;
    private int _preferred;
    private int _disposed;

    public NamespaceClient(FastDfsClientOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.TrackerServers.Count == 0)
        {
            throw new ArgumentException("at least one tracker is required", nameof(options));
        }

        _options = options;
        _logger = (loggerFactory ?? options.LoggerFactory)?.CreateLogger<NamespaceClient>() ?? NullLogger<NamespaceClient>.Instance;
        _trackers = [.. options.TrackerServers.SelectMany(e => e.Hosts.Select(h => new Slot(new ServerPool(h, e.Port, options, _logger))))];
    }

    /// <summary>The tracker requests go to now (<c>host:port</c>).</summary>
    public string CurrentTracker => _trackers[Volatile.Read(ref _preferred)].Pool.Name;

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            foreach (var slot in _trackers)
            {
                slot.Pool.Dispose();
            }
        }

        return ValueTask.CompletedTask;
    }

    // ---- operations ----------------------------------------------------------------------------------------

    /// <summary>False when the tracker does not serve names (a FastDFS tracker answers the unknown command with EINVAL).</summary>
    public async Task<bool> IsAvailableAsync(string group, CancellationToken cancellationToken = default)
    {
        try
        {
            await GetRootAsync(group, cancellationToken);
            return true;
        }
        catch (FdfsNamespaceException e) when (e.Errno == FdfsErrno.EINVAL)
        {
            return false;
        }
    }

    /// <summary>The root directory of a group (created on first use).</summary>
    public Task<NsAttributes> GetRootAsync(string group, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.GroupSize);
        return AttributesAsync(NamespaceCommand.Root, p, NamespaceMessages.WriteGroup(Body(p), group), cancellationToken);
    }

    public Task<NsAttributes> LookupAsync(long parent, string name, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.InodeNameSize(name));
        return AttributesAsync(NamespaceCommand.Lookup, p, NamespaceMessages.WriteInodeName(Body(p), parent, name), cancellationToken);
    }

    /// <summary>Like <see cref="LookupAsync"/> but null when the name does not exist (negative lookups are frequent).</summary>
    public async Task<NsAttributes?> TryLookupAsync(long parent, string name, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.InodeNameSize(name));
        int n = NamespaceMessages.WriteInodeName(Body(p), parent, name);
        var (status, body) = await CallAsync(NamespaceCommand.Lookup, p, n, FdfsErrno.ENOENT, cancellationToken);
        return status == FdfsErrno.ENOENT ? null : NsAttributes.Read(body);
    }

    public Task<NsAttributes> GetAttrAsync(long inode, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.InodeSize);
        return AttributesAsync(NamespaceCommand.GetAttr, p, NamespaceMessages.WriteInode(Body(p), inode), cancellationToken);
    }

    /// <summary>Names, inodes and types after <paramref name="cookie"/> (0 = from the start).</summary>
    public async Task<NamespacePage<NsDirEntry>> ReadDirAsync(long inode, long cookie = 0, int maxEntries = 1024, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.ReadDirSize);
        int n = NamespaceMessages.WriteReadDir(Body(p), inode, cookie, maxEntries);
        byte[] body = await RequestAsync(NamespaceCommand.ReadDir, p, n, cancellationToken);
        var entries = NamespaceMessages.ReadDirPage(body, out bool eof);
        return new NamespacePage<NsDirEntry>(entries, eof);
    }

    /// <summary>Names with full attributes after <paramref name="cookie"/> (0 = from the start): one round trip per page for <c>ls -l</c>.</summary>
    public async Task<NamespacePage<NsDirEntryPlus>> ReadDirPlusAsync(long inode, long cookie = 0, int maxEntries = 512, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.ReadDirSize);
        int n = NamespaceMessages.WriteReadDir(Body(p), inode, cookie, maxEntries);
        byte[] body = await RequestAsync(NamespaceCommand.ReadDirPlus, p, n, cancellationToken);
        var entries = NamespaceMessages.ReadDirPlusPage(body, out bool eof);
        return new NamespacePage<NsDirEntryPlus>(entries, eof);
    }

    /// <summary>Every entry of a directory, page by page.</summary>
    public async IAsyncEnumerable<NsDirEntryPlus> ListAsync(long inode, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        long cookie = 0;
        for (bool eof = false; !eof;)
        {
            var page = await ReadDirPlusAsync(inode, cookie, 1024, cancellationToken);
            foreach (var entry in page.Entries)
            {
                cookie = entry.Cookie;
                yield return entry;
            }

            eof = page.Eof || page.Entries.Count == 0;
        }
    }

    public Task<NsAttributes> MkDirAsync(long parent, string name, uint mode, uint uid, uint gid, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.CreateSize(name, null));
        return AttributesAsync(NamespaceCommand.MkDir, p, NamespaceMessages.WriteCreate(Body(p), parent, mode, uid, gid, 0, null, name), cancellationToken);
    }

    /// <summary>
    /// A new regular file (mode without type bits, or S_IFREG), or a FIFO/socket (type bits in mode; devices: see
    /// <see cref="MkNodAsync"/>). EEXIST when the name exists. With <paramref name="fileId"/>, the file has that
    /// content and size at once.
    /// </summary>
    public Task<NsAttributes> CreateAsync(
        long parent, string name, uint mode, uint uid, uint gid, string? fileId = null, long size = 0, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.CreateSize(name, fileId));
        return AttributesAsync(NamespaceCommand.Create, p, NamespaceMessages.WriteCreate(Body(p), parent, mode, uid, gid, size, fileId, name), cancellationToken);
    }

    /// <summary>
    /// mknod(2): a node of the type in <paramref name="mode"/> without content. <paramref name="rdev"/> is a character
    /// or block device's number in the kernel's 32-bit encoding (FUSE's); other types keep none, as on ext4.
    /// </summary>
    public Task<NsAttributes> MkNodAsync(long parent, string name, uint mode, uint rdev, uint uid, uint gid, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.CreateSize(name, null));
        return AttributesAsync(NamespaceCommand.Create, p, NamespaceMessages.WriteCreate(Body(p), parent, mode, uid, gid, 0, null, name, rdev), cancellationToken);
    }

    /// <summary>
    /// Commits content uploaded with the FastDFS client to a file: its file ID, size and mtime (0 = the server's
    /// clock). The previous file ID, unless named elsewhere, is deleted from the storages by the tracker.
    /// </summary>
    public Task<NsAttributes> SetContentAsync(long inode, string fileId, long size, long mtimeNs = 0, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.SetContentSize(fileId));
        return AttributesAsync(NamespaceCommand.SetContent, p, NamespaceMessages.WriteSetContent(Body(p), inode, fileId, size, mtimeNs), cancellationToken);
    }

    public Task<NsAttributes> SymlinkAsync(long parent, string name, string target, uint uid, uint gid, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.SymlinkSize(name, target));
        return AttributesAsync(NamespaceCommand.Symlink, p, NamespaceMessages.WriteSymlink(Body(p), parent, uid, gid, name, target), cancellationToken);
    }

    public async Task<string> ReadLinkAsync(long inode, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.InodeSize);
        return FileNameCodec.Decode(await RequestAsync(NamespaceCommand.ReadLink, p, NamespaceMessages.WriteInode(Body(p), inode), cancellationToken));
    }

    /// <summary>A hard link: a new name for an existing (non-directory) inode; returns its attributes with the new link count.</summary>
    public Task<NsAttributes> LinkAsync(long inode, long newParent, string newName, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.LinkSize(newName));
        return AttributesAsync(NamespaceCommand.Link, p, NamespaceMessages.WriteLink(Body(p), inode, newParent, newName), cancellationToken);
    }

    public Task UnlinkAsync(long parent, string name, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.InodeNameSize(name));
        return RequestAsync(NamespaceCommand.Unlink, p, NamespaceMessages.WriteInodeName(Body(p), parent, name), cancellationToken);
    }

    public Task RmDirAsync(long parent, string name, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.InodeNameSize(name));
        return RequestAsync(NamespaceCommand.RmDir, p, NamespaceMessages.WriteInodeName(Body(p), parent, name), cancellationToken);
    }

    /// <summary>Atomic rename (renameat2 semantics: replaces an existing target unless NoReplace; Exchange swaps). EXDEV across groups.</summary>
    public Task RenameAsync(
        long parent, string name, long newParent, string newName, NamespaceRenameFlags flags = NamespaceRenameFlags.None, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.RenameSize(name, newName));
        return RequestAsync(NamespaceCommand.Rename, p, NamespaceMessages.WriteRename(Body(p), parent, name, newParent, newName, flags), cancellationToken);
    }

    /// <summary>Changes the attributes named in <see cref="SetAttrRequest.Mask"/>; returns the new attributes.</summary>
    public Task<NsAttributes> SetAttrAsync(SetAttrRequest request, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.SetAttrSize);
        return AttributesAsync(NamespaceCommand.SetAttr, p, NamespaceMessages.WriteSetAttr(Body(p), request), cancellationToken);
    }

    public Task SetXattrAsync(long inode, string name, ReadOnlyMemory<byte> value, NamespaceXattrFlags flags = NamespaceXattrFlags.None, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.SetXattrSize(name, value.Length));
        return RequestAsync(NamespaceCommand.SetXattr, p, NamespaceMessages.WriteSetXattr(Body(p), inode, name, value.Span, flags), cancellationToken);
    }

    /// <summary>The value of an xattr; ENODATA when it is not set.</summary>
    public Task<byte[]> GetXattrAsync(long inode, string name, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.InodeNameSize(name));
        return RequestAsync(NamespaceCommand.GetXattr, p, NamespaceMessages.WriteInodeName(Body(p), inode, name), cancellationToken);
    }

    public async Task<IReadOnlyList<string>> ListXattrAsync(long inode, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.InodeSize);
        return NamespaceMessages.ReadXattrNames(await RequestAsync(NamespaceCommand.ListXattr, p, NamespaceMessages.WriteInode(Body(p), inode), cancellationToken));
    }

    public Task RemoveXattrAsync(long inode, string name, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.InodeNameSize(name));
        return RequestAsync(NamespaceCommand.RemoveXattr, p, NamespaceMessages.WriteInodeName(Body(p), inode, name), cancellationToken);
    }

    /// <summary>Counts of the group's tree and the namespace's identity.</summary>
    public async Task<NsStatFs> StatFsAsync(string group, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.GroupSize);
        return NsStatFs.Read(await RequestAsync(NamespaceCommand.StatFs, p, NamespaceMessages.WriteGroup(Body(p), group), cancellationToken));
    }

    /// <summary>Every name whose file has this file ID as content (empty when none).</summary>
    public async Task<IReadOnlyList<NsLinkName>> FindByFileIdAsync(string fileId, CancellationToken cancellationToken = default)
    {
        var p = Rent(Encoding.UTF8.GetByteCount(fileId));
        int n = Encoding.UTF8.GetBytes(fileId, Body(p));
        return NamespaceMessages.ReadLinkNames(await RequestAsync(NamespaceCommand.FindByFileId, p, n, cancellationToken));
    }

    /// <summary>
    /// Records an upload not yet committed to a name: unless <see cref="SetContentAsync"/> / <see cref="CreateAsync"/>
    /// binds it (or <see cref="ForgetPendingAsync"/> drops it) within <paramref name="lease"/>, the tracker deletes it.
    /// Call it right after the upload returns the file ID, so a crash before the commit leaks nothing.
    /// </summary>
    public Task RegisterPendingAsync(string fileId, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        var p = Rent(NamespaceMessages.PendingSize(fileId));
        return RequestAsync(NamespaceCommand.RegisterPending, p, NamespaceMessages.WritePending(Body(p), fileId, LeaseSeconds(lease)), cancellationToken);
    }

    public Task ForgetPendingAsync(string fileId, CancellationToken cancellationToken = default)
    {
        var p = Rent(Encoding.UTF8.GetByteCount(fileId));
        int n = Encoding.UTF8.GetBytes(fileId, Body(p));
        return RequestAsync(NamespaceCommand.ForgetPending, p, n, cancellationToken);
    }

    // ---- cluster-wide file locks ---------------------------------------------------------------------------

    /// <summary>Opens a lock session that lives <paramref name="lease"/> unless renewed; locks are owned by (session, owner).</summary>
    public async Task<long> OpenLockSessionAsync(TimeSpan lease, CancellationToken cancellationToken = default)
    {
        var p = Rent(LockMessages.OpenSessionSize);
        int n = LockMessages.WriteOpenSession(Body(p), LeaseSeconds(lease));
        return LockMessages.ReadSession(await RequestAsync(NamespaceCommand.OpenLockSession, p, n, cancellationToken));
    }

    /// <summary>Extends the session's lease from now; ENOLCK (<see cref="FdfsNamespaceException"/>) when it lapsed: its locks are gone.</summary>
    public Task RenewLockSessionAsync(long session, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        var p = Rent(LockMessages.RenewSessionSize);
        return RequestAsync(NamespaceCommand.RenewLockSession, p, LockMessages.WriteRenewSession(Body(p), session, LeaseSeconds(lease)), cancellationToken);
    }

    /// <summary>Ends the session; all its locks go at once.</summary>
    public Task CloseLockSessionAsync(long session, CancellationToken cancellationToken = default)
    {
        var p = Rent(LockMessages.SessionSize);
        return RequestAsync(NamespaceCommand.CloseLockSession, p, LockMessages.WriteSession(Body(p), session), cancellationToken);
    }

    /// <summary>
    /// Sets or clears a lock; null when another owner's lock conflicts (EAGAIN, answered without an exception because
    /// a waiting F_SETLKW asks again and again), else the owner's ranges it replaced on the request's range (what an
    /// interrupted wait puts back). ENOLCK when the session is unknown or lapsed; EDEADLK when a waiting request
    /// (<see cref="NsLockWait.Wait"/>) would close a cycle of waiting owners.
    /// </summary>
    public Task<NsLockRange[]?> SetLockAsync(NsLockRequest request, CancellationToken cancellationToken = default) =>
        SetLockAsync(request, _options.NetworkTimeout, cancellationToken);

    /// <summary>
    /// <see cref="SetLockAsync(NsLockRequest, CancellationToken)"/> waiting up to <paramref name="answerTimeout"/> for the
    /// answer instead of the network timeout (<see cref="Timeout.InfiniteTimeSpan"/>: as long as the token allows). For a
    /// caller that must learn what became of a request even after it stopped waiting for it (a lock it would otherwise
    /// hold without knowing).
    /// </summary>
    public async Task<NsLockRange[]?> SetLockAsync(NsLockRequest request, TimeSpan answerTimeout, CancellationToken cancellationToken)
    {
        var p = Rent(NsLockRequest.MaxSize);
        var (status, body) = await CallAsync(NamespaceCommand.SetLock, p, request.Write(Body(p)), FdfsErrno.EAGAIN, cancellationToken, answerTimeout);
        return status == 0 ? NsLockRange.ReadAll(body) : null;
    }

    /// <summary>The first lock of another owner that conflicts with the request (type Unlock when none).</summary>
    public async Task<NsLockHolder> GetLockAsync(NsLockRequest request, CancellationToken cancellationToken = default)
    {
        var p = Rent(NsLockRequest.Size);
        return NsLockHolder.Read(await RequestAsync(NamespaceCommand.GetLock, p, request.Write(Body(p)), cancellationToken));
    }

    /// <summary>A lease in whole seconds on the wire, rounded up and at least 1.</summary>
    private static int LeaseSeconds(TimeSpan lease) => (int)Math.Clamp(Math.Ceiling(lease.TotalSeconds), 1, int.MaxValue);

    // ---- transport -----------------------------------------------------------------------------------------

    private sealed class Slot(ServerPool pool)
    {
        public ServerPool Pool { get; } = pool;

        /// <summary>Stopwatch timestamp until which this tracker is skipped (0 = alive).</summary>
        public long DeadUntil;
    }

    private static byte[] Rent(int bodySize) => ArrayPool<byte>.Shared.Rent(FdfsConstants.HeaderSize + bodySize);

    private static Span<byte> Body(byte[] packet) => packet.AsSpan(FdfsConstants.HeaderSize);

    private async Task<NsAttributes> AttributesAsync(NamespaceCommand command, byte[] packet, int bodyLength, CancellationToken ct) =>
        NsAttributes.Read(await RequestAsync(command, packet, bodyLength, ct));

    private async Task<byte[]> RequestAsync(NamespaceCommand command, byte[] packet, int bodyLength, CancellationToken ct) =>
        (await CallAsync(command, packet, bodyLength, 0, ct)).Body;

    /// <summary>
    /// Sends a request (the header is written here) and returns the answer; returns the packet to the pool. A status
    /// other than 0 and <paramref name="acceptedStatus"/> throws <see cref="FdfsNamespaceException"/>.
    /// </summary>
    private async Task<(byte Status, byte[] Body)> CallAsync(
        NamespaceCommand command, byte[] packet, int bodyLength, byte acceptedStatus, CancellationToken ct, TimeSpan? answerTimeout = null)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        new PacketHeader(bodyLength, (byte)command, 0).Write(packet);
        var request = new Request(packet, FdfsConstants.HeaderSize + bodyLength, command, answerTimeout ?? _options.NetworkTimeout);
        try
        {
            var (status, body, server) = await OnTrackerAsync(request, ct);
            if (status != 0 && status != acceptedStatus)
            {
                throw new FdfsNamespaceException(status, command, server);
            }

            return (status, body);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(packet);
        }
    }

    private readonly record struct Request(byte[] Packet, int Length, NamespaceCommand Command, TimeSpan Timeout);

    /// <summary>The preferred tracker first, then the others in order (live ones first); a reachable one becomes preferred.</summary>
    private async Task<(byte Status, byte[] Body, string Server)> OnTrackerAsync(Request request, CancellationToken ct)
    {
        int n = _trackers.Length;
        int start = Volatile.Read(ref _preferred);
        long now = Stopwatch.GetTimestamp();
        List<string>? tried = null;
        Exception? last = null;
        bool allTimeouts = true;
        for (int pass = 0; pass < 2; pass++)
        {
            for (int i = 0; i < n; i++)
            {
                int index = (start + i) % n;
                var slot = _trackers[index];
                bool dead = Volatile.Read(ref slot.DeadUntil) > now;
                if (dead != (pass == 1))
                {
                    continue; // live ones in the first pass, the ones marked dead in the second
                }

                try
                {
                    var (status, body) = await OnServerAsync(slot.Pool, request, ct);
                    Volatile.Write(ref slot.DeadUntil, 0);
                    Volatile.Write(ref _preferred, index);
                    return (status, body, slot.Pool.Name);
                }
                catch (FdfsException e) when (e is FdfsConnectionException or FdfsTimeoutException)
                {
                    Volatile.Write(ref slot.DeadUntil, Stopwatch.GetTimestamp() + (long)(_options.TrackerRetryDelay.TotalSeconds * Stopwatch.Frequency));
                    ClientLog.TrackerFailed(_logger, slot.Pool.Name, e.Message);
                    (tried ??= []).Add(slot.Pool.Name);
                    allTimeouts &= e is FdfsTimeoutException;
                    last = e;
                }
            }
        }

        string list = string.Join(", ", tried ?? []);
        if (allTimeouts && last is not null)
        {
            throw new FdfsTimeoutException($"no tracker answered {request.Command} in time (tried {list}): {last.Message}", last);
        }

        throw new FdfsConnectionException($"could not reach any tracker for {request.Command} (tried {list}): {last?.Message}", tried ?? [], last);
    }

    /// <summary>One request on a pooled connection, through the library's one connection-handling loop.</summary>
    private ValueTask<(byte Status, byte[] Body)> OnServerAsync(ServerPool pool, Request request, CancellationToken cancellationToken) =>
        FastDfsClient.CallAsync(
            _logger,
            request.Timeout,
            pool,
            (Request: request, Logger: _logger, PoolName: pool.Name),
            static async (c, s, token, _) =>
            {
                await c.Connection.SendAsync(s.Request.Packet.AsMemory(0, s.Request.Length), token);
                var result = await c.Connection.ReadResponseAsync(MaxResponse, token);
                if (result.Status != 0)
                {
                    ClientLog.ServerError(s.Logger, s.Request.Command.ToString(), s.PoolName, result.Status);
                }

                return result;
            },
            (byte)request.Command,
            tracker: true,
            retriable: true,
            cancellationToken);
}
