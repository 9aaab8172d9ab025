using System.Buffers.Binary;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using FastDfs.Protocol.TrackerState;

namespace FastDfs.Tracker;

/// <summary>Tracker <-> tracker commands (protocol notes 3.4, 8.7) and the leader-aware admin answers.</summary>
public sealed partial class TrackerRequestHandler
{
    private const int PingCountersSize = 12;

    /// <summary>The cluster's leadership; null for a handler used without a service (unit tests): a lone leader.</summary>
    internal LeaderElection? Election { get; set; }

    private void RegisterTrackers()
    {
        Register(TrackerCommand.TrackerGetStatus, TrackerGetStatusAsync);
        Register(TrackerCommand.GetLeader, GetLeaderAsync);
        Register(TrackerCommand.TrackerJoinLeader, JoinLeaderAsync);
        Register(TrackerCommand.TrackerPingLeader, PingLeaderAsync);
        Register(TrackerCommand.TrackerNotifyNextLeader, NotifyNextLeaderAsync);
        Register(TrackerCommand.TrackerCommitNextLeader, CommitNextLeaderAsync);
        Register(TrackerCommand.TrackerNotifyReselectLeader, ReselectLeaderAsync);
        Register(TrackerCommand.GetSysFilesStart, SysFilesStartAsync);
        Register(TrackerCommand.GetOneSysFile, OneSysFileAsync);
        Register(TrackerCommand.GetSysFilesEnd, SysFilesEndAsync);
    }

