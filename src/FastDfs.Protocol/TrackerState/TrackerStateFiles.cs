using System.Globalization;
using System.Text;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.Messages;

namespace FastDfs.Protocol.TrackerState;

/// <summary>
/// The tracker's state files under <c>base_path/data</c>, in the order GET_ONE_SYS_FILE numbers them
/// (docs/tracker-state.md). All four are text; the first two are libfastcommon ini files.
/// </summary>
public static class TrackerSysFiles
{
    public const string GroupsFileName = "storage_groups_new.dat";
    public const string ServersFileName = "storage_servers_new.dat";
    public const string SyncTimestampsFileName = "storage_sync_timestamp.dat";
    public const string ChangelogFileName = "storage_changelog.dat";

    public const int Count = 4;

    /// <summary>GET_ONE_SYS_FILE indexes of the files (positions in <see cref="Names"/>).</summary>
    public const byte GroupsIndex = 0;

    public const byte ServersIndex = 1;

    public const byte SyncTimestampsIndex = 2;

    public const byte ChangelogIndex = 3;

    /// <summary>
    /// Bytes of file content per GET_ONE_SYS_FILE answer: FastDFS reads answers into an 8 KB packet buffer, so it
    /// serves at most 8192 - header (10) - file size (8) - 1.
    /// </summary>
    public const int MaxChunkSize = 8192 - FdfsConstants.HeaderSize - 8 - 1;

    /// <summary>Largest STORAGE_CHANGELOG_REQ answer body (8 KB packet minus the header), as FastDFS caps it.</summary>
    public const int MaxChangelogChunk = 8192 - FdfsConstants.HeaderSize;

    /// <summary>File names by GET_ONE_SYS_FILE index.</summary>
    public static IReadOnlyList<string> Names { get; } = [GroupsFileName, ServersFileName, SyncTimestampsFileName, ChangelogFileName];

    internal static FdfsConfigFile ParseIni(string text, string fileName)
    {
        try
        {
            return FdfsConfigFile.Parse(text, fileName);
        }
        catch (FdfsConfigException e)
        {
            throw new InvalidDataException($"{fileName}: {e.Message}", e);
        }
    }

    internal static string Text(FdfsConfigFile ini, string fileName, string section, string key) =>
        ini.GetString(section + "." + key) ?? throw new InvalidDataException($"{fileName}: [{section}] has no {key}");

    internal static long Number(FdfsConfigFile ini, string section, string key, long min = long.MinValue, long max = long.MaxValue)
    {
        try
        {
            return ini.GetLong(section + "." + key, 0, min, max);
        }
        catch (FdfsConfigException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }

    internal static string SectionName(string prefix, int number) => prefix + number.ToString("000", CultureInfo.InvariantCulture);

    /// <summary>One <c>key=value</c> line of a section, tab-indented as FastDFS writes it.</summary>
    internal static string Line(string key, string value) => "\t" + key + "=" + value + "\n";

    internal static string Line(string key, long value) => Line(key, value.ToString(CultureInfo.InvariantCulture));
}

/// <summary>One <c>[GroupNNN]</c> section of storage_groups_new.dat.</summary>
public sealed record TrackerGroupEntry(string Name)
{
    public int StoragePort { get; init; }

    public int StorageHttpPort { get; init; }

    public int StorePathCount { get; init; }

    public int SubdirCountPerPath { get; init; }

    public int CurrentTrunkFileId { get; init; }

    /// <summary>ID of the group's trunk server, empty when none.</summary>
    public string TrunkServer { get; init; } = "";

    public string LastTrunkServer { get; init; } = "";
}

/// <summary>storage_groups_new.dat: <c>[Global] group_count</c>, then <c>[Group001]</c>.. in group name order.</summary>
public static class TrackerGroupsFile
{
    private const string Global = "Global";
    private const string Prefix = "Group";

