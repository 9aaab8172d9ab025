using System.Net;
using System.Net.Sockets;
using FastDfs.Protocol;
using Microsoft.Extensions.Logging;

namespace FastDfs.Net;

/// <summary>What a role (tracker, storage) does with one request. The body has not been read yet.</summary>
public interface IFdfsRequestHandler
{
    /// <summary>
    /// Handles one request whose header was read; reads its body and sends the response.
    /// Returns false to close the connection afterwards (FastDFS storages close after EINVAL).
    /// </summary>
    ValueTask<bool> HandleAsync(FdfsConnection connection, PacketHeader header, ConnectionContext context, CancellationToken cancellationToken);

    /// <summary>Called once when a connection closes, for per-connection state (a storage's tracker session).</summary>
    void OnConnectionClosed(ConnectionContext context)
    {
    }
}

/// <summary>Per-connection state a handler may keep (e.g. which storage logged in on a tracker connection).</summary>
public sealed class ConnectionContext
{
    private static long s_nextId;

    public long Id { get; } = Interlocked.Increment(ref s_nextId);

    public object? State { get; set; }
}

/// <summary>
/// Accept loop and per-connection request loop shared by the daemons: handles ACTIVE_TEST and QUIT itself,
/// hands every other request to the role's <see cref="IFdfsRequestHandler"/>.
/// </summary>
public sealed partial class FdfsServer : IAsyncDisposable
{
    private readonly IFdfsRequestHandler _handler;
    private readonly ILogger _logger;
    private readonly int _maxConnections;
    private readonly Func<IPAddress, bool> _allowHost;
    private readonly CancellationTokenSource _stopping = new();
    // Open connections and their request loops (null until the loop is started): the stall sweep reads the keys,
    // StopAsync waits for the loops.
    private readonly Dictionary<FdfsConnection, Task?> _connections = [];
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private int _connectionCount;
    private Task? _sweep;

    public FdfsServer(
        IPEndPoint endpoint,
        IFdfsRequestHandler handler,
        ILogger logger,
        int maxConnections = 1024,
        Func<IPAddress, bool>? allowHost = null)
    {
        EndPoint = endpoint;
        _handler = handler;
        _logger = logger;
        _maxConnections = maxConnections;
        _allowHost = allowHost ?? (_ => true);
    }

    public IPEndPoint EndPoint { get; private set; }

    /// <summary>An IPv6 endpoint also takes IPv4 clients (<c>address_family = both</c>); set before <see cref="Start"/>.</summary>
    public bool DualStack { get; init; }

    /// <summary>
    /// Further addresses served on <see cref="EndPoint"/>'s port (a <c>bind_addr</c> naming an IPv4 and an IPv6
    /// address); set before <see cref="Start"/>.
    /// </summary>
    public IReadOnlyList<IPAddress> AlsoListenOn { get; init; } = [];

    /// <summary>
    /// network_timeout: a connection whose socket operation moves no byte for this long before its first request or
    /// inside a request is closed (FastDFS's recv/send timer); between requests it may stay idle. Infinite: never.
    /// </summary>
    public TimeSpan NetworkTimeout { get; init; } = Timeout.InfiniteTimeSpan;

    /// <summary>Every bound endpoint, <see cref="EndPoint"/> first.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints => [.. _listeners.Select(l => (IPEndPoint)l.LocalEndPoint!)];

    public int ConnectionCount => Volatile.Read(ref _connectionCount);

    public void Start()
    {
        var first = Listen(EndPoint, DualStack);
        EndPoint = (IPEndPoint)first.LocalEndPoint!;
        try
        {
            foreach (var address in AlsoListenOn)
            {
                Listen(new IPEndPoint(address, EndPoint.Port), dualStack: false);
            }
        }
        catch
        {
            _listeners.ForEach(l => l.Dispose());
            throw;
        }

        foreach (var listener in _listeners)
        {
            _acceptLoops.Add(AcceptLoopAsync(listener));
        }

        if (NetworkTimeout > TimeSpan.Zero && NetworkTimeout != Timeout.InfiniteTimeSpan)
        {
            _sweep = SweepStalledAsync();
        }
    }

