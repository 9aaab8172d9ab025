using System.Buffers;
using System.Globalization;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace FastDfs.Storage;

/// <summary>
/// Disk recovery (protocol notes 9.6): a store path found without its <c>data</c> directory on a storage that had
/// already joined its group (a replaced disk) is rebuilt from a peer: FETCH_ONE_PATH_BINLOG gives the peer's
/// binlog lines for that path, replaying them gives the files that should exist, and those are downloaded with
/// <c>disk_recovery_threads</c> workers. The storage reports itself RECOVERY meanwhile, so no client is sent to it.
/// A flag file per path (<c>data/sync/recovery_pathN.flag</c>) keeps the work pending across restarts.
/// </summary>
internal sealed class DiskRecovery
{
    private readonly StorageOptions _options;
    private readonly ILogger _logger;
    private readonly List<int> _pending;
    private readonly string _syncDir;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private DiskRecovery(StorageOptions options, ILogger logger, List<int> pending)
    {
        _options = options;
        _logger = logger;
        _pending = pending;
        _syncDir = Path.Combine(options.BasePath, "data", "sync");
        if (pending.Count == 0)
        {
            _done.TrySetResult();
        }
    }

    /// <summary>True while some store path still has to be rebuilt.</summary>
    public bool Pending => !_done.Task.IsCompleted;

    /// <summary>Completes when every pending path has been rebuilt.</summary>
    public Task Done => _done.Task;

    private static string FlagFile(string syncDir, int index) =>
        Path.Combine(syncDir, string.Create(CultureInfo.InvariantCulture, $"recovery_path{index}.flag"));

    /// <summary>Decides at start-up, before the data directories are created, which store paths need rebuilding.</summary>
    public static DiskRecovery Detect(StorageOptions options, DataInitFlag initFlag, ILogger logger)
    {
        string syncDir = Path.Combine(options.BasePath, "data", "sync");
        Directory.CreateDirectory(syncDir);
        var pending = new List<int>();
        for (int i = 0; i < options.StorePaths.Count; i++)
        {
            string flag = FlagFile(syncDir, i);
            if (File.Exists(flag))
            {
                pending.Add(i);
            }
            else if (initFlag.Existed && initFlag.SyncOldDone && !Directory.Exists(Path.Combine(options.StorePaths[i], "data")))
            {
                File.WriteAllText(flag, "store path data directory missing at start-up\n");
                pending.Add(i);
            }
        }

        foreach (int index in pending)
        {
            StorageLog.RecoveryNeeded(logger, index, options.StorePaths[index]);
        }

        return new DiskRecovery(options, logger, pending);
    }

    /// <summary>Rebuilds every pending path from an ACTIVE peer; retries until done or cancelled.</summary>
    public async Task RunAsync(GroupPeers peers, StorePaths paths, Task layoutReady, CancellationToken cancellationToken)
    {
        if (!Pending)
        {
            return;
        }

        await layoutReady.WaitAsync(cancellationToken);
        while (_pending.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var workers = peers.Workers;
            if (peers.HasMemberList && workers.Count == 0)
            {
                // Alone in the group: nothing to recover from; serve what is left rather than stay out of service.
                StorageLog.RecoveryWithoutPeers(_logger, _pending.Count);
                foreach (int lost in _pending)
                {
                    File.Delete(FlagFile(_syncDir, lost));
                }

                _pending.Clear();
                break;
            }

            var peer = workers.FirstOrDefault(w => w.PeerStatus == StorageStatus.Active);
            if (peer is null)
            {
                await Task.Delay(500, cancellationToken);
                continue;
            }

            int index = _pending[0];
            try
            {
                int files = await RecoverPathAsync(peer.PeerIp, peer.PeerPort, peers, paths, index, cancellationToken);
                File.Delete(FlagFile(_syncDir, index));
                _pending.RemoveAt(0);
                StorageLog.RecoveryDone(_logger, index, peer.PeerIp, files);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                StorageLog.RecoveryFailed(_logger, index, peer.PeerIp, e.Message);
                await Task.Delay(1000, cancellationToken);
            }
        }

        _done.TrySetResult();
    }

