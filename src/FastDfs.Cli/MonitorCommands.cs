using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FastDfs.Client;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Spectre.Console;

namespace FastDfs.Cli;

/// <summary>
/// <c>fdfs groups</c> and <c>fdfs storages</c>: the tracker's listings (protocol notes 3.2) as fdfs_monitor shows them,
/// laid out to fit an 80-column terminal, or as JSON for scripts.
/// </summary>
internal static class MonitorCommands
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Command Groups()
    {
        var json = new Option<bool>("--json") { Description = "print JSON instead of a table" };
        var cmd = new Command("groups", "list the groups with their capacity, and the cluster's total") { json };
        cmd.SetAction((pr, ct) => Program.RunAsync(pr, "groups", ct, async client =>
        {
            var groups = await client.ListGroupsAsync(ct);
            if (pr.GetValue(json))
            {
                WriteJson(w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("groups");
                    foreach (var g in groups)
                    {
                        w.WriteStartObject();
                        WriteGroupFields(w, g);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    WriteTotals(w, groups);
                    w.WriteEndObject();
                });
                return 0;
            }

            foreach (string line in GroupTable(groups))
            {
                Out.WriteLine(line);
            }

            return 0;
        }));
        return cmd;
    }

    public static Command Storages()
    {
        var groupArg = new Argument<string?>("GROUP") { Arity = ArgumentArity.ZeroOrOne, Description = "one group (same as -g)" };
        var groupOption = new Option<string?>("--group", "-g") { Description = "show only this group" };
        var json = new Option<bool>("--json") { Description = "print JSON (all counters, raw unix times) instead of text" };
        var cmd = new Command("storages", "fdfs_monitor: every storage with its status, space, counters and sync progress")
        {
            groupArg, groupOption, json,
        };
        cmd.SetAction((pr, ct) => Program.RunAsync(pr, "storages", ct, async client =>
        {
            string? only = pr.GetValue(groupOption) ?? pr.GetValue(groupArg);
            if (pr.GetValue(groupOption) is { } a && pr.GetValue(groupArg) is { } b && a != b)
            {
                throw new UsageException($"two different groups given: '{b}' and -g '{a}'");
            }

            IReadOnlyList<GroupStat> groups = only is null ? await client.ListGroupsAsync(ct) : [await client.ListGroupAsync(only, ct)];
            var listed = new List<(GroupStat Group, IReadOnlyList<StorageInfo> Storages)>(groups.Count);
            foreach (var g in groups)
            {
                listed.Add((g, await client.ListStoragesAsync(g.Name, null, ct)));
            }

            // Per-source sync marks matter only where a group has peers; one extra round trip to the tracker then.
            var marks = listed.Any(x => x.Storages.Count > 1) ? await TrackerSyncMatrix.TryFetchAsync(Program.BuildOptions(pr), ct) : null;
            long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            if (pr.GetValue(json))
            {
                WriteJson(w => WriteStoragesJson(w, listed, now, marks));
                return 0;
            }

            foreach (string line in StoragesView(listed, now, marks))
            {
                Out.MarkupLine(line);
            }

            return 0;
        }));
        return cmd;
    }

    // ---- text ---------------------------------------------------------------------------------------------------

    /// <summary>One row per group and a total row; the total sums group capacities (replicas inside a group do not add space).</summary>
    internal static IEnumerable<string> GroupTable(IReadOnlyList<GroupStat> groups)
    {
        const string format = "{0,-16} {1,8} {2,5} {3,13} {4,13} {5,6} {6,11}";
        yield return string.Format(Inv, format, "group", "storages", "r/w", "total MB", "free MB", "free", "reserved MB");
        foreach (var g in groups)
        {
            yield return string.Format(Inv, format, g.Name, N(g.StorageCount), $"{g.ReadableServerCount}/{g.WritableServerCount}",
                N(g.TotalMb), N(g.FreeMb), Percent(g.FreeMb, g.TotalMb), N(g.ReservedMb));
        }

        var (total, free, reserved, storages) = Totals(groups);
        yield return new string('-', 78);
        yield return string.Format(Inv, format, $"total ({groups.Count})", N(storages), string.Empty, N(total), N(free), Percent(free, total), N(reserved));
    }

    private static (long Total, long Free, long Reserved, long Storages) Totals(IReadOnlyList<GroupStat> groups) =>
        (groups.Sum(g => g.TotalMb), groups.Sum(g => g.FreeMb), groups.Sum(g => g.ReservedMb), groups.Sum(g => g.StorageCount));

    /// <summary>
    /// The <c>fdfs storages</c> text as Spectre markup lines (values escaped): per group a header, then one block per
    /// storage like fdfs_monitor's, every line at most 80 columns once the markup is removed.
    /// </summary>
    internal static List<string> StoragesView(
        IReadOnlyList<(GroupStat Group, IReadOnlyList<StorageInfo> Storages)> listed, long now, IReadOnlyDictionary<(string Group, string Storage), IReadOnlyDictionary<string, long>>? marks = null)
    {
        var o = new List<string>();
        if (listed.Count == 0)
        {
            o.Add("no groups: no storage has joined this tracker yet");
        }

        for (int i = 0; i < listed.Count; i++)
        {
            if (i > 0)
            {
                o.Add(string.Empty);
            }

            GroupBlock(o, listed[i].Group, listed[i].Storages, now, marks);
        }

        return o;
    }

    private static void GroupBlock(List<string> o, GroupStat g, IReadOnlyList<StorageInfo> storages, long now, IReadOnlyDictionary<(string Group, string Storage), IReadOnlyDictionary<string, long>>? marks)
    {
        o.Add($"[bold]{Markup.Escape(g.Name)}[/]  {g.StorageCount} storage(s), {g.ReadableServerCount} readable, " +
            $"{g.WritableServerCount} writable, port {g.StoragePort}");
        Plain(o, $"  space    total {N(g.TotalMb)} MB, free {N(g.FreeMb)} MB ({Percent(g.FreeMb, g.TotalMb)}), reserved {N(g.ReservedMb)} MB");
        string trunk = g.CurrentTrunkFileId < 0 ? "no trunk" : "trunk file " + N(g.CurrentTrunkFileId);
        Plain(o, string.Create(Inv,
            $"  layout   {g.StorePathCount} store path(s), {g.SubdirCountPerPath} subdirs/path, write server #{g.CurrentWriteServer}, {trunk}"));
        for (int i = 0; i < storages.Count; i++)
        {
            o.Add(string.Empty);
            StorageBlock(o, storages[i], i + 1, storages, now, marks?.GetValueOrDefault((g.Name, storages[i].Id)));
        }
    }

    private static void StorageBlock(
        List<string> o, StorageInfo s, int index, IReadOnlyList<StorageInfo> group, long now, IReadOnlyDictionary<string, long>? marks)
    {
        var st = s.Stats;
        string id = s.Id == s.Ip ? string.Empty : $"  id {s.Id}";
        o.Add($"  [bold]storage {index}[/]  {Markup.Escape(new ServerAddress(s.Ip, (int)s.StoragePort).ToString())}  {StatusMarkup(s.Status)}{Markup.Escape(id)}");
        Pair(o, "version", s.Version, "rw mode", RwMode(s.RwMode));
        Pair(o, "joined", Time(s.JoinTime), "up since", Time(s.UpTime));
        Pair(o, "total space", $"{N(s.TotalMb)} MB", "free space", $"{N(s.FreeMb)} MB ({Percent(s.FreeMb, s.TotalMb)})");
        Pair(o, "reserved", $"{N(s.ReservedMb)} MB", "upload priority", N(s.UploadPriority));
        Pair(o, "store paths", $"{s.StorePathCount} (writing M{s.CurrentWritePath:X2})", "subdirs/path", N(s.SubdirCountPerPath));
        Pair(o, "trunk server", s.IsTrunkServer ? "yes" : "no", "sync source", s.SyncSourceId.Length == 0 ? "-" : s.SyncSourceId);
        Line(o, "connections", $"{st.ConnectionCurrentCount} now, {st.ConnectionMaxCount} max, {st.ConnectionAllocCount} allocated");
        Line(o, "last heartbeat", TimeAgo(st[StatCounter.LastHeartBeatTime], now));
        Line(o, "source update", TimeAgo(st[StatCounter.LastSourceUpdate], now));
        Line(o, "sync update", TimeAgo(st[StatCounter.LastSyncUpdate], now));
        var sync = SyncProgress.Of(s, group, marks);
        Line(o, "sync progress", sync.Summary);
        if (sync.PerSourceFromTracker)
        {
            foreach (var source in sync.Sources)
            {
                Plain(o, $"      from {source.Id,-15} {source.Text}");
            }
        }

        o.Add(string.Empty);
        Plain(o, string.Format(Inv, CounterFormat, string.Empty, "success", "total", "bytes ok", "bytes total"));
        Counter(o, st, "upload", StatCounter.SuccessUploadCount, StatCounter.SuccessUploadBytes);
        Counter(o, st, "append", StatCounter.SuccessAppendCount, StatCounter.SuccessAppendBytes);
        Counter(o, st, "modify", StatCounter.SuccessModifyCount, StatCounter.SuccessModifyBytes);
        Counter(o, st, "download", StatCounter.SuccessDownloadCount, StatCounter.SuccessDownloadBytes);
        Counter(o, st, "truncate", StatCounter.SuccessTruncateCount, null);
        Counter(o, st, "delete", StatCounter.SuccessDeleteCount, null);
        Counter(o, st, "set metadata", StatCounter.SuccessSetMetaCount, null);
        Counter(o, st, "get metadata", StatCounter.SuccessGetMetaCount, null);
        Counter(o, st, "create link", StatCounter.SuccessCreateLinkCount, null);
        Counter(o, st, "delete link", StatCounter.SuccessDeleteLinkCount, null);
        Counter(o, st, "file open", StatCounter.SuccessFileOpenCount, null);
        Counter(o, st, "file read", StatCounter.SuccessFileReadCount, null);
        Counter(o, st, "file write", StatCounter.SuccessFileWriteCount, null);
        Counter(o, st, "sync in", null, StatCounter.SuccessSyncInBytes);
        Counter(o, st, "sync out", null, StatCounter.SuccessSyncOutBytes);
    }

    /// <summary>Name, success and total count, success and total bytes: 80 columns at most.</summary>
    private const string CounterFormat = "    {0,-16}{1,15}{2,15}{3,15}{4,15}";

    /// <summary>
    /// One row; <paramref name="successCount"/> / <paramref name="successBytes"/> name the "success" counter, the
    /// "total" one is always the counter just before it in the wire order (total_x, success_x pairs).
    /// </summary>
    private static void Counter(List<string> o, StorageStats st, string name, StatCounter? successCount, StatCounter? successBytes)
    {
        string Count(StatCounter? c, int shift) => c is { } v ? N(st[v - shift]) : string.Empty;
        string Bytes(StatCounter? c, int shift) => c is { } v ? Size(st[v - shift]) : string.Empty;
        Plain(o, string.Format(Inv, CounterFormat, name, Count(successCount, 0), Count(successCount, 1),
            Bytes(successBytes, 0), Bytes(successBytes, 1)).TrimEnd());
    }

    /// <summary>Two label/value pairs on one line: 4 + 16 + 24 + 16 + up to 20 = 80 columns.</summary>
    private static void Pair(List<string> o, string key1, string value1, string key2, string value2) =>
        Plain(o, Clip(string.Format(Inv, "    {0,-16}{1,-24}{2,-16}{3}", key1, value1, key2, value2)));

    private static void Line(List<string> o, string key, string value) => Plain(o, Clip(string.Format(Inv, "    {0,-16}{1}", key, value)));

    private static void Plain(List<string> o, string line) => o.Add(Markup.Escape(Clip(line)));

    /// <summary>Keeps a line within 80 columns (long storage IDs or versions must not wrap the block).</summary>
    private static string Clip(string line)
    {
        line = line.TrimEnd();
        return line.Length <= 80 ? line : line[..79] + "~";
    }

    private static string StatusMarkup(StorageStatus status) => status switch
    {
        StorageStatus.Active => "[green]ACTIVE[/]",
        StorageStatus.Online => "[yellow]ONLINE[/]",
        StorageStatus.WaitSync or StorageStatus.Syncing or StorageStatus.Init or StorageStatus.Recovery => $"[yellow]{StatusName(status)}[/]",
        _ => $"[red]{StatusName(status)}[/]",
    };

    /// <summary>The names fdfs_monitor prints (FDFS_STORAGE_STATUS_*).</summary>
    internal static string StatusName(StorageStatus status) => status switch
    {
        StorageStatus.Init => "INIT",
        StorageStatus.WaitSync => "WAIT_SYNC",
        StorageStatus.Syncing => "SYNCING",
        StorageStatus.IpChanged => "IP_CHANGED",
        StorageStatus.Deleted => "DELETED",
        StorageStatus.Offline => "OFFLINE",
        StorageStatus.Online => "ONLINE",
        StorageStatus.Active => "ACTIVE",
        StorageStatus.Recovery => "RECOVERY",
        StorageStatus.None => "NONE",
        _ => "UNKNOWN(" + ((byte)status).ToString(Inv) + ")",
    };

    private static string RwMode(StorageRwMode mode) => mode switch
    {
        StorageRwMode.Both => "read-write",
        StorageRwMode.ReadOnly => "read-only",
        StorageRwMode.WriteOnly => "write-only",
        StorageRwMode.None => "none",
        _ => ((byte)mode).ToString(Inv),
    };

    private static string N(long value) => value.ToString("N0", Inv);

    private static string Percent(long part, long whole) =>
        whole <= 0 ? "-" : (part * 100.0 / whole).ToString("0", Inv) + "%";

    private static string Size(long bytes)
    {
        if (bytes < 1024)
        {
            return bytes.ToString(Inv) + " B";
        }

        string[] units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return value.ToString(value < 10 ? "0.00" : value < 100 ? "0.0" : "N0", Inv) + " " + units[unit];
    }

    internal static string Time(long unix) =>
        unix <= 0 ? "-" : DateTimeOffset.FromUnixTimeSeconds(unix).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", Inv);

    private static string TimeAgo(long unix, long now) => unix <= 0 ? "never" : $"{Time(unix)} ({Ago(now - unix)})";

    private static string Ago(long seconds) => seconds < 0 ? "in the future" : Duration(seconds) + " ago";

    /// <summary>Seconds as "42 s", "5 min 3 s", "2 h 5 min", "3 d 4 h".</summary>
    internal static string Duration(long s) => s switch
    {
        < 60 => $"{s} s",
        < 3600 => $"{s / 60} min {s % 60} s",
        < 86400 => $"{s / 3600} h {s % 3600 / 60} min",
        _ => $"{s / 86400} d {s % 86400 / 3600} h",
    };

    // ---- sync progress ------------------------------------------------------------------------------------------

    /// <summary>
    /// How far a storage has applied its peers' changes. A peer's <c>last_source_update</c> says when it last took a
    /// client change; the storage is behind that peer by the time between its sync mark for the peer and that change
    /// (fdfs_monitor's "delay" measures against the newest change of the whole group). The per-source marks come from
    /// the tracker when it shares them (<paramref name="marks"/>, see <see cref="TrackerSyncMatrix"/>); otherwise the
    /// listing's single <c>last_synced_timestamp</c> stands in for every source (with store_server = 0 the tracker
    /// makes it the minimum over the sources, so the lag is then an upper bound).
    /// </summary>
    internal sealed record SyncProgress(string Summary, long? BehindSeconds, IReadOnlyList<SourceProgress> Sources, bool PerSourceFromTracker)
    {
        public static SyncProgress Of(StorageInfo s, IReadOnlyList<StorageInfo> group, IReadOnlyDictionary<string, long>? marks = null)
        {
            long synced = s.Stats[StatCounter.LastSyncedTimestamp];
            var peers = group.Where(p => p.Id != s.Id && p.Status != StorageStatus.Deleted).ToList();
            if (peers.Count == 0)
            {
                return new("no peers in the group: nothing to sync", null, [], marks is not null);
            }

            var sources = new List<SourceProgress>(peers.Count);
            foreach (var p in peers)
            {
                long update = p.Stats[StatCounter.LastSourceUpdate];
                long mark = marks is null ? synced : marks.GetValueOrDefault(p.Id);
                if (update <= 0)
                {
                    sources.Add(new(p.Id, update, mark > 0 ? mark : null, 0, "no client changes on it yet"));
                }
                else if (mark >= update)
                {
                    sources.Add(new(p.Id, update, mark, 0, $"synced up to {Time(mark)}, 0 s behind"));
                }
                else if (mark <= 0)
                {
                    // How far behind is unknown: nothing says when the first change not yet applied was made.
                    sources.Add(new(p.Id, update, null, null, $"never synced, last change there {Time(update)}"));
                }
                else
                {
                    long behind = update - mark;
                    sources.Add(new(p.Id, update, mark, behind, $"synced up to {Time(mark)}, {N(behind)} s behind"));
                }
            }

            string upTo = synced > 0 ? $"synced up to {Time(synced)}" : "never synced";
            if (sources.All(x => x.LastSourceUpdate <= 0))
            {
                return new(synced > 0 ? upTo + ", 0 s behind" : "nothing to sync yet (no client changes on peers)", 0, sources, marks is not null);
            }

            if (sources.Any(x => x.BehindSeconds is null))
            {
                return new(upTo + ", peers have changes", null, sources, marks is not null);
            }

            long worst = sources.Max(x => x.BehindSeconds!.Value);
            return new($"{upTo}, {N(worst)} s behind", worst, sources, marks is not null);
        }
    }

    internal sealed record SourceProgress(string Id, long LastSourceUpdate, long? SyncedUpTo, long? BehindSeconds, string Text);

    // ---- JSON ---------------------------------------------------------------------------------------------------

    private static void WriteJson(Action<Utf8JsonWriter> body)
    {
        using var stdout = Console.OpenStandardOutput();
        using (var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true }))
        {
            body(w);
        }

        stdout.WriteByte((byte)'\n');
    }

    private static void WriteTotals(Utf8JsonWriter w, IReadOnlyList<GroupStat> groups)
    {
        var (total, free, reserved, storages) = Totals(groups);
        w.WriteStartObject("total");
        w.WriteNumber("group_count", groups.Count);
        w.WriteNumber("storage_count", storages);
        w.WriteNumber("total_mb", total);
        w.WriteNumber("free_mb", free);
        w.WriteNumber("reserved_mb", reserved);
        w.WriteEndObject();
    }

    private static void WriteGroupFields(Utf8JsonWriter w, GroupStat g)
    {
        w.WriteString("name", g.Name);
        w.WriteNumber("total_mb", g.TotalMb);
        w.WriteNumber("free_mb", g.FreeMb);
        w.WriteNumber("reserved_mb", g.ReservedMb);
        w.WriteNumber("trunk_free_mb", g.TrunkFreeMb);
        w.WriteNumber("storage_count", g.StorageCount);
        w.WriteNumber("storage_port", g.StoragePort);
        w.WriteNumber("readable_server_count", g.ReadableServerCount);
        w.WriteNumber("writable_server_count", g.WritableServerCount);
        w.WriteNumber("current_write_server", g.CurrentWriteServer);
        w.WriteNumber("store_path_count", g.StorePathCount);
        w.WriteNumber("subdir_count_per_path", g.SubdirCountPerPath);
        w.WriteNumber("current_trunk_file_id", g.CurrentTrunkFileId);
    }

    private static void WriteStoragesJson(
        Utf8JsonWriter w, List<(GroupStat Group, IReadOnlyList<StorageInfo> Storages)> listed, long now, IReadOnlyDictionary<(string Group, string Storage), IReadOnlyDictionary<string, long>>? marks)
    {
        w.WriteStartObject();
        w.WriteNumber("now", now);
        w.WriteStartArray("groups");
        foreach (var (g, storages) in listed)
        {
            w.WriteStartObject();
            WriteGroupFields(w, g);
            w.WriteStartArray("storages");
            foreach (var s in storages)
            {
                WriteStorageJson(w, s, storages, marks?.GetValueOrDefault((g.Name, s.Id)));
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteStorageJson(Utf8JsonWriter w, StorageInfo s, IReadOnlyList<StorageInfo> group, IReadOnlyDictionary<string, long>? marks)
    {
        w.WriteStartObject();
        w.WriteString("id", s.Id);
        w.WriteString("ip", s.Ip);
        w.WriteNumber("port", s.StoragePort);
        w.WriteString("status", StatusName(s.Status));
        w.WriteNumber("status_code", (byte)s.Status);
        w.WriteNumber("rw_mode", (byte)s.RwMode);
        w.WriteString("version", s.Version);
        w.WriteNumber("join_time", s.JoinTime);
        w.WriteNumber("up_time", s.UpTime);
        w.WriteNumber("total_mb", s.TotalMb);
        w.WriteNumber("free_mb", s.FreeMb);
        w.WriteNumber("reserved_mb", s.ReservedMb);
        w.WriteNumber("upload_priority", s.UploadPriority);
        w.WriteNumber("store_path_count", s.StorePathCount);
        w.WriteNumber("subdir_count_per_path", s.SubdirCountPerPath);
        w.WriteNumber("current_write_path", s.CurrentWritePath);
        w.WriteString("sync_source_id", s.SyncSourceId);
        w.WriteBoolean("is_trunk_server", s.IsTrunkServer);
        w.WriteStartObject("stats");
        w.WriteNumber("connection_alloc_count", s.Stats.ConnectionAllocCount);
        w.WriteNumber("connection_current_count", s.Stats.ConnectionCurrentCount);
        w.WriteNumber("connection_max_count", s.Stats.ConnectionMaxCount);
        foreach (var counter in Enum.GetValues<StatCounter>())
        {
            w.WriteNumber(SnakeCase(counter), s.Stats[counter]);
        }

        w.WriteEndObject();
        var sync = SyncProgress.Of(s, group, marks);
        w.WriteStartObject("sync");
        w.WriteNumber("last_synced_timestamp", s.Stats[StatCounter.LastSyncedTimestamp]);
        WriteNullable(w, "behind_seconds", sync.BehindSeconds);

        // "tracker": per-source marks from the tracker's sync matrix; "listing": last_synced_timestamp stands in for all.
        w.WriteString("sources_basis", sync.PerSourceFromTracker ? "tracker" : "listing");

        w.WriteStartArray("sources");
        foreach (var source in sync.Sources)
        {
            w.WriteStartObject();
            w.WriteString("id", source.Id);
            w.WriteNumber("last_source_update", source.LastSourceUpdate);
            WriteNullable(w, "synced_up_to", source.SyncedUpTo);
            WriteNullable(w, "behind_seconds", source.BehindSeconds);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    /// <summary>TotalUploadCount -> total_upload_count (the names of FastDFS's FDFSStorageStat fields).</summary>
    private static string SnakeCase(StatCounter counter)
    {
        string name = counter.ToString();
        var sb = new StringBuilder(name.Length + 8);
        foreach (char c in name)
        {
            if (char.IsUpper(c) && sb.Length > 0)
            {
                sb.Append('_');
            }

            sb.Append(char.ToLowerInvariant(c));
        }

        return sb.ToString();
    }

    /// <summary>Stdout; a redirected stdout gets no colors and no wrapping (lines are at most 80 columns anyway).</summary>
    private static IAnsiConsole Out { get; } = CreateOut();

    private static IAnsiConsole CreateOut()
    {
        var console = AnsiConsole.Console;
        if (Console.IsOutputRedirected)
        {
            console.Profile.Width = 240;
        }

        return console;
    }
}
