using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastDfs.Storage.Tests;

/// <summary>An in-process storage on 127.0.0.1, ephemeral port, temp base path; deleted on dispose.</summary>
public sealed class StorageTestServer : IAsyncDisposable
{
    public const string Group = "group1";

    private readonly ILoggerFactory _loggerFactory;

    private StorageTestServer(string basePath, StorageOptions options, ILoggerFactory? loggerFactory)
    {
        BasePath = basePath;
        Options = options;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        Server = new StorageServer(options, _loggerFactory);
    }

    public string BasePath { get; }

    public StorageOptions Options { get; }

    public StorageServer Server { get; private set; }

    public int Port => Server.EndPoint!.Port;

    public static async Task<StorageTestServer> StartAsync(
        Func<StorageOptions, StorageOptions>? configure = null, string? basePath = null, ILoggerFactory? loggerFactory = null)
    {
        basePath ??= Path.Combine(Path.GetTempPath(), "fdfs-storage-test-" + Guid.NewGuid().ToString("N"));
        var options = new StorageOptions
        {
            GroupName = Group,
            BindAddr = "127.0.0.1",
            Port = 0,
            BasePath = basePath,
            StorePaths = [Path.Combine(basePath, "store0"), Path.Combine(basePath, "store1")],
            SubdirCountPerPath = 4,
            TrackerServers = [],
            ReservedStorageSpace = ReservedSpace.FromBytes(0),
        };
        options = configure?.Invoke(options) ?? options;
        var server = new StorageTestServer(basePath, options, loggerFactory);
        await server.Server.StartAsync();
        return server;
    }

    /// <summary>Stops and starts again on the same base path (a daemon restart).</summary>
    public async Task RestartAsync()
    {
        await Server.StopAsync(TimeSpan.FromSeconds(1));
        Server = new StorageServer(Options, _loggerFactory);
        await Server.StartAsync();
    }

    public Task<FdfsConnection> ConnectAsync() =>
        FdfsConnection.ConnectAsync("127.0.0.1", Port, TimeSpan.FromSeconds(5)).AsTask();

    public string LocalPath(string remote) =>
        Path.Combine(Options.StorePaths[RemoteNames.StorePathIndex(remote)], "data", remote[4..]);

    /// <summary>Every regular file under the store paths' data dirs except the mark files and the temp dir.</summary>
    public List<string> DataFiles() =>
        Options.StorePaths.SelectMany(p => Directory.EnumerateFiles(Path.Combine(p, "data"), "*", SearchOption.AllDirectories))
            .Where(f => !f.Contains("/.tmp/", StringComparison.Ordinal) && Path.GetFileName(f) != ".fastdfs_vars")
            .ToList();

    public List<string> TempFiles() =>
        Options.StorePaths.SelectMany(p => Directory.EnumerateFiles(Path.Combine(p, "data", ".tmp"))).ToList();

    public async Task<string[]> BinlogLinesAsync()
    {
        await Server.FlushBinlogAsync();
        string path = Path.Combine(BasePath, "data", "sync", "binlog.000");
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return (await reader.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.StopAsync(TimeSpan.FromSeconds(1));
        try
        {
            Directory.Delete(BasePath, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Request builders and round trips for the tests.</summary>
public static class Wire
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static async Task<(byte Status, byte[] Body)> RoundTripAsync(this FdfsConnection connection, StorageCommand command, byte[] body, byte status = 0)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await connection.SendPacketAsync(new PacketHeader(body.Length, (byte)command, status), body, cts.Token);
        return await connection.ReadResponseAsync(1L << 31, cts.Token);
    }

    public static byte[] UploadBody(byte[] content, string ext = "bin", byte storePath = FdfsConstants.AnyStorePath, long? declaredSize = null)
    {
        var body = new byte[UploadRequestHeader.Size + content.Length];
        new UploadRequestHeader(storePath, declaredSize ?? content.Length, ext).Write(body);
        content.CopyTo(body, UploadRequestHeader.Size);
        return body;
    }

    public static async Task<string> UploadAsync(this FdfsConnection connection, byte[] content, string ext = "bin", bool appender = false)
    {
        var (status, body) = await connection.RoundTripAsync(appender ? StorageCommand.UploadAppenderFile : StorageCommand.UploadFile, UploadBody(content, ext));
        Assert.Equal(0, status);
        var id = UploadResponse.Decode(body);
        Assert.Equal(StorageTestServer.Group, id.Group);
        return id.RemoteFileName;
    }

    public static byte[] FileBody(string remote, string group = StorageTestServer.Group) => new FileRequest(group, remote).ToArray();

    public static async Task<(byte Status, byte[] Body)> DownloadAsync(this FdfsConnection connection, string remote, long offset = 0, long length = 0, string group = StorageTestServer.Group) =>
        await connection.RoundTripAsync(StorageCommand.DownloadFile, new DownloadRequest(offset, length, group, remote).ToArray());

    public static byte[] AppenderBody(StorageCommand command, string remote, long offset, long size, byte[]? content = null)
    {
        byte[] name = Encoding.UTF8.GetBytes(remote);
        int fixedSize = AppenderRequestHeader.FixedSize(command);
        var body = new byte[fixedSize + name.Length + (content?.Length ?? 0)];
        new AppenderRequestHeader(name.Length, offset, size).Write(command, body);
        name.CopyTo(body, fixedSize);
        content?.CopyTo(body, fixedSize + name.Length);
        return body;
    }

    public static byte[] SlaveBody(string master, string prefix, string ext, byte[] content)
    {
        byte[] name = Encoding.UTF8.GetBytes(master);
        var body = new byte[UploadSlaveRequestHeader.Size + name.Length + content.Length];
        new UploadSlaveRequestHeader(name.Length, content.Length, prefix, ext).Write(body);
        name.CopyTo(body, UploadSlaveRequestHeader.Size);
        content.CopyTo(body, UploadSlaveRequestHeader.Size + name.Length);
        return body;
    }

    /// <summary>True when the server closed the connection (after an EINVAL).</summary>
    public static async Task<bool> IsClosedAsync(this FdfsConnection connection)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await connection.SendPacketAsync(new PacketHeader(0, (byte)StorageCommand.ActiveTest, 0), ReadOnlyMemory<byte>.Empty, cts.Token);
            return await connection.ReadHeaderOrEndAsync(cts.Token) is null;
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            return true;
        }
    }

    public static uint Crc(byte[] data) => System.IO.Hashing.Crc32.HashToUInt32(data);

    public static long ReadLong(byte[] data, int offset) => BinaryPrimitives.ReadInt64BigEndian(data.AsSpan(offset));
}
