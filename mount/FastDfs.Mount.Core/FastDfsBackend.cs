using FastDfs.Client;
using FastDfs.Protocol;
using Microsoft.Extensions.Logging;

namespace FastDfs.Mount.Core;

/// <summary>The cluster through <see cref="FastDfsClient"/>; client errors become errnos here.</summary>
public sealed class FastDfsBackend(FastDfsClient client, TimeSpan operationTimeout, ILogger logger) : IClusterBackend
{
    public async ValueTask<FsResult<IReadOnlyList<GroupSpace>>> ListGroupsAsync(CancellationToken cancellationToken)
    {
        try
        {
            var groups = await client.ListGroupsAsync(cancellationToken);
            return groups.Select(g => new GroupSpace(g.Name, g.TotalMb, g.FreeMb, (int)g.StorePathCount)).ToArray();
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            return FsResult<IReadOnlyList<GroupSpace>>.Fail(ToErrno("list groups", "tracker", e, cancellationToken));
        }
    }

    public async ValueTask<FsResult<StoredFile>> GetFileAsync(FileId fileId, CancellationToken cancellationToken)
    {
        try
        {
            var info = await client.GetFileInfoAsync(fileId, cancellationToken);
            return new StoredFile(info.Size, info.Response.CreateTimestamp, info.IsAppender);
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            return FsResult<StoredFile>.Fail(ToErrno("stat", fileId.ToString(), e, cancellationToken));
        }
    }

    public async ValueTask<FsResult<int>> ReadAsync(
        FileId fileId, long offset, Memory<byte> destination, StorageChoice storage, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            var chosen = storage.Address;
            try
            {
                chosen ??= storage.Address = await client.QueryFetchAsync(fileId, cancellationToken);
                return await client.ReadRangeAsync(fileId, offset, destination, chosen, cancellationToken);
            }
            catch (FdfsException e) when (attempt == 0 && e is FdfsConnectionException or FdfsTimeoutException
                                          && !cancellationToken.IsCancellationRequested)
            {
                // The storage we remembered died; the tracker may know a live one by now.
                storage.Address = null;
                MountLog.ReadFailover(logger, chosen?.ToString() ?? "?", fileId.ToString());
            }
            catch (Exception e) when (IsClusterFailure(e))
            {
                storage.Address = null;
                return FsResult<int>.Fail(ToErrno("read", fileId.ToString(), e, cancellationToken));
            }
        }
    }

    public async ValueTask<int> DeleteAsync(FileId fileId, CancellationToken cancellationToken)
    {
        try
        {
            await client.DeleteAsync(fileId, cancellationToken);
            MountLog.Deleted(logger, fileId.ToString());
            return 0;
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            return ToErrno("delete", fileId.ToString(), e, cancellationToken);
        }
    }

    public async ValueTask<FsResult<IReadOnlyDictionary<string, string>>> GetMetadataAsync(FileId fileId, CancellationToken cancellationToken)
    {
        try
        {
            // FastDFS answers ENOENT both for "no metadata" and "no file"; stat already proved the file exists.
            var metadata = await client.TryGetMetadataAsync(fileId, cancellationToken);
            return FsResult<IReadOnlyDictionary<string, string>>.Ok(metadata ?? EmptyMetadata);
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            return FsResult<IReadOnlyDictionary<string, string>>.Fail(ToErrno("get metadata", fileId.ToString(), e, cancellationToken));
        }
    }

    public async ValueTask<int> SetMetadataAsync(
        FileId fileId, IReadOnlyDictionary<string, string> metadata, MetadataFlag flag, CancellationToken cancellationToken)
    {
        try
        {
            await client.SetMetadataAsync(fileId, metadata, flag, cancellationToken);
            return 0;
        }
        catch (ArgumentException)
        {
            // The client refuses what the storage would truncate; the core checks first, so this is a safety net.
            return Errno.EINVAL;
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            return ToErrno("set metadata", fileId.ToString(), e, cancellationToken);
        }
    }

    public async ValueTask<FsResult<FileId>> UploadAppenderAsync(string group, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        try
        {
            // The client asks the tracker for the group's upload choice (QUERY_STORE_WITH_GROUP) on every upload.
            return await client.UploadAppenderAsync(content, null, null, group, null, cancellationToken);
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            return FsResult<FileId>.Fail(ToErrno("upload appender", group, e, cancellationToken));
        }
    }

    public async ValueTask<int> AppendAsync(FileId fileId, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        try
        {
            await client.AppendAsync(fileId, content, cancellationToken);
            return 0;
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            return ToErrno("append", fileId.ToString(), e, cancellationToken);
        }
    }

    public async ValueTask<int> ModifyAsync(FileId fileId, long offset, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        try
        {
            await client.ModifyAsync(fileId, offset, content, cancellationToken);
            return 0;
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            return ToErrno("modify", fileId.ToString(), e, cancellationToken);
        }
    }

    public async ValueTask<int> TruncateAsync(FileId fileId, long size, CancellationToken cancellationToken)
    {
        try
        {
            await client.TruncateAsync(fileId, size, cancellationToken);
            return 0;
        }
        catch (Exception e) when (IsClusterFailure(e))
        {
            return ToErrno("truncate", fileId.ToString(), e, cancellationToken);
        }
    }

    private static readonly IReadOnlyDictionary<string, string> EmptyMetadata = new Dictionary<string, string>();

    private static bool IsClusterFailure(Exception e) => e is FdfsException or OperationCanceledException or IOException;

    private int ToErrno(string operation, string target, Exception e, CancellationToken cancellationToken)
    {
        if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            MountLog.OperationTimedOut(logger, operation, target, operationTimeout.TotalSeconds);
            return Errno.EIO;
        }

        if (e is FdfsServerException server)
        {
            // A server's answer is the file system's answer where it means the same thing.
            if (server.Errno is Errno.ENOENT or Errno.ENOSPC or Errno.EPERM or Errno.EACCES)
            {
                return server.Errno;
            }
        }

        MountLog.OperationFailed(logger, operation, target, e.Message);
        return Errno.EIO;
    }
}
