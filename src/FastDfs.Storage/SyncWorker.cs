using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace FastDfs.Storage;

/// <summary>
/// Replays this storage's binlog to one peer of the group (protocol notes 9.3, 9.4). Records are read in batches
/// from the position in the peer's mark file; a batch is spread over a few connections by file name (records of
/// one file stay in order on one connection), and the mark moves past the batch only once the peer has answered
/// every record of it, so a restart of either side neither skips nor repeats anything. Renames and links are
/// barriers: they involve two names, so everything before them completes first.
/// </summary>
internal sealed class SyncWorker : IAsyncDisposable
{
    private const int BatchSize = 512;
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan IdleWait = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MarkSaveInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan FirstFullPause = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxFullPause = TimeSpan.FromSeconds(30);

    private readonly GroupPeers _peers;
    private readonly StorageOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SyncMark _mark;
    private readonly SyncWindow _window;
    private Task _loop = Task.CompletedTask;
    private int _peerStatus;
    private bool _reportedSyncing;

    public SyncWorker(GroupPeers peers, string peerId, string peerIp, int peerPort, StorageStatus status)
    {
        _peers = peers;
        _options = peers.Options;
        _logger = peers.Logger;
        PeerId = peerId;
        PeerIp = peerIp;
        PeerPort = peerPort;
        _peerStatus = (int)status;
        _mark = SyncMark.LoadFile(Path.Combine(peers.Binlog.FolderPath, SyncMark.FileName(peerId, peerIp, peerPort, peers.UseStorageId)));
        _window = new SyncWindow(_options.SyncStartTime, _options.SyncEndTime);
    }

    /// <summary>The peer's storage ID (its IP without storage IDs): what the trackers know it by.</summary>
    public string PeerId { get; }

    /// <summary>
    /// Where the peer is reached. With storage IDs a peer keeps its ID when it comes back from another address (a
    /// storage_ids.conf line may list two); the tracker's next member list carries the new one and the next
    /// connection goes there.
    /// </summary>
    public string PeerIp
    {
        get => Volatile.Read(ref _peerIp);
        set => Volatile.Write(ref _peerIp, value);
    }

    private string _peerIp = string.Empty;

    public string MarkFilePath => _mark.FilePath;

    public int PeerPort { get; }

    /// <summary>The peer's status as the tracker last reported it.</summary>
    public StorageStatus PeerStatus
    {
        get => (StorageStatus)Volatile.Read(ref _peerStatus);
        set => Volatile.Write(ref _peerStatus, (int)value);
    }

    /// <summary>Records acknowledged by the peer since the mark was created (the mark's sync_row_count).</summary>
    public long SyncedRows => Interlocked.Read(ref _syncedRows);

    private long _syncedRows;

    // Files the peer refused with EFBIG (it cannot hold them), with the smallest size refused: its copy is behind, and
    // only the whole file, once smaller than that, brings it in step. In memory: after a restart the next append finds
    // the peer's copy short (ENOENT), the whole file is sent, refused and logged again.
    private readonly ConcurrentDictionary<string, long> _tooBig = new(StringComparer.Ordinal);

    // The pause before the next try while the peer answers ENOSPC (zero: it has room); doubles up to MaxFullPause.
    private TimeSpan _fullPause;
    private long _fullSince;

    // FastDFS's last_file_exist: the peer answered a create with EEXIST, so it probably holds what follows too; the next
    // creates first ask it (QUERY_FILE_INFO) and skip or replace the content (protocol notes 5.3). Shared by the lanes.
    private volatile bool _peerHasFiles;

    public void Start() => _loop = Task.Run(() => RunAsync(_stopping.Token));

    // sync_interval throttles: one file at a time, as FastDFS's single sync thread per peer sends them.
    private int LaneCount => _options.SyncInterval > TimeSpan.Zero
        ? 1
        : Math.Max(_options.SyncMinThreads, _options.SyncMaxThreads ?? Math.Max(4, 2 * _peers.Paths.Count));

