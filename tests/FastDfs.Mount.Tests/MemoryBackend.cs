using System.Collections.Concurrent;
using FastDfs.Mount.Core;
using FastDfs.Protocol;

namespace FastDfs.Mount.Tests;

/// <summary>
/// An in-memory cluster for unit tests of the core's own logic (paths, caches, xattr rules, read-ahead).
/// The same operations run against real daemons in <see cref="MountTests"/>.
/// </summary>
internal sealed class MemoryBackend : IClusterBackend
{
    public ConcurrentDictionary<string, byte[]> Files { get; } = new();

    public ConcurrentDictionary<string, Dictionary<string, string>> Metadata { get; } = new();

    public int Reads;
    public int Stats;
    public int MetadataGets;
    public long BytesRead;

    /// <summary>When set, every call waits for it (a frozen server).</summary>
    public TaskCompletionSource? Gate { get; set; }

    /// <summary>When set, reads of file data wait for it (and count in <see cref="ReadsWaiting"/>); other calls go on.</summary>
    public TaskCompletionSource? ReadGate { get; set; }

    public int ReadsWaiting;

    public async ValueTask<FsResult<IReadOnlyList<GroupSpace>>> ListGroupsAsync(OperationDeadline deadline)
    {
        await WaitGate(deadline.Token);
        return FsResult<IReadOnlyList<GroupSpace>>.Ok([new GroupSpace("group1", 1000, 400, 2), new GroupSpace("group2", 500, 100, 1)]);
    }

    public async ValueTask<FsResult<StoredFile>> GetFileAsync(FileId fileId, OperationDeadline deadline)
    {
        await WaitGate(deadline.Token);
        Interlocked.Increment(ref Stats);
        return Files.TryGetValue(fileId.ToString(), out byte[]? data)
            ? new StoredFile(data.Length, 1_700_000_000, false)
            : FsResult<StoredFile>.Fail(Errno.ENOENT);
    }

    public async ValueTask<FsResult<int>> ReadAsync(FileId fileId, long offset, Memory<byte> destination, StorageChoice storage, OperationDeadline deadline)
    {
        try
        {
            await WaitGate(deadline.Token);
            if (ReadGate is { } readGate)
            {
                Interlocked.Increment(ref ReadsWaiting);
                try
                {
                    await readGate.Task.WaitAsync(deadline.Token);
                }
                finally
                {
                    Interlocked.Decrement(ref ReadsWaiting);
                }
            }
        }
        catch (OperationCanceledException)
        {
            return FsResult<int>.Fail(Errno.EIO);
        }

        Interlocked.Increment(ref Reads);
        if (!Files.TryGetValue(fileId.ToString(), out byte[]? data))
        {
            return FsResult<int>.Fail(Errno.ENOENT);
        }

        if (offset >= data.Length)
        {
            return FsResult<int>.Fail(Errno.EINVAL); // as FastDFS answers
        }

        int n = (int)Math.Min(destination.Length, data.Length - offset);
        data.AsSpan((int)offset, n).CopyTo(destination.Span);
        Interlocked.Add(ref BytesRead, n);
        return n;
    }

    public ValueTask<int> DeleteAsync(FileId fileId, OperationDeadline deadline) =>
        ValueTask.FromResult(Files.TryRemove(fileId.ToString(), out _) ? 0 : Errno.ENOENT);

    public ValueTask<FsResult<IReadOnlyDictionary<string, string>>> GetMetadataAsync(FileId fileId, OperationDeadline deadline)
    {
        Interlocked.Increment(ref MetadataGets);
        IReadOnlyDictionary<string, string> copy = Metadata.TryGetValue(fileId.ToString(), out var m)
            ? new Dictionary<string, string>(m)
            : new Dictionary<string, string>();
        return ValueTask.FromResult(FsResult<IReadOnlyDictionary<string, string>>.Ok(copy));
    }

