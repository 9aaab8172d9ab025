using System.Buffers;
using FastDfs.Protocol;

namespace FastDfs.Mount.Core;

/// <summary>
/// An open file and its read-ahead window. A sequential reader is served from chunks fetched ahead of it, several
/// in flight at once; any other read goes straight to the storage for exactly the bytes asked. Memory per handle
/// is at most (read-ahead chunks + 2) chunks, whatever the file size.
/// </summary>
internal sealed class OpenFile
{
    private readonly IClusterBackend _backend;
    private readonly MountOptions _options;
    private readonly FileId _fileId;
    private readonly StorageChoice _storage;
    private readonly Lock _lock = new();
    private readonly List<Chunk> _window = [];
    private long _nextSequential;
    private int _streak;
    private bool _closed;

    /// <param name="storage">The download choice to use; by default the node's (file-ID files never change).</param>
    public OpenFile(Node node, FileId fileId, long size, IClusterBackend backend, MountOptions options, StorageChoice? storage = null)
    {
        Node = node;
        _fileId = fileId;
        _storage = storage ?? node.Storage;
        Size = size;
        _backend = backend;
        _options = options;
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
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(_options.OperationTimeout);
            return await ReadDirectAsync(offset, destination, deadline.Token);
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
                    return Errno.EIO; // the storage sent less than the file size promised
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
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                deadline.CancelAfter(_options.OperationTimeout);
                read = await ReadDirectAsync(offset, buffer.AsMemory(0, wanted), deadline.Token);
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

    public void Close()
    {
        lock (_lock)
        {
            _closed = true;
            foreach (var chunk in _window)
            {
                chunk.Evicted = true;
                ReturnIfDone(chunk);
            }

            _window.Clear();
        }
    }

    private async ValueTask<FsResult<int>> ReadDirectAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        int done = 0;
        while (done < destination.Length)
        {
            var result = await _backend.ReadAsync(_fileId, offset + done, destination[done..], _storage, cancellationToken);
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
            var chunk = GetOrStart(index);
            chunk.Readers++;
            if (prefetch)
            {
                long chunks = (Size + _options.ReadAheadChunkSize - 1) / _options.ReadAheadChunkSize;
                for (long ahead = index + 1; ahead <= index + _options.ReadAheadChunks && ahead < chunks; ahead++)
                {
                    GetOrStart(ahead);
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

    private Chunk GetOrStart(long index)
    {
        foreach (var existing in _window)
        {
            if (existing.Index == index)
            {
                return existing;
            }
        }

        int size = _options.ReadAheadChunkSize;
        long start = index * size;
        int length = (int)Math.Min(size, Size - start);
        var chunk = new Chunk(index, ArrayPool<byte>.Shared.Rent(length));
        chunk.Fetch = FetchAsync(chunk, start, length);
        _window.Add(chunk);
        return chunk;
    }

    private async Task<FsResult<int>> FetchAsync(Chunk chunk, long start, int length)
    {
        // A fetch serves several reads, so it gets its own deadline rather than one reader's.
        using var deadline = new CancellationTokenSource(_options.OperationTimeout);
        try
        {
            return await ReadDirectAsync(start, chunk.Buffer.AsMemory(0, length), deadline.Token);
        }
        finally
        {
            lock (_lock)
            {
                chunk.Done = true;
                ReturnIfDone(chunk);
            }
        }
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

    /// <summary>The buffer goes back to the pool once the chunk is out of the window, fetched and unread.</summary>
    private static void ReturnIfDone(Chunk chunk)
    {
        if (chunk.Evicted && chunk.Done && chunk.Readers == 0 && !chunk.Returned)
        {
            chunk.Returned = true;
            ArrayPool<byte>.Shared.Return(chunk.Buffer);
        }
    }

    internal bool IsClosed => _closed;

    private sealed class Chunk(long index, byte[] buffer)
    {
        public long Index { get; } = index;

        public byte[] Buffer { get; } = buffer;

        public Task<FsResult<int>> Fetch { get; set; } = null!;

        public int Readers;
        public bool Done;
        public bool Evicted;
        public bool Returned;
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
