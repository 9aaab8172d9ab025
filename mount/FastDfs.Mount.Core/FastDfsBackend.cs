using System.Collections.Concurrent;
using System.Diagnostics;
using FastDfs.Client;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace FastDfs.Mount.Core;

/// <summary>
/// The cluster through <see cref="FastDfsClient"/>; client errors become errnos here. The tracker's upload choice
/// per group and update choice per content file are reused for <paramref name="choiceTimeout"/>: a small file then
/// costs no tracker round trip, a big one no tracker round trip per chunk. A call its caller gives up on (an
/// interrupt) answers EINTR and keeps every choice; one whose deadline passes answers EIO with a timeout warning.
/// </summary>
public sealed class FastDfsBackend(FastDfsClient client, ILogger logger, TimeSpan choiceTimeout = default) : IClusterBackend
{
    // Bounds the update-choice table: a copy of many small files leaves one entry per file until it expires.
    private const int MaxUpdateChoices = 4096;

    private readonly long _choiceTicks = (long)(choiceTimeout.TotalSeconds * Stopwatch.Frequency);
    private readonly ConcurrentDictionary<string, (StoreTarget Target, long Expires)> _storeChoices = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<FileId, (ServerAddress Storage, long Expires)> _updateChoices = new();

    public async ValueTask<FsResult<IReadOnlyList<GroupSpace>>> ListGroupsAsync(OperationDeadline deadline)
    {
        try
        {
            var groups = await client.ListGroupsAsync(deadline.Token);
            return groups.Select(g => new GroupSpace(g.Name, g.TotalMb, g.FreeMb, (int)g.StorePathCount)).ToArray();
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            return FsResult<IReadOnlyList<GroupSpace>>.Fail(ToErrno("list groups", "tracker", e, deadline));
        }
    }

    public async ValueTask<FsResult<StoredFile>> GetFileAsync(FileId fileId, OperationDeadline deadline)
    {
        try
        {
            // Size and time only: without flag bit 0 the storage would CRC an appender's whole content on every stat.
            var info = await client.GetFileInfoAsync(fileId, computeCrc: false, deadline.Token);
            return new StoredFile(info.Size, info.Response.CreateTimestamp, info.IsAppender);
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            return FsResult<StoredFile>.Fail(ToErrno("stat", fileId.ToString(), e, deadline));
        }
    }

    public async ValueTask<FsResult<int>> ReadAsync(
        FileId fileId, long offset, Memory<byte> destination, StorageChoice storage, OperationDeadline deadline) =>
        await FromStorageChoiceAsync(
            fileId, storage, (offset, destination),
            static (client, fileId, at, state, ct) => client.ReadRangeAsync(fileId, state.offset, state.destination, at, ct),
            deadline);

    public async ValueTask<FsResult<IContentStream>> OpenStreamAsync(
        FileId fileId, long offset, long length, StorageChoice storage, OperationDeadline deadline)
    {
        var opened = await FromStorageChoiceAsync(
            fileId, storage, (offset, length),
            static (client, fileId, at, state, ct) => client.OpenDownloadAsync(fileId, state.offset, state.length, at, ct),
            deadline);
        return opened.IsOk ? new DownloadStream(this, opened.Value, fileId, storage, logger) : FsResult<IContentStream>.Fail(opened.Errno);
    }

    /// <summary>
    /// Runs <paramref name="read"/> against the storage the handle remembers, or the tracker's download choice. A storage
    /// that does not answer is forgotten and the tracker asked once more; any other failure is the read's errno. A read
    /// its caller gave up on (an interrupt) keeps the storage: nothing is known against it.
    /// </summary>
    private async ValueTask<FsResult<TResult>> FromStorageChoiceAsync<TState, TResult>(
        FileId fileId, StorageChoice storage, TState state,
        Func<FastDfsClient, FileId, ServerAddress?, TState, CancellationToken, Task<TResult>> read, OperationDeadline deadline)
    {
        for (int attempt = 0; ; attempt++)
        {
            var chosen = storage.Address;
            try
            {
                chosen ??= storage.Address = await client.QueryFetchAsync(fileId, deadline.Token);
                return FsResult<TResult>.Ok(await read(client, fileId, chosen, state, deadline.Token));
            }
            catch (FdfsException e) when (attempt == 0 && e is FdfsConnectionException or FdfsTimeoutException
                                          && !deadline.Token.IsCancellationRequested)
            {
                // The storage we remembered died; the tracker may know a live one by now.
                storage.Address = null;
                MountLog.ReadFailover(logger, chosen?.ToString() ?? "?", fileId.ToString());
            }
            catch (Exception e) when (IsClusterFailure(e))
            {
                if (!deadline.Interrupted(e))
                {
                    storage.Address = null;
                }

                return FsResult<TResult>.Fail(ReadErrno(ToErrno("read", fileId.ToString(), e, deadline)));
            }
        }
    }

