using System.Text;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Storage.Tests;

public class UploadDownloadTests
{
    [Fact]
    public async Task Upload_download_info_delete_round_trip()
    {
        await using var server = await StorageTestServer.StartAsync();
        await using var conn = await server.ConnectAsync();
        var content = Encoding.ASCII.GetBytes("hello fastdfs storage");
        string remote = await conn.UploadAsync(content, "txt");

        Assert.True(RemoteNames.TryValidate(remote, out _));
        Assert.EndsWith(".txt", remote, StringComparison.Ordinal);
        Assert.Equal(FdfsConstants.NormalLogicFileNameLength, remote.Length);
        Assert.True(FileNames.TryDecode(remote, out var info));
        Assert.Equal("127.0.0.1", info.Source);
        Assert.Equal(content.Length, info.FileSize);
        Assert.Equal(Wire.Crc(content), info.Crc32);
        Assert.True(File.Exists(server.LocalPath(remote)));

        var (status, body) = await conn.DownloadAsync(remote);
        Assert.Equal(0, status);
        Assert.Equal(content, body);

        (status, body) = await conn.RoundTripAsync(StorageCommand.QueryFileInfo, Wire.FileBody(remote));
        Assert.Equal(0, status);

        // No tracker has told this storage response_ip_addr_size = 16: FastDFS's storage default of 46-byte IP
        // fields holds, so the answer is 70 bytes (24 + 46), source IP NUL-padded.
        Assert.Equal(FileInfoResponse.SizeV6, body.Length);
        Assert.Equal("127.0.0.1"u8.ToArray().Concat(new byte[46 - 9]), body[24..]);
        var fileInfo = FileInfoResponse.Read(body);
        Assert.Equal(content.Length, fileInfo.FileSize);
        Assert.Equal(Wire.Crc(content), fileInfo.Crc32);
        Assert.Equal(info.Timestamp, fileInfo.CreateTimestamp);
        Assert.Equal("127.0.0.1", fileInfo.SourceIp);

        (status, _) = await conn.RoundTripAsync(StorageCommand.DeleteFile, Wire.FileBody(remote));
        Assert.Equal(0, status);
        Assert.False(File.Exists(server.LocalPath(remote)));
        (status, _) = await conn.RoundTripAsync(StorageCommand.DeleteFile, Wire.FileBody(remote));
        Assert.Equal(FdfsErrno.ENOENT, status);
        (status, _) = await conn.RoundTripAsync(StorageCommand.QueryFileInfo, Wire.FileBody(remote));
        Assert.Equal(FdfsErrno.ENOENT, status);
        (status, _) = await conn.DownloadAsync(remote);
        Assert.Equal(FdfsErrno.ENOENT, status);
        Assert.False(await conn.IsClosedAsync());

        var binlog = await server.BinlogLinesAsync();
        Assert.Contains(binlog, l => l.EndsWith(" C " + remote, StringComparison.Ordinal));
        Assert.Contains(binlog, l => l.EndsWith(" D " + remote, StringComparison.Ordinal));
        Assert.Equal(1, server.Server.Stats[StatCounter.SuccessUploadCount]);
        Assert.Equal(1, server.Server.Stats[StatCounter.SuccessDeleteCount]);
        Assert.Equal(2, server.Server.Stats[StatCounter.TotalDeleteCount]);
        Assert.Equal(content.Length, server.Server.Stats[StatCounter.SuccessDownloadBytes]);
        Assert.True(server.Server.Stats[StatCounter.LastSourceUpdate] > 0);
        Assert.Equal(1, server.Server.Stats.ConnectionCurrentCount);
    }