    /// <summary>64: is_leader (1) + running time L8 + restart interval L8.</summary>
    private async ValueTask<bool> TrackerGetStatusAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength != 0)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var status = Election?.LocalStatus() ?? new TrackerStatus(true, _registry.Now - _registry.StartTime, 0);
        status.Write(OutBody(session, TrackerStatus.Size));
        return await SendOutAsync(connection, session, TrackerStatus.Size, cancellationToken);
    }

    /// <summary>95: the leader as <c>ip:port</c>; ENOENT while there is none. A lone tracker answers with the address the caller reached.</summary>
    private async ValueTask<bool> GetLeaderAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength != 0)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        ServerAddress leader;
        if (Election?.Leader is { Ip.Length: > 0 } known)
        {
            leader = known;
        }
        else if (Election is null || Election.IsLeader)
        {
            // Leading without knowing our own name (bound to all interfaces): the address this caller reached.
            var local = connection.LocalEndPoint;
            var address = local.Address.IsIPv4MappedToIPv6 ? local.Address.MapToIPv4() : local.Address;
            leader = new ServerAddress(address.ToString(), local.Port);
        }
        else
        {
            return await ErrorAsync(connection, header, FdfsErrno.ENOENT, "no tracker leader", cancellationToken);
        }

        return await SendAsync(connection, Encoding.ASCII.GetBytes(leader.ToString()), cancellationToken);
    }

    /// <summary>58: a follower's handshake on a new connection; only the leader accepts (EOPNOTSUPP otherwise).</summary>
    private async ValueTask<bool> JoinLeaderAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength != TrackerJoinLeaderRequest.Size)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        await ReadBodyAsync(connection, header, session, cancellationToken);
        return Election is { AcceptsFollowers: false }
            ? await ErrorAsync(connection, header, FdfsErrno.EOPNOTSUPP, "not the leader", cancellationToken)
            : await SendAsync(connection, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    /// <summary>65: follower keepalive. No trunk servers here, so the leader's answer is always empty.</summary>
    private async ValueTask<bool> PingLeaderAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        // Up to 6.15 the ping had no body; 6.16 sends 12 bytes of connection counters.
        if (header.BodyLength is not (0 or PingCountersSize))
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        await ReadBodyAsync(connection, header, session, cancellationToken);
        return Election is { AcceptsFollowers: false }
            ? await ErrorAsync(connection, header, FdfsErrno.EOPNOTSUPP, "not the leader", cancellationToken)
            : await SendAsync(connection, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    private ValueTask<bool> NotifyNextLeaderAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken) =>
        LeaderChangeAsync(connection, header, session, commit: false, cancellationToken);

    private ValueTask<bool> CommitNextLeaderAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken) =>
        LeaderChangeAsync(connection, header, session, commit: true, cancellationToken);

    /// <summary>66 / 67: body = leader <c>ip:port</c> padded to 52 bytes.</summary>
    private async ValueTask<bool> LeaderChangeAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, bool commit, CancellationToken cancellationToken)
    {
        if (header.BodyLength != LeaderAddressBody.Size)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        if (!LeaderAddressBody.TryRead(body.Span, out var leader))
        {
            return await ErrorAsync(connection, header, FdfsErrno.EINVAL, "invalid leader address", cancellationToken);
        }

        if (Election is not { } election)
        {
            return await ErrorAsync(connection, header, FdfsErrno.EOPNOTSUPP, "no tracker cluster", cancellationToken);
        }

        byte errno = commit ? election.OnCommitNextLeader(leader) : election.OnNotifyNextLeader(leader);
        return errno != FdfsErrno.Success
            ? await ErrorAsync(connection, header, errno, $"cannot commit leader {leader}", cancellationToken)
            : await SendAsync(connection, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    /// <summary>68: a storage saw two leaders; a leader steps down and elects again.</summary>
    private async ValueTask<bool> ReselectLeaderAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength != 0)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        byte errno = Election?.OnReselect(connection.RemoteEndPoint.ToString()) ?? FdfsErrno.EOPNOTSUPP;
        return errno != FdfsErrno.Success
            ? await ErrorAsync(connection, header, errno, "not the leader", cancellationToken)
            : await SendAsync(connection, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    /// <summary>
    /// 61: snapshot the four state files for a copying follower, as FastDFS saves them before it answers; ENOENT
    /// when there are no groups (as FastDFS).
    /// </summary>
    private async ValueTask<bool> SysFilesStartAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength != 0)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        if (_registry.GroupCount == 0)
        {
            return await ErrorAsync(connection, header, FdfsErrno.ENOENT, "no groups", cancellationToken);
        }

        var files = StateFiles.Render(_registry.ExportState(), _registry.Options.UseStorageId);
        byte[] changelog;
        try
        {
            changelog = _registry.Changelog?.ReadAll() ?? [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return await ErrorAsync(connection, header, FdfsErrno.EIO, "cannot read the storage changelog: " + e.Message, cancellationToken);
        }

        session.SysFiles = [files.Groups, files.Servers, files.SyncTimestamps, changelog];
        return await SendAsync(connection, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    /// <summary>
    /// 63: index (1) + offset L8 -> file size L8 + up to <see cref="TrackerSysFiles.MaxChunkSize"/> bytes from the
    /// offset (FastDFS's followers read into an 8 KB buffer). Index 0..3 as <see cref="TrackerSysFiles.Names"/>.
    /// </summary>
    private async ValueTask<bool> OneSysFileAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength != SysFileChunk.RequestSize)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        var body = await ReadBodyAsync(connection, header, session, cancellationToken);
        var (index, offset) = SysFileChunk.ReadRequest(body.Span);
        if (index >= TrackerSysFiles.Count)
        {
            return await ErrorAsync(connection, header, FdfsErrno.EINVAL, $"sys file index {index}", cancellationToken);
        }

        if (session.SysFiles is not { } files)
        {
            // FastDFS reads the files as they are on disk; without START we have no snapshot to serve.
            return await ErrorAsync(connection, header, FdfsErrno.EINVAL, "GET_ONE_SYS_FILE without GET_SYS_FILES_START", cancellationToken);
        }

        byte[] file = files[index];
        if (offset < 0 || offset > file.Length)
        {
            return await ErrorAsync(connection, header, FdfsErrno.EINVAL, $"sys file {index} offset {offset}", cancellationToken);
        }

        int length = (int)Math.Min(file.Length - offset, LeaderElection.ChunkSize);
        var response = new byte[SysFileChunk.ResponseHeaderSize + length];
        BinaryPrimitives.WriteInt64BigEndian(response, file.Length);
        file.AsSpan((int)offset, length).CopyTo(response.AsSpan(SysFileChunk.ResponseHeaderSize));
        return await SendAsync(connection, response, cancellationToken);
    }

    /// <summary>62: the copy is done; drop the snapshot.</summary>
    private async ValueTask<bool> SysFilesEndAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        if (header.BodyLength != 0)
        {
            return await RefuseAsync(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes", cancellationToken);
        }

        session.SysFiles = null;
        return await SendAsync(connection, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }
}
