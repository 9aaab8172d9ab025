using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;

namespace FastDfs.Integration.Tests.TestKit;

/// <summary>
/// Talks to one storage directly (not through the tracker), to check what a given replica holds:
/// DOWNLOAD_FILE, GET_METADATA, QUERY_FILE_INFO on that storage's endpoint.
/// </summary>
public sealed class StorageProbe : IAsyncDisposable
{
    private readonly FdfsConnection _connection;

    private StorageProbe(FdfsConnection connection) => _connection = connection;

    public static async Task<StorageProbe> ConnectAsync(string endpoint)
    {
        return new StorageProbe(await Endpoints.ConnectAsync(endpoint, TimeSpan.FromSeconds(5)));
    }

    private static byte[] FileBody(string group, string remote)
    {
        var body = new byte[FdfsConstants.GroupNameMaxLength + Encoding.UTF8.GetByteCount(remote)];
        Encoding.ASCII.GetBytes(group, body);
        Encoding.UTF8.GetBytes(remote, body.AsSpan(FdfsConstants.GroupNameMaxLength));
        return body;
    }

    /// <summary>The whole file, or null when the storage answers with an error (ENOENT: not there yet).</summary>
    public async Task<byte[]?> DownloadAsync(FileId fileId)
    {
        var file = FileBody(fileId.Group, fileId.RemoteFileName);
        var body = new byte[16 + file.Length];
        file.CopyTo(body, 16);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var (status, data) = await _connection.RoundTripAsync((byte)StorageCommand.DownloadFile, body, 1L << 31, cts.Token);
        return status == 0 ? data : null;
    }

    /// <summary>The raw metadata buffer, or null on error.</summary>
    public async Task<byte[]?> GetMetadataAsync(FileId fileId)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (status, data) = await _connection.RoundTripAsync((byte)StorageCommand.GetMetadata, FileBody(fileId.Group, fileId.RemoteFileName), 1 << 20, cts.Token);
        return status == 0 ? data : null;
    }

    /// <summary>Status of QUERY_FILE_INFO: 0 when the file exists there, ENOENT when not.</summary>
    public async Task<byte> ExistsStatusAsync(FileId fileId)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (status, _) = await _connection.RoundTripAsync((byte)StorageCommand.QueryFileInfo, FileBody(fileId.Group, fileId.RemoteFileName), 1024, cts.Token);
        return status;
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    /// <summary>Polls <paramref name="condition"/> until it holds or the timeout passes; returns whether it held.</summary>
    public static async Task<bool> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, int pollMs = 100)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await condition())
            {
                return true;
            }

            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(pollMs);
        }
    }
}
