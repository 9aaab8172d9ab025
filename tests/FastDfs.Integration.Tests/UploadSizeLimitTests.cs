using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>
/// A new file larger than the storage may write (here its RLIMIT_FSIZE; SIGXFSZ is ignored, so the write fails with
/// EFBIG): UPLOAD_FILE, UPLOAD_APPENDER_FILE, UPLOAD_SLAVE_FILE and a peer's whole-file SYNC_CREATE_FILE /
/// SYNC_UPDATE_FILE are answered EFBIG, as FastDFS answers a failed write's errno, with the rest of the body skipped
/// so the connection serves the next request, and nothing of the file is left in the store path.
/// </summary>
public sealed class UploadSizeLimitTests
{
    private const int Limit = 1 << 20;
    private const int Ts = 1_700_000_321;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static byte[] Random(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static int Count(string text, string what) => Regex.Matches(text, Regex.Escape(what)).Count;

    private static async Task<FdfsConnection> ConnectAsync(StorageNode node) => await Endpoints.ConnectAsync(node.Endpoint, Timeout);

    private static async Task<(byte Status, byte[] Body)> RoundTripAsync(FdfsConnection connection, StorageCommand command, byte[] body)
    {
        using var cts = new CancellationTokenSource(Timeout);
        return await connection.RoundTripAsync((byte)command, body, 1024, cts.Token);
    }

    private static byte[] UploadBody(byte[] content, string extension = "bin")
    {
        var body = new byte[UploadRequestHeader.Size + content.Length];
        new UploadRequestHeader(0, content.Length, extension).Write(body);
        content.CopyTo(body, UploadRequestHeader.Size);
        return body;
    }

    private static byte[] SlaveBody(string master, byte[] content)
    {
        byte[] name = Encoding.UTF8.GetBytes(master);
        var body = new byte[UploadSlaveRequestHeader.Size + name.Length + content.Length];
        new UploadSlaveRequestHeader(name.Length, content.Length, "-big", "bin").Write(body);
        name.CopyTo(body, UploadSlaveRequestHeader.Size);
        content.CopyTo(body, UploadSlaveRequestHeader.Size + name.Length);
        return body;
    }

    private static byte[] CopyBody(string remote, byte[] content)
    {
        byte[] name = Encoding.UTF8.GetBytes(remote);
        var body = new byte[SyncFileHeader.Size + name.Length + content.Length];
        new SyncFileHeader(name.Length, content.Length, Ts, "group1").Write(body);
        name.CopyTo(body, SyncFileHeader.Size);
        content.CopyTo(body, SyncFileHeader.Size + name.Length);
        return body;
    }

    /// <summary>The remote file name (without the group) of an upload answer.</summary>
    private static string RemoteName(byte[] answer) => Encoding.UTF8.GetString(answer, FdfsConstants.GroupNameMaxLength, answer.Length - FdfsConstants.GroupNameMaxLength);

    /// <summary>Every file under the store path, temp area (data/.tmp) included.</summary>
    private static HashSet<string> StoreFiles(StorageNode node) =>
        [.. Directory.EnumerateFiles(node.StorePaths[0], "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(node.StorePaths[0], f))];

    private static void AssertRefusalsLoggedOnce(StorageNode node, string reason, int count)
    {
        string log = node.Process!.Output;
        Assert.Equal(count, Count(log, "EFBIG: " + reason));
        Assert.DoesNotContain("request handler failed", log, StringComparison.Ordinal); // no connection dropped on an exception
        Assert.DoesNotContain("I/O error handling", log, StringComparison.Ordinal); // nor an I/O error with a stack trace
        Assert.False(node.Process.HasExited);
    }

    [Fact]
    public async Task Uploads_past_the_size_limit_answer_EFBIG_and_the_connection_serves_the_next_request()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec(FileSizeLimit: Limit));
        var storage = cluster.Storages[0];
        await using var connection = await ConnectAsync(storage);

        var (status, answer) = await RoundTripAsync(connection, StorageCommand.UploadFile, UploadBody(Random(1000, 1)));
        Assert.Equal(0, status);
        string master = RemoteName(answer);
        var before = StoreFiles(storage);

        // Bodies well past the socket buffers, so the storage must really skip what it does not write.
        var big = Random(3 << 20, 2);
        foreach (var (command, body) in new[]
        {
            (StorageCommand.UploadFile, UploadBody(big)),
            (StorageCommand.UploadAppenderFile, UploadBody(big, "log")),
            (StorageCommand.UploadSlaveFile, SlaveBody(master, big)),
        })
        {
            (status, answer) = await RoundTripAsync(connection, command, body);
            Assert.True(status == FdfsErrno.EFBIG, $"{command}: status {status}");
            Assert.Empty(answer);
        }

        // Nothing of them anywhere in the store path: neither named nor in the temp area.
        Assert.Equal(before, StoreFiles(storage));

        // The same connection takes the next requests: a small file and one of exactly the limit.
        var small = Random(5000, 3);
        (status, answer) = await RoundTripAsync(connection, StorageCommand.UploadFile, UploadBody(small));
        Assert.Equal(0, status);
        var smallId = new FileId("group1", RemoteName(answer));
        var atLimit = Random(Limit, 4);
        (status, answer) = await RoundTripAsync(connection, StorageCommand.UploadAppenderFile, UploadBody(atLimit, "log"));
        Assert.Equal(0, status);
        var atLimitId = new FileId("group1", RemoteName(answer));
        (status, answer) = await RoundTripAsync(connection, StorageCommand.UploadSlaveFile, SlaveBody(master, small));
        Assert.Equal(0, status);
        var slaveId = new FileId("group1", RemoteName(answer));

        await using var probe = await StorageProbe.ConnectAsync(storage.Endpoint);
        Assert.Equal(small, await probe.DownloadAsync(smallId));
        Assert.Equal(atLimit, await probe.DownloadAsync(atLimitId));
        Assert.Equal(small, await probe.DownloadAsync(slaveId));
        Assert.Equal(before.Count + 3, StoreFiles(storage).Count);
        AssertRefusalsLoggedOnce(storage, "upload of", 3);
    }

    [Fact]
    public async Task The_client_gets_EFBIG_keeps_its_pooled_connection_and_nothing_is_counted_as_stored()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec(FileSizeLimit: Limit));
        var storage = cluster.Storages[0];
        await using var client = cluster.CreateClient();
        var master = await client.UploadAsync(Random(1000, 1), "bin");
        int connections = client.ConnectionsOpened;
        var before = StoreFiles(storage);

