using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.Messages;
using FastDfs.Protocol.TrackerState;

namespace FastDfs.Tracker;

/// <summary>
/// The tracker's picture of the cluster: groups and their storages keyed by ID (protocol notes 8.1-8.4): the ID from
/// storage_ids.conf with use_storage_id, else the storage's IP.
/// Storage reports mutate it under one lock (they arrive every few seconds per storage); client queries read an
/// immutable <see cref="ClusterSnapshot"/> published after every change, so the query path takes no lock.
/// </summary>
public sealed partial class ClusterRegistry
{
    private const int MaxPathCount = 256;
    private const int MaxSubdirCount = 256;

    private readonly Lock _gate = new();
    private readonly SortedDictionary<string, GroupState> _groups = new(StringComparer.Ordinal);
    private readonly TrackerOptions _options;

    private readonly TimeProvider _time;
    private ClusterSnapshot _snapshot = ClusterSnapshot.Empty;
    private int _groupCursor = -1;

    // Tracker leadership (protocol notes 8.7): only the leader appends change notifications; a lone tracker is its own.
    private bool _isLeader = true;
    private StorageBrief? _leaderBrief;
    private int _leaderVersion;

    public ClusterRegistry(TrackerOptions options, TimeProvider? timeProvider = null)
    {
        if (options.UseStorageId && options.StorageIds is null)
        {
            throw new ArgumentException("use_storage_id needs the storage IDs (TrackerOptions.StorageIds)", nameof(options));
        }

        _options = options;
        IPv6Responses = options.IPv6Responses;
        _time = timeProvider ?? TimeProvider.System;
        StartTime = Now;
    }

    /// <summary>storage_changelog.dat, where deletions and IP changes are recorded; null (unit tests): none kept.</summary>
    internal StorageChangelog? Changelog { get; set; }

    /// <summary>Raised (outside the lock) after a change worth persisting: membership, status, sync progress.</summary>
    public event Action? StateChanged;

    public TrackerOptions Options => _options;

    /// <summary>
    /// Responses carry IPv6-wide IP fields (<see cref="TrackerOptions.IPv6Responses"/>), decided once at start: the
    /// option scans the storage IDs, and joins, queries and listings must all agree.
    /// </summary>
    public bool IPv6Responses { get; }

    /// <summary>Unix time the registry was created (the tracker's start).</summary>
    public long StartTime { get; }

    internal long Now => _time.GetUtcNow().ToUnixTimeSeconds();

    internal ClusterSnapshot Snapshot => Volatile.Read(ref _snapshot);

    public int GroupCount => Snapshot.Groups.Length;

    /// <summary>Status of a storage (by ID, or by IP), or null when unknown (for tests and diagnostics).</summary>
    public StorageStatus? GetStatus(string group, string idOrIp)
    {
        lock (_gate)
        {
            return _groups.TryGetValue(group, out var g) ? (g.Find(idOrIp) ?? g.FindByAddress(idOrIp))?.Status : null;
        }
    }

    /// <summary>The storage whose current address is <paramref name="ip"/>, in any group.</summary>
    internal StorageNode? FindStorageByIp(string ip)
    {
        lock (_gate)
        {
            foreach (var g in _groups.Values)
            {
                if (g.FindByAddress(ip) is { } s)
                {
                    return s;
                }
            }
        }

        return null;
    }

    internal StorageNode? FindStorage(string group, string id)
    {
        lock (_gate)
        {
            return _groups.TryGetValue(group, out var g) ? g.Find(id) : null;
        }
    }

    internal StorageNode? FindStorageByAddress(string group, string ip, int port)
    {
        lock (_gate)
        {
            return _groups.TryGetValue(group, out var g) ? g.FindByAddress(ip, port) : null;
        }
    }

