using System.Globalization;

namespace FastDfs.Storage;

/// <summary>
/// <c>base_path/data/.data_init_flag</c> (ini, protocol notes 9.1): first join time and whether the initial sync
/// handshake with the trackers was done. Absent file = first ever start = JOIN with init_flag set.
/// </summary>
internal sealed class DataInitFlag
{
    private readonly string _file;
    private readonly Lock _lock = new();

    private DataInitFlag(string file) => _file = file;

    public long StorageJoinTime { get; private set; }

    /// <summary>The file was there at start-up: this storage has run before (disk recovery needs that).</summary>
    public bool Existed { get; private set; }

    public bool SyncOldDone { get; private set; }

    public string SyncSourceServer { get; private set; } = string.Empty;

    public long SyncUntilTimestamp { get; private set; }

    public static DataInitFlag Load(string basePath)
    {
        string dir = Path.Combine(basePath, "data");
        Directory.CreateDirectory(dir);
        var flag = new DataInitFlag(Path.Combine(dir, ".data_init_flag"));
        if (File.Exists(flag._file))
        {
            flag.Existed = true;
            foreach (string line in File.ReadLines(flag._file))
            {
                int eq = line.IndexOf('=');
                if (eq <= 0)
                {
                    continue;
                }

                string key = line[..eq].Trim();
                string value = line[(eq + 1)..].Trim();
                switch (key)
                {
                    case "storage_join_time":
                        flag.StorageJoinTime = long.TryParse(value, CultureInfo.InvariantCulture, out long t) ? t : 0;
                        break;
                    case "sync_old_done":
                        flag.SyncOldDone = value == "1";
                        break;
                    case "sync_src_server":
                        flag.SyncSourceServer = value;
                        break;
                    case "sync_until_timestamp":
                        flag.SyncUntilTimestamp = long.TryParse(value, CultureInfo.InvariantCulture, out long u) ? u : 0;
                        break;
                }
            }
        }

        if (flag.StorageJoinTime == 0)
        {
            flag.StorageJoinTime = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            flag.Save();
        }

        return flag;
    }

    /// <summary>Records the outcome of SYNC_DEST_REQ: later starts join without init_flag.</summary>
    public void MarkSyncDone(string source, long until)
    {
        lock (_lock)
        {
            SyncSourceServer = source;
            SyncUntilTimestamp = until;
            SyncOldDone = true;
            Save();
        }
    }

    private void Save()
    {
        string temp = _file + ".tmp";
        File.WriteAllText(temp, string.Create(CultureInfo.InvariantCulture,
            $"storage_join_time={StorageJoinTime}\nsync_old_done={(SyncOldDone ? 1 : 0)}\nsync_src_server={SyncSourceServer}\nsync_until_timestamp={SyncUntilTimestamp}\n"));
        File.Move(temp, _file, overwrite: true);
    }
}
