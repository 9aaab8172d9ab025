using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Namespace.Tests;

/// <summary>Cluster-wide locks: POSIX range rules per owner, conflicts between owners, lock sessions and their leases.</summary>
public abstract partial class StoreContractTests
{
    private const long ToEnd = long.MaxValue;
    private static readonly TimeSpan LongLease = TimeSpan.FromMinutes(5);

    private static NsLockRequest Lock(long session, long inode, long owner, NsLockType type, long first, long last, NsLockKind kind = NsLockKind.Posix, int pid = 42) =>
        new(session, inode, owner, kind, type, first, last, pid);

    private Task Set(NsLockRequest request) => Store.SetLockAsync(request, default).AsTask();

    private Task<NsLockHolder> Get(NsLockRequest request) => Store.GetLockAsync(request, default).AsTask();

    private Task<long> Session(TimeSpan? lease = null) => Store.OpenLockSessionAsync(lease ?? LongLease, default).AsTask();

    [Fact]
    public async Task Locks_of_other_owners_conflict_by_range_and_type()
    {
        long file = (await Create(Root, "locked")).Inode;
        long a = await Session(), b = await Session();
        await Set(Lock(a, file, 1, NsLockType.Write, 0, 99, pid: 7));
        await Set(Lock(b, file, 1, NsLockType.Write, 100, 199)); // next to it: no overlap
        await Errno(FdfsErrno.EAGAIN, () => Set(Lock(b, file, 1, NsLockType.Write, 50, 60)));
        await Errno(FdfsErrno.EAGAIN, () => Set(Lock(b, file, 1, NsLockType.Read, 99, 99)));
        await Errno(FdfsErrno.EAGAIN, () => Set(Lock(a, file, 2, NsLockType.Read, 150, ToEnd))); // same session, other owner
        await Set(Lock(a, file, 1, NsLockType.Read, 300, ToEnd));
        await Set(Lock(b, file, 2, NsLockType.Read, 1000, 2000)); // readers share
        await Set(Lock(b, file, 1, NsLockType.Write, 0, 99, kind: NsLockKind.Flock)); // flock and fcntl never meet

        // F_GETLK: the first conflicting lock, its holder's range, type, pid and session; none for the holder itself.
        Assert.Equal(new NsLockHolder(NsLockType.Write, 0, 99, 7, a), await Get(Lock(b, file, 3, NsLockType.Read, 0, ToEnd)));
        Assert.Equal(new NsLockHolder(NsLockType.Read, 300, ToEnd, 42, a), await Get(Lock(b, file, 3, NsLockType.Write, 250, 400)));
        Assert.Equal(NsLockHolder.None, await Get(Lock(b, file, 3, NsLockType.Read, 300, 400)));
        Assert.Equal(NsLockHolder.None, await Get(Lock(a, file, 1, NsLockType.Write, 0, 99)));

        // Another inode is another file.
        long other = (await Create(Root, "free")).Inode;
        await Set(Lock(b, other, 1, NsLockType.Write, 0, ToEnd));
    }

