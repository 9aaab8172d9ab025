using System.Globalization;
using System.Text;
using FastDfs.Client;
using FastDfs.Protocol;

namespace FastDfs.Integration.Tests.TestKit;

/// <summary>
/// Settings of one storage daemon in a test cluster. <paramref name="FileSizeLimit"/>: the daemon runs under that
/// RLIMIT_FSIZE (bytes; writes past it fail with EFBIG). <paramref name="TmpfsBytes"/>: store path 0 is a tmpfs of that
/// size, mounted in a mount namespace of the daemon's own (unshare), so the disk fills up (ENOSPC) and vanishes with it.
/// </summary>
public sealed record StorageSpec(string Group = "group1", int StorePaths = 1, string Extra = "", string? Ip = null, long? FileSizeLimit = null, long? TmpfsBytes = null);

/// <summary>
/// A real cluster on loopback: one tracker process and storage processes, each with its own 127.x address,
/// ephemeral ports, and data under a temp folder that is removed on dispose (kept when KEEP_TEST_DIRS=1).
/// </summary>
public sealed class Cluster : IAsyncDisposable
{
    private readonly List<StorageNode> _storages = [];
    private readonly List<TrackerNode> _extraTrackers = [];

    private Cluster(string root) => Root = root;

    public string Root { get; }

    public string TrackerIp { get; } = Loopback.Next();

    public DaemonProcess? Tracker { get; private set; }

    public string TrackerEndpoint => Tracker?.Endpoint ?? throw new InvalidOperationException("tracker not started");

    public IReadOnlyList<StorageNode> Storages => _storages;

    /// <summary>Trackers besides <see cref="Tracker"/> (multi-tracker tests); storages added later list them all.</summary>
    public IReadOnlyList<TrackerNode> ExtraTrackers => _extraTrackers;

    /// <summary>Every tracker's endpoint, the first tracker's first.</summary>
    public IReadOnlyList<string> AllTrackerEndpoints => [TrackerEndpoint, .. _extraTrackers.Select(t => t.Endpoint)];

    /// <summary>
    /// Adds a tracker with its own address and a fixed port; started now unless <paramref name="start"/> is false.
    /// <paramref name="extraConfig"/> replaces <see cref="TrackerExtraConfig"/> for this tracker (e.g. another store_lookup).
    /// </summary>
    public async Task<TrackerNode> AddTrackerAsync(bool start = true, string? extraConfig = null)
    {
        var node = new TrackerNode(Root, extraConfig ?? TrackerExtraConfig);
        _extraTrackers.Add(node);
        if (start)
        {
            await node.StartAsync();
        }

        return node;
    }

    public string TrackerExtraConfig { get; init; } = string.Empty;

    public static async Task<Cluster> StartAsync(params StorageSpec[] storages) => await StartAsync(string.Empty, storages);

