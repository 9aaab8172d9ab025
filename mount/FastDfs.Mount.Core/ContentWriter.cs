using System.Buffers;
using System.Diagnostics;
using FastDfs.Client;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Mount.Core;

public sealed partial class FileSystem
{
    /// <summary>
    /// The content of one named regular file while handles write to it (shared by the node's handles). Writes fill a
    /// pooled tail chunk; full chunks, in-place changes and size changes go to the storage in order through one chain
    /// of operations, at most <see cref="MountOptions.WriteChunks"/> of them queued, so memory stays at
    /// (write_chunks + 1) chunks whatever the file size. The tail is the writer's own; every queued chunk also holds
    /// its bytes of the mount's <see cref="BufferBudget"/>, so with many files written at once writes wait for queued
    /// chunks to be stored instead of memory growing. New content is an appender file uploaded with the first
    /// chunk and registered as pending; it is bound to the name (SET_CONTENT) at commit (flush, fsync, last release).
    /// The first failure of a queued operation sticks: every later write, flush and fsync answers it.
    /// </summary>
    private sealed class ContentWriter
    {
        private static readonly TimeSpan StreamStartWait = TimeSpan.FromSeconds(1);

        private readonly FileSystem _fs;
        private readonly Node _node;
        private readonly SemaphoreSlim _lock = new(1, 1);
        private readonly SemaphoreSlim _slots;
        private Task _chain = Task.CompletedTask;

        // Set by the chain once an upload ran; read by later operations of the same chain.
        private FileId? _content;

        // _content exists or an operation that creates it is queued.
        private bool _hasContent;

        // The name is bound to something else than _content (new upload, or O_TRUNC of old content).
        private bool _unbound;

        // Content that O_TRUNC replaces: its metadata (user xattrs) moves to the new content.
        private FileId? _replaced;

        private bool _dirty;
        private long _stored;
        private long _size;
        private long _mtimeNs;
        private byte[]? _tail;
        private int _tailLength;
        private int _error;
        private Task? _registration;
        private long _registeredAt;

        // While the file grows by large writes: appends sent from the writing thread (spliced writes). Every other
        // operation first completes it, so the stream and the chain never change the content at the same time.
        private IAppenderStream? _stream;

        // The appender stream being opened in the background, until a write takes it.
        private Task<FsResult<IAppenderStream?>>? _opening;

        // The backend has no appender stream, or opening one failed: this writer queues its appends.
        private bool _noStream;

        public ContentWriter(FileSystem fs, Node node, NsAttributes attributes)
        {
            _fs = fs;
            _node = node;
            _slots = new SemaphoreSlim(fs.Options.WriteChunks, fs.Options.WriteChunks);
            _content = ParseContent(attributes.FileId);
            _hasContent = _content is not null;
            if (attributes.FileId is not null && _content is null)
            {
                // Never treat content we cannot address as empty: that would replace it.
                _error = Errno.EIO;
            }

            _stored = _size = _content is null ? 0 : attributes.Size;
            _mtimeNs = attributes.MtimeNs;
        }

        /// <summary>Open handles using this writer (guarded by the file system's writer table lock).</summary>
        public int Handles { get; set; }

        /// <summary>True while size or mtime differ from what the directory service holds.</summary>
        public bool Dirty => Volatile.Read(ref _dirty);

        public long Size => Volatile.Read(ref _size);

        public long MtimeNs => Volatile.Read(ref _mtimeNs);

        public int Error => Volatile.Read(ref _error);

        private MountOptions Options => _fs.Options;

        private int ChunkSize => Options.WriteChunkSize;

