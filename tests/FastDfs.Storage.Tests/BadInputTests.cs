using System.Buffers.Binary;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Storage.Tests;

/// <summary>Malformed requests get FastDFS's errno, EINVAL closes the connection, and the server keeps serving.</summary>
public class BadInputTests
{
    private static async Task AssertEinvalAndClosedAsync(StorageTestServer server, Func<FdfsConnection, Task<byte>> send)
    {
        await using (var conn = await server.ConnectAsync())
        {
            Assert.Equal(FdfsErrno.EINVAL, await send(conn));
            Assert.True(await conn.IsClosedAsync());
        }

        // Other connections are unaffected.
        await using var other = await server.ConnectAsync();
        string remote = await other.UploadAsync([7, 8, 9]);
        var (status, body) = await other.DownloadAsync(remote);
        Assert.Equal(0, status);
        Assert.Equal([7, 8, 9], body);
    }

    private static async Task<byte> RawAsync(FdfsConnection conn, long bodyLength, byte command, byte[] body)
    {
        var packet = new byte[FdfsConstants.HeaderSize + body.Length];
        BinaryPrimitives.WriteInt64BigEndian(packet, bodyLength);
        packet[8] = command;
        body.CopyTo(packet, FdfsConstants.HeaderSize);
        await conn.SendAsync(packet, CancellationToken.None);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var header = await conn.ReadHeaderAsync(cts.Token);
        Assert.Equal(0, header.BodyLength);
        return header.Status;
    }

    public static TheoryData<string> Cases => new()
    {
        "unknown command", "negative length", "oversized download", "oversized delete", "upload size mismatch",
        "upload negative size", "upload too short", "bad extension", "bad store path", "wrong group download",
        "wrong group delete", "dotdot name", "bad prefix", "lower-case hex", "store path out of range",
        "append name length negative", "append size mismatch", "truncate negative", "info wrong group",
        "slave master length zero", "download truncated header", "set metadata lengths",
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Refused_with_einval(string @case)
    {
        await using var server = await StorageTestServer.StartAsync();
        string valid;
        await using (var setup = await server.ConnectAsync())
        {
            valid = await setup.UploadAsync([1, 2, 3]);
        }

        string sibling = valid[10..];
        await AssertEinvalAndClosedAsync(server, conn => @case switch
        {
            "unknown command" => RawAsync(conn, 0, 99, []),
            "negative length" => RawAsync(conn, -5, (byte)StorageCommand.DownloadFile, []),
            "oversized download" => RawAsync(conn, 300 * 1024, (byte)StorageCommand.DownloadFile, []),
            "oversized delete" => RawAsync(conn, 10L << 30, (byte)StorageCommand.DeleteFile, []),
            "upload size mismatch" => Send(conn, StorageCommand.UploadFile, Wire.UploadBody([1, 2, 3], declaredSize: 2)),
            "upload negative size" => Send(conn, StorageCommand.UploadFile, Wire.UploadBody([1, 2, 3], declaredSize: -1)),
            "upload too short" => Send(conn, StorageCommand.UploadFile, new byte[10]),
            "bad extension" => Send(conn, StorageCommand.UploadFile, Wire.UploadBody([1], "a/b")),
            "bad store path" => Send(conn, StorageCommand.UploadFile, Wire.UploadBody([1], storePath: 7)),
            "wrong group download" => Send(conn, StorageCommand.DownloadFile, new DownloadRequest(0, 0, "group2", valid).ToArray()),
            "wrong group delete" => Send(conn, StorageCommand.DeleteFile, Wire.FileBody(valid, "other")),
            "dotdot name" => Send(conn, StorageCommand.DownloadFile, new DownloadRequest(0, 0, StorageTestServer.Group, "M00/00/00/../../../../etc/passwd").ToArray()),
            "bad prefix" => Send(conn, StorageCommand.DeleteFile, Wire.FileBody("X00/00/00/" + sibling)),
            "lower-case hex" => Send(conn, StorageCommand.DeleteFile, Wire.FileBody("M00/0a/00/" + sibling)),
            "store path out of range" => Send(conn, StorageCommand.DownloadFile, new DownloadRequest(0, 0, StorageTestServer.Group, "M05/00/00/" + sibling).ToArray()),
            "append name length negative" => Send(conn, StorageCommand.AppendFile, Wire.AppenderBody(StorageCommand.AppendFile, valid, 0, 1, [1]).Also(b => BinaryPrimitives.WriteInt64BigEndian(b, -1))),
            "append size mismatch" => Send(conn, StorageCommand.AppendFile, Wire.AppenderBody(StorageCommand.AppendFile, valid, 0, 5, [1])),
            "truncate negative" => Send(conn, StorageCommand.TruncateFile, Wire.AppenderBody(StorageCommand.TruncateFile, valid, 0, -1)),
            "info wrong group" => Send(conn, StorageCommand.QueryFileInfo, Wire.FileBody(valid, "nope")),
            "slave master length zero" => Send(conn, StorageCommand.UploadSlaveFile, Wire.SlaveBody(valid, "_x", "", [1]).Also(b => BinaryPrimitives.WriteInt64BigEndian(b, 0))),
            "download truncated header" => Send(conn, StorageCommand.DownloadFile, new byte[20]),
            "set metadata lengths" => Send(conn, StorageCommand.SetMetadata, new SetMetadataRequest(MetadataFlag.Merge, StorageTestServer.Group, valid, [1, 2, 3]).ToArray().Also(b => BinaryPrimitives.WriteInt64BigEndian(b.AsSpan(8), 50))),
            _ => throw new ArgumentException(@case),
        });
        Assert.True(File.Exists(server.LocalPath(valid)));
    }

    private static async Task<byte> Send(FdfsConnection conn, StorageCommand command, byte[] body) =>
        (await conn.RoundTripAsync(command, body)).Status;

    [Fact]
    public async Task Truncated_body_then_close_keeps_server_alive()
    {
        await using var server = await StorageTestServer.StartAsync();
        await using (var conn = await server.ConnectAsync())
        {
            var body = Wire.FileBody("M00/00/00/abc");
            var packet = new byte[FdfsConstants.HeaderSize + 5];
            new PacketHeader(body.Length, (byte)StorageCommand.DeleteFile, 0).Write(packet);
            await conn.SendAsync(packet, CancellationToken.None);
        }

        await using var other = await server.ConnectAsync();
        await other.UploadAsync([1]);
        Assert.Empty(server.TempFiles());
    }

    [Fact]
    public async Task Enospc_when_reserve_reached_keeps_connection()
    {
        await using var server = await StorageTestServer.StartAsync(o => o with { ReservedStorageSpace = FastDfs.Protocol.Config.ReservedSpace.FromPercent(99.99) });
        await using var conn = await server.ConnectAsync();
        var (status, _) = await conn.RoundTripAsync(StorageCommand.UploadFile, Wire.UploadBody(new byte[1000]));
        Assert.Equal(FdfsErrno.ENOSPC, status);
        Assert.False(await conn.IsClosedAsync());
        Assert.Empty(server.DataFiles());
    }

    [Fact]
    public async Task Quit_and_active_test_are_served()
    {
        await using var server = await StorageTestServer.StartAsync();
        await using var conn = await server.ConnectAsync();
        var (status, body) = await conn.RoundTripAsync(StorageCommand.ActiveTest, []);
        Assert.Equal(0, status);
        Assert.Empty(body);
        Assert.Equal("M00", Encoding.ASCII.GetString(Encoding.ASCII.GetBytes((await conn.UploadAsync([1]))[..3])).Replace("M01", "M00", StringComparison.Ordinal));
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
