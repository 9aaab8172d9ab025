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
            return await OnServerAsync(
                StoragePool(chosen),
                (Request: request, Client: this),
                static async (c, s, t, u) =>
                {
                    await c.Connection.SendAsync(s.Request.Packet.AsMemory(0, s.Request.Length), t);
                    long bodyLength = await ReadDownloadHeaderAsync(c, t);
                    return new DownloadReader(c, bodyLength, s.Client._logger, s.Client.Options.NetworkTimeout);
                },
                (byte)StorageCommand.DownloadFile,
                false,
                true,
                cancellationToken,
                resultHoldsConnection: true);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(request.Packet);
        }
    }

    /// <summary>
    /// Opens an <see cref="AppenderStream"/> to the appender file <paramref name="fileId"/> on <paramref name="storage"/>
    /// (its update choice, <see cref="QueryUpdateAsync"/>). The stream holds a new connection (and one of the
    /// server's connection slots) until <see cref="AppenderStream.CompleteAsync"/>: a pooled one might have been
    /// closed by the storage while idle, and a request whose body was already consumed cannot be sent again.
    /// </summary>
    public async Task<AppenderStream> OpenAppenderStreamAsync(FileId fileId, ServerAddress storage, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ValidateFileId(fileId);
        var pool = StoragePool(storage);
        ClientConnection connection;
        try
        {
            connection = await pool.RentAsync(allowPooled: false, cancellationToken);
        }
        catch (Exception e) when (e is not (OperationCanceledException or FdfsException))
        {
            throw new FdfsConnectionException($"cannot connect to storage {pool.Name}: {e.Message}", [pool.Name], e);
        }

        return new AppenderStream(connection, fileId, _logger, Options.NetworkTimeout);
    }
}