    /// <summary>
    /// Every second (four times per network_timeout when shorter) closes the connections whose pending socket
    /// operation has moved no byte for network_timeout: one loop for the server instead of a timer per request.
    /// </summary>
    private async Task SweepStalledAsync()
    {
        long limit = (long)NetworkTimeout.TotalMilliseconds;
        long period = Math.Clamp(limit / 4, 100, 1000);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(period));
        var stalled = new List<(FdfsConnection Connection, StallWatch Watch, long Idle)>();
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                long now = Environment.TickCount64;
                lock (_connections)
                {
                    foreach (var connection in _connections.Keys)
                    {
                        var watch = connection.Watch;
                        long since = connection.IoPendingSince;
                        if (watch == StallWatch.Idle || since == 0 || now - since < period)
                        {
                            continue;
                        }

                        // Pending for a while: the kernel's counters show whether bytes still move (a large send that
                        // the peer drains slowly completes only at its end). Asked only of such connections; a
                        // change restarts the clock at this sweep, as nothing tells when within the period it moved.
                        long moved = connection.KernelBytesMoved();
                        if (moved != connection.SweepBytes)
                        {
                            connection.SweepBytes = moved;
                            connection.SweepTicks = now;
                            continue;
                        }

                        long idle = now - Math.Max(since, connection.SweepTicks);
                        if (idle >= limit)
                        {
                            stalled.Add((connection, watch, idle));
                        }
                    }
                }

                foreach (var (connection, watch, idle) in stalled)
                {
                    LogStalled(_logger, connection.RemoteEndPoint, idle / 1000.0,
                        watch == StallWatch.FirstRequest ? "before its first request" : "inside a request", NetworkTimeout.TotalSeconds);

                    // Ends the handler's pending receive or send (SocketException / ObjectDisposedException); the
                    // request loop then cleans up as for a dropped connection.
                    connection.Dispose();
                }