    /// <summary>
    /// Which storage is joining (protocol notes 8.2). IP mode: its IP. ID mode: the ID it sends when
    /// trust_storage_server_id is on, else the storage_ids.conf line for its IP and port; unknown ones get ENOENT and
    /// a line for another group EINVAL, as FastDFS answers.
    /// </summary>
    private byte ResolveId(string ip, StorageJoinRequest request, out StorageIdEntry? entry, out string? error)
    {
        entry = null;
        error = null;
        if (!_options.UseStorageId)
        {
            return FdfsErrno.Success;
        }

        var ids = _options.StorageIds!;
        int port = (int)request.StoragePort;
        if (_options.TrustStorageServerId && request.StorageId.Length > 0)
        {
            entry = ids.FindById(request.StorageId);
            if (entry is null)
            {
                error = $"storage id {request.StorageId} (sent by {ip}:{port}) is not in {_options.StorageIdsFilename}";
                return FdfsErrno.ENOENT;
            }
        }
        else
        {
            entry = ids.FindByAddress(ip, port);
            if (entry is null)
            {
                error = $"{ip}:{port} (group {request.Group}) has no line in {_options.StorageIdsFilename}";
                return FdfsErrno.ENOENT;
            }
        }

        if (entry.Group != request.Group)
        {
            error = $"storage id {entry.Id} belongs to group {entry.Group} in {_options.StorageIdsFilename}, but {ip}:{port} joins {request.Group}";
            return FdfsErrno.EINVAL;
        }

        return FdfsErrno.Success;
    }

    /// <summary>ID mode with IDs in file names: storages of a group may use different ports (notes 8.2).</summary>
    private bool PortsMayDiffer => _options.UseStorageId && _options.IdTypeInFilename == IdTypeInFilename.Id;

