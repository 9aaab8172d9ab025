using System.Text;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Storage.Tests;

public class AppenderSlaveMetadataTests
{
    [Fact]
    public async Task Appender_append_modify_truncate_info_and_regenerate()
    {
        await using var server = await StorageTestServer.StartAsync();
        await using var conn = await server.ConnectAsync();
        string remote = await conn.UploadAsync(Encoding.ASCII.GetBytes("abc"), "log", appender: true);
        Assert.True(FileNames.TryDecode(remote, out var info));
        Assert.True(info.IsAppender);

        var (status, _) = await conn.RoundTripAsync(StorageCommand.AppendFile, Wire.AppenderBody(StorageCommand.AppendFile, remote, 0, 3, "def"u8.ToArray()));
        Assert.Equal(0, status);
        (status, _) = await conn.RoundTripAsync(StorageCommand.ModifyFile, Wire.AppenderBody(StorageCommand.ModifyFile, remote, 1, 2, "XY"u8.ToArray()));
        Assert.Equal(0, status);
        (status, _) = await conn.RoundTripAsync(StorageCommand.ModifyFile, Wire.AppenderBody(StorageCommand.ModifyFile, remote, 6, 2, "gh"u8.ToArray()));
        Assert.Equal(0, status);
        var (_, body) = await conn.DownloadAsync(remote);
        Assert.Equal("aXYdefgh", Encoding.ASCII.GetString(body));

        (status, body) = await conn.RoundTripAsync(StorageCommand.QueryFileInfo, Wire.FileBody(remote));
        Assert.Equal(0, status);
        var fileInfo = FileInfoResponse.Read(body);
        Assert.Equal(8, fileInfo.FileSize);
        Assert.Equal(Wire.Crc("aXYdefgh"u8.ToArray()), fileInfo.Crc32);
        (_, body) = await conn.RoundTripAsync(StorageCommand.QueryFileInfo, Wire.FileBody(remote), status: 1);
        Assert.Equal(0u, FileInfoResponse.Read(body).Crc32);

        (status, _) = await conn.RoundTripAsync(StorageCommand.TruncateFile, Wire.AppenderBody(StorageCommand.TruncateFile, remote, 0, 4));
        Assert.Equal(0, status);
        (_, body) = await conn.DownloadAsync(remote);
        Assert.Equal("aXYd", Encoding.ASCII.GetString(body));

        (status, body) = await conn.RoundTripAsync(StorageCommand.RegenerateAppenderFileName, Encoding.ASCII.GetBytes(remote));
        Assert.Equal(0, status);
        string renamed = UploadResponse.Decode(body).RemoteFileName;
        Assert.NotEqual(remote, renamed);
        Assert.True(FileNames.TryDecode(renamed, out var newInfo));
        Assert.False(newInfo.IsAppender);
        Assert.Equal(4, newInfo.FileSize);
        Assert.Equal(Wire.Crc("aXYd"u8.ToArray()), newInfo.Crc32);
        Assert.EndsWith(".log", renamed, StringComparison.Ordinal);
        Assert.False(File.Exists(server.LocalPath(remote)));

        var binlog = await server.BinlogLinesAsync();
        Assert.Contains(binlog, l => l.EndsWith($" A {remote} 3 3", StringComparison.Ordinal));
        Assert.Contains(binlog, l => l.EndsWith($" M {remote} 1 2", StringComparison.Ordinal));
        Assert.Contains(binlog, l => l.EndsWith($" T {remote} 8 4", StringComparison.Ordinal));
        Assert.Contains(binlog, l => l.EndsWith($" R {renamed} {remote}", StringComparison.Ordinal));
        Assert.Equal(1, server.Server.Stats[StatCounter.SuccessAppendCount]);
        Assert.Equal(2, server.Server.Stats[StatCounter.SuccessModifyCount]);
        Assert.Equal(1, server.Server.Stats[StatCounter.SuccessTruncateCount]);
    }

