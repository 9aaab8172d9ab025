using System.IO.Hashing;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>
/// In-group replication between real storage processes (protocol notes 5.3, 9.2-9.4): every change type reaches
/// the peer, checked by reading each storage directly.
/// </summary>
public sealed class ReplicationTests
{
    private static readonly TimeSpan SyncTimeout = TimeSpan.FromSeconds(30);

    internal static async Task AssertOnAllAsync(Cluster cluster, FileId fileId, byte[] expected, TimeSpan? timeout = null)
    {
        foreach (var node in cluster.Storages.Where(s => s.Process is { HasExited: false }))
        {
            await using var probe = await StorageProbe.ConnectAsync(node.Endpoint);
            byte[]? last = null;
            bool same = await StorageProbe.WaitUntilAsync(async () =>
            {
                last = await probe.DownloadAsync(fileId);
                return last is not null && last.AsSpan().SequenceEqual(expected);
            }, timeout ?? SyncTimeout);
            Assert.True(same, $"{fileId} on {node.Ip}: {(last is null ? "missing" : $"{last.Length} bytes, crc32 {Crc32.HashToUInt32(last):x8}")}, expected {expected.Length} bytes, crc32 {Crc32.HashToUInt32(expected):x8}");
        }
    }

    internal static async Task AssertGoneEverywhereAsync(Cluster cluster, FileId fileId)
    {
        foreach (var node in cluster.Storages.Where(s => s.Process is { HasExited: false }))
        {
            await using var probe = await StorageProbe.ConnectAsync(node.Endpoint);
            Assert.True(
                await StorageProbe.WaitUntilAsync(async () => await probe.ExistsStatusAsync(fileId) == FdfsErrno.ENOENT, SyncTimeout),
                $"{fileId} still on {node.Ip}");
        }
    }

    private static byte[] Random(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task EveryChangeTypeReachesThePeer()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec(), new StorageSpec());
        await using var client = cluster.CreateClient();

        // Uploads land on both storages (round robin); each must show up on the other one.
        var files = new List<(FileId Id, byte[] Content)>();
        for (int i = 0; i < 6; i++)
        {
            var content = Random(1000 + i * 3000, i);
            files.Add((await client.UploadAsync(content, "bin"), content));
        }

        foreach (var (id, content) in files)
        {
            await AssertOnAllAsync(cluster, id, content);
        }

        // Slave upload.
        var slaveContent = Random(5000, 100);
        var slave = await client.UploadSlaveAsync(files[0].Id, "_small", "jpg", slaveContent);
        await AssertOnAllAsync(cluster, slave, slaveContent);

        // Metadata: create (O), merge (M), then overwrite with nothing (delete of the -m file).
        await client.SetMetadataAsync(files[1].Id, new Dictionary<string, string> { ["width"] = "100", ["height"] = "200" }, MetadataFlag.Overwrite);
        await client.SetMetadataAsync(files[1].Id, new Dictionary<string, string> { ["height"] = "300", ["color"] = "red" }, MetadataFlag.Merge);
        foreach (var node in cluster.Storages)
        {
            await using var probe = await StorageProbe.ConnectAsync(node.Endpoint);
            string? meta = null;
            Assert.True(await StorageProbe.WaitUntilAsync(async () =>
            {
                var raw = await probe.GetMetadataAsync(files[1].Id);
                meta = raw is null ? null : System.Text.Encoding.UTF8.GetString(raw);
                return meta is not null && meta.Contains("height\u0002300", StringComparison.Ordinal) && meta.Contains("color\u0002red", StringComparison.Ordinal)
                    && meta.Contains("width\u0002100", StringComparison.Ordinal);
            }, SyncTimeout), $"metadata on {node.Ip}: {meta}");
        }

        // Delete.
        await client.DeleteAsync(files[2].Id);
        await AssertGoneEverywhereAsync(cluster, files[2].Id);

        // Appender: append, modify, truncate, then regenerate into a normal name.
        var appendContent = Random(3000, 7).ToList();
        var appender = await client.UploadAppenderAsync(appendContent.ToArray(), "log");
        var more = Random(2000, 8);
        await client.AppendAsync(appender, more);
        appendContent.AddRange(more);
        var patch = Random(500, 9);
        await client.ModifyAsync(appender, 1000, patch);
        for (int i = 0; i < patch.Length; i++)
        {
            appendContent[1000 + i] = patch[i];
        }

        await AssertOnAllAsync(cluster, appender, appendContent.ToArray());
        await client.TruncateAsync(appender, 4200);
        var truncated = appendContent.Take(4200).ToArray();
        await AssertOnAllAsync(cluster, appender, truncated);

        var regenerated = await client.RegenerateAppenderAsync(appender);
        Assert.NotEqual(appender.RemoteFileName, regenerated.RemoteFileName);
        await AssertOnAllAsync(cluster, regenerated, truncated);
        await AssertGoneEverywhereAsync(cluster, appender);
    }
}
