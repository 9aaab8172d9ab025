using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace FastDfs.Client;

/// <summary>
/// The body of one DOWNLOAD_FILE, read as it arrives, on a connection of its own (from
/// <see cref="FastDfsClient.OpenDownloadAsync"/>). Not thread-safe: one read at a time. Dispose it: a body read to its
/// end returns the connection to the pool; one abandoned or failed part-way closes it, since the rest of the body
/// would still arrive on it.
/// </summary>
public sealed class DownloadReader : IAsyncDisposable
{
    /// <summary>
    /// Bytes the socket must hold before a waiting read wakes (SO_RCVLOWAT). A reader that keeps up with the storage
    /// would otherwise wake for every segment that arrives (strace of the mount: up to half its receives found nothing).
    /// </summary>
    private const int WakeThreshold = 256 * 1024;

    private readonly ClientConnection _connection;
    private readonly ILogger _logger;
    private readonly TimeSpan _timeout;
    private long _remaining;
    private int _lowWater = 1; // the socket's SO_RCVLOWAT as last set
    private bool _broken;
    private int _disposed;

    internal DownloadReader(ClientConnection connection, long length, ILogger logger, TimeSpan timeout)
    {
        _connection = connection;
        _remaining = length;
        Length = length;
        _logger = logger;
        _timeout = timeout;
    }

    /// <summary>Bytes of the body, as the storage announced them.</summary>
    public long Length { get; }

    /// <summary>Bytes of the body not read yet.</summary>
    public long Remaining => _remaining;

    /// <summary>
    /// Fills <paramref name="destination"/> with the next bytes of the body, or with all that is left of it; returns
    /// how many (0 at the end). The network timeout applies to each wait for data, not to the whole call.
    /// </summary>
    /// <exception cref="FdfsTimeoutException">The storage sent nothing within the network timeout.</exception>
    /// <exception cref="FdfsConnectionException">The connection failed; the reader is unusable.</exception>
    public async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_broken)
        {
            throw new FdfsConnectionException($"an earlier read from {_connection.Pool.Name} failed", [_connection.Pool.Name]);
        }

        if (destination.Length > _remaining)
        {
            destination = destination[..(int)_remaining];
        }

        if (destination.IsEmpty)
        {
            return 0;
        }

        var token = _connection.Begin(cancellationToken);
        int done = 0;
        try
        {
            while (done < destination.Length)
            {
                // Never above what is still to come, or the last wait would never wake.
                int lowWater = (int)Math.Min(WakeThreshold, _remaining);
                if (lowWater < _lowWater || (_lowWater == 1 && lowWater > 1))
                {
                    SetLowWater(lowWater);
                }

                int n = await _connection.Connection.ReadSomeAsync(destination[done..], token);
                done += n;
                _remaining -= n;
                _connection.Touch();
            }

            return done;
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            _broken = true;
            cancellationToken.ThrowIfCancellationRequested();
            string server = _connection.Pool.Name;
            if (token.IsCancellationRequested)
            {
                ClientLog.Timeout(_logger, "DOWNLOAD_FILE", server, _timeout);
                throw new FdfsTimeoutException($"storage {server} sent nothing for {_timeout.TotalSeconds:0.###} s during DOWNLOAD_FILE", e);
            }

            throw new FdfsConnectionException($"connection to {server} failed during DOWNLOAD_FILE: {e.Message}", [server], e);
        }
        finally
        {
            _connection.End();
        }
    }

    private void SetLowWater(int bytes)
    {
        _connection.Connection.Socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater, bytes);
        _lowWater = bytes;
    }

    /// <summary>The next request's answer may be a few bytes: a pooled connection wakes for any.</summary>
    private bool TryResetLowWater()
    {
        try
        {
            if (_lowWater != 1)
            {
                SetLowWater(1);
            }

            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            if (_remaining == 0 && !_broken && TryResetLowWater())
            {
                _connection.Pool.Return(_connection);
            }
            else
            {
                _connection.Pool.Release(_connection, _broken ? "download failed part-way" : "download abandoned part-way");
            }
        }

        return ValueTask.CompletedTask;
    }
}