    [Fact]
    public async Task Append_to_normal_file_and_modify_past_end_are_einval()
    {
        await using var server = await StorageTestServer.StartAsync();
        await using var conn = await server.ConnectAsync();
        string normal = await conn.UploadAsync("abc"u8.ToArray());
        var (status, _) = await conn.RoundTripAsync(StorageCommand.AppendFile, Wire.AppenderBody(StorageCommand.AppendFile, normal, 0, 1, [1]));
        Assert.Equal(FdfsErrno.EINVAL, status);
        Assert.True(await conn.IsClosedAsync());

        await using var conn2 = await server.ConnectAsync();
        (status, _) = await conn2.RoundTripAsync(StorageCommand.TruncateFile, Wire.AppenderBody(StorageCommand.TruncateFile, normal, 0, 0));
        Assert.Equal(FdfsErrno.EINVAL, status);

        await using var conn3 = await server.ConnectAsync();
        string appender = await conn3.UploadAsync("abc"u8.ToArray(), appender: true);
        (status, _) = await conn3.RoundTripAsync(StorageCommand.ModifyFile, Wire.AppenderBody(StorageCommand.ModifyFile, appender, 4, 1, [1]));
        Assert.Equal(FdfsErrno.EINVAL, status);

        await using var conn4 = await server.ConnectAsync();
        string missing = appender[..^8] + "AAAA.bin";
        (status, _) = await conn4.RoundTripAsync(StorageCommand.AppendFile, Wire.AppenderBody(StorageCommand.AppendFile, missing, 0, 2, [1, 2]));
        Assert.Equal(FdfsErrno.ENOENT, status);
        Assert.False(await conn4.IsClosedAsync());
    }

    [Fact]
    public async Task Slave_upload_next_to_master()
    {
        await using var server = await StorageTestServer.StartAsync();
        await using var conn = await server.ConnectAsync();
        string master = await conn.UploadAsync("master"u8.ToArray(), "jpg");
        var (status, body) = await conn.RoundTripAsync(StorageCommand.UploadSlaveFile, Wire.SlaveBody(master, "_150x150", "png", "slave"u8.ToArray()));
        Assert.Equal(0, status);
        string slave = UploadResponse.Decode(body).RemoteFileName;
        Assert.Equal(master[..^4] + "_150x150.png", slave);
        (_, body) = await conn.DownloadAsync(slave);
        Assert.Equal("slave", Encoding.ASCII.GetString(body));

        (status, body) = await conn.RoundTripAsync(StorageCommand.QueryFileInfo, Wire.FileBody(slave));
        Assert.Equal(0, status);
        Assert.Equal(Wire.Crc("slave"u8.ToArray()), FileInfoResponse.Read(body).Crc32);
        Assert.Equal(5, FileInfoResponse.Read(body).FileSize);

        (status, _) = await conn.RoundTripAsync(StorageCommand.UploadSlaveFile, Wire.SlaveBody(master, "_150x150", "png", "again"u8.ToArray()));
        Assert.Equal(FdfsErrno.EEXIST, status);
        string missing = master[..^12] + "AAAAAAAA.jpg";
        (status, _) = await conn.RoundTripAsync(StorageCommand.UploadSlaveFile, Wire.SlaveBody(missing, "_s", "", "x"u8.ToArray()));
        Assert.Equal(FdfsErrno.ENOENT, status);
        Assert.False(await conn.IsClosedAsync());

        (status, _) = await conn.RoundTripAsync(StorageCommand.UploadSlaveFile, Wire.SlaveBody(master, "", "png", "x"u8.ToArray()));
        Assert.Equal(FdfsErrno.EINVAL, status);
        Assert.True(await conn.IsClosedAsync());
        await using var conn2 = await server.ConnectAsync();
        (status, _) = await conn2.RoundTripAsync(StorageCommand.UploadSlaveFile, Wire.SlaveBody(master, "a/b", "png", "x"u8.ToArray()));
        Assert.Equal(FdfsErrno.EINVAL, status);
    }

