using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>One tracker and one storage, both with network_timeout = 2.</summary>
public sealed class ShortNetworkTimeoutCluster : IAsyncLifetime
{
    public Cluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Cluster = await Cluster.StartAsync("network_timeout = 2", new StorageSpec(Extra: "network_timeout = 2"));

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>
/// Peers that stop moving bytes inside a request are closed after network_timeout (FastDFS's recv/send timer);
/// peers that move bytes slowly, and idle pooled connections between requests, are not.
/// </summary>
public sealed class StallTests(ShortNetworkTimeoutCluster fixture) : IClassFixture<ShortNetworkTimeoutCluster>
{
    private const int NetworkTimeoutSeconds = 2;

    // The sweep runs every second: closed between network_timeout and network_timeout + 1 s, plus scheduling slack.
    private static readonly TimeSpan CloseWithin = TimeSpan.FromSeconds(NetworkTimeoutSeconds + 2.5);

    private Cluster Cluster => fixture.Cluster;

    private StorageNode Storage => Cluster.Storages[0];

    private static async Task<Socket> ConnectAsync(string endpoint, int? receiveBuffer = null)
    {
        var ep = IPEndPoint.Parse(endpoint);
        var socket = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBuffer is int size)
        {
            // Set before connecting: a fixed window, so a reader that stops leaves the server's send stuck early.
            socket.ReceiveBufferSize = size;
        }

        await socket.ConnectAsync(ep);
        return socket;
    }

    private static byte[] Header(long bodyLength, byte command)
    {
        var header = new byte[FdfsConstants.HeaderSize];
        BinaryPrimitives.WriteInt64BigEndian(header, bodyLength);
        header[8] = command;
        return header;
    }

    private static byte[] UploadPrefix(long fileSize)
    {
        var bytes = new byte[FdfsConstants.HeaderSize + UploadRequestHeader.Size];
        Header(UploadRequestHeader.Size + fileSize, (byte)StorageCommand.UploadFile).CopyTo(bytes, 0);
        new UploadRequestHeader(0, fileSize, "bin").Write(bytes.AsSpan(FdfsConstants.HeaderSize));
        return bytes;
    }

    /// <summary>Waits until the server closes (EOF or reset), discarding what arrives; returns how long it took.</summary>
    private static async Task<TimeSpan> WaitClosedAsync(Socket socket, TimeSpan limit)
    {
        var started = Stopwatch.StartNew();
        using var cts = new CancellationTokenSource(limit);
        var buffer = new byte[64 * 1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // A reset is a close as well.
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the server kept the connection open for {limit.TotalSeconds} s");
        }

        return started.Elapsed;
    }

    /// <summary>Descriptors of the storage daemon that point into its store paths (an unnamed O_TMPFILE or a .tmp file).</summary>
    private List<string> OpenStoreFiles()
    {
        var found = new List<string>();
        foreach (string fd in Directory.EnumerateFileSystemEntries($"/proc/{Storage.Process!.Pid}/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed meanwhile
            }

            if (target is not null && Storage.StorePaths.Any(p => target.StartsWith(p + "/data", StringComparison.Ordinal)))
            {
                found.Add(target);
            }
        }

        return found;
    }