    public static string Format(IReadOnlyList<TrackerGroupEntry> groups)
    {
        var b = new StringBuilder(64 + groups.Count * 220);
        b.Append("# global section\n[Global]\n").Append(TrackerSysFiles.Line("group_count", groups.Count)).Append('\n');
        for (int i = 0; i < groups.Count; i++)
        {
            var g = groups[i];
            b.Append("# group: ").Append(g.Name).Append('\n')
                .Append('[').Append(TrackerSysFiles.SectionName(Prefix, i + 1)).Append("]\n")
                .Append(TrackerSysFiles.Line("group_name", g.Name))
                .Append(TrackerSysFiles.Line("storage_port", g.StoragePort))
                .Append(TrackerSysFiles.Line("storage_http_port", g.StorageHttpPort))
                .Append(TrackerSysFiles.Line("store_path_count", g.StorePathCount))
                .Append(TrackerSysFiles.Line("subdir_count_per_path", g.SubdirCountPerPath))
                .Append(TrackerSysFiles.Line("current_trunk_file_id", g.CurrentTrunkFileId))
                .Append(TrackerSysFiles.Line("trunk_server", g.TrunkServer))
                .Append(TrackerSysFiles.Line("last_trunk_server", g.LastTrunkServer))
                .Append('\n');
        }

        return b.ToString();
    }

    /// <summary>Reads the groups in section order. Throws <see cref="InvalidDataException"/> as FastDFS refuses to start.</summary>
    public static IReadOnlyList<TrackerGroupEntry> Parse(string text)
    {
        const string file = TrackerSysFiles.GroupsFileName;
        var ini = TrackerSysFiles.ParseIni(text, file);
        if (!ini.Contains(Global + ".group_count"))
        {
            throw new InvalidDataException($"{file}: item group_count of [Global] is missing");
        }

        int count = (int)TrackerSysFiles.Number(ini, Global, "group_count", 0, FdfsConstants.MaxGroups);
        var groups = new List<TrackerGroupEntry>(count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 1; i <= count; i++)
        {
            string section = TrackerSysFiles.SectionName(Prefix, i);
            string name = TrackerSysFiles.Text(ini, file, section, "group_name");
            if (!GroupName.IsValid(name) || !seen.Add(name))
            {
                throw new InvalidDataException($"{file}: [{section}] group_name '{name}' is invalid or duplicate");
            }

            groups.Add(new TrackerGroupEntry(name)
            {
                StoragePort = (int)TrackerSysFiles.Number(ini, section, "storage_port", 0, 65535),
                StorageHttpPort = (int)TrackerSysFiles.Number(ini, section, "storage_http_port", 0, 65535),
                StorePathCount = (int)TrackerSysFiles.Number(ini, section, "store_path_count", 0, 256),
                SubdirCountPerPath = (int)TrackerSysFiles.Number(ini, section, "subdir_count_per_path", 0, 256),
                CurrentTrunkFileId = (int)TrackerSysFiles.Number(ini, section, "current_trunk_file_id", int.MinValue, int.MaxValue),
                TrunkServer = ini.GetString(section + ".trunk_server") ?? "",
                LastTrunkServer = ini.GetString(section + ".last_trunk_server") ?? "",
            });
        }

        return groups;
    }
}

/// <summary>One <c>[StorageNNN]</c> section of storage_servers_new.dat.</summary>
public sealed record TrackerStorageEntry(string Group, string IpAddr)
{
    /// <summary>The storage ID; FastDFS writes it only with use_storage_id (else the IP is the ID): null when absent.</summary>
    public string? Id { get; init; }

    public StorageStatus Status { get; init; }

    public string Version { get; init; } = "";

    public long JoinTime { get; init; }

    public int StoragePort { get; init; }

    public int StorageHttpPort { get; init; }

    public string DomainName { get; init; } = "";

    /// <summary>ID of the storage this one copies its files from, empty when none.</summary>
    public string SyncSrcServer { get; init; } = "";

    public long SyncUntilTimestamp { get; init; }

    public int StorePathCount { get; init; }

    public int SubdirCountPerPath { get; init; }

    public long UploadPriority { get; init; }

    public long TotalMb { get; init; }

    public long FreeMb { get; init; }

    /// <summary>The 32 counters FastDFS keeps (<see cref="TrackerServersFile.CounterKeys"/> order); null means all zero.</summary>
    public long[]? Counters { get; init; }

    public long LastSourceUpdate { get; init; }

    public long LastSyncUpdate { get; init; }

    public long LastSyncedTimestamp { get; init; }

    public long LastHeartBeatTime { get; init; }

