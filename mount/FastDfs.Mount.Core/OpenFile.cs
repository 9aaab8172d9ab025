using System.Buffers;
using FastDfs.Protocol;

namespace FastDfs.Mount.Core;

/// <summary>
/// An open file and its read-ahead window. A sequential reader is served from chunks fetched ahead of it; any other
/// read goes straight to the storage for exactly the bytes asked. The chunks ahead come in order from one streamed
/// download to the end of the file (<see cref="ReadStream"/>): the storage sends continuously instead of pausing for a
/// request per chunk. Memory per handle is at most (read-ahead chunks + 2) chunks, whatever the file size; the chunks
/// fetched ahead of the reader draw on the mount's <see cref="BufferBudget"/> and are not fetched while it is used up
/// (a read then fetches only the chunk it needs).
/// </summary>
internal sealed class OpenFile
{
    // Read streams open in this process (one mount per process), bounded by MountOptions.ReadStreams: each holds a
    // storage connection, and the client allows a bounded number per storage.
    private static int s_streams;

    private readonly IClusterBackend _backend;
    private readonly MountOptions _options;
    private readonly BufferBudget _budget;
    private readonly FileId _fileId;
    private readonly StorageChoice _storage;
    private readonly Lock _lock = new();
    private readonly List<Chunk> _window = [];
    private ReadStream? _stream; // the stream the next chunk in order is queued to
    private long _nextSequential;
    private int _streak;
    private bool _closed;

    /// <param name="storage">The download choice to use; by default the node's (file-ID files never change).</param>
    public OpenFile(Node node, FileId fileId, long size, IClusterBackend backend, MountOptions options, BufferBudget budget, StorageChoice? storage = null)
    {
        Node = node;
        _fileId = fileId;
        _storage = storage ?? node.Storage;
        Size = size;
        _backend = backend;
        _options = options;
        _budget = budget;
    }

    public Node Node { get; }

    public long Size { get; }

    public FileId ContentId => _fileId;

    public async ValueTask<FsResult<int>> ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (offset >= Size || destination.IsEmpty)
        {
            return 0;
        }

        int wanted = (int)Math.Min(destination.Length, Size - offset);
        destination = destination[..wanted];
        int chunkSize = _options.ReadAheadChunkSize;
        if (_options.ReadAheadChunks == 0 || !IsSequential(offset, wanted))
        {
            using var deadline = new OperationDeadline(_options.OperationTimeout, cancellationToken);
            return await ReadDirectAsync(offset, destination, deadline);
        }

        long first = offset / chunkSize;
        long last = (offset + wanted - 1) / chunkSize;
        int copied = 0;
        for (long index = first; index <= last; index++)
        {
            var chunk = Acquire(index, prefetch: index == last);
            try
            {
                var result = await chunk.Fetch.WaitAsync(cancellationToken);
                if (!result.IsOk)
                {
                    Drop(chunk);
                    return result;
                }

                long chunkStart = index * chunkSize;
                int from = (int)(offset + copied - chunkStart);
                int n = Math.Min(wanted - copied, result.Value - from);
                if (n <= 0)
                {
                    return FsResult<int>.Fail(Errno.EIO); // the storage sent less than the file size promised
                }

                chunk.Buffer.AsSpan(from, n).CopyTo(destination.Span[copied..]);
                copied += n;
            }
            finally
            {
                Release(chunk);
            }
        }

