using System.Buffers;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace FastDfs.Storage;

/// <summary>Binlog operation letters (protocol notes 9.2); upper case = source operations.</summary>
internal static class BinlogOp
{
    public const char Create = 'C';
    public const char Update = 'U';
    public const char Delete = 'D';
    public const char Append = 'A';
    public const char Modify = 'M';
    public const char Truncate = 'T';
    public const char Rename = 'R';
}

internal readonly record struct BinlogRecord(long Timestamp, char Op, string RemoteName, string? Extra);

/// <summary>
/// The storage binlog <c>base_path/data/sync/binlog.NNN</c>: request handlers enqueue records, one writer
/// appends whatever has queued up in one write (group commit) and fsyncs at most once a second.
/// A new file starts after 1 GiB, as in FastDFS; <c>binlog_index.dat</c> names the current one.
/// </summary>
internal sealed class Binlog : IAsyncDisposable
{
    public const long MaxFileSize = 1L << 30;

    private static readonly TimeSpan BatchDelay = TimeSpan.FromMilliseconds(5);

    private readonly Channel<BinlogRecord> _queue = Channel.CreateUnbounded<BinlogRecord>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });

    private readonly string _dir;
    private readonly ILogger _logger;
    private readonly Task _writer;
    private readonly TimeSpan _syncInterval;
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

    public string CurrentPath => Path.Combine(_dir, FileName(_index));

    public static string FileName(int index) => "binlog." + index.ToString("D3", CultureInfo.InvariantCulture);

    public void Write(long timestamp, char op, string remoteName, string? extra = null)
    {
        Interlocked.Increment(ref _enqueued);
        _queue.Writer.TryWrite(new BinlogRecord(timestamp, op, remoteName, extra));
    }

    /// <summary>Waits until every record enqueued before the call is written to the file.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        long target = Interlocked.Read(ref _enqueued);
        while (Interlocked.Read(ref _committed) < target && !_writer.IsCompleted)
        {
            var signal = Volatile.Read(ref _committedSignal);
            if (Interlocked.Read(ref _committed) >= target)
            {
                break;
            }

            await signal.Task.WaitAsync(TimeSpan.FromMilliseconds(100), cancellationToken)
                .ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
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
        try
        {
            while (true)
            {
                // Wake up at least once per sync interval to fsync what was written.
                bool more;
                if (dirty)
                {
                    using var cts = new CancellationTokenSource(_syncInterval);
                    try
                    {
                        more = await reader.WaitToReadAsync(cts.Token);
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

                // Let a burst accumulate: one write per few ms instead of one wake-up and write per request.
                if (more)
                {
                    await Task.Delay(BatchDelay);
                }

                int length = 0;
                long count = 0;
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
                }

                if (length > 0)
                {
                    Append(buffer, length);
                    dirty = true;
                }

                if (count > 0)
                {
                    Interlocked.Add(ref _committed, count);
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
            _index++;
            WriteIndex(_index);
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
