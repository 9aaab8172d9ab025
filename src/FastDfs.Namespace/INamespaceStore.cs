using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Namespace;

/// <summary>A namespace operation refused with a Linux errno (what the tracker puts in the status byte).</summary>
public sealed class NamespaceException(byte errno, string message) : Exception(message)
{
    public byte Errno { get; } = errno;

    public static NamespaceException NotFound(string what) => new(FdfsErrno.ENOENT, what + " not found");
}

/// <summary>
/// What a lock request came to: granted (<see cref="Replaced"/>: the owner's ranges it replaced), or refused because of
/// other owners' locks, <see cref="Conflict"/> EAGAIN (would block; a waiting request is recorded) or EDEADLK (waiting
/// would deadlock). A result rather than an exception: a waiting F_SETLKW asks again every half second, and "still
/// blocked" is its usual answer, not an error worth a stack trace.
/// </summary>
public readonly record struct NsLockOutcome(byte Conflict, NsLockRange[] Replaced)
{
    public static NsLockOutcome WouldBlock { get; } = new(FdfsErrno.EAGAIN, []);

    public static NsLockOutcome Deadlock { get; } = new(NamespaceErrno.EDEADLK, []);

    public bool Granted => Conflict == 0;

    public static NsLockOutcome Grant(NsLockRange[] replaced) => new(0, replaced);

    /// <summary>Why the lock was refused, for logs and exceptions.</summary>
    public string Reason => Conflict == NamespaceErrno.EDEADLK
        ? "waiting would deadlock: the owners holding the range wait, directly or not, for this owner"
        : "locked by another owner";
}

/// <summary>One directory entry as the store lists it; <see cref="Attributes"/> is complete only for READ_DIR_PLUS.</summary>
public readonly record struct NsDirRow(long Cookie, byte[] Name, NsAttributes Attributes);

/// <summary>A page of a directory listing.</summary>
public sealed record NsDirPage(IReadOnlyList<NsDirRow> Entries, bool Eof);

/// <summary>A name pointing at an inode.</summary>
public readonly record struct NsNameRow(long Parent, long Inode, byte[] Name);

/// <summary>An orphaned (or never committed) file ID the collector must delete from the storages.</summary>
public readonly record struct NsOrphan(string FileId, int Attempts, bool WasPending);

/// <summary>
/// The directory service's metadata store: per group a tree of inodes. Every mutating call is one transaction; errors
/// are <see cref="NamespaceException"/> with ext4's errno. Names are raw bytes (at most 255, no '/' or NUL).
/// </summary>
public interface INamespaceStore : IAsyncDisposable
{
    /// <summary>Identifies the namespace (created with it): trackers sharing one store report the same id.</summary>
    Guid NamespaceId { get; }

    /// <summary>True when calls block the calling thread (embedded SQLite): callers on I/O threads should hop off.</summary>
    bool IsBlocking { get; }

    /// <summary>Opens the store, creating or migrating the schema.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>The root directory of a group, created on first use.</summary>
    ValueTask<NsAttributes> RootAsync(string group, CancellationToken cancellationToken);

    ValueTask<NsAttributes> LookupAsync(long parent, byte[] name, CancellationToken cancellationToken);

    ValueTask<NsAttributes> GetAttrAsync(long inode, CancellationToken cancellationToken);

    /// <summary>Entries after <paramref name="cookie"/> (0 = from the start) in a stable order.</summary>
    ValueTask<NsDirPage> ReadDirAsync(long inode, long cookie, int maxEntries, bool withAttributes, CancellationToken cancellationToken);

    ValueTask<NsAttributes> MkDirAsync(long parent, byte[] name, uint mode, uint uid, uint gid, CancellationToken cancellationToken);

    /// <summary>
    /// A new regular file (or a FIFO, socket or device node when mode says so), optionally with content.
    /// <paramref name="rdev"/> is kept for character and block devices and ignored otherwise, as ext4 does.
    /// </summary>
    ValueTask<NsAttributes> CreateAsync(
        long parent, byte[] name, uint mode, uint uid, uint gid, string? fileId, long size, uint rdev, CancellationToken cancellationToken);

    /// <summary>Binds new content to a regular file; the previous file ID, if no longer named, is queued for deletion.</summary>
    ValueTask<NsAttributes> SetContentAsync(long inode, string fileId, long size, long mtimeNs, CancellationToken cancellationToken);

    ValueTask<NsAttributes> SymlinkAsync(long parent, byte[] name, byte[] target, uint uid, uint gid, CancellationToken cancellationToken);

    ValueTask<byte[]> ReadLinkAsync(long inode, CancellationToken cancellationToken);

    ValueTask<NsAttributes> LinkAsync(long inode, long newParent, byte[] newName, CancellationToken cancellationToken);

    ValueTask UnlinkAsync(long parent, byte[] name, CancellationToken cancellationToken);

