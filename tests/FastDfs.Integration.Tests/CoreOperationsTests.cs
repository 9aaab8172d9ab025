using System.Security.Cryptography;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>Every client-facing command through our client against real daemons.</summary>
public sealed class CoreOperationsTests(SingleStorageCluster fixture) : IClassFixture<SingleStorageCluster>
{
    private Cluster Cluster => fixture.Cluster;

    private static byte[] Random(int size) => RandomNumberGenerator.GetBytes(size);

    [Fact]
    public async Task Upload_download_whole_and_ranges_then_delete()
    {
        await using var client = Cluster.CreateClient();
        byte[] data = Random(100_000);
        var id = await client.UploadAsync(data, "jpg");
        Assert.Equal("group1", id.Group);
        Assert.Matches(@"^M0[01]/[0-9A-F]{2}/[0-9A-F]{2}/[A-Za-z0-9_-]{27}\d{3}\.jpg$", id.RemoteFileName);

        Assert.Equal(data, await client.DownloadBytesAsync(id));
        Assert.Equal(data.AsSpan(1000, 500).ToArray(), await client.DownloadBytesAsync(id, 1000, 500));
        Assert.Equal(data.AsSpan(99_990).ToArray(), await client.DownloadBytesAsync(id, 99_990, 100)); // clipped at the end
        Assert.Equal(data.AsSpan(50_000).ToArray(), await client.DownloadBytesAsync(id, 50_000, 0)); // 0 = to the end

        var info = await client.GetFileInfoAsync(id);
        Assert.Equal(data.Length, info.Size);
        Assert.Equal(System.IO.Hashing.Crc32.HashToUInt32(data), info.Crc32);
        Assert.Equal(Cluster.Storages[0].Ip, info.SourceIp);
        Assert.InRange(info.CreateTime.ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 120, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 5);

        await client.DeleteAsync(id);
        var gone = await Assert.ThrowsAsync<FdfsServerException>(() => client.DownloadBytesAsync(id));
        Assert.Equal(FdfsErrno.ENOENT, gone.Errno);
        var again = await Assert.ThrowsAsync<FdfsServerException>(() => client.DeleteAsync(id));
        Assert.Equal(FdfsErrno.ENOENT, again.Errno);
    }

    [Fact]
    public async Task Download_past_the_end_and_of_an_empty_file_is_EINVAL()
    {
        await using var client = Cluster.CreateClient();
        var id = await client.UploadAsync(Random(1000), "bin");
        var past = await Assert.ThrowsAsync<FdfsServerException>(() => client.DownloadBytesAsync(id, 1000, 10));
        Assert.Equal(FdfsErrno.EINVAL, past.Errno);

        var empty = await client.UploadAsync(Array.Empty<byte>(), "txt");
        Assert.Equal(0, (await client.GetFileInfoAsync(empty)).Size);
        var none = await Assert.ThrowsAsync<FdfsServerException>(() => client.DownloadBytesAsync(empty));
        Assert.Equal(FdfsErrno.EINVAL, none.Errno);

        // The client recovers from the storage closing the connection after EINVAL.
        Assert.Equal(1000, (await client.DownloadBytesAsync(id)).Length);
    }

    [Fact]
    public async Task Metadata_overwrite_then_merge_then_clear()
    {
        await using var client = Cluster.CreateClient();
        var id = await client.UploadAsync(Random(10), "png", new Dictionary<string, string> { ["width"] = "1024", ["height"] = "768" });
        var meta = await client.GetMetadataAsync(id);
        Assert.Equal("1024", meta["width"]);
        Assert.Equal("768", meta["height"]);

        await client.SetMetadataAsync(id, new Dictionary<string, string> { ["height"] = "800", ["author"] = "x" }, MetadataFlag.Merge);
        meta = await client.GetMetadataAsync(id);
        Assert.Equal(3, meta.Count);
        Assert.Equal("800", meta["height"]);
        Assert.Equal("x", meta["author"]);

        await client.SetMetadataAsync(id, new Dictionary<string, string> { ["only"] = "1" }, MetadataFlag.Overwrite);
        meta = await client.GetMetadataAsync(id);
        Assert.Equal(new Dictionary<string, string> { ["only"] = "1" }, meta);

        await client.SetMetadataAsync(id, new Dictionary<string, string>(), MetadataFlag.Overwrite);
        var cleared = await Assert.ThrowsAsync<FdfsServerException>(() => client.GetMetadataAsync(id));
        Assert.Equal(FdfsErrno.ENOENT, cleared.Errno);
    }

