using System.Globalization;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Win32.SafeHandles;

namespace FastDfs.Storage;

/// <summary>
/// Storage-to-storage replication, receiver side (protocol notes 5.3): a peer replays its binlog as these commands.
/// Every change keeps the source's timestamp (file mtime, binlog record) and is logged with the lower-case letter.
/// Names go through the same validation as client requests, so a peer cannot write outside a store path.
/// </summary>
internal sealed partial class StorageRequestHandler
{
    private const int MaxNameLength = FdfsConstants.RemoteFileNameMaxLength;

    /// <summary>Per source storage, the newest source timestamp applied here (for STORAGE_SYNC_REPORT).</summary>
    public SyncProgress Progress { get; } = new();

    /// <summary>The binlog, for the sync workers that replay it.</summary>
    internal Binlog Binlog => _binlog;

    private async ValueTask<bool> ReportServerIdAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        if (header.BodyLength != ReportServerIdRequest.Size)
        {
            return await Invalid(connection, header, state, $"server id body of {header.BodyLength} bytes", cancellationToken);
        }

        int length = await ReadSmallBodyAsync(connection, header, state, ReportServerIdRequest.Size, cancellationToken);
        string id = ReportServerIdRequest.Read(state.Buffer.AsSpan(0, length)).StorageId;
        if (id.Length == 0)
        {
            return await Invalid(connection, header, state, "empty server id", cancellationToken);
        }

