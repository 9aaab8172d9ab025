using System.Globalization;
using System.Text;

namespace FastDfs.Storage;

/// <summary>
/// A sync worker's position in the binlog for one peer: <c>base_path/data/sync/&lt;peer ip&gt;_&lt;port&gt;.mark</c>
/// (<c>&lt;peer id&gt;.mark</c> with storage IDs),
/// ini text with the seven keys FastDFS writes (protocol notes 9.3). Saved through a temp file and rename so a crash
/// leaves the old or the new mark, never half of one.
/// </summary>
internal sealed class SyncMark
{
    private readonly string _file;

    private SyncMark(string file) => _file = file;

    public string FilePath => _file;

    /// <summary>False until the first <see cref="Save"/>: the worker still has to decide how to start.</summary>
    public bool Exists { get; private set; }

    public int BinlogIndex { get; set; }

    public long BinlogOffset { get; set; }

    /// <summary>This storage copies its whole binlog (incl. replica records up to <see cref="UntilTimestamp"/>) to a new peer.</summary>
    public bool NeedSyncOld { get; set; }

    public bool SyncOldDone { get; set; }

    /// <summary>Full-copy boundary set by the tracker when the peer joined (0: none).</summary>
    public long UntilTimestamp { get; set; }

    /// <summary>Binlog records read.</summary>
    public long ScanRowCount { get; set; }

    /// <summary>Records sent to the peer and acknowledged.</summary>
    public long SyncRowCount { get; set; }

    public static string FileName(string peerIp, int port) => string.Create(CultureInfo.InvariantCulture, $"{peerIp}_{port}.mark");

    /// <summary>FastDFS names a peer's mark by its ID in ID mode (it survives an IP change), else by IP and port.</summary>
    public static string FileName(string peerId, string peerIp, int port, bool useStorageId) =>
        useStorageId ? peerId + ".mark" : FileName(peerIp, port);

    public static SyncMark Load(string syncDir, string peerIp, int port) => LoadFile(Path.Combine(syncDir, FileName(peerIp, port)));

    public static SyncMark LoadFile(string path)
    {
        var mark = new SyncMark(path);
        if (!File.Exists(mark._file))
        {
            return mark;
        }

        foreach (string line in File.ReadLines(mark._file))
        {
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }

            string value = line[(eq + 1)..].Trim();
            _ = long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long number);
            switch (line[..eq].Trim())
            {
                case "binlog_index":
                    mark.BinlogIndex = (int)number;
                    break;
                case "binlog_offset":
                    mark.BinlogOffset = number;
                    break;
                case "need_sync_old":
                    mark.NeedSyncOld = number != 0;
                    break;
                case "sync_old_done":
                    mark.SyncOldDone = number != 0;
                    break;
                case "until_timestamp":
                    mark.UntilTimestamp = number;
                    break;
                case "scan_row_count":
                    mark.ScanRowCount = number;
                    break;
                case "sync_row_count":
                    mark.SyncRowCount = number;
                    break;
            }
        }

        mark.Exists = true;
        return mark;
    }

    /// <summary>Writes the mark (write(2) + rename: survives a process crash; the page cache keeps it).</summary>
    public void Save()
    {
        var text = new StringBuilder(192);
        text.Append(CultureInfo.InvariantCulture, $"binlog_index={BinlogIndex}\n");
        text.Append(CultureInfo.InvariantCulture, $"binlog_offset={BinlogOffset}\n");
        text.Append(CultureInfo.InvariantCulture, $"need_sync_old={(NeedSyncOld ? 1 : 0)}\n");
        text.Append(CultureInfo.InvariantCulture, $"sync_old_done={(SyncOldDone ? 1 : 0)}\n");
        text.Append(CultureInfo.InvariantCulture, $"until_timestamp={UntilTimestamp}\n");
        text.Append(CultureInfo.InvariantCulture, $"scan_row_count={ScanRowCount}\n");
        text.Append(CultureInfo.InvariantCulture, $"sync_row_count={SyncRowCount}\n");
        string temp = _file + ".tmp";
        File.WriteAllText(temp, text.ToString());
        File.Move(temp, _file, overwrite: true);
        Exists = true;
    }
}
