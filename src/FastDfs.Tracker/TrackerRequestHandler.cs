using System.Buffers.Binary;
using System.Net;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastDfs.Tracker;

/// <summary>Per-connection state: the storage that joined on it (if any) and reusable request/response buffers.</summary>
internal sealed class TrackerSession
{
    private byte[] _in = new byte[256];
    private byte[] _out = new byte[128];

    public TrackerSession(long id, IPEndPoint remote)
    {
        Id = id;
        var address = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        PeerIp = address.ToString();
    }

    public long Id { get; }

    /// <summary>The caller's IP as FastDFS identifies storages (IPv4-mapped addresses unwrapped).</summary>
    public string PeerIp { get; }

    public StorageNode? Storage { get; set; }

    /// <summary>The state files a copying follower reads with GET_ONE_SYS_FILE (between START and END), by index.</summary>
    public byte[][]? SysFiles { get; set; }

    public byte[] In(int size)
    {
        if (_in.Length < size)
        {
            _in = new byte[Math.Max(size, _in.Length * 2)];
        }

        return _in;
    }

    /// <summary>The response buffer: header space then <paramref name="bodySize"/> bytes of body.</summary>
    public byte[] Out(int bodySize)
    {
        int size = FdfsConstants.HeaderSize + bodySize;
        if (_out.Length < size)
        {
            _out = new byte[Math.Max(size, _out.Length * 2)];
        }

        return _out;
    }
}

/// <summary>
/// The tracker's request handler: a dispatch table by command code over a <see cref="ClusterRegistry"/>.
/// Client queries, listings/administration and storage reports live in separate partial files.
/// The tracker keeps the connection after EINVAL (it reads or skips the body first so the stream stays in
/// sync); only bodies over <see cref="MaxPackageSize"/> close it.
/// </summary>
public sealed partial class TrackerRequestHandler : IFdfsRequestHandler
{
    /// <summary>FastDFS's max_pkg_size: the tracker reads whole packets and refuses larger ones.</summary>
    public const int MaxPackageSize = 256 * 1024;

    private delegate ValueTask<bool> CommandHandler(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken);

    private readonly CommandHandler?[] _table = new CommandHandler?[256];
    private IFdfsRequestHandler?[]? _extensions;
    private readonly ClusterRegistry _registry;
    private readonly TrackerOptions _options;
    private readonly ILogger _logger;

    /// <summary>IP field of query responses: 15 bytes, 45 in IPv6 response mode (decided once, at start).</summary>
    private readonly int _queryIpSize;

    public TrackerRequestHandler(ClusterRegistry registry, ILogger? logger = null)
    {
        _registry = registry;
        _options = registry.Options;
        _logger = logger ?? NullLogger.Instance;
        _queryIpSize = QueryIp.Size(registry.IPv6Responses);
        RegisterClientQueries();
        RegisterAdmin();
        RegisterStorageReports();
        RegisterTrackers();
    }

    public ClusterRegistry Registry => _registry;

    private void Register(TrackerCommand command, CommandHandler handler) => _table[(byte)command] = handler;

    /// <summary>
    /// Serves <paramref name="command"/> with another handler (e.g. the directory service), which reads the body and
    /// answers itself. Only codes the tracker does not use; call before the server starts.
    /// </summary>
    public void RegisterExtension(byte command, IFdfsRequestHandler handler)
    {
        if (_table[command] is not null)
        {
            throw new ArgumentException($"command {command} is a tracker command", nameof(command));
        }

        (_extensions ??= new IFdfsRequestHandler?[256])[command] = handler;
    }

    public ValueTask<bool> HandleAsync(FdfsConnection connection, PacketHeader header, ConnectionContext context, CancellationToken cancellationToken)
    {
        if (context.State is not TrackerSession session)
        {
            session = new TrackerSession(context.Id, connection.RemoteEndPoint);
            context.State = session;
        }

        if (header.BodyLength > MaxPackageSize)
        {
            return RefuseAndCloseAsync(connection, header, cancellationToken);
        }

        var handler = _table[header.Command];
        if (handler is null && _extensions?[header.Command] is { } extension)
        {
            return extension.HandleAsync(connection, header, context, cancellationToken);
        }

        return handler is null
            ? RefuseAsync(connection, header, FdfsErrno.EINVAL, "unknown command", cancellationToken)
            : handler(connection, header, session, cancellationToken);
    }

