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
    public async Task Concurrent_appends_write_every_record_once_in_each_writers_order()
    {
        const int Writers = 16;
        const int PerWriter = 300;
        await using (var binlog = new Binlog(_base, TimeSpan.FromSeconds(1), NullLogger.Instance))
        {
            // Task.Run: writers on several threads, so leaders and followers really overlap.
            await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
            {
                for (int i = 0; i < PerWriter; i++)
                {
                    await binlog.AppendAsync(1_700_000_000 + i, BinlogOp.Create, $"M00/00/00/w{w:D2}n{i:D4}xxxxxxxxxxxxxxxxxxxxx.bin");
                }
            })));
        }

        string text = ReadBinlog();
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        string[] lines = text.TrimEnd('\n').Split('\n');
        Assert.Equal(Writers * PerWriter, lines.Length);
        var next = new int[Writers];
        foreach (string line in lines)
        {
            Assert.True(BinlogReader.TryParse(Encoding.UTF8.GetBytes(line), 0, 0, out var entry), line);
            int writer = int.Parse(entry.RemoteName.AsSpan(11, 2), System.Globalization.CultureInfo.InvariantCulture);
            int i = int.Parse(entry.RemoteName.AsSpan(14, 4), System.Globalization.CultureInfo.InvariantCulture);

            // Each writer awaited every append before the next: its records are in the file in its order, none twice.
            Assert.Equal(next[writer], i);
            Assert.Equal(1_700_000_000 + i, entry.Timestamp);
            next[writer]++;
        }

        Assert.All(next, count => Assert.Equal(PerWriter, count));
    }

    [Fact]
    public async Task Appends_that_did_not_wait_are_written_in_call_order()
    {
        await using var binlog = new Binlog(_base, TimeSpan.FromSeconds(1), NullLogger.Instance);
        var pending = new List<Task>();
        for (int i = 0; i < 2000; i++)
        {
            pending.Add(binlog.AppendAsync(i, BinlogOp.Delete, $"M00/00/00/{i:D6}xxxxxxxxxxxxxxxxxxxxxxxxxx.bin").AsTask());
        }

        var commit = binlog.NextCommit;
        await Task.WhenAll(pending);
        await binlog.AppendAsync(2000, BinlogOp.Delete, "M00/00/00/lastxxxxxxxxxxxxxxxxxxxxxxxxxxxx.bin");
        await commit.WaitAsync(TimeSpan.FromSeconds(10));

        using var reader = new BinlogReader(binlog, 0, 0);
        var entries = new List<BinlogEntry>();
        while (reader.Read(entries, 500) > 0)
        {
        }

        Assert.Equal(Enumerable.Range(0, 2001).Select(i => (long)i), entries.Select(e => e.Timestamp));
    }

    [Fact]
    public async Task Rotation_keeps_every_record_and_the_reader_follows_it()
    {
        await using (var binlog = new Binlog(_base, TimeSpan.FromSeconds(1), NullLogger.Instance, maxFileSize: 4096))
        {
            await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
            {
                for (int i = 0; i < 100; i++)
                {
                    await binlog.AppendAsync(w * 1000 + i, BinlogOp.Create, $"M00/00/00/rot{w}x{i:D3}xxxxxxxxxxxxxxxxxxxxxxx.bin");
                }
            })));

            Assert.True(binlog.CurrentIndex >= 10, $"only {binlog.CurrentIndex + 1} files for ~44 KiB of records");
            Assert.Equal($"current_write={binlog.CurrentIndex}\ncurrent_compress={binlog.CurrentIndex}\n",
                File.ReadAllText(Path.Combine(SyncDir, "binlog_index.dat")));

            using var reader = new BinlogReader(binlog, 0, 0);
            var entries = new List<BinlogEntry>();
            while (reader.Read(entries, 64) > 0)
            {
            }

            Assert.Equal(800, entries.Count);
            Assert.Equal(800, entries.Select(e => e.RemoteName).Distinct(StringComparer.Ordinal).Count());
            for (int index = 0; index < binlog.CurrentIndex; index++)
            {
                string file = Path.Combine(SyncDir, Binlog.FileName(index));
                Assert.InRange(new FileInfo(file).Length, 4096, 4096 + 64 * 100);
                Assert.EndsWith("\n", File.ReadAllText(file), StringComparison.Ordinal);
            }
        }

        // Reopened, the writer goes on in the file the index names.
        await using var reopened = new Binlog(_base, TimeSpan.FromSeconds(1), NullLogger.Instance, maxFileSize: 4096);
        int current = reopened.CurrentIndex;
        await reopened.AppendAsync(9999, BinlogOp.Delete, "M00/00/00/afterxxxxxxxxxxxxxxxxxxxxxxxxxxx.bin");
        Assert.EndsWith("9999 D M00/00/00/afterxxxxxxxxxxxxxxxxxxxxxxxxxxx.bin\n",
            File.ReadAllText(Path.Combine(SyncDir, Binlog.FileName(current))), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_record_cut_short_by_a_crash_is_dropped_when_the_binlog_reopens()
    {
        await using (var binlog = new Binlog(_base, TimeSpan.FromSeconds(1), NullLogger.Instance))
        {
            await binlog.AppendAsync(100, BinlogOp.Create, "M00/00/00/aaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bin");
        }

        // What a kill -9 in the middle of a write(2) can leave: a line without its '\n' (never acknowledged).
        File.AppendAllText(Path.Combine(SyncDir, "binlog.000"), "101 C M00/00/00/torn");
        await using (var binlog = new Binlog(_base, TimeSpan.FromSeconds(1), NullLogger.Instance))
        {
            await binlog.AppendAsync(102, BinlogOp.Create, "M00/00/00/bbbbbbbbbbbbbbbbbbbbbbbbbbbbb.bin");
        }

        Assert.Equal("100 C M00/00/00/aaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bin\n102 C M00/00/00/bbbbbbbbbbbbbbbbbbbbbbbbbbbbb.bin\n", ReadBinlog());

        // A file holding only a torn record becomes empty.
        File.WriteAllText(Path.Combine(SyncDir, "binlog.000"), "103 C M00/00/00/torn");
        await using (var binlog = new Binlog(_base, TimeSpan.FromSeconds(1), NullLogger.Instance))
        {
            await binlog.AppendAsync(104, BinlogOp.Create, "M00/00/00/ccccccccccccccccccccccccccccc.bin");
        }

        Assert.Equal("104 C M00/00/00/ccccccccccccccccccccccccccccc.bin\n", ReadBinlog());
    }

    [Fact]
    public async Task Append_after_dispose_fails_with_an_io_error()
    {
        var binlog = new Binlog(_base, TimeSpan.FromSeconds(1), NullLogger.Instance);
        await binlog.AppendAsync(100, BinlogOp.Create, "M00/00/00/aaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bin");
        await binlog.DisposeAsync();
        await Assert.ThrowsAsync<IOException>(async () => await binlog.AppendAsync(101, BinlogOp.Create, "M00/00/00/bbbbbbbbbbbbbbbbbbbbbbbbbbbbb.bin"));
        Assert.True(binlog.NextCommit.IsCompleted);
        Assert.Equal("100 C M00/00/00/aaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bin\n", ReadBinlog());
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
