using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

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

/// <summary>
/// The storage binlog <c>base_path/data/sync/binlog.NNN</c>. Request handlers await <see cref="AppendAsync"/>, which
/// completes once the record is in the file (write(2) done): an acknowledged change survives a kill -9, because the
/// page cache does. Group commit without a writer thread: records are appended under a short lock to a pending buffer;
/// a caller that finds no write in progress becomes the leader and writes everything pending in one write(2) on its own
/// thread, and callers that arrive meanwhile wait for the leader's next round (it writes up to
/// <see cref="MaxRoundsPerLeader"/> batches, then hands over to a waiter). An idle binlog therefore costs an upload no
/// thread hop. fsync runs at most once per <c>sync_binlog_buff_interval</c> (a timer armed by the first write after
/// the previous fsync), so a power loss can still cost the last second, as in FastDFS (whose data files are not fsynced
/// either). An fdatasync per group commit was measured at a third of the 4 KiB upload rate (1,872 vs 6,413 uploads/s,
/// 4 connections) and not adopted. A new file starts after 1 GiB; <c>binlog_index.dat</c> names the current one.
/// </summary>
internal sealed class Binlog : IAsyncDisposable
{
    public const long MaxFileSize = 1L << 30;

    /// <summary>Batches one leader writes before it hands over, so its own acknowledgement waits for a few at most.</summary>
    private const int MaxRoundsPerLeader = 4;

    private const int BatchBufferSize = 64 * 1024;
    private const int StackRecordLength = 512;

    private readonly string _dir;
    private readonly ILogger _logger;
    private readonly TimeSpan _syncInterval;
    private readonly long _maxFileSize;
    private readonly Timer _syncTimer;
    private readonly Lock _lock = new();

    // Guarded by _lock.
    private byte[] _pending = ArrayPool<byte>.Shared.Rent(BatchBufferSize);
    private int _pendingLength;
    private byte[]? _spare = ArrayPool<byte>.Shared.Rent(BatchBufferSize); // null while a leader holds it as its batch
    private long _appended; // sequence of the last record put in _pending (sequence order = file order)
    private long _committed; // sequence of the last record written to the file
    private bool _writing; // a leader owns the file
    private bool _signalWanted; // someone waits on _signal: replace and complete it at the next commit
    private TaskCompletionSource _signal = NewSignal();
    private bool _dirty; // written since the last fsync; the sync timer is armed
    private Exception? _failure;
    private bool _closed;

    // Owned by the leader (the sync timer only fsyncs the handle).
    private SafeFileHandle _file;
    private long _fileLength;
    private int _index;

    /// <param name="maxFileSize">Size after which a new file starts; tests make it small.</param>
    public Binlog(string basePath, TimeSpan syncInterval, ILogger logger, long maxFileSize = MaxFileSize)
    {
        _dir = Path.Combine(basePath, "data", "sync");
        _logger = logger;
        _maxFileSize = maxFileSize;
        _syncInterval = syncInterval <= TimeSpan.Zero ? TimeSpan.FromSeconds(1) : syncInterval;
        Directory.CreateDirectory(_dir);
        _index = ReadIndex();
        _file = OpenCurrent();
        _fileLength = DropUnfinishedRecord(_file, CurrentPath);
        _syncTimer = new Timer(_ => SyncToDisk(), null, Timeout.Infinite, Timeout.Infinite);
    }

    public string FolderPath => _dir;

    public string CurrentPath => Path.Combine(_dir, FileName(_index));

    /// <summary>Index of the file being written (readers move to the next file only below it).</summary>
    public int CurrentIndex => Volatile.Read(ref _index);

    /// <summary>Completes at the next group commit: sync workers wait on it at the end of the binlog.</summary>
    public Task NextCommit
    {
        get
        {
            lock (_lock)
            {
                _signalWanted = true;
                return _signal.Task;
            }
        }
    }

    public static string FileName(int index) => "binlog." + index.ToString("D3", CultureInfo.InvariantCulture);

