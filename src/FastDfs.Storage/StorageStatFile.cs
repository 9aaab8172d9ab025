using System.Globalization;
using System.Text;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace FastDfs.Storage;

/// <summary>
/// <c>base_path/data/storage_stat.dat</c>, FastDFS's counters file (<c>key=value</c> lines, protocol notes 9.1): read
/// at start and rewritten every <c>sync_stat_file_interval</c> and at stop, so the traffic counters that BEAT reports
/// (and <c>fdfs storages</c> shows) survive a restart. A file left by a FastDFS storage is read the same way; its
/// write-directory cursor lines are ignored (the directory rotation restarts, which only changes where new files go).
/// </summary>
internal static class StorageStatFile
{
    public const string FileName = "storage_stat.dat";

    // FastDFS's keys are the counters' names in snake case: TotalUploadCount -> total_upload_count.
    private static readonly (StatCounter Counter, string Key)[] s_items =
        Enum.GetValues<StatCounter>()
            .Where(c => c <= StatCounter.SuccessFileWriteCount || c is StatCounter.LastSourceUpdate or StatCounter.LastSyncUpdate)
            .Select(c => (c, SnakeCase(c.ToString())))
            .ToArray();

    public static string PathFor(string basePath) => Path.Combine(basePath, "data", FileName);

    /// <summary>Adds the saved counters to <paramref name="stats"/>; a missing file is a first start.</summary>
    public static void Load(string basePath, StorageStats stats, ILogger logger)
    {
        string path = PathFor(basePath);
        if (!File.Exists(path))
        {
            return;
        }

        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string line in File.ReadLines(path))
        {
            int equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && long.TryParse(line.AsSpan(equals + 1).Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
            {
                values[line[..equals].Trim()] = value;
            }
        }

        int loaded = 0;
        foreach (var (counter, key) in s_items)
        {
            if (values.TryGetValue(key, out long value) && value >= 0)
            {
                stats[counter] = value;
                loaded++;
            }
        }

        StorageLog.LoadedStatFile(logger, loaded, path);
    }

    /// <summary>Writes the counters to a temp file, syncs it and renames it over the old one: a crash leaves either file whole.</summary>
    public static void Save(string basePath, StorageStats stats)
    {
        var text = new StringBuilder(2048);
        foreach (var (counter, key) in s_items)
        {
            text.Append(key).Append('=').Append(stats[counter].ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        string path = PathFor(basePath);
        string temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(Encoding.ASCII.GetBytes(text.ToString()));
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    private static string SnakeCase(string name)
    {
        var result = new StringBuilder(name.Length + 8);
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                result.Append('_');
            }

            result.Append(char.ToLowerInvariant(name[i]));
        }

        return result.ToString();
    }
}