    /// <summary>STORAGE_JOIN (protocol notes 8.2, 8.4). Returns the errno; on success the storage's record.</summary>
    internal byte Join(string ip, StorageJoinRequest request, long sessionId, out StorageNode? node, out string? error)
    {
        node = null;
        error = null;
        if (!GroupName.IsValid(request.Group))
        {
            error = $"invalid group name '{request.Group}'";
            return FdfsErrno.EINVAL;
        }

        if (request.StoragePort is <= 0 or > 65535)
        {
            error = $"invalid storage port {request.StoragePort}";
            return FdfsErrno.EINVAL;
        }

        if (request.StorePathCount is < 1 or > MaxPathCount || request.SubdirCountPerPath is < 1 or > MaxSubdirCount)
        {
            error = $"invalid store_path_count {request.StorePathCount} / subdir_count_per_path {request.SubdirCountPerPath}";
            return FdfsErrno.EINVAL;
        }

        // FastDFS 6.11+: an IPv6 address does not fit the 4 bytes of an IP-type file name, so IPv6 storages need IDs in names.
        if (ip.Contains(':', StringComparison.Ordinal) && !PortsMayDiffer)
        {
            error = $"IPv6 storage {ip} needs use_storage_id = true and id_type_in_filename = id (its IP cannot go into file names)";
            return FdfsErrno.EINVAL;
        }

        if (!QueryIp.Fits(ip, IPv6Responses))
        {
            error = $"address {ip} does not fit the 15-byte IP field of IPv4 responses: set response_ip_addr_size = IPv6 (or auto with this address in storage_ids.conf)";
            return FdfsErrno.EINVAL;
        }

        byte idErrno = ResolveId(ip, request, out var idEntry, out error);
        if (idErrno != FdfsErrno.Success)
        {
            return idErrno;
        }

        string id = idEntry?.Id ?? ip;

        bool changed;
        lock (_gate)
        {
            if (!_groups.TryGetValue(request.Group, out var group))
            {
                if (_groups.Count >= FdfsConstants.MaxGroups)
                {
                    error = "too many groups";
                    return FdfsErrno.ENOSPC;
                }

                group = null;
            }

            var existing = group?.Find(id);
            if (group is not null && group.Storages.Exists(s => s != existing && s.Status != StorageStatus.Deleted)
                && ((group.StoragePort != request.StoragePort && !PortsMayDiffer) || group.StorePathCount != request.StorePathCount
                    || group.SubdirCountPerPath != request.SubdirCountPerPath))
            {
                error = $"group {group.Name} uses port {group.StoragePort}, {group.StorePathCount} path(s), {group.SubdirCountPerPath} subdirs; "
                    + $"storage sent {request.StoragePort}, {request.StorePathCount}, {request.SubdirCountPerPath}";
                return FdfsErrno.EINVAL;
            }

            if (existing is null && group is not null && group.Storages.Count >= FdfsConstants.MaxServersPerGroup)
            {
                error = $"group {group.Name} already has {FdfsConstants.MaxServersPerGroup} storages";
                return FdfsErrno.ENOSPC;
            }

            if (group is null)
            {
                group = new GroupState(request.Group);
                _groups.Add(group.Name, group);
            }

            group.StoragePort = (int)request.StoragePort;
            group.StorePathCount = (int)request.StorePathCount;
            group.SubdirCountPerPath = (int)request.SubdirCountPerPath;

            var oldStatus = existing?.Status;
            if (existing is null)
            {
                existing = new StorageNode(id, ip, group) { Status = StatusForUnknown(request) };
                group.Insert(existing);
            }
            else
            {
                existing.SetIp(ip);
                existing.Status = existing.Status switch
                {
                    StorageStatus.Deleted or StorageStatus.IpChanged => StorageStatus.Init,
                    StorageStatus.Offline or StorageStatus.Recovery => StorageStatus.Online,
                    var same => same,
                };
            }

            existing.Port = (int)request.StoragePort;
            existing.RwMode = idEntry?.RwMode ?? StorageRwMode.Both;
            existing.SetDualIps(idEntry?.Ips);
            existing.StorePathCount = (int)request.StorePathCount;
            existing.SubdirCountPerPath = (int)request.SubdirCountPerPath;
            existing.UploadPriority = request.UploadPriority;
            existing.JoinTime = request.JoinTime;
            existing.UpTime = request.UpTime;
            existing.Version = request.Version;
            existing.LastHeartbeat = Now;
            existing.SessionId = sessionId;

            // A storage starting afresh copies from no one yet and has nothing to replay: its changelog reading
            // starts at the end (as FastDFS).
            if (existing.Status == StorageStatus.Init)
            {
                existing.SyncSource = string.Empty;
                existing.SyncUntilTimestamp = 0;
                existing.ChangelogOffset = Changelog?.Size ?? 0;
            }

            // A new session must learn the current members (and the leader) on its first report.
            existing.NotifiedVersion = -1;
            existing.NotifiedLeaderVersion = -1;
            changed = oldStatus != existing.Status;
            if (changed)
            {
                group.Version++;
            }

            Publish();
            node = existing;
        }

        RaiseChanged();
        return FdfsErrno.Success;
    }

    /// <summary>A storage the tracker does not know (8.4): new ones start at INIT, others keep what they report.</summary>
    private static StorageStatus StatusForUnknown(StorageJoinRequest request)
    {
        if (request.InitFlag)
        {
            return StorageStatus.Init;
        }

        return request.Status switch
        {
            StorageStatus.Active or StorageStatus.Online or StorageStatus.Offline or StorageStatus.Recovery => StorageStatus.Online,
            StorageStatus.WaitSync or StorageStatus.Syncing => request.Status,
            _ => StorageStatus.Init,
        };
    }

