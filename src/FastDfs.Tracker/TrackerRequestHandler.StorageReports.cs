using System.Buffers.Binary;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Tracker;

/// <summary>Storage -> tracker commands (protocol notes 3.3, 8.2-8.4).</summary>
public sealed partial class TrackerRequestHandler
{
    private const int IdField = FdfsConstants.StorageIdMaxSize;
    private const int SyncSourceSize = IdField + 8;
    private const int SyncReportEntrySize = IdField + 4;

    /// <summary>Largest FETCH_STORAGE_IDS answer (FastDFS fills one packet buffer; storages read up to 64 KB).</summary>
    private const int StorageIdsPageSize = 60 * 1024;


    private void RegisterStorageReports()
    {
        Register(TrackerCommand.StorageJoin, JoinAsync);
        Register(TrackerCommand.StorageBeat, BeatAsync);
        Register(TrackerCommand.StorageReportDiskUsage, DiskUsageAsync);
        Register(TrackerCommand.StorageSyncReport, SyncReportAsync);
        Register(TrackerCommand.StorageSyncDestReq, SyncDestReqAsync);
        Register(TrackerCommand.StorageSyncNotify, SyncNotifyAsync);
        Register(TrackerCommand.StorageSyncSrcReq, SyncSrcReqAsync);
        Register(TrackerCommand.StorageSyncDestQuery, SyncDestQueryAsync);
        Register(TrackerCommand.StorageReportStatus, ReportStatusAsync);
        Register(TrackerCommand.StorageChangeStatus, ChangeStatusAsync);
        Register(TrackerCommand.StorageGetStatus, GetStatusAsync);
        Register(TrackerCommand.StorageGetServerId, GetServerIdAsync);
        Register(TrackerCommand.StorageGetMyIp, GetMyIpAsync);
        Register(TrackerCommand.StorageParameterReq, ParameterReqAsync);
        Register(TrackerCommand.StorageChangelogReq, ChangelogReqAsync);
        Register(TrackerCommand.StorageReportIpChanged, ReportIpChangedAsync);
        Register(TrackerCommand.StorageFetchStorageIds, FetchStorageIdsAsync);
        Register(TrackerCommand.StorageGetGroupName, GetGroupNameAsync);
    }

