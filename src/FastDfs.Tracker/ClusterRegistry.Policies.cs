using FastDfs.Protocol;

namespace FastDfs.Tracker;

/// <summary>Upload / download / update server selection (protocol notes 8.5, 8.6). Lock-free over the snapshot.</summary>
public sealed partial class ClusterRegistry
{
    /// <summary>
    /// Picks the group for an upload. <paramref name="groupField"/> empty: store_lookup decides; else the named group
    /// (ENOENT unknown). ENOENT when no candidate has a writable storage, ENOSPC when those that do are full.
    /// </summary>
    internal byte SelectGroup(ReadOnlySpan<byte> groupField, out GroupView? group)
    {
        var snapshot = Snapshot;
        group = null;
        if (!groupField.IsEmpty)
        {
            return CheckGroup(snapshot.Find(groupField), ref group);
        }

        var groups = snapshot.Groups;
        if (groups.Length == 0)
        {
            return FdfsErrno.ENOENT;
        }

        switch (_options.StoreLookup)
        {
            case StoreLookup.SpecifiedGroup:
                return CheckGroup(snapshot.Find(_options.StoreGroup), ref group);
            case StoreLookup.LoadBalance:
                return FirstUsable(snapshot.ByFreeDesc, 0, out group, out _);
            default:
                int cursor = Interlocked.Increment(ref _groupCursor);
                byte errno = FirstUsable(groups, (int)((uint)cursor % (uint)groups.Length), out group, out int skipped);
                if (skipped > 0)
                {
                    // As FastDFS does, the rotation continues after the group that took the upload; otherwise the
                    // group after a full one would also get the full one's turn (two uploads per round).
                    Interlocked.CompareExchange(ref _groupCursor, cursor + skipped, cursor);
                }

                return errno;
        }
    }

    private static byte CheckGroup(GroupView? candidate, ref GroupView? group)
    {
        if (candidate is null || candidate.Writable.Length == 0)
        {
            return FdfsErrno.ENOENT;
        }

        if (candidate.Full)
        {
            return FdfsErrno.ENOSPC;
        }

        group = candidate;
        return FdfsErrno.Success;
    }

    /// <summary>The first group from <paramref name="start"/> on that can take an upload; <paramref name="skipped"/> counts those passed over.</summary>
    private static byte FirstUsable(GroupView[] groups, int start, out GroupView? group, out int skipped)
    {
        bool anyWritable = false;
        for (int i = 0; i < groups.Length; i++)
        {
            var candidate = groups[(start + i) % groups.Length];
            if (candidate.Writable.Length == 0)
            {
                continue;
            }

            anyWritable = true;
            if (!candidate.Full)
            {
                group = candidate;
                skipped = i;
                return FdfsErrno.Success;
            }
        }

        group = null;
        skipped = 0;
        return anyWritable ? FdfsErrno.ENOSPC : FdfsErrno.ENOENT;
    }

    /// <summary>Picks the storage in a group for an upload (store_server).</summary>
    internal StorageNode SelectStorage(GroupView group)
    {
        var writable = group.Writable;
        return _options.StoreServer switch
        {
            StoreServerPolicy.FirstByIp or StoreServerPolicy.ByPriority => group.StoreServer ?? writable[0],
            _ => writable[(int)((uint)Interlocked.Increment(ref group.State.WriteCursor) % (uint)writable.Length)],
        };
    }

    /// <summary>
    /// Picks the store path (store_path 0 round robin / 2 most free); a path at or below the reserve is skipped,
    /// ENOSPC when all are. A storage without a disk report yet gets its round-robin path.
    /// </summary>
    internal byte SelectPath(StorageNode storage, out byte pathIndex)
    {
        int count = Math.Max(1, storage.StorePathCount);
        var disk = storage.Disk;
        bool roundRobin = _options.StorePath != StorePathPolicy.LoadBalance || disk is null;
        int cursor = roundRobin ? Interlocked.Increment(ref storage.PathCursor) : 0;
        int start = roundRobin ? (int)((uint)(cursor - 1) % (uint)count) : disk!.MostFreePath;
        if (disk is null)
        {
            pathIndex = (byte)start;
            return FdfsErrno.Success;
        }

        int paths = Math.Min(count, disk.FreeMb.Length);
        for (int i = 0; i < paths; i++)
        {
            int p = (start + i) % paths;
            if (!ReserveRules.PathIsFull(_options.ReservedStorageSpace, disk.TotalMb[p], disk.FreeMb[p], paths))
            {
                if (roundRobin && i > 0)
                {
                    // Continue the rotation after the path taken, as for groups: a full path's turn is not given
                    // to its neighbour.
                    Interlocked.CompareExchange(ref storage.PathCursor, cursor + i, cursor);
                }

                pathIndex = (byte)p;
                return FdfsErrno.Success;
            }
        }

        pathIndex = 0;
        return FdfsErrno.ENOSPC;
    }

