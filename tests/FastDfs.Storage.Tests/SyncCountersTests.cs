using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Storage.Tests;

/// <summary>
/// Receiver side of the sync traffic counters (total/success_sync_in_bytes count file content, as FastDFS does) and
/// of a create the sender confirms by name and size only (header status EEXIST, no content; protocol notes 5.3).
/// </summary>
public class SyncCountersTests
{
    private const int Ts = 1_700_000_456;

    private static byte[] CopyBody(string remote, byte[] content, long? declaredSize = null)
    {
        int nameLength = Encoding.UTF8.GetByteCount(remote);
        var body = new byte[SyncFileHeader.Size + nameLength + content.Length];
        new SyncFileHeader(nameLength, declaredSize ?? content.Length, Ts, StorageTestServer.Group).Write(body);
        Encoding.UTF8.GetBytes(remote, body.AsSpan(SyncFileHeader.Size));
        content.CopyTo(body, SyncFileHeader.Size + nameLength);
        return body;
    }

    private static async Task<string> FreshNameAsync(StorageTestServer server, bool appender = false)
    {
        await using var c = await server.ConnectAsync();
        string remote = await c.UploadAsync([1], appender ? "log" : "bin", appender);
        await c.RoundTripAsync(StorageCommand.DeleteFile, Wire.FileBody(remote));
        return remote;
    }

    private static async Task<FdfsConnection> PeerAsync(StorageTestServer server)
    {
        var connection = await server.ConnectAsync();
        var id = new byte[ReportServerIdRequest.Size];
        new ReportServerIdRequest("127.0.0.9").Write(id);
        Assert.Equal(0, (await connection.RoundTripAsync(StorageCommand.ReportServerId, id)).Status);
        return connection;
    }

    [Fact]
    public async Task Received_content_is_counted_total_always_success_when_applied()
    {
        await using var server = await StorageTestServer.StartAsync();
        var stats = server.Server.Stats;
        string remote = await FreshNameAsync(server, appender: true);
        await using var peer = await PeerAsync(server);

        var content = new byte[7000];
        Assert.Equal(0, (await peer.RoundTripAsync(StorageCommand.SyncCreateFile, CopyBody(remote, content))).Status);
        Assert.Equal(7000, stats[StatCounter.TotalSyncInBytes]);
        Assert.Equal(7000, stats[StatCounter.SuccessSyncInBytes]);

        // A replayed create carries its content but is refused (EEXIST): counted as received, not as applied.
        Assert.Equal(FdfsErrno.EEXIST, (await peer.RoundTripAsync(StorageCommand.SyncCreateFile, CopyBody(remote, content))).Status);
        Assert.Equal(14_000, stats[StatCounter.TotalSyncInBytes]);
        Assert.Equal(7000, stats[StatCounter.SuccessSyncInBytes]);

        // Append: the appended bytes.
        int nameLength = Encoding.UTF8.GetByteCount(remote);
        var append = new byte[SyncRangeHeader.Size + nameLength + 300];
        new SyncRangeHeader(nameLength, 7000, 300, Ts + 1, StorageTestServer.Group).Write(append);
        Encoding.UTF8.GetBytes(remote, append.AsSpan(SyncRangeHeader.Size));
        Assert.Equal(0, (await peer.RoundTripAsync(StorageCommand.SyncAppendFile, append)).Status);
        Assert.Equal(14_300, stats[StatCounter.TotalSyncInBytes]);
        Assert.Equal(7300, stats[StatCounter.SuccessSyncInBytes]);

        // The counters travel in the 348-byte statistics block of BEAT (total_sync_in_bytes is counter 28).
        var block = stats.ToArray();
        Assert.Equal(14_300, System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(block.AsSpan(12 + (28 * 8))));
    }

    [Fact]
    public async Task A_create_confirmed_by_name_and_size_carries_no_content_and_changes_nothing()
    {
        await using var server = await StorageTestServer.StartAsync();
        string remote = await FreshNameAsync(server);
        await using var peer = await PeerAsync(server);
        var content = new byte[] { 1, 2, 3, 4, 5 };
        Assert.Equal(0, (await peer.RoundTripAsync(StorageCommand.SyncCreateFile, CopyBody(remote, content))).Status);
        long linesBefore = (await server.BinlogLinesAsync()).Length;

        // Header status EEXIST: the body is the fixed part and the name; file_size states the sender's size.
        var confirm = CopyBody(remote, [], declaredSize: content.Length);
        Assert.Equal(0, (await peer.RoundTripAsync(StorageCommand.SyncCreateFile, confirm, status: FdfsErrno.EEXIST)).Status);
        Assert.Equal(content, await File.ReadAllBytesAsync(server.LocalPath(remote)));
        Assert.Equal(linesBefore, (await server.BinlogLinesAsync()).Length);
        Assert.Equal(5, server.Server.Stats[StatCounter.SuccessSyncInBytes]);

        // The connection is still in step: the next request is answered normally.
        Assert.Equal(0, (await peer.RoundTripAsync(StorageCommand.ActiveTest, [])).Status);
    }
}
