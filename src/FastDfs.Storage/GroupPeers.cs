using System.Buffers.Binary;
using System.Net;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace FastDfs.Storage;

/// <summary>
/// The other storages of this storage's group, as the trackers' change notifications describe them (protocol notes
/// 3.3): one <see cref="SyncWorker"/> per peer, started when a peer appears and stopped when it is deleted. Also the
/// short tracker calls the workers need (SYNC_SRC_REQ, REPORT_STATUS).
/// </summary>
internal sealed class GroupPeers : IAsyncDisposable
{
    private readonly Dictionary<string, SyncWorker> _workers = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private string _myId = string.Empty;
    private bool _disposed;
    private volatile bool _hasMemberList;

    public GroupPeers(StorageOptions options, StorePaths paths, Binlog binlog, StorageStats stats, ILogger logger, TimeProvider? clock = null)
    {
        Options = options;
        Paths = paths;
        Binlog = binlog;
        Stats = stats;
        Logger = logger;
        Clock = clock ?? TimeProvider.System;
        BindAddress = options.ClientBind
            ? options.BindAddresses.Select(a => IPAddress.TryParse(a, out var ip) ? ip : null).FirstOrDefault(ip => ip is not null)
            : null;
    }

    public StorageOptions Options { get; }

    public StorePaths Paths { get; }

    public Binlog Binlog { get; }

    public ILogger Logger { get; }

    /// <summary>This storage's counters; the workers add the sync-out bytes (as FastDFS counts them: file content only).</summary>
    public StorageStats Stats { get; }

    /// <summary>The clock the sync window is read from.</summary>
    public TimeProvider Clock { get; }

    /// <summary>Local address for outgoing connections (client_bind), null for any.</summary>
    public IPAddress? BindAddress { get; }

    /// <summary>True when the trackers identify storages by storage ID (learnt from the tracker before the first join).</summary>
    public bool UseStorageId { get; set; }

    /// <summary>This storage's ID as the trackers know it (its IP without storage IDs); set after the first join.</summary>
    public string MyId
    {
        get => Volatile.Read(ref _myId);
        set => Volatile.Write(ref _myId, value);
    }

    /// <summary>True once a tracker has sent the group's member list (so an empty <see cref="Workers"/> means no peers).</summary>
    public bool HasMemberList => _hasMemberList;

    public IReadOnlyList<SyncWorker> Workers
    {
        get
        {
            lock (_lock)
            {
                return [.. _workers.Values];
            }
        }
    }

    /// <summary>Applies a group member list (bit 4 of a change notification).</summary>
    public void Update(IReadOnlyList<StorageBrief> storages)
    {
        string me = MyId;
        if (me.Length == 0)
        {
            return;
        }

        List<SyncWorker>? stopped = null;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _hasMemberList = true;

            foreach (var brief in storages)
            {
                // Peers are known by ID (the IP without storage IDs) and reached at their IP.
                string id = brief.Id.Length > 0 ? brief.Id : brief.Ip;
                string ip = brief.Ip.Length > 0 ? brief.Ip : brief.Id;
                if (id.Length == 0 || id == me)
                {
                    continue;
                }

                string key = id + ":" + brief.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (brief.Status is StorageStatus.Deleted or StorageStatus.IpChanged)
                {
                    if (_workers.Remove(key, out var worker))
                    {
                        (stopped ??= []).Add(worker);
                    }

                    continue;
                }

                if (_workers.TryGetValue(key, out var existing))
                {
                    existing.PeerStatus = brief.Status;
                    if (existing.PeerIp != ip)
                    {
                        StorageLog.PeerMoved(Logger, id, existing.PeerIp, ip, brief.Port);
                        existing.PeerIp = ip;
                    }
                }
                else
                {
                    var worker = new SyncWorker(this, id, ip, brief.Port, brief.Status);
                    _workers.Add(key, worker);
                    StorageLog.PeerAdded(Logger, ip, brief.Port, brief.Status.ToString());
                    worker.Start();
                }
            }
        }