    public ValueTask<int> SetMetadataAsync(FileId fileId, IReadOnlyDictionary<string, string> metadata, MetadataFlag flag, OperationDeadline deadline)
    {
        var current = Metadata.GetOrAdd(fileId.ToString(), _ => []);
        if (flag == MetadataFlag.Overwrite)
        {
            current.Clear();
        }

        foreach (var (k, v) in metadata)
        {
            current[k] = v;
        }

        return ValueTask.FromResult(0);
    }

    public int Uploads;

    /// <summary>Storage operations (upload appender, append, modify, truncate) in the order they arrived.</summary>
    public ConcurrentQueue<string> Changes { get; } = new();

    /// <summary>When not 0, uploads and appender changes fail with this errno (a dead storage, a full disk).</summary>
    public int ChangeErrno { get; set; }

    public async ValueTask<FsResult<FileId>> UploadAppenderAsync(string group, string? extension, ReadOnlyMemory<byte> content, OperationDeadline deadline)
    {
        await WaitGate(deadline.Token);
        if (ChangeErrno != 0)
        {
            return FsResult<FileId>.Fail(ChangeErrno);
        }

        int n = Interlocked.Increment(ref Uploads);
        string suffix = extension is null ? "" : "." + extension;
        var id = new FileId(group, $"M00/00/00/appender-{n:D24}{suffix}"); // long enough to pass FileId's name checks
        Files[id.ToString()] = content.ToArray();
        Changes.Enqueue($"upload {content.Length}");
        return FsResult<FileId>.Ok(id);
    }

    public ValueTask<int> AppendAsync(FileId fileId, ReadOnlyMemory<byte> content, OperationDeadline deadline) =>
        Change(fileId, $"append {content.Length}", old => [.. old, .. content.Span], deadline.Token);

    /// <summary>As FastDFS: the offset must be within the file; bytes past the end extend it.</summary>
    public ValueTask<int> ModifyAsync(FileId fileId, long offset, ReadOnlyMemory<byte> content, OperationDeadline deadline) =>
        Change(fileId, $"modify {offset} {content.Length}", old =>
        {
            if (offset > old.Length)
            {
                return null;
            }

            byte[] updated = new byte[Math.Max(old.Length, offset + content.Length)];
            old.CopyTo(updated, 0);
            content.Span.CopyTo(updated.AsSpan((int)offset));
            return updated;
        }, deadline.Token);

    /// <summary>
    /// The largest file the storage's own file system takes: a truncate, append or modify past it is refused with
    /// EFBIG and changes nothing (as the storage does).
    /// </summary>
    public long MaxFileSize { get; set; } = int.MaxValue;

    public ValueTask<int> TruncateAsync(FileId fileId, long size, OperationDeadline deadline) =>
        size > MaxFileSize ? ValueTask.FromResult(Errno.EFBIG) : Change(fileId, $"truncate {size}", old =>
        {
            byte[] updated = new byte[size];
            old.AsSpan(0, (int)Math.Min(old.Length, size)).CopyTo(updated);
            return updated;
        }, deadline.Token);

    private async ValueTask<int> Change(FileId fileId, string what, Func<byte[], byte[]?> change, CancellationToken cancellationToken)
    {
        await WaitGate(cancellationToken);
        if (ChangeErrno != 0)
        {
            return ChangeErrno;
        }

        lock (Files)
        {
            if (!Files.TryGetValue(fileId.ToString(), out byte[]? old))
            {
                return Errno.ENOENT;
            }

            byte[]? updated = change(old);
            if (updated is null)
            {
                return Errno.EINVAL;
            }

            if (updated.Length > MaxFileSize)
            {
                return Errno.EFBIG;
            }

            Files[fileId.ToString()] = updated;
            Changes.Enqueue(what);
            return 0;
        }
    }

    private async ValueTask WaitGate(CancellationToken cancellationToken)
    {
        if (Gate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }
    }
}
