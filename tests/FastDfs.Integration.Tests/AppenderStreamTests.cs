using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>
/// <see cref="AppenderStream"/> against a real storage: pipelined APPEND/MODIFY requests land in order, the first
/// failure sticks and closes the connection, and a frozen, killed or refusing storage never hangs the sender.
/// </summary>
public sealed class AppenderStreamTests(SingleStorageCluster fixture) : IClassFixture<SingleStorageCluster>
{
    private const int Chunk = 64 * 1024;

    private Cluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Pipelined_appends_and_a_modify_among_them_land_in_order_and_the_connection_is_pooled()
    {
        byte[] head = RandomNumberGenerator.GetBytes(1000);

        // A client of its own: every connection it opens is the stream's, or a later request's.
        await using var opened = await OpenStreamAsync(head);
        var (setup, id, storage, client, stream) = opened;
        Assert.Equal(1, client.ConnectionsOpened);
        var expected = new List<byte>(head);
        int bodies = 0;
        for (int i = 0; i < 200; i++)
        {
            byte[] chunk = RandomNumberGenerator.GetBytes(Chunk);
            int errno;
            if (i % 3 == 1)
            {
                var body = new SentBody(chunk);
                errno = stream.Append(chunk.Length, body);
                Assert.Equal(1, body.Calls);
                bodies++;
            }
            else
            {
                errno = stream.Append(chunk);
            }

            Assert.Equal(0, errno);
            expected.AddRange(chunk);
            if (i == 120)
            {
                // Over bytes appended earlier in this stream, across chunk boundaries: runs after them, before the next.
                long offset = head.Length + (30L * Chunk) + 77;
                byte[] patch = RandomNumberGenerator.GetBytes((2 * Chunk) + 5);
                Assert.Equal(0, stream.Modify(offset, patch.Length, new SentBody(patch)));
                for (int k = 0; k < patch.Length; k++)
                {
                    expected[(int)offset + k] = patch[k];
                }
            }
        }

        Assert.True(bodies > 60);
        Assert.Equal(0, stream.Errno);
        Assert.Equal(0, await stream.CompleteAsync(CancellationToken.None));

        // Done: its connection may be another request's now.
        Assert.Throws<ObjectDisposedException>(() => stream.Append(new byte[1]));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => stream.CompleteAsync(CancellationToken.None).AsTask());

        Assert.Equal(expected.Count, (await setup.GetFileInfoAsync(id)).Size);
        Assert.True(expected.SequenceEqual(await setup.DownloadBytesAsync(id)), "downloaded bytes differ");

