using System.Diagnostics;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Client.Tests;

public sealed class ClientTests
{
    private const string Remote = "M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt";
    private static readonly FileId Id = new("group1", Remote);

    private static CancellationToken Ct => CancellationToken.None;

    private static FastDfsClient Client(params string[] trackers) =>
        new(FastDfsClientOptions.FromTrackers(trackers) with
        {
            NetworkTimeout = TimeSpan.FromSeconds(5),
            ConnectTimeout = TimeSpan.FromSeconds(2),
        });

    /// <summary>A tracker that sends every query to <paramref name="storage"/> with store path 0.</summary>
    private static FakeServer Tracker(FakeServer storage) => new(r => r.Header.Command switch
    {
        (byte)TrackerCommand.QueryStoreWithoutGroupOne or (byte)TrackerCommand.QueryStoreWithGroupOne =>
            Reply.Ok(new StoreTarget("group1", new ServerAddress("127.0.0.1", storage.Port), 0).ToArray()),
        (byte)TrackerCommand.QueryFetchOne or (byte)TrackerCommand.QueryUpdate or (byte)TrackerCommand.QueryFetchAll =>
            Reply.Ok(new GroupServers("group1", [new ServerAddress("127.0.0.1", storage.Port)]).ToArray()),
        _ => Reply.Error(FdfsErrno.EINVAL),
    });

    private static FakeServer Storage(Func<Received, Reply?>? extra = null) => new(r => extra?.Invoke(r) ?? r.Header.Command switch
    {
        (byte)StorageCommand.UploadFile or (byte)StorageCommand.UploadAppenderFile => Reply.Ok(UploadResponse.Encode("group1", Remote)),
        (byte)StorageCommand.DownloadFile => Reply.Ok("hello world"u8.ToArray()),
        (byte)StorageCommand.DeleteFile or (byte)StorageCommand.SetMetadata => Reply.Ok(),
        (byte)StorageCommand.GetMetadata => Reply.Error(FdfsErrno.ENOENT),
        (byte)StorageCommand.QueryFileInfo => Reply.Ok(new FileInfoResponse(1000, 1795538316, 0xf7a1a378, "127.0.0.3").ToArray()),
        _ => Reply.Error(FdfsErrno.EINVAL),
    });

    [Fact]
    public async Task Upload_sends_golden_bytes_and_uses_the_returned_path_index()
    {
        await using var storage = Storage();
        await using var tracker = Tracker(storage);
        await using var client = Client(tracker.Address);

        var id = await client.UploadAsync("hello"u8.ToArray(), "txt", cancellationToken: Ct);

        Assert.Equal(Id, id);
        var t = Assert.Single(tracker.Requests);
        Assert.Equal("00000000000000006500", Convert.ToHexString(t.Wire));
        var s = Assert.Single(storage.Requests);
        Assert.Equal(
            "0000000000000014" + "0B00" + "00" + "0000000000000005" + "747874000000" + "68656C6C6F",
            Convert.ToHexString(s.Wire));
    }

    [Fact]
    public async Task Upload_with_group_uses_104_and_streams_large_content_exactly()
    {
        await using var storage = Storage();
        await using var tracker = Tracker(storage);
        await using var client = Client(tracker.Address);
        var data = new byte[3 * 1024 * 1024 + 17];
        Random.Shared.NextBytes(data);
        long lastProgress = 0;
        var progress = new SyncProgress(v => lastProgress = v);

        await client.UploadAsync(new MemoryStream(data), data.Length, ".bin", group: "group1", progress: progress, cancellationToken: Ct);

        var t = Assert.Single(tracker.Requests);
        Assert.Equal((byte)TrackerCommand.QueryStoreWithGroupOne, t.Header.Command);
        Assert.Equal("group1", WireText.FromPadded(t.Body));
        var s = Assert.Single(storage.Requests);
        var header = UploadRequestHeader.Read(s.Body);
        Assert.Equal(data.Length, header.FileSize);
        Assert.Equal("bin", header.Extension);
        Assert.True(s.Body.AsSpan(UploadRequestHeader.Size).SequenceEqual(data));
        Assert.Equal(data.Length, lastProgress);
    }