        public async ValueTask<int> WriteAsync(long offset, ReadOnlyMemory<byte> data, bool append, CancellationToken cancellationToken)
        {
            if (!await EnterAsync(cancellationToken))
            {
                return Errno.EIO;
            }

            try
            {
                if (_error != 0)
                {
                    return _error;
                }

                if (append)
                {
                    offset = _size;
                }

                if (offset > _size)
                {
                    // A write past the end: FastDFS has no holes, but TRUNCATE extends an appender with zeros
                    // (the storage's file system may keep them sparse).
                    int shipped = await ShipTailAsync(cancellationToken);
                    if (shipped != 0)
                    {
                        return shipped;
                    }

                    long extendTo = offset;
                    MarkContent();
                    int queued = await EnqueueAsync(t => SetLengthAsync(extendTo, t), cancellationToken);
                    if (queued != 0)
                    {
                        return queued;
                    }

                    _stored = offset;
                    _size = offset;
                }

                long end = offset + data.Length;

                // Bytes already handed to the storage: MODIFY in place, in chunk-sized pieces.
                for (long at = offset; at < Math.Min(end, _stored);)
                {
                    int piece = (int)Math.Min(ChunkSize, Math.Min(end, _stored) - at);
                    if (!await MakeRoomAsync(piece, cancellationToken))
                    {
                        return Errno.EIO;
                    }

                    byte[] buffer = ArrayPool<byte>.Shared.Rent(piece);
                    data.Span.Slice((int)(at - offset), piece).CopyTo(buffer);
                    long modifyAt = at;
                    Queue(t => ModifyAsync(modifyAt, buffer, piece, t), buffer, piece);
                    at += piece;
                }

                // Bytes inside the tail still in memory.
                long position = Math.Max(offset, _stored);
                if (position < Math.Min(end, _size))
                {
                    int n = (int)(Math.Min(end, _size) - position);
                    data.Span.Slice((int)(position - offset), n).CopyTo(_tail.AsSpan((int)(position - _stored)));
                    position += n;
                }

                // Bytes past the end extend the tail; a full tail goes to the storage.
                while (position < end)
                {
                    _tail ??= ArrayPool<byte>.Shared.Rent(ChunkSize);
                    int n = (int)Math.Min(ChunkSize - _tailLength, end - position);
                    data.Span.Slice((int)(position - offset), n).CopyTo(_tail.AsSpan(_tailLength));
                    _tailLength += n;
                    position += n;
                    Volatile.Write(ref _size, _size + n);
                    if (_tailLength == ChunkSize)
                    {
                        int shipped = await ShipTailAsync(cancellationToken);
                        if (shipped != 0)
                        {
                            return shipped;
                        }
                    }
                }

                Touch();
                Interlocked.Increment(ref _node.ContentVersion);
                return _error;
            }
            finally
            {
                _lock.Release();
            }
        }

        /// <summary>
        /// A write that only extends the tail in memory (no storage operation, nothing to wait for), done on the
        /// caller's thread straight from its buffer. False when the write needs <see cref="WriteAsync"/>.
        /// </summary>
        public bool TryWriteInline(long offset, ReadOnlySpan<byte> data, bool append, out int errno)
        {
            if (TryEnterNow(ref offset, append, out errno) is { } answered)
            {
                return answered;
            }

            try
            {
                // Only at the end, and only while the tail stays short of a full chunk (a full one ships).
                if (offset != _size || _stored + _tailLength != _size || _tailLength + data.Length >= ChunkSize)
                {
                    return false;
                }

                _tail ??= ArrayPool<byte>.Shared.Rent(ChunkSize);
                data.CopyTo(_tail.AsSpan(_tailLength));
                _tailLength += data.Length;
                Volatile.Write(ref _size, _size + data.Length);
                Touch();
                Interlocked.Increment(ref _node.ContentVersion);
                errno = Volatile.Read(ref _error); // as WriteAsync: a queued operation that failed meanwhile
                return true;
            }
            finally
            {
                _lock.Release();
            }
        }