        return copied;
    }

    /// <summary>
    /// A read whose bytes the caller sends straight from memory: from the read-ahead chunk that holds all of them
    /// (no copy; the chunk stays allocated until <see cref="ReadLease.Release"/>), otherwise copied into a pooled
    /// buffer as <see cref="ReadAsync"/> does.
    /// </summary>
    public async ValueTask<FsResult<ReadLease>> ReadLeaseAsync(long offset, int length, CancellationToken cancellationToken)
    {
        if (offset >= Size || length <= 0)
        {
            return ReadLease.Empty;
        }

        int wanted = (int)Math.Min(length, Size - offset);
        int chunkSize = _options.ReadAheadChunkSize;
        long index = offset / chunkSize;
        if (_options.ReadAheadChunks > 0 && index == (offset + wanted - 1) / chunkSize && IsSequential(offset, wanted))
        {
            var chunk = Acquire(index, prefetch: true);
            bool leased = false;
            try
            {
                var result = await chunk.Fetch.WaitAsync(cancellationToken);
                if (!result.IsOk)
                {
                    Drop(chunk);
                    return FsResult<ReadLease>.Fail(result.Errno);
                }

                int from = (int)(offset - (index * chunkSize));
                int n = Math.Min(wanted, result.Value - from);
                if (n <= 0)
                {
                    return FsResult<ReadLease>.Fail(Errno.EIO); // the storage sent less than the file size promised
                }

                leased = true;
                return new ReadLease(chunk.Buffer, from, n, this, chunk);
            }
            finally
            {
                if (!leased)
                {
                    Release(chunk);
                }
            }
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(wanted);
        try
        {
            FsResult<int> read;
            using (var deadline = new OperationDeadline(_options.OperationTimeout, cancellationToken))
            {
                read = await ReadDirectAsync(offset, buffer.AsMemory(0, wanted), deadline);
            }

            if (read.IsOk)
            {
                var lease = ReadLease.Pooled(buffer, read.Value);
                buffer = null!;
                return lease;
            }

            return FsResult<ReadLease>.Fail(read.Errno);
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    internal void ReleaseLease(object chunk) => Release((Chunk)chunk);

    /// <summary>
    /// Frees the window. A stream being read finishes its current chunk (bounded by the deadline), skips the rest
    /// and closes its connection; a parked one closes now.
    /// </summary>
    public void Close()
    {
        ReadStream? parked;
        lock (_lock)
        {
            _closed = true;
            foreach (var chunk in _window)
            {
                chunk.Evicted = true;
                ReturnIfDone(chunk);
            }

            _window.Clear();
            parked = _stream is { } stream && Retire(stream) ? stream : null;
        }

        _ = parked?.CloseAsync();
    }

    private async ValueTask<FsResult<int>> ReadDirectAsync(long offset, Memory<byte> destination, OperationDeadline deadline)
    {
        int done = 0;
        while (done < destination.Length)
        {
            var result = await _backend.ReadAsync(_fileId, offset + done, destination[done..], _storage, deadline);
            if (!result.IsOk)
            {
                return result;
            }

            if (result.Value == 0)
            {
                break;
            }

            done += result.Value;
        }

        return done;
    }

    /// <summary>
    /// Reads close to the last one count as sequential: the kernel's read-ahead keeps several reads in flight,
    /// which may arrive slightly out of order. Away from the start of the file, read-ahead begins only once two
    /// reads in a row continued the one before: a random read that lands near the previous one by chance would
    /// otherwise fetch (read-ahead chunks + 1) chunks it never uses.
    /// </summary>
    private bool IsSequential(long offset, int length)
    {
        lock (_lock)
        {
            long slack = 2L * _options.ReadAheadChunkSize;
            bool near = offset == 0 || Math.Abs(offset - _nextSequential) <= slack;
            _streak = near ? _streak + 1 : 0;
            _nextSequential = near ? Math.Max(_nextSequential, offset + length) : offset + length;
            return offset == 0 || _streak >= 2;
        }
    }

    /// <summary>The chunk at <paramref name="index"/> with a reader registered; starts fetches ahead of it.</summary>
    private Chunk Acquire(long index, bool prefetch)
    {
        lock (_lock)
        {
            if (_closed)
            {
                // A read that began before the window closed (a write changed the content, the handle was released)
                // still gets its bytes, from a chunk of its own: nothing is fetched ahead, and no window holds it, so
                // it goes back to the pool once fetched and read.
                var own = NewChunk(index, budgetedLength: 0);
                own.Evicted = true;
                own.Readers++;
                _ = FetchAsync(own);
                return own;
            }

            var chunk = GetOrStart(index, budgeted: false)!;
            chunk.Readers++;
            if (prefetch)
            {
                long chunks = (Size + _options.ReadAheadChunkSize - 1) / _options.ReadAheadChunkSize;
                for (long ahead = index + 1; ahead <= index + _options.ReadAheadChunks && ahead < chunks; ahead++)
                {
                    if (GetOrStart(ahead, budgeted: true) is null)
                    {
                        break; // budget used up: the next read fetches its own chunk, and tries again
                    }
                }

                // Chunks behind the reader are done with; keep one for reads that arrive out of order.
                for (int i = _window.Count - 1; i >= 0; i--)
                {
                    var old = _window[i];
                    if (old.Index < index - 1 || old.Index > index + _options.ReadAheadChunks + 1)
                    {
                        _window.RemoveAt(i);
                        old.Evicted = true;
                        ReturnIfDone(old);
                    }
                }
            }

            return chunk;
        }
    }

    /// <param name="budgeted">
    /// A chunk ahead of the reader: started only if the budget has room for it (null otherwise). The chunk a read
    /// needs now is always started, outside the budget, so reads never wait for it.
    /// </param>
    private Chunk? GetOrStart(long index, bool budgeted)
    {
        foreach (var existing in _window)
        {
            if (existing.Index == index)
            {
                return existing;
            }
        }

        int length = ChunkLength(index);
        if (budgeted && !_budget.TryReserve(length, _options.ReadAheadKeepFree))
        {
            return null;
        }

        var chunk = NewChunk(index, budgeted ? length : 0);
        long start = chunk.Start;
        _window.Add(chunk);
        if (_stream is { } stream && stream.NextIndex == index)
        {
            Enqueue(stream, chunk);
        }
        else if (_stream is not null && index < _stream.NextIndex)
        {
            _ = FetchAsync(chunk); // behind the stream (a read that came late): on its own
        }
        else if (start + length < Size && StartStream(index) is { } started)
        {
            Enqueue(started, chunk);
        }
        else
        {
            _ = FetchAsync(chunk); // the last chunk (a small file is one request), or no stream to spare
        }

        return chunk;
    }

    private int ChunkLength(long index) => (int)Math.Min(_options.ReadAheadChunkSize, Size - (index * _options.ReadAheadChunkSize));

    private Chunk NewChunk(long index, int budgetedLength)
    {
        int length = ChunkLength(index);
        return new Chunk(index, index * _options.ReadAheadChunkSize, length, HugePages.Rent(length), budgetedLength);
    }

    private async Task FetchAsync(Chunk chunk)
    {
        // A fetch serves several reads, so it gets its own deadline rather than one reader's.
        FsResult<int> result;
        using (var deadline = new OperationDeadline(_options.OperationTimeout))
        {
            try
            {
                result = await ReadDirectAsync(chunk.Start, chunk.Buffer.AsMemory(0, chunk.Length), deadline);
            }
            catch (Exception)
            {
                result = FsResult<int>.Fail(Errno.EIO); // as the pump: the chunk must complete, or its buffer and budget stay taken
            }
        }

        Complete(chunk, result);
    }

    /// <summary>A new stream from chunk <paramref name="index"/> on; the one before it (if any) is retired.</summary>
    private ReadStream? StartStream(long index)
    {
        if (_stream is { } old && Retire(old))
        {
            _ = old.CloseAsync(); // parked: nothing of it is running
        }

        if (_closed || _options.ReadStreams == 0)
        {
            return null;
        }

        if (Interlocked.Increment(ref s_streams) > _options.ReadStreams)
        {
            Interlocked.Decrement(ref s_streams);
            return null;
        }

        return _stream = new ReadStream(index);
    }

    private void Enqueue(ReadStream stream, Chunk chunk)
    {
        stream.Queue.Enqueue(chunk);
        stream.NextIndex = chunk.Index + 1;
        if (!stream.Running)
        {
            stream.Running = true;

            // Not inline: the caller holds the lock and is on its way to answer a read.
            _ = Task.Run(() => PumpAsync(stream));
        }
    }

    /// <summary>Marks a stream retired (no more chunks for it); true when its pump is parked, so the caller closes it.</summary>
    private bool Retire(ReadStream stream)
    {
        stream.Retired = true;
        if (_stream == stream)
        {
            _stream = null;
        }

        return !stream.Running;
    }

    /// <summary>Fills the stream's queued chunks in order; parks when the queue is empty, closes once retired.</summary>
    private async Task PumpAsync(ReadStream stream)
    {
        while (true)
        {
            Chunk chunk;
            bool unwanted;
            lock (_lock)
            {
                if (!stream.Queue.TryDequeue(out chunk!))
                {
                    stream.Running = false;
                    if (!stream.Retired)
                    {
                        return; // parked, connection kept for the next chunk
                    }

                    break;
                }

                // A retired stream's chunk that left the window unread: nobody will read it.
                unwanted = stream.Retired && chunk.Evicted && chunk.Readers == 0;
            }

            FsResult<int> result;
            try
            {
                result = unwanted ? FsResult<int>.Fail(Errno.EIO) : await FillAsync(stream, chunk);
            }
            catch (Exception)
            {
                result = FsResult<int>.Fail(Errno.EIO); // never leave a reader waiting on a chunk nobody fills
            }

            Complete(chunk, result);
            if (!result.IsOk || chunk.Start + chunk.Length >= Size)
            {
                // Failed: the rest of the queue shares the failure (a dead storage must not cost a timeout per
                // chunk); the next read starts over. At the end of the file: the connection goes back to the pool.
                // Skipped (unwanted), nothing failed: a chunk queued behind it that a read still waits for is fetched
                // on its own, or that read would get the skip's EIO.
                List<Chunk> rest = [], refetch = [];
                lock (_lock)
                {
                    Retire(stream);
                    foreach (var left in stream.Queue)
                    {
                        (unwanted && !(left.Evicted && left.Readers == 0) ? refetch : rest).Add(left);
                    }

                    stream.Queue.Clear();
                    stream.Running = false;
                }

                foreach (var left in rest)
                {
                    Complete(left, result.IsOk ? FsResult<int>.Fail(Errno.EIO) : result);
                }

                foreach (var left in refetch)
                {
                    _ = FetchAsync(left);
                }

                break;
            }
        }

        await stream.CloseAsync();
    }

    /// <summary>
    /// Reads one chunk from the stream, opening it at the chunk if needed. A broken connection is reopened once (the
    /// backend asks the tracker again) within the chunk's deadline; a deadline that expired is final.
    /// </summary>
    private async Task<FsResult<int>> FillAsync(ReadStream stream, Chunk chunk)
    {
        using var deadline = new OperationDeadline(_options.OperationTimeout);
        FsResult<int>? broke = null;
        while (true)
        {
            if (stream.Content is null)
            {
                var opened = await _backend.OpenStreamAsync(_fileId, chunk.Start, Size - chunk.Start, _storage, deadline);
                if (!opened.IsOk)
                {
                    // After a break, the break is the answer (the tracker says ENOENT once the only storage is gone).
                    return broke ?? FsResult<int>.Fail(opened.Errno);
                }

                stream.Content = opened.Value;
            }

            var result = await stream.Content.ReadAsync(chunk.Buffer.AsMemory(0, chunk.Length), deadline, willReopen: broke is null);
            if (result.IsOk)
            {
                return result;
            }

            var broken = stream.Content;
            stream.Content = null;
            await broken.DisposeAsync();
            if (broke is not null || deadline.Token.IsCancellationRequested)
            {
                return result;
            }

            broke = result;
        }
    }

    private void Complete(Chunk chunk, in FsResult<int> result)
    {
        lock (_lock)
        {
            chunk.Done = true;
            ReturnIfDone(chunk);
        }

        chunk.Completion.TrySetResult(result);
    }

    private void Drop(Chunk chunk)
    {
        lock (_lock)
        {
            if (_window.Remove(chunk))
            {
                chunk.Evicted = true;
            }
        }
    }

    private void Release(Chunk chunk)
    {
        lock (_lock)
        {
            chunk.Readers--;
            ReturnIfDone(chunk);
        }
    }

    /// <summary>
    /// The buffer goes back to the pool once the chunk is out of the window, fetched and unread; its budget with it
    /// (once: <see cref="Chunk.Returned"/>).
    /// </summary>
    private void ReturnIfDone(Chunk chunk)
    {
        if (chunk.Evicted && chunk.Done && chunk.Readers == 0 && !chunk.Returned)
        {
            chunk.Returned = true;
            ArrayPool<byte>.Shared.Return(chunk.Buffer);
            if (chunk.Budgeted > 0)
            {
                _budget.Release(chunk.Budgeted);
            }
        }
    }

    internal bool IsClosed => _closed;

    private sealed class Chunk(long index, long start, int length, byte[] buffer, int budgeted)
    {
        public long Index { get; } = index;

        public long Start { get; } = start;

        public int Length { get; } = length;

        public byte[] Buffer { get; } = buffer;

        /// <summary>Bytes of the budget this chunk holds (0: the chunk a read needed, outside the budget).</summary>
        public int Budgeted { get; } = budgeted;

        // Readers' continuations run on the pool: the pump goes on to the next chunk while they answer.
        public TaskCompletionSource<FsResult<int>> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<FsResult<int>> Fetch => Completion.Task;

        public int Readers;
        public bool Done;
        public bool Evicted;
        public bool Returned;
    }

    /// <summary>
    /// One download from chunk <see cref="NextIndex"/>'s start to the end of the file, filling the chunks queued to
    /// it in order. Fields other than <see cref="Content"/> are guarded by the file's lock.
    /// </summary>
    private sealed class ReadStream(long nextIndex)
    {
        public long NextIndex = nextIndex;
        public readonly Queue<Chunk> Queue = new();
        public bool Running;
        public bool Retired;

        /// <summary>Opened at the first chunk's fill; used by the pump only.</summary>
        public IContentStream? Content;

        /// <summary>Returns (or closes) the connection and frees the stream's place. Once, when nothing runs.</summary>
        public async Task CloseAsync()
        {
            if (Content is { } content)
            {
                Content = null;
                await content.DisposeAsync();
            }

            Interlocked.Decrement(ref s_streams);
        }
    }
}

/// <summary>
/// Bytes of a read, lent from a read-ahead chunk or a pooled buffer: send them, then <see cref="Release"/> exactly
/// once (the chunk or buffer may be reused right after).
/// </summary>
public readonly struct ReadLease
{
    private readonly OpenFile? _file;
    private readonly object? _chunk;
    private readonly bool _pooled;

    internal ReadLease(byte[] buffer, int start, int length, OpenFile? file, object? chunk, bool pooled = false)
    {
        Buffer = buffer;
        Start = start;
        Length = length;
        _file = file;
        _chunk = chunk;
        _pooled = pooled;
    }

    public static ReadLease Empty => new([], 0, 0, null, null);

    public byte[] Buffer { get; }

    public int Start { get; }

    public int Length { get; }

    public ReadOnlySpan<byte> Span => Buffer.AsSpan(Start, Length);

    /// <summary>A lease of a buffer rented from <see cref="ArrayPool{T}.Shared"/>; releasing returns it.</summary>
    public static ReadLease Pooled(byte[] buffer, int length) => new(buffer, 0, length, null, null, pooled: true);

    public void Release()
    {
        if (_chunk is not null)
        {
            _file!.ReleaseLease(_chunk);
        }
        else if (_pooled)
        {
            ArrayPool<byte>.Shared.Return(Buffer);
        }
    }
}
