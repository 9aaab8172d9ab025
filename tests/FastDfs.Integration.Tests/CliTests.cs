using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using FastDfs.Integration.Tests.TestKit;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>The `fdfs` command line against a real cluster: outputs, exit codes, error messages.</summary>
public sealed class CliTests(SingleStorageCluster fixture) : IClassFixture<SingleStorageCluster>
{
    private Cluster Cluster => fixture.Cluster;

    private Task<(int ExitCode, string Stdout, string Stderr)> FdfsAsync(params string[] args) =>
        FdfsCli.RunAsync(Cluster.TrackerEndpoint, args);

    private static async Task<(int Code, string Output)> RunAsync(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, output);
    }

    [Fact]
    public async Task Upload_info_meta_download_delete_round_trip()
    {
        string src = Path.Combine(Cluster.Root, "cli-src.txt");
        byte[] data = RandomNumberGenerator.GetBytes(70_000);
        File.WriteAllBytes(src, data);

        var (code, fileId, err) = await FdfsAsync("upload", src, "--meta", "width=1024", "--meta", "height=768");
        Assert.True(code == 0, err);
        Assert.Matches(@"^group1/M0[01]/[0-9A-F]{2}/[0-9A-F]{2}/\S+\.txt$", fileId);

        (code, string info, err) = await FdfsAsync("info", fileId);
        Assert.True(code == 0, err);
        Assert.Contains("70000", info, StringComparison.Ordinal);

        (code, string meta, err) = await FdfsAsync("meta", "get", fileId);
        Assert.True(code == 0, err);
        Assert.Contains("width", meta, StringComparison.Ordinal);
        Assert.Contains("1024", meta, StringComparison.Ordinal);

        string dst = Path.Combine(Cluster.Root, "cli-dst.txt");
        (code, _, err) = await FdfsAsync("download", fileId, dst);
        Assert.True(code == 0, err);
        Assert.Equal(data, File.ReadAllBytes(dst));

        // A FIFO (like /dev/null, a special file) is written in place, not replaced by a renamed temp file.
        string fifo = Path.Combine(Cluster.Root, "cli-fifo");
        Assert.Equal(0, (await RunAsync("mkfifo", fifo)).Code);
        var reader = Task.Run(() => File.ReadAllBytes(fifo));
        (code, _, err) = await FdfsAsync("download", fileId, fifo);
        Assert.True(code == 0, err);
        Assert.Equal(data, await reader.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("fifo", (await RunAsync("stat", "-c", "%F", fifo)).Output.Trim());

        (code, _, err) = await FdfsAsync("delete", fileId);
        Assert.True(code == 0, err);

        (code, _, err) = await FdfsAsync("download", fileId, dst + ".2");
        Assert.Equal(1, code);
        Assert.Contains("ENOENT", err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal); // no stack trace for a user error
        Assert.False(File.Exists(dst + ".2"));
    }

    [Fact]
    public async Task Bad_arguments_give_a_clear_error_and_exit_code()
    {
        var (code, _, err) = await FdfsAsync("download", "not-a-file-id", "/tmp/x");
        Assert.NotEqual(0, code);
        Assert.False(string.IsNullOrWhiteSpace(err));
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);

        (code, _, err) = await FdfsAsync("upload", Path.Combine(Cluster.Root, "does-not-exist.bin"));
        Assert.NotEqual(0, code);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);

        (code, _, _) = await FdfsAsync("no-such-command");
        Assert.Equal(2, code);
    }

    [Fact]
    public async Task Groups_storages_and_bench_report()
    {
        var (code, groups, err) = await FdfsAsync("groups");
        Assert.True(code == 0, err);
        Assert.Contains("group1", groups, StringComparison.Ordinal);

        (code, string storages, err) = await FdfsAsync("storages");
        Assert.True(code == 0, err);
        Assert.Contains(Cluster.Storages[0].Ip, storages, StringComparison.Ordinal);
        Assert.Contains("ACTIVE", storages, StringComparison.OrdinalIgnoreCase);

        (code, string bench, err) = await FdfsAsync("bench", "--op", "all", "-n", "200", "-s", "4K", "-c", "2");
        Assert.True(code == 0, err);
        Assert.Contains("ops/s", bench, StringComparison.Ordinal);
        Assert.Contains("p99", bench, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Storages_prints_an_fdfs_monitor_block_per_storage_within_80_columns_and_json()
    {
        string src = Path.Combine(Cluster.Root, "cli-monitor.txt");
        File.WriteAllText(src, "counted");
        var (code, fileId, err) = await FdfsAsync("upload", src);
        Assert.True(code == 0, err);

        // The storage sends its counters with the next beat (every second here): poll the JSON until they arrive.
        JsonElement storage = default;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            (code, string json, err) = await FdfsAsync("storages", "-g", "group1", "--json");
            Assert.True(code == 0, err);
            using var doc = JsonDocument.Parse(json);
            var group = Assert.Single(doc.RootElement.GetProperty("groups").EnumerateArray());
            Assert.Equal("group1", group.GetProperty("name").GetString());
            storage = Assert.Single(group.GetProperty("storages").EnumerateArray()).Clone();
            if (storage.GetProperty("stats").GetProperty("success_upload_count").GetInt64() >= 1 || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(250);
        }

        var stats = storage.GetProperty("stats");
        Assert.True(stats.GetProperty("success_upload_count").GetInt64() >= 1, stats.ToString());
        Assert.True(stats.GetProperty("success_upload_bytes").GetInt64() >= 7, stats.ToString());
        Assert.Equal(3 + 42, stats.EnumerateObject().Count()); // connection counters + every counter of the 348-byte block
        Assert.Equal(Cluster.Storages[0].Ip, storage.GetProperty("ip").GetString());
        Assert.Equal("ACTIVE", storage.GetProperty("status").GetString());
        Assert.Equal(2, storage.GetProperty("store_path_count").GetInt64());
        Assert.True(storage.GetProperty("total_mb").GetInt64() > 0);
        Assert.True(stats.GetProperty("last_heart_beat_time").GetInt64() > 0);
        Assert.Equal(JsonValueKind.Null, storage.GetProperty("sync").GetProperty("behind_seconds").ValueKind); // no peers

        (code, string text, err) = await FdfsAsync("storages", "-g", "group1");
        Assert.True(code == 0, err);
        Assert.All(text.Split('\n'), l => Assert.True(l.Length <= 80, $"line longer than 80 columns: '{l}'"));
        Assert.Contains($"storage 1  {Cluster.Storages[0].Endpoint}  ACTIVE", text, StringComparison.Ordinal);
        foreach (string label in (string[])["version", "joined", "up since", "total space", "free space", "upload priority", "store paths",
                     "subdirs/path", "connections", "last heartbeat", "source update", "sync update", "sync progress", "download", "set metadata",
                     "create link", "file write", "sync out"])
        {
            Assert.Contains(label, text, StringComparison.Ordinal);
        }

        Assert.Matches(@"(?m)^    upload +[1-9][\d,]* +[1-9][\d,]* +\d", text);
        Assert.Contains("no peers in the group", text, StringComparison.Ordinal);

        // The positional group still works; an unknown group is ENOENT with exit code 1.
        (code, string positional, err) = await FdfsAsync("storages", "group1");
        Assert.True(code == 0, err);
        Assert.Contains(Cluster.Storages[0].Endpoint, positional, StringComparison.Ordinal);
        (code, _, err) = await FdfsAsync("storages", "-g", "nosuchgroup");
        Assert.Equal(1, code);
        Assert.Contains("ENOENT", err, StringComparison.Ordinal);

        (code, _, err) = await FdfsAsync("delete", fileId);
        Assert.True(code == 0, err);
    }

    [Fact]
    public async Task Storages_shows_per_source_sync_progress_of_a_replicated_group()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec("group1"), new StorageSpec("group1"));
        await using var client = cluster.CreateClient();
        long before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var id = await client.UploadAsync("replicate me"u8.ToArray(), "txt");
        var info = await client.GetFileInfoAsync(id);
        var source = cluster.Storages.Single(s => s.Ip == info.SourceIp);
        var peer = cluster.Storages.Single(s => s != source);

        // The peer copies the file and reports how far it got; the tracker's matrix then shows it caught up.
        JsonElement sync = default;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var (code, json, err) = await FdfsCli.RunAsync(cluster.TrackerEndpoint, "storages", "-g", "group1", "--json");
            Assert.True(code == 0, err);
            using var doc = JsonDocument.Parse(json);
            var storages = doc.RootElement.GetProperty("groups")[0].GetProperty("storages").EnumerateArray().ToList();
            sync = storages.Single(s => s.GetProperty("ip").GetString() == peer.Ip).GetProperty("sync").Clone();
            var fromSource = sync.GetProperty("sources").EnumerateArray().Single(x => x.GetProperty("id").GetString() == source.Ip);
            bool caughtUp = sync.GetProperty("sources_basis").GetString() == "tracker"
                && fromSource.GetProperty("synced_up_to").ValueKind == JsonValueKind.Number
                && fromSource.GetProperty("synced_up_to").GetInt64() >= before
                && fromSource.GetProperty("behind_seconds").ValueKind == JsonValueKind.Number
                && fromSource.GetProperty("behind_seconds").GetInt64() == 0;
            if (caughtUp)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"peer {peer.Ip} not shown caught up with {source.Ip}: {sync}");
            await Task.Delay(250);
        }

        // The text view is a second call: the lag may have moved on since the JSON one, so only its shape is
        // checked, and a call that missed the tracker's matrix (a busy machine) is repeated until the deadline.
        string pattern = $@"(?m)^      from {Regex.Escape(source.Ip)} +synced up to .*, \d+ s behind$";
        string text;
        while (true)
        {
            (int exit, text, string error) = await FdfsCli.RunAsync(cluster.TrackerEndpoint, "storages", "-g", "group1");
            Assert.True(exit == 0, error);
            if (Regex.IsMatch(text, pattern))
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, text);
            await Task.Delay(250);
        }

        Assert.All(text.Split('\n'), l => Assert.True(l.Length <= 80, $"line longer than 80 columns: '{l}'"));
    }

    [Fact]
    public async Task Unreachable_tracker_fails_fast_with_a_message()
    {
        var (fileName, prefix) = Binaries.Resolve("fdfs");
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in prefix.Concat(["--tracker", "127.0.0.1:1", "groups"]))
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        string err = await process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        Assert.Equal(1, process.ExitCode);
        Assert.Contains("127.0.0.1:1", err, StringComparison.Ordinal);
    }
}