    [Fact]
    public async Task Download_ranges_clip_and_refuse_past_end()
    {
        await using var server = await StorageTestServer.StartAsync();
        var content = Enumerable.Range(0, 1000).Select(i => (byte)i).ToArray();
        await using var conn = await server.ConnectAsync();
        string remote = await conn.UploadAsync(content);

        var (status, body) = await conn.DownloadAsync(remote, 10, 20);
        Assert.Equal(0, status);
        Assert.Equal(content[10..30], body);
        (status, body) = await conn.DownloadAsync(remote, 990, 100);
        Assert.Equal(0, status);
        Assert.Equal(content[990..], body);
        (status, body) = await conn.DownloadAsync(remote, 500, 0);
        Assert.Equal(content[500..], body);

        (status, _) = await conn.DownloadAsync(remote, 1000, 0);
        Assert.Equal(FdfsErrno.EINVAL, status);
        Assert.True(await conn.IsClosedAsync());

        await using var conn2 = await server.ConnectAsync();
        (status, _) = await conn2.DownloadAsync(remote, -1, 0);
        Assert.Equal(FdfsErrno.EINVAL, status);

        await using var conn3 = await server.ConnectAsync();
        string empty = await conn3.UploadAsync([], "");
        Assert.Equal(0, new FileInfo(server.LocalPath(empty)).Length);
        (status, _) = await conn3.DownloadAsync(empty);
        Assert.Equal(FdfsErrno.EINVAL, status);
        Assert.True(await conn3.IsClosedAsync());
    }