    /// <summary>Adds a record and completes once it has been written to the binlog file.</summary>
    public ValueTask AppendAsync(long timestamp, char op, string remoteName, string? extra = null)
    {
        int need = 24 + Encoding.UTF8.GetMaxByteCount(remoteName.Length + (extra?.Length ?? 0));
        byte[]? rented = null;
        Span<byte> line = need <= StackRecordLength ? stackalloc byte[StackRecordLength] : (rented = ArrayPool<byte>.Shared.Rent(need));
        long sequence;
        byte[]? batch = null;
        int batchLength = 0;
        TaskCompletionSource? signal = null;
        try
        {
            int length = Format(timestamp, op, remoteName, extra, line);
            lock (_lock)
            {
                ThrowIfUnusable();
                AddPending(line[..length]);
                sequence = ++_appended;
                if (_writing)
                {
                    _signalWanted = true;
                    signal = _signal;
                }
                else
                {
                    batch = TakeBatch(out batchLength);
                }
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        if (batch is not null)
        {
            Lead(batch, batchLength, sequence);
            return ValueTask.CompletedTask;
        }

        return WaitCommittedAsync(sequence, signal);
    }

    /// <summary>Waits until every record added before the call is written to the file.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        long target;
        lock (_lock)
        {
            target = _appended;
        }

        if (target > 0)
        {
            await WaitCommittedAsync(target, null).AsTask().WaitAsync(cancellationToken);
        }
    }

    /// <summary>Until record <paramref name="sequence"/> is written: wait for the leader's next round, or lead.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WaitCommittedAsync(long sequence, TaskCompletionSource? signal)
    {
        while (true)
        {
            if (signal is not null)
            {
                await signal.Task.ConfigureAwait(false);
            }

            byte[]? batch = null;
            int batchLength = 0;
            long upTo;
            lock (_lock)
            {
                if (_committed >= sequence)
                {
                    return;
                }

                if (_failure is not null)
                {
                    throw new IOException("binlog write failed", _failure);
                }

                upTo = _appended;
                if (_writing)
                {
                    _signalWanted = true;
                    signal = _signal;
                }
                else
                {
                    // No leader and our record not written: it is in _pending (a leader hands over only with waiters).
                    batch = TakeBatch(out batchLength);
                }
            }

            if (batch is not null)
            {
                Lead(batch, batchLength, upTo);
                return;
            }
        }
    }

    private void ThrowIfUnusable()
    {
        if (_failure is not null)
        {
            throw new IOException("binlog write failed", _failure);
        }

        if (_closed)
        {
            throw new IOException("the binlog is closed");
        }
    }

    private void AddPending(ReadOnlySpan<byte> line)
    {
        if (_pending.Length - _pendingLength < line.Length)
        {
            byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(_pending.Length * 2, _pendingLength + line.Length));
            _pending.AsSpan(0, _pendingLength).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_pending);
            _pending = larger;
        }

