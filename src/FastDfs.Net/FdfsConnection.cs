using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using FastDfs.Protocol;

namespace FastDfs.Net;

/// <summary>
/// One FastDFS TCP connection: framed request/response exchange over a raw <see cref="Socket"/>.
/// Not thread-safe: FastDFS allows one outstanding request per connection.
/// </summary>
public sealed class FdfsConnection : IAsyncDisposable, IDisposable
{
    /// <summary>
    /// Receive buffer size: a header plus a small body (a tracker answer, a 4 KiB upload or download) arrive in one
    /// receive instead of one per field. Reads at least this large bypass it.
    /// </summary>
    public const int ReceiveBufferSize = 8 * 1024;

    private readonly Socket _socket;

    // Bytes received but not consumed yet are _receiveBuffer[_receiveStart.._receiveEnd].
    private readonly byte[] _receiveBuffer = new byte[ReceiveBufferSize];
    private int _receiveStart;
    private int _receiveEnd;
    private int _disposed;

    // Stall watch, read by FdfsServer's sweep: when the pending socket operation began (Environment.TickCount64),
    // 0 while none is pending. Two plain stores per operation instead of a timer per request.
    private long _ioSince;
    private int _watch;

    public FdfsConnection(Socket socket)
    {
        _socket = socket;
        _socket.NoDelay = true;
        RemoteEndPoint = (IPEndPoint?)socket.RemoteEndPoint ?? new IPEndPoint(IPAddress.None, 0);
        LocalEndPoint = (IPEndPoint?)socket.LocalEndPoint ?? new IPEndPoint(IPAddress.None, 0);
    }

    public IPEndPoint RemoteEndPoint { get; }

    public IPEndPoint LocalEndPoint { get; }

    public Socket Socket => _socket;

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// Whether a server closes this connection when a socket operation makes no progress for network_timeout:
    /// as in FastDFS, before the first request and inside a request (a partial header included), not between requests.
    /// </summary>
    public StallWatch Watch
    {
        get => (StallWatch)Volatile.Read(ref _watch);
        set => Volatile.Write(ref _watch, (int)value);
    }

    /// <summary>When the pending socket operation started or last moved data (Environment.TickCount64); 0 when none is pending.</summary>
    internal long IoPendingSince => Volatile.Read(ref _ioSince);

    /// <summary>Kernel byte count seen by the server's sweep (see <see cref="KernelBytesMoved"/>); only the sweep uses it.</summary>
    internal long SweepBytes { get; set; } = -1;

    /// <summary>When the sweep last saw <see cref="SweepBytes"/> change (Environment.TickCount64).</summary>
    internal long SweepTicks { get; set; }

    /// <summary>When the connection was last returned to a pool; used to drop idle ones.</summary>
    public long LastUsedTicks { get; set; }

