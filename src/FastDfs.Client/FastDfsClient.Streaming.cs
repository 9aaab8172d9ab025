using System.Buffers;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Client;

/// <summary>Downloads read as a stream: one request, its body consumed at the caller's pace.</summary>
public sealed partial class FastDfsClient
{
    /// <summary>
    /// Sends DOWNLOAD_FILE for <paramref name="length"/> bytes from <paramref name="offset"/> (0 = to the end) and
    /// returns once the storage has answered, with a reader of the body. The storage comes from the tracker (102)
    /// unless <paramref name="storage"/> names one. The reader holds a pooled connection (and one of the server's
    /// connection slots) until it is disposed.
    /// </summary>
    public async Task<DownloadReader> OpenDownloadAsync(
        FileId fileId, long offset, long length = 0, ServerAddress? storage = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var (chosen, request) = await PrepareDownloadAsync(fileId, offset, length, storage, cancellationToken);
        try
        {
            var pool = StoragePool(chosen);
            for (int attempt = 0; ; attempt++)
            {
                ClientConnection c;
                try
                {
                    c = await pool.RentAsync(attempt == 0, cancellationToken);
                }
                catch (Exception e) when (e is not (OperationCanceledException or FdfsException))
                {
                    throw new FdfsConnectionException($"cannot connect to storage {pool.Name}: {e.Message}", [pool.Name], e);
                }

                var token = c.Begin(cancellationToken);
                try
                {
                    await c.Connection.SendAsync(request.Packet.AsMemory(0, request.Length), token);
                    long bodyLength = await ReadDownloadHeaderAsync(c, token);
                    c.End();
                    return new DownloadReader(c, bodyLength, _logger, Options.NetworkTimeout);
                }
                catch (FdfsServerException e)
                {
                    ClientLog.ServerError(_logger, e.Command, pool.Name, e.Errno);

                    // The storage closes the connection after EINVAL (protocol notes 1.1).
                    if (e.Errno == FdfsErrno.EINVAL)
                    {
                        pool.Release(c, "storage closes after EINVAL");
                    }
                    else
                    {
                        pool.Return(c);
                    }

                    throw;
                }
                catch (Exception e) when (IsTransportError(e))
                {
                    bool timedOut = token.IsCancellationRequested && !cancellationToken.IsCancellationRequested;
                    pool.Release(c, e.Message);
                    cancellationToken.ThrowIfCancellationRequested();
                    if (timedOut)
                    {
                        ClientLog.Timeout(_logger, "DOWNLOAD_FILE", pool.Name, Options.NetworkTimeout);
                        throw new FdfsTimeoutException(
                            $"storage {pool.Name} did not answer DOWNLOAD_FILE within {Options.NetworkTimeout.TotalSeconds:0.###} s", e);
                    }

                    if (e is FdfsProtocolException)
                    {
                        throw new FdfsException($"bad response from {pool.Name} to DOWNLOAD_FILE: {e.Message}", 71, e);
                    }

                    // The server may have closed a pooled connection while it sat idle: once more on a new one.
                    if (c.Reused && attempt == 0)
                    {
                        ClientLog.StaleRetried(_logger, pool.Name);
                        continue;
                    }

                    throw new FdfsConnectionException($"connection to {pool.Name} failed during DOWNLOAD_FILE: {e.Message}", [pool.Name], e);
                }
                catch
                {
                    pool.Release(c, "aborted");
                    throw;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(request.Packet);
        }
    }
}
