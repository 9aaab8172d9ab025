using System.Text;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Client;

/// <summary>Tracker queries and administration (protocol notes 3.1, 3.2).</summary>
public sealed partial class FastDfsClient
{
    private const long SmallResponse = 64 * 1024;
    private const long ListResponse = 4 * 1024 * 1024;

    /// <summary>Where to upload: tracker 101 (any group) or 104 (given group).</summary>
    public async Task<StoreTarget> QueryStoreAsync(string? group = null, CancellationToken cancellationToken = default)
    {
        SimpleRequest request;
        if (string.IsNullOrEmpty(group))
        {
            request = new(RentPacket((byte)TrackerCommand.QueryStoreWithoutGroupOne, 0), FdfsConstants.HeaderSize,
                (byte)TrackerCommand.QueryStoreWithoutGroupOne, true, SmallResponse);
        }
        else
        {
            ValidateGroup(group);
            request = GroupPacket(TrackerCommand.QueryStoreWithGroupOne, group, null);
        }

        byte[] body = await TrackerRequestAsync(request, cancellationToken);
        return StoreTarget.Read(body);
    }

    /// <summary>A storage to download from (tracker 102).</summary>
    public async Task<ServerAddress> QueryFetchAsync(FileId fileId, CancellationToken cancellationToken = default)
    {
        ValidateFileId(fileId);
        byte[] body = await TrackerRequestAsync(FilePacket((byte)TrackerCommand.QueryFetchOne, fileId, true), cancellationToken);
        return GroupServers.Read(body, false).Servers[0];
    }

    /// <summary>The storage to send changes to (tracker 103: the source storage while it is alive).</summary>
    public async Task<ServerAddress> QueryUpdateAsync(FileId fileId, CancellationToken cancellationToken = default)
    {
        ValidateFileId(fileId);
        byte[] body = await TrackerRequestAsync(FilePacket((byte)TrackerCommand.QueryUpdate, fileId, true), cancellationToken);
        return GroupServers.Read(body, false).Servers[0];
    }

    /// <summary>Every storage holding the file (tracker 105).</summary>
    public async Task<IReadOnlyList<ServerAddress>> QueryFetchAllAsync(FileId fileId, CancellationToken cancellationToken = default)
    {
        ValidateFileId(fileId);
        byte[] body = await TrackerRequestAsync(FilePacket((byte)TrackerCommand.QueryFetchAll, fileId, true), cancellationToken);
        return GroupServers.Read(body, false).Servers;
    }

    /// <summary>All groups, ordered by name (tracker 91).</summary>
    public async Task<IReadOnlyList<GroupStat>> ListGroupsAsync(CancellationToken cancellationToken = default)
    {
        var request = new SimpleRequest(RentPacket((byte)TrackerCommand.ListAllGroups, 0), FdfsConstants.HeaderSize,
            (byte)TrackerCommand.ListAllGroups, true, ListResponse);
        byte[] body = await TrackerRequestAsync(request, cancellationToken);
        return GroupStat.ReadAll(body);
    }

    /// <summary>One group (tracker 90).</summary>
    public async Task<GroupStat> ListGroupAsync(string group, CancellationToken cancellationToken = default)
    {
        ValidateGroup(group);
        byte[] body = await TrackerRequestAsync(GroupPacket(TrackerCommand.ListOneGroup, group, null), cancellationToken);
        if (body.Length != GroupStat.Size)
        {
            throw new FdfsException($"group record of {body.Length} bytes, expected {GroupStat.Size}", 71);
        }

        return GroupStat.Read(body);
    }

    /// <summary>The storages of a group, or just the one with <paramref name="storageId"/> (tracker 92).</summary>
    public async Task<IReadOnlyList<StorageInfo>> ListStoragesAsync(string group, string? storageId = null, CancellationToken cancellationToken = default)
    {
        ValidateGroup(group);
        ValidateStorageId(storageId, allowEmpty: true);
        byte[] body = await TrackerRequestAsync(GroupPacket(TrackerCommand.ListStorage, group, storageId), cancellationToken);
        return StorageInfo.ReadAll(body);
    }

    /// <summary>Removes an offline storage from a group (tracker 93).</summary>
    public async Task DeleteStorageAsync(string group, string storageIdOrIp, CancellationToken cancellationToken = default)
    {
        ValidateGroup(group);
        ValidateStorageId(storageIdOrIp, allowEmpty: false);
        await TrackerRequestAsync(GroupPacket(TrackerCommand.DeleteStorage, group, storageIdOrIp), cancellationToken);
    }

    private static SimpleRequest GroupPacket(TrackerCommand command, string group, string? id)
    {
        int idLength = string.IsNullOrEmpty(id) ? 0 : Encoding.ASCII.GetByteCount(id);
        int bodyLength = FdfsConstants.GroupNameMaxLength + idLength;
        byte[] packet = RentPacket((byte)command, bodyLength);
        var w = new WireWriter(packet.AsSpan(FdfsConstants.HeaderSize));
        w.WriteFixed(group, FdfsConstants.GroupNameMaxLength);
        if (idLength > 0)
        {
            w.WriteText(id!);
        }

        return new SimpleRequest(packet, FdfsConstants.HeaderSize + bodyLength, (byte)command, true, ListResponse);
    }

    /// <summary><c>g16 + remote filename</c> requests (tracker 102/103/105, storage 12/15/22).</summary>
    private static SimpleRequest FilePacket(byte command, FileId fileId, bool tracker, long maxResponse = SmallResponse)
    {
        int bodyLength = FdfsConstants.GroupNameMaxLength + fileId.RemoteFileName.Length;
        byte[] packet = RentPacket(command, bodyLength);
        var w = new WireWriter(packet.AsSpan(FdfsConstants.HeaderSize));
        w.WriteFixed(fileId.Group, FdfsConstants.GroupNameMaxLength);
        w.WriteText(fileId.RemoteFileName);
        return new SimpleRequest(packet, FdfsConstants.HeaderSize + bodyLength, command, tracker, maxResponse);
    }

    private static void ValidateGroup(string? group)
    {
        if (group is null || !GroupName.IsValid(group))
        {
            throw new ArgumentException($"invalid group name '{group}': 1..16 characters [A-Za-z0-9]", nameof(group));
        }
    }

    private static void ValidateStorageId(string? id, bool allowEmpty)
    {
        if (string.IsNullOrEmpty(id))
        {
            if (!allowEmpty)
            {
                throw new ArgumentException("a storage ID or IP is required", nameof(id));
            }

            return;
        }

        if (id.Length >= FdfsConstants.StorageIdMaxSize || !Ascii.IsValid(id) || id.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"invalid storage ID '{id}': at most 15 ASCII characters", nameof(id));
        }
    }

    /// <summary>Refuses malformed file IDs before any I/O (the storage would answer EINVAL and close).</summary>
    public static void ValidateFileId(FileId fileId)
    {
        if (fileId.Group is null || !GroupName.IsValid(fileId.Group))
        {
            throw new ArgumentException($"invalid group name '{fileId.Group}' in file ID", nameof(fileId));
        }

        if (!RemoteNames.TryValidate(fileId.RemoteFileName, out string? error))
        {
            throw new ArgumentException($"invalid file ID '{fileId}': {error}", nameof(fileId));
        }
    }

    /// <summary>Parses a file ID string, throwing <see cref="ArgumentException"/> with the reason.</summary>
    public static FileId ParseFileId(string fileId) =>
        FileId.TryParse(fileId, out var id, out string? error) ? id : throw new ArgumentException(error, nameof(fileId));
}
