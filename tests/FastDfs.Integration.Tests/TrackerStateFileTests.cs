using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.TrackerState;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>
/// The tracker keeps its state in FastDFS's own files (docs/tracker-state.md): restarts, a base_path left by a C
/// tracker, and the storage changelog, with real daemons.
/// </summary>
public sealed class TrackerStateFileTests
{
    private static string DataFile(Cluster cluster, string name) => Path.Combine(cluster.Root, "tracker", "data", name);

    private static async Task WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describe)
    {
        if (!await StorageProbe.WaitUntilAsync(condition, timeout, 200))
        {
            throw new TimeoutException(describe());
        }
    }

    private static async Task<(byte Status, byte[] Body)> TrackerCallAsync(string endpoint, TrackerCommand command, byte[] body)
    {
        int colon = endpoint.LastIndexOf(':');
        await using var c = await FdfsConnection.ConnectAsync(endpoint[..colon], int.Parse(endpoint[(colon + 1)..], CultureInfo.InvariantCulture), TimeSpan.FromSeconds(5));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        return await c.RoundTripAsync((byte)command, body, 1 << 16, cts.Token);
    }

    /// <summary>STORAGE_CHANGELOG_REQ as a storage sends it outside its report connection: <c>g16</c> + storage ID 16.</summary>
    private static byte[] ChangelogRequest(string group, string id)
    {
        var body = new byte[32];
        Encoding.ASCII.GetBytes(group, body);
        Encoding.ASCII.GetBytes(id, body.AsSpan(16));
        return body;
    }

    [Fact]
    public async Task Restart_keeps_groups_storages_and_sync_marks_in_fastdfs_files()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec(), new StorageSpec());
        await using (var client = cluster.CreateClient())
        {
            var id = await client.UploadAsync(RandomNumberGenerator.GetBytes(2000), "bin");
            Assert.Equal(2000, (await client.DownloadBytesAsync(id)).Length);
        }

        // The peers report how far they synced from each other; the tracker saves that as the sync matrix.
        string syncPath = DataFile(cluster, TrackerSysFiles.SyncTimestampsFileName);
        await WaitForAsync(
            () => Task.FromResult(File.Exists(syncPath) && SyncTimestampsFile.Parse(File.ReadAllText(syncPath)).Any(r => r.Timestamps.Any(t => t > 0))),
            TimeSpan.FromSeconds(30), () => $"no sync mark saved:\n{(File.Exists(syncPath) ? File.ReadAllText(syncPath) : "(no file)")}\n{cluster.Tracker!.LogTail}");

        Assert.Equal(0, await cluster.Tracker!.StopAsync());
        var groups = TrackerGroupsFile.Parse(File.ReadAllText(DataFile(cluster, TrackerSysFiles.GroupsFileName)));
        Assert.Equal("group1", Assert.Single(groups).Name);
        var servers = TrackerServersFile.Parse(File.ReadAllText(DataFile(cluster, TrackerSysFiles.ServersFileName)));
        Assert.Equal(cluster.Storages.Select(s => s.Ip).Order(), servers.Select(s => s.IpAddr).Order());
        var marks = SyncTimestampsFile.Parse(File.ReadAllText(syncPath));
        Assert.False(File.Exists(DataFile(cluster, "tracker_cluster.json")));

        await cluster.RestartTrackerAsync();
        await using (var client = cluster.CreateClient())
        {
            var listed = await client.ListStoragesAsync("group1");
            Assert.Equal(cluster.Storages.Select(s => s.Ip).Order(), listed.Select(s => s.Ip).Order());
        }

        await cluster.WaitAllActiveAsync();

        // Marks only grow: after the restart every saved mark is still there (or further).
        Assert.Equal(0, await cluster.Tracker!.StopAsync());
        var after = SyncTimestampsFile.Parse(File.ReadAllText(syncPath)).ToDictionary(r => r.SourceId);
        foreach (var row in marks)
        {
            for (int k = 0; k < row.Timestamps.Count; k++)
            {
                Assert.True(after[row.SourceId].Timestamps[k] >= row.Timestamps[k], $"mark {row.SourceId}[{k}] went back");
            }
        }

        await cluster.RestartTrackerAsync();
    }

    [Fact]
    public async Task Base_path_of_a_c_tracker_is_taken_over_and_its_storages_served()
    {
        await using var cluster = await Cluster.StartAsync();
        string ipA = Loopback.Next(), ipB = Loopback.Next();
        int port;
        using (var probe = new TcpListener(IPAddress.Parse(ipA), 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        // What a FastDFS tracker leaves behind (hand-written; see docs/tracker-state.md). No side file of ours.
        Assert.Equal(0, await cluster.Tracker!.StopAsync());
        foreach (string f in Directory.GetFiles(Path.Combine(cluster.Root, "tracker", "data")))
        {
            File.Delete(f);
        }

        string data = Path.Combine(cluster.Root, "tracker", "data");
        File.WriteAllText(Path.Combine(data, TrackerSysFiles.GroupsFileName),
            "# global section\n[Global]\n\tgroup_count=1\n\n"
            + $"# group: legacy\n[Group001]\n\tgroup_name=legacy\n\tstorage_port={port}\n\tstorage_http_port=8888\n\tstore_path_count=1\n"
            + "\tsubdir_count_per_path=4\n\tcurrent_trunk_file_id=0\n\ttrunk_server=\n\tlast_trunk_server=\n\n");
        string Section(int n, string ip) =>
            $"# storage {ip}:{port}\n[Storage{n:000}]\n\tgroup_name=legacy\n\tip_addr={ip}\n\tstatus=7\n\tversion=6.16\n\tjoin_time=1700000000\n"
            + $"\tstorage_port={port}\n\tstorage_http_port=8888\n\tdomain_name=\n\tsync_src_server=\n\tsync_until_timestamp=0\n\tstore_path_count=1\n"
            + "\tsubdir_count_per_path=4\n\tupload_priority=10\n\ttotal_mb=1000\n\tfree_mb=900\n\ttotal_upload_count=3\n\tsuccess_upload_count=3\n"
            + "\tlast_source_update=0\n\tlast_sync_update=0\n\tlast_synced_timestamp=0\n\tlast_heart_beat_time=1700000400\n\tchangelog_offset=0\n\n";
        File.WriteAllText(Path.Combine(data, TrackerSysFiles.ServersFileName), Section(1, ipA) + Section(2, ipB) + "\n# global section\n[Global]\n\tstorage_count=2\n");
        File.WriteAllText(Path.Combine(data, TrackerSysFiles.SyncTimestampsFileName), $"legacy,{ipA},0,0\nlegacy,{ipB},1700000222,0\n");
        File.WriteAllText(Path.Combine(data, TrackerSysFiles.ChangelogFileName), $"1690000000 legacy 127.0.0.250 4 \n");

        await cluster.RestartTrackerAsync();
        await using var client = cluster.CreateClient();
        Assert.Equal(["legacy"], (await client.ListGroupsAsync()).Select(g => g.Name));
        var listed = await client.ListStoragesAsync("legacy");
        Assert.Equal(new[] { ipA, ipB }.Order(), listed.Select(s => s.Ip).Order());
        Assert.All(listed, s => Assert.Equal(StorageStatus.Offline, s.Status));

        // The storages come back (the port the C tracker recorded) and are served again.
        await cluster.AddStorageAsync(new StorageSpec("legacy", Ip: ipA, Extra: $"port = {port}"));
        await cluster.AddStorageAsync(new StorageSpec("legacy", Ip: ipB, Extra: $"port = {port}"));
        await cluster.WaitAllActiveAsync();
        byte[] content = RandomNumberGenerator.GetBytes(5000);
        var id = await client.UploadAsync(content, "bin", group: "legacy");
        Assert.Equal(content, await client.DownloadBytesAsync(id));

        // The C tracker's changelog is kept and appended to, not replaced.
        Assert.StartsWith("1690000000 legacy 127.0.0.250 4 \n", File.ReadAllText(Path.Combine(data, TrackerSysFiles.ChangelogFileName)), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(data, TrackerSysFiles.GroupsFileName + ".bad")));
    }

    [Fact]
    public async Task Deleting_a_storage_with_fdfs_writes_the_changelog_served_from_each_storages_offset()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec(), new StorageSpec());
        var keep = cluster.Storages[0];
        var gone = cluster.Storages[1];
        Assert.Equal(0, await gone.Process!.StopAsync());
        await using (var client = cluster.CreateClient())
        {
            await WaitForAsync(async () => (await client.ListStoragesAsync("group1", gone.Ip)).Single().Status == StorageStatus.Offline,
                TimeSpan.FromSeconds(20), () => "storage not offline");
        }

        var (code, stdout, stderr) = await FdfsCli.RunAsync(cluster.TrackerEndpoint, "delete-storage", "group1", gone.Ip);
        Assert.True(code == 0, stderr);
        Assert.Contains(gone.Ip, stdout, StringComparison.Ordinal);
        (code, _, stderr) = await FdfsCli.RunAsync(cluster.TrackerEndpoint, "delete-storage", "group1", keep.Ip);
        Assert.NotEqual(0, code); // in service: EBUSY, nothing recorded
        Assert.Contains("EBUSY", stderr, StringComparison.Ordinal);

        string changelogPath = DataFile(cluster, TrackerSysFiles.ChangelogFileName);
        string text = File.ReadAllText(changelogPath);
        var entry = Assert.Single(StorageChangelogFile.Parse(text, out int skipped));
        Assert.Equal(0, skipped);
        Assert.Equal(("group1", gone.Ip, StorageStatus.Deleted, ""), (entry.Group, entry.StorageId, entry.Status, entry.Argument));
        Assert.EndsWith($" group1 {gone.Ip} 4 \n", text, StringComparison.Ordinal);

        // STORAGE_CHANGELOG_REQ: the part after the caller's offset, once.
        var (status, body) = await TrackerCallAsync(cluster.TrackerEndpoint, TrackerCommand.StorageChangelogReq, ChangelogRequest("group1", keep.Ip));
        Assert.Equal((0, text), (status, Encoding.ASCII.GetString(body)));
        (status, body) = await TrackerCallAsync(cluster.TrackerEndpoint, TrackerCommand.StorageChangelogReq, ChangelogRequest("group1", keep.Ip));
        Assert.Equal((0, 0), (status, body.Length));
        Assert.Equal(FdfsErrno.ENOENT, (await TrackerCallAsync(cluster.TrackerEndpoint, TrackerCommand.StorageChangelogReq, ChangelogRequest("group1", "127.9.9.9"))).Status);
        Assert.Equal(FdfsErrno.EINVAL, (await TrackerCallAsync(cluster.TrackerEndpoint, TrackerCommand.StorageChangelogReq, new byte[5])).Status);

        // The offset is kept across a restart (storage_servers_new.dat changelog_offset); the deletion too.
        await cluster.RestartTrackerAsync();
        (status, body) = await TrackerCallAsync(cluster.TrackerEndpoint, TrackerCommand.StorageChangelogReq, ChangelogRequest("group1", keep.Ip));
        Assert.Equal((0, 0), (status, body.Length));
        var servers = TrackerServersFile.Parse(File.ReadAllText(DataFile(cluster, TrackerSysFiles.ServersFileName)));
        Assert.Equal(text.Length, Assert.Single(servers).ChangelogOffset);
        await using (var client = cluster.CreateClient())
        {
            Assert.Equal(StorageStatus.Deleted, (await client.ListStoragesAsync("group1", gone.Ip)).Single().Status);
        }
    }
}