        /// <summary>
        /// A large write at the end of a file whose content exists, or over bytes already stored, sent on the caller's
        /// thread straight from <paramref name="body"/> through the writer's appender stream: no copy in the mount, no
        /// chunk buffered. False when the write needs <see cref="TryWriteInline"/> or <see cref="WriteAsync"/>. Blocks the caller only while
        /// the storage takes the bytes (at most the network timeout when it takes none).
        /// </summary>
        public bool TryWriteStreamed(long offset, int length, IRequestBody body, bool append, out int errno)
        {
            errno = 0;
            if (_noStream)
            {
                return false;
            }

            if (TryEnterNow(ref offset, append, out errno) is { } answered)
            {
                return answered;
            }

            try
            {
                // Growing the file at its end, or overwriting bytes the storage already has (fio preallocates).
                bool extends = offset == _size && _stored + _tailLength == _size;
                bool overwrites = offset + length <= _stored;
                if (!_hasContent || !(extends || overwrites))
                {
                    return false;
                }

                if (_stream is null && !TryStartStream())
                {
                    return false;
                }

                // Operations queued before must be stored first: they go on another connection. Waiting here happens
                // once per stream (afterwards the writes go to the stream and the chain stays idle) and is short:
                // a storage that does not answer leaves the write to the ordinary path instead.
                if (!_chain.IsCompleted && !_chain.Wait(StreamStartWait))
                {
                    return false;
                }

                if (_error != 0)
                {
                    errno = _error;
                    return true;
                }

                int sent = overwrites ? _stream!.Modify(offset, length, body) : AppendStreamed(length, body);
                if (sent != 0)
                {
                    errno = Stick(sent);
                    return true;
                }

                if (!overwrites)
                {
                    _stored += length;
                    Volatile.Write(ref _size, _size + length);
                }

                Touch();
                Interlocked.Increment(ref _node.ContentVersion);
                RenewRegistration();
                return true;
            }
            finally
            {
                _lock.Release();
            }
        }

        /// <summary>The tail (small writes since the last large one: they come first), then the write, at the end.</summary>
        private int AppendStreamed(int length, IRequestBody body)
        {
            if (_tailLength > 0)
            {
                int sent = _stream!.Append(_tail.AsSpan(0, _tailLength));
                if (sent != 0)
                {
                    return sent;
                }

                _stored += _tailLength;
                _tailLength = 0;
            }

            return _stream!.Append(length, body);
        }

        /// <summary>
        /// The writer's lock without waiting, the sticky error and O_APPEND's offset, for the paths that run on the
        /// caller's thread. Null: entered (the caller releases the lock). Otherwise the answer to return: false when
        /// the lock is busy, true with <paramref name="errno"/> set when an earlier failure sticks.
        /// </summary>
        private bool? TryEnterNow(ref long offset, bool append, out int errno)
        {
            errno = 0;
            if (!_lock.Wait(0))
            {
                return false;
            }

            if (_error != 0)
            {
                errno = _error;
                _lock.Release();
                return true;
            }

            if (append)
            {
                offset = _size;
            }

            return null;
        }

        /// <summary>A failure of a storage operation: logged, and every later write, flush and fsync answers it.</summary>
        private int Stick(int errno)
        {
            MountLog.WriteFailed(_fs._logger, _node.Key, "errno " + errno);
            Volatile.Write(ref _error, errno);
            return errno;
        }

        /// <summary>
        /// The appender stream, once it is open. Opening runs in the background (a connection, and maybe a tracker
        /// query) as soon as the content exists, so the receive thread never waits for it; until then writes take the
        /// ordinary path. False leaves the write to that path.
        /// </summary>
        private bool TryStartStream()
        {
            if (_error != 0 || _content is not { } content)
            {
                return false; // a failure to answer, or the upload that creates the content is still queued
            }

            if (_opening is null)
            {
                _opening = OpenStreamAsync(content);
                return false;
            }

            if (!_opening.IsCompleted)
            {
                return false;
            }

            var opened = _opening.Result;
            _opening = null;
            if (!opened.IsOk || opened.Value is null)
            {
                _noStream = true;
                return false;
            }

            if (opened.Value.FileId != content)
            {
                _ = opened.Value.CompleteAsync(CancellationToken.None).AsTask(); // the content was replaced meanwhile
                return false;
            }

            _stream = opened.Value;
            MountLog.StreamOpened(_fs._logger, _node.Key, content.ToString());
            return true;
        }