    [Fact]
    public async Task Metadata_of_a_missing_file_is_ENOENT_and_oversized_values_are_refused()
    {
        await using var client = Cluster.CreateClient();
        var id = await client.UploadAsync(Random(10), "png");
        await client.DeleteAsync(id);
        var missing = await Assert.ThrowsAsync<FdfsServerException>(() =>
            client.SetMetadataAsync(id, new Dictionary<string, string> { ["a"] = "b" }, MetadataFlag.Merge));
        Assert.Equal(FdfsErrno.ENOENT, missing.Errno);

        var live = await client.UploadAsync(Random(10), "png");
        await Assert.ThrowsAnyAsync<Exception>(() =>
            client.SetMetadataAsync(live, new Dictionary<string, string> { ["a"] = new string('v', 300) }, MetadataFlag.Merge));
    }

    [Fact]
    public async Task Appender_append_modify_truncate()
    {
        await using var client = Cluster.CreateClient();
        byte[] first = Random(3000);
        var id = await client.UploadAppenderAsync(first, "log");
        Assert.True(FileNames.TryDecode(id.RemoteFileName, out var name) && name.IsAppender);

        byte[] second = Random(5000);
        await client.AppendAsync(id, second);
        byte[] patch = Random(100);
        await client.ModifyAsync(id, 2950, patch);
        var expected = first.Concat(second).ToArray();
        patch.CopyTo(expected, 2950);
        Assert.Equal(expected, await client.DownloadBytesAsync(id));

        var info = await client.GetFileInfoAsync(id);
        Assert.Equal(expected.Length, info.Size);
        Assert.Equal(System.IO.Hashing.Crc32.HashToUInt32(expected), info.Crc32);
        var withoutCrc = await client.GetFileInfoAsync(id, computeCrc: false); // flag bit 0, as the mount's stat asks
        Assert.Equal(expected.Length, withoutCrc.Size);
        Assert.Equal(0u, withoutCrc.Crc32);

        await client.TruncateAsync(id, 1234);
        Assert.Equal(expected.AsSpan(0, 1234).ToArray(), await client.DownloadBytesAsync(id));

        // Appender operations on a normal file are EINVAL.
        var normal = await client.UploadAsync(Random(10), "txt");
        var refused = await Assert.ThrowsAsync<FdfsServerException>(() => client.AppendAsync(normal, Random(10)));
        Assert.Equal(FdfsErrno.EINVAL, refused.Errno);
    }