    /// <summary>How far into storage_changelog.dat this storage has been answered (STORAGE_CHANGELOG_REQ).</summary>
    public long ChangelogOffset { get; init; }
}

/// <summary>
/// storage_servers_new.dat: one <c>[StorageNNN]</c> section per storage (FastDFS leaves out DELETED and IP_CHANGED
/// ones), then <c>[Global] storage_count</c> at the end.
/// </summary>
public static class TrackerServersFile
{
    private const string Global = "Global";
    private const string Prefix = "Storage";

    /// <summary>The counters' keys in file order with the statistics-block counter each one is.</summary>
    public static IReadOnlyList<(string Key, StatCounter Counter)> CounterKeys { get; } =
    [
        ("total_upload_count", StatCounter.TotalUploadCount), ("success_upload_count", StatCounter.SuccessUploadCount),
        ("total_append_count", StatCounter.TotalAppendCount), ("success_append_count", StatCounter.SuccessAppendCount),
        ("total_set_meta_count", StatCounter.TotalSetMetaCount), ("success_set_meta_count", StatCounter.SuccessSetMetaCount),
        ("total_delete_count", StatCounter.TotalDeleteCount), ("success_delete_count", StatCounter.SuccessDeleteCount),
        ("total_download_count", StatCounter.TotalDownloadCount), ("success_download_count", StatCounter.SuccessDownloadCount),
        ("total_get_meta_count", StatCounter.TotalGetMetaCount), ("success_get_meta_count", StatCounter.SuccessGetMetaCount),
        ("total_create_link_count", StatCounter.TotalCreateLinkCount), ("success_create_link_count", StatCounter.SuccessCreateLinkCount),
        ("total_delete_link_count", StatCounter.TotalDeleteLinkCount), ("success_delete_link_count", StatCounter.SuccessDeleteLinkCount),
        ("total_upload_bytes", StatCounter.TotalUploadBytes), ("success_upload_bytes", StatCounter.SuccessUploadBytes),
        ("total_append_bytes", StatCounter.TotalAppendBytes), ("success_append_bytes", StatCounter.SuccessAppendBytes),
        ("total_download_bytes", StatCounter.TotalDownloadBytes), ("success_download_bytes", StatCounter.SuccessDownloadBytes),
        ("total_sync_in_bytes", StatCounter.TotalSyncInBytes), ("success_sync_in_bytes", StatCounter.SuccessSyncInBytes),
        ("total_sync_out_bytes", StatCounter.TotalSyncOutBytes), ("success_sync_out_bytes", StatCounter.SuccessSyncOutBytes),
        ("total_file_open_count", StatCounter.TotalFileOpenCount), ("success_file_open_count", StatCounter.SuccessFileOpenCount),
        ("total_file_read_count", StatCounter.TotalFileReadCount), ("success_file_read_count", StatCounter.SuccessFileReadCount),
        ("total_file_write_count", StatCounter.TotalFileWriteCount), ("success_file_write_count", StatCounter.SuccessFileWriteCount),
    ];