        private async Task<FsResult<IAppenderStream?>> OpenStreamAsync(FileId content)
        {
            using var deadline = new OperationDeadline(Options.OperationTimeout);
            try
            {
                return await _fs._backend.OpenAppenderStreamAsync(content, deadline);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                return FsResult<IAppenderStream?>.Fail(Errno.EIO);
            }
        }

        /// <summary>A stream that finished opening after the writer stopped wanting it: its connection goes back.</summary>
        private static async Task CloseUnusedAsync(Task<FsResult<IAppenderStream?>> opening)
        {
            var opened = await opening;
            if (opened.IsOk && opened.Value is { } stream)
            {
                await stream.CompleteAsync(CancellationToken.None);
            }
        }

        /// <summary>Ends the append stream, if any: every append answered. A failure sticks as a queued operation's does.</summary>
        private async ValueTask<int> CompleteStreamAsync()
        {
            if (_stream is not { } stream)
            {
                return 0;
            }

            _stream = null;

            // Not the caller's token: an interrupt must not cut appends that close() and fsync() wait for.
            using var deadline = new OperationDeadline(Options.OperationTimeout);
            int errno = await stream.CompleteAsync(deadline.Token);
            return errno == 0 ? 0 : Stick(errno);
        }

        /// <summary>O_TRUNC: the file is empty from now on; its old content is replaced at commit.</summary>
        public async ValueTask<int> TruncateForOpenAsync(CancellationToken cancellationToken)
        {
            if (!await EnterAsync(cancellationToken))
            {
                return Errno.EIO;
            }

            try
            {
                int drained = await DrainAsync(cancellationToken);
                if (drained != 0)
                {
                    return drained;
                }

                if (!_hasContent && _size == 0)
                {
                    return 0;
                }

                // Content this writer uploaded and never named is pending: the collector removes it after the lease.
                if (!_unbound)
                {
                    _replaced = _content;
                }

                _content = null;
                _hasContent = false;
                _unbound = true;
                _registration = null;
                _registeredAt = 0;
                _stored = 0;
                Volatile.Write(ref _size, 0);
                Touch();
                Interlocked.Increment(ref _node.ContentVersion);
                return 0;
            }
            finally
            {
                _lock.Release();
            }
        }

        /// <summary>truncate/ftruncate: cut the appender or extend it with zeros.</summary>
        /// <param name="growOnly">Only extend (fallocate): a larger size written meanwhile stays.</param>
        public async ValueTask<int> ResizeAsync(long size, CancellationToken cancellationToken, bool growOnly = false)
        {
            if (!await EnterAsync(cancellationToken))
            {
                return Errno.EIO;
            }

            try
            {
                int drained = await DrainAsync(cancellationToken);
                if (drained != 0)
                {
                    return drained;
                }

                if (size == _size || (growOnly && size < _size))
                {
                    return 0;
                }

                if (size > 0 || _hasContent)
                {
                    bool hadContent = _hasContent, wasUnbound = _unbound;
                    MarkContent();
                    int queued = await EnqueueAsync(t => SetLengthAsync(size, t), cancellationToken);
                    int resized = queued != 0 ? queued : await AwaitChainAsync(cancellationToken);
                    if (resized is Errno.EFBIG or Errno.ENOSPC)
                    {
                        // The storage refused the size and changed nothing (the chain was empty before): the caller
                        // hears it now, so the file stays usable instead of the error sticking, as on ext4.
                        Volatile.Write(ref _error, 0);
                        if (_content is null)
                        {
                            (_hasContent, _unbound) = (hadContent, wasUnbound);
                        }
                    }

                    if (resized != 0)
                    {
                        return resized;
                    }
                }

                _stored = size;
                Volatile.Write(ref _size, size);
                Touch();
                Interlocked.Increment(ref _node.ContentVersion);
                return 0;
            }
            finally
            {
                _lock.Release();
            }
        }

