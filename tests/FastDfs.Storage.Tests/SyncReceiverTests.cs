using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Storage.Tests;

/// <summary>The storage-to-storage commands on the receiving side (protocol notes 5.3) and the binlog they leave (9.2).</summary>
public class SyncReceiverTests
{
    private const int Ts = 1_700_000_123;

    private static byte[] CopyBody(string remote, byte[] content, int ts = Ts, string group = StorageTestServer.Group)
    {
        int nameLength = Encoding.UTF8.GetByteCount(remote);
        var body = new byte[SyncFileHeader.Size + nameLength + content.Length];
        new SyncFileHeader(nameLength, content.Length, ts, group).Write(body);
        Encoding.UTF8.GetBytes(remote, body.AsSpan(SyncFileHeader.Size));
        content.CopyTo(body, SyncFileHeader.Size + nameLength);
        return body;
    }

    private static byte[] RangeBody(string remote, long first, long second, byte[] content, int ts = Ts)
    {
        int nameLength = Encoding.UTF8.GetByteCount(remote);
        var body = new byte[SyncRangeHeader.Size + nameLength + content.Length];
        new SyncRangeHeader(nameLength, first, second, ts, StorageTestServer.Group).Write(body);
        Encoding.UTF8.GetBytes(remote, body.AsSpan(SyncRangeHeader.Size));
        content.CopyTo(body, SyncRangeHeader.Size + nameLength);
        return body;
    }

    private static byte[] DeleteBody(string remote, int ts = Ts)
    {
        var body = new byte[SyncDeleteHeader.Size + Encoding.UTF8.GetByteCount(remote)];
        new SyncDeleteHeader(ts, StorageTestServer.Group).Write(body);
        Encoding.UTF8.GetBytes(remote, body.AsSpan(SyncDeleteHeader.Size));
        return body;
    }

    private static async Task<FdfsConnection> PeerAsync(StorageTestServer server)
    {
        var connection = await server.ConnectAsync();
        var id = new byte[ReportServerIdRequest.Size];
        new ReportServerIdRequest("127.0.0.9").Write(id);
        Assert.Equal(0, (await connection.RoundTripAsync(StorageCommand.ReportServerId, id)).Status);
        return connection;
    }

    /// <summary>A name as a peer would send: a real upload's name with a different random part.</summary>
    private static async Task<string> PeerNameAsync(StorageTestServer server, bool appender = false)
    {
        await using var c = await server.ConnectAsync();
        string remote = await c.UploadAsync([1], appender ? "log" : "bin", appender);
        await c.RoundTripAsync(StorageCommand.DeleteFile, Wire.FileBody(remote));
        return remote;
    }

    [Fact]
    public async Task Create_update_append_delete_keep_the_source_timestamp_and_log_lower_case()
    {
        await using var server = await StorageTestServer.StartAsync();
        string remote = await PeerNameAsync(server, appender: true);
        await using var peer = await PeerAsync(server);

        var content = Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray();
        Assert.Equal(0, (await peer.RoundTripAsync(StorageCommand.SyncCreateFile, CopyBody(remote, content))).Status);
        Assert.Equal(content, await File.ReadAllBytesAsync(server.LocalPath(remote)));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(Ts).UtcDateTime, File.GetLastWriteTimeUtc(server.LocalPath(remote)));

        // A replayed create is EEXIST and changes nothing.
        Assert.Equal(FdfsErrno.EEXIST, (await peer.RoundTripAsync(StorageCommand.SyncCreateFile, CopyBody(remote, [9, 9]))).Status);
        Assert.Equal(content, await File.ReadAllBytesAsync(server.LocalPath(remote)));

        var replaced = new byte[] { 5, 6, 7, 8 };
        Assert.Equal(0, (await peer.RoundTripAsync(StorageCommand.SyncUpdateFile, CopyBody(remote, replaced, Ts + 1))).Status);
        Assert.Equal(replaced, await File.ReadAllBytesAsync(server.LocalPath(remote)));

