using System.Globalization;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Storage;

/// <summary>APPEND_FILE, MODIFY_FILE, TRUNCATE_FILE, REGENERATE_APPENDER_FILENAME: appender files only.</summary>
internal sealed partial class StorageRequestHandler
{
    /// <summary>Checks an appender-file name taken from the request; the error says why it is refused (EINVAL).</summary>
    private bool TryLocateAppender(string remote, out StorePath path, out string local, out string error)
    {
        if (!TryLocate(remote, out path, out local, out error))
        {
            return false;
        }

        if (!FileNames.TryDecode(remote, out var info) || !info.IsAppender)
        {
            error = $"{remote} is not an appender file";
            return false;
        }

        return true;
    }

    private async ValueTask<bool> AppendOrModifyAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, bool modify, CancellationToken cancellationToken)
    {
        var command = modify ? StorageCommand.ModifyFile : StorageCommand.AppendFile;
        int fixedSize = AppenderRequestHeader.FixedSize(command);
        if (header.BodyLength < fixedSize)
        {
            return await Invalid(connection, header, state, $"body of {header.BodyLength} bytes is too short", cancellationToken);
        }

        int have = await ReadAtLeastAsync(connection, state, 0, fixedSize, cancellationToken);
        var request = AppenderRequestHeader.Read(command, state.Buffer);
        if (request.NameLength <= 0 || request.NameLength > FdfsConstants.RemoteFileNameMaxLength || request.Size < 0 || request.Offset < 0
            || fixedSize + request.NameLength + request.Size != header.BodyLength)
        {
            return await Invalid(connection, header, state, $"name length {request.NameLength}, offset {request.Offset}, size {request.Size} do not match the body length {header.BodyLength}", cancellationToken);
        }

        int contentStart = fixedSize + (int)request.NameLength;
        have = await ReadAtLeastAsync(connection, state, have, contentStart, cancellationToken);
        string remote = Encoding.UTF8.GetString(state.Buffer, fixedSize, (int)request.NameLength);
        if (!TryLocateAppender(remote, out _, out string local, out string error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        Count(modify ? StatCounter.TotalModifyCount : StatCounter.TotalAppendCount);
        Count(modify ? StatCounter.TotalModifyBytes : StatCounter.TotalAppendBytes, request.Size);
        SemaphoreSlim? fileLock = LockFor(remote);
        await fileLock.WaitAsync(cancellationToken);
        long offset;
        byte refused = 0;
        try
        {
            Count(StatCounter.TotalFileOpenCount);
            Microsoft.Win32.SafeHandles.SafeFileHandle handle;
            try
            {
                handle = File.OpenHandle(local, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                fileLock.Release();
                fileLock = null;
                return await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, $"{remote} does not exist", cancellationToken);
            }

            using (handle)
            {
                Count(StatCounter.SuccessFileOpenCount);
                long size = RandomAccess.GetLength(handle);
                offset = modify ? request.Offset : size;
                if (offset > size)
                {
                    return await Invalid(connection, header, state, $"modify offset {offset} is beyond the size {size} of {remote}", cancellationToken);
                }

                refused = await WriteBodyAtAsync(connection, state, handle, size, offset, request.Size, contentStart, have, cancellationToken);
            }

            if (refused == 0)
            {
                await _binlog.AppendAsync(Now(), modify ? BinlogOp.Modify : BinlogOp.Append, remote,
                    string.Create(CultureInfo.InvariantCulture, $"{offset} {request.Size}"));
            }
        }
        finally
        {
            fileLock?.Release();
        }

        if (refused != 0)
        {
            return await RefuseAsync(connection, header, state, refused,
                $"{(modify ? "modify" : "append")} of {request.Size} bytes at {offset} to {remote}: {FdfsErrno.Describe(refused)}", cancellationToken);
        }

        Count(modify ? StatCounter.SuccessModifyCount : StatCounter.SuccessAppendCount);
        Count(modify ? StatCounter.SuccessModifyBytes : StatCounter.SuccessAppendBytes, request.Size);
        _stats[StatCounter.LastSourceUpdate] = Now();
        await SendEmptyOkAsync(connection, state, cancellationToken);
        return true;
    }

    private async ValueTask<bool> TruncateAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        int length = await ReadSmallBodyAsync(connection, header, state, 17, cancellationToken);
        var request = AppenderRequestHeader.Read(StorageCommand.TruncateFile, state.Buffer);
        if (request.NameLength <= 0 || request.NameLength > FdfsConstants.RemoteFileNameMaxLength || request.Size < 0 || 16 + request.NameLength != length)
        {
            return await Invalid(connection, header, state, $"name length {request.NameLength}, size {request.Size} do not match the body length {length}", cancellationToken);
        }

        string remote = Encoding.UTF8.GetString(state.Buffer, 16, (int)request.NameLength);
        if (!TryLocateAppender(remote, out _, out string local, out string error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        Count(StatCounter.TotalTruncateCount);
        var fileLock = LockFor(remote);
        await fileLock.WaitAsync(cancellationToken);
        try
        {
            using var handle = File.OpenHandle(local, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            long old = RandomAccess.GetLength(handle);
            if (old != request.Size)
            {
                if (!TrySetLength(handle, request.Size))
                {
                    return await RefuseAsync(connection, header, state, FdfsErrno.EFBIG, $"truncate of {remote} to {request.Size} bytes: past the file system's limit", cancellationToken);
                }

                await _binlog.AppendAsync(Now(), BinlogOp.Truncate, remote, string.Create(CultureInfo.InvariantCulture, $"{old} {request.Size}"));
                _stats[StatCounter.LastSourceUpdate] = Now();
            }
        }
        finally
        {
            fileLock.Release();
        }

        Count(StatCounter.SuccessTruncateCount);
        await SendEmptyOkAsync(connection, state, cancellationToken);
        return true;
    }

    /// <summary>
    /// ftruncate, false when the size is past the file system's limit: the EFBIG that FastDFS answers with, which .NET
    /// raises as ArgumentOutOfRangeException (a truncate to 2^62 bytes is a client's mistake, not a server failure).
    /// </summary>
    private static bool TrySetLength(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long size)
    {
        try
        {
            RandomAccess.SetLength(handle, size);
            return true;
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    /// <summary>
    /// The body of an APPEND or MODIFY (a client's or a peer's sync) written at <paramref name="offset"/> of a file of
    /// <paramref name="size"/> bytes, so that a change this storage cannot hold leaves the file as it was: 0, or the errno
    /// to answer (EFBIG past the file system's limit or RLIMIT_FSIZE, ENOSPC; the rest of the body is left unread).
    /// An overwrite that also grows the file checks the new size first (overwritten bytes could not be restored);
    /// growing by writing alone is not checked (readers would see zeros until the bytes arrive), and on any failure
    /// the bytes past the old end are cut off again, as FastDFS's dio_append_finish_clean_up does.
    /// </summary>
    private async ValueTask<byte> WriteBodyAtAsync(
        FdfsConnection connection, StorageConnectionState state, Microsoft.Win32.SafeHandles.SafeFileHandle handle,
        long size, long offset, long length, int contentStart, int have, CancellationToken cancellationToken)
    {
        long end = offset + length;
        if (offset < size && end > size && !TrySetLength(handle, end))
        {
            return FdfsErrno.EFBIG;
        }

        try
        {
            await ReceiveIntoAsync(connection, state, handle, offset, contentStart, have, hash: false, cancellationToken);
            return 0;
        }
        catch (Exception e) when (end > size)
        {
            RandomAccess.SetLength(handle, size);
            byte refused = SpaceErrno(e);
            if (refused == 0)
            {
                throw;
            }

            return refused;
        }
    }

    /// <summary>
    /// EFBIG or ENOSPC from a write, else 0. .NET raises EFBIG as ArgumentOutOfRangeException and ENOSPC as an
    /// IOException carrying the errno.
    /// </summary>
    private static byte SpaceErrno(Exception e) => e switch
    {
        ArgumentOutOfRangeException => FdfsErrno.EFBIG,
        IOException when (e.HResult & 0xFFFF) == NativeMethods.ENOSPC => FdfsErrno.ENOSPC,
        _ => 0,
    };

    /// <summary>Renames an appender file to a normal name encoding its size, the time and its CRC32 (6.02+).</summary>
    private async ValueTask<bool> RegenerateAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        int length = await ReadSmallBodyAsync(connection, header, state, FdfsConstants.LogicPathLength + FdfsConstants.FileNameCoreLength, cancellationToken);
        if (length > FdfsConstants.RemoteFileNameMaxLength)
        {
            return await Invalid(connection, header, state, $"file name of {length} bytes is too long", cancellationToken);
        }

        string remote = Encoding.UTF8.GetString(state.Buffer, 0, length);
        if (!TryLocateAppender(remote, out var path, out string local, out string error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        string newRemote;
        var fileLock = LockFor(remote);
        await fileLock.WaitAsync(cancellationToken);
        try
        {
            if (!File.Exists(local))
            {
                return await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, $"{remote} does not exist", cancellationToken);
            }

            long size = new FileInfo(local).Length;
            var computed = await ComputeCrcAsync(connection, remote, local, size, cancellationToken);
            if (computed is not { } value)
            {
                return false; // the client is gone: it would not learn the new name
            }

            if (value.TimedOut)
            {
                return await RefuseAsync(connection, header, state, FdfsErrno.ETIMEDOUT,
                    $"CRC32 of {remote} ({size} bytes) takes longer than network_timeout", cancellationToken);
            }

            uint crc = value.Crc;
            long now = Now();

            // Keep the old extension (whatever follows the last '.' of the name part).
            string name = remote[FdfsConstants.LogicPathLength..];
            int dot = name.LastIndexOf('.');
            string? ext = dot >= FdfsConstants.FileNameCoreLength ? name[(dot + 1)..] : null;
            string newName = FileNames.MakeName(SourceFor(connection), now, FileNames.MakeSizeField(size, false, Random.Shared.Next()), crc, ext, Random.Shared);
            newRemote = remote[..FdfsConstants.LogicPathLength] + newName;
            string newLocal = _paths.LocalPath(path, newRemote);
            File.Move(local, newLocal, overwrite: false);
            if (File.Exists(local + MetaSuffix))
            {
                File.Move(local + MetaSuffix, newLocal + MetaSuffix, overwrite: false);
            }

            await _binlog.AppendAsync(now, BinlogOp.Rename, newRemote, remote);
            _stats[StatCounter.LastSourceUpdate] = now;
        }
        finally
        {
            fileLock.Release();
        }

        await SendFileIdAsync(connection, state, newRemote, cancellationToken);
        return true;
    }
}
