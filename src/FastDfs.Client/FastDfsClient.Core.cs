using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastDfs.Client;

/// <summary>
/// FastDFS client: asks a tracker where to go, then talks to the storage (protocol notes section 4).
/// Thread-safe; share one instance. Connections are pooled per server.
/// </summary>
public sealed partial class FastDfsClient : IAsyncDisposable
{
    private readonly TrackerSlot[] _trackers;
    private readonly ConcurrentDictionary<(string Host, int Port), ServerPool> _storages = new();
    private readonly ILogger _logger;
    private int _trackerCursor = -1;
    private int _disposed;

    public FastDfsClient(FastDfsClientOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.TrackerServers.Count == 0)
        {
            throw new ArgumentException("at least one tracker is required", nameof(options));
        }

        Options = options;
        _logger = (loggerFactory ?? options.LoggerFactory)?.CreateLogger<FastDfsClient>() ?? NullLogger<FastDfsClient>.Instance;
        var slots = new List<TrackerSlot>();
        foreach (var endpoint in options.TrackerServers)
        {
            foreach (string host in endpoint.Hosts)
            {
                slots.Add(new TrackerSlot(new ServerPool(host, endpoint.Port, options, _logger)));
            }
        }

        _trackers = [.. slots];
        _storageIds = options.StorageIds;
        _parametersPending = options.LoadFdfsParametersFromTracker;
    }

    public FastDfsClientOptions Options { get; }

    /// <summary>TCP connections opened so far, trackers and storages (diagnostics, tests).</summary>
    public int ConnectionsOpened =>
        _trackers.Sum(t => Volatile.Read(ref t.Pool.Created)) + _storages.Values.Sum(p => Volatile.Read(ref p.Created));

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            foreach (var t in _trackers)
            {
                t.Pool.Dispose();
            }

            foreach (var p in _storages.Values)
            {
                p.Dispose();
            }
        }

        return ValueTask.CompletedTask;
    }

    private sealed class TrackerSlot(ServerPool pool)
    {
        public ServerPool Pool { get; } = pool;

        /// <summary>Stopwatch timestamp until which this tracker is skipped (0 = alive).</summary>
        public long DeadUntil;
    }

    /// <summary>A request whose whole packet (header included) sits in a rented buffer.</summary>
    private readonly record struct SimpleRequest(byte[] Packet, int Length, byte Command, bool Tracker, long MaxResponse);

    /// <summary>Wraps exceptions thrown by the caller's streams so they are not mistaken for network errors.</summary>
    private sealed class UserStreamException(Exception inner) : Exception(inner.Message, inner);

    private ServerPool StoragePool(ServerAddress address)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _storages.GetOrAdd(
            (address.Ip, address.Port),
            static (key, self) => new ServerPool(key.Host, key.Port, self.Options, self._logger, self.OtherAddressOf(key.Host, key.Port)),
            this);
    }

    /// <summary>The other address of a dual-IP storage from the client's storage IDs (FastDFS's multi-IP client rule).</summary>
    private string? OtherAddressOf(string ip, int port)
    {
        if (Volatile.Read(ref _storageIds)?.FindByAddress(ip, port) is not { Ips.Count: 2 } entry)
        {
            return null;
        }

        return entry.Ips[0] == ip ? entry.Ips[1] : entry.Ips[0];
    }

    private static string CommandName(byte command, bool tracker) =>
        (!tracker ? ((StorageCommand)command).ToString()
            : Enum.IsDefined((NamespaceCommand)command) ? ((NamespaceCommand)command).ToString()
            : ((TrackerCommand)command).ToString()) + $" ({command})";

    /// <summary>Builds a packet: header then a body of <paramref name="bodyLength"/> bytes written by the caller.</summary>
    private static byte[] RentPacket(byte command, int bodyLength)
    {
        byte[] packet = ArrayPool<byte>.Shared.Rent(FdfsConstants.HeaderSize + bodyLength);
        new PacketHeader(bodyLength, command, 0).Write(packet);
        return packet;
    }

    private static async ValueTask<byte[]> ReadResponseAsync(
        ClientConnection c, long maxResponse, byte command, bool tracker, CancellationToken token)
    {
        var (status, body) = await c.Connection.ReadResponseAsync(maxResponse, token);
        if (status != 0)
        {
            throw new FdfsServerException(status, CommandName(command, tracker), c.Pool.Name, !tracker);
        }

        return body;
    }

    private static async ValueTask<byte[]> SimpleAsync(ClientConnection c, SimpleRequest r, CancellationToken token, CancellationToken user)
    {
        await c.Connection.SendAsync(r.Packet.AsMemory(0, r.Length), token);
        return await ReadResponseAsync(c, r.MaxResponse, r.Command, r.Tracker, token);
    }

    /// <summary>Runs one simple request on a tracker (with failover) and returns the packet buffer to the pool.</summary>
    private async ValueTask<byte[]> TrackerRequestAsync(SimpleRequest request, CancellationToken cancellationToken, bool loadParameters = true)
    {
        try
        {
            if (loadParameters && Volatile.Read(ref _parametersPending))
            {
                await LoadTrackerParametersAsync(cancellationToken);
            }

            return await OnTrackerAsync(request, static (c, r, t, u) => SimpleAsync(c, r, t, u), request.Command, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(request.Packet);
        }
    }

    private async ValueTask<byte[]> StorageRequestAsync(ServerAddress storage, SimpleRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await OnServerAsync(
                StoragePool(storage), request, static (c, r, t, u) => SimpleAsync(c, r, t, u), request.Command, false, true, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(request.Packet);
        }
    }

    /// <summary>
    /// Tries the trackers round-robin starting after the last one used; live ones first, then those marked dead.
    /// A server errno is an answer and is not retried elsewhere.
    /// </summary>
    private async ValueTask<T> OnTrackerAsync<T, TState>(
        TState state,
        Func<ClientConnection, TState, CancellationToken, CancellationToken, ValueTask<T>> action,
        byte command,
        CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        int n = _trackers.Length;
        int start = (int)((uint)Interlocked.Increment(ref _trackerCursor) % (uint)n);
        long now = Stopwatch.GetTimestamp();
        List<string>? tried = null;
        Exception? last = null;
        bool allTimeouts = true;
        ulong skipped = 0; // trackers skipped as dead in the first pass (at most 32 addresses)
        for (int i = 0; i < 2 * n; i++)
        {
            int index = (start + i) % n;
            var slot = _trackers[index];
            bool dead;
            if (i < n)
            {
                dead = Volatile.Read(ref slot.DeadUntil) > now;
                if (dead)
                {
                    skipped |= 1UL << index;
                    continue;
                }
            }
            else
            {
                // Second pass: only the ones skipped as dead, in case they are back.
                dead = (skipped & (1UL << index)) != 0;
                if (!dead)
                {
                    continue;
                }
            }

            try
            {
                var result = await OnServerAsync(slot.Pool, state, action, command, true, true, cancellationToken);
                if (dead)
                {
                    Volatile.Write(ref slot.DeadUntil, 0);
                }

                return result;
            }
            catch (FdfsException e) when (e is FdfsConnectionException or FdfsTimeoutException)
            {
                Volatile.Write(ref slot.DeadUntil, Stopwatch.GetTimestamp() + (long)(Options.TrackerRetryDelay.TotalSeconds * Stopwatch.Frequency));
                ClientLog.TrackerFailed(_logger, slot.Pool.Name, e.Message);
                (tried ??= []).Add(slot.Pool.Name);
                allTimeouts &= e is FdfsTimeoutException;
                last = e;
            }
        }

        string list = string.Join(", ", tried ?? []);
        if (allTimeouts && last is not null)
        {
            throw new FdfsTimeoutException(n == 1 ? last.Message : $"no tracker answered in time (tried {list}): {last.Message}", last);
        }

        throw new FdfsConnectionException($"could not reach any tracker (tried {list}): {last?.Message}", tried ?? [], last);
    }

    /// <summary>
    /// Runs an action on a pooled connection to one server. Any error other than a server answer discards the
    /// connection; a failure on a reused connection is retried once on a fresh one when <paramref name="retriable"/>
    /// (the server may have closed it while it sat idle). With <paramref name="resultHoldsConnection"/> a successful
    /// action's result keeps the connection (and returns or releases it itself) instead of the pool getting it back.
    /// </summary>
    private ValueTask<T> OnServerAsync<T, TState>(
        ServerPool pool,
        TState state,
        Func<ClientConnection, TState, CancellationToken, CancellationToken, ValueTask<T>> action,
        byte command,
        bool tracker,
        bool retriable,
        CancellationToken cancellationToken,
        bool resultHoldsConnection = false) =>
        CallAsync(_logger, Options.NetworkTimeout, pool, state, action, command, tracker, retriable, cancellationToken, resultHoldsConnection);

    /// <summary>
    /// <see cref="OnServerAsync"/> for other clients of the same servers (<see cref="NamespaceClient"/>): one
    /// connection-handling loop for every request this library sends. <paramref name="networkTimeout"/> bounds each
    /// request (normally the options' network timeout; <see cref="Timeout.InfiniteTimeSpan"/> leaves it to the token).
    /// </summary>
    internal static async ValueTask<T> CallAsync<T, TState>(
        ILogger logger,
        TimeSpan networkTimeout,
        ServerPool pool,
        TState state,
        Func<ClientConnection, TState, CancellationToken, CancellationToken, ValueTask<T>> action,
        byte command,
        bool tracker,
        bool retriable,
        CancellationToken cancellationToken,
        bool resultHoldsConnection = false)
    {
        for (int attempt = 0; ; attempt++)
        {
            ClientConnection c;
            try
            {
                c = await pool.RentAsync(attempt == 0, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (FdfsException)
            {
                throw;
            }
            catch (Exception e)
            {
                string role = tracker ? "tracker" : "storage";
                throw new FdfsConnectionException($"cannot connect to {role} {pool.Name}: {e.Message}", [pool.Name], e);
            }

            var token = c.Begin(cancellationToken, networkTimeout);
            try
            {
                var result = await action(c, state, token, cancellationToken);
                if (resultHoldsConnection)
                {
                    c.End();
                }
                else
                {
                    pool.Return(c);
                }

                return result;
            }
            catch (FdfsServerException e)
            {
                ClientLog.ServerError(logger, e.Command, pool.Name, e.Errno);

                // The storage closes the connection after EINVAL (protocol notes 1.1).
                if (!tracker && e.Errno == FdfsErrno.EINVAL)
                {
                    pool.Release(c, "storage closes after EINVAL");
                }
                else
                {
                    pool.Return(c);
                }

                throw;
            }
            catch (UserStreamException e)
            {
                pool.Release(c, "caller's stream failed mid-request");
                ExceptionDispatchInfo.Capture(e.InnerException!).Throw();
                throw;
            }
            catch (Exception e) when (IsTransportError(e))
            {
                bool reused = c.Reused;
                bool timedOut = token.IsCancellationRequested && !cancellationToken.IsCancellationRequested;
                pool.Release(c, e.Message);
                cancellationToken.ThrowIfCancellationRequested();
                string name = CommandName(command, tracker);
                if (timedOut)
                {
                    ClientLog.Timeout(logger, name, pool.Name, networkTimeout);
                    throw new FdfsTimeoutException(
                        $"{(tracker ? "tracker" : "storage")} {pool.Name} did not answer {name} within {networkTimeout.TotalSeconds:0.###} s", e);
                }

                if (e is FdfsProtocolException)
                {
                    throw new FdfsException($"bad response from {pool.Name} to {name}: {e.Message}", 71, e);
                }

                if (retriable && reused && attempt == 0)
                {
                    ClientLog.StaleRetried(logger, pool.Name);
                    continue;
                }

                throw new FdfsConnectionException($"connection to {pool.Name} failed during {name}: {e.Message}", [pool.Name], e);
            }
            catch
            {
                pool.Release(c, "aborted");
                throw;
            }
        }
    }

    private static bool IsTransportError(Exception e) =>
        e is SocketException or IOException or ObjectDisposedException or OperationCanceledException or FdfsProtocolException;

    /// <summary>Content to send after a request's fixed part: a stream or a memory block.</summary>
    private readonly record struct Content(Stream? Stream, ReadOnlyMemory<byte> Memory, long Length, IProgress<long>? Progress);

    /// <summary>
    /// Threshold below which header and content go out in one send. Copying up to this much costs less than a
    /// second send, which would also put the request header in a TCP segment of its own and wake the storage twice.
    /// </summary>
    private const int SingleSendLimit = 256 * 1024;

    /// <summary>Rents a buffer for a request prefix plus (part of) its content.</summary>
    private byte[] RentForContent(int prefixLength, in Content content)
    {
        long chunk = content.Stream is null
            ? (prefixLength + content.Length <= SingleSendLimit ? content.Length : 0)
            : Math.Min(content.Length, Options.TransferBufferSize);
        return ArrayPool<byte>.Shared.Rent(prefixLength + (int)chunk);
    }

    /// <summary>
    /// Sends the prefix already in <paramref name="buffer"/> followed by the content; the first content chunk
    /// shares the send with the prefix.
    /// </summary>
    private static async ValueTask SendWithContentAsync(
        ClientConnection c, byte[] buffer, int prefixLength, Content content, CancellationToken token, CancellationToken user)
    {
        long total = content.Length;
        if (content.Stream is null)
        {
            if (prefixLength + total <= buffer.Length && prefixLength + total <= SingleSendLimit)
            {
                content.Memory.Span.CopyTo(buffer.AsSpan(prefixLength));
                await c.Connection.SendAsync(buffer.AsMemory(0, prefixLength + (int)total), token);
                content.Progress?.Report(total);
                return;
            }

            await c.Connection.SendAsync(buffer.AsMemory(0, prefixLength), token);
            int sent = 0;
            const int Slice = 1024 * 1024;
            while (sent < total)
            {
                int n = (int)Math.Min(Slice, total - sent);
                c.Touch();
                await c.Connection.SendAsync(content.Memory.Slice(sent, n), token);
                sent += n;
                content.Progress?.Report(sent);
            }

            return;
        }

        long done = 0;
        int used = prefixLength;
        do
        {
            int want = (int)Math.Min(buffer.Length - used, total - done);
            int got;
            try
            {
                got = await content.Stream.ReadAtLeastAsync(buffer.AsMemory(used, want), want, throwOnEndOfStream: false, user);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new UserStreamException(e);
            }

            if (got < want)
            {
                throw new UserStreamException(
                    new EndOfStreamException($"the content stream ended after {done + got} of {total} bytes"));
            }

            c.Touch();
            await c.Connection.SendAsync(buffer.AsMemory(0, used + got), token);
            done += got;
            used = 0;
            content.Progress?.Report(done);
        }
        while (done < total);
    }

    /// <summary>Reads a response body of known length into <paramref name="destination"/> in chunks.</summary>
    private async ValueTask<long> ReceiveToStreamAsync(
        ClientConnection c, long length, Stream destination, IProgress<long>? progress, CancellationToken token, CancellationToken user)
    {
        if (length == 0)
        {
            return 0;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(length, Options.TransferBufferSize));
        try
        {
            long done = 0;
            while (done < length)
            {
                c.Touch();
                int n = await c.Connection.ReadSomeAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - done)), token);
                try
                {
                    await destination.WriteAsync(buffer.AsMemory(0, n), user);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    throw new UserStreamException(e);
                }

                done += n;
                progress?.Report(done);
            }

            return done;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