    [Fact]
    public async Task Downloads_leave_no_descriptor_open_on_the_file()
    {
        await using var server = await StorageTestServer.StartAsync();
        var content = Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray();
        await using var conn = await server.ConnectAsync();
        string remote = await conn.UploadAsync(content);
        for (int i = 0; i < 50; i++)
        {
            var (status, body) = await conn.DownloadAsync(remote, i, 0);
            Assert.Equal(0, status);
            Assert.Equal(content.Length - i, body.Length);
        }

        // The refused request (offset past the end) opened the file too.
        await using (var refused = await server.ConnectAsync())
        {
            Assert.Equal(FdfsErrno.EINVAL, (await refused.DownloadAsync(remote, 5000, 0)).Status);
        }

        // Downloads open files with raw descriptors (StorageRequestHandler.Download): none may outlive its request.
        // The handler closes it just after the answer went out, so the client may look a moment too early.
        string local = Path.GetFullPath(server.LocalPath(remote));
        List<string?> open = [];
        for (int attempt = 0; attempt < 50; attempt++)
        {
            open = new DirectoryInfo("/proc/self/fd").GetFileSystemInfos().Select(fd => fd.LinkTarget).ToList();
            if (!open.Contains(local))
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.NotEmpty(open);
        Assert.DoesNotContain(local, open);
    }

    [Fact]
    public async Task Upload_to_chosen_store_path_and_rotating_directories()
    {
        await using var server = await StorageTestServer.StartAsync(o => o with { FileDistributeRotateCount = 2 });
        await using var conn = await server.ConnectAsync();
        var names = new List<string>();
        for (int i = 0; i < 5; i++)
        {
            var (status, body) = await conn.RoundTripAsync(StorageCommand.UploadFile, Wire.UploadBody([1, 2, 3], "bin", storePath: 1));
            Assert.Equal(0, status);
            names.Add(UploadResponse.Decode(body).RemoteFileName);
        }

        Assert.All(names, n => Assert.StartsWith("M01/", n, StringComparison.Ordinal));
        Assert.Equal(["00/00", "00/00", "00/01", "00/01", "00/02"], names.Select(n => n[4..9]));

        var (st, _) = await conn.RoundTripAsync(StorageCommand.UploadFile, Wire.UploadBody([1], "bin", storePath: 2));
        Assert.Equal(FdfsErrno.EINVAL, st);
    }

    [Fact]
    public async Task Hash_distribution_spreads_files()
    {
        await using var server = await StorageTestServer.StartAsync(o => o with { FileDistributePathMode = FileDistributePathMode.Random });
        await using var conn = await server.ConnectAsync();
        var dirs = new HashSet<string>();
        for (int i = 0; i < 20; i++)
        {
            dirs.Add((await conn.UploadAsync([(byte)i]))[4..9]);
        }

        Assert.True(dirs.Count > 1);
    }

    [Fact]
    public async Task Large_upload_is_streamed_and_round_trips()
    {
        await using var server = await StorageTestServer.StartAsync();
        await using var conn = await server.ConnectAsync();
        var content = new byte[50 * 1024 * 1024 + 7];
        new Random(42).NextBytes(content);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        string remote = await conn.UploadAsync(content, "dat");
        Assert.Equal(content.Length, new FileInfo(server.LocalPath(remote)).Length);
        Assert.True(FileNames.TryDecode(remote, out var info));
        Assert.Equal(Wire.Crc(content), info.Crc32);

        var (status, body) = await conn.DownloadAsync(remote);
        Assert.Equal(0, status);
        Assert.True(content.AsSpan().SequenceEqual(body));
        _ = before;
    }

    [Fact]
    public async Task Aborted_upload_leaves_no_file_and_temp_is_cleaned_at_start()
    {
        await using var server = await StorageTestServer.StartAsync();
        var conn = await server.ConnectAsync();
        var header = new byte[FdfsConstants.HeaderSize + UploadRequestHeader.Size];
        new PacketHeader(UploadRequestHeader.Size + 10_000_000L, (byte)StorageCommand.UploadFile, 0).Write(header);
        new UploadRequestHeader(0, 10_000_000L, "bin").Write(header.AsSpan(FdfsConstants.HeaderSize));
        await conn.SendAsync(header, CancellationToken.None);
        await conn.SendAsync(new byte[3_000_000], CancellationToken.None);
        await Task.Delay(200);

        // Mid-upload nothing is visible under a name a download could use (the content is in an unnamed
        // O_TMPFILE file, or a named temp file under data/.tmp where O_TMPFILE is missing).
        Assert.Empty(server.DataFiles());
        conn.Dispose();

        for (int i = 0; i < 50 && server.TempFiles().Count > 0; i++)
        {
            await Task.Delay(20);
        }

        Assert.Empty(server.TempFiles());
        Assert.Empty(server.DataFiles());

        // A crash (kill -9) would leave the temp file: restart must remove it.
        string leftover = Path.Combine(server.Options.StorePaths[0], "data", ".tmp", "123-4.tmp");
        await File.WriteAllBytesAsync(leftover, new byte[100]);
        await server.RestartAsync();
        Assert.Empty(server.TempFiles());
        Assert.Empty(server.DataFiles());

        await using var conn2 = await server.ConnectAsync();
        await conn2.UploadAsync([1, 2, 3]);
    }

    [Fact]
    public async Task Layout_has_subdirs_and_marks()
    {
        // 32 rather than 256: 65,536 mkdirs (and their removal) take tens of seconds on a slow test disk.
        await using var server = await StorageTestServer.StartAsync(o => o with { SubdirCountPerPath = 32, StorePaths = [o.StorePaths[0]] });
        await server.Server.LayoutReady;
        string data = Path.Combine(server.Options.StorePaths[0], "data");
        Assert.True(Directory.Exists(Path.Combine(data, "1F", "1F")));
        Assert.True(Directory.Exists(Path.Combine(data, "0A", "17")));
        Assert.False(Directory.Exists(Path.Combine(data, "20")));
        Assert.Equal(32, Directory.GetDirectories(data).Count(d => Path.GetFileName(d) != ".tmp"));
        Assert.True(File.Exists(Path.Combine(data, ".fastdfs_vars")));
        Assert.True(File.Exists(Path.Combine(server.BasePath, "data", ".data_init_flag")));
        Assert.True(File.Exists(Path.Combine(server.BasePath, "data", "sync", "binlog_index.dat")));
    }

    [Fact]
    public async Task Uploads_work_before_the_directory_tree_exists()
    {
        await using var server = await StorageTestServer.StartAsync();
        await server.Server.LayoutReady;
        Directory.Delete(Path.Combine(server.Options.StorePaths[0], "data", "00"), recursive: true);
        await using var conn = await server.ConnectAsync();
        var (status, body) = await conn.RoundTripAsync(StorageCommand.UploadFile, Wire.UploadBody([1, 2], storePath: 0));
        Assert.Equal(0, status);
        Assert.True(File.Exists(server.LocalPath(UploadResponse.Decode(body).RemoteFileName)));
    }

    [Fact]
    public async Task Concurrent_uploads_get_unique_names()
    {
        await using var server = await StorageTestServer.StartAsync();
        var tasks = Enumerable.Range(0, 4).Select(async _ =>
        {
            await using var conn = await server.ConnectAsync();
            var names = new List<string>();
            for (int i = 0; i < 50; i++)
            {
                names.Add(await conn.UploadAsync(new byte[4096]));
            }

            return names;
        });
        var all = (await Task.WhenAll(tasks)).SelectMany(n => n).ToList();
        Assert.Equal(200, all.Distinct().Count());
        Assert.Equal(200, server.DataFiles().Count);
    }
}
