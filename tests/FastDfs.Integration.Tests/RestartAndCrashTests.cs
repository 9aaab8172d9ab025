using System.Security.Cryptography;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>Restarts, SIGTERM and kill -9 of real daemons.</summary>
public sealed class RestartAndCrashTests
{
    [Fact]
    public async Task Tracker_restart_remembers_groups_and_storages()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec("group1"), new StorageSpec("group2"));
        await using (var client = cluster.CreateClient())
        {
            Assert.Equal(["group1", "group2"], (await client.ListGroupsAsync()).Select(g => g.Name));
        }

        // Stop the storages first so that after the restart nobody re-reports: what the tracker lists comes from disk.
        foreach (var s in cluster.Storages)
        {
            Assert.Equal(0, await s.Process!.StopAsync());
        }

        Assert.Equal(0, await cluster.Tracker!.StopAsync());
        await cluster.RestartTrackerAsync();
        await using (var client = cluster.CreateClient())
        {
            var groups = await client.ListGroupsAsync();
            Assert.Equal(["group1", "group2"], groups.Select(g => g.Name));
            var storage = Assert.Single(await client.ListStoragesAsync("group1"));
            Assert.Equal(cluster.Storages[0].Ip, storage.Ip);
            Assert.Equal(StorageStatus.Offline, storage.Status);
        }

        foreach (var s in cluster.Storages)
        {
            await s.RestartAsync();
        }

        await cluster.WaitAllActiveAsync();
    }

    [Fact]
    public async Task Storage_restart_keeps_files_and_metadata()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec());
        byte[] data = RandomNumberGenerator.GetBytes(5000);
        FileId id;
        await using (var client = cluster.CreateClient())
        {
            id = await client.UploadAsync(data, "dat", new Dictionary<string, string> { ["k"] = "v" });
        }

        await cluster.Storages[0].RestartAsync();
        await cluster.WaitAllActiveAsync();
        await using (var client = cluster.CreateClient())
        {
            Assert.Equal(data, await client.DownloadBytesAsync(id));
            Assert.Equal("v", (await client.GetMetadataAsync(id))["k"]);
        }
    }

    [Fact]
    public async Task Kill_9_mid_upload_leaves_no_partial_file()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec());
        var storage = cluster.Storages[0];
        await using var client = cluster.CreateClient(TimeSpan.FromSeconds(10));
        var slow = new SlowStream(64L << 20, started: null);
        var upload = client.UploadAsync(slow, 64L << 20, "bin");

        // Wait until the storage has received a good part of the body, then kill it.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && slow.Position < (8L << 20))
        {
            await Task.Delay(20);
        }

        Assert.True(slow.Position >= 8L << 20, "the upload never got going");
        Assert.Empty(storage.DataFiles());
        await storage.KillHardAsync();
        await Assert.ThrowsAnyAsync<Exception>(async () => await upload);
        Assert.Empty(storage.DataFiles());

        await storage.RestartAsync();
        await cluster.WaitAllActiveAsync();
        Assert.Empty(storage.DataFiles());
        Assert.False(AnyTempData(storage), "temp files of the interrupted upload survived a restart");

        var id = await client.UploadAsync(new byte[] { 1, 2, 3 }, "bin");
        Assert.Equal(new byte[] { 1, 2, 3 }, await client.DownloadBytesAsync(id));
    }

    private static bool AnyTempData(StorageNode storage) =>
        storage.StorePaths.Any(p => Directory.Exists(p)
            && Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories)
                .Any(f => !storage.DataFiles().Contains(f) && new FileInfo(f).Length > 0 && !f.EndsWith(".fastdfs_vars", StringComparison.Ordinal)));

    [Fact]
    public async Task Sigterm_stops_both_daemons_cleanly()
    {
        var cluster = await Cluster.StartAsync(new StorageSpec());
        try
        {
            Assert.Equal(0, await cluster.Storages[0].Process!.StopAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(0, await cluster.Tracker!.StopAsync(TimeSpan.FromSeconds(10)));
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    /// <summary>A stream that yields random bytes slowly, so a test can act while an upload is in flight.</summary>
    private sealed class SlowStream(long length, TaskCompletionSource? started) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position >= length)
            {
                return 0;
            }

            await Task.Delay(5, cancellationToken);
            int n = (int)Math.Min(Math.Min(buffer.Length, 256 * 1024), length - _position);
            RandomNumberGenerator.Fill(buffer.Span[..n]);
            _position += n;
            started?.TrySetResult();
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
