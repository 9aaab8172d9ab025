using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>
/// IPv6 (FastDFS 6.11+, notes 2, 10, 11): a tracker and a storage on ::1, the storage known by its ID from
/// storage_ids.conf, names carrying the ID. With an IPv6 address in storage_ids.conf the tracker's automatic
/// <c>response_ip_addr_size</c> picks IPv6 fields (query 45, storage record 517, file info 70); forced to IPv4
/// the same cluster answers in the old sizes. A storage on IPv6 with IP-type names is refused.
/// </summary>
public sealed class IPv6Tests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "fdfs-v6-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly List<DaemonProcess> _daemons = [];

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var daemon in _daemons)
        {
            await daemon.DisposeAsync();
        }

        if (Environment.GetEnvironmentVariable("KEEP_TEST_DIRS") != "1" && Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Theory]
    [InlineData("auto", true)]
    [InlineData("IPv6", true)]
    [InlineData("IPv4", false)]
    public async Task Storage_on_ipv6_loopback_serves_client_and_cli(string responseIpAddrSize, bool ipv6Fields)
    {
        SkipUnlessIPv6Loopback();
        var (tracker, storage) = await StartClusterAsync($"use_storage_id = true\nid_type_in_filename = id\nresponse_ip_addr_size = {responseIpAddrSize}\n");
        Assert.StartsWith("[::1]:", tracker.Endpoint, StringComparison.Ordinal);
        Assert.StartsWith("[::1]:", storage.Endpoint, StringComparison.Ordinal);
        await using var client = new FastDfsClient(FastDfsClientOptions.FromTrackers(tracker.Endpoint) with
        {
            NetworkTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        });
        await WaitActiveAsync(client, tracker);

        // The listing names the storage by ID with its IPv6 address.
        var listed = Assert.Single(await client.ListStoragesAsync("group1"));
        Assert.Equal("100001", listed.Id);
        Assert.Equal("::1", listed.Ip);
        Assert.Equal(storage.Port, listed.StoragePort);

        // Wire sizes of the mode, as another FastDFS client would see them.
        int extra = ipv6Fields ? 30 : 0;
        var (status, body) = await RawAsync(tracker.Port, (byte)TrackerCommand.QueryStoreWithoutGroupOne, []);
        Assert.Equal(0, status);
        Assert.Equal(40 + extra, body.Length);
        Assert.Equal("::1", Encoding.ASCII.GetString(body, 16, 3));
        (status, body) = await RawAsync(tracker.Port, (byte)TrackerCommand.ListStorage, Field("group1", 16));
        Assert.Equal(0, status);
        Assert.Equal(487 + extra, body.Length);

        // Upload, name carries the ID, download, file info, fetch query, delete: through the client.
        byte[] content = Encoding.UTF8.GetBytes("over IPv6 " + new string('6', 5000));
        var id = await client.UploadAsync(content, "txt");
        Assert.True(FileNames.TryDecode(id.RemoteFileName, out var name));
        Assert.True(name.HasServerId);
        Assert.Equal("100001", name.Source);
        Assert.Equal(content, await client.DownloadBytesAsync(id));
        var info = await client.GetFileInfoAsync(id);
        Assert.Equal(content.Length, info.Size);
        Assert.Equal("::1", info.SourceIp);
        Assert.Equal(new Protocol.Messages.ServerAddress("::1", storage.Port), await client.QueryFetchAsync(id));

        byte[] fileRequest = [.. Field("group1", 16), .. Encoding.ASCII.GetBytes(id.RemoteFileName)];
        (status, body) = await RawAsync(tracker.Port, (byte)TrackerCommand.QueryFetchOne, fileRequest);
        Assert.Equal(0, status);
        Assert.Equal(39 + extra, body.Length);
        (status, body) = await RawAsync(storage.Port, (byte)StorageCommand.QueryFileInfo, fileRequest);
        Assert.Equal(0, status);
        Assert.Equal(40 + extra, body.Length);

        await client.DeleteAsync(id);
        await Assert.ThrowsAsync<FdfsServerException>(() => client.GetFileInfoAsync(id));

        // The same through the fdfs command line, the tracker given as [::1]:port.
        string src = Path.Combine(_root, "cli-src.bin");
        File.WriteAllBytes(src, content);
        var (code, fileId, err) = await FdfsCli.RunAsync(tracker.Endpoint, "upload", src);
        Assert.True(code == 0, err);
        (code, string text, err) = await FdfsCli.RunAsync(tracker.Endpoint, "info", fileId);
        Assert.True(code == 0, err);
        Assert.Matches(@"source:\s+::1\b", text);
        string dst = Path.Combine(_root, "cli-dst.bin");
        (code, _, err) = await FdfsCli.RunAsync(tracker.Endpoint, "download", fileId, dst);
        Assert.True(code == 0, err);
        Assert.Equal(content, File.ReadAllBytes(dst));
        (code, text, err) = await FdfsCli.RunAsync(tracker.Endpoint, "storages", "group1");
        Assert.True(code == 0, err);
        Assert.Contains($"[::1]:{storage.Port}", text, StringComparison.Ordinal);
        Assert.Contains("100001", text, StringComparison.Ordinal);
        (code, _, err) = await FdfsCli.RunAsync(tracker.Endpoint, "delete", fileId);
        Assert.True(code == 0, err);
        (code, _, _) = await FdfsCli.RunAsync(tracker.Endpoint, "info", fileId);
        Assert.NotEqual(0, code);
    }

    [Fact]
    public async Task Ipv6_storage_with_ip_type_file_names_is_refused()
    {
        SkipUnlessIPv6Loopback();
        var (tracker, storage) = await StartClusterAsync("use_storage_id = false\n", waitJoin: false);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!storage.LogTail.Contains("id_type_in_filename = id", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Contains("is IPv6, which file names cannot carry", storage.LogTail, StringComparison.Ordinal);
        var (status, _) = await RawAsync(tracker.Port, (byte)TrackerCommand.ListStorage, Field("group1", 16));
        Assert.Equal(FdfsErrno.ENOENT, status);
    }

    private async Task<(DaemonProcess Tracker, DaemonProcess Storage)> StartClusterAsync(string trackerExtra, bool waitJoin = true)
    {
        string ids = Path.Combine(_root, "storage_ids.conf");
        File.WriteAllText(ids, "# id     group   address\n100001   group1  [::1]\n");
        string trackerDir = Path.Combine(_root, "tracker");
        Directory.CreateDirectory(trackerDir);
        string trackerConf = Path.Combine(trackerDir, "tracker.conf");
        File.WriteAllText(trackerConf, $"""
            bind_addr = ::1
            port = 0
            base_path = {trackerDir}
            check_active_interval = 5
            store_lookup = 0
            reserved_storage_space = 1%
            storage_ids_filename = {ids}
            {trackerExtra}
            """);
        var tracker = await DaemonProcess.StartAsync("fdfs-trackerd", trackerConf, "tracker");
        _daemons.Add(tracker);

        string storageDir = Path.Combine(_root, "storage");
        Directory.CreateDirectory(storageDir);
        string storageConf = Path.Combine(storageDir, "storage.conf");
        File.WriteAllText(storageConf, $"""
            group_name = group1
            bind_addr = [::1]
            client_bind = true
            port = 0
            base_path = {storageDir}
            store_path_count = 1
            store_path0 = {storageDir}
            subdir_count_per_path = 4
            tracker_server = {tracker.Endpoint}
            heart_beat_interval = 1
            stat_report_interval = 1
            """);
        var storage = await DaemonProcess.StartAsync("fdfs-storaged", storageConf, "storage");
        _daemons.Add(storage);
        return (tracker, storage);
    }

    private static async Task WaitActiveAsync(FastDfsClient client, DaemonProcess tracker)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        string last = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var listed = await client.ListStoragesAsync("group1");
                last = string.Join(", ", listed.Select(s => $"{s.Id}={s.Status}"));
                if (listed.Count == 1 && listed[0].Status == StorageStatus.Active)
                {
                    return;
                }
            }
            catch (Exception e) when (e is FdfsException or IOException)
            {
                last = e.Message;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"storage not ACTIVE: {last}\ntracker log:\n{tracker.LogTail}");
    }

    /// <summary>One request on a fresh connection to ::1, answered as raw bytes: the sizes other clients see.</summary>
    private static async Task<(byte Status, byte[] Body)> RawAsync(int port, byte command, byte[] body)
    {
        using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.IPv6Loopback, port);
        await using var stream = new NetworkStream(socket);
        var header = new byte[FdfsConstants.HeaderSize];
        BinaryPrimitives.WriteInt64BigEndian(header, body.Length);
        header[8] = command;
        await stream.WriteAsync(header);
        await stream.WriteAsync(body);
        await stream.ReadExactlyAsync(header);
        var response = new byte[BinaryPrimitives.ReadInt64BigEndian(header)];
        await stream.ReadExactlyAsync(response);
        return (header[9], response);
    }

    private static byte[] Field(string text, int width)
    {
        var field = new byte[width];
        Encoding.ASCII.GetBytes(text, field);
        return field;
    }

    private static void SkipUnlessIPv6Loopback()
    {
        // Containers without ::1 cannot run these; FastDFS's IPv6 support is then untestable here, not broken.
        using var probe = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
    }
}