    [Fact]
    public async Task Upload_stream_shorter_than_length_fails_and_discards_the_connection()
    {
        await using var storage = Storage();
        await using var tracker = Tracker(storage);
        await using var client = Client(tracker.Address);

        await Assert.ThrowsAsync<EndOfStreamException>(() =>
            client.UploadAsync(new MemoryStream(new byte[10]), 100, null, cancellationToken: Ct));
        await client.UploadAsync(new byte[5], null, cancellationToken: Ct);

        Assert.Single(storage.Requests); // the truncated one never completed on the server
        Assert.Equal(2, client.ConnectionsOpened - 1); // tracker 1 + storage 2
    }

    [Fact]
    public async Task Tracker_failover_skips_a_closed_port()
    {
        await using var storage = Storage();
        await using var tracker = Tracker(storage);
        await using var client = Client($"127.0.0.1:{FakeServer.ClosedPort()}", tracker.Address);

        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(Id, await client.UploadAsync(new byte[3], "txt", cancellationToken: Ct));
        }

        Assert.Equal(3, tracker.Requests.Count);
    }

    [Fact]
    public async Task Tracker_that_timed_out_is_marked_dead_and_skipped()
    {
        await using var hung = new FakeServer(_ => Reply.Hang);
        await using var storage = Storage();
        await using var good = Tracker(storage);
        await using var client = new FastDfsClient(FastDfsClientOptions.FromTrackers(hung.Address, good.Address) with
        {
            NetworkTimeout = TimeSpan.FromMilliseconds(200),
        });

        for (int i = 0; i < 4; i++)
        {
            await client.QueryStoreAsync(cancellationToken: Ct);
        }

        Assert.Single(hung.Requests);
        Assert.Equal(4, good.Requests.Count);
    }

    [Fact]
    public async Task No_tracker_reachable_lists_the_addresses()
    {
        int p1 = FakeServer.ClosedPort(), p2 = FakeServer.ClosedPort();
        await using var client = Client($"127.0.0.1:{p1}", $"127.0.0.1:{p2}");

        var e = await Assert.ThrowsAsync<FdfsConnectionException>(() => client.QueryStoreAsync(cancellationToken: Ct));
        Assert.Equal(2, e.AddressesTried.Count);
        Assert.Contains($"127.0.0.1:{p1}", e.Message);
        Assert.Contains($"127.0.0.1:{p2}", e.Message);
    }

    [Fact]
    public async Task A_dual_ip_storage_down_at_both_addresses_names_both()
    {
        int port = FakeServer.ClosedPort();
        var options = FastDfsClientOptions.FromTrackers("127.0.0.1:22122") with
        {
            ConnectTimeout = TimeSpan.FromSeconds(2),
            NetworkTimeout = TimeSpan.FromMilliseconds(500),
            MaxConnectionsPerServer = 1,
        };
        using var pool = new ServerPool("127.0.0.1", port, options, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, "127.0.0.2");

        var e = await Assert.ThrowsAsync<IOException>(async () => await pool.RentAsync(allowPooled: true, Ct));
        Assert.Contains("127.0.0.1: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("other address 127.0.0.2: ", e.Message, StringComparison.Ordinal);

        // The failure released the only slot: a leak would time out waiting for it instead.
        await Assert.ThrowsAsync<IOException>(async () => await pool.RentAsync(allowPooled: true, Ct));
    }

    [Fact]
    public async Task Server_that_never_answers_times_out()
    {
        await using var tracker = new FakeServer(_ => Reply.Hang);
        await using var client = new FastDfsClient(FastDfsClientOptions.FromTrackers(tracker.Address) with
        {
            NetworkTimeout = TimeSpan.FromMilliseconds(200),
        });

        var sw = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<FdfsTimeoutException>(() => client.ListGroupsAsync(Ct));
        Assert.InRange(sw.ElapsedMilliseconds, 150, 3000);
        Assert.Equal(FdfsErrno.ETIMEDOUT, e.Errno);
    }

    [Fact]
    public async Task Storage_that_never_answers_times_out_and_the_next_op_uses_a_new_connection()
    {
        int calls = 0;
        await using var storage = Storage(r => Interlocked.Increment(ref calls) == 1 ? Reply.Hang : null);
        await using var tracker = Tracker(storage);
        await using var client = new FastDfsClient(FastDfsClientOptions.FromTrackers(tracker.Address) with
        {
            NetworkTimeout = TimeSpan.FromMilliseconds(200),
        });

        await Assert.ThrowsAsync<FdfsTimeoutException>(() => client.DeleteAsync(Id, Ct));
        await client.DeleteAsync(Id, Ct);
        Assert.Equal(2, storage.ConnectionCount);
    }

    [Fact]
    public async Task Server_errno_becomes_FdfsServerException_with_the_errno()
    {
        await using var tracker = new FakeServer(_ => Reply.Error(FdfsErrno.ENOENT));
        await using var client = Client(tracker.Address);

        var e = await Assert.ThrowsAsync<FdfsServerException>(() => client.DownloadBytesAsync(Id, cancellationToken: Ct));
        Assert.Equal(2, e.Errno);
        Assert.StartsWith("ENOENT (2)", e.Reason);
        Assert.Contains("QueryFetchOne (102)", e.Message);

        // An answer is not a tracker failure: the same connection stays in use.
        await Assert.ThrowsAsync<FdfsServerException>(() => client.DownloadBytesAsync(Id, cancellationToken: Ct));
        Assert.Equal(1, tracker.ConnectionCount);
    }

    [Fact]
    public async Task Get_metadata_ENOENT_is_an_exception_and_TryGet_returns_null()
    {
        await using var storage = Storage();
        await using var tracker = Tracker(storage);
        await using var client = Client(tracker.Address);

        var e = await Assert.ThrowsAsync<FdfsServerException>(() => client.GetMetadataAsync(Id, Ct));
        Assert.Equal(FdfsErrno.ENOENT, e.Errno);
        Assert.Equal("ENOENT (2): file not found", e.Reason);
        Assert.Null(await client.TryGetMetadataAsync(Id, Ct));
        Assert.All(tracker.Requests, r => Assert.Equal((byte)TrackerCommand.QueryUpdate, r.Header.Command));
    }

    [Fact]
    public async Task Metadata_round_trip_and_golden_set_request()
    {
        byte[] stored = "a\u0002b\u0001k1\u0002v9"u8.ToArray();
        await using var storage = Storage(r => r.Header.Command == (byte)StorageCommand.GetMetadata ? Reply.Ok(stored) : null);
        await using var tracker = Tracker(storage);
        await using var client = Client(tracker.Address);

        await client.SetMetadataAsync(Id, new Dictionary<string, string> { ["w"] = "1" }, MetadataFlag.Merge, Ct);
        var meta = await client.GetMetadataAsync(Id, Ct);

        Assert.Equal("b", meta["a"]);
        Assert.Equal("v9", meta["k1"]);
        var set = storage.Requests.First();
        Assert.Equal((byte)StorageCommand.SetMetadata, set.Header.Command);
        var parsed = SetMetadataRequest.Read(set.Body);
        Assert.Equal(MetadataFlag.Merge, parsed.Flag);
        Assert.Equal(Remote, parsed.RemoteFileName);
        Assert.Equal("w\u00021"u8.ToArray(), parsed.Metadata);
    }

    [Fact]
    public async Task Pool_reuses_one_connection_for_sequential_operations()
    {
        await using var storage = Storage();
        await using var tracker = Tracker(storage);
        await using var client = Client(tracker.Address);

        for (int i = 0; i < 20; i++)
        {
            await client.UploadAsync(new byte[100], "jpg", cancellationToken: Ct);
            Assert.Equal("hello world"u8.ToArray(), await client.DownloadBytesAsync(Id, cancellationToken: Ct));
        }

        Assert.Equal(40, tracker.Requests.Count);
        Assert.Equal(1, tracker.ConnectionCount);
        Assert.Equal(1, storage.ConnectionCount);
        Assert.Equal(2, client.ConnectionsOpened);
    }

    [Fact]
    public async Task Broken_connection_is_discarded_not_reused()
    {
        int calls = 0;
        await using var storage = Storage(r => Interlocked.Increment(ref calls) == 2 ? Reply.Close : null);
        await using var tracker = Tracker(storage);
        await using var client = Client(tracker.Address);

        await client.DeleteAsync(Id, Ct);          // connection 1
        var e = await Assert.ThrowsAnyAsync<FdfsException>(() => client.UploadAsync(new MemoryStream(new byte[10]), 10, null, cancellationToken: Ct));
        Assert.IsType<FdfsConnectionException>(e);
        await client.DeleteAsync(Id, Ct);          // must be a new connection

        Assert.Equal(2, storage.ConnectionCount);
    }

    [Fact]
    public async Task Stale_pooled_connection_is_retried_for_retriable_requests()
    {
        int calls = 0;
        await using var storage = Storage(r => Interlocked.Increment(ref calls) == 2 ? Reply.Close : null);
        await using var tracker = Tracker(storage);
        await using var client = Client(tracker.Address);

        await client.DeleteAsync(Id, Ct);
        await client.DeleteAsync(Id, Ct); // server closes the reused connection; retried once

        Assert.Equal(3, storage.Requests.Count);
        Assert.Equal(2, storage.ConnectionCount);
    }

    [Fact]
    public async Task Storage_EINVAL_drops_the_connection()
    {
        await using var storage = Storage(r => r.Header.Command == (byte)StorageCommand.TruncateFile ? Reply.Error(FdfsErrno.EINVAL) : null);
        await using var tracker = Tracker(storage);
        await using var client = Client(tracker.Address);

        var e = await Assert.ThrowsAsync<FdfsServerException>(() => client.TruncateAsync(Id, 0, Ct));
        Assert.Equal(FdfsErrno.EINVAL, e.Errno);
        await client.DeleteAsync(Id, Ct);
        Assert.Equal(2, storage.ConnectionCount);
    }

    [Theory]
    [InlineData("")]
    [InlineData("group1")]
    [InlineData("group1/M00/00/00/short")]
    [InlineData("group_1/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    [InlineData("group1/m00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt")]
    [InlineData("group1/M00/03/52/../AA2sFwIKAdS55AAAD6Peho3g674.txt")]
    public async Task Bad_file_ids_are_rejected_before_any_io(string text)
    {
        await using var tracker = new FakeServer(_ => Reply.Error(FdfsErrno.EIO));
        await using var client = Client(tracker.Address);

        Assert.Throws<ArgumentException>(() => FastDfsClient.ParseFileId(text));
        int slash = text.IndexOf('/');
        var id = slash < 0 ? new FileId(text, "") : new FileId(text[..slash], text[(slash + 1)..]);
        await Assert.ThrowsAsync<ArgumentException>(() => client.DownloadBytesAsync(id, cancellationToken: Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => client.DeleteAsync(id, Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetFileInfoAsync(id, Ct));
        Assert.Empty(tracker.Requests);
        Assert.Equal(0, client.ConnectionsOpened);
    }

    [Fact]
    public async Task Metadata_over_the_limits_is_refused_not_truncated()
    {
        await using var tracker = new FakeServer(_ => Reply.Error(FdfsErrno.EIO));
        await using var client = Client(tracker.Address);

        await Assert.ThrowsAsync<ArgumentException>(() =>
            client.SetMetadataAsync(Id, new Dictionary<string, string> { [new string('k', 65)] = "v" }, cancellationToken: Ct));
        await Assert.ThrowsAsync<ArgumentException>(() =>
            client.SetMetadataAsync(Id, new Dictionary<string, string> { ["k"] = new string('v', 257) }, cancellationToken: Ct));
        await Assert.ThrowsAsync<ArgumentException>(() =>
            client.UploadAsync(new byte[1], null, new Dictionary<string, string> { ["a\u0001"] = "v" }, cancellationToken: Ct));
        var many = Enumerable.Range(0, 2000).ToDictionary(i => "key" + i, _ => new string('v', 200));
        await Assert.ThrowsAsync<ArgumentException>(() => client.SetMetadataAsync(Id, many, cancellationToken: Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => client.UploadAsync(new byte[1], "toolongx", cancellationToken: Ct));
        Assert.Empty(tracker.Requests);
    }

    [Fact]
    public async Task Download_streams_into_destination_with_offset_and_length_on_the_wire()
    {
        await using var storage = Storage();
        await using var tracker = Tracker(storage);
        await using var client = Client(tracker.Address);
        var destination = new MemoryStream();

        long n = await client.DownloadAsync(Id, destination, 6, 5, cancellationToken: Ct);

        Assert.Equal(11, n);
        Assert.Equal("hello world"u8.ToArray(), destination.ToArray());
        var t = Assert.Single(tracker.Requests);
        Assert.Equal((byte)TrackerCommand.QueryFetchOne, t.Header.Command);
        var request = DownloadRequest.Read(Assert.Single(storage.Requests).Body);
        Assert.Equal(new DownloadRequest(6, 5, "group1", Remote), request);
    }

    [Fact]
    public async Task Download_to_file_writes_atomically()
    {
        await using var storage = Storage();
        await using var tracker = Tracker(storage);
        await using var client = Client(tracker.Address);
        string dir = Directory.CreateTempSubdirectory("fdfs-client-test").FullName;
        try
        {
            string path = Path.Combine(dir, "out.txt");
            await client.DownloadToFileAsync(Id, path, cancellationToken: Ct);
            Assert.Equal("hello world", File.ReadAllText(path));
            Assert.Single(Directory.GetFiles(dir));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task File_info_combines_the_response_and_the_name()
    {
        await using var storage = Storage();
        await using var tracker = Tracker(storage);
        await using var client = Client(tracker.Address);

        var info = await client.GetFileInfoAsync(Id, Ct);

        Assert.Equal(1000, info.Size);
        Assert.Equal(0xf7a1a378u, info.Crc32);
        Assert.Equal("127.0.0.3", info.SourceIp);
        Assert.False(info.IsAppender);
        Assert.False(info.IsSlave);
        Assert.Equal((byte)StorageCommand.QueryFileInfo, Assert.Single(storage.Requests).Header.Command);
        Assert.Equal((byte)TrackerCommand.QueryFetchOne, Assert.Single(tracker.Requests).Header.Command);
    }

    [Fact]
    public async Task Appender_operations_route_via_query_update_with_golden_bodies()
    {
        await using var storage = Storage(r => r.Header.Command is (byte)StorageCommand.AppendFile or (byte)StorageCommand.ModifyFile or (byte)StorageCommand.TruncateFile ? Reply.Ok() : null);
        await using var tracker = Tracker(storage);
        await using var client = Client(tracker.Address);

        await client.AppendAsync(Id, "ab"u8.ToArray(), Ct);
        await client.ModifyAsync(Id, 7, new MemoryStream("xyz"u8.ToArray()), 3, cancellationToken: Ct);
        await client.TruncateAsync(Id, 9, Ct);

        Assert.All(tracker.Requests, r => Assert.Equal((byte)TrackerCommand.QueryUpdate, r.Header.Command));
        var r = storage.Requests.ToArray();
        string name = Convert.ToHexString(System.Text.Encoding.ASCII.GetBytes(Remote));
        Assert.Equal("000000000000002C" + "0000000000000002" + name + "6162", Convert.ToHexString(r[0].Body));
        Assert.Equal("000000000000002C" + "0000000000000007" + "0000000000000003" + name + "78797A", Convert.ToHexString(r[1].Body));
        Assert.Equal("000000000000002C" + "0000000000000009" + name, Convert.ToHexString(r[2].Body));
    }

    [Fact]
    public async Task Appender_operations_on_a_chosen_storage_skip_the_tracker_with_the_same_bodies()
    {
        await using var storage = Storage(r => r.Header.Command is (byte)StorageCommand.AppendFile or (byte)StorageCommand.ModifyFile or (byte)StorageCommand.TruncateFile ? Reply.Ok() : null);
        await using var tracker = Tracker(storage);
        await using var client = Client(tracker.Address);
        var chosen = new ServerAddress("127.0.0.1", storage.Port);

        await client.AppendAsync(Id, "ab"u8.ToArray(), chosen, Ct);
        await client.ModifyAsync(Id, 7, "xyz"u8.ToArray(), chosen, Ct);
        await client.TruncateAsync(Id, 9, chosen, Ct);

        Assert.Empty(tracker.Requests);
        var r = storage.Requests.ToArray();
        string name = Convert.ToHexString(System.Text.Encoding.ASCII.GetBytes(Remote));
        Assert.Equal("000000000000002C" + "0000000000000002" + name + "6162", Convert.ToHexString(r[0].Body));
        Assert.Equal("000000000000002C" + "0000000000000007" + "0000000000000003" + name + "78797A", Convert.ToHexString(r[1].Body));
        Assert.Equal("000000000000002C" + "0000000000000009" + name, Convert.ToHexString(r[2].Body));
    }

    [Fact]
    public async Task Append_stream_sends_golden_requests_back_to_back_on_one_connection()
    {
        await using var storage = Storage(r => r.Header.Command is (byte)StorageCommand.AppendFile or (byte)StorageCommand.ModifyFile ? Reply.Ok() : null);
        await using var client = Client($"127.0.0.1:{FakeServer.ClosedPort()}");
        var chosen = new ServerAddress("127.0.0.1", storage.Port);

        var stream = await client.OpenAppenderStreamAsync(Id, chosen, Ct);
        Assert.Equal(0, stream.Append("ab"u8));
        Assert.Equal(0, stream.Modify(0x1_0000_0007, 3, new BytesBody("xyz"u8.ToArray())));
        Assert.Equal(0, stream.Append(2, new BytesBody("cd"u8.ToArray()))); // after a MODIFY: the shorter APPEND prefix
        Assert.Equal(0, await stream.CompleteAsync(Ct));

        // Header (body length, cmd 24 or 34, status 0), name_len, [offset,] size, name, content: no group name.
        string name = Convert.ToHexString(System.Text.Encoding.ASCII.GetBytes(Remote));
        var r = storage.Requests.ToArray();
        Assert.Equal(3, r.Length);
        Assert.Equal("000000000000003E" + "1800" + "000000000000002C" + "0000000000000002" + name + "6162", Convert.ToHexString(r[0].Wire));
        Assert.Equal(
            "0000000000000047" + "2200" + "000000000000002C" + "0000000100000007" + "0000000000000003" + name + "78797A",
            Convert.ToHexString(r[1].Wire));
        Assert.Equal("000000000000003E" + "1800" + "000000000000002C" + "0000000000000002" + name + "6364", Convert.ToHexString(r[2].Wire));

        // Every answer read, the connection went back to the pool: a later request on the same storage reuses it.
        await client.AppendAsync(Id, "e"u8.ToArray(), chosen, Ct);
        Assert.Equal(1, storage.ConnectionCount);
    }

    [Fact]
    public async Task Append_stream_refusal_that_keeps_the_connection_still_sticks_and_closes_it()
    {
        // ENOSPC (unlike EINVAL) leaves a storage's connection open for the next request: the client must not reuse it.
        int seen = 0;
        await using var storage = Storage(r => r.Header.Command == (byte)StorageCommand.AppendFile
            ? (Interlocked.Increment(ref seen) == 2 ? Reply.Error(FdfsErrno.ENOSPC) : Reply.Ok())
            : null);
        await using var client = Client($"127.0.0.1:{FakeServer.ClosedPort()}");
        var chosen = new ServerAddress("127.0.0.1", storage.Port);

        var stream = await client.OpenAppenderStreamAsync(Id, chosen, Ct);
        int errno = 0;
        var deadline = Stopwatch.StartNew();
        while (errno == 0 && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            errno = stream.Append("ab"u8);
            await Task.Delay(5);
        }

        Assert.Equal(FdfsErrno.ENOSPC, errno);
        Assert.Equal(FdfsErrno.ENOSPC, await stream.CompleteAsync(Ct));
        await client.AppendAsync(Id, "e"u8.ToArray(), chosen, Ct);
        Assert.Equal(2, storage.ConnectionCount);
    }

    [Fact]
    public async Task Appender_upload_to_a_chosen_target_skips_the_tracker_and_uses_its_path_index()
    {
        await using var storage = Storage();
        await using var tracker = Tracker(storage);
        await using var client = Client(tracker.Address);

        var id = await client.UploadAppenderAsync("hello"u8.ToArray(), "txt", new StoreTarget("group1", new ServerAddress("127.0.0.1", storage.Port), 3), Ct);

        Assert.Equal(Id, id);
        Assert.Empty(tracker.Requests);
        var s = Assert.Single(storage.Requests);
        Assert.Equal(
            "0000000000000014" + "1700" + "03" + "0000000000000005" + "747874000000" + "68656C6C6F",
            Convert.ToHexString(s.Wire));
    }

    [Fact]
    public async Task Slave_upload_golden_body()
    {
        await using var storage = Storage(r => r.Header.Command == (byte)StorageCommand.UploadSlaveFile
            ? Reply.Ok(UploadResponse.Encode("group1", "M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674_150x150.jpg"))
            : null);
        await using var tracker = Tracker(storage);
        await using var client = Client(tracker.Address);

        var slave = await client.UploadSlaveAsync(Id, "_150x150", "jpg", "IMG"u8.ToArray(), cancellationToken: Ct);

        Assert.Equal("group1/M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674_150x150.jpg", slave.ToString());
        Assert.Equal((byte)TrackerCommand.QueryUpdate, Assert.Single(tracker.Requests).Header.Command);
        var s = Assert.Single(storage.Requests);
        var h = UploadSlaveRequestHeader.Read(s.Body);
        Assert.Equal(new UploadSlaveRequestHeader(44, 3, "_150x150", "jpg"), h);
        Assert.Equal(Remote + "IMG", System.Text.Encoding.ASCII.GetString(s.Body.AsSpan(UploadSlaveRequestHeader.Size)));
    }

    [Fact]
    public async Task Concurrent_operations_are_bounded_by_the_pool()
    {
        await using var storage = Storage();
        await using var tracker = Tracker(storage);
        await using var client = new FastDfsClient(FastDfsClientOptions.FromTrackers(tracker.Address) with { MaxConnectionsPerServer = 4 });

        await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => client.UploadAsync(new byte[1000], "bin", cancellationToken: Ct)));

        Assert.Equal(64, storage.Requests.Count);
        Assert.InRange(storage.ConnectionCount, 1, 4);
        Assert.InRange(tracker.ConnectionCount, 1, 4);
    }

    /// <summary>An append stream body written as the mount's spliced one is: straight onto the non-blocking socket.</summary>
    private sealed class BytesBody(byte[] data) : IRequestBody
    {
        public void WriteTo(System.Net.Sockets.Socket socket, int length, TimeSpan timeout) => AppenderStream.SendAll(socket, data.AsSpan(0, length), timeout);
    }

    private sealed class SyncProgress(Action<long> action) : IProgress<long>
    {
        public void Report(long value) => action(value);
    }
}