        /// <summary>The content file, created empty (and bound) if there is none yet, so metadata can be set on it.</summary>
        public async ValueTask<FsResult<FileId>> EnsureContentAsync(OperationDeadline commitDeadline)
        {
            var cancellationToken = commitDeadline.Token;
            if (!await EnterAsync(cancellationToken))
            {
                return FsResult<FileId>.Fail(Errno.EIO);
            }

            try
            {
                if (!_hasContent)
                {
                    MarkContent();
                    long size = _size;
                    int queued = await EnqueueAsync(t => SetLengthAsync(size, t), cancellationToken);
                    if (queued != 0)
                    {
                        return FsResult<FileId>.Fail(queued);
                    }
                }

                int drained = await DrainAsync(cancellationToken);
                if (drained != 0)
                {
                    return FsResult<FileId>.Fail(drained);
                }

                if (_unbound)
                {
                    int committed = await CommitLockedAsync(commitDeadline);
                    if (committed != 0)
                    {
                        return FsResult<FileId>.Fail(committed);
                    }
                }

                return _content!.Value;
            }
            finally
            {
                _lock.Release();
            }
        }

        /// <summary>Every byte stored and the name bound to it (flush, fsync, last release).</summary>
        public async ValueTask<int> CommitAsync(OperationDeadline commitDeadline)
        {
            if (!await EnterAsync(commitDeadline.Token))
            {
                return Errno.EIO;
            }

            try
            {
                return await CommitLockedAsync(commitDeadline);
            }
            finally
            {
                _lock.Release();
            }
        }

        /// <summary>
        /// For a read: queued operations finished, then the content file and how many of its bytes are stored; bytes
        /// of [offset, offset + destination.Length) still in the tail are copied into <paramref name="destination"/>.
        /// </summary>
        public async ValueTask<FsResult<(FileId? Content, long Stored, long Size, long Version)>> PrepareReadAsync(
            long offset, Memory<byte> destination, CancellationToken cancellationToken)
        {
            if (!await EnterAsync(cancellationToken))
            {
                return FsResult<(FileId?, long, long, long)>.Fail(Errno.EIO);
            }

            try
            {
                int drained = await AwaitChainAsync(cancellationToken);
                if (drained != 0)
                {
                    return FsResult<(FileId?, long, long, long)>.Fail(drained);
                }

                long end = Math.Min(offset + destination.Length, _size);
                long from = Math.Max(offset, _stored);
                if (from < end)
                {
                    _tail.AsSpan((int)(from - _stored), (int)(end - from)).CopyTo(destination.Span[(int)(from - offset)..]);
                }

                return (_content, _stored, _size, Volatile.Read(ref _node.ContentVersion));
            }
            finally
            {
                _lock.Release();
            }
        }

        /// <summary>The writer is done (no handles): its pooled tail goes back.</summary>
        public void Discard()
        {
            if (_opening is { } opening)
            {
                _opening = null;
                _ = CloseUnusedAsync(opening);
            }

            if (_stream is { } stream)
            {
                // Normally completed by the commit before; here only the connection is left to give back.
                _stream = null;
                _ = stream.CompleteAsync(CancellationToken.None).AsTask();
            }

            if (_tail is { } tail)
            {
                _tail = null;
                _tailLength = 0;
                ArrayPool<byte>.Shared.Return(tail);
            }
        }