    public async ValueTask<int> DeleteAsync(FileId fileId, OperationDeadline deadline)
    {
        try
        {
            await client.DeleteAsync(fileId, deadline.Token);
            MountLog.Deleted(logger, fileId.ToString());
            return 0;
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            return ToErrno("delete", fileId.ToString(), e, deadline);
        }
    }

    public async ValueTask<FsResult<IReadOnlyDictionary<string, string>>> GetMetadataAsync(FileId fileId, OperationDeadline deadline)
    {
        try
        {
            // FastDFS answers ENOENT both for "no metadata" and "no file"; stat already proved the file exists.
            var metadata = await client.TryGetMetadataAsync(fileId, deadline.Token);
            return FsResult<IReadOnlyDictionary<string, string>>.Ok(metadata ?? EmptyMetadata);
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            return FsResult<IReadOnlyDictionary<string, string>>.Fail(ToErrno("get metadata", fileId.ToString(), e, deadline));
        }
    }

    public async ValueTask<int> SetMetadataAsync(
        FileId fileId, IReadOnlyDictionary<string, string> metadata, MetadataFlag flag, OperationDeadline deadline)
    {
        try
        {
            await client.SetMetadataAsync(fileId, metadata, flag, deadline.Token);
            return 0;
        }
        catch (ArgumentException)
        {
            // The client refuses what the storage would truncate; the core checks first, so this is a safety net.
            return Errno.EINVAL;
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            return ToErrno("set metadata", fileId.ToString(), e, deadline);
        }
    }

    public async ValueTask<FsResult<FileId>> UploadAppenderAsync(string group, string? extension, ReadOnlyMemory<byte> content, OperationDeadline deadline)
    {
        StoreTarget? target = null;
        try
        {
            if (_choiceTicks <= 0)
            {
                return await client.UploadAppenderAsync(content, extension, null, group, null, deadline.Token);
            }

            long now = Stopwatch.GetTimestamp();
            if (!_storeChoices.TryGetValue(group, out var choice) || now >= choice.Expires)
            {
                choice = (await client.QueryStoreAsync(group, deadline.Token), now + _choiceTicks);
                _storeChoices[group] = choice;
            }

            target = choice.Target;
            var fileId = await client.UploadAppenderAsync(content, extension, choice.Target, deadline.Token);

            // The storage that created an appender is its update choice while it lives (tracker 103).
            RememberUpdateChoice(fileId, choice.Target.Storage);
            return fileId;
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            if (target is { } failed && !deadline.Interrupted(e))
            {
                _storeChoices.TryRemove(group, out _);
                MountLog.ChoiceDropped(logger, failed.Storage.ToString(), group);
            }

            int errno = ToErrno("upload appender", group, e, deadline);
            if (errno == Errno.ENOENT)
            {
                // The tracker has no active storage in the group: for the writer an I/O error, not a missing file.
                MountLog.NoStorageToUpload(logger, group);
                return FsResult<FileId>.Fail(Errno.EIO);
            }

            return FsResult<FileId>.Fail(errno);
        }
    }

    public ValueTask<int> AppendAsync(FileId fileId, ReadOnlyMemory<byte> content, OperationDeadline deadline) =>
        UpdateAsync("append", fileId, (fileId, content), static (c, s, a, t) => c.AppendAsync(a.fileId, a.content, s, t), deadline);

    public ValueTask<int> ModifyAsync(FileId fileId, long offset, ReadOnlyMemory<byte> content, OperationDeadline deadline) =>
        UpdateAsync("modify", fileId, (fileId, offset, content), static (c, s, a, t) => c.ModifyAsync(a.fileId, a.offset, a.content, s, t), deadline);

    public ValueTask<int> TruncateAsync(FileId fileId, long size, OperationDeadline deadline) =>
        UpdateAsync("truncate", fileId, (fileId, size), static (c, s, a, t) => c.TruncateAsync(a.fileId, a.size, s, t), deadline);

    public async ValueTask<FsResult<IAppenderStream?>> OpenAppenderStreamAsync(FileId fileId, OperationDeadline deadline)
    {
        try
        {
            var storage = await UpdateChoiceAsync(fileId, deadline);
            return new ClientAppenderStream(await client.OpenAppenderStreamAsync(fileId, storage, deadline.Token));
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            _updateChoices.TryRemove(fileId, out _);
            return FsResult<IAppenderStream?>.Fail(ToErrno("append stream", fileId.ToString(), e, deadline));
        }
    }

    /// <summary>The client's stream with the mount's errno rule: a storage that took nothing in time is EIO, as for every other operation.</summary>
    private sealed class ClientAppenderStream(AppenderStream stream) : IAppenderStream
    {
        public FileId FileId => stream.FileId;

        public (long Offset, int Length)? Refused => stream.Refused;

        public int Modify(long offset, int length, IRequestBody body) => Mount(stream.Modify(offset, length, body));