    private bool WindowOpen => _window.IsAlwaysOpen || _window.Contains(SyncWindow.Now(_peers.Clock));

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (!_mark.Exists && !await InitializeMarkAsync(cancellationToken))
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
                    continue;
                }

                _syncedRows = _mark.SyncRowCount;
                await _window.WaitUntilOpenAsync(
                    _peers.Clock,
                    wait => StorageLog.SyncWindowClosed(_logger, PeerIp, PeerPort, _window.Start, _window.End, wait),
                    cancellationToken);
                await SyncAsync(() => delay = TimeSpan.FromMilliseconds(200), cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (PeerFullException e)
            {
                // Not skipped: a full disk may clear (files deleted, disk grown), and every later record waits behind
                // this one. Logged once per episode; the pause grows so a peer full for hours costs little.
                if (_fullPause == TimeSpan.Zero)
                {
                    _fullSince = Environment.TickCount64;
                    _fullPause = FirstFullPause;
                    StorageLog.SyncPeerFull(_logger, PeerIp, PeerPort, e.Op, e.RemoteName, MaxFullPause.TotalSeconds);
                }
                else
                {
                    _fullPause = TimeSpan.FromTicks(Math.Min(_fullPause.Ticks * 2, MaxFullPause.Ticks));
                }
            }
            catch (Exception e)
            {
                StorageLog.SyncPeerFailed(_logger, PeerIp, PeerPort, e.Message, delay.TotalSeconds);
            }

            try
            {
                await Task.Delay(_fullPause > delay ? _fullPause : delay, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    /// <summary>
    /// First contact with this peer. A new peer (WAIT_SYNC / SYNCING) gets a full copy from the source the tracker
    /// chose; other storages only send their records from until_timestamp on (9.4). A peer still in INIT has not
    /// been told yet: wait.
    /// </summary>
    private async Task<bool> InitializeMarkAsync(CancellationToken cancellationToken)
    {
        var status = PeerStatus;
        if (status is StorageStatus.Init or StorageStatus.None)
        {
            return false;
        }

        if (status is StorageStatus.WaitSync or StorageStatus.Syncing)
        {
            var answer = await _peers.QuerySyncSourceAsync(PeerId, cancellationToken);
            if (answer is not { } found)
            {
                return false;
            }

            _mark.NeedSyncOld = found.Source == _peers.MyId;
            _mark.UntilTimestamp = found.Until;
        }
        else
        {
            // A mark made for a storage already in service (this one's mark was lost, or it was started afresh): the
            // peer most likely holds these files already, so creates are checked before their content is sent.
            _peerHasFiles = true;
        }

        _mark.BinlogIndex = 0;
        _mark.BinlogOffset = 0;
        _mark.Save();
        StorageLog.SyncMarkCreated(_logger, PeerIp, PeerPort, _mark.NeedSyncOld, _mark.UntilTimestamp);
        return true;
    }

    private bool FullCopyPending => _mark.NeedSyncOld && !_mark.SyncOldDone;

    private async Task SyncAsync(Action connected, CancellationToken cancellationToken)
    {
        var lanes = new SyncLane[LaneCount];
        var buckets = new List<BinlogEntry>[lanes.Length];
        var runs = new Task[lanes.Length];
        using var reader = new BinlogReader(_peers.Binlog, _mark.BinlogIndex, _mark.BinlogOffset);
        var entries = new List<BinlogEntry>(BatchSize);
        bool markDirty = false;
        try
        {
            for (int i = 0; i < lanes.Length; i++)
            {
                lanes[i] = new SyncLane(this, _peers);
                buckets[i] = new List<BinlogEntry>();
            }

            // One connection first: a peer that is down fails here, before any record is taken.
            await lanes[0].EnsureConnectedAsync(cancellationToken);
            connected();
            StorageLog.SyncPeerConnected(_logger, PeerIp, PeerPort, _mark.BinlogIndex, _mark.BinlogOffset);
            if (FullCopyPending && !_reportedSyncing && PeerStatus == StorageStatus.WaitSync)
            {
                await _peers.ReportPeerStatusAsync(PeerId, PeerIp, PeerPort, StorageStatus.Syncing, cancellationToken);
                _reportedSyncing = true;
            }

            long lastSend = Environment.TickCount64;
            long lastSave = lastSend;
            while (!cancellationToken.IsCancellationRequested)
            {
                await EventThread.Leave();
                var commit = _peers.Binlog.NextCommit;
                entries.Clear();
                reader.Read(entries, BatchSize);
                if (entries.Count == 0)
                {
                    await OnCaughtUpAsync(cancellationToken);
                    if (Environment.TickCount64 - lastSend > _options.HeartBeatInterval.TotalMilliseconds)
                    {
                        await lanes[0].ActiveTestAsync(cancellationToken);
                        lastSend = Environment.TickCount64;
                    }

                    if (!WindowOpen)
                    {
                        StorageLog.SyncWindowEnded(_logger, PeerIp, PeerPort, _window.Start, _window.End);
                        return;
                    }

                    if (await Task.WhenAny(commit, Task.Delay(markDirty ? MarkSaveInterval : IdleWait, cancellationToken)) == commit)
                    {
                        // sync_wait_msec: let a burst of uploads gather; a few records per round over several connections
                        // cost far less per record than one wake-up and one round trip each.
                        await Task.Delay(_options.SyncWait, cancellationToken);
                    }
                    else if (markDirty)
                    {
                        // Idle: the file catches up with the in-memory mark.
                        await EventThread.Leave();
                        _mark.Save();
                        markDirty = false;
                        lastSave = Environment.TickCount64;
                    }

                    cancellationToken.ThrowIfCancellationRequested();
                    continue;
                }

                lastSend = Environment.TickCount64;
                int start = 0;
                while (start < entries.Count)
                {
                    // A segment ends after a rename or link (two names: no lane owns both).
                    int end = start;
                    while (end < entries.Count && !IsBarrier(entries[end].Op))
                    {
                        end++;
                    }

                    if (end == start)
                    {
                        end++;
                    }

                    long sent = await RunSegmentAsync(entries, start, end, lanes, buckets, runs, cancellationToken);
                    if (_fullPause != TimeSpan.Zero)
                    {
                        // The record the peer had no room for went through.
                        StorageLog.SyncPeerHasRoom(_logger, PeerIp, PeerPort, (Environment.TickCount64 - _fullSince) / 1000.0);
                        _fullPause = TimeSpan.Zero;
                    }

                    var last = entries[end - 1];
                    _mark.BinlogIndex = last.EndIndex;
                    _mark.BinlogOffset = last.EndOffset;
                    _mark.ScanRowCount += end - start;
                    _mark.SyncRowCount += sent;
                    Interlocked.Add(ref _syncedRows, sent);
                    start = end;
                }

                // The in-memory mark is exact (a reconnect resumes from it); the file follows at most MarkSaveInterval
                // behind and on every stop, so only a kill -9 of this storage can repeat a few records, which the
                // peer takes as no-ops (EEXIST, ENOENT, writes at the same offsets).
                markDirty = true;
                if (Environment.TickCount64 - lastSave >= MarkSaveInterval.TotalMilliseconds)
                {
                    _mark.Save();
                    markDirty = false;
                    lastSave = Environment.TickCount64;
                }

                if (!WindowOpen)
                {
                    StorageLog.SyncWindowEnded(_logger, PeerIp, PeerPort, _window.Start, _window.End);
                    return;
                }
            }
        }
        finally
        {
            if (markDirty)
            {
                _mark.Save();
            }

            foreach (var lane in lanes)
            {
                if (lane is not null)
                {
                    await lane.DisposeAsync();
                }
            }
        }
    }

    private static bool IsBarrier(char op) => char.ToUpperInvariant(op) is BinlogOp.Rename or BinlogOp.Link;

    private async Task<long> RunSegmentAsync(
        List<BinlogEntry> entries, int start, int end, SyncLane[] lanes, List<BinlogEntry>[] buckets, Task[] runs, CancellationToken cancellationToken)
    {
        long count = 0;
        foreach (var bucket in buckets)
        {
            bucket.Clear();
        }

        for (int i = start; i < end; i++)
        {
            var entry = entries[i];
            if (!ShouldSend(entry))
            {
                continue;
            }

            buckets[(int)((uint)StringComparer.Ordinal.GetHashCode(entry.RemoteName) % (uint)lanes.Length)].Add(entry);
            count++;
        }

        if (count == 0)
        {
            return 0;
        }

        for (int i = 0; i < lanes.Length; i++)
        {
            runs[i] = buckets[i].Count == 0 ? Task.CompletedTask : lanes[i].RunAsync(buckets[i], cancellationToken);
        }

        await Task.WhenAll(runs);
        return count;
    }

    /// <summary>The forwarding rule of 9.3.</summary>
    private bool ShouldSend(in BinlogEntry entry)
    {
        if (BinlogOp.IsSource(entry.Op))
        {
            // Another storage was chosen to copy what is older than until_timestamp to the new peer.
            return _mark.NeedSyncOld || _mark.UntilTimestamp == 0 || entry.Timestamp >= _mark.UntilTimestamp;
        }

        // Replica records only during a full copy, up to until_timestamp; a/m/t never (the c record sends the whole file).
        return FullCopyPending && entry.Timestamp <= _mark.UntilTimestamp
            && char.ToUpperInvariant(entry.Op) is not (BinlogOp.Append or BinlogOp.Modify or BinlogOp.Truncate);
    }

    /// <summary>End of the binlog reached: a full copy is complete, so the peer may come into service (9.4 step 3).</summary>
    private async Task OnCaughtUpAsync(CancellationToken cancellationToken)
    {
        if (!FullCopyPending)
        {
            return;
        }

        _mark.SyncOldDone = true;
        _mark.Save();
        StorageLog.FullSyncDone(_logger, PeerIp, PeerPort, _mark.SyncRowCount);
        if (PeerStatus is StorageStatus.WaitSync or StorageStatus.Syncing)
        {
            await _peers.ReportPeerStatusAsync(PeerId, PeerIp, PeerPort, StorageStatus.Offline, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _loop.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _stopping.Dispose();
    }

    /// <summary>
    /// The peer answered EFBIG: it cannot hold <paramref name="remote"/> at <paramref name="size"/> bytes (its file system's
    /// limit, or its RLIMIT_FSIZE, is smaller than ours). The record is skipped so later ones keep flowing; the first
    /// refusal of a file is an error in the log (its copy there differs from ours), repeats are debug lines.
    /// </summary>
    private void OnTooBig(char op, string remote, long size)
    {
        long refusedAt = size < 0 ? long.MaxValue : size;
        bool first = true;
        _tooBig.AddOrUpdate(remote, refusedAt, (_, known) =>
        {
            first = false;
            return Math.Min(known, refusedAt);
        });
        if (first)
        {
            StorageLog.SyncFileTooBig(_logger, PeerIp, PeerPort, op, remote, size);
        }
        else
        {
            StorageLog.SyncFileStillTooBig(_logger, PeerIp, PeerPort, op, remote, size, refusedAt);
        }
    }

    /// <summary>The peer took the whole of a file it once refused: its copy is in step again.</summary>
    private void OnWholeFileTaken(string remote, long size)
    {
        if (!_tooBig.IsEmpty && _tooBig.TryRemove(remote, out _))
        {
            StorageLog.SyncFileInStep(_logger, PeerIp, PeerPort, remote, size);
        }
    }

    /// <summary>The peer answered ENOSPC: the batch stops here and is retried after a pause (RunAsync).</summary>
    private sealed class PeerFullException(char op, string remoteName) : IOException($"the peer has no space left for {op} {remoteName}")
    {
        public char Op { get; } = op;

        public string RemoteName { get; } = remoteName;
    }

    /// <summary>One connection to the peer and the records of a batch that hash to it, sent one after the other.</summary>
    private sealed class SyncLane(SyncWorker worker, GroupPeers peers) : IAsyncDisposable
    {
        private readonly byte[] _buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);

        // Per pipelined request: content bytes (-1 for a delete) and whether it is a create, for the answers.
        private readonly long[] _pendingBytes = new long[MaxPipelined];
        private readonly bool[] _pendingCreate = new bool[MaxPipelined];
        private readonly int[] _pendingEntry = new int[MaxPipelined];
        private FdfsConnection? _connection;
        private CancellationTokenSource? _timeout;

        private string Group => peers.Options.GroupName!;

        public async Task EnsureConnectedAsync(CancellationToken cancellationToken)
        {
            if (_connection is { IsDisposed: false })
            {
                return;
            }

            _connection?.Dispose();
            _timeout?.Dispose();
            _connection = null;
            _timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var connection = await FdfsConnection.ConnectAsync(
                worker.PeerIp, worker.PeerPort, peers.Options.ConnectTimeout, peers.BindAddress, cancellationToken);
            try
            {
                int length = FdfsConstants.HeaderSize + ReportServerIdRequest.Size;
                PacketHeader.Request(StorageCommand.ReportServerId, ReportServerIdRequest.Size).Write(_buffer);
                new ReportServerIdRequest(peers.MyId).Write(_buffer.AsSpan(FdfsConstants.HeaderSize));
                _connection = connection;
                byte status = await ExchangeAsync(length, cancellationToken);
                if (status != 0)
                {
                    throw new IOException($"peer refused REPORT_SERVER_ID with {FdfsErrno.Name(status)}");
                }
            }
            catch
            {
                _connection = null;
                connection.Dispose();
                throw;
            }
        }

        public async Task ActiveTestAsync(CancellationToken cancellationToken)
        {
            await EnsureConnectedAsync(cancellationToken);
            PacketHeader.Request(StorageCommand.ActiveTest, 0).Write(_buffer);
            await ExchangeAsync(FdfsConstants.HeaderSize, cancellationToken);
        }

        public async Task RunAsync(List<BinlogEntry> entries, CancellationToken cancellationToken)
        {
            int i = 0;
            while (i < entries.Count)
            {
                await EnsureConnectedAsync(cancellationToken);
                i = IsPipelined(entries[i].Op)
                    ? await PipelineAsync(entries, i, cancellationToken)
                    : await SendOneAsync(entries, i, cancellationToken);
                if (peers.Options.SyncInterval > TimeSpan.Zero)
                {
                    await Task.Delay(peers.Options.SyncInterval, cancellationToken);
                }
            }
        }

        /// <summary>total_sync_out_bytes / success_sync_out_bytes: file content sent, as FastDFS counts it.</summary>
        private void CountOut(long bytes, byte status)
        {
            Interlocked.Add(ref peers.Stats.Ref(StatCounter.TotalSyncOutBytes), bytes);
            if (status == 0)
            {
                Interlocked.Add(ref peers.Stats.Ref(StatCounter.SuccessSyncOutBytes), bytes);
            }
        }

        private async Task<int> SendOneAsync(List<BinlogEntry> entries, int index, CancellationToken cancellationToken)
        {
            await SendAsync(entries[index], cancellationToken);
            return index + 1;
        }

        /// <summary>
        /// Whole-file copies and deletes need no follow-up request, so they can be pipelined; not a create the peer is
        /// asked about first, and nothing under sync_interval (one file, then the pause).
        /// </summary>
        private bool IsPipelined(char op) => peers.Options.SyncInterval == TimeSpan.Zero && char.ToUpperInvariant(op) switch
        {
            BinlogOp.Create => !worker._peerHasFiles,
            BinlogOp.Update or BinlogOp.Delete => true,
            _ => false,
        };

        /// <summary>
        /// Sends consecutive small copies and deletes back to back (several per send), then reads their answers: the
        /// peer handles one request after the other from its socket buffer, so a burst of small files costs a few
        /// round trips instead of one each. Stops before anything else and before a file that does not fit in the
        /// buffer (those go one by one, streamed). Returns the index of the first entry not handled.
        /// </summary>
        private async Task<int> PipelineAsync(List<BinlogEntry> entries, int start, CancellationToken cancellationToken)
        {
            var connection = _connection!;
            _timeout!.CancelAfter(peers.Options.NetworkTimeout);
            int filled = 0;
            int pending = 0;
            int i = start;
            for (; i < entries.Count && IsPipelined(entries[i].Op) && pending < MaxPipelined; i++)
            {
                var entry = entries[i];
                if (!peers.Paths.TryResolve(entry.RemoteName, out var path, out _))
                {
                    continue;
                }

                if (_buffer.Length - filled < RequestRoom)
                {
                    await connection.SendAsync(_buffer.AsMemory(0, filled), _timeout.Token);
                    filled = 0;
                }

                int nameLength;
                if (char.ToUpperInvariant(entry.Op) == BinlogOp.Delete)
                {
                    nameLength = Encoding.UTF8.GetBytes(entry.RemoteName, _buffer.AsSpan(filled + FdfsConstants.HeaderSize + SyncDeleteHeader.Size));
                    PacketHeader.Request(StorageCommand.SyncDeleteFile, SyncDeleteHeader.Size + nameLength).Write(_buffer.AsSpan(filled));
                    new SyncDeleteHeader((int)entry.Timestamp, Group).Write(_buffer.AsSpan(filled + FdfsConstants.HeaderSize));
                    filled += FdfsConstants.HeaderSize + SyncDeleteHeader.Size + nameLength;
                    _pendingBytes[pending] = -1;
                    _pendingCreate[pending] = false;
                    _pendingEntry[pending] = i;
                    pending++;
                    continue;
                }

                await EventThread.Leave(); // disk work never runs on a socket event thread

                SafeFileHandle handle;
                try
                {
                    handle = File.OpenHandle(peers.Paths.LocalPath(path, entry.RemoteName), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                }
                catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
                {
                    continue; // 9.3: the source file is gone (deleted since); the later D record says so.
                }

                using (handle)
                {
                    long size = RandomAccess.GetLength(handle);
                    int fixedLength = FdfsConstants.HeaderSize + SyncFileHeader.Size + Encoding.UTF8.GetByteCount(entry.RemoteName);
                    if (fixedLength + size > _buffer.Length - filled)
                    {
                        if (fixedLength + size > _buffer.Length || pending == 0)
                        {
                            break; // too big to pipeline: sent on its own, streamed
                        }

                        await connection.SendAsync(_buffer.AsMemory(0, filled), _timeout.Token);
                        filled = 0;
                    }

                    var command = char.ToUpperInvariant(entry.Op) == BinlogOp.Create ? StorageCommand.SyncCreateFile : StorageCommand.SyncUpdateFile;
                    nameLength = Encoding.UTF8.GetBytes(entry.RemoteName, _buffer.AsSpan(filled + FdfsConstants.HeaderSize + SyncFileHeader.Size));
                    PacketHeader.Request(command, SyncFileHeader.Size + nameLength + size).Write(_buffer.AsSpan(filled));
                    new SyncFileHeader(nameLength, size, (int)entry.Timestamp, Group).Write(_buffer.AsSpan(filled + FdfsConstants.HeaderSize));
                    int contentAt = filled + fixedLength;
                    int read = 0;
                    while (read < size)
                    {
                        int n = RandomAccess.Read(handle, _buffer.AsSpan(contentAt + read, (int)size - read), read);
                        if (n <= 0)
                        {
                            connection.Dispose();
                            throw new IOException("source file shrank while being sent");
                        }

                        read += n;
                    }

                    filled = contentAt + (int)size;
                    _pendingBytes[pending] = size;
                    _pendingCreate[pending] = command == StorageCommand.SyncCreateFile;
                    _pendingEntry[pending] = i;
                    pending++;
                }
            }

            if (filled > 0)
            {
                await connection.SendAsync(_buffer.AsMemory(0, filled), _timeout.Token);
            }

            bool refused = false;
            int full = -1;
            for (int k = 0; k < pending && !refused; k++)
            {
                var (status, _) = await connection.ReadResponseAsync(1024, _timeout.Token);
                var entry = entries[_pendingEntry[k]];
                refused = status == FdfsErrno.EINVAL;
                if (_pendingBytes[k] >= 0)
                {
                    CountOut(_pendingBytes[k], status);
                }

                if (_pendingCreate[k] && status is 0 or FdfsErrno.EEXIST)
                {
                    worker._peerHasFiles = status == FdfsErrno.EEXIST;
                }

                switch (status)
                {
                    case FdfsErrno.EFBIG:
                        worker.OnTooBig(entry.Op, entry.RemoteName, _pendingBytes[k]);
                        break;
                    case FdfsErrno.ENOSPC:
                        full = full < 0 ? k : full; // every answer is read first: the connection stays usable
                        break;
                    case 0 or FdfsErrno.ENOENT when _pendingBytes[k] < 0:
                        worker._tooBig.TryRemove(entry.RemoteName, out _);
                        break;
                    case 0:
                        worker.OnWholeFileTaken(entry.RemoteName, _pendingBytes[k]);
                        break;
                    case FdfsErrno.EEXIST or FdfsErrno.ENOENT or FdfsErrno.EINVAL:
                        break;
                    default:
                        StorageLog.SyncRecordRefused(peers.Logger, worker.PeerIp, worker.PeerPort, entry.Op, entry.RemoteName, FdfsErrno.Name(status));
                        break;
                }
            }

            _timeout.CancelAfter(Timeout.InfiniteTimeSpan);
            if (full >= 0)
            {
                var entry = entries[_pendingEntry[full]];
                throw new PeerFullException(entry.Op, entry.RemoteName);
            }

            if (refused)
            {
                // The peer closed the connection after an EINVAL and the answers after it are lost: redo these records
                // one by one on a new connection (replays are no-ops), where the refused one is logged and skipped.
                connection.Dispose();
                for (int k = start; k < i; k++)
                {
                    await EnsureConnectedAsync(cancellationToken);
                    await SendAsync(entries[k], cancellationToken);
                }
            }

            return i == start ? await SendOneAsync(entries, i, cancellationToken) : i;
        }

        private async Task SendAsync(BinlogEntry entry, CancellationToken cancellationToken)
        {
            if (!peers.Paths.TryResolve(entry.RemoteName, out var path, out _))
            {
                return;
            }

            string local = peers.Paths.LocalPath(path, entry.RemoteName);
            int ts = (int)entry.Timestamp;
            char op = char.ToUpperInvariant(entry.Op);
            byte status;
            _attempted = -1;
            _wholeFileSent = false;
            if (op == BinlogOp.Rename && entry.Extra is { } oldName && worker._tooBig.TryRemove(oldName, out long refused))
            {
                worker._tooBig[entry.RemoteName] = refused; // the peer's short copy takes the new name along
            }

            if (op is BinlogOp.Append or BinlogOp.Modify or BinlogOp.Truncate or BinlogOp.Update
                && worker._tooBig.TryGetValue(entry.RemoteName, out long refusedAt))
            {
                // The peer's copy is behind: no change applies to it, only the whole file, and only below the size refused.
                status = await CopyFileAsync(StorageCommand.SyncUpdateFile, entry.RemoteName, local, ts, cancellationToken, refusedAt);
                if (status == StillTooBigStatus)
                {
                    StorageLog.SyncFileStillTooBig(peers.Logger, worker.PeerIp, worker.PeerPort, entry.Op, entry.RemoteName, _attempted, refusedAt);
                    return;
                }
            }
            else
            {
                status = await SendRecordAsync(entry, op, local, ts, cancellationToken);
            }

            switch (status)
            {
                case FdfsErrno.EFBIG:
                    worker.OnTooBig(entry.Op, entry.RemoteName, _attempted);
                    return;
                case FdfsErrno.ENOSPC:
                    throw new PeerFullException(entry.Op, entry.RemoteName);
                case 0 or FdfsErrno.ENOENT when op == BinlogOp.Delete:
                    worker._tooBig.TryRemove(entry.RemoteName, out _);
                    break;
                case 0 when _wholeFileSent:
                    worker.OnWholeFileTaken(entry.RemoteName, _attempted);
                    break;
            }

            // EEXIST: already there (a replay); ENOENT on delete: already gone. Anything else is logged and passed
            // over, as FastDFS does, so one bad record cannot stop replication for good.
            if (status is not (0 or FdfsErrno.EEXIST or FdfsErrno.ENOENT or SkippedStatus))
            {
                StorageLog.SyncRecordRefused(peers.Logger, worker.PeerIp, worker.PeerPort, entry.Op, entry.RemoteName, FdfsErrno.Name(status));
                if (status == FdfsErrno.EINVAL)
                {
                    // The peer closes the connection after EINVAL.
                    _connection?.Dispose();
                }
            }
        }

        /// <summary>Sends one record as its sync command (5.3) and returns the peer's answer.</summary>
        private async Task<byte> SendRecordAsync(BinlogEntry entry, char op, string local, int ts, CancellationToken cancellationToken)
        {
            byte status;
            switch (op)
            {
                case BinlogOp.Create:
                    status = await CopyFileAsync(StorageCommand.SyncCreateFile, entry.RemoteName, local, ts, cancellationToken);
                    break;
                case BinlogOp.Update:
                    status = await CopyFileAsync(StorageCommand.SyncUpdateFile, entry.RemoteName, local, ts, cancellationToken);
                    break;
                case BinlogOp.Delete:
                    status = await DeleteAsync(entry.RemoteName, ts, cancellationToken);
                    break;
                case BinlogOp.Append:
                case BinlogOp.Modify:
                    status = await RangeAsync(entry, local, ts, cancellationToken);
                    break;
                case BinlogOp.Truncate:
                    status = await TruncateAsync(entry, ts, cancellationToken);
                    if (status == FdfsErrno.ENOENT)
                    {
                        status = await CopyFileAsync(StorageCommand.SyncUpdateFile, entry.RemoteName, local, ts, cancellationToken);
                    }

                    break;
                case BinlogOp.Rename:
                    status = await TwoNamesAsync(StorageCommand.SyncRenameFile, entry.RemoteName, entry.Extra, ts, cancellationToken);
                    if (status == FdfsErrno.ENOENT)
                    {
                        // The peer never got the old name: send the file under its new one.
                        status = await CopyFileAsync(StorageCommand.SyncCreateFile, entry.RemoteName, local, ts, cancellationToken);
                    }

                    break;
                case BinlogOp.Link:
                    status = await TwoNamesAsync(StorageCommand.SyncCreateLink, entry.RemoteName, entry.Extra, ts, cancellationToken);
                    break;
                default:
                    return SkippedStatus;
            }

            return status;
        }

        /// <summary>Status for "source file gone, nothing sent" (9.3: skipped silently).</summary>
        private const byte SkippedStatus = 255;

        /// <summary>Status for "not sent: still at least the size the peer refused".</summary>
        private const byte StillTooBigStatus = 254;

        // The size the last record would give the file on the peer (-1: none), and whether it was sent whole; for EFBIG.
        private long _attempted;
        private bool _wholeFileSent;

        /// <summary>Most requests in flight on one connection; bounds what a lost connection makes us redo.</summary>
        private const int MaxPipelined = 64;

        /// <summary>Room a pipelined request needs besides its content (header, fixed part, name).</summary>
        private const int RequestRoom = FdfsConstants.HeaderSize + SyncFileHeader.Size + FdfsConstants.RemoteFileNameMaxLength;

        /// <summary>
        /// SYNC_CREATE_FILE / SYNC_UPDATE_FILE of the whole file; <see cref="StillTooBigStatus"/> without sending when it
        /// is at least <paramref name="below"/> bytes.
        /// </summary>
        private async Task<byte> CopyFileAsync(StorageCommand command, string remote, string local, int ts, CancellationToken cancellationToken, long below = long.MaxValue)
        {
            await EventThread.Leave(); // disk work never runs on a socket event thread
            SafeFileHandle handle;
            try
            {
                handle = File.OpenHandle(local, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                return SkippedStatus;
            }

            using (handle)
            {
                long size = RandomAccess.GetLength(handle);
                _attempted = size;
                _wholeFileSent = true;
                if (size >= below)
                {
                    return StillTooBigStatus;
                }

                bool confirmOnly = false;
                if (command == StorageCommand.SyncCreateFile && worker._peerHasFiles)
                {
                    var (found, peerSize) = await QueryPeerSizeAsync(remote, cancellationToken);
                    if (found && peerSize == size)
                    {
                        confirmOnly = true;
                    }
                    else if (found)
                    {
                        StorageLog.SyncCreateSizeDiffers(peers.Logger, worker.PeerIp, worker.PeerPort, remote, peerSize, size);
                        command = StorageCommand.SyncUpdateFile;
                    }
                }

                int nameLength = Encoding.UTF8.GetBytes(remote, _buffer.AsSpan(FdfsConstants.HeaderSize + SyncFileHeader.Size));
                int used = FdfsConstants.HeaderSize + SyncFileHeader.Size + nameLength;
                new SyncFileHeader(nameLength, size, ts, Group).Write(_buffer.AsSpan(FdfsConstants.HeaderSize));
                if (confirmOnly)
                {
                    // Same name, same size: the header status EEXIST tells the peer no content follows (5.3).
                    new PacketHeader(SyncFileHeader.Size + nameLength, (byte)command, FdfsErrno.EEXIST).Write(_buffer);
                    return await ExchangeAsync(used, cancellationToken);
                }

                PacketHeader.Request(command, SyncFileHeader.Size + nameLength + size).Write(_buffer);
                byte status = await SendWithContentAsync(handle, used, 0, size, cancellationToken);
                CountOut(size, status);

                // An update sent instead of a create leaves the flag alone: the peer did have the file.
                if (command == StorageCommand.SyncCreateFile && status is 0 or FdfsErrno.EEXIST)
                {
                    worker._peerHasFiles = status == FdfsErrno.EEXIST;
                }

                return status;
            }
        }

        /// <summary>QUERY_FILE_INFO on the peer: whether it has <paramref name="remote"/> and its size there.</summary>
        private async Task<(bool Found, long Size)> QueryPeerSizeAsync(string remote, CancellationToken cancellationToken)
        {
            int at = FdfsConstants.HeaderSize;
            new WireWriter(_buffer.AsSpan(at, FdfsConstants.GroupNameMaxLength)).WriteFixed(Group, FdfsConstants.GroupNameMaxLength);
            int nameLength = Encoding.UTF8.GetBytes(remote, _buffer.AsSpan(at + FdfsConstants.GroupNameMaxLength));
            // Header status ENOENT: "a missing file is expected", so a FastDFS peer does not log it as an error.
            new PacketHeader(FdfsConstants.GroupNameMaxLength + nameLength, (byte)StorageCommand.QueryFileInfo, FdfsErrno.ENOENT).Write(_buffer);
            var connection = _connection!;
            _timeout!.CancelAfter(peers.Options.NetworkTimeout);
            await connection.SendAsync(_buffer.AsMemory(0, at + FdfsConstants.GroupNameMaxLength + nameLength), _timeout.Token);
            var (status, body) = await connection.ReadResponseAsync(1024, _timeout.Token);
            _timeout.CancelAfter(Timeout.InfiniteTimeSpan);
            return status == 0 && body.Length >= 8 ? (true, BinaryPrimitives.ReadInt64BigEndian(body)) : (false, 0);
        }

        private async Task<byte> RangeAsync(BinlogEntry entry, string local, int ts, CancellationToken cancellationToken)
        {
            var command = char.ToUpperInvariant(entry.Op) == BinlogOp.Append ? StorageCommand.SyncAppendFile : StorageCommand.SyncModifyFile;
            if (!TryParsePair(entry.Extra, out long offset, out long length))
            {
                return SkippedStatus;
            }

            await EventThread.Leave(); // disk work never runs on a socket event thread

            SafeFileHandle handle;
            try
            {
                handle = File.OpenHandle(local, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                return SkippedStatus;
            }

            byte status;
            using (handle)
            {
                if (RandomAccess.GetLength(handle) < offset + length)
                {
                    // Truncated since: the bytes of this record are gone; the whole current file is the answer.
                    status = FdfsErrno.ENOENT;
                }
                else
                {
                    _attempted = offset + length;
                    _wholeFileSent = false;
                    int nameLength = Encoding.UTF8.GetBytes(entry.RemoteName, _buffer.AsSpan(FdfsConstants.HeaderSize + SyncRangeHeader.Size));
                    PacketHeader.Request(command, SyncRangeHeader.Size + nameLength + length).Write(_buffer);
                    new SyncRangeHeader(nameLength, offset, length, ts, Group).Write(_buffer.AsSpan(FdfsConstants.HeaderSize));
                    status = await SendWithContentAsync(handle, FdfsConstants.HeaderSize + SyncRangeHeader.Size + nameLength, offset, length, cancellationToken);
                    CountOut(length, status);
                }
            }

            return status == FdfsErrno.ENOENT
                ? await CopyFileAsync(StorageCommand.SyncUpdateFile, entry.RemoteName, local, ts, cancellationToken)
                : status;
        }

        private async Task<byte> TruncateAsync(BinlogEntry entry, int ts, CancellationToken cancellationToken)
        {
            if (!TryParsePair(entry.Extra, out long oldSize, out long newSize))
            {
                return SkippedStatus;
            }

            _attempted = newSize;
            _wholeFileSent = false;
            int nameLength = Encoding.UTF8.GetBytes(entry.RemoteName, _buffer.AsSpan(FdfsConstants.HeaderSize + SyncRangeHeader.Size));
            PacketHeader.Request(StorageCommand.SyncTruncateFile, SyncRangeHeader.Size + nameLength).Write(_buffer);
            new SyncRangeHeader(nameLength, oldSize, newSize, ts, Group).Write(_buffer.AsSpan(FdfsConstants.HeaderSize));
            return await ExchangeAsync(FdfsConstants.HeaderSize + SyncRangeHeader.Size + nameLength, cancellationToken);
        }

        private async Task<byte> DeleteAsync(string remote, int ts, CancellationToken cancellationToken)
        {
            int nameLength = Encoding.UTF8.GetBytes(remote, _buffer.AsSpan(FdfsConstants.HeaderSize + SyncDeleteHeader.Size));
            PacketHeader.Request(StorageCommand.SyncDeleteFile, SyncDeleteHeader.Size + nameLength).Write(_buffer);
            new SyncDeleteHeader(ts, Group).Write(_buffer.AsSpan(FdfsConstants.HeaderSize));
            return await ExchangeAsync(FdfsConstants.HeaderSize + SyncDeleteHeader.Size + nameLength, cancellationToken);
        }

        private async Task<byte> TwoNamesAsync(StorageCommand command, string first, string? second, int ts, CancellationToken cancellationToken)
        {
            if (string.IsNullOrEmpty(second))
            {
                return SkippedStatus;
            }

            int at = FdfsConstants.HeaderSize + SyncTwoNamesHeader.Size;
            int firstLength = Encoding.UTF8.GetBytes(first, _buffer.AsSpan(at));
            int secondLength = Encoding.UTF8.GetBytes(second, _buffer.AsSpan(at + firstLength));
            PacketHeader.Request(command, SyncTwoNamesHeader.Size + firstLength + secondLength).Write(_buffer);
            new SyncTwoNamesHeader(firstLength, secondLength, ts, Group).Write(_buffer.AsSpan(FdfsConstants.HeaderSize));
            return await ExchangeAsync(at + firstLength + secondLength, cancellationToken);
        }

        private static bool TryParsePair(string? extra, out long first, out long second)
        {
            first = second = 0;
            int space = extra?.IndexOf(' ', StringComparison.Ordinal) ?? -1;
            return space > 0
                && long.TryParse(extra.AsSpan(0, space), NumberStyles.None, CultureInfo.InvariantCulture, out first)
                && long.TryParse(extra.AsSpan(space + 1), NumberStyles.None, CultureInfo.InvariantCulture, out second);
        }

        /// <summary>
        /// Sends the request prepared in the buffer (<paramref name="used"/> bytes) followed by <paramref name="length"/>
        /// bytes of the file from <paramref name="offset"/>; small files go out in the same segment as the header.
        /// </summary>
        private async Task<byte> SendWithContentAsync(SafeFileHandle handle, int used, long offset, long length, CancellationToken cancellationToken)
        {
            var connection = _connection!;
            _timeout!.CancelAfter(peers.Options.NetworkTimeout);
            long remaining = length;
            int filled = used;
            while (true)
            {
                int want = (int)Math.Min(_buffer.Length - filled, remaining);
                if (want > 0)
                {
                    await EventThread.Leave();
                    int n = RandomAccess.Read(handle, _buffer.AsSpan(filled, want), offset);
                    if (n <= 0)
                    {
                        // The file shrank under us; the packet length is already promised: drop the connection.
                        connection.Dispose();
                        throw new IOException("source file shrank while being sent");
                    }

                    filled += n;
                    offset += n;
                    remaining -= n;
                }

                await connection.SendAsync(_buffer.AsMemory(0, filled), _timeout.Token);
                filled = 0;
                if (remaining == 0)
                {
                    break;
                }
            }

            var (status, _) = await connection.ReadResponseAsync(1024, _timeout.Token);
            _timeout.CancelAfter(Timeout.InfiniteTimeSpan);
            return status;
        }

        private async Task<byte> ExchangeAsync(int length, CancellationToken cancellationToken)
        {
            var connection = _connection!;
            _timeout!.CancelAfter(peers.Options.NetworkTimeout);
            await connection.SendAsync(_buffer.AsMemory(0, length), _timeout.Token);
            var (status, _) = await connection.ReadResponseAsync(1024, _timeout.Token);
            _timeout.CancelAfter(Timeout.InfiniteTimeSpan);
            return status;
        }

        public ValueTask DisposeAsync()
        {
            _connection?.Dispose();
            _timeout?.Dispose();
            ArrayPool<byte>.Shared.Return(_buffer);
            return ValueTask.CompletedTask;
        }
    }
}