        /// <param name="commitDeadline">The whole commit's bound; the naming at its end gets an operation's deadline within it.</param>
        private async ValueTask<int> CommitLockedAsync(OperationDeadline commitDeadline)
        {
            var cancellationToken = commitDeadline.Token;
            int shipped = await ShipTailAsync(cancellationToken, committing: true);
            int drained = shipped != 0 ? shipped : await AwaitChainAsync(cancellationToken);
            if (drained != 0)
            {
                return drained;
            }

            if (_node.Pending is { } pending)
            {
                return await CreatePendingLockedAsync(pending, commitDeadline);
            }

            if (_node.Orphaned)
            {
                // No name left to bind: the data stays with the open handles. Content never bound goes to the collector.
                ForgetUnbound();
                return 0;
            }

            if (!_dirty && !_unbound)
            {
                return 0;
            }

            if (_unbound && !_hasContent)
            {
                if (_replaced is null)
                {
                    // Never had content and still has none: the name already says "empty".
                    _unbound = false;
                    _dirty = false;
                    return 0;
                }

                // O_TRUNC of content with nothing written after: an empty appender takes the old content's place.
                MarkContent();
                int queued = await EnqueueAsync(t => SetLengthAsync(0, t), cancellationToken);
                drained = queued != 0 ? queued : await AwaitChainAsync(cancellationToken);
                if (drained != 0)
                {
                    return drained;
                }
            }

            var content = _content!.Value;
            using var deadline = new OperationDeadline(Options.OperationTimeout, commitDeadline);
            if (_unbound && _replaced is { } replaced)
            {
                var metadata = await _fs._backend.GetMetadataAsync(replaced, deadline);
                if (!metadata.IsOk && metadata.Errno != Errno.ENOENT)
                {
                    return metadata.Errno;
                }

                if (metadata.IsOk && metadata.Value.Count > 0)
                {
                    int copied = await _fs._backend.SetMetadataAsync(content, metadata.Value, MetadataFlag.Overwrite, deadline);
                    if (copied != 0)
                    {
                        return copied;
                    }
                }
            }

            long size = _size;
            var bound = await _fs._names.SetContentAsync(_node.NsInode, content.ToString(), size, _mtimeNs, deadline);
            if (_registration is { } registration)
            {
                // Sent beside SET_CONTENT: either order leaves the file ID bound and not pending.
                await registration;
                _registration = null;
            }

            if (!bound.IsOk)
            {
                if (_unbound && _registeredAt == 0)
                {
                    Register(content); // never named: let the collector remove it
                }

                if (bound.Errno == Errno.ENOENT)
                {
                    // Unlinked while open: as on ext4, close succeeds and the data goes with the last name.
                    _fs.TryOrphan(_node);
                    Volatile.Write(ref _dirty, false);
                    return 0;
                }

                MountLog.CommitFailed(_fs._logger, _node.Key, content.ToString(), bound.Errno);
                return bound.Errno;
            }

            _unbound = false;
            _replaced = null;
            Volatile.Write(ref _dirty, false);
            _fs.PendingJournal?.Settled(content);
            _fs.SetNamed(_node, bound.Value);
            _fs.RememberCachedContent(_node, bound.Value);
            MountLog.Committed(_fs._logger, _node.Key, content.ToString(), size);
            return 0;
        }

        /// <summary>An orphan's content that no name ever took is registered as pending, so the collector removes it after the lease.</summary>
        private void ForgetUnbound()
        {
            if (_unbound && _registeredAt == 0 && _content is { } content)
            {
                Register(content);
            }

            Volatile.Write(ref _dirty, false);
        }

        /// <summary>futimens on an orphan: its mtime is the writer's from now on (nothing will commit it).</summary>
        public void SetMtime(long mtimeNs) => Volatile.Write(ref _mtimeNs, mtimeNs);

        /// <summary>Deferred CREATE: the name is made with its content (none for an empty file) in one request.</summary>
        private async ValueTask<int> CreatePendingLockedAsync(PendingName pending, OperationDeadline commitDeadline)
        {
            FileId? content = _hasContent ? _content : null;
            long size = content is null ? 0 : _size;
            using var deadline = new OperationDeadline(Options.OperationTimeout, commitDeadline);
            var created = await _fs._names.CreateAsync(
                pending.ParentNs, pending.Name, pending.Mode, pending.Uid, pending.Gid, content?.ToString(), size, deadline);
            if (_registration is { } registration)
            {
                await registration; // either order leaves a bound file ID not pending
                _registration = null;
            }

            if (!created.IsOk)
            {
                if (content is { } unnamed && _registeredAt == 0)
                {
                    Register(unnamed); // never named: let the collector remove it
                }

                MountLog.CommitFailed(_fs._logger, _node.Key, content?.ToString() ?? "(empty)", created.Errno);

                // EEXIST: another client made the name after this mount looked it up. close(2) knows no EEXIST.
                return created.Errno == Errno.EEXIST ? Errno.EIO : created.Errno;
            }

            _unbound = false;
            _replaced = null;
            Volatile.Write(ref _dirty, false);
            if (content is { } named)
            {
                _fs.PendingJournal?.Settled(named);
            }

            _fs.NamePending(_node, pending, created.Value);
            _fs.RememberCachedContent(_node, created.Value);
            MountLog.Committed(_fs._logger, _node.Key, content?.ToString() ?? "(empty)", size);
            return 0;
        }

