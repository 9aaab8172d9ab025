using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using FastDfs.Net;
using Microsoft.Extensions.Logging;

namespace FastDfs.Client;

/// <summary>
/// A pooled connection plus a reusable timeout source: one timer per connection instead of one per request.
/// </summary>
internal sealed class ClientConnection
{
    private readonly TimeSpan _timeout;
    private CancellationTokenSource _cts = new();
    private CancellationTokenRegistration _userRegistration;

    public ClientConnection(FdfsConnection connection, ServerPool pool, TimeSpan timeout)
    {
        Connection = connection;
        Pool = pool;
        _timeout = timeout;
    }

    public FdfsConnection Connection { get; }

    public ServerPool Pool { get; }

    /// <summary>True once it has served a request (a failure on it may just mean the server closed it while idle).</summary>
    public bool Reused { get; set; }

    public long LastUsed { get; set; }

    /// <summary>
    /// Starts an operation: arms the timeout (the connection's, or <paramref name="timeout"/> for this operation) and links
    /// the caller's token. Returns the token to pass to I/O.
    /// </summary>
    public CancellationToken Begin(CancellationToken user, TimeSpan? timeout = null)
    {
        if (!_cts.TryReset())
        {
            _cts.Dispose();
            _cts = new CancellationTokenSource();
        }

        _cts.CancelAfter(timeout ?? _timeout);
        if (user.CanBeCanceled)
        {
            _userRegistration = user.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _cts);
        }

        return _cts.Token;
    }

    /// <summary>Re-arms the timeout before another wait of a long transfer (the timeout is per wait, not per file).</summary>
    public void Touch() => _cts.CancelAfter(_timeout);

    /// <summary>Ends an operation: unlinks the caller's token and stops the timer so an idle connection costs nothing.</summary>
    public void End()
    {
        _userRegistration.Dispose();
        _cts.TryReset();
    }

    public void Dispose()
    {
        _userRegistration.Dispose();
        Connection.Dispose();
        _cts.Dispose();
    }
}

/// <summary>
/// Idle connections to one server (LIFO, so the warmest is reused and the rest age out) and a bound on
/// connections in use at once.
/// </summary>
internal sealed class ServerPool : IDisposable
{
    private static readonly long StaleCheckTicks = Stopwatch.Frequency; // 1 s idle -> probe before reuse
    private readonly ConcurrentStack<ClientConnection> _idle = new();
    private readonly SemaphoreSlim _slots;
    private readonly FastDfsClientOptions _options;
    private readonly ILogger _logger;
    private readonly long _maxIdleTicks;
    private int _disposed;

    public ServerPool(string host, int port, FastDfsClientOptions options, ILogger logger, string? otherHost = null)
    {
        Host = host;
        OtherHost = otherHost;
        Port = port;
        Name = host.Contains(':', StringComparison.Ordinal) ? $"[{host}]:{port}" : $"{host}:{port}";
        _options = options;
        _logger = logger;
        _slots = new SemaphoreSlim(Math.Max(1, options.MaxConnectionsPerServer));
        _maxIdleTicks = options.UseConnectionPool
            ? (long)(options.ConnectionPoolMaxIdleTime.TotalSeconds * Stopwatch.Frequency)
            : 0;
    }

    public string Host { get; }

    /// <summary>
    /// The other address of a dual-IP storage (storage_ids.conf), tried when the first fails, as FastDFS clients do;
    /// null for a server with one address.
    /// </summary>
    public string? OtherHost { get; }

    /// <summary>The address that connected last (connect_first_by = last-connected tries it first).</summary>
    private string? _lastConnected;

    public int Port { get; }

    public string Name { get; }

    /// <summary>Connections accepted by this pool so far (tests and diagnostics).</summary>
    public int Created;

    public int IdleCount => _idle.Count;

    public async ValueTask<ClientConnection> RentAsync(bool allowPooled, CancellationToken cancellationToken)
    {
        if (!_slots.Wait(0))
        {
            if (!await _slots.WaitAsync(_options.NetworkTimeout, cancellationToken))
            {
                throw new FdfsTimeoutException(
                    $"no free connection to {Name} within {_options.NetworkTimeout.TotalSeconds:0.#} s (max {_options.MaxConnectionsPerServer})");
            }
        }

        try
        {
            if (allowPooled)
            {
                long now = Stopwatch.GetTimestamp();
                while (_idle.TryPop(out var pooled))
                {
                    long idle = now - pooled.LastUsed;
                    if (idle > _maxIdleTicks)
                    {
                        Discard(pooled, "idle too long");
                        continue;
                    }

                    // A connection idle for a while may have been closed by the server: readable means EOF or junk.
                    if (idle > StaleCheckTicks && IsReadable(pooled))
                    {
                        Discard(pooled, "closed by the server while idle");
                        continue;
                    }

                    return pooled;
                }
            }

            var connection = await ConnectAsync(cancellationToken);
            Interlocked.Increment(ref Created);
            ClientLog.Connected(_logger, Name);
            return new ClientConnection(connection, this, _options.NetworkTimeout);
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    /// <summary>
    /// Connects to <see cref="Host"/>, or for a dual-IP storage to the address connect_first_by names first
    /// (the tracker's answer, or the last one that worked) and on failure to the other one.
    /// </summary>
    private async ValueTask<FdfsConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        if (OtherHost is null)
        {
            return await FdfsConnection.ConnectAsync(Host, Port, _options.ConnectTimeout, null, cancellationToken);
        }

        string first = _options.ConnectFirstBy == ConnectFirstBy.LastConnected ? Volatile.Read(ref _lastConnected) ?? Host : Host;
        string second = first == Host ? OtherHost : Host;
        FdfsConnection connection;
        string firstError;
        try
        {
            connection = await FdfsConnection.ConnectAsync(first, Port, _options.ConnectTimeout, null, cancellationToken);
            Volatile.Write(ref _lastConnected, first);
            return connection;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            firstError = e.Message;
            ClientLog.OtherAddressTried(_logger, Name, first, e.Message, second);
        }

        try
        {
            connection = await FdfsConnection.ConnectAsync(second, Port, _options.ConnectTimeout, null, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The caller names only the first address: say what happened at both.
            throw new IOException($"{first}: {firstError}; other address {second}: {e.Message}", e);
        }

        Volatile.Write(ref _lastConnected, second);
        return connection;
    }

    private static bool IsReadable(ClientConnection c)
    {
        try
        {
            return c.Connection.HasBufferedData || c.Connection.Socket.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>Returns a healthy connection for reuse (or closes it when pooling is off).</summary>
    public void Return(ClientConnection connection)
    {
        connection.End();
        connection.Reused = true;
        if (_maxIdleTicks > 0 && Volatile.Read(ref _disposed) == 0)
        {
            connection.LastUsed = Stopwatch.GetTimestamp();
            _idle.Push(connection);
        }
        else
        {
            connection.Dispose();
        }

        _slots.Release();
    }

    /// <summary>Closes a connection that saw an error: its stream position is unknown.</summary>
    public void Release(ClientConnection connection, string reason)
    {
        Discard(connection, reason);
        _slots.Release();
    }

    private void Discard(ClientConnection connection, string reason)
    {
        ClientLog.ConnectionDiscarded(_logger, Name, reason);
        connection.Dispose();
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _disposed, 1);
        while (_idle.TryPop(out var c))
        {
            c.Dispose();
        }
    }
}