    /// <summary>
    /// STORAGE_SYNC_DEST_REQ: decides whether a new storage needs a full copy. Returns true with the source when it
    /// does (the storage becomes WAIT_SYNC), false when there is nothing to copy.
    /// </summary>
    internal bool SyncDestRequest(StorageNode node, out string source, out long until)
    {
        bool changed = false;
        lock (_gate)
        {
            if (node.Status == StorageStatus.Init)
            {
                var group = node.Group;
                StorageNode? src = null;
                foreach (var s in group.Storages)
                {
                    if (s != node && s.Status is StorageStatus.Active or StorageStatus.Online or StorageStatus.Offline
                        && (src is null || (src.Status != StorageStatus.Active && s.Status == StorageStatus.Active)))
                    {
                        src = s;
                    }
                }

                if (src is null)
                {
                    node.Status = StorageStatus.Online;
                }
                else
                {
                    node.SyncSource = src.Id;
                    node.SyncUntilTimestamp = Now;
                    node.Status = StorageStatus.WaitSync;
                }

                group.Version++;
                changed = true;
                Publish();
            }

            source = node.SyncSource;
            until = node.SyncUntilTimestamp;
        }

        if (changed)
        {
            RaiseChanged();
        }

        return source.Length > 0 && node.Status is StorageStatus.WaitSync or StorageStatus.Syncing;
    }

    /// <summary>STORAGE_SYNC_NOTIFY: the storage tells which source it syncs from (empty: none, it is ready).</summary>
    internal void SyncNotify(StorageNode node, string source, long until)
    {
        lock (_gate)
        {
            if (source.Length == 0)
            {
                if (node.Status == StorageStatus.Init)
                {
                    SetStatus(node, StorageStatus.Online);
                }
            }
            else
            {
                node.SyncSource = source;
                node.SyncUntilTimestamp = until;
                if (node.Status == StorageStatus.Init)
                {
                    SetStatus(node, StorageStatus.WaitSync);
                }
            }

            Publish();
        }

        RaiseChanged();
    }

    /// <summary>The sync source and until-timestamp recorded for a storage (SYNC_SRC_REQ / SYNC_DEST_QUERY).</summary>
    internal bool GetSyncSource(StorageNode node, out string source, out long until)
    {
        lock (_gate)
        {
            source = node.SyncSource;
            until = node.SyncUntilTimestamp;
        }

        return source.Length > 0;
    }

    /// <summary>STORAGE_BEAT: marks alive, keeps the stats block, promotes ONLINE to ACTIVE.</summary>
    internal ChangeNotification Beat(StorageNode node, ReadOnlySpan<byte> stats)
    {
        ChangeNotification notification;
        bool changed;
        lock (_gate)
        {
            node.LastHeartbeat = Now;
            if (stats.Length == StorageStats.Size)
            {
                node.Stats = stats.ToArray();
            }

            changed = Promote(node);
            notification = TakeNotification(node);
        }

        if (changed)
        {
            RaiseChanged();
        }

        return notification;
    }

    /// <summary>STORAGE_REPORT_DISK_USAGE: per-path total/free MB; updates the group's free space.</summary>
    internal ChangeNotification ReportDiskUsage(StorageNode node, long[] totalMb, long[] freeMb)
    {
        ChangeNotification notification;
        bool changed;
        lock (_gate)
        {
            node.Disk = new DiskUsage(totalMb, freeMb);
            node.LastHeartbeat = Now;
            changed = Promote(node);
            Publish();
            notification = TakeNotification(node);
        }

        if (changed)
        {
            RaiseChanged();
        }

        return notification;
    }

    /// <summary>STORAGE_SYNC_REPORT: per source, the timestamp this storage has synced up to (8.3).</summary>
    internal ChangeNotification SyncReport(StorageNode node, IReadOnlyList<(string Source, long Timestamp)> entries)
    {
        ChangeNotification notification;
        lock (_gate)
        {
            foreach (var (source, ts) in entries)
            {
                if (source.Length > 0 && source != node.Id)
                {
                    node.SyncedFrom[source] = ts;
                }
            }

            node.LastSyncedTimestamp = DeriveLastSynced(node);
            notification = TakeNotification(node);
        }

        RaiseChanged();
        return notification;
    }