        line.CopyTo(_pending.AsSpan(_pendingLength));
        _pendingLength += line.Length;
    }

    /// <summary>Under the lock, with no leader: the caller becomes the leader and owns the pending records.</summary>
    private byte[] TakeBatch(out int length)
    {
        _writing = true;
        byte[] batch = _pending;
        length = _pendingLength;
        _pending = _spare!;
        _spare = null;
        _pendingLength = 0;
        return batch;
    }

    /// <summary>
    /// Writes <paramref name="batch"/> (records up to <paramref name="upTo"/>), wakes its waiters, and goes on with what
    /// queued up meanwhile for a few rounds. Throws if the first batch (which holds the caller's record) fails.
    /// </summary>
    private void Lead(byte[] batch, int length, long upTo)
    {
        int rounds = 0;
        while (true)
        {
            try
            {
                Write(batch.AsSpan(0, length));
            }
            catch (Exception e)
            {
                StorageLog.BinlogFailed(_logger, e);
                TaskCompletionSource failed;
                lock (_lock)
                {
                    _failure = e;
                    _writing = false;
                    _spare = batch;
                    failed = _signal;
                    _signal = NewSignal();
                    _signalWanted = false;
                }

                failed.TrySetResult();
                if (rounds == 0)
                {
                    throw new IOException("binlog write failed", e);
                }

                return;
            }

            TaskCompletionSource? completed = null;
            bool arm = false;
            bool more = false;
            lock (_lock)
            {
                _committed = upTo;
                if (_signalWanted)
                {
                    completed = _signal;
                    _signal = NewSignal();
                    _signalWanted = false;
                }

                if (!_dirty)
                {
                    _dirty = true;
                    arm = true;
                }

                if (_pendingLength > 0 && ++rounds < MaxRoundsPerLeader)
                {
                    (batch, _pending) = (_pending, batch);
                    length = _pendingLength;
                    _pendingLength = 0;
                    upTo = _appended;
                    more = true;
                }
                else
                {
                    // Records still pending belong to callers waiting on the signal completed below: one of them leads.
                    _spare = batch;
                    _writing = false;
                }
            }

            if (arm)
            {
                _syncTimer.Change(_syncInterval, Timeout.InfiniteTimeSpan);
            }

            completed?.TrySetResult();
            if (!more)
            {
                return;
            }
        }
    }

    private void Write(ReadOnlySpan<byte> data)
    {
        RandomAccess.Write(_file, data, _fileLength);
        _fileLength += data.Length;
        if (_fileLength >= _maxFileSize)
        {
            var full = _file;
            RandomAccess.FlushToDisk(full);
            WriteIndex(_index + 1);
            Volatile.Write(ref _index, _index + 1);
            Volatile.Write(ref _file, OpenCurrent());
            _fileLength = RandomAccess.GetLength(_file);
            full.Dispose();
        }
    }

    /// <summary>The periodic fsync (sync_binlog_buff_interval), armed by the first write after the previous one.</summary>
    private void SyncToDisk()
    {
        lock (_lock)
        {
            _dirty = false;
        }

        try
        {
            try
            {
                RandomAccess.FlushToDisk(Volatile.Read(ref _file));
            }
            catch (ObjectDisposedException)
            {
                // Rotated meanwhile: the full file was fsynced before it was closed; the new one may have data.
                RandomAccess.FlushToDisk(Volatile.Read(ref _file));
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            StorageLog.BinlogFailed(_logger, e);
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

    /// <summary>A plain handle written with pwrite at our own offset: no FileStream position bookkeeping per write.</summary>
    private SafeFileHandle OpenCurrent() =>
        File.OpenHandle(CurrentPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);

    /// <summary>
    /// A process killed during a write can leave a record without its '\n'. It was never acknowledged; cut it off,
    /// or the next record would be glued to it and both would be misread. Returns the length kept.
    /// </summary>
    private long DropUnfinishedRecord(SafeFileHandle file, string path)
    {
        long length = RandomAccess.GetLength(file);
        if (length == 0)
        {
            return 0;
        }

        Span<byte> chunk = stackalloc byte[4096];
        long end = length;
        while (end > 0)
        {
            int n = (int)Math.Min(chunk.Length, end);
            long start = end - n;
            int read = RandomAccess.Read(file, chunk[..n], start);
            int newline = chunk[..read].LastIndexOf((byte)'\n');
            if (newline >= 0)
            {
                end = start + newline + 1;
                break;
            }

            end = start;
        }

        if (end != length)
        {
            RandomAccess.SetLength(file, end);
            StorageLog.BinlogUnfinishedRecordDropped(_logger, path, length - end);
        }

        return end;
    }

    /// <summary><c>&lt;timestamp&gt; &lt;op&gt; &lt;remote filename&gt;[ extra]\n</c>.</summary>
    private static int Format(long timestamp, char op, string remoteName, string? extra, Span<byte> destination)
    {
        timestamp.TryFormat(destination, out int o, default, CultureInfo.InvariantCulture);
        destination[o++] = (byte)' ';
        destination[o++] = (byte)op;
        destination[o++] = (byte)' ';
        o += Encoding.UTF8.GetBytes(remoteName, destination[o..]);
        if (extra is not null)
        {
            destination[o++] = (byte)' ';
            o += Encoding.UTF8.GetBytes(extra, destination[o..]);
        }

        destination[o++] = (byte)'\n';
        return o;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync()
    {
        long target;
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            target = _appended;
        }

        try
        {
            // Records added before the close still get written (by us if no leader is at work).
            await WaitCommittedAsync(target, null);
        }
        catch (IOException)
        {
            // Already logged by the leader that failed.
        }

        await _syncTimer.DisposeAsync();
        try
        {
            RandomAccess.FlushToDisk(_file);
        }
        catch (IOException e)
        {
            StorageLog.BinlogFailed(_logger, e);
        }

        _file.Dispose();
        TaskCompletionSource last;
        lock (_lock)
        {
            last = _signal;
            ArrayPool<byte>.Shared.Return(_pending);
            if (_spare is not null)
            {
                ArrayPool<byte>.Shared.Return(_spare);
            }

            _pending = [];
            _spare = [];
        }

        // Sync workers waiting at the end of the binlog wake up and stop.
        last.TrySetResult();
    }
}

/// <summary>Binlog messages (event ids 3020-3029).</summary>
internal static partial class StorageLog
{
    [LoggerMessage(EventId = 3021, Level = LogLevel.Warning,
        Message = "binlog {Path}: dropped {Bytes} byte(s) of a record left unfinished when the process stopped during its write")]
    public static partial void BinlogUnfinishedRecordDropped(ILogger logger, string path, long bytes);
}