    /// <summary>
    /// Two trackers serving one namespace from the PostgreSQL schema <paramref name="store"/> (the second is
    /// <see cref="ExtraTrackers"/>[0]) and one storage, ACTIVE on both; orphans are collected at once.
    /// </summary>
    public static async Task<Cluster> StartSharedNamespaceAsync(string store)
    {
        var cluster = await StartAsync($"namespace_orphan_delay = 0\nnamespace_store = {store}");
        try
        {
            var second = await cluster.AddTrackerAsync();
            await cluster.AddStorageAsync(new StorageSpec());
            await cluster.WaitAllActiveAsync();
            await cluster.WaitAllActiveAsync(tracker: second.Endpoint);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public static async Task<Cluster> StartAsync(string trackerExtra, params StorageSpec[] storages)
    {
        string root = Path.Combine(Path.GetTempPath(), "fdfs-it-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(root);
        var cluster = new Cluster(root) { TrackerExtraConfig = trackerExtra };
        try
        {
            await cluster.StartTrackerAsync();
            foreach (var spec in storages)
            {
                await cluster.AddStorageAsync(spec);
            }

            await cluster.WaitAllActiveAsync();
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    public string TrackerConfigPath => Path.Combine(Root, "tracker", "tracker.conf");

    public async Task StartTrackerAsync(int port = 0)
    {
        string dir = Path.Combine(Root, "tracker");
        Directory.CreateDirectory(dir);
        if (!File.Exists(TrackerConfigPath) || port != 0)
        {
            File.WriteAllText(TrackerConfigPath, $"""
                disabled = false
                bind_addr = {TrackerIp}
                port = {port}
                base_path = {dir}
                check_active_interval = 5
                store_lookup = 0
                store_server = 0
                store_path = 0
                download_server = 0
                reserved_storage_space = 1%
                {TrackerExtraConfig}
                """);
        }

        Tracker = await DaemonProcess.StartAsync("fdfs-trackerd", TrackerConfigPath, "tracker");
    }

    /// <summary>Restarts the tracker on the same address and port (storages reconnect to it).</summary>
    public async Task RestartTrackerAsync(bool hard = false)
    {
        int port = Tracker!.Port;
        if (hard)
        {
            await Tracker.KillHardAsync();
        }
        else
        {
            await Tracker.StopAsync();
        }

        await Tracker.DisposeAsync();
        string text = File.ReadAllText(TrackerConfigPath);
        File.WriteAllText(TrackerConfigPath, System.Text.RegularExpressions.Regex.Replace(text, @"(?m)^\s*port = \d+", $"port = {port}"));
        Tracker = await DaemonProcess.StartAsync("fdfs-trackerd", TrackerConfigPath, "tracker");
    }

    public async Task<StorageNode> AddStorageAsync(StorageSpec spec)
    {
        string ip = spec.Ip ?? Loopback.Next(); // a fixed IP when storage_ids.conf must name it
        string dir = Path.Combine(Root, "storage-" + ip);
        Directory.CreateDirectory(dir);
        var paths = Enumerable.Range(0, spec.StorePaths).Select(i => Path.Combine(dir, "store" + i)).ToList();
        paths.ForEach(p => Directory.CreateDirectory(p));
        var conf = new StringBuilder();
        conf.AppendLine(CultureInfo.InvariantCulture, $"group_name = {spec.Group}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"bind_addr = {ip}");
        conf.AppendLine("client_bind = true");
        // In IP mode FastDFS requires one port per group: later storages of a group take the first one's.
        int port = _storages.FirstOrDefault(n => n.Group == spec.Group)?.Process?.Port ?? 0;
        conf.AppendLine(CultureInfo.InvariantCulture, $"port = {port}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"base_path = {dir}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"store_path_count = {spec.StorePaths}");
        for (int i = 0; i < paths.Count; i++)
        {
            conf.AppendLine(CultureInfo.InvariantCulture, $"store_path{i} = {paths[i]}");
        }

        conf.AppendLine("subdir_count_per_path = 4");
        foreach (string tracker in AllTrackerEndpoints)
        {
            conf.AppendLine(CultureInfo.InvariantCulture, $"tracker_server = {tracker}");
        }

        conf.AppendLine("heart_beat_interval = 1");
        conf.AppendLine("stat_report_interval = 1");
        conf.AppendLine(spec.Extra);
        string confPath = Path.Combine(dir, "storage.conf");
        File.WriteAllText(confPath, conf.ToString());
        var node = new StorageNode(ip, dir, paths, confPath, spec.Group) { Launcher = Launcher(spec, paths) };
        await node.StartAsync();
        _storages.Add(node);
        return node;
    }

    private static List<string> Launcher(StorageSpec spec, List<string> paths)
    {
        var launcher = new List<string>();
        if (spec.FileSizeLimit is long limit)
        {
            // .NET's W^X double mapping sizes a memory file past any small limit and the runtime fails to start.
            launcher.AddRange(["env", "DOTNET_EnableWriteXorExecute=0", "prlimit", string.Create(CultureInfo.InvariantCulture, $"--fsize={limit}"), "--"]);
        }

        if (spec.TmpfsBytes is long bytes)
        {
            // root may mount in a new mount namespace; anyone else in a user namespace of their own as well.
            launcher.AddRange(["unshare", Environment.UserName == "root" ? "-m" : "-Urm", "--", "sh", "-c",
                "mount -t tmpfs -o size=$0 tmpfs \"$1\" && shift && exec \"$@\"", bytes.ToString(CultureInfo.InvariantCulture), paths[0]]);
        }

        return launcher;
    }

    public FastDfsClient CreateClient(TimeSpan? timeout = null) => CreateClientFor(timeout, TrackerEndpoint);

    /// <summary>A client of the given trackers (failover between them).</summary>
    public static FastDfsClient CreateClientFor(TimeSpan? timeout, params string[] trackers) =>
        new(FastDfsClientOptions.FromTrackers(trackers) with
        {
            NetworkTimeout = timeout ?? TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        });

    /// <summary>Waits until the tracker lists every running storage as ACTIVE.</summary>
    public async Task WaitAllActiveAsync(TimeSpan? timeout = null, string? tracker = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        await using var client = CreateClientFor(TimeSpan.FromSeconds(5), tracker ?? TrackerEndpoint);
        string last = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                bool all = true;
                var sb = new StringBuilder();
                foreach (var group in _storages.Where(s => s.Process is { HasExited: false }).GroupBy(s => s.Group))
                {
                    var listed = await client.ListStoragesAsync(group.Key);
                    foreach (var node in group)
                    {
                        var info = listed.FirstOrDefault(s => s.Ip == node.Ip);
                        sb.Append(CultureInfo.InvariantCulture, $"{node.Ip}={info?.Status.ToString() ?? "absent"} ");
                        all &= info?.Status == StorageStatus.Active;
                    }
                }

                last = sb.ToString();
                if (all)
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

        throw new TimeoutException($"storages not ACTIVE: {last}\ntracker log:\n{Tracker?.LogTail}");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _storages)
        {
            await node.DisposeAsync();
        }

        foreach (var tracker in _extraTrackers)
        {
            await tracker.DisposeAsync();
        }

        if (Tracker is not null)
        {
            await Tracker.DisposeAsync();
        }

        if (Environment.GetEnvironmentVariable("KEEP_TEST_DIRS") != "1")
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
                // A file still open by a dying process; the OS temp cleaner gets it.
            }
        }
    }
}

/// <summary>One storage daemon of a test cluster; can be stopped, killed and restarted on the same port.</summary>
public sealed class StorageNode(string ip, string baseDir, IReadOnlyList<string> storePaths, string configPath, string group) : IAsyncDisposable
{
    public string Ip { get; private set; } = ip;

    public string BaseDir { get; } = baseDir;

    public IReadOnlyList<string> StorePaths { get; } = storePaths;

    public string ConfigPath { get; } = configPath;

    public string Group { get; } = group;

    public DaemonProcess? Process { get; private set; }

    /// <summary>What runs the daemon (see <see cref="StorageSpec"/>); empty: started directly.</summary>
    public IReadOnlyList<string> Launcher { get; init; } = [];

    public string Endpoint => Process?.Endpoint ?? throw new InvalidOperationException("storage not started");

    public async Task StartAsync()
    {
        Process = await DaemonProcess.StartAsync("fdfs-storaged", ConfigPath, "storage", launcher: Launcher);
        if (!File.ReadAllText(ConfigPath).Contains("\nport = " + Process.Port, StringComparison.Ordinal))
        {
            // Keep the port across restarts: FastDFS requires a group's storages to keep theirs.
            string text = System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(ConfigPath), @"(?m)^port = \d+", "port = " + Process.Port);
            File.WriteAllText(ConfigPath, text);
        }
    }

    public async Task KillHardAsync() => await Process!.KillHardAsync();

    public async Task RestartAsync()
    {
        if (Process is not null)
        {
            await Process.DisposeAsync();
        }

        await StartAsync();
    }

    /// <summary>Stops the storage and starts it again from another address, same data and port (a server that moved).</summary>
    public async Task MoveToAsync(string newIp)
    {
        if (Process is not null)
        {
            int exit = await Process.StopAsync();
            await Process.DisposeAsync();
            if (exit != 0)
            {
                throw new InvalidOperationException($"storage {Ip} exited with {exit} when stopped");
            }
        }

        string text = File.ReadAllText(ConfigPath);
        File.WriteAllText(ConfigPath, System.Text.RegularExpressions.Regex.Replace(text, @"(?m)^bind_addr = .*$", "bind_addr = " + newIp));
        Ip = newIp;
        await StartAsync();
    }

    /// <summary>Every regular data file under the store paths' data directories (excluding temp and mark files).</summary>
    public IEnumerable<string> DataFiles() => StorePaths
        .SelectMany(p => Directory.Exists(Path.Combine(p, "data"))
            ? Directory.EnumerateFiles(Path.Combine(p, "data"), "*", SearchOption.AllDirectories)
            : [])
        .Where(f => !Path.GetRelativePath(BaseDir, f).Split(Path.DirectorySeparatorChar).Any(part => part.StartsWith('.')))
        .Where(f => !f.EndsWith("-m", StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        if (Process is not null)
        {
            await Process.DisposeAsync();
        }
    }
}