    [Fact]
    public async Task Metadata_overwrite_merge_delete()
    {
        await using var server = await StorageTestServer.StartAsync();
        await using var conn = await server.ConnectAsync();
        string remote = await conn.UploadAsync("x"u8.ToArray());

        var (status, _) = await conn.RoundTripAsync(StorageCommand.GetMetadata, Wire.FileBody(remote));
        Assert.Equal(FdfsErrno.ENOENT, status);
        Assert.False(await conn.IsClosedAsync());

        byte[] Meta(params (string K, string V)[] items) => MetadataCodec.Encode(items.Select(i => KeyValuePair.Create(i.K, i.V)));
        async Task<byte> SetAsync(MetadataFlag flag, byte[] meta) =>
            (await conn.RoundTripAsync(StorageCommand.SetMetadata, new SetMetadataRequest(flag, StorageTestServer.Group, remote, meta).ToArray())).Status;

        Assert.Equal(0, await SetAsync(MetadataFlag.Overwrite, Meta(("z", "last"), ("a", "b"))));
        var (st, body) = await conn.RoundTripAsync(StorageCommand.GetMetadata, Wire.FileBody(remote));
        Assert.Equal(0, st);
        Assert.Equal("a\u0002b\u0001z\u0002last", Encoding.UTF8.GetString(body));

        Assert.Equal(0, await SetAsync(MetadataFlag.Merge, Meta(("k1", "v9"), ("a", "c"))));
        (_, body) = await conn.RoundTripAsync(StorageCommand.GetMetadata, Wire.FileBody(remote));
        Assert.Equal("a\u0002c\u0001k1\u0002v9\u0001z\u0002last", Encoding.UTF8.GetString(body));

        Assert.Equal(0, await SetAsync(MetadataFlag.Merge, []));
        (_, body) = await conn.RoundTripAsync(StorageCommand.GetMetadata, Wire.FileBody(remote));
        Assert.Equal("a\u0002c\u0001k1\u0002v9\u0001z\u0002last", Encoding.UTF8.GetString(body));

        // Over-long names are cut to 64 bytes, as FastDFS does.
        var longName = new string('n', 70);
        var raw = Encoding.ASCII.GetBytes(longName + "\u0002v");
        Assert.Equal(0, await SetAsync(MetadataFlag.Overwrite, raw));
        (_, body) = await conn.RoundTripAsync(StorageCommand.GetMetadata, Wire.FileBody(remote));
        Assert.Equal(new string('n', 64) + "\u0002v", Encoding.UTF8.GetString(body));

        Assert.Equal(0, await SetAsync(MetadataFlag.Overwrite, []));
        (st, _) = await conn.RoundTripAsync(StorageCommand.GetMetadata, Wire.FileBody(remote));
        Assert.Equal(FdfsErrno.ENOENT, st);
        Assert.False(File.Exists(server.LocalPath(remote) + "-m"));

        Assert.Equal(0, await SetAsync(MetadataFlag.Overwrite, Meta(("a", "b"))));
        (st, _) = await conn.RoundTripAsync(StorageCommand.DeleteFile, Wire.FileBody(remote));
        Assert.Equal(0, st);
        Assert.False(File.Exists(server.LocalPath(remote) + "-m"));

        var binlog = await server.BinlogLinesAsync();
        Assert.Contains(binlog, l => l.EndsWith($" C {remote}-m", StringComparison.Ordinal));
        Assert.Contains(binlog, l => l.EndsWith($" U {remote}-m", StringComparison.Ordinal));
        Assert.Contains(binlog, l => l.EndsWith($" D {remote}-m", StringComparison.Ordinal));

        Assert.Equal(FdfsErrno.ENOENT, await SetAsync(MetadataFlag.Overwrite, Meta(("a", "b"))));
        Assert.False(await conn.IsClosedAsync());
        var bad = new SetMetadataRequest(MetadataFlag.Overwrite, StorageTestServer.Group, remote, Meta(("a", "b"))).ToArray();
        bad[16] = (byte)'X';
        (st, _) = await conn.RoundTripAsync(StorageCommand.SetMetadata, bad);
        Assert.Equal(FdfsErrno.EINVAL, st);
        Assert.True(await conn.IsClosedAsync());
    }
}