        state.SyncSourceId = id;
        await SendEmptyOkAsync(connection, state, cancellationToken);
        return true;
    }

    /// <summary>
    /// SYNC_CREATE_FILE / SYNC_UPDATE_FILE: the whole file. Create of a file that exists answers EEXIST (the sender
    /// counts that as done); a request whose header status is EEXIST carries no content and only confirms.
    /// </summary>
    private async ValueTask<bool> SyncCopyFileAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, bool update, CancellationToken cancellationToken)
    {
        if (header.BodyLength < SyncFileHeader.Size)
        {
            return await Invalid(connection, header, state, $"sync body of {header.BodyLength} bytes is too short", cancellationToken);
        }

        int have = await ReadAtLeastAsync(connection, state, 0, SyncFileHeader.Size, cancellationToken);
        var request = SyncFileHeader.Read(state.Buffer);
        bool confirmOnly = header.Status == FdfsErrno.EEXIST;
        long contentLength = confirmOnly ? 0 : request.FileSize;
        if (request.NameLength <= 0 || request.NameLength > MaxNameLength || request.FileSize < 0
            || SyncFileHeader.Size + request.NameLength + contentLength != header.BodyLength)
        {
            return await Invalid(connection, header, state, $"name length {request.NameLength}, size {request.FileSize} do not match the body length {header.BodyLength}", cancellationToken);
        }

        if (!IsOurGroup(state.Buffer.AsSpan(20, GroupField)))
        {
            return await Invalid(connection, header, state, $"group '{request.Group}' is not ours ({_group})", cancellationToken);
        }

        int contentStart = SyncFileHeader.Size + (int)request.NameLength;
        have = await ReadAtLeastAsync(connection, state, have, contentStart, cancellationToken);
        string remote = Encoding.UTF8.GetString(state.Buffer, SyncFileHeader.Size, (int)request.NameLength);
        if (!TryLocate(remote, out var path, out string local, out string error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        if (confirmOnly)
        {
            await SendEmptyOkAsync(connection, state, cancellationToken);
            return true;
        }

        // total_sync_in_bytes counts what arrives; success_sync_in_bytes what was applied (file content only, as FastDFS).
        Count(StatCounter.TotalSyncInBytes, request.FileSize);
        SemaphoreSlim? fileLock = LockFor(remote);
        await fileLock.WaitAsync(cancellationToken);
        try
        {
            // Create: linkat below refuses an existing name (EEXIST), so no stat first; only a replay pays for the content.
            // The unnamed file starts in a random directory, as an upload's does (StorePaths.RandomSubdir): created in
            // the destination, every replica of a 100-file run lands in one block group, and ext4 walks that group's
            // recently freed inodes on each creation.
            var mtime = DateTimeOffset.FromUnixTimeSeconds(request.Timestamp).UtcDateTime;
            var unnamed = update ? null : OpenSpreadTempFile(path);
            if (unnamed is not null)
            {
                using (unnamed)
                {
                    byte refused = await ReceiveContentAsync(connection, state, unnamed, contentStart, have, hash: false, cancellationToken);
                    if (refused != 0)
                    {
                        // Nothing to clean: the unnamed file goes with its handle, closed now so its blocks are free
                        // before the rest of the body is skipped.
                        unnamed.Dispose();
                        fileLock.Release();
                        fileLock = null;
                        return await RefuseCopyAsync(connection, header, state, refused, update, remote, request.FileSize, cancellationToken);
                    }

                    NativeMethods.SetModificationTime(unnamed, request.Timestamp);
                    int errno = TryLinkIntoPlace(unnamed, local);
                    if (errno == NativeMethods.EEXIST)
                    {
                        return await RefuseAsync(connection, header, state, FdfsErrno.EEXIST, $"{remote} already exists", cancellationToken);
                    }

                    if (errno != 0)
                    {
                        throw new IOException($"cannot name {local}: errno {errno}");
                    }
                }
            }
            else
            {
                if (!Directory.Exists(path.TempDir))
                {
                    Directory.CreateDirectory(path.TempDir);
                }

                var (temp, refused) = await ReceiveToTempAsync(connection, state, path, contentStart, have, cancellationToken);
                if (refused != 0)
                {
                    // ReceiveToTempAsync removed the temp file.
                    fileLock.Release();
                    fileLock = null;
                    return await RefuseCopyAsync(connection, header, state, refused, update, remote, request.FileSize, cancellationToken);
                }

                try
                {
                    File.SetLastWriteTimeUtc(temp, mtime);
                    MoveIntoPlace(temp, local, overwrite: update);
                }
                catch (IOException) when (!update && File.Exists(local))
                {
                    TryDelete(temp);
                    return await RefuseAsync(connection, header, state, FdfsErrno.EEXIST, $"{remote} already exists", cancellationToken);
                }
                catch
                {
                    TryDelete(temp);
                    throw;
                }
            }

            await _binlog.AppendAsync(request.Timestamp, BinlogOp.ToReplica(update ? BinlogOp.Update : BinlogOp.Create), remote);
        }
        finally
        {
            fileLock?.Release();
        }

        path.Consumed(request.FileSize);
        Count(StatCounter.SuccessSyncInBytes, request.FileSize);
        Applied(state, request.Timestamp);
        await SendEmptyOkAsync(connection, state, cancellationToken);
        return true;
    }

    /// <summary>
    /// A replica that cannot hold a file (EFBIG: past its file system's size limit or its RLIMIT_FSIZE) or has no room
    /// (ENOSPC) answers so and keeps the connection, the rest of the body skipped: a dropped connection would make the
    /// sender replay the same record forever (SyncWorker skips EFBIG, logged, and retries ENOSPC after a pause).
    /// </summary>
    private ValueTask<bool> RefuseCopyAsync(
        FdfsConnection connection, PacketHeader header, StorageConnectionState state, byte errno, bool update, string remote, long size, CancellationToken cancellationToken) =>
        RefuseAsync(connection, header, state, errno, $"sync {(update ? "update" : "create")} of {remote} ({size} bytes): {FdfsErrno.Describe(errno)}", cancellationToken);

    private async ValueTask<bool> SyncDeleteAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        int length = await ReadSmallBodyAsync(connection, header, state, SyncDeleteHeader.Size + 1, cancellationToken);
        var request = SyncDeleteHeader.Read(state.Buffer);
        if (!IsOurGroup(state.Buffer.AsSpan(4, GroupField)))
        {
            return await Invalid(connection, header, state, $"group '{request.Group}' is not ours ({_group})", cancellationToken);
        }

        string remote = Encoding.UTF8.GetString(state.Buffer, SyncDeleteHeader.Size, length - SyncDeleteHeader.Size);
        if (!TryLocate(remote, out _, out string local, out string error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        var fileLock = LockFor(remote);
        await fileLock.WaitAsync(cancellationToken);
        try
        {
            if (!DeleteIfExists(local))
            {
                return await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, $"{remote} does not exist", cancellationToken);
            }

            await _binlog.AppendAsync(request.Timestamp, BinlogOp.ToReplica(BinlogOp.Delete), remote);
        }
        finally
        {
            fileLock.Release();
        }

        Applied(state, request.Timestamp);
        await SendEmptyOkAsync(connection, state, cancellationToken);
        return true;
    }

    /// <summary>
    /// SYNC_APPEND_FILE / SYNC_MODIFY_FILE: bytes at the source's offset. Writing at the given offset (not at the end)
    /// makes a replay of an already applied record harmless. ENOENT when the file is missing or shorter than the
    /// offset: the sender then copies the whole file.
    /// </summary>
    private async ValueTask<bool> SyncAppendOrModifyAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, bool modify, CancellationToken cancellationToken)
    {
        if (header.BodyLength < SyncRangeHeader.Size)
        {
            return await Invalid(connection, header, state, $"sync body of {header.BodyLength} bytes is too short", cancellationToken);
        }

        int have = await ReadAtLeastAsync(connection, state, 0, SyncRangeHeader.Size, cancellationToken);
        var request = SyncRangeHeader.Read(state.Buffer);
        if (request.NameLength <= 0 || request.NameLength > MaxNameLength || request.First < 0 || request.Second < 0
            || SyncRangeHeader.Size + request.NameLength + request.Second != header.BodyLength)
        {
            return await Invalid(connection, header, state, $"name length {request.NameLength}, offset {request.First}, size {request.Second} do not match the body length {header.BodyLength}", cancellationToken);
        }

        if (!IsOurGroup(state.Buffer.AsSpan(28, GroupField)))
        {
            return await Invalid(connection, header, state, $"group '{request.Group}' is not ours ({_group})", cancellationToken);
        }

        int contentStart = SyncRangeHeader.Size + (int)request.NameLength;
        have = await ReadAtLeastAsync(connection, state, have, contentStart, cancellationToken);
        string remote = Encoding.UTF8.GetString(state.Buffer, SyncRangeHeader.Size, (int)request.NameLength);
        if (!TryLocateAppender(remote, out _, out string local, out string error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        Count(StatCounter.TotalSyncInBytes, request.Second);
        var fileLock = LockFor(remote);
        await fileLock.WaitAsync(cancellationToken);
        byte refused = 0;
        try
        {
            SafeFileHandle handle;
            try
            {
                handle = File.OpenHandle(local, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                return await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, $"{remote} does not exist", cancellationToken);
            }

            using (handle)
            {
                long size = RandomAccess.GetLength(handle);
                if (size < request.First)
                {
                    return await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, $"{remote} is shorter than offset {request.First}", cancellationToken);
                }

                // As for a client's APPEND/MODIFY: a file this storage cannot hold stays as it was.
                refused = await WriteBodyAtAsync(connection, state, handle, size, request.First, request.Second, contentStart, have, cancellationToken);
                if (refused == 0)
                {
                    NativeMethods.SetModificationTime(handle, request.Timestamp);
                }
            }

            if (refused == 0)
            {
                await _binlog.AppendAsync(request.Timestamp, BinlogOp.ToReplica(modify ? BinlogOp.Modify : BinlogOp.Append), remote,
                    string.Create(CultureInfo.InvariantCulture, $"{request.First} {request.Second}"));
            }
        }
        finally
        {
            fileLock.Release();
        }

        if (refused != 0)
        {
            return await RefuseAsync(connection, header, state, refused,
                $"sync {(modify ? "modify" : "append")} of {request.Second} bytes at {request.First} to {remote}: {FdfsErrno.Describe(refused)}", cancellationToken);
        }

        Count(StatCounter.SuccessSyncInBytes, request.Second);

        Applied(state, request.Timestamp);
        await SendEmptyOkAsync(connection, state, cancellationToken);
        return true;
    }

    private async ValueTask<bool> SyncTruncateAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        int length = await ReadSmallBodyAsync(connection, header, state, SyncRangeHeader.Size + 1, cancellationToken);
        var request = SyncRangeHeader.Read(state.Buffer);
        if (request.NameLength <= 0 || request.NameLength > MaxNameLength || request.Second < 0 || SyncRangeHeader.Size + request.NameLength != length)
        {
            return await Invalid(connection, header, state, $"name length {request.NameLength}, size {request.Second} do not match the body length {length}", cancellationToken);
        }

        if (!IsOurGroup(state.Buffer.AsSpan(28, GroupField)))
        {
            return await Invalid(connection, header, state, $"group '{request.Group}' is not ours ({_group})", cancellationToken);
        }

        string remote = Encoding.UTF8.GetString(state.Buffer, SyncRangeHeader.Size, (int)request.NameLength);
        if (!TryLocateAppender(remote, out _, out string local, out string error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        var fileLock = LockFor(remote);
        await fileLock.WaitAsync(cancellationToken);
        try
        {
            if (!File.Exists(local))
            {
                return await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, $"{remote} does not exist", cancellationToken);
            }

            using (var handle = File.OpenHandle(local, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
            {
                if (!TrySetLength(handle, request.Second))
                {
                    return await RefuseAsync(connection, header, state, FdfsErrno.EFBIG, $"sync truncate of {remote} to {request.Second} bytes: past the file system's limit", cancellationToken);
                }

                NativeMethods.SetModificationTime(handle, request.Timestamp);
            }

            await _binlog.AppendAsync(request.Timestamp, BinlogOp.ToReplica(BinlogOp.Truncate), remote,
                string.Create(CultureInfo.InvariantCulture, $"{request.First} {request.Second}"));
        }
        finally
        {
            fileLock.Release();
        }

        Applied(state, request.Timestamp);
        await SendEmptyOkAsync(connection, state, cancellationToken);
        return true;
    }

    /// <summary>Reads the two names of SYNC_RENAME_FILE / SYNC_CREATE_LINK; null names when the body is malformed.</summary>
    private async ValueTask<(SyncTwoNamesHeader Request, string? First, string? Second)> ReadTwoNamesAsync(
        FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        int length = await ReadSmallBodyAsync(connection, header, state, SyncTwoNamesHeader.Size + 2, cancellationToken);
        var request = SyncTwoNamesHeader.Read(state.Buffer);
        if (request.FirstNameLength <= 0 || request.FirstNameLength > MaxNameLength || request.SecondNameLength <= 0
            || request.SecondNameLength > MaxNameLength || SyncTwoNamesHeader.Size + request.FirstNameLength + request.SecondNameLength != length
            || !IsOurGroup(state.Buffer.AsSpan(20, GroupField)))
        {
            return (request, null, null);
        }

        string first = Encoding.UTF8.GetString(state.Buffer, SyncTwoNamesHeader.Size, (int)request.FirstNameLength);
        string second = Encoding.UTF8.GetString(state.Buffer, SyncTwoNamesHeader.Size + (int)request.FirstNameLength, (int)request.SecondNameLength);
        return (request, first, second);
    }

    /// <summary>SYNC_RENAME_FILE (regenerate appender): EEXIST when the rename was applied before, ENOENT when neither name exists.</summary>
    private async ValueTask<bool> SyncRenameAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        var (request, newRemote, oldRemote) = await ReadTwoNamesAsync(connection, header, state, cancellationToken);
        if (newRemote is null || oldRemote is null)
        {
            return await Invalid(connection, header, state, "malformed sync rename", cancellationToken);
        }

        if (!TryLocate(newRemote, out _, out string newLocal, out string error) || !TryLocate(oldRemote, out _, out string oldLocal, out error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        var fileLock = LockFor(oldRemote);
        await fileLock.WaitAsync(cancellationToken);
        try
        {
            if (!File.Exists(oldLocal))
            {
                return File.Exists(newLocal)
                    ? await RefuseAsync(connection, header, state, FdfsErrno.EEXIST, $"{newRemote} already exists", cancellationToken)
                    : await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, $"{oldRemote} does not exist", cancellationToken);
            }

            File.Move(oldLocal, newLocal, overwrite: true);
            if (File.Exists(oldLocal + MetaSuffix))
            {
                File.Move(oldLocal + MetaSuffix, newLocal + MetaSuffix, overwrite: true);
            }

            await _binlog.AppendAsync(request.Timestamp, BinlogOp.ToReplica(BinlogOp.Rename), newRemote, oldRemote);
        }
        finally
        {
            fileLock.Release();
        }

        Applied(state, request.Timestamp);
        await SendEmptyOkAsync(connection, state, cancellationToken);
        return true;
    }

    /// <summary>SYNC_CREATE_LINK: a symbolic link to a file of the same storage (de-dup, linked slaves).</summary>
    private async ValueTask<bool> SyncCreateLinkAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        var (request, linkRemote, sourceRemote) = await ReadTwoNamesAsync(connection, header, state, cancellationToken);
        if (linkRemote is null || sourceRemote is null)
        {
            return await Invalid(connection, header, state, "malformed sync link", cancellationToken);
        }

        if (!TryLocate(linkRemote, out _, out string linkLocal, out string error) || !TryLocate(sourceRemote, out _, out string sourceLocal, out error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        var fileLock = LockFor(linkRemote);
        await fileLock.WaitAsync(cancellationToken);
        try
        {
            if (File.Exists(linkLocal) || new FileInfo(linkLocal).LinkTarget is not null)
            {
                return await RefuseAsync(connection, header, state, FdfsErrno.EEXIST, $"{linkRemote} already exists", cancellationToken);
            }

            if (!File.Exists(sourceLocal))
            {
                return await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, $"{sourceRemote} does not exist", cancellationToken);
            }

            File.CreateSymbolicLink(linkLocal, sourceLocal);
            await _binlog.AppendAsync(request.Timestamp, BinlogOp.ToReplica(BinlogOp.Link), linkRemote, sourceRemote);
        }
        finally
        {
            fileLock.Release();
        }

        Applied(state, request.Timestamp);
        await SendEmptyOkAsync(connection, state, cancellationToken);
        return true;
    }

    /// <summary>
    /// FETCH_ONE_PATH_BINLOG (disk recovery, 9.6): every binlog line, source and replica, naming a file of the
    /// requested store path. Collected into a temp file first so the response can state its length.
    /// </summary>
    private async ValueTask<bool> FetchOnePathBinlogAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        if (header.BodyLength != FetchOnePathBinlogRequest.Size)
        {
            return await Invalid(connection, header, state, $"fetch binlog body of {header.BodyLength} bytes", cancellationToken);
        }

        int length = await ReadSmallBodyAsync(connection, header, state, FetchOnePathBinlogRequest.Size, cancellationToken);
        var request = FetchOnePathBinlogRequest.Read(state.Buffer.AsSpan(0, length));
        if (!IsOurGroup(state.Buffer.AsSpan(0, GroupField)) || request.StorePathIndex >= _paths.Count)
        {
            return await Invalid(connection, header, state, $"group '{request.Group}' / store path {request.StorePathIndex}", cancellationToken);
        }

        await _binlog.FlushAsync(cancellationToken);
        await EventThread.Leave();
        string prefix = " " + _paths.Paths[request.StorePathIndex].Prefix + "/";
        string temp = Path.Combine(_binlog.FolderPath, string.Concat(".fetch-", s_tempTag, Interlocked.Increment(ref s_tempSequence).ToString(CultureInfo.InvariantCulture), ".tmp"));
        try
        {
            await using (var output = new StreamWriter(temp, append: false, new UTF8Encoding(false)))
            {
                for (int index = 0; index <= _binlog.CurrentIndex; index++)
                {
                    string file = Path.Combine(_binlog.FolderPath, Binlog.FileName(index));
                    if (!File.Exists(file))
                    {
                        continue;
                    }

                    using var input = new StreamReader(new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
                    while (await input.ReadLineAsync(cancellationToken) is { } line)
                    {
                        // "<ts> <op> Mxx/...": the name starts after the second space.
                        int space = line.IndexOf(' ', StringComparison.Ordinal);
                        if (space > 0 && line.Length > space + 2 && string.CompareOrdinal(line, space + 2, prefix, 0, prefix.Length) == 0)
                        {
                            await output.WriteAsync(line.AsMemory(), cancellationToken);
                            await output.WriteAsync('\n');
                        }
                    }
                }
            }

            using var handle = File.OpenHandle(temp, FileMode.Open, FileAccess.Read);
            long size = RandomAccess.GetLength(handle);
            PacketHeader.Response(size).Write(state.Buffer);
            await connection.SendAsync(state.Buffer.AsMemory(0, FdfsConstants.HeaderSize), cancellationToken);
            await EventThread.Leave();
            long offset = 0;
            while (offset < size)
            {
                int n = RandomAccess.Read(handle, state.Buffer.AsSpan(0, (int)Math.Min(state.Buffer.Length, size - offset)), offset);
                if (n <= 0)
                {
                    throw new IOException("binlog copy shrank while sending");
                }

                await connection.SendAsync(state.Buffer.AsMemory(0, n), cancellationToken);
                await EventThread.Leave();
                offset += n;
            }
        }
        finally
        {
            TryDelete(temp);
        }

        return true;
    }

    private void Applied(StorageConnectionState state, long timestamp)
    {
        Progress.Applied(state.SyncSourceId, timestamp);
        _stats[StatCounter.LastSyncUpdate] = Now();
    }
}
