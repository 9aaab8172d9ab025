using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>Hostile and malformed packets sent over raw sockets to the real daemons.</summary>
public sealed class BadInputTests(SingleStorageCluster fixture) : IClassFixture<SingleStorageCluster>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private Cluster Cluster => fixture.Cluster;

    private static async Task<FdfsConnection> ConnectAsync(string endpoint) => await Endpoints.ConnectAsync(endpoint, Timeout);

    private static async Task<(byte Status, byte[] Body)> SendRawAsync(FdfsConnection c, byte[] packet)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await c.SendAsync(packet, cts.Token);
        return await c.ReadResponseAsync(1 << 20, cts.Token);
    }

    private static byte[] Packet(byte command, byte[] body, long? declaredLength = null)
    {
        var bytes = new byte[10 + body.Length];
        BinaryPrimitives.WriteInt64BigEndian(bytes, declaredLength ?? body.Length);
        bytes[8] = command;
        body.CopyTo(bytes, 10);
        return bytes;
    }

    private static async Task AssertClosedAsync(FdfsConnection c)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var buffer = new byte[64];
        int total = 0;
        try
        {
            // An error header may come first; then the server must close.
            int n;
            while ((n = await c.Socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
            {
                total += n;
            }
        }
        catch (SocketException)
        {
            // Reset counts as closed.
        }

        Assert.True(total <= FdfsConstants.HeaderSize, $"server sent {total} bytes instead of closing");
    }

    private async Task AssertStorageStillServesAsync()
    {
        await using var client = Cluster.CreateClient();
        var id = await client.UploadAsync(Encoding.ASCII.GetBytes("still alive"), "txt");
        Assert.Equal("still alive", Encoding.ASCII.GetString(await client.DownloadBytesAsync(id)));
    }

    public static TheoryData<string, byte, byte[]> StorageEinvalCases()
    {
        static byte[] FileReq(string group, string name) => new FileRequest(group, name).ToArray();
        const string valid = "M00/00/00/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt";
        return new()
        {
            { "unknown command", 250, [] },
            { "wrong group", (byte)StorageCommand.DeleteFile, FileReq("othergroup", valid) },
            { "dot-dot in name", (byte)StorageCommand.DeleteFile, FileReq("group1", "M00/00/00/../../../../etc/passwd0000000000000") },
            { "absolute path", (byte)StorageCommand.GetMetadata, FileReq("group1", "/etc/passwd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") },
            { "lower-case hex", (byte)StorageCommand.QueryFileInfo, FileReq("group1", "M00/0a/00/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt") },
            { "store path out of range", (byte)StorageCommand.DeleteFile, FileReq("group1", "M09/00/00/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt") },
            { "name too short", (byte)StorageCommand.DeleteFile, FileReq("group1", "M00/00/00/x") },
            { "truncated download", (byte)StorageCommand.DownloadFile, new byte[12] },
            { "upload size mismatch", (byte)StorageCommand.UploadFile, UploadBody(100, 10) },
            { "upload bad extension", (byte)StorageCommand.UploadFile, UploadBody(3, 3, "../x") },
            { "set metadata bad flag", (byte)StorageCommand.SetMetadata, new SetMetadataRequest(MetadataFlag.Merge, "group1", valid, [97, 2, 98]).ToArray().Also(b => b[16] = (byte)'X') },
            { "active test with a body", (byte)StorageCommand.ActiveTest, [1, 2, 3] },
        };
    }

    private static byte[] UploadBody(long declaredSize, int actual, string ext = "bin")
    {
        var body = new byte[UploadRequestHeader.Size + actual];
        new UploadRequestHeader(0, declaredSize, ext.Length <= 6 ? ext : ext[..6]).Write(body);
        return body;
    }

    [Theory]
    [MemberData(nameof(StorageEinvalCases))]
    public async Task Storage_answers_EINVAL_closes_and_keeps_serving(string reason, byte command, byte[] body)
    {
        await using var c = await ConnectAsync(Cluster.Storages[0].Endpoint);
        var (status, response) = await SendRawAsync(c, Packet(command, body));
        Assert.True(status == FdfsErrno.EINVAL, $"{reason}: status {status}");
        Assert.Empty(response);
        await AssertClosedAsync(c);
        await AssertStorageStillServesAsync();
    }

    [Fact]
    public async Task Storage_refuses_negative_and_oversized_lengths()
    {
        await using (var c = await ConnectAsync(Cluster.Storages[0].Endpoint))
        {
            await c.SendAsync(Packet((byte)StorageCommand.DeleteFile, [], declaredLength: -5), CancellationToken.None);
            await AssertClosedAsync(c);
        }

        await using (var c = await ConnectAsync(Cluster.Storages[0].Endpoint))
        {
            // A delete request must fit in buff_size; a 1 GiB one is refused without reading it.
            var (status, _) = await SendRawAsync(c, Packet((byte)StorageCommand.DeleteFile, new byte[32], declaredLength: 1L << 30));
            Assert.Equal(FdfsErrno.EINVAL, status);
        }

        await AssertStorageStillServesAsync();
    }

    [Fact]
    public async Task Storage_treats_a_truncated_body_as_a_dropped_connection()
    {
        await using (var c = await ConnectAsync(Cluster.Storages[0].Endpoint))
        {
            var packet = Packet((byte)StorageCommand.UploadFile, UploadBody(1000, 1000));
            await c.SendAsync(packet.AsMemory(0, 200), CancellationToken.None);
        }

        await Task.Delay(200);
        await AssertStorageStillServesAsync();
        Assert.DoesNotContain(Cluster.Storages[0].DataFiles(), f => new FileInfo(f).Length == 1000);
    }

    [Fact]
    public async Task Storage_answers_EFBIG_to_a_truncate_past_the_file_system_limit()
    {
        // Found by DaemonFuzzTests: ftruncate's EFBIG surfaced as an unexpected ArgumentOutOfRangeException (EIO).
        await using var client = Cluster.CreateClient();
        var id = await client.UploadAppenderAsync(Encoding.ASCII.GetBytes("appender"), "log");
        var name = Encoding.ASCII.GetBytes(id.RemoteFileName);
        var body = new byte[16 + name.Length];
        new AppenderRequestHeader(name.Length, 0, long.MaxValue).Write(StorageCommand.TruncateFile, body);
        name.CopyTo(body, 16);
        await using (var c = await ConnectAsync(Cluster.Storages[0].Endpoint))
        {
            var (status, response) = await SendRawAsync(c, Packet((byte)StorageCommand.TruncateFile, body));
            Assert.Equal(FdfsErrno.EFBIG, status);
            Assert.Empty(response);
        }

        Assert.Equal("appender", Encoding.ASCII.GetString(await client.DownloadBytesAsync(id)));
        Assert.DoesNotContain("request handler failed", Cluster.Storages[0].Process!.Output, StringComparison.Ordinal);
    }

    private long StoredSize(FastDfs.Protocol.FileId id) =>
        new FileInfo(Cluster.Storages[0].DataFiles().Single(f => f.EndsWith(Path.GetFileName(id.RemoteFileName), StringComparison.Ordinal))).Length;

    [Fact]
    public async Task Storage_answers_EFBIG_to_an_append_or_modify_past_the_file_system_limit_and_changes_nothing()
    {
        long limit = FileSizeLimit.Of(Cluster.Storages[0].StorePaths[0]);
        await using var client = Cluster.CreateClient();
        var id = await client.UploadAppenderAsync(Encoding.ASCII.GetBytes("appender"), "log");
        long size = limit - 100;
        await client.TruncateAsync(id, size);
        int connections = client.ConnectionsOpened;
        byte[] body = System.Security.Cryptography.RandomNumberGenerator.GetBytes(256 * 1024);

        // Before this, an append wrote up to the limit, was cut back, and the storage answered EIO and dropped the
        // connection. A MODIFY that overwrites bytes and grows past the limit must not keep the bytes it overwrote.
        var append = await Assert.ThrowsAsync<FastDfs.Client.FdfsServerException>(() => client.AppendAsync(id, body));
        Assert.Equal(FdfsErrno.EFBIG, append.Errno);
        var modify = await Assert.ThrowsAsync<FastDfs.Client.FdfsServerException>(() => client.ModifyAsync(id, size - 50, body));
        Assert.Equal(FdfsErrno.EFBIG, modify.Errno);
        Assert.Equal(size, StoredSize(id)); // QUERY_FILE_INFO would read 16 TiB for an appender's CRC
        Assert.Equal(new byte[50], await client.DownloadBytesAsync(id, size - 50, 50));

        // The connection carries on (the refused bodies were skipped), and what fits is taken.
        await client.AppendAsync(id, body.AsMemory(0, 100));
        await client.ModifyAsync(id, size - 50, body.AsMemory(0, 150));
        Assert.Equal(connections, client.ConnectionsOpened);
        Assert.Equal(limit, StoredSize(id));
        Assert.Equal(body.AsSpan(0, 150).ToArray(), await client.DownloadBytesAsync(id, size - 50, 150));
        Assert.Equal("appender", Encoding.ASCII.GetString(await client.DownloadBytesAsync(id, 0, 8)));
        Assert.DoesNotContain("request handler failed", Cluster.Storages[0].Process!.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tracker_answers_EINVAL_and_keeps_the_connection()
    {
        await using var c = await ConnectAsync(Cluster.TrackerEndpoint);
        var (status, _) = await SendRawAsync(c, Packet(250, []));
        Assert.Equal(FdfsErrno.EINVAL, status);
        (status, _) = await SendRawAsync(c, Packet((byte)TrackerCommand.QueryStoreWithGroupOne, new byte[5]));
        Assert.Equal(FdfsErrno.EINVAL, status);
        (status, _) = await SendRawAsync(c, Packet((byte)TrackerCommand.QueryStoreWithoutGroupOne, new byte[3]));
        Assert.Equal(FdfsErrno.EINVAL, status);
        (status, _) = await SendRawAsync(c, Packet((byte)TrackerCommand.QueryFetchOne, new byte[10]));
        Assert.Equal(FdfsErrno.EINVAL, status);

        var group = new byte[16];
        Encoding.ASCII.GetBytes("bad/group", group);
        (status, _) = await SendRawAsync(c, Packet((byte)TrackerCommand.QueryStoreWithGroupOne, group));
        Assert.NotEqual(FdfsErrno.Success, status);

        // Same connection still answers a good query.
        var (ok, body) = await SendRawAsync(c, Packet((byte)TrackerCommand.QueryStoreWithoutGroupOne, []));
        Assert.Equal(FdfsErrno.Success, ok);
        Assert.Equal(StoreTarget.Size, body.Length);
    }

    [Fact]
    public async Task Tracker_refuses_storage_commands_before_join_and_unknown_groups()
    {
        await using var c = await ConnectAsync(Cluster.TrackerEndpoint);
        var (status, _) = await SendRawAsync(c, Packet((byte)TrackerCommand.StorageBeat, []));
        Assert.Equal(FdfsErrno.EACCES, status);

        var group = new byte[16];
        Encoding.ASCII.GetBytes("nosuchgroup", group);
        (status, _) = await SendRawAsync(c, Packet((byte)TrackerCommand.QueryStoreWithGroupOne, group));
        Assert.Equal(FdfsErrno.ENOENT, status);
    }

    [Fact]
    public async Task Tracker_drops_a_negative_length()
    {
        await using (var c = await ConnectAsync(Cluster.TrackerEndpoint))
        {
            await c.SendAsync(Packet((byte)TrackerCommand.ListAllGroups, [], declaredLength: -1), CancellationToken.None);
            await AssertClosedAsync(c);
        }

        await using var client = Cluster.CreateClient();
        Assert.NotEmpty(await client.ListGroupsAsync());
    }
}

internal static class ByteArrayExtensions
{
    public static byte[] Also(this byte[] bytes, Action<byte[]> change)
    {
        change(bytes);
        return bytes;
    }
}
