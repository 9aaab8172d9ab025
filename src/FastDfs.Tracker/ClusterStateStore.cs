using System.Text;
using System.Text.Json;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.TrackerState;

namespace FastDfs.Tracker;

/// <summary>
/// Reads and writes the cluster state under <c>base_path/data</c> in FastDFS's own files (storage_groups_new.dat,
/// storage_servers_new.dat, storage_sync_timestamp.dat; docs/tracker-state.md) plus our side file
/// (<see cref="ClusterSideState"/>). Each file goes to a temp file that is flushed and renamed over the old one.
/// A base_path from an older version of this tracker (tracker_cluster.json only) is read once and then renamed
/// to <c>tracker_cluster.json.migrated</c> by the first save.
/// </summary>
internal sealed class ClusterStateStore
{
    public const string LegacyJsonFileName = "tracker_cluster.json";
    public const string SideFileName = "tracker_cluster_extra.json";

    private readonly TrackerOptions _options;

    public ClusterStateStore(TrackerOptions options)
    {
        _options = options;
        DataDirectory = Path.Combine(options.BasePath, "data");
        GroupsPath = Path.Combine(DataDirectory, TrackerSysFiles.GroupsFileName);
        ServersPath = Path.Combine(DataDirectory, TrackerSysFiles.ServersFileName);
        SyncTimestampsPath = Path.Combine(DataDirectory, TrackerSysFiles.SyncTimestampsFileName);
        SidePath = Path.Combine(DataDirectory, SideFileName);
        LegacyJsonPath = Path.Combine(DataDirectory, LegacyJsonFileName);
    }

    public string DataDirectory { get; }

    public string GroupsPath { get; }

    public string ServersPath { get; }

    public string SyncTimestampsPath { get; }

    public string SidePath { get; }

    public string LegacyJsonPath { get; }

    /// <summary>True when the last <see cref="Load"/> read the legacy JSON file (the next save converts it).</summary>
    public bool LoadedLegacyJson { get; private set; }

    /// <summary>
    /// The saved state, or null when there is none. The .dat files win over a legacy JSON file. Throws
    /// <see cref="InvalidDataException"/> for files that cannot be read as FastDFS would refuse them.
    /// </summary>
    public ClusterState? Load()
    {
        LoadedLegacyJson = false;
        if (File.Exists(GroupsPath))
        {
            string groups = File.ReadAllText(GroupsPath, Encoding.UTF8);
            bool hasServers = File.Exists(ServersPath);
            string servers = hasServers ? File.ReadAllText(ServersPath, Encoding.UTF8) : "[Global]\nstorage_count=0\n";
            string? sync = File.Exists(SyncTimestampsPath) ? File.ReadAllText(SyncTimestampsPath, Encoding.UTF8) : null;
            var side = LoadSide();

            // A C tracker's base_path has no side file: its files' age stands in for the save time.
            long fallback = new DateTimeOffset(File.GetLastWriteTimeUtc(hasServers ? ServersPath : GroupsPath)).ToUnixTimeSeconds();
            return StateFiles.Read(groups, servers, sync, side, _options, fallback);
        }

        if (!File.Exists(LegacyJsonPath))
        {
            return null;
        }

        try
        {
            using var stream = File.OpenRead(LegacyJsonPath);
            var state = JsonSerializer.Deserialize(stream, ClusterStateJsonContext.Default.ClusterState);
            if (state is null || state.FormatVersion != ClusterState.CurrentFormatVersion)
            {
                throw new InvalidDataException($"{LegacyJsonPath}: unsupported format version {state?.FormatVersion}");
            }

            LoadedLegacyJson = true;
            return state;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{LegacyJsonPath}: {e.Message}", e);
        }
    }

    public void Save(ClusterState state)
    {
        Directory.CreateDirectory(DataDirectory);
        var files = StateFiles.Render(state, _options.UseStorageId);

        // Groups first: a crash between the writes then leaves servers that still find their groups.
        WriteAtomic(GroupsPath, files.Groups);
        WriteAtomic(ServersPath, files.Servers);
        WriteAtomic(SyncTimestampsPath, files.SyncTimestamps);
        WriteAtomic(SidePath, JsonSerializer.SerializeToUtf8Bytes(files.Side, ClusterStateJsonContext.Default.ClusterSideState));
        if (File.Exists(LegacyJsonPath))
        {
            File.Move(LegacyJsonPath, LegacyJsonPath + ".migrated", overwrite: true);
        }
    }

    /// <summary>Renames the state files that exist to <c>name.suffix</c> (kept for inspection after a failed load).</summary>
    public IReadOnlyList<string> MoveAside(string suffix)
    {
        var moved = new List<string>();
        foreach (string path in new[] { GroupsPath, ServersPath, SyncTimestampsPath, SidePath, LegacyJsonPath })
        {
            try
            {
                if (File.Exists(path))
                {
                    File.Move(path, path + suffix, overwrite: true);
                    moved.Add(path + suffix);
                }
            }
            catch (IOException)
            {
            }
        }

        return moved;
    }