        /// <summary>The tail goes to the storage and every queued operation has finished.</summary>
        private async ValueTask<int> DrainAsync(CancellationToken cancellationToken)
        {
            int shipped = await ShipTailAsync(cancellationToken);
            return shipped != 0 ? shipped : await AwaitChainAsync(cancellationToken);
        }

        private async ValueTask<int> AwaitChainAsync(CancellationToken cancellationToken)
        {
            int streamed = await CompleteStreamAsync();
            if (streamed != 0)
            {
                return streamed;
            }

            try
            {
                // Every operation carries its own deadline, so the chain always ends; the caller's token is a safety net.
                await _chain.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return Errno.EIO;
            }

            return _error;
        }

        /// <param name="committing">
        /// The commit follows at once: a new upload is then not registered as pending (one directory-service write
        /// less per small file); if binding fails, it is registered then, so the collector still removes it.
        /// </param>
        private async ValueTask<int> ShipTailAsync(CancellationToken cancellationToken, bool committing = false)
        {
            if (_tailLength == 0)
            {
                return 0;
            }

            if (!await MakeRoomAsync(ChunkSize, cancellationToken))
            {
                return Errno.EIO; // the tail stays as it is: a later write, flush or the last release ships it
            }

            byte[] buffer = _tail!;
            int length = _tailLength;
            _tail = null;
            _tailLength = 0;
            _stored += length;
            if (!_hasContent)
            {
                _hasContent = true;
                _unbound = true;
                Queue(t => UploadAsync(buffer, length, register: !committing, t), buffer, ChunkSize);
            }
            else
            {
                Queue(t => AppendAsync(buffer, length, t), buffer, ChunkSize);
            }

            return 0;
        }

        private void MarkContent()
        {
            if (!_hasContent)
            {
                _hasContent = true;
                _unbound = true;
            }
        }

        private void Touch()
        {
            Volatile.Write(ref _mtimeNs, UnixTime.NowNanoseconds());
            Volatile.Write(ref _dirty, true);
        }

        /// <summary>Queues one storage operation without a buffer after the previous ones; waits while write_chunks are queued.</summary>
        private async ValueTask<int> EnqueueAsync(Func<OperationDeadline, ValueTask<int>> operation, CancellationToken cancellationToken)
        {
            if (!await MakeRoomAsync(0, cancellationToken))
            {
                return Errno.EIO;
            }

            Queue(operation, null, 0);
            return 0;
        }

        /// <summary>
        /// Room for one more queued operation: one of the file's write_chunks slots and, for a buffer, its bytes of the
        /// mount's budget (waiting for other files' chunks to be stored when it is used up). False once the deadline
        /// or the caller gave up; nothing is then held.
        /// </summary>
        private async ValueTask<bool> MakeRoomAsync(int budgeted, CancellationToken cancellationToken)
        {
            if (await CompleteStreamAsync() != 0)
            {
                return false; // the stream's failure sticks: the next write, flush or fsync answers it
            }

            try
            {
                await _slots.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return false;
            }

            if (budgeted > 0)
            {
                try
                {
                    await _fs.Buffers.ReserveAsync(budgeted, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    _slots.Release();
                    return false;
                }
            }

            return true;
        }

        /// <summary>After <see cref="MakeRoomAsync"/>: the operation runs after the previous ones, then frees the room and the buffer.</summary>
        private void Queue(Func<OperationDeadline, ValueTask<int>> operation, byte[]? buffer, int budgeted) =>
            _chain = RunAsync(_chain, operation, buffer, budgeted);

        private async Task RunAsync(Task previous, Func<OperationDeadline, ValueTask<int>> operation, byte[]? buffer, int budgeted)
        {
            try
            {
                await previous;
                if (Volatile.Read(ref _error) == 0)
                {
                    int errno;
                    // Not the caller's: an interrupt must not cut a queued change that close() and fsync() wait for.
                    using (var deadline = new OperationDeadline(Options.OperationTimeout))
                    {
                        try
                        {
                            errno = await operation(deadline);
                        }
                        catch (Exception e)
                        {
                            MountLog.WriteFailed(_fs._logger, _node.Key, e.Message);
                            errno = Errno.EIO;
                        }
                    }

                    if (errno != 0)
                    {
                        Stick(errno);
                    }
                }
            }
            finally
            {
                if (buffer is not null)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }

                if (budgeted > 0)
                {
                    _fs.Buffers.Release(budgeted);
                }

                _slots.Release();
            }
        }