    [Fact]
    public async Task Info_of_a_16_TiB_sparse_appender_is_answered_at_once_with_its_content_crc()
    {
        // What a mount makes of a write near the end of the largest file (ext4: 16 TiB - 4 KiB): the storage must not
        // read terabytes of holes.
        long size = FileSizeLimit.Of(Cluster.Storages[0].StorePaths[0]);
        await using var client = Cluster.CreateClient();
        byte[] head = Random(1000), tail = Random(3000);
        var id = await client.UploadAppenderAsync(head, "bin");
        await client.TruncateAsync(id, size);
        await client.ModifyAsync(id, size - tail.Length, tail);

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var info = await client.GetFileInfoAsync(id);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"QUERY_FILE_INFO took {stopwatch.Elapsed}");
        Assert.Equal(size, info.Size);
        uint expected = ZeroRun.Extend(System.IO.Hashing.Crc32.HashToUInt32(head), size - head.Length - tail.Length);
        Assert.Equal(ZeroRun.Combine(expected, System.IO.Hashing.Crc32.HashToUInt32(tail), tail.Length), info.Crc32);
        await client.DeleteAsync(id);
    }

    /// <summary>
    /// CRC-32 over runs of zeros the test cannot hold in memory: one zero byte as a 32x32 GF(2) matrix on the CRC register,
    /// raised to the run's length by squaring (independent of the storage's polynomial arithmetic).
    /// </summary>
    private static class ZeroRun
    {
        public static uint Extend(uint crc, long count) => ~Shift(~crc, count);

        public static uint Combine(uint crcA, uint crcB, long lengthB) => Shift(crcA, lengthB) ^ crcB;

        private static uint Shift(uint register, long count)
        {
            uint[] step = [.. Enumerable.Range(0, 32).Select(i => ZeroByte(1u << i))];
            for (; count != 0; count >>= 1, step = [.. step.Select(column => Apply(step, column))])
            {
                register = (count & 1) != 0 ? Apply(step, register) : register;
            }

            return register;
        }

        private static uint ZeroByte(uint v)
        {
            for (int bit = 0; bit < 8; bit++)
            {
                v = (v & 1) != 0 ? (v >> 1) ^ 0xEDB88320 : v >> 1;
            }

            return v;
        }

        private static uint Apply(uint[] matrix, uint vector)
        {
            uint sum = 0;
            for (int i = 0; vector != 0; i++, vector >>= 1)
            {
                sum ^= (vector & 1) != 0 ? matrix[i] : 0;
            }

            return sum;
        }
    }

    [Fact]
    public async Task Slave_file_sits_next_to_its_master()
    {
        await using var client = Cluster.CreateClient();
        var master = await client.UploadAsync(Random(2000), "jpg");
        byte[] thumb = Random(300);
        var slave = await client.UploadSlaveAsync(master, "_150x150", "jpg", thumb);
        Assert.Equal(FileNames.MakeSlaveName(master.RemoteFileName, "_150x150", "jpg"), slave.RemoteFileName);
        Assert.Equal(thumb, await client.DownloadBytesAsync(slave));

        var twice = await Assert.ThrowsAsync<FdfsServerException>(() => client.UploadSlaveAsync(master, "_150x150", "jpg", thumb));
        Assert.Equal(FdfsErrno.EEXIST, twice.Errno);
    }

    [Fact]
    public async Task Large_upload_streams_and_round_trips()
    {
        await using var client = Cluster.CreateClient();
        string src = Path.Combine(Cluster.Root, "big.bin");
        using (var f = File.Create(src))
        {
            var block = Random(1 << 20);
            for (int i = 0; i < 40; i++)
            {
                block[0] = (byte)i;
                f.Write(block);
            }
        }

        var id = await client.UploadFileAsync(src);
        string dst = Path.Combine(Cluster.Root, "big.out");
        await client.DownloadToFileAsync(id, dst);
        Assert.Equal(SHA256.HashData(File.ReadAllBytes(src)), SHA256.HashData(File.ReadAllBytes(dst)));
        File.Delete(src);
        File.Delete(dst);
        await client.DeleteAsync(id);
    }

    [Fact]
    public async Task Groups_and_storages_list_real_figures()
    {
        await using var client = Cluster.CreateClient();
        var groups = await client.ListGroupsAsync();
        var g = Assert.Single(groups);
        Assert.Equal("group1", g.Name);
        Assert.Equal(1, g.StorageCount);
        Assert.Equal(1, g.WritableServerCount);
        Assert.Equal(2, g.StorePathCount);
        Assert.True(g.TotalMb > 0 && g.FreeMb > 0 && g.FreeMb <= g.TotalMb);

        var storage = Assert.Single(await client.ListStoragesAsync("group1"));
        Assert.Equal(StorageStatus.Active, storage.Status);
        Assert.Equal(Cluster.Storages[0].Ip, storage.Ip);
        Assert.Equal(Cluster.Storages[0].Process!.Port, storage.StoragePort);

        var unknown = await Assert.ThrowsAsync<FdfsServerException>(() => client.ListStoragesAsync("nosuch"));
        Assert.Equal(FdfsErrno.ENOENT, unknown.Errno);
    }

    [Fact]
    public async Task Uploads_spread_over_both_store_paths()
    {
        await using var client = Cluster.CreateClient();
        var paths = new HashSet<string>();
        for (int i = 0; i < 6; i++)
        {
            paths.Add((await client.UploadAsync(Random(10), "txt")).RemoteFileName[..3]);
        }

        Assert.Equal(["M00", "M01"], paths.Order());
    }
}