        // Append at the source's offset; applying it twice gives the same file.
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(0, (await peer.RoundTripAsync(StorageCommand.SyncAppendFile, RangeBody(remote, 4, 2, [1, 2], Ts + 2))).Status);
        }

        Assert.Equal(new byte[] { 5, 6, 7, 8, 1, 2 }, await File.ReadAllBytesAsync(server.LocalPath(remote)));

        // Beyond the end: the sender must fall back to a whole-file copy.
        Assert.Equal(FdfsErrno.ENOENT, (await peer.RoundTripAsync(StorageCommand.SyncModifyFile, RangeBody(remote, 100, 1, [3]))).Status);

        Assert.Equal(0, (await peer.RoundTripAsync(StorageCommand.SyncDeleteFile, DeleteBody(remote, Ts + 3))).Status);
        Assert.False(File.Exists(server.LocalPath(remote)));
        Assert.Equal(FdfsErrno.ENOENT, (await peer.RoundTripAsync(StorageCommand.SyncDeleteFile, DeleteBody(remote))).Status);

        var lines = (await server.BinlogLinesAsync()).Where(l => l.Contains(remote, StringComparison.Ordinal) && l[11] is >= 'a' and <= 'z').ToArray();
        Assert.Equal(
            [$"{Ts} c {remote}", $"{Ts + 1} u {remote}", $"{Ts + 2} a {remote} 4 2", $"{Ts + 2} a {remote} 4 2", $"{Ts + 3} d {remote}"],
            lines);
        Assert.Equal(Ts + 3, server.Server.SyncProgressFor("127.0.0.9"));
    }

    [Fact]
    public async Task Append_and_modify_past_the_file_system_limit_answer_EFBIG_and_keep_the_file_and_the_connection()
    {
        await using var server = await StorageTestServer.StartAsync();
        string remote = await PeerNameAsync(server, appender: true);
        long limit = FastDfs.Integration.Tests.TestKit.FileSizeLimit.Of(Path.GetDirectoryName(server.LocalPath(remote))!);
        long size = limit - 100;
        await using var peer = await PeerAsync(server);
        Assert.Equal(0, (await peer.RoundTripAsync(StorageCommand.SyncCreateFile, CopyBody(remote, [1, 2, 3]))).Status);
        Assert.Equal(0, (await peer.RoundTripAsync(StorageCommand.SyncTruncateFile, RangeBody(remote, 3, size, []))).Status);
        var body = new byte[256 * 1024];
        Array.Fill(body, (byte)7);

        // Before, the replica wrote up to the limit, failed and dropped the connection, and the source sent the same
        // record again and again. Now: EFBIG, the file as it was (the overwritten tail of a MODIFY never written).
        Assert.Equal(FdfsErrno.EFBIG, (await peer.RoundTripAsync(StorageCommand.SyncAppendFile, RangeBody(remote, size, body.Length, body, Ts + 1))).Status);
        Assert.Equal(FdfsErrno.EFBIG, (await peer.RoundTripAsync(StorageCommand.SyncModifyFile, RangeBody(remote, size - 50, body.Length, body, Ts + 2))).Status);
        Assert.Equal(size, new FileInfo(server.LocalPath(remote)).Length);
        using (var handle = File.OpenHandle(server.LocalPath(remote)))
        {
            var tail = new byte[50];
            RandomAccess.Read(handle, tail, size - 50);
            Assert.Equal(new byte[50], tail);
        }

        // Same connection: what fits is taken, and only that is in the binlog.
        Assert.Equal(0, (await peer.RoundTripAsync(StorageCommand.SyncAppendFile, RangeBody(remote, size, 100, body.AsSpan(0, 100).ToArray(), Ts + 3))).Status);
        Assert.Equal(limit, new FileInfo(server.LocalPath(remote)).Length);
        var lines = (await server.BinlogLinesAsync()).Where(l => l.Contains(remote, StringComparison.Ordinal) && l[11] is 'a' or 'm').ToArray();
        Assert.Equal([$"{Ts + 3} a {remote} {size} 100"], lines);
    }

    public static TheoryData<string> BadNames => new()
    {
        "M00/00/00/../../../../etc/passwd-xxxxxxxxxxxxxxxxxxxxxxx",
        "M00/00/00/..%2F..%2Fescape-xxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "/tmp/absolute-name-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "M09/00/00/wKgAA2sFvYyAAqYQAAAnENbsmls633.bin",
        "M00/00/0/wKgAA2sFvYyAAqYQAAAnENbsmls633.binx",
    };

    [Theory]
    [MemberData(nameof(BadNames))]
    public async Task Bad_names_are_refused_and_nothing_is_written(string remote)
    {
        await using var server = await StorageTestServer.StartAsync();
        var before = server.DataFiles().Count;
        await using (var peer = await PeerAsync(server))
        {
            Assert.Equal(FdfsErrno.EINVAL, (await peer.RoundTripAsync(StorageCommand.SyncCreateFile, CopyBody(remote, [1, 2, 3]))).Status);
            Assert.True(await peer.IsClosedAsync());
        }

        await using (var peer = await PeerAsync(server))
        {
            Assert.Equal(FdfsErrno.EINVAL, (await peer.RoundTripAsync(StorageCommand.SyncDeleteFile, DeleteBody(remote))).Status);
        }

        Assert.Equal(before, server.DataFiles().Count);
        Assert.False(File.Exists("/etc/passwd-xxxxxxxxxxxxxxxxxxxxxxx"));
    }

    [Fact]
    public async Task Wrong_group_and_bad_lengths_are_einval()
    {
        await using var server = await StorageTestServer.StartAsync();
        string remote = await PeerNameAsync(server);
        await using (var peer = await PeerAsync(server))
        {
            Assert.Equal(FdfsErrno.EINVAL, (await peer.RoundTripAsync(StorageCommand.SyncCreateFile, CopyBody(remote, [1], group: "group2"))).Status);
        }

        await using (var peer = await PeerAsync(server))
        {
            var body = CopyBody(remote, [1, 2, 3]);
            Assert.Equal(FdfsErrno.EINVAL, (await peer.RoundTripAsync(StorageCommand.SyncCreateFile, body[..^1])).Status);
        }

        await using (var peer = await server.ConnectAsync())
        {
            Assert.Equal(FdfsErrno.EINVAL, (await peer.RoundTripAsync(StorageCommand.ReportServerId, new byte[3])).Status);
        }

        Assert.False(File.Exists(server.LocalPath(remote)));
    }

    [Fact]
    public async Task Created_replicas_are_named_in_their_own_directory_even_when_it_is_missing()
    {
        await using var server = await StorageTestServer.StartAsync();
        string remote = await PeerNameAsync(server);
        string directory = Path.GetDirectoryName(server.LocalPath(remote))!;
        Directory.Delete(directory, recursive: true);
        await using var peer = await PeerAsync(server);

        // The content goes to an unnamed file in some other directory first; the name lands where the peer said.
        var content = Enumerable.Range(0, 4096).Select(i => (byte)(i * 7)).ToArray();
        Assert.Equal(0, (await peer.RoundTripAsync(StorageCommand.SyncCreateFile, CopyBody(remote, content))).Status);
        Assert.Equal(content, await File.ReadAllBytesAsync(server.LocalPath(remote)));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(Ts).UtcDateTime, File.GetLastWriteTimeUtc(server.LocalPath(remote)));
        Assert.Equal([server.LocalPath(remote)], Directory.GetFiles(directory));
        Assert.Empty(server.TempFiles());
        Assert.Single(await server.BinlogLinesAsync(), l => l == $"{Ts} c {remote}");
    }

    [Fact]
    public async Task Fetch_one_path_binlog_returns_the_lines_of_that_path()
    {
        await using var server = await StorageTestServer.StartAsync();
        await using var c = await server.ConnectAsync();
        string first = await c.UploadAsync([1, 2, 3]);
        string second = await c.UploadAsync([4, 5, 6]);
        var body = new byte[FetchOnePathBinlogRequest.Size];
        new FetchOnePathBinlogRequest(StorageTestServer.Group, (byte)RemoteNames.StorePathIndex(first)).Write(body);
        var (status, lines) = await c.RoundTripAsync(StorageCommand.FetchOnePathBinlog, body);
        Assert.Equal(0, status);
        string text = Encoding.UTF8.GetString(lines);
        Assert.Contains(" C " + first + "\n", text, StringComparison.Ordinal);
        Assert.Equal(RemoteNames.StorePathIndex(first) == RemoteNames.StorePathIndex(second), text.Contains(second, StringComparison.Ordinal));
    }
}
