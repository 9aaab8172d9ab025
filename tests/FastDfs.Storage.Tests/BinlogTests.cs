using System.Text;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastDfs.Storage.Tests;

/// <summary>Binlog durability (a record is in the file when AppendAsync completes), its reader and the sync mark file.</summary>
public sealed class BinlogTests : IDisposable
{
    private readonly string _base = Path.Combine(Path.GetTempPath(), "fdfs-binlog-test-" + Guid.NewGuid().ToString("N"));

    private string SyncDir => Path.Combine(_base, "data", "sync");

    private string ReadBinlog()
    {
        using var stream = new FileStream(Path.Combine(SyncDir, "binlog.000"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }

    [Fact]
    public async Task Appended_record_is_in_the_file_when_the_call_completes()
    {
        await using var binlog = new Binlog(_base, TimeSpan.FromSeconds(1), NullLogger.Instance);

        // Concurrent writers share group commits; each one's line is in the file once its own call returns.
        await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            string name = $"M00/00/00/file{i:D4}xxxxxxxxxxxxxxxxxxxxxxx.bin";
            await binlog.AppendAsync(1_700_000_000 + i, BinlogOp.Create, name);
            Assert.Contains($"{1_700_000_000 + i} C {name}\n", ReadBinlog(), StringComparison.Ordinal);
        }));

        await binlog.AppendAsync(1_700_000_500, BinlogOp.ToReplica(BinlogOp.Append), "M00/00/00/appenderxxxxxxxxxxxxxxxxxxxxxx.log", "10 20");
        Assert.EndsWith("1700000500 a M00/00/00/appenderxxxxxxxxxxxxxxxxxxxxxx.log 10 20\n", ReadBinlog(), StringComparison.Ordinal);
        Assert.Equal("current_write=0\ncurrent_compress=0\n", File.ReadAllText(Path.Combine(SyncDir, "binlog_index.dat")));
    }

    [Fact]
    public async Task Reader_returns_whole_lines_and_resumes_from_its_position()
    {
        await using var binlog = new Binlog(_base, TimeSpan.FromSeconds(1), NullLogger.Instance);
        await binlog.AppendAsync(100, BinlogOp.Create, "M00/00/00/aaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bin");
        await binlog.AppendAsync(101, BinlogOp.Rename, "M00/00/00/bbbbbbbbbbbbbbbbbbbbbbbbbbbbb.bin", "M00/00/00/ccccccccccccccccccccccccccccc.log");

        // A line the writer has not finished yet is not returned.
        File.AppendAllText(Path.Combine(SyncDir, "binlog.000"), "102 D M00/00/00/partial");
        using var reader = new BinlogReader(binlog, 0, 0);
        var entries = new List<BinlogEntry>();
        Assert.Equal(2, reader.Read(entries, 100));
        Assert.Equal(new BinlogEntry(100, 'C', "M00/00/00/aaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bin", null, 0, 50), entries[0]);
        Assert.Equal('R', entries[1].Op);
        Assert.Equal("M00/00/00/ccccccccccccccccccccccccccccc.log", entries[1].Extra);
        Assert.Equal(0, reader.Read(entries, 100));

        File.AppendAllText(Path.Combine(SyncDir, "binlog.000"), "xxxxxxxxxxxxxxxxxxxxxxx.bin\n");
        Assert.Equal(1, reader.Read(entries, 100));
        Assert.Equal('D', entries[2].Op);
        Assert.Equal(new FileInfo(Path.Combine(SyncDir, "binlog.000")).Length, entries[2].EndOffset);

        // A second reader started at a saved position sees only what follows it.
        using var resumed = new BinlogReader(binlog, entries[0].EndIndex, entries[0].EndOffset);
        var rest = new List<BinlogEntry>();
        Assert.Equal(2, resumed.Read(rest, 100));
        Assert.Equal('R', rest[0].Op);
    }

    [Fact]
    public void Mark_file_has_the_seven_fastdfs_keys_and_round_trips()
    {
        Directory.CreateDirectory(SyncDir);
        var mark = SyncMark.Load(SyncDir, "127.0.0.7", 23000);
        Assert.False(mark.Exists);
        mark.BinlogIndex = 2;
        mark.BinlogOffset = 12345;
        mark.NeedSyncOld = true;
        mark.SyncOldDone = true;
        mark.UntilTimestamp = 1_700_000_000;
        mark.ScanRowCount = 700;
        mark.SyncRowCount = 350;
        mark.Save();

        string text = File.ReadAllText(Path.Combine(SyncDir, "127.0.0.7_23000.mark"), Encoding.ASCII);
        Assert.Equal(
            "binlog_index=2\nbinlog_offset=12345\nneed_sync_old=1\nsync_old_done=1\nuntil_timestamp=1700000000\nscan_row_count=700\nsync_row_count=350\n",
            text);
        var loaded = SyncMark.Load(SyncDir, "127.0.0.7", 23000);
        Assert.True(loaded.Exists);
        Assert.Equal((2, 12345L, true, true, 1_700_000_000L, 700L, 350L),
            (loaded.BinlogIndex, loaded.BinlogOffset, loaded.NeedSyncOld, loaded.SyncOldDone, loaded.UntilTimestamp, loaded.ScanRowCount, loaded.SyncRowCount));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_base, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