        var big = Random(Limit + 1, 2);
        var upload = await Assert.ThrowsAsync<FdfsServerException>(() => client.UploadAsync(big, "bin"));
        Assert.Equal(FdfsErrno.EFBIG, upload.Errno);
        var appender = await Assert.ThrowsAsync<FdfsServerException>(() => client.UploadAppenderAsync(big, "log"));
        Assert.Equal(FdfsErrno.EFBIG, appender.Errno);
        var slave = await Assert.ThrowsAsync<FdfsServerException>(() => client.UploadSlaveAsync(master, "-big", "bin", big));
        Assert.Equal(FdfsErrno.EFBIG, slave.Errno);
        Assert.Equal(before, StoreFiles(storage));

        // The pooled connections carry on: no new one for the refusals, nor for the uploads after them.
        var small = Random(2000, 3);
        var id = await client.UploadAsync(small, "bin");
        Assert.Equal(small, await client.DownloadBytesAsync(id));
        Assert.Equal(connections, client.ConnectionsOpened);

        // Counted as tried, not as stored (FastDFS counts total_upload_count on every finished upload, success or not).
        StorageStats? stats = null;
        Assert.True(await StorageProbe.WaitUntilAsync(async () =>
        {
            stats = (await client.ListStoragesAsync("group1")).Single().Stats;
            return stats[StatCounter.TotalUploadCount] == 5;
        }, Timeout), $"total_upload_count {stats?[StatCounter.TotalUploadCount]}");
        Assert.Equal(2, stats![StatCounter.SuccessUploadCount]);
        Assert.Equal(1000 + 2000, stats[StatCounter.SuccessUploadBytes]);
        AssertRefusalsLoggedOnce(storage, "upload of", 3);
    }

    [Fact]
    public async Task A_peers_whole_file_copy_past_the_size_limit_answers_EFBIG_and_leaves_the_replica_as_it_was()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec(FileSizeLimit: Limit));
        var storage = cluster.Storages[0];
        await using var client = cluster.CreateClient();
        var kept = Random(1000, 1);
        var existing = await client.UploadAsync(kept, "bin");
        var gone = await client.UploadAsync(Random(10, 2), "bin");
        await client.DeleteAsync(gone); // a name of this store path that is free again, as a peer's new file would be

        await using var peer = await ConnectAsync(storage);
        var id = new byte[ReportServerIdRequest.Size];
        new ReportServerIdRequest("127.0.0.9").Write(id);
        Assert.Equal(0, (await RoundTripAsync(peer, StorageCommand.ReportServerId, id)).Status);
        var before = StoreFiles(storage);

        // A create streams into an unnamed file, an update into a temp file under data/.tmp: neither is left.
        var big = Random(2 << 20, 3);
        Assert.Equal(FdfsErrno.EFBIG, (await RoundTripAsync(peer, StorageCommand.SyncCreateFile, CopyBody(gone.RemoteFileName, big))).Status);
        Assert.Equal(FdfsErrno.EFBIG, (await RoundTripAsync(peer, StorageCommand.SyncUpdateFile, CopyBody(existing.RemoteFileName, big))).Status);
        Assert.Equal(before, StoreFiles(storage));
        Assert.Equal(kept, await client.DownloadBytesAsync(existing));

        // Same connection: a copy that fits is taken.
        var small = Random(3000, 4);
        Assert.Equal(0, (await RoundTripAsync(peer, StorageCommand.SyncCreateFile, CopyBody(gone.RemoteFileName, small))).Status);
        Assert.Equal(small, await client.DownloadBytesAsync(gone));
        Assert.Equal(1, Count(storage.Process!.Output, $"EFBIG: sync create of {gone.RemoteFileName}"));
        AssertRefusalsLoggedOnce(storage, "sync update of", 1);
    }
}