    private ClusterSideState? LoadSide()
    {
        if (!File.Exists(SidePath))
        {
            return null;
        }

        try
        {
            var side = JsonSerializer.Deserialize(File.ReadAllBytes(SidePath), ClusterStateJsonContext.Default.ClusterSideState);
            return side?.FormatVersion == ClusterSideState.CurrentFormatVersion ? side : null;
        }
        catch (JsonException)
        {
            // The side file only adds detail: without it FastDFS's files still give the cluster.
            return null;
        }
    }

    internal static void WriteAtomic(string path, ReadOnlySpan<byte> content)
    {
        string temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }
}

/// <summary>Maps <see cref="ClusterState"/> to FastDFS's state files and back (docs/tracker-state.md).</summary>
internal static class StateFiles
{
    /// <summary>The three files' UTF-8 bytes (as saved and as served to a copying follower) and the side file.</summary>
    public sealed record Rendered(byte[] Groups, byte[] Servers, byte[] SyncTimestamps, ClusterSideState Side);

    /// <summary>
    /// The three files as FastDFS writes them: groups by name; per group the storages in service (DELETED and
    /// IP_CHANGED ones go to the side file); sync rows in the same storage order. IDs are written with use_storage_id.
    /// </summary>
    public static Rendered Render(ClusterState state, bool writeIds)
    {
        var groups = new List<TrackerGroupEntry>(state.Groups.Count);
        var servers = new List<TrackerStorageEntry>();
        var rows = new List<SyncTimestampRow>();
        var side = new ClusterSideState { SavedAt = state.SavedAt };
        foreach (var g in state.Groups.OrderBy(g => g.Name, StringComparer.Ordinal))
        {
            groups.Add(new TrackerGroupEntry(g.Name)
            {
                StoragePort = g.StoragePort,
                StorePathCount = g.StorePathCount,
                SubdirCountPerPath = g.SubdirCountPerPath,
            });

            var live = new List<StorageRecord>(g.Storages.Count);
            foreach (var s in g.Storages)
            {
                if (s.Status is StorageStatus.Deleted or StorageStatus.IpChanged)
                {
                    side.Retired.Add(new RetiredStorage(g.Name, s));
                }
                else
                {
                    live.Add(s);
                }
            }

            foreach (var s in live)
            {
                string id = s.IdOrIp();
                side.Storages.Add(new SideStorage(g.Name, id, s.UpTime));
                servers.Add(new TrackerStorageEntry(g.Name, s.Ip)
                {
                    Id = writeIds ? id : null,
                    Status = s.Status,
                    Version = s.Version ?? "",
                    JoinTime = s.JoinTime,
                    StoragePort = s.Port,
                    SyncSrcServer = s.SyncSource ?? "",
                    SyncUntilTimestamp = s.SyncUntilTimestamp,
                    StorePathCount = s.StorePathCount,
                    SubdirCountPerPath = s.SubdirCountPerPath,
                    UploadPriority = s.UploadPriority,
                    TotalMb = s.TotalMb,
                    FreeMb = s.FreeMb,
                    LastSyncedTimestamp = s.LastSyncedTimestamp,
                    LastHeartBeatTime = s.LastHeartbeat,
                    ChangelogOffset = s.ChangelogOffset,
                });
            }

            for (int row = 0; row < live.Count; row++)
            {
                string sourceId = live[row].IdOrIp();
                var timestamps = new long[live.Count];
                for (int k = 0; k < live.Count; k++)
                {
                    timestamps[k] = k == row ? 0 : live[k].SyncedFrom?.GetValueOrDefault(sourceId) ?? 0;
                }

                rows.Add(new SyncTimestampRow(g.Name, sourceId, timestamps));
            }
        }

        return new Rendered(
            Encoding.UTF8.GetBytes(TrackerGroupsFile.Format(groups)),
            Encoding.UTF8.GetBytes(TrackerServersFile.Format(servers)),
            Encoding.UTF8.GetBytes(SyncTimestampsFile.Format(rows)),
            side);
    }

