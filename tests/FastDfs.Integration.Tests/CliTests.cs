using System.Diagnostics;
using System.Security.Cryptography;
using FastDfs.Integration.Tests.TestKit;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>The `fdfs` command line against a real cluster: outputs, exit codes, error messages.</summary>
public sealed class CliTests(SingleStorageCluster fixture) : IClassFixture<SingleStorageCluster>
{
    private Cluster Cluster => fixture.Cluster;

    private async Task<(int ExitCode, string Stdout, string Stderr)> FdfsAsync(params string[] args)
    {
        var (fileName, prefix) = Binaries.Resolve("fdfs");
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in prefix.Concat(args))
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["FDFS_TRACKERS"] = Cluster.TrackerEndpoint;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, (await stdout).Trim(), (await stderr).Trim());
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
