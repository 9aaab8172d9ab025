using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Tracker;

/// <summary>Listings (LIST_ONE_GROUP / LIST_ALL_GROUPS / LIST_STORAGE) and the persisted state.</summary>
public sealed partial class ClusterRegistry
{
    /// <summary>Group records sorted by name.</summary>
    public IReadOnlyList<GroupStat> ListGroups()
    {
        var snapshot = Snapshot;
        var result = new GroupStat[snapshot.Groups.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = ToGroupStat(snapshot.Groups[i]);
        }

        return result;
    }

    public GroupStat? GetGroup(string name) => Snapshot.Find(name) is { } g ? ToGroupStat(g) : null;

    private static GroupStat ToGroupStat(GroupView g)
    {
        var state = g.State;
        int writable = g.Writable.Length;
        return new GroupStat
        {
            Name = state.Name,
            TotalMb = g.TotalMb,
            FreeMb = g.FreeMb,
            ReservedMb = g.ReservedMb,
            TrunkFreeMb = 0,
            StorageCount = g.All.Length,
            StoragePort = PortsDiffer(g) ? -1 : state.StoragePort,
            ReadableServerCount = g.Readable.Length,
            WritableServerCount = writable,
            CurrentWriteServer = writable == 0 ? 0 : (uint)Volatile.Read(ref state.WriteCursor) % (uint)writable,
            StorePathCount = state.StorePathCount,
            SubdirCountPerPath = state.SubdirCountPerPath,
            CurrentTrunkFileId = -1,
        };
    }