    [Fact]
    public async Task An_owner_s_ranges_split_merge_upgrade_and_downgrade()
    {
        long file = (await Create(Root, "ranges")).Inode;
        long a = await Session(), b = await Session();
        await Set(Lock(a, file, 1, NsLockType.Write, 0, 99));

        // Unlocking the middle splits the lock in two.
        await Set(Lock(a, file, 1, NsLockType.Unlock, 40, 59));
        await Set(Lock(b, file, 1, NsLockType.Write, 40, 59));
        Assert.Equal(new NsLockHolder(NsLockType.Write, 60, 99, 42, a), await Get(Lock(b, file, 2, NsLockType.Read, 60, ToEnd)));
        await Set(Lock(b, file, 1, NsLockType.Unlock, 0, ToEnd));

        // Locking the gap again merges the three into one range.
        await Set(Lock(a, file, 1, NsLockType.Write, 40, 59));
        Assert.Equal(new NsLockHolder(NsLockType.Write, 0, 99, 42, a), await Get(Lock(b, file, 2, NsLockType.Read, 0, ToEnd)));

        // Downgrade to read: other readers get in, writers not; the upgrade back now conflicts with them.
        await Set(Lock(a, file, 1, NsLockType.Read, 0, 99));
        await Set(Lock(b, file, 1, NsLockType.Read, 50, 150));
        await Errno(FdfsErrno.EAGAIN, () => Set(Lock(b, file, 2, NsLockType.Write, 0, 10)));
        await Errno(FdfsErrno.EAGAIN, () => Set(Lock(a, file, 1, NsLockType.Write, 0, 99)));
        await Set(Lock(a, file, 1, NsLockType.Write, 0, 49)); // the part nobody else reads
        Assert.Equal(new NsLockHolder(NsLockType.Write, 0, 49, 42, a), await Get(Lock(b, file, 2, NsLockType.Read, 0, ToEnd)));

        // Unlock of everything leaves nothing behind.
        await Set(Lock(a, file, 1, NsLockType.Unlock, 0, ToEnd));
        await Set(Lock(b, file, 1, NsLockType.Unlock, 0, ToEnd));
        await Set(Lock(b, file, 9, NsLockType.Write, 0, ToEnd));
    }

    [Fact]
    public async Task A_grant_answers_the_owner_s_ranges_it_replaced_so_an_interrupted_wait_can_restore_them()
    {
        long file = (await Create(Root, "replaced")).Inode;
        long a = await Session(), b = await Session();
        Assert.Empty(await Store.SetLockAsync(Lock(a, file, 1, NsLockType.Read, 0, 99, pid: 7), default));
        await Set(Lock(a, file, 1, NsLockType.Write, 150, 199, pid: 8));
        await Set(Lock(a, file, 1, NsLockType.Read, 300, 399, pid: 9));
        await Set(Lock(a, file, 1, NsLockType.Write, 50, 60, kind: NsLockKind.Flock)); // the owner's flock is another family

        // The upgrade of 50..end replaces three ranges; they come back clipped to the request, in order.
        var replaced = await Store.SetLockAsync(Lock(a, file, 1, NsLockType.Write, 50, ToEnd, pid: 10), default);
        Assert.Equal(
            [new NsLockRange(NsLockType.Read, 50, 99, 7), new NsLockRange(NsLockType.Write, 150, 199, 8), new NsLockRange(NsLockType.Read, 300, 399, 9)],
            replaced);
        await Set(Lock(a, file, 1, NsLockType.Unlock, 0, ToEnd, kind: NsLockKind.Flock));

        // What ClusterLocks.GiveBackAsync does with them: each at its old type (downgrades inside the write lock, never
        // a conflict), then the gaps unlocked; the owner holds exactly what it held before the upgrade.
        foreach (var range in replaced)
        {
            await Set(Lock(a, file, 1, range.Type, range.Start, range.End, pid: range.Pid));
        }

        await Set(Lock(a, file, 1, NsLockType.Unlock, 100, 149));
        await Set(Lock(a, file, 1, NsLockType.Unlock, 200, 299));
        await Set(Lock(a, file, 1, NsLockType.Unlock, 400, ToEnd));
        Assert.Equal(new NsLockHolder(NsLockType.Read, 0, 99, 7, a), await Get(Lock(b, file, 1, NsLockType.Write, 0, 149)));
        Assert.Equal(new NsLockHolder(NsLockType.Write, 150, 199, 8, a), await Get(Lock(b, file, 1, NsLockType.Read, 100, 299)));
        Assert.Equal(new NsLockHolder(NsLockType.Read, 300, 399, 9, a), await Get(Lock(b, file, 1, NsLockType.Write, 200, ToEnd)));
        Assert.Equal(NsLockHolder.None, await Get(Lock(b, file, 1, NsLockType.Write, 400, ToEnd)));
        await Set(Lock(b, file, 1, NsLockType.Read, 0, 99)); // readers share the restored read lock again

        // An unlock answers what it removed as well; nothing held there, nothing answered.
        Assert.Equal([new NsLockRange(NsLockType.Read, 0, 99, 7)], await Store.SetLockAsync(Lock(a, file, 1, NsLockType.Unlock, 0, 149), default));
        Assert.Empty(await Store.SetLockAsync(Lock(a, file, 1, NsLockType.Unlock, 0, 149), default));
    }

