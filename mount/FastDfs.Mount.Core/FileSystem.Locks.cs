using System.Collections.Concurrent;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Mount.Core;

/// <summary>
/// flock and fcntl record locks held cluster-wide through <see cref="Locks"/> (null: the kernel keeps them local to this
/// mount, as without a directory service). A node is locked under its directory-service inode; nodes without one
/// (file-ID paths) under a hash of their path, which every mount computes alike.
/// </summary>
public sealed partial class FileSystem
{
    // (ino, owner, kind) this mount has locked: only those cost a round trip when a descriptor closes, so closing the
    // many files nobody locks stays free. Exact, because this mount's session takes locks only through here.
    private readonly ConcurrentDictionary<(ulong Ino, ulong Owner, NsLockKind Kind), long> _lockOwners = new();

    /// <summary>The mount's lock session; set when locks are cluster-wide.</summary>
    public ClusterLocks? Locks { get; init; }

    /// <summary>F_GETLK: the first conflicting lock of another owner; its pid only when it is this mount's (others' mean nothing here).</summary>
    public async ValueTask<FsResult<NsLockHolder>> GetLockAsync(ulong ino, ulong owner, NsLockType type, long start, long end, int pid)
    {
        if (Locks is null || LockKey(ino) is not { } key)
        {
            return FsResult<NsLockHolder>.Fail(Locks is null ? Errno.ENOLCK : Errno.ENOENT);
        }

        var holder = await Locks.GetAsync(key, (long)owner, NsLockKind.Posix, type, start, end, pid);
        return holder.IsOk && holder.Value.Session != Locks.Session ? holder.Value with { Pid = 0 } : holder;
    }

    /// <summary>
    /// F_SETLK / F_SETLKW (<see cref="NsLockKind.Posix"/>, any range) or flock (<see cref="NsLockKind.Flock"/>, the whole
    /// file). EAGAIN on a conflict unless <paramref name="wait"/>; a wait ends with EINTR when <paramref name="interrupt"/> fires.
    /// An unlock through an open <paramref name="handle"/> first stores what was written through it: whoever takes the
    /// lock next, on any mount, reads the data written under it. If that fails the lock is released all the same and
    /// the unlock answers the error.
    /// </summary>
    public async ValueTask<int> SetLockAsync(
        ulong ino, ulong owner, NsLockKind kind, NsLockType type, long start, long end, int pid, bool wait, ulong handle = 0, CancellationToken interrupt = default) =>
        (await LockAsync(ino, owner, kind, type, start, end, pid, wait, handle, interrupt)).Errno;

    /// <summary><see cref="SetLockAsync"/>, also answering what a grant replaced (for <see cref="GiveBackLockAsync"/>).</summary>
    public async ValueTask<LockGrant> LockAsync(
        ulong ino, ulong owner, NsLockKind kind, NsLockType type, long start, long end, int pid, bool wait, ulong handle = 0, CancellationToken interrupt = default)
    {
        if (Locks is null || LockKey(ino) is not { } key)
        {
            return new LockGrant(Locks is null ? Errno.ENOLCK : Errno.ENOENT, []);
        }

        // Only named handles buffer writes (flushing a file-ID handle does nothing); 0 is no handle. Data that cannot
        // be stored does not keep the lock: the unlock goes on, and its answer is the flush's error.
        int flushed = 0;
        if (type == NsLockType.Unlock && _namedHandles.ContainsKey(handle))
        {
            flushed = await FlushAsync(handle, CancellationToken.None);
        }

        if (type != NsLockType.Unlock)
        {
            _lockOwners[(ino, owner, kind)] = key;
        }

        var grant = await Locks.LockAsync(key, (long)owner, kind, type, start, end, pid, wait, interrupt);
        return flushed != 0 && grant.Errno == 0 ? grant with { Errno = flushed } : grant;
    }

    /// <summary>
    /// A waiting lock was granted after its caller was answered EINTR: the owner gets back exactly the locks it held
    /// on the range before (see <see cref="ClusterLocks.GiveBackAsync"/>).
    /// </summary>
    public ValueTask GiveBackLockAsync(ulong ino, ulong owner, NsLockKind kind, long start, long end, NsLockRange[] replaced) =>
        Locks is null || LockKey(ino) is not { } key
            ? ValueTask.CompletedTask
            : Locks.GiveBackAsync(key, (long)owner, kind, start, end, replaced);

    /// <summary>
    /// A descriptor of the file was closed by <paramref name="lockOwner"/> (FUSE's flush): the data first, then every
    /// record lock that process holds on the file, whichever descriptor took it (POSIX drops them at any close), so
    /// whoever gets the lock next reads what was written under it. The flush's errno is the answer. Free of lock
    /// traffic when the owner never locked the file through this mount.
    /// </summary>
    public ValueTask<int> FlushAsync(ulong handle, ulong ino, ulong lockOwner, CancellationToken cancellationToken = default)
    {
        var flushed = FlushAsync(handle, cancellationToken);
        return _lockOwners.ContainsKey((ino, lockOwner, NsLockKind.Posix)) ? ThenReleasePosixLocksAsync(flushed, ino, lockOwner) : flushed;
    }

    private async ValueTask<int> ThenReleasePosixLocksAsync(ValueTask<int> flushed, ulong ino, ulong owner)
    {
        int errno = await flushed;
        await ReleaseAsync(ino, owner, NsLockKind.Posix);
        return errno;
    }

    /// <summary>The last descriptor of an open file description went (release with flock_release): its flock goes.</summary>
    public ValueTask<int> ReleaseFlockAsync(ulong ino, ulong owner) => ReleaseAsync(ino, owner, NsLockKind.Flock);

    private ValueTask<int> ReleaseAsync(ulong ino, ulong owner, NsLockKind kind)
    {
        if (Locks is null || !_lockOwners.TryRemove((ino, owner, kind), out long key))
        {
            return ValueTask.FromResult(0);
        }

        return Locks.SetAsync(key, (long)owner, kind, NsLockType.Unlock, 0, long.MaxValue, 0, wait: false, CancellationToken.None);
    }

    /// <summary>The identity the cluster locks a node under, or null when the kernel names a node this mount forgot.</summary>
    private long? LockKey(ulong ino)
    {
        var node = Inodes.Find(ino);
        if (node is null)
        {
            return null;
        }

        if (node.NsInode != 0)
        {
            return node.NsInode;
        }

        // FNV-1a of the path, made negative: directory-service inodes are positive, so the two never meet.
        ulong hash = 14695981039346656037;
        foreach (byte b in FileNameCodec.Encode(node.Key))
        {
            hash = (hash ^ b) * 1099511628211;
        }

        return -(long)(hash >> 1) - 1;
    }
}