        public int Modify(long offset, ReadOnlySpan<byte> data) => Mount(stream.Modify(offset, data));

        public async ValueTask<int> CompleteAsync(CancellationToken cancellationToken) => Mount(await stream.CompleteAsync(cancellationToken));

        private static int Mount(int errno) => errno == FdfsErrno.ETIMEDOUT ? Errno.EIO : errno;
    }

    /// <summary>One change of an appender file on its update choice (remembered, or asked of the tracker).</summary>
    private async ValueTask<int> UpdateAsync<TArgs>(
        string operation, FileId fileId, TArgs args, Func<FastDfsClient, ServerAddress, TArgs, CancellationToken, Task> change,
        OperationDeadline deadline)
    {
        try
        {
            var storage = await UpdateChoiceAsync(fileId, deadline);
            try
            {
                await change(client, storage, args, deadline.Token);
                return 0;
            }
            catch (Exception e) when (IsClusterFailure(e) && !deadline.Interrupted(e))
            {
                // Not retried (a change may have applied); the next one asks the tracker again.
                _updateChoices.TryRemove(fileId, out _);
                throw;
            }
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            return ToErrno(operation, fileId.ToString(), e, deadline);
        }
    }

    /// <summary>The storage that takes changes of <paramref name="fileId"/>: remembered, or asked of the tracker (103).</summary>
    private async ValueTask<ServerAddress> UpdateChoiceAsync(FileId fileId, OperationDeadline deadline)
    {
        if (_updateChoices.TryGetValue(fileId, out var choice) && Stopwatch.GetTimestamp() < choice.Expires)
        {
            return choice.Storage;
        }

        var storage = await client.QueryUpdateAsync(fileId, deadline.Token);
        RememberUpdateChoice(fileId, storage);
        return storage;
    }

    private void RememberUpdateChoice(FileId fileId, ServerAddress storage)
    {
        if (_choiceTicks <= 0)
        {
            return;
        }

        long now = Stopwatch.GetTimestamp();
        if (_updateChoices.Count >= MaxUpdateChoices)
        {
            foreach (var (key, value) in _updateChoices)
            {
                if (now >= value.Expires)
                {
                    _updateChoices.TryRemove(key, out _);
                }
            }

            if (_updateChoices.Count >= MaxUpdateChoices)
            {
                _updateChoices.Clear();
            }
        }

        _updateChoices[fileId] = (storage, now + _choiceTicks);
    }

    /// <summary>A streamed download; a failure (not an interrupt) forgets the storage choice, so the next open asks the tracker.</summary>
    private sealed class DownloadStream(FastDfsBackend backend, DownloadReader reader, FileId fileId, StorageChoice storage, ILogger logger) : IContentStream
    {
        public async ValueTask<FsResult<int>> ReadAsync(Memory<byte> destination, OperationDeadline deadline, bool willReopen = false)
        {
            try
            {
                return await reader.ReadAsync(destination, deadline.Token);
            }
            catch (FdfsConnectionException e) when (willReopen && !deadline.Token.IsCancellationRequested)
            {
                // Most often the storage closed a stream whose reader paused past its network_timeout.
                storage.Address = null;
                MountLog.ReadStreamBroke(logger, fileId.ToString(), e.Message);
                return FsResult<int>.Fail(Errno.EIO);
            }
            catch (Exception e) when (IsClusterFailure(e))
            {
                if (!deadline.Interrupted(e))
                {
                    storage.Address = null;
                }

                return FsResult<int>.Fail(ReadErrno(backend.ToErrno("read", fileId.ToString(), e, deadline)));
            }
        }

        public ValueTask DisposeAsync() => reader.DisposeAsync();
    }

    /// <summary>
    /// read(2) has no ENOENT: a file the caller holds open that the cluster no longer serves (its only storage died, so
    /// the tracker knows no source) is an I/O error.
    /// </summary>
    private static int ReadErrno(int errno) => errno == Errno.ENOENT ? Errno.EIO : errno;

    private static readonly IReadOnlyDictionary<string, string> EmptyMetadata = new Dictionary<string, string>();

    private static bool IsClusterFailure(Exception e) => e is FdfsException or OperationCanceledException or IOException;

    private int ToErrno(string operation, string target, Exception e, OperationDeadline deadline)
    {
        int cancelled = deadline.CancelledErrno(e, logger, operation, target);
        if (cancelled != 0)
        {
            return cancelled;
        }

        if (e is FdfsServerException server)
        {
            // A server's answer is the file system's answer where it means the same thing.
            if (server.Errno is Errno.ENOENT or Errno.ENOSPC or Errno.EFBIG or Errno.EPERM or Errno.EACCES)
            {
                return server.Errno;
            }
        }

        MountLog.OperationFailed(logger, operation, target, e.Message);
        return Errno.EIO;
    }
}
