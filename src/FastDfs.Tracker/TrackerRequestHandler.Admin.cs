using System.Globalization;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Tracker;

/// <summary>Listing and administration commands (protocol notes 3.2).</summary>
public sealed partial class TrackerRequestHandler
{
    private const int MaxIdBody = GroupField + FdfsConstants.StorageIdMaxSize - 1;

    private void RegisterAdmin()
    {
        Register(TrackerCommand.ListOneGroup, ListOneGroupAsync);
        Register(TrackerCommand.ListAllGroups, ListAllGroupsAsync);
        Register(TrackerCommand.ListStorage, ListStorageAsync);
        Register(TrackerCommand.DeleteStorage, DeleteStorageAsync);
        Register(TrackerCommand.DeleteGroup, DeleteGroupAsync);
    }

    private async ValueTask<bool> ListOneGroupAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength != GroupField)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        if (_registry.GetGroup(WireText.FromPadded(body.Span)) is not { } group)
        {
            return await ErrorAsync(connection, header, FdfsErrno.ENOENT, "unknown group", cancellationToken);
        }

        group.Write(OutBody(session, GroupStat.Size));
        return await SendOutAsync(connection, session, GroupStat.Size, cancellationToken);
    }

    private async ValueTask<bool> ListAllGroupsAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength != 0)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        return await SendAsync(connection, GroupStat.WriteAll(_registry.ListGroups()), cancellationToken);
    }

    private async ValueTask<bool> ListStorageAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength is < GroupField or > MaxIdBody)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        string group = WireText.FromPadded(body.Span[..GroupField]);
        string id = WireText.FromPadded(body.Span[GroupField..]);
        var storages = _registry.ListStorages(group, id.Length == 0 ? null : id, session.PeerIp);
        if (storages is null)
        {
            return await ErrorAsync(connection, header, FdfsErrno.ENOENT, "unknown group or storage", cancellationToken);
        }

        return await SendAsync(connection, StorageInfo.WriteAll(storages, _registry.IPv6Responses), cancellationToken);
    }

    private async ValueTask<bool> DeleteStorageAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength is <= GroupField or > MaxIdBody)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        string group = WireText.FromPadded(body.Span[..GroupField]);
        string id = WireText.FromPadded(body.Span[GroupField..]);
        byte errno = _registry.DeleteStorage(group, id);
        if (errno != FdfsErrno.Success)
        {
            return await ErrorAsync(connection, header, errno, $"cannot delete storage {id} of {group}", cancellationToken);
        }

        TrackerLog.StorageDeleted(_logger, id, group, connection.RemoteEndPoint);
        return await SendAsync(connection, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    private async ValueTask<bool> DeleteGroupAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength != GroupField)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        string group = WireText.FromPadded(body.Span);
        byte errno = _registry.DeleteGroup(group);
        return errno != FdfsErrno.Success
            ? await ErrorAsync(connection, header, errno, $"cannot delete group {group}", cancellationToken)
            : await SendAsync(connection, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    /// <summary>STORAGE_PARAMETER_REQ body: the cluster-wide settings storages must follow, as key=value lines.</summary>
    private string ParameterText()
    {
        var o = _options;
        var sb = new StringBuilder();
        void Add(string key, object value) =>
            sb.Append(key).Append('=').Append(Convert.ToString(value, CultureInfo.InvariantCulture)).Append('\n');
        Add("use_storage_id", o.UseStorageId ? 1 : 0);
        Add("id_type_in_filename", o.IdTypeInFilename == IdTypeInFilename.Id ? "id" : "ip");
        Add("trust_storage_server_id", o.TrustStorageServerId ? 1 : 0);
        Add("response_ip_addr_size", _registry.IPv6Responses ? FdfsConstants.IPv6AddressSize : FdfsConstants.IPv4AddressSize);
        Add("storage_ip_changed_auto_adjust", o.StorageIpChangedAutoAdjust ? 1 : 0);
        Add("storage_sync_file_max_delay", (long)o.StorageSyncFileMaxDelay.TotalSeconds);
        Add("store_path", (int)o.StorePath);
        Add("reserved_storage_space", o.ReservedStorageSpace.ToString());
        Add("use_trunk_file", o.UseTrunkFile ? 1 : 0);
        Add("slot_min_size", o.SlotMinSize);
        Add("slot_max_size", o.SlotMaxSize);
        Add("trunk_alloc_alignment_size", o.TrunkAllocAlignmentSize);
        Add("trunk_file_size", o.TrunkFileSize);
        Add("store_slave_file_use_link", o.StoreSlaveFileUseLink ? 1 : 0);
        return sb.ToString();
    }
}
