using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;

namespace FastDfs.Tracker;

/// <summary>Client-facing queries (protocol notes 3.1): where to upload, download, update.</summary>
public sealed partial class TrackerRequestHandler
{
    private const int GroupField = FdfsConstants.GroupNameMaxLength;

    /// <summary><c>ip + port L8</c>: 23 bytes, 53 in IPv6 response mode.</summary>
    private int ServerEntrySize => _queryIpSize + 8;

    private int StoreOneSize => GroupField + ServerEntrySize + 1;

    private int FetchOneSize => GroupField + ServerEntrySize;

    private void RegisterClientQueries()
    {
        Register(TrackerCommand.QueryStoreWithoutGroupOne, QueryStoreOneAsync);
        Register(TrackerCommand.QueryStoreWithGroupOne, QueryStoreOneAsync);
        Register(TrackerCommand.QueryStoreWithoutGroupAll, QueryStoreAllAsync);
        Register(TrackerCommand.QueryStoreWithGroupAll, QueryStoreAllAsync);
        Register(TrackerCommand.QueryFetchOne, QueryFetchOrUpdateAsync);
        Register(TrackerCommand.QueryUpdate, QueryFetchOrUpdateAsync);
        Register(TrackerCommand.QueryFetchAll, QueryFetchAllAsync);
    }

    private static bool WithGroup(PacketHeader header) =>
        header.Command is (byte)TrackerCommand.QueryStoreWithGroupOne or (byte)TrackerCommand.QueryStoreWithGroupAll;

    /// <summary>101 / 104: 40-byte answer, built in the session buffer (the hot path allocates nothing).</summary>
    private async ValueTask<bool> QueryStoreOneAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        bool withGroup = WithGroup(header);
        if (header.BodyLength != (withGroup ? GroupField : 0))
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        byte errno = _registry.SelectStore(body.Span, out var group, out var storage, out byte path);
        if (errno != FdfsErrno.Success)
        {
            return await ErrorAsync(connection, header, errno, "no storage to upload to", cancellationToken);
        }

        int size = StoreOneSize;
        var o = OutBody(session, size);
        group!.State.NameField.CopyTo(o);
        WriteServer(o[GroupField..], storage!, session);
        o[size - 1] = path;
        return await SendOutAsync(connection, session, size, cancellationToken);
    }

    /// <summary>106 / 107: every writable storage of the chosen group; the path index is the first storage's.</summary>
    private async ValueTask<bool> QueryStoreAllAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        bool withGroup = WithGroup(header);
        if (header.BodyLength != (withGroup ? GroupField : 0))
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        byte errno = _registry.SelectGroup(body.Span, out var group);
        byte path = 0;
        if (errno == FdfsErrno.Success)
        {
            errno = _registry.SelectPath(group!.Writable[0], out path);
        }

        if (errno != FdfsErrno.Success)
        {
            return await ErrorAsync(connection, header, errno, "no storage to upload to", cancellationToken);
        }

        var servers = group!.Writable;
        int size = GroupField + servers.Length * ServerEntrySize + 1;
        var o = OutBody(session, size);
        group.State.NameField.CopyTo(o);
        for (int i = 0; i < servers.Length; i++)
        {
            WriteServer(o[(GroupField + i * ServerEntrySize)..], servers[i], session);
        }

        o[size - 1] = path;
        return await SendOutAsync(connection, session, size, cancellationToken);
    }

    /// <summary>Reads and checks a <c>g16 + remote filename</c> body; errno on failure.</summary>
    private async ValueTask<(byte Errno, GroupView? Group, FileNameInfo File)> ReadFileQueryAsync(
        FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        var group = _registry.Snapshot.Find(body.Span[..GroupField]);
        if (group is null)
        {
            return (FdfsErrno.ENOENT, null, default);
        }

        string remote = Encoding.ASCII.GetString(body.Span[GroupField..]);
        return FileNames.TryDecode(remote, out var file) ? (FdfsErrno.Success, group, file) : (FdfsErrno.EINVAL, null, default);
    }

    private static bool FileQueryLengthOk(PacketHeader header) =>
        header.BodyLength >= GroupField + FdfsConstants.RemoteFileNameMinLength
        && header.BodyLength < GroupField + FdfsConstants.RemoteFileNameMaxLength + 1;

    /// <summary>102 / 103: one server (39 bytes).</summary>
    private async ValueTask<bool> QueryFetchOrUpdateAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (!FileQueryLengthOk(header))
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var (errno, group, file) = await ReadFileQueryAsync(connection, header, session, cancellationToken);
        StorageNode? storage = null;
        if (errno == FdfsErrno.Success)
        {
            errno = header.Command == (byte)TrackerCommand.QueryUpdate
                ? _registry.SelectUpdate(group!, file, out storage)
                : _registry.SelectFetch(group!, file, out storage);
        }

        if (errno != FdfsErrno.Success)
        {
            return await ErrorAsync(connection, header, errno, "no storage for the file", cancellationToken);
        }

        int size = FetchOneSize;
        var o = OutBody(session, size);
        group!.State.NameField.CopyTo(o);
        WriteServer(o[GroupField..], storage!, session);
        return await SendOutAsync(connection, session, size, cancellationToken);
    }

    /// <summary>105: every readable storage that has the file.</summary>
    private async ValueTask<bool> QueryFetchAllAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (!FileQueryLengthOk(header))
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var (errno, group, file) = await ReadFileQueryAsync(connection, header, session, cancellationToken);
        var servers = new List<StorageNode>();
        if (errno == FdfsErrno.Success)
        {
            errno = _registry.SelectFetchAll(group!, file, servers);
        }

        if (errno != FdfsErrno.Success)
        {
            return await ErrorAsync(connection, header, errno, "no storage for the file", cancellationToken);
        }

        int size = GroupField + servers.Count * ServerEntrySize;
        var o = OutBody(session, size);
        group!.State.NameField.CopyTo(o);
        for (int i = 0; i < servers.Count; i++)
        {
            WriteServer(o[(GroupField + i * ServerEntrySize)..], servers[i], session);
        }

        return await SendOutAsync(connection, session, size, cancellationToken);
    }
}
