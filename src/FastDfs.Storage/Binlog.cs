using System.Buffers;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace FastDfs.Storage;

/// <summary>
/// Binlog operation letters (protocol notes 9.2): upper case = operation a client asked this storage for (source),
/// lower case = the same operation replayed from a peer (replica).
/// </summary>
internal static class BinlogOp
{
    public const char Create = 'C';
    public const char Update = 'U';
    public const char Delete = 'D';
    public const char Append = 'A';
    public const char Modify = 'M';
    public const char Truncate = 'T';
    public const char Rename = 'R';
    public const char Link = 'L';

    public static bool IsSource(char op) => op is >= 'A' and <= 'Z';

    public static char ToReplica(char op) => char.ToLowerInvariant(op);
}

internal readonly record struct BinlogRecord(long Timestamp, char Op, string RemoteName, string? Extra, long Sequence);

/// <summary>
/// The storage binlog <c>base_path/data/sync/binlog.NNN</c>. Request handlers await <see cref="AppendAsync"/>, which
/// completes once the record is in the file (write(2) done): an acknowledged change survives a kill -9, because the
/// page cache does. One writer appends whatever has queued up in one write (group commit: requests that arrive while a
/// write is in progress share the next one) and fsyncs at most once per <c>sync_binlog_buff_interval</c>, so a power
/// loss can still cost the last second, as in FastDFS (whose data files are not fsynced either). An fdatasync per group
/// commit was measured at a third of the 4 KiB upload rate (1,872 vs 6,413 uploads/s, 4 connections) and not adopted.
/// A new file starts after 1 GiB; <c>binlog_index.dat</c> names the current one.
/// </summary>
internal sealed class Binlog : IAsyncDisposable
{
    public const long MaxFileSize = 1L << 30;