    /// <summary>Minimum over active sources for round-robin uploads, else the maximum (protocol notes 8.3).</summary>
    private long DeriveLastSynced(StorageNode node)
    {
        long min = long.MaxValue, max = 0;
        bool any = false;
        foreach (var (source, ts) in node.SyncedFrom)
        {
            var src = node.Group.Find(source);
            if (src is null || src.Status != StorageStatus.Active)
            {
                continue;
            }

            any = true;
            min = Math.Min(min, ts);
            max = Math.Max(max, ts);
        }

        if (!any)
        {
            return node.LastSyncedTimestamp;
        }

        return _options.StoreServer == StoreServerPolicy.RoundRobin ? min : max;
    }

    /// <summary>STORAGE_REPORT_STATUS: a storage reports another one's status (e.g. SYNCING while copying to it).</summary>
    internal byte ReportStatus(string group, string id, string ip, StorageStatus status)
    {
        lock (_gate)
        {
            if (!_groups.TryGetValue(group, out var g) || (g.Find(id) ?? g.FindByAddress(ip)) is not { } node)
            {
                return FdfsErrno.ENOENT;
            }

            if (node.Status != status)
            {
                SetStatus(node, status);
                Publish();
            }
        }

        RaiseChanged();
        return FdfsErrno.Success;
    }

    /// <summary>STORAGE_CHANGE_STATUS (8.4): ONLINE/ACTIVE requests map to OFFLINE; available-to-available is ignored.</summary>
    internal void ChangeStatus(StorageNode node, StorageStatus requested)
    {
        lock (_gate)
        {
            bool requestedAvailable = requested is StorageStatus.Online or StorageStatus.Active;
            if (requestedAvailable && node.IsAvailable)
            {
                return;
            }

            var status = requestedAvailable ? StorageStatus.Offline : requested;
            if (status == node.Status)
            {
                return;
            }

            SetStatus(node, status);
            Publish();
        }

        RaiseChanged();
    }

    /// <summary>
    /// SERVER_DELETE_STORAGE: ENOENT unknown (or an IP_CHANGED record), EBUSY while in service, EALREADY when already
    /// deleted. As FastDFS's tracker_mem_delete_storage: peers that were to copy from the deleted storage lose it as
    /// their sync source, and the deleted storage's own sync source is cleared.
    /// </summary>
    public byte DeleteStorage(string group, string id)
    {
        lock (_gate)
        {
            if (!_groups.TryGetValue(group, out var g) || g.Find(id) is not { } node || node.Status == StorageStatus.IpChanged)
            {
                return FdfsErrno.ENOENT;
            }

            if (node.Status is StorageStatus.Online or StorageStatus.Active or StorageStatus.Recovery)
            {
                return FdfsErrno.EBUSY;
            }

            if (node.Status == StorageStatus.Deleted)
            {
                return FdfsErrno.EALREADY;
            }

            foreach (var peer in g.Storages)
            {
                // FastDFS keeps the peer's sync_until_timestamp; only the source goes.
                if (peer.SyncSource == node.Id)
                {
                    peer.SyncSource = string.Empty;
                }
            }

            SetStatus(node, StorageStatus.Deleted);
            node.SyncSource = string.Empty;
            node.SyncUntilTimestamp = 0;
            node.ChangelogOffset = 0;
            Publish();
            Changelog?.Append(new ChangelogEntry(Now, g.Name, node.Id, StorageStatus.Deleted, string.Empty));
        }

        RaiseChanged();
        return FdfsErrno.Success;
    }

