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
    /// which may arrive slightly out of order.
    /// </summary>
    private bool IsSequential(long offset, int length)
    {
        lock (_lock)
        {
            long slack = 2L * _options.ReadAheadChunkSize;
            bool sequential = offset == 0 || Math.Abs(offset - _nextSequential) <= slack;
            _nextSequential = sequential ? Math.Max(_nextSequential, offset + length) : offset + length;
            return sequential;
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