    private async Task<int> RecoverPathAsync(string peerIp, int peerPort, GroupPeers peers, StorePaths paths, int index, CancellationToken cancellationToken)
    {
        var files = await FetchFileListAsync(peerIp, peerPort, peers, index, cancellationToken);
        var queue = new Queue<KeyValuePair<string, long>>(files);
        int recovered = 0;
        int workers = Math.Max(1, _options.DiskRecoveryThreads);
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            var connection = await FdfsConnection.ConnectAsync(peerIp, peerPort, _options.ConnectTimeout, peers.BindAddress, cancellationToken);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
            try
            {
                while (true)
                {
                    KeyValuePair<string, long> item;
                    lock (queue)
                    {
                        if (!queue.TryDequeue(out item))
                        {
                            return;
                        }
                    }

                    var result = await DownloadAsync(connection, buffer, paths, item.Key, item.Value, cancellationToken);
                    if (result != CopyResult.Gone)
                    {
                        Interlocked.Increment(ref recovered);
                    }

                    if (result == CopyResult.CopiedEmpty)
                    {
                        await connection.DisposeAsync();
                        connection = await FdfsConnection.ConnectAsync(peerIp, peerPort, _options.ConnectTimeout, peers.BindAddress, cancellationToken);
                    }
                }
            }
            finally
            {
                await connection.DisposeAsync();
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }, cancellationToken)));
        return recovered;
    }

    /// <summary>The peer's binlog lines for the path, replayed into the set of names that should exist (with their last timestamp).</summary>
    private async Task<Dictionary<string, long>> FetchFileListAsync(string peerIp, int peerPort, GroupPeers peers, int index, CancellationToken cancellationToken)
    {
        await using var connection = await FdfsConnection.ConnectAsync(peerIp, peerPort, _options.ConnectTimeout, peers.BindAddress, cancellationToken);
        var body = new byte[FetchOnePathBinlogRequest.Size];
        new FetchOnePathBinlogRequest(_options.GroupName!, (byte)index).Write(body);
        var (status, lines) = await connection.RoundTripAsync((byte)StorageCommand.FetchOnePathBinlog, body, long.MaxValue, cancellationToken);
        if (status != 0)
        {
            throw new IOException($"peer refused FETCH_ONE_PATH_BINLOG with {FdfsErrno.Name(status)}");
        }

        var files = new Dictionary<string, long>(StringComparer.Ordinal);
        int start = 0;
        while (start < lines.Length)
        {
            int end = Array.IndexOf(lines, (byte)'\n', start);
            if (end < 0)
            {
                break;
            }

            if (BinlogReader.TryParse(lines.AsSpan(start, end - start), 0, 0, out var entry))
            {
                switch (char.ToUpperInvariant(entry.Op))
                {
                    case BinlogOp.Delete:
                        files.Remove(entry.RemoteName);
                        break;
                    case BinlogOp.Rename:
                        if (entry.Extra is { } old)
                        {
                            files.Remove(old);
                        }

                        files[entry.RemoteName] = entry.Timestamp;
                        break;
                    default:
                        files[entry.RemoteName] = entry.Timestamp;
                        break;
                }
            }

            start = end + 1;
        }

        return files;
    }

    private enum CopyResult
    {
        Copied,
        Gone,

        /// <summary>The peer answered EINVAL (an empty file cannot be downloaded) and closed the connection.</summary>
        CopiedEmpty,
    }

    /// <summary>Copies one file (or a metadata side file, through GET_METADATA) from the peer.</summary>
    private async Task<CopyResult> DownloadAsync(FdfsConnection connection, byte[] buffer, StorePaths paths, string remote, long timestamp, CancellationToken cancellationToken)
    {
        if (!paths.TryResolve(remote, out var path, out _))
        {
            return CopyResult.Gone;
        }

        string local = paths.LocalPath(path, remote);
        bool meta = remote.EndsWith("-m", StringComparison.Ordinal);
        var w = new WireWriter(buffer.AsSpan(FdfsConstants.HeaderSize));
        if (!meta)
        {
            w.WriteInt64(0);
            w.WriteInt64(0);
        }

        w.WriteFixed(_options.GroupName, FdfsConstants.GroupNameMaxLength);
        w.WriteText(meta ? remote[..^2] : remote);
        new PacketHeader(w.Position, (byte)(meta ? StorageCommand.GetMetadata : StorageCommand.DownloadFile), 0).Write(buffer);
        await connection.SendAsync(buffer.AsMemory(0, FdfsConstants.HeaderSize + w.Position), cancellationToken);
        var header = await connection.ReadHeaderAsync(cancellationToken);
        var result = CopyResult.Copied;
        if (header.Status != 0)
        {
            if (header.Status != FdfsErrno.EINVAL || meta)
            {
                return CopyResult.Gone;
            }

            result = CopyResult.CopiedEmpty;
        }

        await EventThread.Leave();
        Directory.CreateDirectory(Path.GetDirectoryName(local)!);
        Directory.CreateDirectory(path.TempDir);
        string temp = string.Concat(path.TempDir, "/recovery-", Guid.NewGuid().ToString("N"), ".tmp");
        using (var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write))
        {
            long offset = 0;
            while (offset < header.BodyLength)
            {
                int n = await connection.ReadSomeAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, header.BodyLength - offset)), cancellationToken);
                await EventThread.Leave();
                RandomAccess.Write(handle, buffer.AsSpan(0, n), offset);
                offset += n;
            }

            File.SetLastWriteTimeUtc(handle, DateTimeOffset.FromUnixTimeSeconds(timestamp).UtcDateTime);
        }

        File.Move(temp, local, overwrite: true);
        return result;
    }
}
