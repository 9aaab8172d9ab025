using FastDfs.Protocol;
using FastDfs.Protocol.Config;

namespace FastDfs.Tracker;

/// <summary>
/// Immutable view of one group, rebuilt under the registry lock whenever a status, the membership or the
/// free space changes; queries read it without locking.
/// </summary>
internal sealed class GroupView
{
    private GroupView(GroupState state, StorageNode[] all, StorageNode[] writable, StorageNode[] readable, StorageNode? storeServer,
        long totalMb, long freeMb, long reservedMb, bool full)
    {
        State = state;
        All = all;
        Writable = writable;
        Readable = readable;
        StoreServer = storeServer;
        TotalMb = totalMb;
        FreeMb = freeMb;
        ReservedMb = reservedMb;
        Full = full;
    }

    public GroupState State { get; }

    public StorageNode[] All { get; }

    /// <summary>ACTIVE storages that take uploads (every storage is read-write without storage IDs; rw= with them).</summary>
    public StorageNode[] Writable { get; }

    /// <summary>ACTIVE storages that serve downloads.</summary>
    public StorageNode[] Readable { get; }

    /// <summary>The group's preferred upload server (store_server 1/2), also the download fallback.</summary>
    public StorageNode? StoreServer { get; }

    /// <summary>Total and free space of the storage with the least free space (FastDFS's group figures).</summary>
    public long TotalMb { get; }

    public long FreeMb { get; }

    public long ReservedMb { get; }

    /// <summary>True when the least-free writable storage is at or below the reserve.</summary>
    public bool Full { get; }

    public static GroupView Build(GroupState state, TrackerOptions options)
    {
        var all = state.Storages.ToArray();
        var active = Array.FindAll(all, s => s.Status == StorageStatus.Active);
        var writable = Array.FindAll(active, s => s.CanWrite);
        var readable = writable.Length == active.Length && Array.TrueForAll(active, s => s.CanRead) ? writable : Array.FindAll(active, s => s.CanRead);
        StorageNode? storeServer = null;
        if (writable.Length > 0)
        {
            storeServer = writable[0];
            if (options.StoreServer == StoreServerPolicy.ByPriority)
            {
                foreach (var s in writable)
                {
                    if (s.UploadPriority < storeServer.UploadPriority)
                    {
                        storeServer = s;
                    }
                }
            }
        }

        // Group space = that of the least-free storage among the ones that take uploads (all of them when
        // none does, so listings still show figures). Storages that have not reported yet do not count.
        StorageNode? leastFree = null;
        foreach (var s in active.Length > 0 ? active : all)
        {
            if (s.Disk is { } d && (leastFree is null || d.SumFreeMb < leastFree.Disk!.SumFreeMb))
            {
                leastFree = s;
            }
        }

        long total = leastFree?.Disk!.SumTotalMb ?? 0;
        long free = leastFree?.Disk!.SumFreeMb ?? 0;
        var reserve = options.ReservedStorageSpace;
        bool full = leastFree is not null && reserve.IsReached(total, free);
        return new GroupView(state, all, writable, readable, storeServer, total, free, reserve.GetReservedMb(total), full);
    }
}

/// <summary>All groups, sorted by name, as of the last change.</summary>
internal sealed class ClusterSnapshot
{
    public static readonly ClusterSnapshot Empty = new([]);

    public ClusterSnapshot(GroupView[] groups)
    {
        Groups = groups;
        ByFreeDesc = [.. groups.OrderByDescending(g => g.FreeMb).ThenBy(g => g.State.Name, StringComparer.Ordinal)];
    }

    public GroupView[] Groups { get; }

    /// <summary>Groups by decreasing free space, for store_lookup = 2.</summary>
    public GroupView[] ByFreeDesc { get; }

    /// <summary>Finds a group by its wire field (NUL-padded, text ends at the first NUL); no allocation.</summary>
    public GroupView? Find(ReadOnlySpan<byte> nameField)
    {
        int nul = nameField.IndexOf((byte)0);
        var name = nul < 0 ? nameField : nameField[..nul];
        foreach (var g in Groups)
        {
            if (name.SequenceEqual(g.State.NameBytes))
            {
                return g;
            }
        }

        return null;
    }

    public GroupView? Find(string name)
    {
        foreach (var g in Groups)
        {
            if (g.State.Name == name)
            {
                return g;
            }
        }

        return null;
    }
}

/// <summary>Reserve checks for one store path (percent per path, or the absolute reserve split over the paths).</summary>
internal static class ReserveRules
{
    public static bool PathIsFull(ReservedSpace reserve, long totalMb, long freeMb, int pathCount) =>
        reserve.IsPercent
            ? reserve.IsReached(totalMb, freeMb)
            : freeMb <= reserve.Megabytes / Math.Max(1, pathCount);
}
