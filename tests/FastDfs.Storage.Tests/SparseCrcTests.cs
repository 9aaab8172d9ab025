using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Hashing;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace FastDfs.Storage.Tests;

/// <summary>QUERY_FILE_INFO's CRC32 of appender files: holes are not read, a long CRC ties nothing up.</summary>
public class SparseCrcTests
{
    private const long GiB = 1L << 30;
    private const long TiB = 1L << 40;
    private const long Ext4MaxFile = (16 * TiB) - 4096;

    [Fact]
    public async Task Crc_of_a_sparse_file_equals_a_full_read_and_reads_only_the_data()
    {
        string path = TempFile();
        try
        {
            // Reading holes is not free either (the kernel fills page-cache pages with zeros, 0.5-2 s per GiB on the
            // test machine): the full reads stay at 1 GiB here and 2 GiB in the query test below.
            long size = GiB + 3;
            var random = new Random(11);
            var pieces = new (long Offset, byte[] Data)[]
            {
                (0, Bytes(random, 100)),
                ((GiB / 4) + 7, Bytes(random, 10_000)),
                ((3 * GiB / 4) - 5000, Bytes(random, 70_000)), // straddles an odd boundary
                (size - 1, Bytes(random, 1)),
            };
            using (var handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite))
            {
                RandomAccess.SetLength(handle, size);
                foreach (var (offset, data) in pieces)
                {
                    RandomAccess.Write(handle, data, offset);
                }
            }

            using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read))
            {
                var (crc, bytesRead) = await FileCrc.ComputeAsync(handle, size, null, CancellationToken.None);
                Assert.Equal(FullReadCrc(path), crc);
                if (OperatingSystem.IsLinux())
                {
                    // SEEK_DATA works on the test's file system: a few blocks around each piece, not 1 GiB.
                    Assert.InRange(bytesRead, 80_000, 1 << 20);
                }

                // A prefix only: what a QUERY_FILE_INFO that saw an older, shorter size answers.
                var (prefix, _) = await FileCrc.ComputeAsync(handle, (GiB / 4) + 10, null, CancellationToken.None);
                uint expected = Crc32Zeros.Extend(Crc32.HashToUInt32(pieces[0].Data), (GiB / 4) + 7 - 100);
                expected = Crc32Zeros.Combine(expected, Crc32.HashToUInt32(pieces[1].Data.AsSpan(0, 3)), 3);
                Assert.Equal(expected, prefix);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Dense_hole_only_and_empty_files()
    {
        string path = TempFile();
        try
        {
            var data = Bytes(new Random(3), (3 << 20) + 5);
            await File.WriteAllBytesAsync(path, data);
            using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read))
            {
                Assert.Equal((Crc32.HashToUInt32(data), (long)data.Length), await FileCrc.ComputeAsync(handle, data.Length, null, CancellationToken.None));
            }

            using (var handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite))
            {
                Assert.Equal((0u, 0L), await FileCrc.ComputeAsync(handle, 0, null, CancellationToken.None));
                RandomAccess.SetLength(handle, TiB);
                var stopwatch = Stopwatch.StartNew();
                var (crc, bytesRead) = await FileCrc.ComputeAsync(handle, TiB, null, CancellationToken.None);
                Assert.Equal(Crc32Zeros.OfZeros(TiB), crc);
                Assert.Equal(0, bytesRead);
                Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"took {stopwatch.Elapsed}");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_stop_request_or_cancellation_ends_the_computation()
    {
        string path = TempFile();
        try
        {
            await File.WriteAllBytesAsync(path, Bytes(new Random(5), 4 * FileCrc.ChunkSize));
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            int asked = 0;
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
                await FileCrc.ComputeAsync(handle, 4 * FileCrc.ChunkSize, () => ++asked >= 2, CancellationToken.None));
            Assert.Equal(2, asked); // once for the extent, once before its second chunk

            using var cts = new CancellationTokenSource();
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
                await FileCrc.ComputeAsync(handle, 4 * FileCrc.ChunkSize, null, cts.Token));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_peer_is_gone_only_once_it_closed()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using var server = await listener.AcceptAsync();

        Assert.False(FileCrc.PeerGone(server));
        await client.SendAsync(new byte[] { 1 });
        await Task.Delay(50);
        Assert.False(FileCrc.PeerGone(server)); // a pipelined request waits: the client is there
        Assert.Equal(1, server.Receive(new byte[1]));
        client.Close();
        Assert.True(await Eventually(() => FileCrc.PeerGone(server)));
    }

    [Fact]
    public void The_crc_cache_keeps_only_settled_unchanged_big_files_and_stays_bounded()
    {
        var cache = new FileCrcCache(capacity: 2);
        long now = 100_000_000_000;
        long old = now - 3_000_000_000; // 3 s before: settled
        var version = new NativeMethods.FileVersion(1, 1 << 30, old, old);
        const long Big = FileCrcCache.MinBytesRead;

        cache.Add("/a", version, version, now, Big - 1, 1); // cheap to compute again
        cache.Add("/b", version, version with { ChangeTimeNs = old + 1 }, now, Big, 2); // changed meanwhile
        cache.Add("/c", version with { ChangeTimeNs = now - 1_000_000_000 }, version with { ChangeTimeNs = now - 1_000_000_000 }, now, Big, 3); // too fresh
        Assert.Equal(0, cache.Count);

        cache.Add("/d", version, version, now, Big, 4);
        Assert.True(cache.TryGet("/d", version, out uint crc));
        Assert.Equal(4u, crc);
        Assert.False(cache.TryGet("/d", version with { ModifyTimeNs = old + 1 }, out _));
        Assert.False(cache.TryGet("/d", version with { Inode = 2 }, out _));

        cache.Add("/e", version, version, now, Big, 5);
        cache.Add("/f", version, version, now, Big, 6);
        Assert.InRange(cache.Count, 1, 2);
        Assert.True(cache.TryGet("/f", version, out crc));
        Assert.Equal(6u, crc);
    }

    [Fact]
    public async Task Query_and_regenerate_of_a_16_TiB_sparse_appender_answer_at_once_with_the_content_crc()
    {
        await using var server = await StorageTestServer.StartAsync();
        await using var conn = await server.ConnectAsync();
        var random = new Random(17);
        byte[] head = Bytes(random, 1000), middle = Bytes(random, 100_000), tail = "tail!"u8.ToArray();
        string remote = await conn.UploadAsync(head, "bin", appender: true);

        // What a mount makes of a write near the end of the largest ext4 file: TRUNCATE out, MODIFY in place.
        Assert.Equal(0, (await conn.RoundTripAsync(StorageCommand.TruncateFile, Wire.AppenderBody(StorageCommand.TruncateFile, remote, 0, Ext4MaxFile))).Status);
        Assert.Equal(0, (await conn.RoundTripAsync(StorageCommand.ModifyFile, Wire.AppenderBody(StorageCommand.ModifyFile, remote, TiB + 1, middle.Length, middle))).Status);
        Assert.Equal(0, (await conn.RoundTripAsync(StorageCommand.ModifyFile, Wire.AppenderBody(StorageCommand.ModifyFile, remote, Ext4MaxFile - tail.Length, tail.Length, tail))).Status);

        // head, zeros, middle, zeros, tail: from the pieces' own CRCs and the zero-run arithmetic (checked on its own).
        uint expected = Crc32Zeros.Extend(Crc32.HashToUInt32(head), TiB + 1 - head.Length);
        expected = Crc32Zeros.Combine(expected, Crc32.HashToUInt32(middle), middle.Length);
        expected = Crc32Zeros.Extend(expected, Ext4MaxFile - tail.Length - (TiB + 1 + middle.Length));
        expected = Crc32Zeros.Combine(expected, Crc32.HashToUInt32(tail), tail.Length);

        var stopwatch = Stopwatch.StartNew();
        var (status, body) = await conn.RoundTripAsync(StorageCommand.QueryFileInfo, Wire.FileBody(remote));
        Assert.Equal(0, status);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"QUERY_FILE_INFO took {stopwatch.Elapsed}");
        var info = FileInfoResponse.Read(body);
        Assert.Equal(Ext4MaxFile, info.FileSize);
        Assert.Equal(expected, info.Crc32);
        Assert.Equal((long)(int)expected, Wire.ReadLong(body, 16)); // sign-extended like FastDFS

        stopwatch.Restart();
        (status, body) = await conn.RoundTripAsync(StorageCommand.RegenerateAppenderFileName, Encoding.ASCII.GetBytes(remote));
        Assert.Equal(0, status);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"REGENERATE_APPENDER_FILENAME took {stopwatch.Elapsed}");
        Assert.True(FileNames.TryDecode(UploadResponse.Decode(body).RemoteFileName, out var renamed));
        Assert.Equal(expected, renamed.Crc32);
    }

    [Fact]
    public async Task Query_of_a_sparse_appender_matches_reading_the_stored_file()
    {
        await using var server = await StorageTestServer.StartAsync();
        await using var conn = await server.ConnectAsync();
        var random = new Random(23);
        string remote = await conn.UploadAsync(Bytes(random, 5000), "bin", appender: true);
        long size = (2 * GiB) + 12_345;
        Assert.Equal(0, (await conn.RoundTripAsync(StorageCommand.TruncateFile, Wire.AppenderBody(StorageCommand.TruncateFile, remote, 0, size))).Status);
        foreach (long offset in new[] { 4096L - 10, GiB + 1, size - 70_000 })
        {
            var data = Bytes(random, 60_000);
            Assert.Equal(0, (await conn.RoundTripAsync(StorageCommand.ModifyFile, Wire.AppenderBody(StorageCommand.ModifyFile, remote, offset, data.Length, data))).Status);
        }

        var (status, body) = await conn.RoundTripAsync(StorageCommand.QueryFileInfo, Wire.FileBody(remote));
        Assert.Equal(0, status);
        Assert.Equal(size, FileInfoResponse.Read(body).FileSize);
        Assert.Equal(FullReadCrc(server.LocalPath(remote)), FileInfoResponse.Read(body).Crc32);
    }

    [Fact]
    public async Task A_crc_longer_than_network_timeout_is_answered_ETIMEDOUT_and_the_connection_stays()
    {
        await using var server = await StorageTestServer.StartAsync(o => o with { CrcTimeLimit = TimeSpan.FromMilliseconds(1) });
        await using var conn = await server.ConnectAsync();
        var content = Bytes(new Random(29), 64 << 20);
        string remote = await conn.UploadAsync(content, "bin", appender: true);

        var (status, _) = await conn.RoundTripAsync(StorageCommand.QueryFileInfo, Wire.FileBody(remote));
        Assert.Equal(FdfsErrno.ETIMEDOUT, status);
        (status, _) = await conn.RoundTripAsync(StorageCommand.RegenerateAppenderFileName, Encoding.ASCII.GetBytes(remote));
        Assert.Equal(FdfsErrno.ETIMEDOUT, status);
        Assert.True(File.Exists(server.LocalPath(remote))); // not renamed

        // Flag bit 0 (no CRC) still answers, on the same connection.
        var (flagStatus, body) = await conn.RoundTripAsync(StorageCommand.QueryFileInfo, Wire.FileBody(remote), status: 1);
        Assert.Equal(0, flagStatus);
        Assert.Equal(content.Length, FileInfoResponse.Read(body).FileSize);
    }

    [Fact]
    public async Task A_client_that_goes_away_stops_its_crc_and_others_are_served_meanwhile()
    {
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs));
        await using var server = await StorageTestServer.StartAsync(loggerFactory: loggerFactory);
        var content = Bytes(new Random(31), 256 << 20);
        string big;
        string small;
        await using (var setup = await server.ConnectAsync())
        {
            big = await setup.UploadAsync(content, "bin", appender: true);
            small = await setup.UploadAsync("small"u8.ToArray(), "txt");
        }

        uint expected = Crc32.HashToUInt32(content);
        byte first = content[0];
        content = [];

        // Rewriting a byte makes the file's ctime new: no CRC comes from the cache of settled files.
        await using var other = await server.ConnectAsync();
        await TouchAsync(other, big, first);

        // Several clients CRC 256 MiB each (more than the cores); another one's requests go on being answered.
        const int Busy = 4;
        var busy = new List<Task<(byte Status, byte[] Body)>>();
        var connections = new List<FdfsConnection>();
        for (int i = 0; i < Busy; i++)
        {
            var c = await server.ConnectAsync();
            connections.Add(c);
            busy.Add(c.RoundTripAsync(StorageCommand.QueryFileInfo, Wire.FileBody(big)));
        }

        int servedMeanwhile = 0;
        var slowest = TimeSpan.Zero;
        while (!busy.TrueForAll(t => t.IsCompleted))
        {
            var stopwatch = Stopwatch.StartNew();
            var (status, body) = await other.RoundTripAsync(StorageCommand.QueryFileInfo, Wire.FileBody(small));
            Assert.Equal(0, status);
            Assert.Equal(5, FileInfoResponse.Read(body).FileSize);
            slowest = stopwatch.Elapsed > slowest ? stopwatch.Elapsed : slowest;
            servedMeanwhile++;
        }

        foreach (var task in busy)
        {
            var (status, body) = await task;
            Assert.Equal(0, status);
            Assert.Equal(expected, FileInfoResponse.Read(body).Crc32);
        }

        Assert.True(servedMeanwhile >= 1, "no request of the other client was answered during the CRCs");
        Assert.True(slowest < TimeSpan.FromSeconds(2), $"the other client waited {slowest}");
        foreach (var c in connections)
        {
            await c.DisposeAsync();
        }

        // A client that asks and leaves: the storage stops reading for it and closes the connection.
        await TouchAsync(other, big, first);
        var gone = await server.ConnectAsync();
        await gone.SendPacketAsync(new PacketHeader(Wire.FileBody(big).Length, (byte)StorageCommand.QueryFileInfo, 0), Wire.FileBody(big), CancellationToken.None);
        await gone.DisposeAsync();
        Assert.True(await Eventually(() => logs.Events.Contains(3012)), "the CRC was not abandoned");
        Assert.True(await Eventually(() => server.Server.Stats.ConnectionCurrentCount == 1)); // the other client's
    }

    private static async Task TouchAsync(FdfsConnection connection, string remote, byte first) =>
        Assert.Equal(0, (await connection.RoundTripAsync(StorageCommand.ModifyFile, Wire.AppenderBody(StorageCommand.ModifyFile, remote, 0, 1, [first]))).Status);

    private static string TempFile() => Path.Combine(Path.GetTempPath(), "fdfs-crc-test-" + Guid.NewGuid().ToString("N"));

    private static byte[] Bytes(Random random, int count)
    {
        var data = new byte[count];
        random.NextBytes(data);
        return data;
    }

    private static uint FullReadCrc(string path)
    {
        var crc = new Crc32();
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 20);
        crc.Append(stream);
        return crc.GetCurrentHashAsUInt32();
    }

    private static async Task<bool> Eventually(Func<bool> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(5))
            {
                return false;
            }

            await Task.Delay(10);
        }

        return true;
    }

    /// <summary>Collects the event ids logged, to see what the storage decided.</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentBag<int> Events { get; } = [];

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Events.Add(eventId.Id);
        }
    }
}