        private async ValueTask<int> UploadAsync(byte[] buffer, int length, bool register, OperationDeadline deadline)
        {
            var uploaded = await _fs._backend.UploadAppenderAsync(_node.Group, ContentExtension(_node), buffer.AsMemory(0, length), deadline);
            if (!uploaded.IsOk)
            {
                return uploaded.Errno;
            }

            _content = uploaded.Value;
            if (register)
            {
                Register(uploaded.Value);
            }
            else
            {
                _fs.PendingJournal?.Uploaded(uploaded.Value); // named by the next request; until then only the journal knows it
            }

            return 0;
        }

        private async ValueTask<int> AppendAsync(byte[] buffer, int length, OperationDeadline deadline)
        {
            RenewRegistration();
            return await _fs._backend.AppendAsync(_content!.Value, buffer.AsMemory(0, length), deadline);
        }

        private ValueTask<int> ModifyAsync(long offset, byte[] buffer, int length, OperationDeadline deadline) =>
            _fs._backend.ModifyAsync(_content!.Value, offset, buffer.AsMemory(0, length), deadline);

        private async ValueTask<int> SetLengthAsync(long size, OperationDeadline deadline)
        {
            if (_content is null)
            {
                int uploaded = await UploadAsync([], 0, register: true, deadline);
                if (uploaded != 0 || size == 0)
                {
                    return uploaded;
                }
            }

            RenewRegistration();
            return await _fs._backend.TruncateAsync(_content!.Value, size, deadline);
        }

        /// <summary>
        /// Tells the directory service about an upload not yet named, so a crash before commit leaves nothing behind;
        /// not awaited here (the commit awaits it beside SET_CONTENT).
        /// </summary>
        private void Register(FileId fileId)
        {
            _registeredAt = Stopwatch.GetTimestamp();
            _registration = RegisterAsync(fileId);
        }

        private void RenewRegistration()
        {
            if (_unbound && _content is { } content
                && Stopwatch.GetElapsedTime(_registeredAt) > Options.PendingLease / 2)
            {
                Register(content);
            }
        }

        private async Task RegisterAsync(FileId fileId)
        {
            using var deadline = new OperationDeadline(Options.OperationTimeout);
            int errno;
            try
            {
                errno = await _fs._names.RegisterPendingAsync(fileId.ToString(), Options.PendingLease, deadline);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                errno = Errno.EIO;
            }

            if (errno != 0)
            {
                // Not fatal: the data is stored; only a crash before commit would now leave the upload behind.
                MountLog.PendingNotRegistered(_fs._logger, fileId.ToString(), errno);
            }
            else
            {
                _fs.PendingJournal?.Settled(fileId); // the collector knows it now
            }
        }

        private async ValueTask<bool> EnterAsync(CancellationToken cancellationToken)
        {
            try
            {
                await _lock.WaitAsync(cancellationToken);
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        private static FileId? ParseContent(string? fileId) =>
            fileId is not null && FileId.TryParse(fileId, out var id, out _) ? id : null;
    }
}