    ValueTask RmDirAsync(long parent, byte[] name, CancellationToken cancellationToken);

    ValueTask RenameAsync(long parent, byte[] name, long newParent, byte[] newName, NamespaceRenameFlags flags, CancellationToken cancellationToken);

    ValueTask<NsAttributes> SetAttrAsync(SetAttrRequest request, CancellationToken cancellationToken);

    ValueTask SetXattrAsync(long inode, byte[] name, byte[] value, NamespaceXattrFlags flags, CancellationToken cancellationToken);

    ValueTask<byte[]> GetXattrAsync(long inode, byte[] name, CancellationToken cancellationToken);

    ValueTask<IReadOnlyList<byte[]>> ListXattrAsync(long inode, CancellationToken cancellationToken);

    ValueTask RemoveXattrAsync(long inode, byte[] name, CancellationToken cancellationToken);

    ValueTask<NsStatFs> StatFsAsync(string group, CancellationToken cancellationToken);

    ValueTask<IReadOnlyList<NsNameRow>> FindByFileIdAsync(string fileId, CancellationToken cancellationToken);

    /// <summary>
    /// Records a file ID uploaded but not yet bound to a name. Unless bound (CREATE / SET_CONTENT) or forgotten within
    /// <paramref name="lease"/>, the collector deletes it: what a client that crashed between upload and commit leaves.
    /// </summary>
    ValueTask RegisterPendingAsync(string fileId, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Drops a pending record (the client deleted the upload itself).</summary>
    ValueTask ForgetPendingAsync(string fileId, CancellationToken cancellationToken);

    /// <summary>
    /// Takes up to <paramref name="max"/> due file IDs that no inode references, hiding them from other collectors
    /// for <paramref name="claimFor"/>. Due entries that are referenced again are dropped.
    /// </summary>
    ValueTask<IReadOnlyList<NsOrphan>> ClaimOrphansAsync(int max, TimeSpan claimFor, CancellationToken cancellationToken);

    /// <summary>The file ID is gone from the storages.</summary>
    ValueTask CompleteOrphanAsync(string fileId, CancellationToken cancellationToken);

    /// <summary>A delete failed: try again after <paramref name="delay"/>.</summary>
    ValueTask RetryOrphanAsync(string fileId, TimeSpan delay, string error, CancellationToken cancellationToken);

    // ---- cluster-wide file locks (a mount's lock session owns its locks; an expired session's locks block nobody)

    /// <summary>A new lock session alive for <paramref name="lease"/> unless renewed; returns its id.</summary>
    ValueTask<long> OpenLockSessionAsync(TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Extends a session by <paramref name="lease"/> from now; ENOLCK when it has expired or was closed (its locks are gone).</summary>
    ValueTask RenewLockSessionAsync(long session, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Ends a session and drops all its locks (unknown sessions: nothing to do).</summary>
    ValueTask CloseLockSessionAsync(long session, CancellationToken cancellationToken);

    /// <summary>
    /// Sets (or with <see cref="NsLockType.Unlock"/> clears) the owner's lock on a range, splitting and merging the
    /// owner's ranges as POSIX does (upgrade and downgrade included), in one transaction. Refused with
    /// <see cref="NsLockOutcome.WouldBlock"/> when another owner's live lock of the same kind conflicts; throws ENOLCK
    /// when the session has expired or is unknown (unlocking then succeeds).
    /// A POSIX request with <see cref="NsLockWait.Wait"/> that conflicts is recorded as waiting, or refused with
    /// <see cref="NsLockOutcome.Deadlock"/> (and not recorded) when the conflicting owners wait, directly or through
    /// others, for the requester; <see cref="NsLockWait.GiveUp"/> forgets such a wait and changes no lock.
    /// A grant carries the owner's ranges the change replaced, clipped to the request's range (see <see cref="NsLockRange"/>).
    /// </summary>
    ValueTask<NsLockOutcome> TrySetLockAsync(NsLockRequest request, CancellationToken cancellationToken);

    /// <summary>The first live lock of another owner that would conflict with the request, or <see cref="NsLockHolder.None"/>.</summary>
    ValueTask<NsLockHolder> GetLockAsync(NsLockRequest request, CancellationToken cancellationToken);
}

public static class NamespaceStoreExtensions
{
    /// <summary>
    /// <see cref="INamespaceStore.TrySetLockAsync"/> for callers to whom a refusal is an error: EAGAIN or EDEADLK as a
    /// <see cref="NamespaceException"/>; returns the ranges the grant replaced.
    /// </summary>
    public static async ValueTask<NsLockRange[]> SetLockAsync(this INamespaceStore store, NsLockRequest request, CancellationToken cancellationToken)
    {
        var outcome = await store.TrySetLockAsync(request, cancellationToken);
        return outcome.Granted ? outcome.Replaced : throw new NamespaceException(outcome.Conflict, outcome.Reason);
    }
}
