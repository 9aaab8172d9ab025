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
    /// The first failure of a queued operation sticks: every later write, flush and fsync answers it. Except bytes the
    /// storage refuses with EFBIG or ENOSPC and does not store (past its file system's size limit, a full disk): the
    /// storage keeps every byte before them, the writer goes on from what it holds (as ext4 after a short write), and
    /// the next flush or fsync answers the refusal once. Not a write: the kernel turns an error of one part of a large
    /// write(2) into a short count of the parts before, and the refusal of bytes written earlier would go unheard.
    /// EFBIG also tells the writer the limit, so later writes past it are refused (or cut short) at once, as on ext4.
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

        // The storage's file-size limit as its refusals told it: sizes from _tooBig on are refused. _limitKnown: the
        // limit is exactly _tooBig - 1 (a refused chunk was stored up to it), so writes across it are cut short there.
        private long _tooBig = long.MaxValue;
        private bool _limitKnown;

        // Set with _error when the storage refused bytes and stored nothing of them: it holds this many bytes, every
        // one as written. Queued operations within them still run; -1 while _error sticks.
        private long _refusedSize = -1;

        // The refusal came from the appender stream: requests sent behind the refused one may have grown the file, so
        // the writer cuts it back to _refusedSize before going on.
        private bool _refusedByStream;

        // A refusal the writer went on after, for the next flush or fsync to answer.
        private int _unanswered;

        // The last write past the end grew the content from _extendedFrom to _extendedTo with zeros, and nothing was
        // queued since: if the storage then refuses all of that write's bytes, the content shrinks back (ext4 would
        // not have grown the file for a write that stored nothing).
        private long _extendedFrom = -1;
        private long _extendedTo = -1;

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

        /// <summary>A failure that sticks (a refusal the writer goes on after is not one).</summary>
        public int Error => StickyError();

        private MountOptions Options => _fs.Options;

        private int ChunkSize => Options.WriteChunkSize;

        /// <returns>How many bytes were taken (fewer than given only up to the storage's size limit), or the errno.</returns>
        public async ValueTask<FsResult<int>> WriteAsync(long offset, ReadOnlyMemory<byte> data, bool append, CancellationToken cancellationToken)
        {
            if (!await EnterAsync(cancellationToken))
            {
                return FsResult<int>.Fail(Errno.EIO);
            }

            try
            {
                if (Volatile.Read(ref _error) != 0)
                {
                    // After a refusal the writer goes on from what the storage holds; a failure that sticks is answered.
                    int settled = await AwaitChainAsync(cancellationToken);
                    if (settled != 0)
                    {
                        return FsResult<int>.Fail(settled);
                    }
                }

                if (append)
                {
                    offset = _size;
                }

                if (!data.IsEmpty)
                {
                    // As ext4 at its maximum file size: EFBIG from the limit on, a short write up to it.
                    long tooBig = Volatile.Read(ref _tooBig);
                    long limit = Volatile.Read(ref _limitKnown) ? tooBig - 1 : tooBig;
                    if (offset >= limit)
                    {
                        return FsResult<int>.Fail(Errno.EFBIG);
                    }

                    if (offset + data.Length > limit)
                    {
                        data = data[..(int)(limit - offset)];
                    }
                }

                if (offset > _size)
                {
                    // A write past the end: FastDFS has no holes, but TRUNCATE extends an appender with zeros
                    // (the storage's file system may keep them sparse).
                    int shipped = await ShipTailAsync(cancellationToken);
                    if (shipped != 0)
                    {
                        return FsResult<int>.Fail(shipped);
                    }

                    long extendFrom = _stored, extendTo = offset;
                    MarkContent();
                    int queued = await EnqueueAsync(t => ExtendAsync(extendFrom, extendTo, t), extendTo, cancellationToken);
                    if (queued != 0)
                    {
                        return FsResult<int>.Fail(queued);
                    }

                    _stored = offset;
                    _size = offset;
                    (_extendedFrom, _extendedTo) = (extendFrom, extendTo);
                }

                long end = offset + data.Length;

                // Bytes already handed to the storage: MODIFY in place, in chunk-sized pieces.
                for (long at = offset; at < Math.Min(end, _stored);)
                {
                    int piece = (int)Math.Min(ChunkSize, Math.Min(end, _stored) - at);
                    if (!await MakeRoomAsync(piece, cancellationToken))
                    {
                        return FsResult<int>.Fail(Errno.EIO);
                    }

                    byte[] buffer = ArrayPool<byte>.Shared.Rent(piece);
                    data.Span.Slice((int)(at - offset), piece).CopyTo(buffer);
                    long modifyAt = at;
                    Queue(t => ModifyAsync(modifyAt, buffer, piece, t), buffer, piece, modifyAt + piece);
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
                    _tail ??= HugePages.Rent(ChunkSize);
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
                            return FsResult<int>.Fail(shipped);
                        }
                    }
                }

                Touch();
                Interlocked.Increment(ref _node.ContentVersion);

                // A queued operation that failed meanwhile; a refusal is flush's and fsync's to answer.
                int sticky = StickyError();
                return sticky != 0 ? FsResult<int>.Fail(sticky) : data.Length;
            }
            finally
            {
                _lock.Release();
            }
        }

        /// <summary>
        /// A write that only extends the tail in memory, done on the caller's thread straight from its buffer; the write
        /// that fills the tail also ships it when the chain has room at once (waiting for room is
        /// <see cref="WriteAsync"/>'s). False when the write needs <see cref="WriteAsync"/>.
        /// </summary>
        public bool TryWriteInline(long offset, ReadOnlySpan<byte> data, bool append, out int errno)
        {
            if (TryEnterNow(ref offset, append, out errno) is { } answered)
            {
                return answered;
            }

            try
            {
                // Only at the end, and only short of the storage's size limit (past it the write is refused or cut short).
                int filled = _tailLength + data.Length;
                if (offset != _size || _stored + _tailLength != _size || filled > ChunkSize
                    || offset + data.Length >= Volatile.Read(ref _tooBig)
                    || (filled == ChunkSize && !TryMakeRoomNow()))
                {
                    return false;
                }

                _tail ??= HugePages.Rent(ChunkSize);
                data.CopyTo(_tail.AsSpan(_tailLength));
                _tailLength = filled;
                Volatile.Write(ref _size, _size + data.Length);
                Touch();
                Interlocked.Increment(ref _node.ContentVersion);
                if (filled == ChunkSize)
                {
                    ShipReservedTail();
                }

                errno = StickyError(); // as WriteAsync: a queued operation that failed meanwhile
                return true;
            }
            finally
            {
                _lock.Release();
            }
        }

        /// <summary>The chain's room for one more chunk, without waiting (no append stream to end first).</summary>
        private bool TryMakeRoomNow()
        {
            if (_stream is not null || !_slots.Wait(0))
            {
                return false;
            }

            if (_fs.Buffers.TryReserve(ChunkSize))
            {
                return true;
            }

            _slots.Release();
            return false;
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
                if (!_hasContent || !(extends || overwrites) || offset + length >= Volatile.Read(ref _tooBig))
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

                if (Volatile.Read(ref _error) != 0)
                {
                    if (StickyError() == 0)
                    {
                        return false; // a refusal: the ordinary path goes on after it
                    }

                    errno = _error;
                    return true;
                }

                (_extendedFrom, _extendedTo) = (-1, -1);
                int sent = overwrites ? _stream!.Modify(offset, length, body) : AppendStreamed(length, body);
                if (sent != 0)
                {
                    // This write is not stored; a refusal of the stream is still flush's and fsync's to answer (the
                    // kernel may turn this errno into a short count of the write's parts sent before, also refused).
                    errno = StreamFailed(_stream!, sent);
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
                int sent = _stream!.Modify(_stored, _tail.AsSpan(0, _tailLength));
                if (sent != 0)
                {
                    return sent;
                }

                _stored += _tailLength;
                _tailLength = 0;
            }

            return _stream!.Modify(_stored, length, body);
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

            if (Volatile.Read(ref _error) != 0)
            {
                int sticky = StickyError();
                _lock.Release();
                if (sticky == 0)
                {
                    return false; // a refusal: the ordinary path goes on after it
                }

                errno = sticky;
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
            Volatile.Write(ref _refusedSize, -1);
            Volatile.Write(ref _error, errno);
            return errno;
        }

        /// <summary>
        /// The storage refused bytes and stored none of them; it holds <paramref name="size"/> bytes, each as written.
        /// Queued operations within them still run; the writer goes on from there once the chain is idle.
        /// </summary>
        private int Refuse(int errno, long size)
        {
            MountLog.WriteRefused(_fs._logger, _node.Key, errno, size);
            Volatile.Write(ref _refusedSize, size); // before the errno: whoever sees the errno sees the size
            Volatile.Write(ref _error, errno);
            return errno;
        }

        /// <summary>The failure to answer from now on, if it sticks; 0 when there is none or it is a refusal the writer goes on after.</summary>
        private int StickyError()
        {
            int error = Volatile.Read(ref _error);
            return error != 0 && Volatile.Read(ref _refusedSize) < 0 ? error : 0;
        }

        /// <summary>A size the storage refused (EFBIG); <paramref name="exact"/>: one byte less was taken.</summary>
        private void LearnLimit(long refused, bool exact)
        {
            if (refused < Volatile.Read(ref _tooBig))
            {
                Volatile.Write(ref _limitKnown, exact);
                Volatile.Write(ref _tooBig, refused);
            }
            else if (refused == Volatile.Read(ref _tooBig) && exact)
            {
                Volatile.Write(ref _limitKnown, true);
            }
        }

        /// <summary>
        /// The appender stream failed with <paramref name="errno"/>. EFBIG of a request at a known offset is a refusal:
        /// every request before it was stored, so the storage holds that offset's bytes as written (requests behind it
        /// were refused too, or landed where they belong, being at offsets). Anything else sticks.
        /// </summary>
        private int StreamFailed(IAppenderStream stream, int errno)
        {
            if (errno == Errno.EFBIG && stream.Refused is { Offset: >= 0 } refused)
            {
                LearnLimit(refused.Offset + refused.Length, exact: false);
                _refusedByStream = true;
                return Refuse(errno, refused.Offset);
            }

            return Stick(errno);
        }

        /// <summary>A refusal the writer went on after and no flush or fsync answered yet: answered now, once.</summary>
        private int TakeRefusal()
        {
            int refused = _unanswered;
            _unanswered = 0;
            return refused;
        }

        /// <summary>
        /// With the chain idle and the stream completed: after a refusal, the writer goes on from the bytes the storage
        /// holds (the tail and the sizes past them are dropped) and keeps the refusal for the next flush or fsync to
        /// answer. Otherwise the failure that sticks, or 0.
        /// </summary>
        private async ValueTask<int> ResumeAsync()
        {
            int error = Volatile.Read(ref _error);
            long size = Volatile.Read(ref _refusedSize);
            if (error == 0 || size < 0)
            {
                return error;
            }

            if (_refusedByStream)
            {
                // Requests behind the refused one may have grown the file past the bytes known to be as written.
                _refusedByStream = false;
                using var deadline = new OperationDeadline(Options.OperationTimeout);
                int cut = await _fs._backend.TruncateAsync(_content!.Value, size, deadline);
                if (cut != 0)
                {
                    return Stick(cut);
                }
            }

            if (_tail is { } tail)
            {
                _tail = null;
                ArrayPool<byte>.Shared.Return(tail);
            }

            _tailLength = 0;
            _stored = size;
            Volatile.Write(ref _size, size);
            (_extendedFrom, _extendedTo) = (-1, -1);
            Touch();
            Interlocked.Increment(ref _node.ContentVersion);
            _unanswered = error;
            Volatile.Write(ref _refusedSize, -1);
            Volatile.Write(ref _error, 0);
            return 0;
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
            if (errno == 0)
            {
                return 0;
            }

            int failed = StreamFailed(stream, errno);
            return StickyError() != 0 ? failed : 0; // a refusal is the chain's to go on after (ResumeAsync)
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
                (_extendedFrom, _extendedTo) = (-1, -1);
                (_tooBig, _limitKnown) = (long.MaxValue, false); // the new content may go to another store path
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

                if (size >= Volatile.Read(ref _tooBig))
                {
                    return Errno.EFBIG; // the storage refused this size (or a smaller one) before
                }

                if (size > 0 || _hasContent)
                {
                    bool hadContent = _hasContent, wasUnbound = _unbound;
                    MarkContent();
                    int queued = await EnqueueAsync(t => SetLengthAsync(size, t), size, cancellationToken);
                    int resized = queued != 0 ? queued : await AwaitChainAsync(cancellationToken);
                    if (resized is Errno.EFBIG or Errno.ENOSPC)
                    {
                        // The storage refused the size and changed nothing (the chain was empty before): the caller
                        // hears it now, so the file stays usable instead of the error sticking, as on ext4.
                        Volatile.Write(ref _error, 0);
                        if (resized == Errno.EFBIG)
                        {
                            LearnLimit(size, exact: false);
                        }

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
                    int queued = await EnqueueAsync(t => SetLengthAsync(size, t), size, cancellationToken);
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
        /// <param name="answerRefusal">
        /// flush, fsync and the last release: a refusal of bytes written before, not answered yet, is answered now
        /// (after the commit of what the storage holds), once.
        /// </param>
        public async ValueTask<int> CommitAsync(OperationDeadline commitDeadline, bool answerRefusal = false)
        {
            if (!await EnterAsync(commitDeadline.Token))
            {
                return Errno.EIO;
            }

            try
            {
                int committed = await CommitLockedAsync(commitDeadline);
                return committed != 0 || !answerRefusal ? committed : TakeRefusal();
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
                int queued = await EnqueueAsync(t => SetLengthAsync(0, t), 0, cancellationToken);
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

            return await ResumeAsync();
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

            ShipReservedTail(committing);
            return 0;
        }

        /// <summary>Queues the tail after <see cref="MakeRoomAsync"/> or <see cref="TryMakeRoomNow"/> made room for it.</summary>
        private void ShipReservedTail(bool committing = false)
        {
            byte[] buffer = _tail!;
            int length = _tailLength;
            long start = _stored;

            // The first bytes after a write past the end: if none of them is stored, the content shrinks back.
            long shrinkTo = start == _extendedTo ? _extendedFrom : -1;
            _tail = null;
            _tailLength = 0;
            _stored += length;
            if (!_hasContent)
            {
                _hasContent = true;
                _unbound = true;
                Queue(t => UploadAsync(buffer, length, register: !committing, t), buffer, ChunkSize, length);
            }
            else
            {
                Queue(t => AppendAsync(buffer, length, start, shrinkTo, t), buffer, ChunkSize, start + length);
            }
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

        /// <summary>
        /// Queues one storage operation without a buffer after the previous ones (one that makes the content
        /// <paramref name="size"/> bytes); waits while write_chunks are queued.
        /// </summary>
        private async ValueTask<int> EnqueueAsync(Func<OperationDeadline, ValueTask<int>> operation, long size, CancellationToken cancellationToken)
        {
            if (!await MakeRoomAsync(0, cancellationToken))
            {
                return Errno.EIO;
            }

            Queue(operation, null, 0, size);
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

        /// <summary>
        /// After <see cref="MakeRoomAsync"/>: the operation runs after the previous ones, then frees the room and the
        /// buffer. <paramref name="end"/>: the content's size the operation needs (the end of the bytes it writes).
        /// </summary>
        private void Queue(Func<OperationDeadline, ValueTask<int>> operation, byte[]? buffer, int budgeted, long end)
        {
            (_extendedFrom, _extendedTo) = (-1, -1); // something was queued after the write past the end
            _chain = RunAsync(_chain, operation, buffer, budgeted, end);
        }

        private async Task RunAsync(Task previous, Func<OperationDeadline, ValueTask<int>> operation, byte[]? buffer, int budgeted, long end)
        {
            try
            {
                await previous;

                // After a failure nothing more runs; after a refusal, what lies within the bytes the storage holds
                // (overwrites written meanwhile) still does.
                if (Volatile.Read(ref _error) == 0 || end <= Volatile.Read(ref _refusedSize))
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

        /// <param name="start">Where the bytes go (the content's size when the append runs).</param>
        /// <param name="shrinkTo">The size before the write past the end these bytes begin, or -1.</param>
        private async ValueTask<int> AppendAsync(byte[] buffer, int length, long start, long shrinkTo, OperationDeadline deadline)
        {
            RenewRegistration();
            int errno = await _fs._backend.AppendAsync(_content!.Value, buffer.AsMemory(0, length), deadline);
            if (errno is not (Errno.EFBIG or Errno.ENOSPC))
            {
                return errno;
            }

            // Refused, and nothing of it stored. Past the size limit (EFBIG), as much as the storage takes is stored,
            // as ext4 takes a write up to its limit: halves of what is left are appended until the limit is found.
            int stored = 0;
            if (errno == Errno.EFBIG)
            {
                for (int refused = length; refused - stored > 1;)
                {
                    int half = stored + ((refused - stored) / 2);
                    int appended = await _fs._backend.AppendAsync(_content!.Value, buffer.AsMemory(stored, half - stored), deadline);
                    if (appended == 0)
                    {
                        stored = half;
                    }
                    else if (appended == Errno.EFBIG)
                    {
                        refused = half;
                    }
                    else
                    {
                        return appended;
                    }
                }

                LearnLimit(start + stored + 1, exact: true);
            }

            long size = start + stored;
            if (stored == 0 && shrinkTo >= 0)
            {
                // The write past the end stored nothing: as on ext4, the file keeps the size it had before it.
                int cut = await _fs._backend.TruncateAsync(_content!.Value, shrinkTo, deadline);
                if (cut != 0)
                {
                    return cut;
                }

                size = shrinkTo;
            }

            Refuse(errno, size);
            return 0;
        }

        /// <summary>A write past the end: the content grows from <paramref name="from"/> to <paramref name="to"/> with zeros, or the storage refuses the size.</summary>
        private async ValueTask<int> ExtendAsync(long from, long to, OperationDeadline deadline)
        {
            int errno = await SetLengthAsync(to, deadline);
            if (errno != Errno.EFBIG || _content is null)
            {
                return errno;
            }

            // Nothing changed: the write is refused as ext4 refuses one that starts past its limit.
            LearnLimit(to, exact: false);
            Refuse(errno, from);
            return 0;
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