    private async ValueTask<bool> JoinAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength < StorageJoinRequest.FixedSize)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"join body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        StorageJoinRequest request;
        try
        {
            request = StorageJoinRequest.Read(body.Span);
        }
        catch (FdfsProtocolException e)
        {
            return await ErrorAsync(connection, header, FdfsErrno.EINVAL, e.Message, cancellationToken);
        }

        byte errno = _registry.Join(session.PeerIp, request, session.Id, out var node, out string? error);
        if (errno != FdfsErrno.Success)
        {
            TrackerLog.JoinRefused(_logger, connection.RemoteEndPoint, FdfsErrno.Name(errno), error ?? "");
            await connection.SendErrorAsync(errno, cancellationToken);
            return true;
        }

        session.Storage = node;
        Election?.Learn(request.Trackers);
        var status = node!.Status;
        string source = node.SyncSource;
        TrackerLog.StorageJoined(_logger, node.Ip, node.Port, node.Group.Name, status.ToString(), source);
        var o = OutBody(session, StorageJoinResponse.Size);
        o[0] = (byte)status;
        WriteId(o[1..], source);
        return await SendOutAsync(connection, session, StorageJoinResponse.Size, cancellationToken);
    }

    private async ValueTask<bool> BeatAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (session.Storage is not { } node)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EACCES, "storage not joined", cancellationToken);
        }

        if (header.BodyLength is not (0 or StorageStats.Size))
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"beat body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        return await SendNotificationAsync(connection, session, _registry.Beat(node, body.Span), cancellationToken);
    }

    private async ValueTask<bool> DiskUsageAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (session.Storage is not { } node)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EACCES, "storage not joined", cancellationToken);
        }

        int paths = node.StorePathCount;
        if (header.BodyLength != paths * 16L)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"disk usage body of {header.BodyLength} bytes for {paths} paths", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        var total = new long[paths];
        var free = new long[paths];
        for (int i = 0; i < paths; i++)
        {
            total[i] = BinaryPrimitives.ReadInt64BigEndian(body.Span[(i * 16)..]);
            free[i] = BinaryPrimitives.ReadInt64BigEndian(body.Span[(i * 16 + 8)..]);
        }

        return await SendNotificationAsync(connection, session, _registry.ReportDiskUsage(node, total, free), cancellationToken);
    }

    private async ValueTask<bool> SyncReportAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (session.Storage is not { } node)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EACCES, "storage not joined", cancellationToken);
        }

        if (header.BodyLength % SyncReportEntrySize != 0)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"sync report body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        var entries = new List<(string, long)>(body.Length / SyncReportEntrySize);
        for (int o = 0; o < body.Length; o += SyncReportEntrySize)
        {
            var entry = body.Span.Slice(o, SyncReportEntrySize);
            entries.Add((WireText.FromPadded(entry[..IdField]), BinaryPrimitives.ReadInt32BigEndian(entry[IdField..])));
        }

        return await SendNotificationAsync(connection, session, _registry.SyncReport(node, entries), cancellationToken);
    }

    private async ValueTask<bool> SyncDestReqAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (session.Storage is not { } node)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EACCES, "storage not joined", cancellationToken);
        }

        if (header.BodyLength != 0)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        return _registry.SyncDestRequest(node, out string source, out long until)
            ? await SendSyncSourceAsync(connection, session, source, until, cancellationToken)
            : await SendAsync(connection, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    private async ValueTask<bool> SyncNotifyAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength != SyncSourceSize)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        if (CallerStorage(session) is not { } node)
        {
            return await ErrorAsync(connection, header, FdfsErrno.ENOENT, "unknown storage", cancellationToken);
        }

        _registry.SyncNotify(node, WireText.FromPadded(body.Span[..IdField]), BinaryPrimitives.ReadInt64BigEndian(body.Span[IdField..]));
        return await SendAsync(connection, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    private async ValueTask<bool> SyncSrcReqAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength != GroupField + IdField)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        string group = WireText.FromPadded(body.Span[..GroupField]);
        string dest = WireText.FromPadded(body.Span[GroupField..]);
        if (_registry.FindStorage(group, dest) is not { } node)
        {
            return await ErrorAsync(connection, header, FdfsErrno.ENOENT, $"unknown storage {dest} in {group}", cancellationToken);
        }

        return _registry.GetSyncSource(node, out string source, out long until)
            ? await SendSyncSourceAsync(connection, session, source, until, cancellationToken)
            : await SendAsync(connection, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    private async ValueTask<bool> SyncDestQueryAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength != 0)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        if (CallerStorage(session) is not { } node)
        {
            return await ErrorAsync(connection, header, FdfsErrno.ENOENT, "unknown storage", cancellationToken);
        }

        return _registry.GetSyncSource(node, out string source, out long until)
            ? await SendSyncSourceAsync(connection, session, source, until, cancellationToken)
            : await SendAsync(connection, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    private async ValueTask<bool> ReportStatusAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength != GroupField + StorageBrief.Size)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        string group = WireText.FromPadded(body.Span[..GroupField]);
        var brief = StorageBrief.Read(body.Span[GroupField..]);
        if (!Enum.IsDefined(brief.Status))
        {
            return await ErrorAsync(connection, header, FdfsErrno.EINVAL, $"bad status {(byte)brief.Status}", cancellationToken);
        }

        // FastDFS finds the storage by the brief's ID; older peers of ours sent the IP in both fields.
        string id = brief.Id.Length > 0 ? brief.Id : brief.Ip;
        byte errno = _registry.ReportStatus(group, id, brief.Ip.Length > 0 ? brief.Ip : id, brief.Status);
        return errno != FdfsErrno.Success
            ? await ErrorAsync(connection, header, errno, $"unknown storage {id} in {group}", cancellationToken)
            : await SendAsync(connection, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    private async ValueTask<bool> ChangeStatusAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (session.Storage is not { } node)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EACCES, "storage not joined", cancellationToken);
        }

        if (header.BodyLength != 1)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        var status = (StorageStatus)body.Span[0];
        if (!Enum.IsDefined(status))
        {
            return await ErrorAsync(connection, header, FdfsErrno.EINVAL, $"bad status {(byte)status}", cancellationToken);
        }

        _registry.ChangeStatus(node, status);
        return await SendAsync(connection, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    /// <summary>71 body: <c>g16 + ip[:port]</c>. Returns the storage at that address, or the errno.</summary>
    private async ValueTask<(byte Errno, StorageNode? Node)> ReadStorageAddressAsync(
        FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        var request = GetServerIdRequest.Read(body.Span);
        var (ip, port) = request.SplitAddress();
        var node = _registry.FindStorageByAddress(request.Group, ip, port);
        return node is null ? (FdfsErrno.ENOENT, null) : (FdfsErrno.Success, node);
    }

    private static bool AddressBodyOk(PacketHeader header) =>
        header.BodyLength > GroupField && header.BodyLength <= GroupField + FdfsConstants.IPv6AddressSize + 8;

    private async ValueTask<bool> GetStatusAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (!AddressBodyOk(header))
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var (errno, node) = await ReadStorageAddressAsync(connection, header, session, cancellationToken);
        if (errno != FdfsErrno.Success)
        {
            return await ErrorAsync(connection, header, errno, "unknown storage", cancellationToken);
        }

        node!.ToBrief(session.PeerIp).Write(OutBody(session, StorageBrief.Size));
        return await SendOutAsync(connection, session, StorageBrief.Size, cancellationToken);
    }

    /// <summary>
    /// 70: the storage ID for <c>g16 [+ ip[:port]]</c> (no address: the caller's). IP mode: the IP itself, as FastDFS
    /// answers; ID mode: the storage_ids.conf line for that address (ENOENT if none, or if it is another group's).
    /// </summary>
    private async ValueTask<bool> GetServerIdAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength < GroupField || header.BodyLength > GroupField + FdfsConstants.IPv6AddressSize + 8)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        var request = GetServerIdRequest.Read(body.Span);
        var (ip, port) = request.SplitAddress();
        if (ip.Length == 0)
        {
            ip = session.PeerIp;
        }

        if (_options.StorageIds is not { } ids || !_options.UseStorageId)
        {
            return await SendAsync(connection, Encoding.ASCII.GetBytes(ip), cancellationToken);
        }

        var entry = port > 0 ? ids.FindByAddress(ip, port) : ids.FindByIp(request.Group, ip);
        if (entry is null || entry.Group != request.Group)
        {
            TrackerLog.UnknownStorageAddress(_logger, connection.RemoteEndPoint, request.Group, request.Address);
            return await ErrorAsync(connection, header, FdfsErrno.ENOENT, $"no storage id for {request.Address} in {request.Group}", cancellationToken);
        }

        return await SendAsync(connection, Encoding.ASCII.GetBytes(entry.Id), cancellationToken);
    }

    /// <summary>69: pages through storage_ids.conf (EOPNOTSUPP without storage IDs).</summary>
    private async ValueTask<bool> FetchStorageIdsAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (!_options.UseStorageId || _options.StorageIds is not { } ids)
        {
            return await NoStorageIdsAsync(connection, header, session, cancellationToken);
        }

        if (header.BodyLength is not (4 or 5))
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        var request = FetchStorageIdsRequest.Read(body.Span);
        bool emptyOk = request.AllowEmpty == true && request.StartIndex == ids.Count;
        if (request.StartIndex < 0 || (request.StartIndex >= ids.Count && !emptyOk))
        {
            return await ErrorAsync(connection, header, FdfsErrno.EINVAL, $"start index {request.StartIndex} of {ids.Count} storage ids", cancellationToken);
        }

        // As FastDFS: as many lines as fit one response buffer; the caller asks again from where this one stopped.
        var lines = new List<string>();
        int size = FetchStorageIdsResponse.HeaderSize;
        for (int i = request.StartIndex; i < ids.Count; i++)
        {
            string line = ids.Entries[i].ToLine();
            if (size + line.Length + 1 > StorageIdsPageSize)
            {
                break;
            }

            lines.Add(line);
            size += line.Length + 1;
        }

        return await SendAsync(connection, new FetchStorageIdsResponse(ids.Count, lines).ToArray(), cancellationToken);
    }

    /// <summary>109: the group of the storage at <c>[ip] + port L4</c> (no IP: the caller's), from storage_ids.conf.</summary>
    private async ValueTask<bool> GetGroupNameAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (!_options.UseStorageId || _options.StorageIds is not { } ids)
        {
            return await NoStorageIdsAsync(connection, header, session, cancellationToken);
        }

        if (header.BodyLength < 4)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        if (header.BodyLength - 4 >= FdfsConstants.IPv6AddressSize)
        {
            return await RefuseAsync(connection, header, FdfsErrno.ENAMETOOLONG, $"address of {header.BodyLength - 4} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        string ip = body.Length == 4 ? session.PeerIp : WireText.FromPadded(body.Span[..^4]);
        int port = BinaryPrimitives.ReadInt32BigEndian(body.Span[^4..]);
        if (ids.FindByAddress(ip, port) is not { } entry)
        {
            TrackerLog.UnknownStorageAddress(_logger, connection.RemoteEndPoint, "?", $"{ip}:{port}");
            return await ErrorAsync(connection, header, FdfsErrno.ENOENT, $"no storage id for {ip}:{port}", cancellationToken);
        }

        var o = OutBody(session, GroupField);
        o.Clear();
        Encoding.ASCII.GetBytes(entry.Group, o);
        return await SendOutAsync(connection, session, GroupField, cancellationToken);
    }

    private async ValueTask<bool> GetMyIpAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength is not (0 or GroupField + 1 + 4))
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);

        // ID mode: the address(es) storage_ids.conf gives the caller, as FastDFS answers.
        if (_options.UseStorageId && _options.StorageIds is { } ids && body.Length > 0
            && ids.FindByIp(WireText.FromPadded(body.Span[..GroupField]), session.PeerIp) is { } entry)
        {
            return await SendAsync(connection, Encoding.ASCII.GetBytes(string.Join(',', entry.Ips)), cancellationToken);
        }

        return await SendAsync(connection, Encoding.ASCII.GetBytes(session.PeerIp), cancellationToken);
    }

    private async ValueTask<bool> ParameterReqAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength != 0)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        return await SendAsync(connection, Encoding.ASCII.GetBytes(ParameterText()), cancellationToken);
    }

    /// <summary>
    /// 77: the storage changelog after the caller's offset (the tracker keeps each storage's offset, as FastDFS).
    /// Body empty on a joined storage's connection, else <c>g16</c> + storage ID 16.
    /// </summary>
    private async ValueTask<bool> ChangelogReqAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        StorageNode? node;
        if (session.Storage is { } joined)
        {
            if (header.BodyLength != 0)
            {
                return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
            }

            node = joined;
        }
        else
        {
            if (header.BodyLength != GroupField + IdField)
            {
                return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
            }

            var body = await ReadBodyAsync(connection, header, session, cancellationToken);
            string group = WireText.FromPadded(body.Span[..GroupField]);
            string id = WireText.FromPadded(body.Span[GroupField..]);
            node = _registry.FindStorage(group, id);
            if (node is null)
            {
                return await ErrorAsync(connection, header, FdfsErrno.ENOENT, $"storage {id} of group {group} unknown", cancellationToken);
            }
        }

        byte[] chunk;
        try
        {
            chunk = _registry.TakeChangelog(node);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return await ErrorAsync(connection, header, FdfsErrno.EIO, "cannot read the storage changelog: " + e.Message, cancellationToken);
        }

        return await SendAsync(connection, chunk, cancellationToken);
    }

    /// <summary>
    /// 78: <c>g16</c> + old IP 46 + new IP 46, sent by a storage whose IP changed (storage_ip_changed_auto_adjust,
    /// IP mode). The new IP must be the caller's; EOPNOTSUPP with storage IDs, as FastDFS.
    /// </summary>
    private async ValueTask<bool> ReportIpChangedAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (_options.UseStorageId)
        {
            await connection.SkipAsync(header.BodyLength, cancellationToken);
            return await ErrorAsync(connection, header, FdfsErrno.EOPNOTSUPP, "IP changes are not adjusted with storage IDs", cancellationToken);
        }

        const int IpField = FdfsConstants.IPv6AddressSize;
        if (header.BodyLength != GroupField + 2 * IpField)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        string group = WireText.FromPadded(body.Span[..GroupField]);
        string oldIp = WireText.FromPadded(body.Span.Slice(GroupField, IpField));
        string newIp = WireText.FromPadded(body.Span.Slice(GroupField + IpField, IpField));
        if (newIp != session.PeerIp)
        {
            return await ErrorAsync(connection, header, FdfsErrno.EINVAL, $"new IP {newIp} is not the caller's {session.PeerIp}", cancellationToken);
        }

        byte errno = _registry.ReportIpChanged(group, oldIp, newIp);
        if (errno != FdfsErrno.Success)
        {
            return await ErrorAsync(connection, header, errno, $"IP change {oldIp} -> {newIp} in group {group}", cancellationToken);
        }

        TrackerLog.StorageIpChanged(_logger, group, oldIp, newIp);
        return await SendAsync(connection, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    private ValueTask<bool> NoStorageIdsAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken) =>
        RefuseAsync(connection, header, FdfsErrno.EOPNOTSUPP, "storage IDs are not used", cancellationToken);

    /// <summary>The storage this connection belongs to: the joined one, else the one with the caller's IP.</summary>
    private StorageNode? CallerStorage(TrackerSession session) => session.Storage ?? _registry.FindStorageByIp(session.PeerIp);

    private static ValueTask<bool> SendNotificationAsync(FdfsConnection connection, TrackerSession session, ChangeNotification notification, CancellationToken cancellationToken)
    {
        if (notification.IsEmpty)
        {
            return SendOutAsync(connection, session, 0, cancellationToken);
        }

        return SendAsync(connection, notification.ToArray(), cancellationToken);
    }

    private static ValueTask<bool> SendSyncSourceAsync(FdfsConnection connection, TrackerSession session, string source, long until, CancellationToken cancellationToken)
    {
        var o = OutBody(session, SyncSourceSize);
        WriteId(o, source);
        BinaryPrimitives.WriteInt64BigEndian(o[IdField..], until);
        return SendOutAsync(connection, session, SyncSourceSize, cancellationToken);
    }

    private static void WriteId(Span<byte> destination, string id)
    {
        var field = destination[..IdField];
        field.Clear();
        Encoding.ASCII.GetBytes(id.AsSpan(0, Math.Min(id.Length, IdField)), field);
    }
}
