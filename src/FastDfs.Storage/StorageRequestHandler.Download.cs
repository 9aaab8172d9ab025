using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Storage;

/// <summary>DOWNLOAD_FILE, QUERY_FILE_INFO, DELETE_FILE.</summary>
internal sealed partial class StorageRequestHandler
{
    private const int GroupField = FdfsConstants.GroupNameMaxLength;

    /// <summary>Parses <c>g16 + remote filename</c> at <paramref name="start"/> of the buffer: group and name checks.</summary>
    private bool TryParseFileRequest(StorageConnectionState state, int start, int length, out string remote, out StorePath path, out string local, out string error)
    {
        var body = state.Buffer.AsSpan(start, length - start);
        remote = string.Empty;
        path = null!;
        local = string.Empty;
        if (body.Length <= GroupField)
        {
            error = "request carries no file name";
            return false;
        }

        if (!IsOurGroup(body[..GroupField]))
        {
            error = $"group '{WireText.FromPadded(body[..GroupField])}' is not ours ({_group})";
            return false;
        }

        remote = Encoding.UTF8.GetString(body[GroupField..]);
        return TryLocate(remote, out path, out local, out error);
    }

    /// <summary>After every this many bytes read from the disk a download renews its file description.</summary>
    private const long ReadAheadRenewBytes = 16 << 20;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> DownloadAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        int length = await ReadSmallBodyAsync(connection, header, state, 16 + GroupField + 1, cancellationToken);
        long offset = BinaryPrimitives.ReadInt64BigEndian(state.Buffer);
        long count = BinaryPrimitives.ReadInt64BigEndian(state.Buffer.AsSpan(8));
        if (!TryParseFileRequest(state, 16, length, out string remote, out _, out string local, out string error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        if (offset < 0 || count < 0)
        {
            return await Invalid(connection, header, state, $"offset {offset} / length {count} is negative", cancellationToken);
        }

        Count(StatCounter.TotalDownloadCount);
        Count(StatCounter.TotalFileOpenCount);

        // On a socket event thread only what the kernel has cached is read here; anything else moves to the pool.
        if (!EventThread.IsCurrent || !DownloadFile.TryOpenCached(local, out var file))
        {
            await EventThread.Leave();
            file = DownloadFile.Open(local);
        }

        try
        {
            Count(StatCounter.SuccessFileOpenCount);
            long size = file.GetLength();
            if (offset >= size)
            {
                // FastDFS refuses offset >= size, which includes every download of an empty file.
                return await Invalid(connection, header, state, $"offset {offset} is not below the size {size} of {remote}", cancellationToken);
            }

            long toSend = count == 0 ? size - offset : Math.Min(count, size - offset);
            Count(StatCounter.TotalDownloadBytes, toSend);
            var buffer = state.Buffer;
            PacketHeader.Response(toSend).Write(buffer);
            int used = FdfsConstants.HeaderSize;
            long position = offset;
            long left = toSend;
            bool cold = false;
            long readSinceRenew = 0;
            while (left > 0)
            {
                int want = (int)Math.Min(buffer.Length - used, left);
                Count(StatCounter.TotalFileReadCount);
                int n = EventThread.IsCurrent && !cold ? file.ReadCached(buffer.AsSpan(used, want), position) : DownloadFile.WouldBlock;
                if (n == DownloadFile.WouldBlock)
                {
                    // Once the disk is involved the rest of the range is read on the pool: while read-ahead is still
                    // filling, RWF_NOWAIT would return a few pages at a time, a syscall and a send per few pages.
                    cold = true;
                    await EventThread.Leave();
                    if (readSinceRenew >= ReadAheadRenewBytes)
                    {
                        file.RenewReadAhead();
                        readSinceRenew = 0;
                    }

                    n = file.Read(buffer.AsSpan(used, want), position);
                    readSinceRenew += n;
                }
                else if (n < want)
                {
                    cold = true;
                }

                if (n <= 0)
                {
                    // Truncated under us (appender truncate): the header promised more, so the stream cannot continue.
                    throw new IOException($"{remote} shrank while being downloaded");
                }

                Count(StatCounter.SuccessFileReadCount);
                position += n;
                left -= n;
                await connection.SendAsync(buffer.AsMemory(0, used + n), cancellationToken); // may resume on an event thread
                used = 0;
            }

            Count(StatCounter.SuccessDownloadCount);
            Count(StatCounter.SuccessDownloadBytes, toSend);
            return true;
        }
        finally
        {
            file.Dispose(); // the descriptor RenewReadAhead may have replaced
        }
    }

    private async ValueTask<bool> QueryFileInfoAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        int length = await ReadSmallBodyAsync(connection, header, state, GroupField + 1, cancellationToken);
        if (!TryParseFileRequest(state, 0, length, out string remote, out _, out string local, out string error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        if (!FileNames.TryDecode(remote, out var info))
        {
            return await Invalid(connection, header, state, $"{remote} is not a FastDFS file name", cancellationToken);
        }

        var file = new FileInfo(local);
        if (!file.Exists)
        {
            return await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, $"{remote} does not exist", cancellationToken);
        }

        long size = file.Length;
        long timestamp;
        uint crc = 0;
        if (info.IsAppender || info.IsSlave)
        {
            // The name does not describe the current content: mtime and (unless flag bit 0) a fresh CRC32.
            timestamp = new DateTimeOffset(file.LastWriteTimeUtc).ToUnixTimeSeconds();
            if ((header.Status & 1) == 0)
            {
                var computed = await ComputeCrcAsync(connection, remote, local, size, cancellationToken);
                if (computed is not { } value)
                {
                    return false; // the client is gone
                }

                if (value.TimedOut)
                {
                    return await RefuseAsync(connection, header, state, FdfsErrno.ETIMEDOUT,
                        $"CRC32 of {remote} ({size} bytes) takes longer than network_timeout", cancellationToken);
                }

                crc = value.Crc;
            }
        }
        else
        {
            timestamp = info.Timestamp;
            crc = info.Crc32;
        }

        // IPv6 response mode: a 46-byte source IP (70 bytes); an IPv4-mode field cannot hold a longer address than 15.
        bool ipv6 = IPv6Responses;
        string sourceIp = SourceIpOf(info);
        int ipSize = ipv6 ? FdfsConstants.IPv6AddressSize : FdfsConstants.IPv4AddressSize;
        int bodySize = ipv6 ? FileInfoResponse.SizeV6 : FileInfoResponse.Size;
        var buffer = state.Buffer;
        PacketHeader.Response(bodySize).Write(buffer);
        var w = new WireWriter(buffer.AsSpan(FdfsConstants.HeaderSize, bodySize));
        w.WriteInt64(size);
        w.WriteInt64(timestamp);
        w.WriteInt64((int)crc); // sign-extended like FastDFS
        w.WriteFixed(sourceIp.Length <= ipSize ? sourceIp : string.Empty, ipSize);
        await connection.SendAsync(buffer.AsMemory(0, FdfsConstants.HeaderSize + bodySize), cancellationToken);
        return true;
    }

    /// <summary>
    /// CRC32 of the first <paramref name="size"/> bytes of a file (<see cref="FileCrc"/>: holes are not read). A client
    /// waits at most its network_timeout for the answer, so the work stops after this storage's network_timeout
    /// (TimedOut: the caller answers ETIMEDOUT) or as soon as the client closes the connection (null: the caller closes
    /// it too). Nothing else waits for it: other connections are served meanwhile.
    /// </summary>
    private async ValueTask<(uint Crc, bool TimedOut)?> ComputeCrcAsync(
        FdfsConnection connection, string remote, string local, long size, CancellationToken cancellationToken)
    {
        using var handle = File.OpenHandle(local, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var before = NativeMethods.TryGetVersion(handle);
        if (before is { } known && known.Size == size && _crcCache.TryGet(local, known, out uint cached))
        {
            return (cached, false);
        }

        long startedNs = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        long started = Stopwatch.GetTimestamp();
        var socket = connection.Socket;
        var limit = _options.CrcTimeLimit ?? _options.NetworkTimeout;
        bool gone = false;
        try
        {
            // Asked between reads: elapsed time rather than a timer, so the limit holds however busy the timer thread is.
            var (crc, bytesRead) = await FileCrc.ComputeAsync(
                handle, size, () => (gone = FileCrc.PeerGone(socket)) || Stopwatch.GetElapsedTime(started) > limit, cancellationToken);
            if (before is { } b && b.Size == size && NativeMethods.TryGetVersion(handle) is { } after)
            {
                _crcCache.Add(local, b, after, startedNs, bytesRead, crc);
            }

            return (crc, false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            if (gone)
            {
                StorageLog.CrcAbandoned(_logger, remote, connection.RemoteEndPoint, Stopwatch.GetElapsedTime(started).TotalSeconds);
                return null;
            }

            return (0, true);
        }
    }

    /// <summary>Deletes a file; false when there is none. On Linux one unlink, instead of a stat and an unlink.</summary>
    private static bool DeleteIfExists(string path)
    {
        int errno = NativeMethods.TryUnlink(path);
        if (errno == 0)
        {
            return true;
        }

        if (errno == NativeMethods.ENOENT)
        {
            return false;
        }

        // Not Linux, or another error: System.IO tries again and raises the matching exception (EACCES, EIO...).
        if (!File.Exists(path))
        {
            return false;
        }

        File.Delete(path);
        return true;
    }

    private async ValueTask<bool> DeleteAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        int length = await ReadSmallBodyAsync(connection, header, state, GroupField + 1, cancellationToken);
        if (!TryParseFileRequest(state, 0, length, out string remote, out _, out string local, out string error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        Count(StatCounter.TotalDeleteCount);
        var fileLock = LockFor(remote);
        await fileLock.WaitAsync(cancellationToken);
        bool deleted;
        try
        {
            deleted = DeleteIfExists(local);
            if (deleted)
            {
                long now = Now();
                await _binlog.AppendAsync(now, BinlogOp.Delete, remote);
                if (DeleteIfExists(local + MetaSuffix))
                {
                    await _binlog.AppendAsync(now, BinlogOp.Delete, remote + MetaSuffix);
                }

                _stats[StatCounter.LastSourceUpdate] = now;
            }
        }
        finally
        {
            fileLock.Release();
        }

        if (!deleted)
        {
            return await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, $"{remote} does not exist", cancellationToken);
        }

        Count(StatCounter.SuccessDeleteCount);
        await SendEmptyOkAsync(connection, state, cancellationToken);
        return true;
    }
}