                stalled.Clear();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private Socket Listen(IPEndPoint endpoint, bool dualStack)
    {
        var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (dualStack && endpoint.AddressFamily == AddressFamily.InterNetworkV6)
        {
            listener.DualMode = true;
        }

        if (OperatingSystem.IsLinux())
        {
            // Plain SO_REUSEADDR (as FastDFS sets it): rebind over TIME_WAIT after a restart. .NET's ReuseAddress
            // adds SO_REUSEPORT on Linux, which let a second daemon bind the same port and take half the connections.
            const int SolSocket = 1, SoReuseAddr = 2;
            listener.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
        }
        else
        {
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        }
        try
        {
            listener.Bind(endpoint);
            listener.Listen(1024);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _listeners.Add(listener);
        return listener;
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.OperationAborted)
            {
                // The listener was closed by StopAsync.
                break;
            }
            catch (SocketException e)
            {
                LogAcceptFailed(_logger, e.SocketErrorCode, e);
                continue;
            }

            var remote = (IPEndPoint)socket.RemoteEndPoint!;
            if (!_allowHost(remote.Address))
            {
                // FastDFS drops disallowed clients at accept time without a response.
                LogHostRefused(_logger, remote);
                socket.Dispose();
                continue;
            }

            if (Interlocked.Increment(ref _connectionCount) > _maxConnections)
            {
                Interlocked.Decrement(ref _connectionCount);
                LogTooManyConnections(_logger, _maxConnections, remote);
                socket.Dispose();
                continue;
            }

            var connection = new FdfsConnection(socket) { Watch = StallWatch.FirstRequest };
            lock (_connections)
            {
                _connections.Add(connection, null);
            }

            var task = ServeAsync(connection);
            lock (_connections)
            {
                // The loop removes its own entry when it ends, which may already have happened.
                if (_connections.ContainsKey(connection))
                {
                    _connections[connection] = task;
                }
            }
        }
    }

    private async Task ServeAsync(FdfsConnection connection)
    {
        await Task.Yield();
        var context = new ConnectionContext();
        var token = _stopping.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var maybeHeader = await connection.ReadHeaderOrEndAsync(token);
                if (maybeHeader is not { } header)
                {
                    break;
                }

                connection.Watch = StallWatch.InRequest;

                if (header.Command == (byte)TrackerCommand.Quit)
                {
                    break;
                }

                if (header.Command == (byte)TrackerCommand.ActiveTest)
                {
                    if (header.BodyLength != 0)
                    {
                        await connection.SendErrorAsync(FdfsErrno.EINVAL, token);
                        break;
                    }

                    await connection.SendResponseAsync(ReadOnlyMemory<byte>.Empty, token);
                    connection.Watch = StallWatch.Idle;
                    continue;
                }

                if (!await _handler.HandleAsync(connection, header, context, token))
                {
                    break;
                }

                connection.Watch = StallWatch.Idle;
            }
        }
        catch (OperationCanceledException)
        {
            // Server stopping.
        }
        catch (FdfsProtocolException e)
        {
            LogProtocolError(_logger, connection.RemoteEndPoint, e.Message);
            await TrySendErrorAsync(connection, e.Errno);
        }
        catch (Exception e) when (e is IOException or SocketException or EndOfStreamException or ObjectDisposedException)
        {
            LogConnectionDropped(_logger, connection.RemoteEndPoint, e.Message);
        }
        catch (Exception e)
        {
            LogHandlerFailed(_logger, connection.RemoteEndPoint, e);
            await TrySendErrorAsync(connection, FdfsErrno.EIO);
        }
        finally
        {
            try
            {
                _handler.OnConnectionClosed(context);
            }
            catch (Exception e)
            {
                LogHandlerFailed(_logger, connection.RemoteEndPoint, e);
            }

            connection.Dispose();
            lock (_connections)
            {
                _connections.Remove(connection);
            }

            Interlocked.Decrement(ref _connectionCount);
        }
    }

    private static async ValueTask TrySendErrorAsync(FdfsConnection connection, byte errno)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await connection.SendErrorAsync(errno, cts.Token);
        }
        catch (Exception)
        {
            // The peer is gone or stuck; it does not need the error any more.
        }
    }

    /// <summary>Stops accepting, then closes every connection after they had <paramref name="grace"/> to finish.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        _listeners.ForEach(l => l.Dispose());
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);

        Task[] open;
        lock (_connections)
        {
            open = [.. _connections.Values.OfType<Task>()];
        }

        await Task.WhenAny(Task.WhenAll(open), Task.Delay(grace));
        await _stopping.CancelAsync();
        if (_sweep is not null)
        {
            await _sweep.ConfigureAwait(false);
        }

        await Task.WhenAll(open).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.Zero);
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "accept failed: {Error}")]
    private static partial void LogAcceptFailed(ILogger logger, SocketError error, Exception exception);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "connection from {Remote} refused by allow_hosts")]
    private static partial void LogHostRefused(ILogger logger, IPEndPoint remote);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "max_connections {Max} reached, dropped {Remote}")]
    private static partial void LogTooManyConnections(ILogger logger, int max, IPEndPoint remote);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "bad packet from {Remote}: {Reason}")]
    private static partial void LogProtocolError(ILogger logger, IPEndPoint remote, string reason);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Debug, Message = "connection {Remote} dropped: {Reason}")]
    private static partial void LogConnectionDropped(ILogger logger, IPEndPoint remote, string reason);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning,
        Message = "closed {Remote}: no byte moved for {Seconds:0.#} s {Phase} (network_timeout {Timeout} s)")]
    private static partial void LogStalled(ILogger logger, IPEndPoint remote, double seconds, string phase, double timeout);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Error, Message = "request handler failed for {Remote}")]
    private static partial void LogHandlerFailed(ILogger logger, IPEndPoint remote, Exception exception);
}