    /// <summary>Writes the entries as given (callers leave out DELETED / IP_CHANGED storages, as FastDFS does).</summary>
    public static string Format(IReadOnlyList<TrackerStorageEntry> storages)
    {
        var b = new StringBuilder(storages.Count * 1600 + 64);
        for (int i = 0; i < storages.Count; i++)
        {
            var s = storages[i];
            b.Append("# storage ").Append(s.IpAddr).Append(':').Append(s.StoragePort.ToString(CultureInfo.InvariantCulture)).Append('\n')
                .Append('[').Append(TrackerSysFiles.SectionName(Prefix, i + 1)).Append("]\n");
            if (s.Id is not null)
            {
                b.Append(TrackerSysFiles.Line("id", s.Id));
            }

            b.Append(TrackerSysFiles.Line("group_name", s.Group))
                .Append(TrackerSysFiles.Line("ip_addr", s.IpAddr))
                .Append(TrackerSysFiles.Line("status", (int)s.Status))
                .Append(TrackerSysFiles.Line("version", s.Version))
                .Append(TrackerSysFiles.Line("join_time", s.JoinTime))
                .Append(TrackerSysFiles.Line("storage_port", s.StoragePort))
                .Append(TrackerSysFiles.Line("storage_http_port", s.StorageHttpPort))
                .Append(TrackerSysFiles.Line("domain_name", s.DomainName))
                .Append(TrackerSysFiles.Line("sync_src_server", s.SyncSrcServer))
                .Append(TrackerSysFiles.Line("sync_until_timestamp", s.SyncUntilTimestamp))
                .Append(TrackerSysFiles.Line("store_path_count", s.StorePathCount))
                .Append(TrackerSysFiles.Line("subdir_count_per_path", s.SubdirCountPerPath))
                .Append(TrackerSysFiles.Line("upload_priority", s.UploadPriority))
                .Append(TrackerSysFiles.Line("total_mb", s.TotalMb))
                .Append(TrackerSysFiles.Line("free_mb", s.FreeMb));
            for (int c = 0; c < CounterKeys.Count; c++)
            {
                b.Append(TrackerSysFiles.Line(CounterKeys[c].Key, s.Counters is { } counters && c < counters.Length ? counters[c] : 0));
            }

            b.Append(TrackerSysFiles.Line("last_source_update", s.LastSourceUpdate))
                .Append(TrackerSysFiles.Line("last_sync_update", s.LastSyncUpdate))
                .Append(TrackerSysFiles.Line("last_synced_timestamp", s.LastSyncedTimestamp))
                .Append(TrackerSysFiles.Line("last_heart_beat_time", s.LastHeartBeatTime))
                .Append(TrackerSysFiles.Line("changelog_offset", s.ChangelogOffset))
                .Append('\n');
        }

        b.Append("\n# global section\n[Global]\n").Append(TrackerSysFiles.Line("storage_count", storages.Count));
        return b.ToString();
    }

    /// <summary>Reads the storages in section order; absent numbers are 0, as FastDFS reads them.</summary>
    public static IReadOnlyList<TrackerStorageEntry> Parse(string text)
    {
        const string file = TrackerSysFiles.ServersFileName;
        var ini = TrackerSysFiles.ParseIni(text, file);
        if (!ini.Contains(Global + ".storage_count"))
        {
            throw new InvalidDataException($"{file}: item storage_count of [Global] is missing");
        }

        int count = (int)TrackerSysFiles.Number(ini, Global, "storage_count", 0, FdfsConstants.MaxGroups * FdfsConstants.MaxServersPerGroup);
        var storages = new List<TrackerStorageEntry>(count);
        for (int i = 1; i <= count; i++)
        {
            string section = TrackerSysFiles.SectionName(Prefix, i);
            string group = TrackerSysFiles.Text(ini, file, section, "group_name");
            string ip = ini.GetString(section + ".ip_addr") ?? "";
            if (ip.Length == 0)
            {
                throw new InvalidDataException($"{file}: [{section}] has no ip_addr");
            }

            var counters = new long[CounterKeys.Count];
            for (int c = 0; c < counters.Length; c++)
            {
                counters[c] = TrackerSysFiles.Number(ini, section, CounterKeys[c].Key);
            }

            string? id = ini.GetString(section + ".id");
            storages.Add(new TrackerStorageEntry(group, ip)
            {
                Id = string.IsNullOrEmpty(id) ? null : id,
                Status = (StorageStatus)(byte)TrackerSysFiles.Number(ini, section, "status", 0, 255),
                Version = ini.GetString(section + ".version") ?? "",
                JoinTime = TrackerSysFiles.Number(ini, section, "join_time"),
                StoragePort = (int)TrackerSysFiles.Number(ini, section, "storage_port", 0, 65535),
                StorageHttpPort = (int)TrackerSysFiles.Number(ini, section, "storage_http_port", 0, 65535),
                DomainName = ini.GetString(section + ".domain_name") ?? "",
                SyncSrcServer = ini.GetString(section + ".sync_src_server") ?? "",
                SyncUntilTimestamp = TrackerSysFiles.Number(ini, section, "sync_until_timestamp"),
                StorePathCount = (int)TrackerSysFiles.Number(ini, section, "store_path_count", 0, 256),
                SubdirCountPerPath = (int)TrackerSysFiles.Number(ini, section, "subdir_count_per_path", 0, 256),
                UploadPriority = TrackerSysFiles.Number(ini, section, "upload_priority"),
                TotalMb = TrackerSysFiles.Number(ini, section, "total_mb"),
                FreeMb = TrackerSysFiles.Number(ini, section, "free_mb"),
                Counters = counters,
                LastSourceUpdate = TrackerSysFiles.Number(ini, section, "last_source_update"),
                LastSyncUpdate = TrackerSysFiles.Number(ini, section, "last_sync_update"),
                LastSyncedTimestamp = TrackerSysFiles.Number(ini, section, "last_synced_timestamp"),
                LastHeartBeatTime = TrackerSysFiles.Number(ini, section, "last_heart_beat_time"),
                ChangelogOffset = Math.Max(0, TrackerSysFiles.Number(ini, section, "changelog_offset")),
            });
        }

        return storages;
    }
}

/// <summary>
/// One row of storage_sync_timestamp.dat: a source storage and, per destination storage of the group (the same
/// storages as the group's rows, in row order), the source timestamp the destination has synced up to.
/// </summary>
public sealed record SyncTimestampRow(string Group, string SourceId, IReadOnlyList<long> Timestamps);

/// <summary>storage_sync_timestamp.dat: <c>group,source_id,ts1,ts2,..</c> lines; rows of a group are contiguous.</summary>
public static class SyncTimestampsFile
{
    public const char Separator = ',';

