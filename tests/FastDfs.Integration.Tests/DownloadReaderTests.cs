using System.Security.Cryptography;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>
/// <see cref="FastDfsClient.OpenDownloadAsync"/> against a real storage: the body arrives intact in any slicing, and
/// the connection is reused only when the body was read to its end.
/// </summary>
public sealed class DownloadReaderTests(SingleStorageCluster fixture) : IClassFixture<SingleStorageCluster>
{
    private Cluster Cluster => fixture.Cluster;

    [Fact]
    public async Task A_streamed_download_reads_whole_files_and_ranges_in_odd_slices_and_returns_its_connection()
    {
        await using var client = Cluster.CreateClient();
        byte[] data = RandomNumberGenerator.GetBytes((3 * 1024 * 1024) + 12_345);
        var id = await client.UploadAsync(data, "bin");

        await using (var whole = await client.OpenDownloadAsync(id, 0))
        {
            Assert.Equal(data.Length, whole.Length);
            Assert.Equal(data, await ReadAllAsync(whole, 100_003));
            Assert.Equal(0, await whole.ReadAsync(new byte[10]));
        }

        // The drained connection went back to the pool: the next requests open no new one.
        int opened = client.ConnectionsOpened;
        await using (var range = await client.OpenDownloadAsync(id, 1_000_000, 2_000_000))
        {
            Assert.Equal(2_000_000, range.Length);
            Assert.Equal(data.AsSpan(1_000_000, 2_000_000).ToArray(), await ReadAllAsync(range, 1 << 20));
        }

        await using (var tail = await client.OpenDownloadAsync(id, data.Length - 10, 0))
        {
            Assert.Equal(data.AsSpan(data.Length - 10).ToArray(), await ReadAllAsync(tail, 7));
        }

        Assert.Equal(opened, client.ConnectionsOpened);
    }

    [Fact]
    public async Task An_abandoned_download_closes_its_connection_and_the_next_request_gets_a_clean_one()
    {
        await using var client = Cluster.CreateClient();
        byte[] data = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);
        var id = await client.UploadAsync(data, "bin");

        for (int i = 0; i < 3; i++)
        {
            int opened = client.ConnectionsOpened;
            await using var reader = await client.OpenDownloadAsync(id, 0);

            // The one before was abandoned half-read: it was closed, not pooled, so this one is new.
            if (i > 0)
            {
                Assert.Equal(opened + 1, client.ConnectionsOpened);
            }

            byte[] head = new byte[64 * 1024];
            Assert.Equal(head.Length, await reader.ReadAsync(head));
            Assert.Equal(data.AsSpan(0, head.Length).ToArray(), head);
            Assert.Equal(data.Length - head.Length, reader.Remaining);
        }

        // A plain request right after reads the right bytes, not the rest of an earlier body.
        Assert.Equal(data.AsSpan(100, 1000).ToArray(), await client.DownloadBytesAsync(id, 100, 1000));
    }

    [Fact]
    public async Task A_refused_download_throws_the_storage_errno_and_the_client_recovers()
    {
        await using var client = Cluster.CreateClient();
        byte[] data = RandomNumberGenerator.GetBytes(1000);
        var id = await client.UploadAsync(data, "bin");

        var past = await Assert.ThrowsAsync<FdfsServerException>(() => client.OpenDownloadAsync(id, 1000));
        Assert.Equal(FdfsErrno.EINVAL, past.Errno);

        var missing = await client.UploadAsync(data, "bin");
        await client.DeleteAsync(missing);
        var gone = await Assert.ThrowsAsync<FdfsServerException>(() => client.OpenDownloadAsync(missing, 0));
        Assert.Equal(FdfsErrno.ENOENT, gone.Errno);

        await using var reader = await client.OpenDownloadAsync(id, 0);
        Assert.Equal(data, await ReadAllAsync(reader, 4096));
    }

    private static async Task<byte[]> ReadAllAsync(DownloadReader reader, int slice)
    {
        byte[] all = new byte[reader.Remaining];
        int done = 0;
        while (true)
        {
            int n = await reader.ReadAsync(all.AsMemory(done, Math.Min(slice, all.Length - done)));
            if (n == 0)
            {
                return all;
            }

            done += n;
        }
    }
}
