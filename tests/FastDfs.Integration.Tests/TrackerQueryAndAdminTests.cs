using System.Text;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>Tracker queries beyond upload/download, connection-level commands, and deleting a storage.</summary>
public sealed class TrackerQueryAndAdminTests
{
    private static async Task<FdfsConnection> ConnectAsync(string endpoint) => await Endpoints.ConnectAsync(endpoint, TimeSpan.FromSeconds(5));

    private static byte[] Group(string name)
    {
        var bytes = new byte[FdfsConstants.GroupNameMaxLength];
        Encoding.ASCII.GetBytes(name, bytes);
        return bytes;
    }

    [Fact]
    public async Task Store_all_fetch_all_update_and_connection_commands()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec("group1"), new StorageSpec("group2"));
        await using var client = cluster.CreateClient();
        byte[] data = Encoding.ASCII.GetBytes("query me");
        var id = await client.UploadAsync(data, "txt", group: "group2");
        Assert.Equal("group2", id.Group);
        var source = cluster.Storages.Single(s => s.Group == "group2");

        var fetch = await client.QueryFetchAsync(id);
        Assert.Equal(source.Endpoint, fetch.ToString());
        var update = await client.QueryUpdateAsync(id);
        Assert.Equal(source.Endpoint, update.ToString());
        var all = await client.QueryFetchAllAsync(id);
        Assert.Equal(source.Endpoint, Assert.Single(all).ToString());

        await using var tracker = await ConnectAsync(cluster.TrackerEndpoint);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        var (status, body) = await tracker.RoundTripAsync((byte)TrackerCommand.QueryStoreWithoutGroupAll, ReadOnlyMemory<byte>.Empty, 4096, cts.Token);
        Assert.Equal(0, status);
        var storeAll = GroupServers.Read(body, withStorePathIndex: true);
        Assert.Contains(storeAll.Group, new[] { "group1", "group2" });
        Assert.Single(storeAll.Servers);

        (status, body) = await tracker.RoundTripAsync((byte)TrackerCommand.QueryStoreWithGroupAll, Group("group1"), 4096, cts.Token);
        Assert.Equal(0, status);
        storeAll = GroupServers.Read(body, withStorePathIndex: true);
        Assert.Equal("group1", storeAll.Group);
        Assert.Equal(cluster.Storages.Single(s => s.Group == "group1").Endpoint, Assert.Single(storeAll.Servers).ToString());

        (status, body) = await tracker.RoundTripAsync((byte)TrackerCommand.ListOneGroup, Group("group2"), 4096, cts.Token);
        Assert.Equal(0, status);
        Assert.Equal("group2", GroupStat.Read(body).Name);

        (status, body) = await tracker.RoundTripAsync((byte)TrackerCommand.ActiveTest, ReadOnlyMemory<byte>.Empty, 0, cts.Token);
        Assert.Equal(0, status);
        Assert.Empty(body);

        await using var storage = await ConnectAsync(source.Endpoint);
        (status, body) = await storage.RoundTripAsync((byte)StorageCommand.ActiveTest, ReadOnlyMemory<byte>.Empty, 0, cts.Token);
        Assert.Equal(0, status);

        // QUIT gets no answer: the server closes the connection.
        await storage.SendPacketAsync(PacketHeader.Request(StorageCommand.Quit, 0), ReadOnlyMemory<byte>.Empty, cts.Token);
        Assert.Null(await storage.ReadHeaderOrEndAsync(cts.Token));
    }

    [Fact]
    public async Task Delete_storage_is_refused_while_it_serves_and_allowed_once_it_is_offline()
    {
        // Two storages in one group would wait for replication (a later feature), so the victim has its own group.
        await using var cluster = await Cluster.StartAsync(new StorageSpec("group1"), new StorageSpec("group2"));
        await using var client = cluster.CreateClient();
        var victim = cluster.Storages[1];

        var busy = await Assert.ThrowsAsync<FdfsServerException>(() => client.DeleteStorageAsync("group2", victim.Ip));
        Assert.Equal(FdfsErrno.EBUSY, busy.Errno);
        var unknown = await Assert.ThrowsAsync<FdfsServerException>(() => client.DeleteStorageAsync("group2", "127.9.9.9"));
        Assert.Equal(FdfsErrno.ENOENT, unknown.Errno);

        await victim.Process!.StopAsync();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await client.ListStoragesAsync("group2")).Single(s => s.Ip == victim.Ip).Status != StorageStatus.Offline)
        {
            Assert.True(DateTime.UtcNow < deadline, "stopped storage never went OFFLINE");
            await Task.Delay(200);
        }

        await client.DeleteStorageAsync("group2", victim.Ip);
        var listed = await client.ListStoragesAsync("group2");
        Assert.DoesNotContain(listed, s => s.Ip == victim.Ip && s.Status != StorageStatus.Deleted);
        var again = await Assert.ThrowsAsync<FdfsServerException>(() => client.DeleteStorageAsync("group2", victim.Ip));
        Assert.True(again.Errno is FdfsErrno.EALREADY or FdfsErrno.ENOENT, $"errno {again.Errno}");

        // Uploads without a group now all go to the group that still has a storage.
        var id = await client.UploadAsync(Encoding.ASCII.GetBytes("still here"), "txt");
        Assert.Equal("group1", id.Group);
        Assert.Equal(cluster.Storages[0].Ip, (await client.GetFileInfoAsync(id)).SourceIp);
    }
}