    private readonly Channel<BinlogRecord> _queue = Channel.CreateUnbounded<BinlogRecord>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });

    private readonly string _dir;
    private readonly ILogger _logger;
    private readonly Task _writer;
    private readonly TimeSpan _syncInterval;
    private readonly Lock _enqueueLock = new();
    private FileStream _file;
    private int _index;
    private long _written;
    private long _enqueued;
    private long _committed;
    private TaskCompletionSource _committedSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Binlog(string basePath, TimeSpan syncInterval, ILogger logger)
    {
        _dir = Path.Combine(basePath, "data", "sync");
        _logger = logger;
        _syncInterval = syncInterval <= TimeSpan.Zero ? TimeSpan.FromSeconds(1) : syncInterval;
        Directory.CreateDirectory(_dir);
        _index = ReadIndex();
        _file = OpenCurrent();
        _written = _file.Length;
        _writer = Task.Run(WriteLoopAsync);
    }

    public string FolderPath => _dir;

    public string CurrentPath => Path.Combine(_dir, FileName(_index));

    /// <summary>Index of the file being written (readers move to the next file only below it).</summary>
    public int CurrentIndex => Volatile.Read(ref _index);

    /// <summary>Completes at the next group commit: sync workers wait on it at the end of the binlog.</summary>
    public Task NextCommit => Volatile.Read(ref _committedSignal).Task;

    public static string FileName(int index) => "binlog." + index.ToString("D3", CultureInfo.InvariantCulture);

    /// <summary>Queues a record and completes once it has been written to the binlog file.</summary>
    public ValueTask AppendAsync(long timestamp, char op, string remoteName, string? extra = null)
    {
        long sequence;
        lock (_enqueueLock)
        {
            // Sequence order = queue order, so "committed >= my sequence" means my record is in the file.
            sequence = ++_enqueued;
            _queue.Writer.TryWrite(new BinlogRecord(timestamp, op, remoteName, extra, sequence));
        }

        return WaitCommittedAsync(sequence);
    }

    private ValueTask WaitCommittedAsync(long sequence)
    {
        var signal = Volatile.Read(ref _committedSignal);
        if (Interlocked.Read(ref _committed) >= sequence)
        {
            return ValueTask.CompletedTask;
        }

        if (_writer.IsCompleted)
        {
            throw new IOException("the binlog writer has stopped");
        }

        return WaitSlowAsync(signal, sequence);
    }

    private async ValueTask WaitSlowAsync(TaskCompletionSource signal, long sequence)
    {
        while (true)
        {
            await signal.Task;
            signal = Volatile.Read(ref _committedSignal);
            if (Interlocked.Read(ref _committed) >= sequence)
            {
                return;
            }

            if (_writer.IsCompleted)
            {
                throw new IOException("the binlog writer has stopped");
            }
        }
    }

    /// <summary>Waits until every record enqueued before the call is written to the file.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        long target = Interlocked.Read(ref _enqueued);
        if (target > 0 && !_writer.IsCompleted)
        {
            await WaitCommittedAsync(target).AsTask().WaitAsync(cancellationToken);
        }
    }

    private int ReadIndex()
    {
        string indexFile = Path.Combine(_dir, "binlog_index.dat");
        if (File.Exists(indexFile))
        {
            foreach (string line in File.ReadLines(indexFile))
            {
                if (line.StartsWith("current_write=", StringComparison.Ordinal)
                    && int.TryParse(line.AsSpan(14), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                {
                    return index;
                }
            }
        }

        WriteIndex(0);
        return 0;
    }

    private void WriteIndex(int index)
    {
        string indexFile = Path.Combine(_dir, "binlog_index.dat");
        string temp = indexFile + ".tmp";
        File.WriteAllText(temp, $"current_write={index}\ncurrent_compress={index}\n");
        File.Move(temp, indexFile, overwrite: true);
    }

    private FileStream OpenCurrent() =>
        new(CurrentPath, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0);

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        long lastSync = Environment.TickCount64;
        bool dirty = false;
        CancellationTokenSource? idle = null;
        try
        {
            while (true)
            {
                // Wake up at least once per sync interval to fsync what was written. One timer source is re-armed
                // per group commit; a new one is made only after it fired (at most once per interval).
                bool more;
                if (dirty)
                {
                    if (idle is null || !idle.TryReset())
                    {
                        idle?.Dispose();
                        idle = new CancellationTokenSource();
                    }

                    idle.CancelAfter(_syncInterval);
                    try
                    {
                        more = await reader.WaitToReadAsync(idle.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        more = true;
                    }
                }
                else
                {
                    more = await reader.WaitToReadAsync();
                }

                int length = 0;
                long count = 0;
                long last = 0;
                while (reader.TryRead(out var record))
                {
                    int need = 40 + (record.RemoteName.Length + (record.Extra?.Length ?? 0)) * 3;
                    if (buffer.Length - length < need)
                    {
                        if (length > 0)
                        {
                            Append(buffer, length);
                            length = 0;
                        }

                        if (buffer.Length < need)
                        {
                            ArrayPool<byte>.Shared.Return(buffer);
                            buffer = ArrayPool<byte>.Shared.Rent(need);
                        }
                    }

                    length += Format(record, buffer.AsSpan(length));
                    count++;
                    last = record.Sequence;
                }

                if (length > 0)
                {
                    Append(buffer, length);
                    dirty = true;
                }

                if (count > 0)
                {
                    Interlocked.Exchange(ref _committed, last);
                    Interlocked.Exchange(ref _committedSignal, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                }

                long now = Environment.TickCount64;
                if (dirty && (now - lastSync >= _syncInterval.TotalMilliseconds || !more))
                {
                    _file.Flush(flushToDisk: true);
                    lastSync = now;
                    dirty = false;
                }

                if (!more)
                {
                    break;
                }
            }
        }
        catch (Exception e)
        {
            StorageLog.BinlogFailed(_logger, e);
        }
        finally
        {
            idle?.Dispose();
            ArrayPool<byte>.Shared.Return(buffer);
            Interlocked.Exchange(ref _committedSignal, new TaskCompletionSource()).TrySetResult();
        }
    }

    private void Append(byte[] buffer, int length)
    {
        _file.Write(buffer, 0, length);
        _written += length;
        if (_written >= MaxFileSize)
        {
            _file.Flush(flushToDisk: true);
            _file.Dispose();
            WriteIndex(_index + 1);
            Volatile.Write(ref _index, _index + 1);
            _file = OpenCurrent();
            _written = _file.Length;
        }
    }

    /// <summary><c>&lt;timestamp&gt; &lt;op&gt; &lt;remote filename&gt;[ extra]\n</c>.</summary>
    private static int Format(in BinlogRecord record, Span<byte> destination)
    {
        record.Timestamp.TryFormat(destination, out int o, default, CultureInfo.InvariantCulture);
        destination[o++] = (byte)' ';
        destination[o++] = (byte)record.Op;
        destination[o++] = (byte)' ';
        o += Encoding.UTF8.GetBytes(record.RemoteName, destination[o..]);
        if (record.Extra is not null)
        {
            destination[o++] = (byte)' ';
            o += Encoding.UTF8.GetBytes(record.Extra, destination[o..]);
        }

        destination[o++] = (byte)'\n';
        return o;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer;
        _file.Dispose();
    }
}