    [Fact]
    public async Task A_lapsed_or_closed_session_blocks_nobody_and_cannot_come_back()
    {
        long file = (await Create(Root, "leased")).Inode;
        long dying = await Session(TimeSpan.FromSeconds(1));
        long closing = await Session();
        long other = await Session();
        await Set(Lock(dying, file, 1, NsLockType.Write, 0, 9));
        await Set(Lock(closing, file, 1, NsLockType.Write, 10, 19, kind: NsLockKind.Flock));
        await Errno(FdfsErrno.EAGAIN, () => Set(Lock(other, file, 1, NsLockType.Write, 0, 9)));

        // Closing drops every lock of the session at once.
        await Store.CloseLockSessionAsync(closing, default);
        await Set(Lock(other, file, 1, NsLockType.Write, 0, ToEnd, kind: NsLockKind.Flock));
        await Store.CloseLockSessionAsync(closing, default); // twice: nothing to do

        // A renewed session keeps its locks past the first lease; one that lapses loses them.
        await Store.RenewLockSessionAsync(dying, TimeSpan.FromSeconds(1), default);
        await Task.Delay(1500);
        Assert.Equal(NsLockHolder.None, await Get(Lock(other, file, 1, NsLockType.Write, 0, ToEnd)));
        await Set(Lock(other, file, 1, NsLockType.Write, 0, 9));
        await Errno(NamespaceErrno.ENOLCK, () => Store.RenewLockSessionAsync(dying, LongLease, default).AsTask());
        await Errno(NamespaceErrno.ENOLCK, () => Set(Lock(dying, file, 1, NsLockType.Write, 100, 109)));
        await Set(Lock(dying, file, 1, NsLockType.Unlock, 0, ToEnd)); // unlocking with a dead session is harmless
        await Errno(NamespaceErrno.ENOLCK, () => Set(Lock(123456789, file, 1, NsLockType.Read, 0, 1)));
        await Errno(NamespaceErrno.ENOLCK, () => Store.RenewLockSessionAsync(closing, LongLease, default).AsTask());

        // The lapsed session's rows went with the renewal that found it lapsed: its range is free for a new session.
        long fresh = await Session();
        await Set(Lock(fresh, file, 1, NsLockType.Read, 100, 200));
    }

    [Fact]
    public void Range_rules_split_merge_and_keep_the_end_of_file_open()
    {
        var w = NsLockType.Write;
        var r = NsLockType.Read;
        Assert.Equal([new NsLockRange(w, 0, 9, 1), new NsLockRange(w, 20, 29, 1)],
            LockRanges.Apply([new NsLockRange(w, 0, 29, 1)], NsLockType.Unlock, 10, 19, 0));
        Assert.Equal([new NsLockRange(w, 0, 29, 2)],
            LockRanges.Apply([new NsLockRange(w, 0, 9, 1), new NsLockRange(w, 20, 29, 1)], w, 10, 19, 2));
        Assert.Equal([new NsLockRange(r, 0, 4, 1), new NsLockRange(w, 5, ToEnd, 2)],
            LockRanges.Apply([new NsLockRange(r, 0, ToEnd, 1)], w, 5, ToEnd, 2));
        Assert.Equal([new NsLockRange(r, 0, ToEnd, 3)],
            LockRanges.Apply([new NsLockRange(r, 0, 4, 1), new NsLockRange(w, 5, ToEnd, 2)], r, 5, ToEnd, 3));
        Assert.Empty(LockRanges.Apply([new NsLockRange(r, 5, 9, 1)], NsLockType.Unlock, 0, ToEnd, 0));
    }
}