        // The stream's connection went back to the pool, aligned on a packet boundary: the next request reuses it.
        await client.AppendAsync(id, "tail"u8.ToArray(), storage);
        Assert.Equal(1, client.ConnectionsOpened);
        Assert.Equal(expected.Count + 4, (await setup.GetFileInfoAsync(id)).Size);
    }

    [Fact]
    public async Task A_refused_modify_sticks_later_appends_are_not_applied_and_the_connection_is_closed()
    {
        byte[] head = RandomNumberGenerator.GetBytes(1000);
        await using var opened = await OpenStreamAsync(head);
        var (setup, id, storage, client, stream) = opened;

        byte[] first = RandomNumberGenerator.GetBytes(Chunk);
        Assert.Equal(0, stream.Append(first));

        // Past the end (the storage refuses it with EINVAL and closes); the client cannot know that yet.
        Assert.Equal(0, stream.Modify(10L * 1024 * 1024, 100, new SentBody(new byte[100])));
        var answers = new List<int>();
        for (int i = 0; i < 400 && (answers.Count == 0 || answers[^1] == 0); i++)
        {
            answers.Add(stream.Append(RandomNumberGenerator.GetBytes(Chunk)));
            if (i % 20 == 19)
            {
                await Task.Delay(10); // let the answers come in
            }
        }

        Assert.Equal(FdfsErrno.EINVAL, answers[^1]);
        Assert.Equal(FdfsErrno.EINVAL, stream.Errno);
        Assert.Equal(FdfsErrno.EINVAL, stream.Append(new byte[4]));
        Assert.Equal(FdfsErrno.EINVAL, await stream.CompleteAsync(CancellationToken.None));

        // Only what came before the refusal is stored.
        Assert.Equal(head.Length + Chunk, (await setup.GetFileInfoAsync(id)).Size);
        Assert.Equal(head.Concat(first).ToArray(), await setup.DownloadBytesAsync(id));

        // The connection was closed, not pooled: the next request opens another and is answered in step.
        await AssertAppendOpensNewConnectionAsync(client, id, "tail"u8.ToArray(), storage);
        Assert.Equal(head.Length + Chunk + 4, (await setup.GetFileInfoAsync(id)).Size);
    }

    [Fact]
    public async Task A_refusal_with_nothing_sent_after_it_is_answered_by_complete()
    {
        await using var client = Cluster.CreateClient();
        var id = await client.UploadAppenderAsync(new byte[10], "bin");
        var storage = await client.QueryUpdateAsync(id);
        var stream = await client.OpenAppenderStreamAsync(id, storage);

        Assert.Equal(0, stream.Modify(11, 1, new SentBody([1])));
        Assert.Equal(FdfsErrno.EINVAL, await stream.CompleteAsync(CancellationToken.None));
        Assert.Equal(10, (await client.GetFileInfoAsync(id)).Size);
    }

    [Fact]
    public async Task Writes_at_offsets_behind_a_refused_one_never_land_at_its_place()
    {
        // An APPEND behind a refused one would be stored where the refused bytes belonged; a MODIFY at its offset is
        // refused (past the end) and the storage closes the connection, so nothing behind the refusal runs.
        long limit = FileSizeLimit.Of(Cluster.Storages[0].StorePaths[0]);
        await using var client = Cluster.CreateClient();
        var id = await client.UploadAppenderAsync(new byte[10], "bin");
        long size = limit - 1000;
        await client.TruncateAsync(id, size);
        var storage = await client.QueryUpdateAsync(id);
        var stream = await client.OpenAppenderStreamAsync(id, storage);

        byte[] first = RandomNumberGenerator.GetBytes(600);
        byte[] crossing = RandomNumberGenerator.GetBytes(2000);
        Assert.Equal(0, stream.Modify(size, first));
        Assert.Equal(0, stream.Modify(size + first.Length, crossing.Length, new SentBody(crossing)));
        int errno = 0;
        for (int i = 0; i < 20 && errno == 0; i++)
        {
            // Each would fit where the refused request was.
            errno = stream.Modify(size + first.Length + crossing.Length + (i * 100L), new byte[100]);
            await Task.Delay(5);
        }

        Assert.Equal(FdfsErrno.EFBIG, await stream.CompleteAsync(CancellationToken.None));
        Assert.Equal((size + first.Length, crossing.Length), stream.Refused);
        string local = Cluster.Storages[0].DataFiles().Single(f => f.EndsWith(Path.GetFileName(id.RemoteFileName), StringComparison.Ordinal));
        Assert.Equal(size + first.Length, new FileInfo(local).Length); // QUERY_FILE_INFO would read 16 TiB for the CRC
        Assert.Equal(first, await client.DownloadBytesAsync(id, size, first.Length));
    }

    [Fact]
    public async Task Appending_to_a_normal_file_answers_the_storage_errno()
    {
        await using var client = Cluster.CreateClient();
        byte[] data = RandomNumberGenerator.GetBytes(500);
        var id = await client.UploadAsync(data, "bin");
        var storage = await client.QueryUpdateAsync(id);
        var stream = await client.OpenAppenderStreamAsync(id, storage);

        int errno = 0;
        for (int i = 0; i < 50 && errno == 0; i++)
        {
            errno = stream.Append(RandomNumberGenerator.GetBytes(Chunk));
            await Task.Delay(5);
        }

        Assert.Equal(FdfsErrno.EINVAL, errno);
        Assert.Equal(FdfsErrno.EINVAL, await stream.CompleteAsync(CancellationToken.None));
        Assert.Equal(data, await client.DownloadBytesAsync(id));
    }

    [Fact]
    public async Task A_frozen_storage_times_out_the_sender_and_complete_returns_at_once()
    {
        var timeout = TimeSpan.FromSeconds(2);
        await using var opened = await OpenStreamAsync(new byte[100], timeout);
        var (_, id, storage, client, stream) = opened;
        Assert.Equal(0, stream.Append(new byte[Chunk]));
        var daemon = Cluster.Storages[0].Process!;
        daemon.Freeze(true);
        try
        {
            // Until the socket buffers are full the appends are taken; then one waits for room and gives up.
            byte[] chunk = new byte[Chunk];
            var total = Stopwatch.StartNew();
            var longest = TimeSpan.Zero;
            int errno = 0;
            int sent = 0;
            while (errno == 0 && total.Elapsed < TimeSpan.FromSeconds(60))
            {
                var one = Stopwatch.StartNew();
                errno = stream.Append(chunk);
                longest = one.Elapsed > longest ? one.Elapsed : longest;
                sent++;
            }

            Assert.Equal(FdfsErrno.ETIMEDOUT, errno);
            Assert.InRange(longest, TimeSpan.Zero, timeout + TimeSpan.FromSeconds(3));
            Assert.InRange(total.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));

            var completing = Stopwatch.StartNew();
            Assert.Equal(FdfsErrno.ETIMEDOUT, await stream.CompleteAsync(CancellationToken.None));
            Assert.InRange(completing.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(1));
            Assert.True(sent > 1, $"{sent} appends");
        }
        finally
        {
            daemon.Freeze(false);
        }

        // The storage is back; the client talks to it on a new connection.
        await AssertAppendOpensNewConnectionAsync(client, id, "x"u8.ToArray(), storage);
    }

    [Fact]
    public async Task Complete_with_a_cancelled_token_answers_EINTR_without_waiting_for_the_storage()
    {
        await using var opened = await OpenStreamAsync(new byte[100], TimeSpan.FromSeconds(30));
        var (_, id, storage, client, stream) = opened;
        var daemon = Cluster.Storages[0].Process!;
        daemon.Freeze(true);
        try
        {
            // Answers are outstanding (the storage is stopped): only the token can end the wait.
            Assert.Equal(0, stream.Append(new byte[Chunk]));
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            var completing = Stopwatch.StartNew();
            Assert.Equal(FdfsErrno.EINTR, await stream.CompleteAsync(cts.Token));
            Assert.InRange(completing.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(5));
            Assert.Equal(FdfsErrno.EINTR, stream.Errno);
        }
        finally
        {
            daemon.Freeze(false);
        }

        // An already cancelled token while answers are due: EINTR too, and the connection is not reused.
        var again = await client.OpenAppenderStreamAsync(id, storage);
        daemon.Freeze(true);
        try
        {
            Assert.Equal(0, again.Append(new byte[10]));
            Assert.Equal(FdfsErrno.EINTR, await again.CompleteAsync(new CancellationToken(canceled: true)));
        }
        finally
        {
            daemon.Freeze(false);
        }

        await AssertAppendOpensNewConnectionAsync(client, id, "x"u8.ToArray(), storage);
    }

    [Fact]
    public async Task A_body_that_fails_part_way_answers_EIO_and_its_connection_is_not_reused()
    {
        byte[] head = RandomNumberGenerator.GetBytes(1000);
        await using var opened = await OpenStreamAsync(head);
        var (setup, id, storage, client, stream) = opened;

        byte[] good = RandomNumberGenerator.GetBytes(Chunk);
        Assert.Equal(0, stream.Append(good));
        // Half of a 2 MiB request, more than the storage buffers: part of it reaches its disk before the body breaks.
        var failing = new FailingBody(RandomNumberGenerator.GetBytes(1024 * 1024));
        Assert.Equal(FdfsErrno.EIO, stream.Append(2 * 1024 * 1024, failing));
        Assert.True(failing.Wrote > 0);
        Assert.Equal(FdfsErrno.EIO, stream.Append(good));
        Assert.Equal(FdfsErrno.EIO, await stream.CompleteAsync(CancellationToken.None));

        // The half-sent request is never completed by the next request's bytes: that goes on a new connection. The
        // storage dropped the part it had (as FastDFS truncates a broken append back).
        byte[] tail = RandomNumberGenerator.GetBytes(300);
        await AssertAppendOpensNewConnectionAsync(client, id, tail, storage);
        byte[] stored = await setup.DownloadBytesAsync(id);
        Assert.Equal(head.Length + Chunk + tail.Length, stored.Length);
        Assert.Equal(head.Concat(good).ToArray(), stored.AsSpan(0, head.Length + Chunk).ToArray());
        Assert.Equal(tail, stored.AsSpan(stored.Length - tail.Length).ToArray());
    }

    [Fact]
    public async Task A_storage_killed_mid_stream_answers_EIO_and_nothing_hangs()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec());
        await using var client = cluster.CreateClient(TimeSpan.FromSeconds(5));
        var id = await client.UploadAppenderAsync(new byte[100], "bin");
        var storage = await client.QueryUpdateAsync(id);
        var stream = await client.OpenAppenderStreamAsync(id, storage);
        byte[] chunk = RandomNumberGenerator.GetBytes(Chunk);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(0, stream.Append(chunk));
        }

        await cluster.Storages[0].KillHardAsync();
        var clock = Stopwatch.StartNew();
        int errno = 0;
        for (int i = 0; i < 1000 && errno == 0; i++)
        {
            errno = i % 2 == 0 ? stream.Append(chunk) : stream.Append(chunk.Length, new SentBody(chunk));
        }

        int completed = await stream.CompleteAsync(CancellationToken.None);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(4));
        Assert.Equal(FdfsErrno.EIO, errno);
        Assert.Equal(FdfsErrno.EIO, completed);
    }

    /// <summary>
    /// An appender file of <paramref name="head"/> uploaded by a setup client, and a stream to it from a client of its own
    /// (its connection count starts with the stream's).
    /// </summary>
    private async Task<OpenedStream> OpenStreamAsync(byte[] head, TimeSpan? timeout = null)
    {
        var setup = Cluster.CreateClient();
        var id = await setup.UploadAppenderAsync(head, "bin");
        var storage = await setup.QueryUpdateAsync(id);
        var client = Cluster.CreateClient(timeout);
        return new OpenedStream(setup, id, storage, client, await client.OpenAppenderStreamAsync(id, storage));
    }

    private sealed record OpenedStream(FastDfsClient Setup, FileId Id, ServerAddress Storage, FastDfsClient Client, AppenderStream Stream) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Setup.DisposeAsync();
        }
    }

    /// <summary>The next append goes on a new connection: the stream's was closed, not given back to the pool.</summary>
    private static async Task AssertAppendOpensNewConnectionAsync(FastDfsClient client, FileId id, byte[] data, ServerAddress storage)
    {
        int opened = client.ConnectionsOpened;
        await client.AppendAsync(id, data, storage);
        Assert.Equal(opened + 1, client.ConnectionsOpened);
    }

    /// <summary>A body written as the mount's spliced one is: straight onto the non-blocking socket.</summary>
    private sealed class SentBody(byte[] data) : IRequestBody
    {
        public int Calls { get; private set; }

        public void WriteTo(Socket socket, int length, TimeSpan timeout)
        {
            Calls++;
            Assert.Equal(data.Length, length);
            AppenderStream.SendAll(socket, data, timeout);
        }
    }

    /// <summary>A source that breaks after part of the body (a pipe that ended early).</summary>
    private sealed class FailingBody(byte[] part) : IRequestBody
    {
        public int Wrote { get; private set; }

        public void WriteTo(Socket socket, int length, TimeSpan timeout)
        {
            AppenderStream.SendAll(socket, part, timeout);
            Wrote = part.Length;
            throw new IOException("the request's pipe ended early");
        }
    }
}