    /// <summary>Connects with a timeout; binds the local end to <paramref name="bindAddress"/> when given.</summary>
    public static async ValueTask<FdfsConnection> ConnectAsync(
        string host, int port, TimeSpan timeout, IPAddress? bindAddress = null, CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var addresses = IPAddress.TryParse(host, out var parsed) ? [parsed] : await Dns.GetHostAddressesAsync(host, cts.Token);
        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (bindAddress is not null && bindAddress.AddressFamily == address.AddressFamily)
                {
                    socket.Bind(new IPEndPoint(bindAddress, 0));
                }

                await socket.ConnectAsync(new IPEndPoint(address, port), cts.Token);
                return new FdfsConnection(socket);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                last = new TimeoutException($"connect to {host}:{port} timed out after {timeout.TotalSeconds:0.#} s");
            }
            catch (Exception e)
            {
                socket.Dispose();
                last = e;
            }
        }

        throw last ?? new IOException($"no address for {host}");
    }

    /// <summary>True when bytes already received wait in the receive buffer (the socket alone would not show them).</summary>
    public bool HasBufferedData => _receiveEnd > _receiveStart;

    /// <summary>Reads the next header; null when the peer closed the connection cleanly between packets.</summary>
    /// <remarks>Every request waits here; pooled state machines keep that wait from allocating.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<PacketHeader?> ReadHeaderOrEndAsync(CancellationToken cancellationToken)
    {
        if (_receiveEnd - _receiveStart < FdfsConstants.HeaderSize)
        {
            // Compact, then receive whatever has arrived: usually the header and the whole body of a small packet.
            int have = _receiveEnd - _receiveStart;
            if (have > 0)
            {
                Buffer.BlockCopy(_receiveBuffer, _receiveStart, _receiveBuffer, 0, have);
            }

            _receiveStart = 0;
            _receiveEnd = have;
            while (_receiveEnd < FdfsConstants.HeaderSize)
            {
                if (_receiveEnd > 0)
                {
                    // Part of a header: the peer is inside a request now.
                    Watch = StallWatch.InRequest;
                }

                Volatile.Write(ref _ioSince, Environment.TickCount64);
                int n = await _socket.ReceiveAsync(_receiveBuffer.AsMemory(_receiveEnd), SocketFlags.None, cancellationToken);
                Volatile.Write(ref _ioSince, 0);
                if (n == 0)
                {
                    if (_receiveEnd == 0)
                    {
                        return null;
                    }

                    throw new EndOfStreamException("connection closed inside a packet header");
                }

                _receiveEnd += n;
            }
        }

        var header = PacketHeader.Read(_receiveBuffer.AsSpan(_receiveStart, FdfsConstants.HeaderSize));
        _receiveStart += FdfsConstants.HeaderSize;
        return header;
    }

    public async ValueTask<PacketHeader> ReadHeaderAsync(CancellationToken cancellationToken) =>
        await ReadHeaderOrEndAsync(cancellationToken) ?? throw new EndOfStreamException("connection closed by peer");

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ReadExactlyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        buffer = buffer[TakeBuffered(buffer.Span)..];
        while (!buffer.IsEmpty)
        {
            Volatile.Write(ref _ioSince, Environment.TickCount64);
            int n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            Volatile.Write(ref _ioSince, 0);
            if (n == 0)
            {
                throw new EndOfStreamException("connection closed inside a packet body");
            }

            buffer = buffer[n..];
        }
    }

    /// <summary>Reads whatever is available, at most the buffer's size (for streaming bodies).</summary>
    public ValueTask<int> ReadSomeAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (buffer.IsEmpty)
        {
            return ValueTask.FromResult(0);
        }

        int taken = TakeBuffered(buffer.Span);
        return taken > 0 ? ValueTask.FromResult(taken) : ReceiveSomeAsync(buffer, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReceiveSomeAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _ioSince, Environment.TickCount64);
        if (buffer.Length >= ReceiveBufferSize)
        {
            int n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            Volatile.Write(ref _ioSince, 0);
            return n == 0 ? throw new EndOfStreamException("connection closed inside a packet body") : n;
        }

        // A small read goes through the buffer so that what follows it (the next packet) costs no extra receive.
        int got = await _socket.ReceiveAsync(_receiveBuffer.AsMemory(), SocketFlags.None, cancellationToken);
        Volatile.Write(ref _ioSince, 0);
        if (got == 0)
        {
            throw new EndOfStreamException("connection closed inside a packet body");
        }

        _receiveStart = 0;
        _receiveEnd = got;
        return TakeBuffered(buffer.Span);
    }

    /// <summary>Moves buffered bytes into <paramref name="destination"/>; returns how many.</summary>
    private int TakeBuffered(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, _receiveEnd - _receiveStart);
        if (n > 0)
        {
            _receiveBuffer.AsSpan(_receiveStart, n).CopyTo(destination);
            _receiveStart += n;
        }

        return n;
    }

    /// <summary>Reads and discards a body (to resynchronise after refusing a request).</summary>
    public async ValueTask SkipAsync(long count, CancellationToken cancellationToken)
    {
        if (count <= 0)
        {
            return;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(count, 64 * 1024));
        try
        {
            while (count > 0)
            {
                int n = await ReadSomeAsync(buffer.AsMemory(0, (int)Math.Min(count, buffer.Length)), cancellationToken);
                count -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            // A large send completes only once all of it is out; the server's sweep sees its progress in the kernel.
            Volatile.Write(ref _ioSince, Environment.TickCount64);
            int n = await _socket.SendAsync(data, SocketFlags.None, cancellationToken);
            Volatile.Write(ref _ioSince, 0);
            data = data[n..];
        }
    }

    /// <summary>Sends a header and a small body in one segment (one syscall, one TCP segment for small packets).</summary>
    public async ValueTask SendPacketAsync(PacketHeader header, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        int total = FdfsConstants.HeaderSize + body.Length;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(total);
        try
        {
            header.Write(buffer);
            body.Span.CopyTo(buffer.AsSpan(FdfsConstants.HeaderSize));
            await SendAsync(buffer.AsMemory(0, total), cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public ValueTask SendResponseAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken) =>
        SendPacketAsync(PacketHeader.Response(body.Length), body, cancellationToken);

    /// <summary>Error responses carry no body (C clients read only the header when status != 0).</summary>
    public ValueTask SendErrorAsync(byte status, CancellationToken cancellationToken) =>
        SendPacketAsync(PacketHeader.Response(0, status), ReadOnlyMemory<byte>.Empty, cancellationToken);

    /// <summary>
    /// Sends a request and reads the whole response. Returns the status and the body (empty on error).
    /// A response longer than <paramref name="maxResponseLength"/> is a protocol violation.
    /// </summary>
    public async ValueTask<(byte Status, byte[] Body)> RoundTripAsync(
        byte command, ReadOnlyMemory<byte> body, long maxResponseLength, CancellationToken cancellationToken)
    {
        await SendPacketAsync(new PacketHeader(body.Length, command, 0), body, cancellationToken);
        return await ReadResponseAsync(maxResponseLength, cancellationToken);
    }

    public async ValueTask<(byte Status, byte[] Body)> ReadResponseAsync(long maxResponseLength, CancellationToken cancellationToken)
    {
        var header = await ReadHeaderAsync(cancellationToken);
        if (header.Command != FdfsConstants.ResponseCommand)
        {
            throw new FdfsProtocolException($"expected a response (cmd 100), got cmd {header.Command}");
        }

        if (header.BodyLength > maxResponseLength)
        {
            throw new FdfsProtocolException($"response of {header.BodyLength} bytes exceeds the expected {maxResponseLength}");
        }

        if (header.BodyLength == 0)
        {
            return (header.Status, []);
        }

        var response = new byte[header.BodyLength];
        await ReadExactlyAsync(response, cancellationToken);
        return (header.Status, response);
    }

    /// <summary>
    /// Bytes the kernel has received on this socket plus bytes the peer acknowledged (Linux TCP_INFO), or -1 when
    /// unknown. Counts progress that no completed operation shows yet: a large send the peer drains slowly.
    /// </summary>
    internal long KernelBytesMoved()
    {
        if (!OperatingSystem.IsLinux() || _socket.ProtocolType != ProtocolType.Tcp)
        {
            return -1;
        }

        // struct tcp_info: tcpi_bytes_acked at 120, tcpi_bytes_received at 128 (Linux 4.1+).
        const int IpProtoTcp = 6, TcpInfo = 11, BytesAcked = 120, BytesReceived = 128;
        Span<byte> info = stackalloc byte[256];
        try
        {
            int length = _socket.GetRawSocketOption(IpProtoTcp, TcpInfo, info);
            if (length < BytesReceived + sizeof(long))
            {
                return -1;
            }

            return BitConverter.ToInt64(info[BytesAcked..]) + BitConverter.ToInt64(info[BytesReceived..]);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return -1;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
                // Already reset by the peer; closing is all that is left.
            }
            catch (ObjectDisposedException)
            {
            }

            _socket.Dispose();
        }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    public override string ToString() => RemoteEndPoint.ToString();
}

/// <summary>When a server's sweep closes a connection whose socket operation makes no progress.</summary>
public enum StallWatch
{
    /// <summary>Between requests: a pooled connection may wait for its next request forever.</summary>
    Idle,

    /// <summary>Accepted but no request yet: FastDFS closes it after network_timeout (a leaked client connection).</summary>
    FirstRequest,

    /// <summary>From the first byte of a header until the response is sent.</summary>
    InRequest,
}
