using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Mount.Core;

/// <summary>Facts about one stored file that stat needs.</summary>
public readonly record struct StoredFile(long Size, long CreateTimestamp, bool IsAppender);

/// <summary>Space of one group, in MiB as the tracker reports it.</summary>
public readonly record struct GroupSpace(string Name, long TotalMb, long FreeMb, int StorePathCount);

/// <summary>
/// The cluster as the core needs it. Every call answers an errno instead of throwing for cluster-side failures,
/// and honours the cancellation token (the core's per-operation deadline).
/// </summary>
public interface IClusterBackend
{
    ValueTask<FsResult<IReadOnlyList<GroupSpace>>> ListGroupsAsync(CancellationToken cancellationToken);

    ValueTask<FsResult<StoredFile>> GetFileAsync(FileId fileId, CancellationToken cancellationToken);

    /// <summary>
    /// Reads a range into <paramref name="destination"/>. <paramref name="storage"/> carries the storage the tracker
    /// chose for this file between calls; the backend sets it, and clears it when that storage fails.
    /// </summary>
    ValueTask<FsResult<int>> ReadAsync(FileId fileId, long offset, Memory<byte> destination, StorageChoice storage, CancellationToken cancellationToken);

    ValueTask<int> DeleteAsync(FileId fileId, CancellationToken cancellationToken);

    /// <summary>The file's metadata; empty when it has none.</summary>
    ValueTask<FsResult<IReadOnlyDictionary<string, string>>> GetMetadataAsync(FileId fileId, CancellationToken cancellationToken);

    ValueTask<int> SetMetadataAsync(FileId fileId, IReadOnlyDictionary<string, string> metadata, MetadataFlag flag, CancellationToken cancellationToken);

    /// <summary>A new appender file in <paramref name="group"/> holding <paramref name="content"/> (may be empty).</summary>
    ValueTask<FsResult<FileId>> UploadAppenderAsync(string group, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);

    /// <summary>Adds <paramref name="content"/> at the end of an appender file.</summary>
    ValueTask<int> AppendAsync(FileId fileId, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);

    /// <summary>Overwrites an appender file from <paramref name="offset"/> (at most its size; bytes past the end extend it).</summary>
    ValueTask<int> ModifyAsync(FileId fileId, long offset, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);

    /// <summary>Cuts an appender file to <paramref name="size"/>, or extends it with zeros.</summary>
    ValueTask<int> TruncateAsync(FileId fileId, long size, CancellationToken cancellationToken);
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