    private List<string> TempFiles() => [.. Storage.StorePaths
        .Select(p => Path.Combine(p, "data", ".tmp"))
        .Where(Directory.Exists)
        .SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories))];

    private async Task AssertUploadWorksAsync(string text)
    {
        await using var client = Cluster.CreateClient(TimeSpan.FromSeconds(10));
        var id = await client.UploadAsync(Encoding.ASCII.GetBytes(text), "txt");
        Assert.Equal(text, Encoding.ASCII.GetString(await client.DownloadBytesAsync(id)));
    }

    [Fact]
    public async Task StalledUploadBody_IsClosedAndLeavesNoTemporaryFile()
    {
        using var socket = await ConnectAsync(Storage.Endpoint);

        // The fixed fields and 10 of 1,000 content bytes, then nothing (a client that lost power mid-upload).
        await socket.SendAsync(UploadPrefix(1000).Concat(new byte[10]).ToArray());

        // The upload is staged meanwhile (an unnamed O_TMPFILE or data/.tmp), and others are served.
        var staged = Stopwatch.StartNew();
        while (OpenStoreFiles().Count == 0 && TempFiles().Count == 0 && staged.Elapsed < TimeSpan.FromSeconds(1))
        {
            await Task.Delay(20);
        }

        Assert.True(OpenStoreFiles().Count > 0 || TempFiles().Count > 0, "the stalled upload was never staged");
        await AssertUploadWorksAsync("uploaded while another upload stalls");

        var closedAfter = await WaitClosedAsync(socket, TimeSpan.FromSeconds(15));
        Assert.InRange(closedAfter, TimeSpan.FromSeconds(NetworkTimeoutSeconds - 1.2), CloseWithin);

        await AssertUploadWorksAsync("uploaded after the stalled one was closed");
        var deadline = Stopwatch.StartNew();
        while ((OpenStoreFiles().Count > 0 || TempFiles().Count > 0) && deadline.Elapsed < TimeSpan.FromSeconds(3))
        {
            await Task.Delay(50);
        }

        Assert.Empty(OpenStoreFiles());
        Assert.Empty(TempFiles());
        Assert.Contains("no byte moved", Storage.Process!.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SlowButProgressingUpload_Completes()
    {
        var content = Enumerable.Range(0, 40).Select(i => (byte)('a' + (i % 26))).ToArray();
        using var socket = await ConnectAsync(Storage.Endpoint);
        await socket.SendAsync(UploadPrefix(content.Length));

        // 4 bytes every 0.5 s: 5 s in all, longer than network_timeout, never idle for that long.
        var started = Stopwatch.StartNew();
        for (int i = 0; i < content.Length; i += 4)
        {
            await Task.Delay(500);
            await socket.SendAsync(content.AsMemory(i, 4));
        }

        Assert.True(started.Elapsed > TimeSpan.FromSeconds(NetworkTimeoutSeconds * 2));
        var (status, body) = await ReadResponseAsync(socket);
        Assert.Equal(0, status);
        string group = Encoding.ASCII.GetString(body, 0, FdfsConstants.GroupNameMaxLength).TrimEnd('\0');
        string name = Encoding.ASCII.GetString(body, FdfsConstants.GroupNameMaxLength, body.Length - FdfsConstants.GroupNameMaxLength);

        await using var client = Cluster.CreateClient(TimeSpan.FromSeconds(10));
        Assert.Equal(content, await client.DownloadBytesAsync(new FileId(group, name)));
    }

    [Fact]
    public async Task StalledDownloadReader_IsClosed_SlowReaderIsNot()
    {
        // Larger than what the server's send buffer and the reader's small window hold together.
        var content = new byte[16 << 20];
        new Random(5).NextBytes(content);
        FileId id;
        await using (var client = Cluster.CreateClient(TimeSpan.FromSeconds(30)))
        {
            id = await client.UploadAsync(content, "bin");
        }

        byte[] request = [.. Header(0, (byte)StorageCommand.DownloadFile)];
        byte[] body = new DownloadRequest(0, 0, id.Group, id.RemoteFileName).ToArray();
        BinaryPrimitives.WriteInt64BigEndian(request, body.Length);

        // Stalled: asks and never reads.
        using (var stalled = await ConnectAsync(Storage.Endpoint, receiveBuffer: 64 * 1024))
        {
            await stalled.SendAsync(request.Concat(body).ToArray());
            await Task.Delay(CloseWithin);

            // Whatever was in flight arrives, then the close: far less than the whole file.
            long received = 0;
            var buffer = new byte[256 * 1024];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                int n;
                while ((n = await stalled.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
                {
                    received += n;
                }
            }
            catch (SocketException)
            {
            }

            Assert.True(received < content.Length, $"the stalled reader received all {received} bytes");
        }

        // Slow: 64 KiB every 0.5 s for 5 s (a 256 KiB send then takes longer than network_timeout), then the rest.
        // The reader's buffer is fixed at 256 KiB: below one loopback MSS (64 KiB) TCP would hold the data back, and
        // an autotuned multi-MiB buffer reopens its window only after about a sixteenth of it is read (receiver-side
        // silly-window avoidance), which at this pace takes longer than network_timeout.
        using var slow = await ConnectAsync(Storage.Endpoint, receiveBuffer: 256 * 1024);
        await slow.SendAsync(request.Concat(body).ToArray());
        var received2 = new MemoryStream();
        var chunk = new byte[64 * 1024];
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            var slowPhase = Stopwatch.StartNew();
            while (received2.Length < FdfsConstants.HeaderSize + content.Length)
            {
                if (slowPhase.Elapsed < TimeSpan.FromSeconds(5))
                {
                    await Task.Delay(500, cts.Token);
                }

                int n = await slow.ReceiveAsync(chunk, SocketFlags.None, cts.Token);
                Assert.True(n > 0, $"the slow reader was closed after {received2.Length} bytes: {Storage.Process!.LogTail}");
                received2.Write(chunk, 0, n);
            }
        }

        byte[] all = received2.ToArray();
        Assert.Equal(0, all[9]);
        Assert.Equal(content, all[FdfsConstants.HeaderSize..]);
    }

    [Fact]
    public async Task Tracker_ClosesStalledRequestBodyAndSilentConnection_KeepsIdlePooledOne()
    {
        // A query whose 16-byte group name stops after 5 bytes.
        using var stalled = await ConnectAsync(Cluster.TrackerEndpoint);
        await stalled.SendAsync(Header(FdfsConstants.GroupNameMaxLength, (byte)TrackerCommand.QueryStoreWithGroupOne).Concat(new byte[5]).ToArray());

        // A connection that never sends a request (FastDFS: "you must send a request before network_timeout").
        using var silent = await ConnectAsync(Cluster.TrackerEndpoint);

        // A pooled connection: one request, then idle for longer than network_timeout, then another.
        using var pooled = await ConnectAsync(Cluster.TrackerEndpoint);
        await pooled.SendAsync(Header(0, (byte)TrackerCommand.ActiveTest));
        Assert.Equal(0, (await ReadResponseAsync(pooled)).Status);

        var stalledTask = WaitClosedAsync(stalled, TimeSpan.FromSeconds(15));
        var silentTask = WaitClosedAsync(silent, TimeSpan.FromSeconds(15));
        Assert.InRange(await stalledTask, TimeSpan.FromSeconds(NetworkTimeoutSeconds - 1.2), CloseWithin);
        Assert.InRange(await silentTask, TimeSpan.FromSeconds(NetworkTimeoutSeconds - 1.2), CloseWithin);

        await Task.Delay(TimeSpan.FromSeconds(1));
        await pooled.SendAsync(Header(0, (byte)TrackerCommand.ActiveTest));
        Assert.Equal(0, (await ReadResponseAsync(pooled)).Status);
        Assert.Contains("no byte moved", Cluster.Tracker!.Output, StringComparison.Ordinal);
    }

    private static async Task<(byte Status, byte[] Body)> ReadResponseAsync(Socket socket)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var header = new byte[FdfsConstants.HeaderSize];
        await ReadExactlyAsync(socket, header, cts.Token);
        var body = new byte[BinaryPrimitives.ReadInt64BigEndian(header)];
        await ReadExactlyAsync(socket, body, cts.Token);
        return (header[9], body);
    }

    private static async Task ReadExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                throw new EndOfStreamException(string.Create(CultureInfo.InvariantCulture, $"closed with {buffer.Length} bytes missing"));
            }

            buffer = buffer[n..];
        }
    }
}
