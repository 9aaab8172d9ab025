using System.Text;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>
/// use_storage_id = true with storage_ids.conf (protocol notes 6.2, 8.2, 11): storages are known by their IDs,
/// new file names carry the numeric ID, replication and the tracker's download choice work by ID, and the IDs
/// survive a tracker restart and a delete by ID.
/// </summary>
public sealed class StorageIdModeTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly string _idsDir = Path.Combine(Path.GetTempPath(), "fdfs-ids-" + Guid.NewGuid().ToString("N")[..10]);

    public void Dispose()
    {
        if (Directory.Exists(_idsDir))
        {
            Directory.Delete(_idsDir, recursive: true);
        }
    }

    [Fact]
    public async Task Two_storages_with_ids_join_replicate_and_keep_their_ids()
    {
        string ipA = Loopback.Next(), ipB = Loopback.Next(), ipC = Loopback.Next();
        Directory.CreateDirectory(_idsDir);
        string ids = Path.Combine(_idsDir, "storage_ids.conf");
        File.WriteAllText(ids, $"""
            # id     group   address
            100001   group1  {ipA}
            100002   group1  {ipB}
            100003   group1  {ipC}
            """);
        string trackerExtra = $"use_storage_id = true\nstorage_ids_filename = {ids}\nid_type_in_filename = id\n";

        await using var cluster = await Cluster.StartAsync(trackerExtra, new StorageSpec(Ip: ipA), new StorageSpec(Ip: ipB));
        await using var client = cluster.CreateClient();
        var byId = new Dictionary<string, StorageNode> { ["100001"] = cluster.Storages[0], ["100002"] = cluster.Storages[1] };

        // Both joined under their IDs.
        var listed = await client.ListStoragesAsync("group1");
        Assert.Equal(["100001", "100002"], listed.Select(s => s.Id).Order(StringComparer.Ordinal));
        Assert.Equal(ipA, listed.Single(s => s.Id == "100001").Ip);
        Assert.Equal(ipB, listed.Single(s => s.Id == "100002").Ip);

        // Uploads (round robin over both) produce names whose source field is the uploading storage's ID.
        var files = new List<(FileId Id, byte[] Content)>();
        for (int i = 0; i < 8; i++)
        {
            var content = Encoding.UTF8.GetBytes($"storage-id file {i} " + new string('x', i * 700));
            files.Add((await client.UploadAsync(content, "txt"), content));
        }

        var sources = new HashSet<string>();
        foreach (var (id, _) in files)
        {
            Assert.True(FileNames.TryDecode(id.RemoteFileName, out var info), id.ToString());
            Assert.True(info.HasServerId, $"{id} carries {info.Source}, not a server id");
            Assert.Contains(info.Source, byId.Keys);
            sources.Add(info.Source);
        }

        Assert.Equal(2, sources.Count);

        // QUERY_FILE_INFO names the source by address: the storage resolves the ID with the tracker's storage IDs (69).
        foreach (var (id, content) in files)
        {
            var info = await client.GetFileInfoAsync(id);
            Assert.Equal(byId[Decode(id).Source].Ip, info.SourceIp);
            Assert.Equal(content.Length, info.Response.FileSize);
        }

        // Every file reaches the other storage; downloads work from both and through the tracker.
        foreach (var (id, content) in files)
        {
            await ReplicationTests.AssertOnAllAsync(cluster, id, content, Timeout);
            Assert.Equal(content, await client.DownloadBytesAsync(id));
        }

        // The sync marks are named by peer ID, as FastDFS names them in ID mode.
        Assert.True(File.Exists(Path.Combine(byId["100001"].BaseDir, "data", "sync", "100002.mark")), "mark for 100002 on 100001");
        Assert.True(File.Exists(Path.Combine(byId["100002"].BaseDir, "data", "sync", "100001.mark")), "mark for 100001 on 100002");

        // The tracker's sync rule works by ID (SYNC_REPORT entries name the source by ID): a replica reports the source
        // timestamp it applied, so a file is offered by both storages once a later record from its source has reached
        // the peer. Upload until each source has written in a later second than the files above.
        long newest = files.Max(f => Decode(f.Id).Timestamp);
        var later = new HashSet<string>();
        var deadline = DateTime.UtcNow + Timeout;
        while (later.Count < 2 && DateTime.UtcNow < deadline)
        {
            var marker = await client.UploadAsync(Encoding.UTF8.GetBytes("marker"), "txt");
            var info = Decode(marker);
            if (info.Timestamp > newest)
            {
                later.Add(info.Source);
            }
            else
            {
                await Task.Delay(100);
            }
        }

        Assert.Equal(2, later.Count);
        foreach (var (id, _) in files)
        {
            Assert.True(await StorageProbe.WaitUntilAsync(async () => (await client.QueryFetchAllAsync(id)).Count == 2, Timeout), $"{id} not offered by both storages");
        }

        // A third storage joins later: the tracker names its copy source by ID (SYNC_DEST_REQ / SYNC_SRC_REQ) and the
        // source gives it every file.
        byId["100003"] = await cluster.AddStorageAsync(new StorageSpec(Ip: ipC));
        await cluster.WaitAllActiveAsync();
        var third = (await client.ListStoragesAsync("group1", "100003")).Single();
        Assert.Equal(ipC, third.Ip);
        Assert.Contains(third.SyncSourceId, new[] { "100001", "100002" });
        foreach (var (id, content) in files)
        {
            await ReplicationTests.AssertOnAllAsync(cluster, id, content, Timeout);
        }

        // A tracker restart keeps the IDs (persisted state), and the storages rejoin under them.
        await cluster.RestartTrackerAsync();
        await cluster.WaitAllActiveAsync();
        await using (var after = cluster.CreateClient())
        {
            var again = await after.ListStoragesAsync("group1");
            Assert.Equal(["100001", "100002", "100003"], again.Select(s => s.Id).Order(StringComparer.Ordinal));
            foreach (var (id, content) in files)
            {
                Assert.Equal(content, await after.DownloadBytesAsync(id));
            }
        }

        // Stop 100002; once OFFLINE it can be deleted by its ID.
        Assert.Equal(0, await byId["100002"].Process!.StopAsync());
        await using var admin = cluster.CreateClient();
        Assert.True(await StorageProbe.WaitUntilAsync(
            async () => (await admin.ListStoragesAsync("group1", "100002")).Single().Status == StorageStatus.Offline, Timeout));
        await admin.DeleteStorageAsync("group1", "100002");
        Assert.Equal(StorageStatus.Deleted, (await admin.ListStoragesAsync("group1", "100002")).Single().Status);

        // Files named by 100002 are still served by 100001.
        foreach (var (id, content) in files)
        {
            Assert.Equal(content, await admin.DownloadBytesAsync(id));
        }
    }

    [Fact]
    public async Task A_storage_that_comes_back_from_its_second_address_keeps_its_id_and_its_peer_follows()
    {
        string ipA = Loopback.Next(), ipB = Loopback.Next(), ipB2 = Loopback.Next();
        Directory.CreateDirectory(_idsDir);
        string ids = Path.Combine(_idsDir, "storage_ids.conf");
        // Two 127.x addresses are of one kind, which FastDFS refuses as a dual-IP pair: the line names one address and
        // the storage sends its ID (server_id, trusted by default) when it comes back from another one.
        File.WriteAllText(ids, $"100001 group1 {ipA}\n100002 group1 {ipB}\n");
        string trackerExtra = $"use_storage_id = true\nstorage_ids_filename = {ids}\nid_type_in_filename = id\n";
        await using var cluster = await Cluster.StartAsync(
            trackerExtra, new StorageSpec(Ip: ipA), new StorageSpec(Ip: ipB, Extra: "server_id = 100002"));
        await using var client = cluster.CreateClient();
        var first = Random(3000, 1);
        var before = await client.UploadAsync(first, "bin");
        await ReplicationTests.AssertOnAllAsync(cluster, before, first, Timeout);

        // 100002 comes back from another address: the tracker keeps the ID and records the new IP.
        await cluster.Storages[1].MoveToAsync(ipB2);
        await cluster.WaitAllActiveAsync();
        Assert.Equal(ipB2, (await client.ListStoragesAsync("group1", "100002")).Single().Ip);

        // New files from 100001 reach 100002 at its new address (its peer's sync worker follows the member list), and
        // files 100002 creates there reach 100001.
        var files = new List<(FileId Id, byte[] Content)>();
        for (int i = 0; i < 8; i++)
        {
            var content = Random(2000 + i, 10 + i);
            files.Add((await client.UploadAsync(content, "bin"), content));
        }

        Assert.Contains(files, f => Decode(f.Id).Source == "100001");
        Assert.Contains(files, f => Decode(f.Id).Source == "100002");
        foreach (var (id, content) in files.Append((before, first)))
        {
            await ReplicationTests.AssertOnAllAsync(cluster, id, content, Timeout);
        }
    }

    private static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static FileNameInfo Decode(FileId id)
    {
        Assert.True(FileNames.TryDecode(id.RemoteFileName, out var info), id.ToString());
        return info;
    }

    [Fact]
    public async Task Load_fdfs_parameters_from_tracker_follows_the_trackers_use_storage_id()
    {
        // A tracker without IDs: the client asks, learns use_storage_id = 0, fetches nothing and works as before.
        await using (var plain = await Cluster.StartAsync(new StorageSpec()))
        {
            await using var client = new FastDfs.Client.FastDfsClient(
                FastDfs.Client.FastDfsClientOptions.FromTrackers(plain.TrackerEndpoint) with { LoadFdfsParametersFromTracker = true });
            byte[] content = Encoding.UTF8.GetBytes("no ids");
            var id = await client.UploadAsync(content, "txt");
            Assert.Equal(content, await client.DownloadBytesAsync(id));
            Assert.Null(client.StorageIds);
        }

        // A tracker with IDs: the list arrives with the first request, page by page.
        string ip = Loopback.Next();
        Directory.CreateDirectory(_idsDir);
        string ids = Path.Combine(_idsDir, "storage_ids.conf");
        File.WriteAllText(ids, $"100001 group1 {ip}\n" + string.Concat(Enumerable.Range(2, 2999).Select(n => $"{100000 + n} group9 10.9.{n / 250}.{(n % 250) + 1}\n")));
        await using var cluster = await Cluster.StartAsync($"use_storage_id = true\nstorage_ids_filename = {ids}\n", new StorageSpec(Ip: ip));
        await using var learner = new FastDfs.Client.FastDfsClient(
            FastDfs.Client.FastDfsClientOptions.FromTrackers(cluster.TrackerEndpoint) with { LoadFdfsParametersFromTracker = true });
        Assert.Null(learner.StorageIds);
        Assert.NotEmpty(await learner.ListGroupsAsync());
        Assert.Equal(3000, learner.StorageIds!.Count); // about 84 KiB: two pages of at most 60 KiB
        Assert.Equal([ip], learner.StorageIds.Entries.Single(e => e.Id == "100001").Ips);
    }

    [Fact]
    public async Task A_storage_missing_from_storage_ids_conf_gets_no_id_and_does_not_join()
    {
        Directory.CreateDirectory(_idsDir);
        string ids = Path.Combine(_idsDir, "storage_ids.conf");
        File.WriteAllText(ids, "100001 group1 127.250.250.250\n");
        await using var cluster = await Cluster.StartAsync($"use_storage_id = true\nstorage_ids_filename = {ids}\n");
        var stranger = await cluster.AddStorageAsync(new StorageSpec());

        // GET_SERVER_ID (70) finds no line for it: the tracker says so, and the storage names the file to fix.
        Assert.True(await StorageProbe.WaitUntilAsync(
            () => Task.FromResult(cluster.Tracker!.LogTail.Contains("not in storage_ids.conf", StringComparison.Ordinal)), Timeout),
            cluster.Tracker!.LogTail);
        Assert.True(await StorageProbe.WaitUntilAsync(
            () => Task.FromResult(stranger.Process!.LogTail.Contains("add it to storage_ids.conf", StringComparison.Ordinal)), Timeout),
            stranger.Process!.LogTail);
        await using var client = cluster.CreateClient();
        Assert.Empty(await client.ListGroupsAsync());
    }

    [Fact]
    public async Task A_malformed_storage_ids_conf_stops_the_tracker_naming_the_line()
    {
        Directory.CreateDirectory(_idsDir);
        File.WriteAllText(Path.Combine(_idsDir, "ids.conf"), "100001 group1 127.0.0.2\n100002 group1 no-such-host.invalid\n");
        string conf = Path.Combine(_idsDir, "tracker.conf");
        File.WriteAllText(conf, $"base_path = {_idsDir}\nport = 0\nbind_addr = {Loopback.Next()}\nuse_storage_id = true\nstorage_ids_filename = ids.conf\n");

        var (fileName, prefixArgs) = Binaries.Resolve("fdfs-trackerd");
        var info = new System.Diagnostics.ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in prefixArgs)
        {
            info.ArgumentList.Add(arg);
        }

        info.ArgumentList.Add(conf);
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }

        string output = await stdout + await stderr;
        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains(Path.Combine(_idsDir, "ids.conf") + ":2:", output, StringComparison.Ordinal);
        Assert.Contains("host 'no-such-host.invalid' cannot be resolved", output, StringComparison.Ordinal);
    }
}