    /// <summary>
    /// Reads FastDFS's files (ours or a C tracker's) into a state. Like FastDFS: a storage or sync row naming a
    /// group that is not in the groups file, a duplicate storage, or (ID mode) a storage without an ID whose IP
    /// storage_ids.conf does not know is an error; the storage ID is the IP without use_storage_id.
    /// </summary>
    public static ClusterState Read(string groupsText, string serversText, string? syncText, ClusterSideState? side, TrackerOptions options, long savedAtFallback)
    {
        var groups = new Dictionary<string, GroupRecord>(StringComparer.Ordinal);
        var ordered = new List<GroupRecord>();
        foreach (var g in TrackerGroupsFile.Parse(groupsText))
        {
            var record = new GroupRecord
            {
                Name = g.Name,
                StoragePort = g.StoragePort,
                StorePathCount = g.StorePathCount,
                SubdirCountPerPath = g.SubdirCountPerPath,
            };
            groups.Add(g.Name, record);
            ordered.Add(record);
        }

        var upTimes = new Dictionary<(string, string), long>();
        foreach (var s in side?.Storages ?? [])
        {
            upTimes[(s.Group, s.Id)] = s.UpTime;
        }

        foreach (var e in TrackerServersFile.Parse(serversText))
        {
            if (!groups.TryGetValue(e.Group, out var group))
            {
                throw new InvalidDataException($"{TrackerSysFiles.ServersFileName}: storage {e.IpAddr} is in group '{e.Group}', which {TrackerSysFiles.GroupsFileName} does not list");
            }

            string id = e.Id ?? ResolveId(options, e.Group, e.IpAddr)
                ?? throw new InvalidDataException($"{TrackerSysFiles.ServersFileName}: storage {e.IpAddr} of group {e.Group} has no id and {options.StorageIdsFilename} does not list its IP");
            if (group.Storages.Exists(s => s.Id == id))
            {
                throw new InvalidDataException($"{TrackerSysFiles.ServersFileName}: storage {id} of group {e.Group} appears twice");
            }

            string source = e.SyncSrcServer;
            if (options.UseStorageId && source.Length > 0 && !StorageIdMap.IsValidId(source))
            {
                // FastDFS before IDs wrote the source's IP here.
                source = ResolveId(options, e.Group, source) ?? "";
            }

            group.Storages.Add(new StorageRecord
            {
                Id = id,
                Ip = e.IpAddr,
                Status = e.Status,
                Port = e.StoragePort,
                JoinTime = e.JoinTime,
                UpTime = upTimes.GetValueOrDefault((e.Group, id)),
                Version = e.Version,
                StorePathCount = e.StorePathCount,
                SubdirCountPerPath = e.SubdirCountPerPath,
                UploadPriority = e.UploadPriority,
                SyncSource = source,
                SyncUntilTimestamp = e.SyncUntilTimestamp,
                LastSyncedTimestamp = e.LastSyncedTimestamp,
                LastHeartbeat = e.LastHeartBeatTime,
                SyncedFrom = new Dictionary<string, long>(StringComparer.Ordinal),
                ChangelogOffset = e.ChangelogOffset,
                TotalMb = e.TotalMb,
                FreeMb = e.FreeMb,
            });
        }

        if (!string.IsNullOrEmpty(syncText))
        {
            ApplySyncRows(SyncTimestampsFile.Parse(syncText), groups, options);
        }

        foreach (var r in side?.Retired ?? [])
        {
            if (groups.TryGetValue(r.Group, out var group) && !group.Storages.Exists(s => s.Id == r.Storage.IdOrIp()))
            {
                group.Storages.Add(r.Storage);
            }
        }

        return new ClusterState { SavedAt = side?.SavedAt ?? savedAtFallback, Groups = ordered };
    }

    /// <summary>Row = source, column k = the group's k-th storage (in file order) as destination.</summary>
    private static void ApplySyncRows(IReadOnlyList<SyncTimestampRow> rows, Dictionary<string, GroupRecord> groups, TrackerOptions options)
    {
        const string file = TrackerSysFiles.SyncTimestampsFileName;
        foreach (var row in rows)
        {
            if (!groups.TryGetValue(row.Group, out var group))
            {
                throw new InvalidDataException($"{file}: group '{row.Group}' is not in {TrackerSysFiles.GroupsFileName}");
            }

            string sourceId = options.UseStorageId && !StorageIdMap.IsValidId(row.SourceId) ? ResolveId(options, row.Group, row.SourceId) ?? row.SourceId : row.SourceId;
            if (!group.Storages.Exists(s => s.Id == sourceId))
            {
                throw new InvalidDataException($"{file}: storage '{row.SourceId}' of group {row.Group} is not in {TrackerSysFiles.ServersFileName}");
            }

            if (row.Timestamps.Count > group.Storages.Count)
            {
                throw new InvalidDataException($"{file}: group {row.Group} row {row.SourceId} has {row.Timestamps.Count} columns for {group.Storages.Count} storages");
            }

            for (int k = 0; k < row.Timestamps.Count; k++)
            {
                var destination = group.Storages[k];
                if (destination.Id != sourceId && row.Timestamps[k] > 0)
                {
                    destination.SyncedFrom![sourceId] = row.Timestamps[k];
                }
            }
        }
    }

    private static string? ResolveId(TrackerOptions options, string group, string ip) =>
        options.UseStorageId ? options.StorageIds?.FindByIp(group, ip)?.Id : ip;
}
