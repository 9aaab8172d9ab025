using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using Microsoft.Extensions.Logging;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>
/// FastDFS 6 dual-IP servers (protocol notes 11) on real daemons. FastDFS counts every 127.x address as "outer", so
/// the inner side is a private 10.x address this test adds to <c>lo</c> (as root) and removes again.
/// </summary>
public sealed class DualIpTests : IAsyncLifetime
{
    private readonly string _inner = $"10.200.{Environment.ProcessId % 250}.{Random.Shared.Next(2, 250)}";
    private readonly string _root = Path.Combine(Path.GetTempPath(), "fdfs-dualip-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly List<DaemonProcess> _daemons = [];
    private bool _added;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        await IpAsync("addr", "add", _inner + "/32", "dev", "lo");
        _added = true;
    }

    public async Task DisposeAsync()
    {
        foreach (var d in _daemons)
        {
            await d.DisposeAsync();
        }

        if (_added)
        {
            await IpAsync("addr", "del", _inner + "/32", "dev", "lo");
        }

        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task Callers_of_each_kind_get_the_storage_address_of_their_kind_and_transfer_through_it()
    {
        // Tracker and storage listen on every address, so both are reachable at the inner and at 127.x addresses.
        string outerStorage = Loopback.Next(), outerTracker = Loopback.Next();
        string ids = Write("storage_ids.conf", $"100001 group1 {outerStorage},{_inner}\n"); // outer first: kept inner first
        var tracker = await StartIdTrackerAsync(ids);
        await StartAsync("fdfs-storaged", "storage", $"""
            group_name = group1
            bind_addr =
            port = 0
            server_id = 100001
            base_path = {Dir("storage")}
            store_path0 = {Dir("storage/store0")}
            subdir_count_per_path = 4
            tracker_server = {outerTracker}:{tracker.Port}
            heart_beat_interval = 1
            stat_report_interval = 1
            """);

        foreach (var (trackerIp, expected) in new[] { (outerTracker, outerStorage), (_inner, _inner) })
        {
            // A client's source address is the tracker address it dials here: 10.x -> inner caller, 127.x -> outer.
            await using var client = Cluster.CreateClientFor(TimeSpan.FromSeconds(10), $"{trackerIp}:{tracker.Port}");
            await WaitActiveAsync(client);

            var listed = Assert.Single(await client.ListStoragesAsync("group1"));
            Assert.Equal("100001", listed.Id);
            Assert.Equal(expected, listed.Ip);
            var target = await client.QueryStoreAsync();
            Assert.Equal(expected, target.Storage.Ip);

            byte[] content = Encoding.UTF8.GetBytes($"dual ip via {trackerIp} " + new string('d', 3000));
            var id = await client.UploadAsync(content, "txt");
            Assert.Equal(expected, (await client.QueryFetchAsync(id)).Ip);
            Assert.Equal([expected], (await client.QueryFetchAllAsync(id)).Select(s => s.Ip));
            Assert.Equal(expected, (await client.QueryUpdateAsync(id)).Ip);
            Assert.Equal(content, await client.DownloadBytesAsync(id));
        }
    }

    [Fact]
    public async Task A_dead_first_tracker_address_is_passed_over_for_the_second()
    {
        // The tracker listens on one 127.x address only: its inner address is on lo but refuses connections.
        string trackerIp = Loopback.Next();
        var tracker = await StartAsync("fdfs-trackerd", "tracker", $"""
            bind_addr = {trackerIp}
            port = 0
            base_path = {Dir("tracker")}
            check_active_interval = 5
            reserved_storage_space = 1%
            """);
        string pair = $"{_inner},{trackerIp}:{tracker.Port}";
        string storageIp = Loopback.Next();
        await StartAsync("fdfs-storaged", "storage", $"""
            group_name = group1
            bind_addr = {storageIp}
            port = 0
            base_path = {Dir("storage")}
            store_path0 = {Dir("storage/store0")}
            subdir_count_per_path = 4
            tracker_server = {pair}
            heart_beat_interval = 1
            stat_report_interval = 1
            """);

        await using var client = Cluster.CreateClientFor(TimeSpan.FromSeconds(10), pair);
        await WaitActiveAsync(client);
        Assert.Equal(storageIp, Assert.Single(await client.ListStoragesAsync("group1")).Ip);
        byte[] content = Encoding.UTF8.GetBytes("through the second tracker address");
        var id = await client.UploadAsync(content, "bin");
        Assert.Equal(content, await client.DownloadBytesAsync(id));
    }

    [Fact]
    public async Task A_storage_address_that_does_not_answer_is_passed_over_for_its_other_address()
    {
        var (trackerPort, outerStorage, ids) = await StartStorageOnItsOuterAddressOnlyAsync();
        var log = new EventLog();
        await using var client = new FastDfsClient(InnerClientOptions(trackerPort, ids, ConnectFirstBy.Tracker, log));

        // An inner caller is given the inner address, where nothing listens; the client falls back to the outer one.
        Assert.Equal(_inner, (await client.QueryStoreAsync()).Storage.Ip);
        byte[] content = Encoding.UTF8.GetBytes("through the other address " + new string('o', 5000));
        var id = await client.UploadAsync(content, "txt");
        Assert.Equal(_inner, (await client.QueryFetchAsync(id)).Ip);
        Assert.Equal(content, await client.DownloadBytesAsync(id));
        Assert.Equal(content.Length, (await client.GetFileInfoAsync(id)).Response.FileSize);

        var fallback = Assert.Single(log.Events, e => e.Id == 4007);
        Assert.Contains($"address {_inner} failed", fallback.Message, StringComparison.Ordinal);
        Assert.EndsWith($"trying its other address {outerStorage}", fallback.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_load_fdfs_parameters_from_tracker_the_client_learns_the_ids_and_still_finds_the_other_address()
    {
        var (trackerPort, outerStorage, _) = await StartStorageOnItsOuterAddressOnlyAsync();
        string conf = Write("client.conf", $"""
            tracker_server = {_inner}:{trackerPort}
            connect_timeout = 5
            network_timeout = 10
            load_fdfs_parameters_from_tracker = true
            use_storage_id = false
            storage_ids_filename = /nonexistent/storage_ids.conf
            """);
        var log = new EventLog();
        var options = FastDfsClientOptions.FromConfig(FdfsConfigFile.Load(conf)) with { LoggerFactory = log };
        Assert.Null(options.StorageIds); // client.conf's own use_storage_id and file are ignored, as by the C client
        await using var client = new FastDfsClient(options);

        byte[] content = Encoding.UTF8.GetBytes("ids from the tracker " + new string('t', 4000));
        var id = await client.UploadAsync(content, "bin");
        Assert.Equal(content, await client.DownloadBytesAsync(id));
        var entry = Assert.Single(client.StorageIds!.Entries);
        Assert.Equal(["100001"], [entry.Id]);
        Assert.Contains(log.Events, e => e.Id == 4008);
        Assert.Contains(log.Events, e => e.Id == 4007 && e.Message.EndsWith($"trying its other address {outerStorage}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Last_connected_goes_straight_to_the_address_that_worked()
    {
        var (trackerPort, outerStorage, ids) = await StartStorageOnItsOuterAddressOnlyAsync();
        byte[] content = Encoding.UTF8.GetBytes("last connected " + new string('l', 3000));

        // Without a connection pool every operation connects anew, so each one shows which address it tried first.
        foreach (var (mode, expectedFallbacks) in new[] { (ConnectFirstBy.Tracker, 3), (ConnectFirstBy.LastConnected, 1) })
        {
            var log = new EventLog();
            await using var client = new FastDfsClient(InnerClientOptions(trackerPort, ids, mode, log) with { UseConnectionPool = false });
            var id = await client.UploadAsync(content, "bin");
            Assert.Equal(content, await client.DownloadBytesAsync(id));
            Assert.Equal(content, await client.DownloadBytesAsync(id));
            var fallbacks = log.Events.Where(e => e.Id == 4007).ToList();
            Assert.True(
                fallbacks.Count == expectedFallbacks,
                $"{mode}: {fallbacks.Count} fallbacks, expected {expectedFallbacks}: {string.Join(" | ", fallbacks.Select(e => e.Message))}");
            Assert.All(fallbacks, e => Assert.EndsWith($"trying its other address {outerStorage}", e.Message, StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// A tracker on every address and a dual-IP storage (outer 127.x + inner 10.x) that listens on its outer address
    /// only, so the inner address the tracker gives inner callers refuses connections.
    /// </summary>
    private async Task<(int TrackerPort, string OuterStorage, StorageIdMap Ids)> StartStorageOnItsOuterAddressOnlyAsync()
    {
        string outerStorage = Loopback.Next(), outerTracker = Loopback.Next();
        string ids = Write("storage_ids.conf", $"100001 group1 {outerStorage},{_inner}\n");
        var tracker = await StartIdTrackerAsync(ids);
        await StartAsync("fdfs-storaged", "storage", $"""
            group_name = group1
            bind_addr = {outerStorage}
            port = 0
            server_id = 100001
            base_path = {Dir("storage")}
            store_path0 = {Dir("storage/store0")}
            subdir_count_per_path = 4
            tracker_server = {outerTracker}:{tracker.Port}
            heart_beat_interval = 1
            stat_report_interval = 1
            """);
        await using (var probe = Cluster.CreateClientFor(TimeSpan.FromSeconds(10), $"{outerTracker}:{tracker.Port}"))
        {
            await WaitActiveAsync(probe);
        }

        return (tracker.Port, outerStorage, StorageIdMap.Load(ids));
    }

    /// <summary>A client that reaches the tracker at the inner address (so it is an inner caller) and knows the storage IDs.</summary>
    private FastDfsClientOptions InnerClientOptions(int trackerPort, StorageIdMap ids, ConnectFirstBy mode, EventLog log) =>
        FastDfsClientOptions.FromTrackers($"{_inner}:{trackerPort}") with
        {
            NetworkTimeout = TimeSpan.FromSeconds(10),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            UseStorageId = true,
            StorageIds = ids,
            ConnectFirstBy = mode,
            LoggerFactory = log,
        };

    private static async Task WaitActiveAsync(FastDfsClient client)
    {
        var deadline = Stopwatch.StartNew();
        string last = "no answer";
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                var listed = await client.ListStoragesAsync("group1");
                if (listed.Count > 0 && listed.All(s => s.Status == StorageStatus.Active))
                {
                    return;
                }

                last = string.Join(", ", listed.Select(s => $"{s.Id}={s.Status}"));
            }
            catch (Exception e) when (e is FdfsException or IOException)
            {
                last = e.Message;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException("storage not ACTIVE: " + last);
    }

    /// <summary>A tracker on every address in ID mode with IDs in file names, reading <paramref name="ids"/>.</summary>
    private Task<DaemonProcess> StartIdTrackerAsync(string ids) => StartAsync("fdfs-trackerd", "tracker", $"""
        bind_addr =
        port = 0
        base_path = {Dir("tracker")}
        check_active_interval = 5
        reserved_storage_space = 1%
        use_storage_id = true
        storage_ids_filename = {ids}
        id_type_in_filename = id
        """);

    private async Task<DaemonProcess> StartAsync(string program, string role, string config)
    {
        string path = Write(role + ".conf", config);
        var daemon = await DaemonProcess.StartAsync(program, path, role);
        _daemons.Add(daemon);
        return daemon;
    }

    private string Dir(string name)
    {
        string path = Path.Combine(_root, name);
        Directory.CreateDirectory(path);
        return path;
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_root, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static async Task IpAsync(params string[] args)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        string error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"ip {string.Join(' ', args)} failed ({process.ExitCode}): {error}"));
        }
    }

    /// <summary>Collects the client's log events (id and formatted message) for the assertions.</summary>
    private sealed class EventLog : ILoggerFactory, ILogger
    {
        private readonly ConcurrentQueue<(int Id, string Message)> _events = new();

        public IReadOnlyList<(int Id, string Message)> Events => [.. _events];

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _events.Enqueue((eventId.Id, formatter(state, exception)));

        public void Dispose()
        {
        }
    }
}
