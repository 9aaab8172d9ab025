using FastDfs.Protocol.Messages;

namespace FastDfs.Storage.Tests;

/// <summary>storage_stat.dat: the counters BEAT reports survive a restart, and FastDFS's own file is read.</summary>
public class StatFileTests
{
    [Fact]
    public async Task Counters_survive_a_restart()
    {
        await using var server = await StorageTestServer.StartAsync();
        await using (var conn = await server.ConnectAsync())
        {
            string first = await conn.UploadAsync([1, 2, 3]);
            await conn.UploadAsync([4, 5, 6, 7]);
            var (status, _) = await conn.DownloadAsync(first);
            Assert.Equal(0, status);
        }

        await server.RestartAsync();

        string file = await File.ReadAllTextAsync(Path.Combine(server.BasePath, "data", "storage_stat.dat"));
        Assert.Contains("success_upload_count=2\n", file, StringComparison.Ordinal);
        Assert.Contains("success_upload_bytes=7\n", file, StringComparison.Ordinal);
        Assert.Contains("success_download_count=1\n", file, StringComparison.Ordinal);
        Assert.Equal(2, server.Server.Stats[StatCounter.SuccessUploadCount]);
        Assert.Equal(1, server.Server.Stats[StatCounter.SuccessDownloadCount]);
        Assert.True(server.Server.Stats[StatCounter.LastSourceUpdate] > 0);

        // Counting goes on from the saved values.
        await using (var conn = await server.ConnectAsync())
        {
            await conn.UploadAsync([8]);
        }

        Assert.Equal(3, server.Server.Stats[StatCounter.SuccessUploadCount]);
    }

    [Fact]
    public async Task A_file_written_by_FastDFS_is_read()
    {
        string basePath = Path.Combine(Path.GetTempPath(), "fdfs-storage-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(basePath, "data"));

        // The shape storage_func.c writes: one key=value per line, the write-dir cursor last.
        await File.WriteAllTextAsync(Path.Combine(basePath, "data", "storage_stat.dat"), """
            total_upload_count=120
            success_upload_count=118
            total_append_count=0
            success_append_count=0
            total_download_count=55
            success_download_count=54
            last_source_update=1732500000
            last_sync_update=1732400000
            total_sync_in_bytes=4096
            success_sync_in_bytes=4096
            total_delete_count=3
            success_delete_count=3
            dist_path_index_high=0
            dist_path_index_low=7
            dist_write_file_count=12

            """.Replace("\r\n", "\n", StringComparison.Ordinal));
        await using var server = await StorageTestServer.StartAsync(basePath: basePath);
        var stats = server.Server.Stats;
        Assert.Equal(118, stats[StatCounter.SuccessUploadCount]);
        Assert.Equal(54, stats[StatCounter.SuccessDownloadCount]);
        Assert.Equal(1732500000, stats[StatCounter.LastSourceUpdate]);
        Assert.Equal(1732400000, stats[StatCounter.LastSyncUpdate]);
        Assert.Equal(4096, stats[StatCounter.SuccessSyncInBytes]);
        Assert.Equal(3, stats[StatCounter.SuccessDeleteCount]);
    }
}