    /// <summary>
    /// STORAGE_REPORT_IP_CHANGED (IP mode only, as FastDFS): the storage known as <paramref name="oldIp"/> is now
    /// <paramref name="newIp"/>. Its record moves to the new IP (keeping status, sync marks and references from its
    /// peers) and an IP_CHANGED record stays under the old one, recorded in the changelog. ENOENT unknown or deleted,
    /// EBUSY while in service, EALREADY already changed, EEXIST when the new IP is taken.
    /// </summary>
    internal byte ReportIpChanged(string group, string oldIp, string newIp)
    {
        lock (_gate)
        {
            if (!_groups.TryGetValue(group, out var g) || g.Find(oldIp) is not { } old || old.Status == StorageStatus.Deleted)
            {
                return FdfsErrno.ENOENT;
            }

            if (old.Status is StorageStatus.Online or StorageStatus.Active or StorageStatus.Recovery)
            {
                return FdfsErrno.EBUSY;
            }

            if (old.Status == StorageStatus.IpChanged)
            {
                return FdfsErrno.EALREADY;
            }

            if (g.Find(newIp) is { } taken)
            {
                if (taken.Status != StorageStatus.Deleted)
                {
                    return FdfsErrno.EEXIST;
                }

                g.Storages.Remove(taken);
            }

            var moved = new StorageNode(newIp, newIp, g)
            {
                RwMode = old.RwMode,
                Status = old.Status,
                Port = old.Port,
                StorePathCount = old.StorePathCount,
                SubdirCountPerPath = old.SubdirCountPerPath,
                UploadPriority = old.UploadPriority,
                JoinTime = old.JoinTime,
                UpTime = old.UpTime,
                Version = old.Version,
                SyncSource = old.SyncSource,
                SyncUntilTimestamp = old.SyncUntilTimestamp,
                LastSyncedTimestamp = old.LastSyncedTimestamp,
                LastHeartbeat = old.LastHeartbeat,
                ChangelogOffset = old.ChangelogOffset,
                Disk = old.Disk,
                Stats = old.Stats,
            };
            foreach (var (source, ts) in old.SyncedFrom)
            {
                moved.SyncedFrom[source] = ts;
            }

            // Peers refer to the storage by ID (its IP here): their references follow it, as FastDFS's pointers do.
            foreach (var s in g.Storages)
            {
                if (s.SyncSource == oldIp)
                {
                    s.SyncSource = newIp;
                }

                if (s.SyncedFrom.Remove(oldIp, out long ts))
                {
                    s.SyncedFrom[newIp] = ts;
                }
            }

            old.SyncedFrom.Clear();
            old.SyncSource = string.Empty;
            old.SyncUntilTimestamp = 0;
            old.ChangelogOffset = 0;
            old.Status = StorageStatus.IpChanged;
            g.Insert(moved);
            g.Version++;
            Publish();
            Changelog?.Append(new ChangelogEntry(Now, g.Name, oldIp, StorageStatus.IpChanged, newIp));
        }

        RaiseChanged();
        return FdfsErrno.Success;
    }

    /// <summary>
    /// STORAGE_CHANGELOG_REQ: the changelog bytes after the storage's offset (at most one FastDFS packet); the
    /// offset then moves past them, as FastDFS answers.
    /// </summary>
    internal byte[] TakeChangelog(StorageNode node)
    {
        byte[] chunk;
        lock (_gate)
        {
            if (Changelog is not { } changelog)
            {
                return [];
            }

            chunk = changelog.Read(node.ChangelogOffset, TrackerSysFiles.MaxChangelogChunk);
            if (chunk.Length == 0)
            {
                return chunk;
            }

            // Read started at the offset clamped to the file; an empty chunk (offset at or past the end) returned above.
            node.ChangelogOffset = Math.Max(node.ChangelogOffset, 0) + chunk.Length;
        }

        RaiseChanged();
        return chunk;
    }

    /// <summary>SERVER_DELETE_GROUP: only once every storage of the group has been deleted.</summary>
    public byte DeleteGroup(string group)
    {
        lock (_gate)
        {
            if (!_groups.TryGetValue(group, out var g))
            {
                return FdfsErrno.ENOENT;
            }

            if (g.Storages.Exists(s => s.Status != StorageStatus.Deleted))
            {
                return FdfsErrno.EBUSY;
            }

            _groups.Remove(group);
            Publish();
        }

        RaiseChanged();
        return FdfsErrno.Success;
    }