    /// <summary>QUERY_STORE_*_ONE: group, storage and path in one go.</summary>
    internal byte SelectStore(ReadOnlySpan<byte> groupField, out GroupView? group, out StorageNode? storage, out byte pathIndex)
    {
        storage = null;
        pathIndex = 0;
        byte errno = SelectGroup(groupField, out group);
        if (errno != FdfsErrno.Success)
        {
            return errno;
        }

        storage = SelectStorage(group!);
        return SelectPath(storage, out pathIndex);
    }

    /// <summary>
    /// QUERY_FETCH_ONE (8.6). Normal files: the source first with download_server = 1, else round robin over the
    /// readable storages that satisfy the sync rule; appender and slave files: the source. Falls back to the
    /// group's store server.
    /// </summary>
    internal byte SelectFetch(GroupView group, in FileNameInfo file, out StorageNode? storage)
    {
        storage = null;
        var readable = group.Readable;
        if (readable.Length == 0)
        {
            return FdfsErrno.ENOENT;
        }

        var source = FindSource(readable, file);
        if (file.IsAppender || file.IsSlave || _options.DownloadServer == DownloadServerPolicy.SourceFirst)
        {
            storage = source;
        }

        if (storage is null && !file.IsAppender && !file.IsSlave)
        {
            long now = Now;
            int start = (int)((uint)Interlocked.Increment(ref group.State.ReadCursor) % (uint)readable.Length);
            for (int i = 0; i < readable.Length; i++)
            {
                var candidate = readable[(start + i) % readable.Length];
                if (HasFile(candidate, source, file, now))
                {
                    storage = candidate;
                    break;
                }
            }
        }

        storage ??= group.StoreServer;
        return storage is null ? FdfsErrno.ENOENT : FdfsErrno.Success;
    }

    /// <summary>QUERY_FETCH_ALL: every readable storage that has the file by the sync rule (the source for appender/slave).</summary>
    internal byte SelectFetchAll(GroupView group, in FileNameInfo file, List<StorageNode> result)
    {
        var readable = group.Readable;
        if (readable.Length == 0)
        {
            return FdfsErrno.ENOENT;
        }

        var source = FindSource(readable, file);
        if (file.IsAppender || file.IsSlave)
        {
            if (source is not null)
            {
                result.Add(source);
            }
        }
        else
        {
            long now = Now;
            foreach (var candidate in readable)
            {
                if (HasFile(candidate, source, file, now))
                {
                    result.Add(candidate);
                }
            }
        }

        if (result.Count == 0 && group.StoreServer is { } fallback)
        {
            result.Add(fallback);
        }

        return result.Count == 0 ? FdfsErrno.ENOENT : FdfsErrno.Success;
    }

    /// <summary>QUERY_UPDATE: the source while it is ACTIVE and writable, else any writable storage (round robin).</summary>
    internal byte SelectUpdate(GroupView group, in FileNameInfo file, out StorageNode? storage)
    {
        var writable = group.Writable;
        storage = FindSource(writable, file);
        if (storage is null && writable.Length > 0)
        {
            storage = writable[(int)((uint)Interlocked.Increment(ref group.State.UpdateCursor) % (uint)writable.Length)];
        }

        return storage is null ? FdfsErrno.ENOENT : FdfsErrno.Success;
    }

    /// <summary>The file's source storage among <paramref name="candidates"/>: by numeric ID or by IPv4 address (notes 6.2).</summary>
    private static StorageNode? FindSource(StorageNode[] candidates, in FileNameInfo file)
    {
        bool byId = file.HasServerId;
        foreach (var s in candidates)
        {
            if ((byId ? s.NumericId : s.NameAddress) == file.SourceAddress)
            {
                return s;
            }
        }

        return null;
    }

    /// <summary>The sync rule of 8.6: may <paramref name="candidate"/> already hold the file?</summary>
    private bool HasFile(StorageNode candidate, StorageNode? source, in FileNameInfo file, long now)
    {
        if (candidate == source)
        {
            return true;
        }

        long ts = file.Timestamp;
        if (ts < now - (long)_options.StorageSyncFileMaxDelay.TotalSeconds)
        {
            return true;
        }

        long synced = candidate.LastSyncedTimestamp;
        return synced > ts
            || (synced + 1 >= ts && now - ts > (long)_options.StorageSyncFileMaxTime.TotalSeconds);
    }
}