    public void OnConnectionClosed(ConnectionContext context)
    {
        if (context.State is TrackerSession { Storage: { } storage } session)
        {
            _registry.ConnectionClosed(storage, session.Id);
            TrackerLog.StorageDisconnected(_logger, storage.Ip, storage.Group.Name);
        }
    }

    private async ValueTask<bool> RefuseAndCloseAsync(FdfsConnection connection, PacketHeader header, CancellationToken cancellationToken)
    {
        LogRefused(connection, header, FdfsErrno.EINVAL, $"body of {header.BodyLength} bytes exceeds max_pkg_size");
        await connection.SendErrorAsync(FdfsErrno.EINVAL, cancellationToken);
        return false;
    }

    /// <summary>Skips the unread body and answers with an error; the connection stays usable.</summary>
    private async ValueTask<bool> RefuseAsync(FdfsConnection connection, PacketHeader header, byte errno, string reason, CancellationToken cancellationToken)
    {
        LogRefused(connection, header, errno, reason);
        await connection.SkipAsync(header.BodyLength, cancellationToken);
        await connection.SendErrorAsync(errno, cancellationToken);
        return true;
    }

    /// <summary>Answers with an error after the body was read.</summary>
    private async ValueTask<bool> ErrorAsync(FdfsConnection connection, PacketHeader header, byte errno, string reason, CancellationToken cancellationToken)
    {
        LogRefused(connection, header, errno, reason);
        await connection.SendErrorAsync(errno, cancellationToken);
        return true;
    }

    private void LogRefused(FdfsConnection connection, PacketHeader header, byte errno, string reason)
    {
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            TrackerLog.RequestRefused(_logger, connection.RemoteEndPoint, header.Command, FdfsErrno.Name(errno), reason);
        }
    }

    private static async ValueTask<Memory<byte>> ReadBodyAsync(FdfsConnection connection, PacketHeader header, TrackerSession session, CancellationToken cancellationToken)
    {
        int length = (int)header.BodyLength;
        if (length == 0)
        {
            return Memory<byte>.Empty;
        }

        var buffer = session.In(length).AsMemory(0, length);
        await connection.ReadExactlyAsync(buffer, cancellationToken);
        return buffer;
    }

    /// <summary>Sends the first <paramref name="bodyLength"/> body bytes of the session's response buffer with one send.</summary>
    private static async ValueTask<bool> SendOutAsync(FdfsConnection connection, TrackerSession session, int bodyLength, CancellationToken cancellationToken)
    {
        var buffer = session.Out(bodyLength);
        BinaryPrimitives.WriteInt64BigEndian(buffer, bodyLength);
        buffer[8] = FdfsConstants.ResponseCommand;
        buffer[9] = 0;
        await connection.SendAsync(buffer.AsMemory(0, FdfsConstants.HeaderSize + bodyLength), cancellationToken);
        return true;
    }

    private static async ValueTask<bool> SendAsync(FdfsConnection connection, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        await connection.SendResponseAsync(body, cancellationToken);
        return true;
    }

    /// <summary>Body span of the session's response buffer (after the header).</summary>
    private static Span<byte> OutBody(TrackerSession session, int bodyLength) =>
        session.Out(bodyLength).AsSpan(FdfsConstants.HeaderSize, bodyLength);

    /// <summary>
    /// Writes one <c>ip15 + port L8</c> server entry (<c>ip45</c> in IPv6 response mode); a dual-IP storage's address
    /// is the one of the caller's kind (inner for a caller on a private network, else outer), as FastDFS answers.
    /// </summary>
    private void WriteServer(Span<byte> destination, StorageNode storage, TrackerSession session)
    {
        // The node's field is 45 bytes, NUL-padded; its first 15 are the IPv4-mode field (join refuses longer IPs then).
        storage.IpFieldFor(session.PeerIp).AsSpan(0, _queryIpSize).CopyTo(destination);
        BinaryPrimitives.WriteInt64BigEndian(destination[_queryIpSize..], storage.Port);
    }
}
