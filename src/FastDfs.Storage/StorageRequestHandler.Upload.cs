using System.Runtime.CompilerServices;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Win32.SafeHandles;

namespace FastDfs.Storage;

/// <summary>UPLOAD_FILE, UPLOAD_APPENDER_FILE, UPLOAD_SLAVE_FILE: streamed to a temp file, then renamed into place.</summary>
internal sealed partial class StorageRequestHandler
{
    private static long s_tempSequence;
    private static readonly string s_tempTag = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "-";

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> UploadAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, bool appender, CancellationToken cancellationToken)
    {
        if (header.BodyLength < UploadRequestHeader.Size)
        {
            return await Invalid(connection, header, state, $"upload body of {header.BodyLength} bytes is too short", cancellationToken);
        }

        int have = await ReadAtLeastAsync(connection, state, 0, UploadRequestHeader.Size, cancellationToken);
        var request = UploadRequestHeader.Read(state.Buffer);
        if (request.FileSize != header.BodyLength - UploadRequestHeader.Size)
        {
            return await Invalid(connection, header, state, $"file size {request.FileSize} does not match the body length {header.BodyLength}", cancellationToken);
        }

        if (!FileNames.IsValidExtension(request.Extension))
        {
            return await Invalid(connection, header, state, $"invalid extension '{request.Extension}'", cancellationToken);
        }

        byte errno = _paths.Choose(request.StorePathIndex, out var chosen);
        if (errno != 0)
        {
            return await RefuseAsync(connection, header, state, errno, $"store path index {request.StorePathIndex}", cancellationToken);
        }

        var path = chosen!;
        if (_paths.IsFull(path, request.FileSize))
        {
            return await RefuseAsync(connection, header, state, FdfsErrno.ENOSPC, $"store path {path.Root} has reached its reserve", cancellationToken);
        }

        Count(StatCounter.TotalUploadCount);
        Count(StatCounter.TotalUploadBytes, request.FileSize);
        string remote;
        long timestamp;
        var (high, low) = _paths.ChooseSubdir(path);
        var unnamed = OpenSpreadTempFile(path);
        if (unnamed is not null)
        {
            using (unnamed)
            {
                Count(StatCounter.TotalFileOpenCount);
                Count(StatCounter.SuccessFileOpenCount);
                state.Crc.Reset();
                byte refused = await ReceiveContentAsync(connection, state, unnamed, UploadRequestHeader.Size, have, hash: true, cancellationToken);
                if (refused != 0)
                {
                    unnamed.Dispose(); // the unnamed file's blocks are free before the rest of the body is skipped
                    return await RefuseUploadAsync(connection, header, state, refused, request.FileSize, path, cancellationToken);
                }

                remote = NameUpload(connection, state, path, high, low, request, appender, out timestamp);
                LinkIntoPlace(unnamed, _paths.LocalPath(path, remote));
            }
        }
        else
        {
            var (temp, refused) = await ReceiveToTempAsync(connection, state, path, UploadRequestHeader.Size, have, cancellationToken);
            if (refused != 0)
            {
                return await RefuseUploadAsync(connection, header, state, refused, request.FileSize, path, cancellationToken);
            }

            try
            {
                remote = NameUpload(connection, state, path, high, low, request, appender, out timestamp);

                // Names carry 23 random bits plus random digits, so a plain rename (one syscall) cannot clobber a file.
                MoveIntoPlace(temp, _paths.LocalPath(path, remote), overwrite: true);
            }
            catch
            {
                TryDelete(temp);
                throw;
            }
        }

        await _binlog.AppendAsync(timestamp, BinlogOp.Create, remote);

        path!.Consumed(request.FileSize);
        Count(StatCounter.SuccessUploadCount);
        Count(StatCounter.SuccessUploadBytes, request.FileSize);
        _stats[StatCounter.LastSourceUpdate] = Now();
        await SendFileIdAsync(connection, state, remote, cancellationToken);
        return true;
    }

    private async ValueTask<bool> UploadSlaveAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        if (header.BodyLength < UploadSlaveRequestHeader.Size)
        {
            return await Invalid(connection, header, state, $"slave upload body of {header.BodyLength} bytes is too short", cancellationToken);
        }

        int have = await ReadAtLeastAsync(connection, state, 0, UploadSlaveRequestHeader.Size, cancellationToken);
        var request = UploadSlaveRequestHeader.Read(state.Buffer);
        if (request.MasterNameLength <= FdfsConstants.LogicPathLength || request.MasterNameLength > FdfsConstants.RemoteFileNameMaxLength)
        {
            return await Invalid(connection, header, state, $"master name length {request.MasterNameLength} is invalid", cancellationToken);
        }

        if (request.FileSize < 0 || request.FileSize != header.BodyLength - UploadSlaveRequestHeader.Size - request.MasterNameLength)
        {
            return await Invalid(connection, header, state, $"file size {request.FileSize} does not match the body length {header.BodyLength}", cancellationToken);
        }

        if (!FileNames.IsValidPrefix(request.Prefix) || !FileNames.IsValidExtension(request.Extension)
            || (request.Extension.Length == 0 && request.Prefix == "-m"))
        {
            return await Invalid(connection, header, state, $"invalid prefix '{request.Prefix}' or extension '{request.Extension}'", cancellationToken);
        }

        int fixedEnd = UploadSlaveRequestHeader.Size + (int)request.MasterNameLength;
        have = await ReadAtLeastAsync(connection, state, have, fixedEnd, cancellationToken);
        string master = Encoding.UTF8.GetString(state.Buffer, UploadSlaveRequestHeader.Size, (int)request.MasterNameLength);
        if (!TryLocate(master, out var path, out string masterLocal, out string error))
        {
            return await Invalid(connection, header, state, "master: " + error, cancellationToken);
        }

        string slave = FileNames.MakeSlaveName(master, request.Prefix, request.Extension);
        if (!TryLocate(slave, out _, out string slaveLocal, out error))
        {
            return await Invalid(connection, header, state, "slave: " + error, cancellationToken);
        }

        if (!File.Exists(masterLocal))
        {
            return await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, $"master {master} does not exist", cancellationToken);
        }

        if (File.Exists(slaveLocal))
        {
            return await RefuseAsync(connection, header, state, FdfsErrno.EEXIST, $"slave {slave} already exists", cancellationToken);
        }

        if (_paths.IsFull(path, request.FileSize))
        {
            return await RefuseAsync(connection, header, state, FdfsErrno.ENOSPC, $"store path {path.Root} has reached its reserve", cancellationToken);
        }

        Count(StatCounter.TotalUploadCount);
        Count(StatCounter.TotalUploadBytes, request.FileSize);
        var (temp, refused) = await ReceiveToTempAsync(connection, state, path, fixedEnd, have, cancellationToken);
        if (refused != 0)
        {
            return await RefuseUploadAsync(connection, header, state, refused, request.FileSize, path, cancellationToken);
        }

        try
        {
            // No-replace move: two clients racing for the same slave name get one EEXIST.
            MoveIntoPlace(temp, slaveLocal, overwrite: false);
        }
        catch (IOException) when (File.Exists(slaveLocal))
        {
            TryDelete(temp);
            return await RefuseAsync(connection, header, state, FdfsErrno.EEXIST, $"slave {slave} already exists", cancellationToken);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }

        long now = Now();
        await _binlog.AppendAsync(now, BinlogOp.Create, slave);
        path.Consumed(request.FileSize);
        Count(StatCounter.SuccessUploadCount);
        Count(StatCounter.SuccessUploadBytes, request.FileSize);
        _stats[StatCounter.LastSourceUpdate] = now;
        await SendFileIdAsync(connection, state, slave, cancellationToken);
        return true;
    }

    /// <summary>
    /// A new file's whole content (upload, slave upload, a replica's whole-file sync; the file is new, so every failure
    /// leaves nothing of it): 0, or EFBIG / ENOSPC when the file system cannot hold it. Those two are answers, not
    /// I/O errors: the caller refuses the request and the rest of the body (<see cref="StorageConnectionState.Unread"/>,
    /// which counts only what was not received) is skipped, so the connection serves the next request. Any other
    /// failure throws.
    /// </summary>
    private async ValueTask<byte> ReceiveContentAsync(
        FdfsConnection connection, StorageConnectionState state, SafeFileHandle handle, int contentStart, int have, bool hash, CancellationToken cancellationToken)
    {
        byte refused = 0;
        try
        {
            await ReceiveIntoAsync(connection, state, handle, 0, contentStart, have, hash, cancellationToken);
        }
        catch (Exception e) when ((refused = SpaceErrno(e)) != 0)
        {
            // RLIMIT_FSIZE (SIGXFSZ is ignored) or the file system's maximum size: .NET raises EFBIG as an
            // ArgumentOutOfRangeException, which no generic I/O handler takes for a disk error.
        }

        return refused;
    }

    /// <summary>
    /// Streams the rest of the body (content starts at <paramref name="contentStart"/> in the buffer, which holds
    /// <paramref name="have"/> bytes) into a new temp file under the store path, computing CRC32 on the way: the temp
    /// file, or EFBIG / ENOSPC as <see cref="ReceiveContentAsync"/> says. The temp file is removed if anything fails,
    /// so an aborted or refused upload leaves nothing behind.
    /// </summary>
    private async ValueTask<(string Temp, byte Refused)> ReceiveToTempAsync(
        FdfsConnection connection, StorageConnectionState state, StorePath path, int contentStart, int have, CancellationToken cancellationToken)
    {
        string temp = string.Concat(path.TempDir, "/", s_tempTag, Interlocked.Increment(ref s_tempSequence).ToString(System.Globalization.CultureInfo.InvariantCulture), ".tmp");
        Count(StatCounter.TotalFileOpenCount);
        byte refused;
        using (var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            try
            {
                Count(StatCounter.SuccessFileOpenCount);
                state.Crc.Reset();
                refused = await ReceiveContentAsync(connection, state, handle, contentStart, have, hash: true, cancellationToken);
            }
            catch
            {
                handle.Dispose();
                TryDelete(temp);
                throw;
            }
        }

        if (refused != 0)
        {
            TryDelete(temp);
            return (string.Empty, refused);
        }

        return (temp, 0);
    }

    /// <summary>
    /// An upload the file system cannot hold, answered with the write's errno as FastDFS does (dio_write_file passes it
    /// to the done callback as the status) once the rest of the body is skipped. Nothing was stored, so nothing is
    /// counted as consumed or successful.
    /// </summary>
    private ValueTask<bool> RefuseUploadAsync(
        FdfsConnection connection, PacketHeader header, StorageConnectionState state, byte errno, long size, StorePath path, CancellationToken cancellationToken) =>
        RefuseAsync(connection, header, state, errno, $"upload of {size} bytes to {path.Root}: {FdfsErrno.Describe(errno)}", cancellationToken);

    /// <summary>
    /// Writes the buffered part and then the remaining body (<see cref="StorageConnectionState.Unread"/>) to
    /// <paramref name="handle"/> at <paramref name="fileOffset"/>. The buffered part is topped up with what has
    /// arrived since before the first write, so a body that arrived in pieces still costs one write. Writes are
    /// synchronous: the page cache takes them at memory speed and a thread-pool hop per chunk would cost more.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReceiveIntoAsync(
        FdfsConnection connection, StorageConnectionState state, SafeFileHandle handle, long fileOffset, int contentStart, int have, bool hash, CancellationToken cancellationToken)
    {
        var buffer = state.Buffer;
        int start = contentStart;
        int filled = have;
        while (true)
        {
            // Fill the buffer before writing: fewer, larger writes for big files; a short read means the rest is
            // not there yet, so write what we have rather than wait with it.
            while (state.Unread > 0 && filled < buffer.Length)
            {
                int n = await connection.ReadSomeAsync(buffer.AsMemory(filled, (int)Math.Min(buffer.Length - filled, state.Unread)), cancellationToken);
                filled += n;
                state.Unread -= n;
                if (n < 16 * 1024)
                {
                    break;
                }
            }

            if (filled > start)
            {
                await EventThread.Leave();
                WriteChunk(state, handle, buffer.AsSpan(start, filled - start), fileOffset, hash);
                fileOffset += filled - start;
            }

            if (state.Unread == 0)
            {
                return;
            }

            start = 0;
            filled = 0;
        }
    }

    private void WriteChunk(StorageConnectionState state, SafeFileHandle handle, ReadOnlySpan<byte> chunk, long fileOffset, bool hash)
    {
        Count(StatCounter.TotalFileWriteCount);
        RandomAccess.Write(handle, chunk, fileOffset);
        Count(StatCounter.SuccessFileWriteCount);
        if (hash)
        {
            state.Crc.Append(chunk);
        }
    }

    /// <summary>
    /// An unnamed (O_TMPFILE) file in a random <c>data/HH/HH</c> directory of <paramref name="path"/>, so new inodes
    /// spread over the tree's block groups (see <see cref="StorePaths.RandomSubdir"/>); null when O_TMPFILE is not
    /// available or the directory is not there yet (callers fall back to a named temp file).
    /// </summary>
    private SafeFileHandle? OpenSpreadTempFile(StorePath path)
    {
        var (high, low) = _paths.RandomSubdir();
        return NativeMethods.TryOpenTempFile(StorePaths.SubdirPath(path, high, low));
    }

    /// <summary>Builds the new file's name in directory HH/HH from what was received (crc32, size, time).</summary>
    private string NameUpload(FdfsConnection connection, StorageConnectionState state, StorePath path, int high, int low, UploadRequestHeader request, bool appender, out long timestamp)
    {
        uint crc = state.Crc.GetCurrentHashAsUInt32();
        timestamp = Now();
        long sizeField = FileNames.MakeSizeField(request.FileSize, appender, Random.Shared.Next());
        string name = FileNames.MakeName(SourceFor(connection), timestamp, sizeField, crc, request.Extension, Random.Shared);
        return StorePaths.RemoteName(path, high, low, name);
    }

    /// <summary>Names a complete O_TMPFILE upload: from here on readers see the whole file, never part of it.</summary>
    private static void LinkIntoPlace(Microsoft.Win32.SafeHandles.SafeFileHandle unnamed, string destination)
    {
        int errno = TryLinkIntoPlace(unnamed, destination);
        if (errno != 0)
        {
            throw new IOException($"cannot name {destination}: errno {errno}");
        }
    }

    /// <summary>linkat of an O_TMPFILE file to <paramref name="destination"/>, creating the directory if the start-up tree is not there yet; the errno.</summary>
    private static int TryLinkIntoPlace(Microsoft.Win32.SafeHandles.SafeFileHandle unnamed, string destination)
    {
        int errno = NativeMethods.TryLinkTempFile(unnamed, destination);
        if (errno == NativeMethods.ENOENT)
        {
            // The start-up directory tree is still being created.
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            errno = NativeMethods.TryLinkTempFile(unnamed, destination);
        }

        return errno;
    }

    /// <summary>Renames a finished temp file into <c>data/HH/HH</c>, creating the directory if the start-up tree is not there yet.</summary>
    private static void MoveIntoPlace(string temp, string destination, bool overwrite)
    {
        // Replacing is what rename(2) does; on failure File.Move below retries and raises the matching exception.
        if (overwrite && NativeMethods.TryRename(temp, destination))
        {
            return;
        }

        try
        {
            File.Move(temp, destination, overwrite);
        }
        catch (IOException e) when (e is FileNotFoundException or DirectoryNotFoundException && File.Exists(temp))
        {
            // The temp file is there, so the missing part is the destination directory. .NET picks between the two
            // exceptions by re-checking the directory after rename(2) failed, which races with the start-up tree
            // creation: either type can mean the same thing here.
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Move(temp, destination, overwrite);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Start-up cleaning of data/.tmp removes whatever is left.
        }
    }
}
