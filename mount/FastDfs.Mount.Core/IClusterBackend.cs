using FastDfs.Client;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Mount.Core;

/// <summary>Facts about one stored file that stat needs.</summary>
public readonly record struct StoredFile(long Size, long CreateTimestamp, bool IsAppender);

/// <summary>Space of one group, in MiB as the tracker reports it.</summary>
public readonly record struct GroupSpace(string Name, long TotalMb, long FreeMb, int StorePathCount);

/// <summary>
/// The cluster as the core needs it. Every call answers an errno instead of throwing for cluster-side failures,
/// and stops when its <see cref="OperationDeadline"/> fires: EINTR when the caller gave up, a timeout's errno when the
/// deadline passed.
/// </summary>
public interface IClusterBackend
{
    ValueTask<FsResult<IReadOnlyList<GroupSpace>>> ListGroupsAsync(OperationDeadline deadline);

    ValueTask<FsResult<StoredFile>> GetFileAsync(FileId fileId, OperationDeadline deadline);

    /// <summary>
    /// Reads a range into <paramref name="destination"/>. <paramref name="storage"/> carries the storage the tracker
    /// chose for this file between calls; the backend sets it, and clears it when that storage fails.
    /// </summary>
    ValueTask<FsResult<int>> ReadAsync(FileId fileId, long offset, Memory<byte> destination, StorageChoice storage, OperationDeadline deadline);

    /// <summary>
    /// Opens a reader of <paramref name="length"/> bytes from <paramref name="offset"/>, read in order at the caller's
    /// pace (<paramref name="storage"/> as for <see cref="ReadAsync"/>). The default reads them range by range.
    /// </summary>
    ValueTask<FsResult<IContentStream>> OpenStreamAsync(
        FileId fileId, long offset, long length, StorageChoice storage, OperationDeadline deadline) =>
        ValueTask.FromResult(FsResult<IContentStream>.Ok(new RangeContentStream(this, fileId, offset, length, storage)));

    ValueTask<int> DeleteAsync(FileId fileId, OperationDeadline deadline);

    /// <summary>The file's metadata; empty when it has none.</summary>
    ValueTask<FsResult<IReadOnlyDictionary<string, string>>> GetMetadataAsync(FileId fileId, OperationDeadline deadline);

    ValueTask<int> SetMetadataAsync(FileId fileId, IReadOnlyDictionary<string, string> metadata, MetadataFlag flag, OperationDeadline deadline);

    /// <summary>
    /// A new appender file in <paramref name="group"/> holding <paramref name="content"/> (may be empty); its file ID
    /// ends with <paramref name="extension"/> (one FastDFS accepts, or null for none).
    /// </summary>
    ValueTask<FsResult<FileId>> UploadAppenderAsync(string group, string? extension, ReadOnlyMemory<byte> content, OperationDeadline deadline);

    /// <summary>Adds <paramref name="content"/> at the end of an appender file.</summary>
    ValueTask<int> AppendAsync(FileId fileId, ReadOnlyMemory<byte> content, OperationDeadline deadline);

    /// <summary>Overwrites an appender file from <paramref name="offset"/> (at most its size; bytes past the end extend it).</summary>
    ValueTask<int> ModifyAsync(FileId fileId, long offset, ReadOnlyMemory<byte> content, OperationDeadline deadline);

    /// <summary>Cuts an appender file to <paramref name="size"/>, or extends it with zeros.</summary>
    ValueTask<int> TruncateAsync(FileId fileId, long size, OperationDeadline deadline);

    /// <summary>
    /// Opens a stream of appends to an appender file on its update storage, sent from the writer's own thread without
    /// waiting for each answer; null when the backend has none (the writer then queues <see cref="AppendAsync"/>s).
    /// </summary>
    ValueTask<FsResult<IAppenderStream?>> OpenAppenderStreamAsync(FileId fileId, OperationDeadline deadline) =>
        ValueTask.FromResult(FsResult<IAppenderStream?>.Ok(null));
}

/// <summary>
/// Appends to and overwrites one appender file, request after request, the answers checked in the background
/// (<see cref="IClusterBackend.OpenAppenderStreamAsync"/>). The first failure sticks. One sender at a time.
/// </summary>
public interface IAppenderStream
{
    /// <summary>The appender file it changes.</summary>
    FileId FileId { get; }

    /// <summary>
    /// Writes from <paramref name="offset"/> (at most the stored size: at the size it appends) what <paramref name="body"/>
    /// puts on the connection; 0 or the stream's errno. Always at an offset, never APPEND: a request behind a refused
    /// one is then refused too instead of landing at the wrong place.
    /// </summary>
    int Modify(long offset, int length, IRequestBody body);

    /// <summary>Writes <paramref name="data"/> from <paramref name="offset"/>, as <see cref="Modify(long, int, IRequestBody)"/>.</summary>
    int Modify(long offset, ReadOnlySpan<byte> data);

    /// <summary>After a failure: the offset and length of the request the storage refused; null when the connection broke instead.</summary>
    (long Offset, int Length)? Refused { get; }

    /// <summary>Every append answered, the connection given back: 0 or the first failure. EINTR if the caller gave up first.</summary>
    ValueTask<int> CompleteAsync(CancellationToken cancellationToken);
}

/// <summary>The storage a handle reads from (the tracker's download choice, remembered per open file).</summary>
public sealed class StorageChoice
{
    // Boxed so readers on other threads see a whole value, never a torn struct.
    private object? _address;

    public ServerAddress? Address
    {
        get => (ServerAddress?)Volatile.Read(ref _address);
        set => Volatile.Write(ref _address, value);
    }
}

/// <summary>A file's bytes read in order from a start offset (<see cref="IClusterBackend.OpenStreamAsync"/>).</summary>
public interface IContentStream : IAsyncDisposable
{
    /// <summary>
    /// Fills <paramref name="destination"/> with the next bytes, or with all that is left; answers how many (0 at the
    /// end). After a failure the stream is unusable. <paramref name="willReopen"/>: the caller opens a new stream once
    /// if this one's connection broke, so a break is not yet a failure worth a warning.
    /// </summary>
    ValueTask<FsResult<int>> ReadAsync(Memory<byte> destination, OperationDeadline deadline, bool willReopen = false);
}

/// <summary>A stream made of ranged reads, for backends without a streaming download.</summary>
internal sealed class RangeContentStream(IClusterBackend backend, FileId fileId, long offset, long length, StorageChoice storage) : IContentStream
{
    private long _position = offset;
    private long _remaining = length;

    public async ValueTask<FsResult<int>> ReadAsync(Memory<byte> destination, OperationDeadline deadline, bool willReopen = false)
    {
        int done = 0;
        while (done < destination.Length && _remaining > 0)
        {
            var slice = destination[done..];
            if (slice.Length > _remaining)
            {
                slice = slice[..(int)_remaining];
            }

            var result = await backend.ReadAsync(fileId, _position, slice, storage, deadline);
            if (!result.IsOk)
            {
                return result;
            }

            if (result.Value == 0)
            {
                _remaining = 0;
                break;
            }

            done += result.Value;
            _position += result.Value;
            _remaining -= result.Value;
        }

        return done;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