        foreach (var worker in stopped ?? [])
        {
            StorageLog.PeerRemoved(Logger, worker.PeerIp, worker.PeerPort);
            _ = RemoveAsync(worker);
        }
    }

    /// <summary>A deleted peer that comes back is a new storage: its mark goes, so it gets a full copy again (as in FastDFS).</summary>
    private async Task RemoveAsync(SyncWorker worker)
    {
        await worker.DisposeAsync();
        try
        {
            File.Delete(worker.MarkFilePath);
        }
        catch (IOException)
        {
            // Best effort; a stale mark only costs a missing full copy, which an operator can force by deleting it.
        }
    }

    /// <summary>SYNC_SRC_REQ: which storage copies the old files to <paramref name="peerId"/>, and up to when. Null: no answer.</summary>
    public async Task<(string Source, long Until)?> QuerySyncSourceAsync(string peerId, CancellationToken cancellationToken)
    {
        var body = new byte[FdfsConstants.GroupNameMaxLength + FdfsConstants.StorageIdMaxSize];
        var w = new WireWriter(body);
        w.WriteFixed(Options.GroupName, FdfsConstants.GroupNameMaxLength);
        w.WriteFixed(peerId, FdfsConstants.StorageIdMaxSize);
        foreach (var tracker in Options.TrackerServers)
        {
            var answer = await CallTrackerAsync(tracker, TrackerCommand.StorageSyncSrcReq, body, cancellationToken);
            if (answer is not { Status: 0 } ok)
            {
                continue;
            }

            if (ok.Body.Length < FdfsConstants.StorageIdMaxSize + 8)
            {
                return (string.Empty, 0);
            }

            return (WireText.FromPadded(ok.Body.AsSpan(0, FdfsConstants.StorageIdMaxSize)),
                BinaryPrimitives.ReadInt64BigEndian(ok.Body.AsSpan(FdfsConstants.StorageIdMaxSize)));
        }

        return null;
    }

    /// <summary>REPORT_STATUS to every tracker: another storage's status (SYNCING while copying to it, OFFLINE when done).</summary>
    public async Task ReportPeerStatusAsync(string peerId, string peerIp, int peerPort, StorageStatus status, CancellationToken cancellationToken)
    {
        var body = new byte[FdfsConstants.GroupNameMaxLength + StorageBrief.Size];
        new WireWriter(body).WriteFixed(Options.GroupName, FdfsConstants.GroupNameMaxLength);
        new StorageBrief(status, peerPort, peerId, peerIp).Write(body.AsSpan(FdfsConstants.GroupNameMaxLength));
        bool any = false;
        foreach (var tracker in Options.TrackerServers)
        {
            any |= await CallTrackerAsync(tracker, TrackerCommand.StorageReportStatus, body, cancellationToken) is { Status: 0 };
        }

        StorageLog.PeerStatusReported(Logger, peerIp, peerPort, status.ToString(), any);
        if (!any)
        {
            throw new IOException($"no tracker took the status {status} of {peerIp}:{peerPort}");
        }
    }

    private async Task<(byte Status, byte[] Body)?> CallTrackerAsync(
        Protocol.Config.TrackerEndpoint tracker, TrackerCommand command, byte[] body, CancellationToken cancellationToken)
    {
        foreach (string host in tracker.Hosts)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(Options.NetworkTimeout);
                await using var connection = await FdfsConnection.ConnectAsync(host, tracker.Port, Options.ConnectTimeout, BindAddress, timeout.Token);
                return await connection.RoundTripAsync((byte)command, body, 64 * 1024, timeout.Token);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                StorageLog.TrackerFailed(Logger, host + ":" + tracker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, 0);
            }
        }

        return null;
    }

    public async ValueTask DisposeAsync()
    {
        List<SyncWorker> workers;
        lock (_lock)
        {
            _disposed = true;
            workers = [.. _workers.Values];
            _workers.Clear();
        }

        foreach (var worker in workers)
        {
            await worker.DisposeAsync();
        }
    }
}