    public static string Format(IReadOnlyList<SyncTimestampRow> rows)
    {
        var b = new StringBuilder(rows.Count * 64);
        foreach (var row in rows)
        {
            b.Append(row.Group).Append(Separator).Append(row.SourceId);
            foreach (long ts in row.Timestamps)
            {
                b.Append(Separator).Append(ts.ToString(CultureInfo.InvariantCulture));
            }

            b.Append('\n');
        }

        return b.ToString();
    }

    /// <summary>Reads the rows; fields are trimmed, empty lines skipped, a row needs at least one timestamp.</summary>
    public static IReadOnlyList<SyncTimestampRow> Parse(string text)
    {
        var rows = new List<SyncTimestampRow>();
        int lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            string line = rawLine.TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            string[] fields = line.Split(Separator);
            if (fields.Length <= 2 || fields.Length > FdfsConstants.MaxServersPerGroup + 2)
            {
                throw new InvalidDataException($"{TrackerSysFiles.SyncTimestampsFileName}:{lineNumber}: {fields.Length} fields (need 3..{FdfsConstants.MaxServersPerGroup + 2})");
            }

            var timestamps = new long[fields.Length - 2];
            for (int i = 0; i < timestamps.Length; i++)
            {
                if (!long.TryParse(fields[i + 2].Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out timestamps[i]))
                {
                    throw new InvalidDataException($"{TrackerSysFiles.SyncTimestampsFileName}:{lineNumber}: '{fields[i + 2]}' is not a timestamp");
                }
            }

            rows.Add(new SyncTimestampRow(fields[0].Trim(), fields[1].Trim(), timestamps));
        }

        return rows;
    }
}

/// <summary>
/// One storage_changelog.dat line: <c>timestamp group storage_id status argument</c>, space separated; the argument
/// is the new IP for IP_CHANGED and empty (the line then ends in a space) for DELETED.
/// </summary>
public readonly record struct ChangelogEntry(long Timestamp, string Group, string StorageId, StorageStatus Status, string Argument)
{
    public string ToLine() => string.Create(CultureInfo.InvariantCulture, $"{Timestamp} {Group} {StorageId} {(int)Status} {Argument}\n");
}

/// <summary>The changelog as FastDFS's storage reads a STORAGE_CHANGELOG_REQ answer: line by line, five fields each.</summary>
public static class StorageChangelogFile
{
    private const int FieldCount = 5;

    /// <summary>Reads the well-formed lines; malformed ones are counted in <paramref name="skipped"/> (FastDFS logs and skips them).</summary>
    public static IReadOnlyList<ChangelogEntry> Parse(string text, out int skipped)
    {
        var entries = new List<ChangelogEntry>();
        skipped = 0;
        foreach (string line in text.Split('\n'))
        {
            if (line.Length == 0)
            {
                continue;
            }

            string[] f = line.Split(' ');
            if (f.Length != FieldCount
                || !long.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out long ts)
                || !byte.TryParse(f[3], NumberStyles.None, CultureInfo.InvariantCulture, out byte status))
            {
                skipped++;
                continue;
            }

            entries.Add(new ChangelogEntry(ts, f[1], f[2], (StorageStatus)status, f[4]));
        }

        return entries;
    }
}