    /// <summary>The storage's tracker connection closed: it is OFFLINE at once (if that was its current session).</summary>
    internal void ConnectionClosed(StorageNode node, long sessionId)
    {
        lock (_gate)
        {
            if (node.SessionId != sessionId || !node.IsAvailable)
            {
                return;
            }

            SetStatus(node, StorageStatus.Offline);
            Publish();
        }

        RaiseChanged();
    }

    /// <summary>Marks ONLINE/ACTIVE storages OFFLINE when their last beat is older than check_active_interval.</summary>
    public int CheckLiveness()
    {
        long deadline = Now - (long)_options.CheckActiveInterval.TotalSeconds;
        int count = 0;
        lock (_gate)
        {
            foreach (var g in _groups.Values)
            {
                foreach (var s in g.Storages)
                {
                    if (s.IsAvailable && s.LastHeartbeat < deadline)
                    {
                        SetStatus(s, StorageStatus.Offline);
                        count++;
                    }
                }
            }

            if (count > 0)
            {
                Publish();
            }
        }

        if (count > 0)
        {
            RaiseChanged();
        }

        return count;
    }

    private bool Promote(StorageNode node)
    {
        if (node.Status != StorageStatus.Online)
        {
            return false;
        }

        SetStatus(node, StorageStatus.Active);
        Publish();
        return true;
    }

    private static void SetStatus(StorageNode node, StorageStatus status)
    {
        node.Status = status;
        node.Group.Version++;
    }

    /// <summary>
    /// Records who leads the tracker cluster. A new leader owes every storage the leader record and the full member
    /// list (a follower kept no account of what it would have sent); a follower sends no notifications at all.
    /// </summary>
    internal void SetLeader(bool self, ServerAddress? leader)
    {
        lock (_gate)
        {
            _isLeader = self;
            _leaderBrief = leader is { } l ? new StorageBrief(0, l.Port, l.Ip, l.Ip) : new StorageBrief(0, 0, string.Empty, string.Empty);
            _leaderVersion++;
            if (self)
            {
                foreach (var g in _groups.Values)
                {
                    foreach (var s in g.Storages)
                    {
                        s.NotifiedVersion = -1;
                    }
                }
            }
        }
    }

    /// <summary>
    /// The change notification owed to this storage (protocol notes 3.3): the leader record when the leader changed
    /// since it last heard, the group's member list when the group changed. Nothing unless this tracker leads.
    /// Under the lock.
    /// </summary>
    private ChangeNotification TakeNotification(StorageNode node)
    {
        if (!_isLeader)
        {
            return ChangeNotification.Nothing;
        }

        StorageBrief? leader = null;
        if (_leaderBrief is { } brief && node.NotifiedLeaderVersion != _leaderVersion)
        {
            node.NotifiedLeaderVersion = _leaderVersion;
            leader = brief;
        }

        var group = node.Group;
        if (node.NotifiedVersion == group.Version)
        {
            return leader is null ? ChangeNotification.Nothing : new ChangeNotification(leader, null, null);
        }

        node.NotifiedVersion = group.Version;
        var briefs = new StorageBrief[group.Storages.Count];
        for (int i = 0; i < briefs.Length; i++)
        {
            briefs[i] = group.Storages[i].ToBrief(node.Ip); // a dual-IP peer's address of this storage's kind
        }

        return new ChangeNotification(leader, null, briefs);
    }

    /// <summary>Rebuilds the query snapshot. Under the lock.</summary>
    private void Publish()
    {
        var views = new GroupView[_groups.Count];
        int i = 0;
        foreach (var g in _groups.Values)
        {
            views[i++] = GroupView.Build(g, _options);
        }

        Volatile.Write(ref _snapshot, new ClusterSnapshot(views));
    }

    private void RaiseChanged() => StateChanged?.Invoke();
}