    /// <summary>The group record's port is -1 when its storages use different ports (ID mode, notes 3.2).</summary>
    private static bool PortsDiffer(GroupView g)
    {
        foreach (var s in g.All)
        {
            if (s.Status != StorageStatus.Deleted && s.Port != g.State.StoragePort && s.Port != 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Storage records of a group (all, or the one with <paramref name="id"/>); null when not found. A dual-IP storage is
    /// listed with its address of the kind of <paramref name="peerIp"/> (the caller's), as FastDFS lists it.
    /// </summary>
    public IReadOnlyList<StorageInfo>? ListStorages(string group, string? id, string? peerIp = null)
    {
        lock (_gate)
        {
            if (!_groups.TryGetValue(group, out var g))
            {
                return null;
            }

            var result = new List<StorageInfo>(g.Storages.Count);
            foreach (var s in g.Storages)
            {
                if (id is null || s.Id == id)
                {
                    result.Add(ToStorageInfo(s, peerIp));
                }
            }

            return id is not null && result.Count == 0 ? null : result;
        }
    }

    private StorageInfo ToStorageInfo(StorageNode s, string? peerIp)
    {
        var stats = s.Stats is { } block ? StorageStats.Read(block) : new StorageStats();

        // The tracker's own view of these two wins over what the storage last sent.
        stats[StatCounter.LastHeartBeatTime] = s.LastHeartbeat;
        stats[StatCounter.LastSyncedTimestamp] = s.LastSyncedTimestamp;
        long total = s.Disk?.SumTotalMb ?? 0;
        int paths = Math.Max(1, s.StorePathCount);
        long currentPath = _options.StorePath == StorePathPolicy.LoadBalance && s.Disk is { } d
            ? d.MostFreePath
            : (uint)Volatile.Read(ref s.PathCursor) % (uint)paths;
        return new StorageInfo
        {
            Status = s.Status,
            RwMode = s.RwMode,
            Id = s.Id,
            Ip = peerIp is null ? s.Ip : s.IpFor(peerIp),
            SyncSourceId = s.SyncSource,
            Version = s.Version.Length > FdfsConstants.VersionSize ? s.Version[..FdfsConstants.VersionSize] : s.Version,
            JoinTime = s.JoinTime,
            UpTime = s.UpTime,
            TotalMb = total,
            FreeMb = s.Disk?.SumFreeMb ?? 0,
            ReservedMb = _options.ReservedStorageSpace.GetReservedMb(total),
            UploadPriority = s.UploadPriority,
            StorePathCount = s.StorePathCount,
            SubdirCountPerPath = s.SubdirCountPerPath,
            CurrentWritePath = currentPath,
            StoragePort = s.Port,
            Stats = stats,
            IsTrunkServer = false,
        };
    }

    /// <summary>The persistent part of the state (no free space, no stats).</summary>
    internal ClusterState ExportState()
    {
        lock (_gate)
        {
            var groups = new List<GroupRecord>(_groups.Count);
            foreach (var g in _groups.Values)
            {
                var storages = new List<StorageRecord>(g.Storages.Count);
                foreach (var s in g.Storages)
                {
                    storages.Add(new StorageRecord
                    {
                        Id = s.Id,
                        Ip = s.Ip,
                        Status = s.Status,
                        Port = s.Port,
                        JoinTime = s.JoinTime,
                        UpTime = s.UpTime,
                        Version = s.Version,
                        StorePathCount = s.StorePathCount,
                        SubdirCountPerPath = s.SubdirCountPerPath,
                        UploadPriority = s.UploadPriority,
                        SyncSource = s.SyncSource,
                        SyncUntilTimestamp = s.SyncUntilTimestamp,
                        LastSyncedTimestamp = s.LastSyncedTimestamp,
                        LastHeartbeat = s.LastHeartbeat,
                        SyncedFrom = new Dictionary<string, long>(s.SyncedFrom, StringComparer.Ordinal),
                        ChangelogOffset = s.ChangelogOffset,
                        TotalMb = s.Disk?.SumTotalMb ?? 0,
                        FreeMb = s.Disk?.SumFreeMb ?? 0,
                    });
                }

                groups.Add(new GroupRecord
                {
                    Name = g.Name,
                    StoragePort = g.StoragePort,
                    StorePathCount = g.StorePathCount,
                    SubdirCountPerPath = g.SubdirCountPerPath,
                    Storages = storages,
                });
            }

            return new ClusterState { FormatVersion = ClusterState.CurrentFormatVersion, SavedAt = Now, Groups = groups };
        }
    }

    /// <summary>Loads saved state at start-up. Storages that were in service start OFFLINE until they report again.</summary>
    internal void ImportState(ClusterState state)
    {
        lock (_gate)
        {
            _groups.Clear();
            foreach (var gr in state.Groups)
            {
                if (!GroupName.IsValid(gr.Name) || _groups.ContainsKey(gr.Name))
                {
                    continue;
                }

                var g = new GroupState(gr.Name)
                {
                    StoragePort = gr.StoragePort,
                    StorePathCount = gr.StorePathCount,
                    SubdirCountPerPath = gr.SubdirCountPerPath,
                };
                foreach (var sr in gr.Storages)
                {
                    if (!IsUsable(sr) || g.Find(sr.IdOrIp()) is not null)
                    {
                        continue;
                    }

                    g.Insert(NodeFromRecord(sr, g));
                }

                _groups.Add(g.Name, g);
            }

            Publish();
        }
    }

    /// <summary>
    /// Adds the groups and storages of another tracker's state (the leader's, copied by a tracker that started
    /// empty) that this tracker does not know yet; what storages already reported here wins. Returns how many
    /// storages were added.
    /// </summary>
    internal int MergeState(ClusterState state)
    {
        int added = 0;
        lock (_gate)
        {
            foreach (var gr in state.Groups)
            {
                if (!GroupName.IsValid(gr.Name))
                {
                    continue;
                }

                if (!_groups.TryGetValue(gr.Name, out var g))
                {
                    if (_groups.Count >= FdfsConstants.MaxGroups)
                    {
                        continue;
                    }

                    g = new GroupState(gr.Name)
                    {
                        StoragePort = gr.StoragePort,
                        StorePathCount = gr.StorePathCount,
                        SubdirCountPerPath = gr.SubdirCountPerPath,
                    };
                    _groups.Add(g.Name, g);
                }

                foreach (var sr in gr.Storages)
                {
                    if (!IsUsable(sr) || g.Find(sr.IdOrIp()) is not null || g.Storages.Count >= FdfsConstants.MaxServersPerGroup)
                    {
                        continue;
                    }

                    g.Insert(NodeFromRecord(sr, g));
                    g.Version++;
                    added++;
                }
            }

            Publish();
        }

        if (added > 0)
        {
            RaiseChanged();
        }

        return added;
    }

    /// <summary>A saved storage the registry can take: an IP that fits the query responses and an ID (or IP) that fits.</summary>
    private bool IsUsable(StorageRecord sr) =>
        !string.IsNullOrEmpty(sr.Ip) && QueryIp.Fits(sr.Ip, IPv6Responses) && sr.IdOrIp().Length < FdfsConstants.StorageIdMaxSize;

    /// <summary>A storage from saved state: one that was in service is OFFLINE until it reports to this tracker.</summary>
    private StorageNode NodeFromRecord(StorageRecord sr, GroupState g)
    {
        string id = sr.IdOrIp();
        var idEntry = _options.StorageIds?.FindById(id);
        var s = new StorageNode(id, sr.Ip, g)
        {
            RwMode = idEntry?.RwMode ?? StorageRwMode.Both,
            Status = sr.Status is StorageStatus.Online or StorageStatus.Active ? StorageStatus.Offline : sr.Status,
            Port = sr.Port,
            JoinTime = sr.JoinTime,
            UpTime = sr.UpTime,
            Version = sr.Version ?? FdfsConstants.ServerVersion,
            StorePathCount = sr.StorePathCount,
            SubdirCountPerPath = sr.SubdirCountPerPath,
            UploadPriority = sr.UploadPriority,
            SyncSource = sr.SyncSource ?? string.Empty,
            SyncUntilTimestamp = sr.SyncUntilTimestamp,
            LastSyncedTimestamp = sr.LastSyncedTimestamp,
            LastHeartbeat = sr.LastHeartbeat,
            ChangelogOffset = sr.ChangelogOffset,
        };
        if (_options.UseStorageId)
        {
            s.SetDualIps(idEntry?.Ips);
        }

        if (sr.SyncedFrom is not null)
        {
            foreach (var (k, v) in sr.SyncedFrom)
            {
                s.SyncedFrom[k] = v;
            }
        }

        return s;
    }
}
