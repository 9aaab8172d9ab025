using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>The independent npm client `fdfs` (tests/compat) against our daemons, and files crossing between the two clients.</summary>
public sealed class NpmCompatibilityTests(SingleStorageCluster fixture) : IClassFixture<SingleStorageCluster>
{
    private Cluster Cluster => fixture.Cluster;

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunCompatAsync(params string[] args)
    {
        string dir = Path.Combine(Binaries.RepoRoot, "tests", "compat");
        Assert.True(Directory.Exists(Path.Combine(dir, "node_modules", "fdfs")),
            "npm packages missing: run `npm ci` in tests/compat (scripts/test.sh does it)");
        var info = new ProcessStartInfo("node") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("compat.mjs");
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Npm_client_full_suite_passes()
    {
        string work = Path.Combine(Cluster.Root, "npm-basic");
        Directory.CreateDirectory(work);
        var (code, stdout, stderr) = await RunCompatAsync("--tracker", Cluster.TrackerEndpoint, "--workdir", work);
        var result = JsonNode.Parse(stdout.Trim().Split('\n')[^1])!;
        Assert.True(code == 0, $"npm suite failed: {result["failed"]?.ToJsonString()}\n{stderr}");
        Assert.True(result["passed"]!.AsArray().Count >= 10, stdout);
        Assert.Empty(result["failed"]!.AsArray());
    }

    [Fact]
    public async Task Files_uploaded_by_npm_are_read_byte_identical_by_our_client()
    {
        string work = Path.Combine(Cluster.Root, "npm-up");
        Directory.CreateDirectory(work);
        string list = Path.Combine(work, "uploaded.json");
        var (code, stdout, stderr) = await RunCompatAsync("--tracker", Cluster.TrackerEndpoint, "--workdir", work, "--upload-out", list);
        Assert.True(code == 0, stdout + stderr);

        var files = JsonNode.Parse(File.ReadAllText(list))!.AsArray();
        Assert.True(files.Count >= 3);
        await using var client = Cluster.CreateClient();
        foreach (var file in files)
        {
            var id = FileId.Parse(file!["fileId"]!.GetValue<string>());
            byte[] data = await client.DownloadBytesAsync(id);
            Assert.Equal(file["sha256"]!.GetValue<string>(), Convert.ToHexStringLower(SHA256.HashData(data)));
            if (file["metadata"] is JsonObject meta && meta.Count > 0)
            {
                var ours = await client.GetMetadataAsync(id);
                foreach (var (key, value) in meta)
                {
                    Assert.Equal(value!.GetValue<string>(), ours[key]);
                }
            }
        }
    }

    [Fact]
    public async Task Files_uploaded_by_our_client_are_read_byte_identical_by_npm()
    {
        await using var client = Cluster.CreateClient();
        var entries = new JsonArray();
        foreach (int size in new[] { 1, 4096, 300_000, 2_000_000 })
        {
            byte[] data = RandomNumberGenerator.GetBytes(size);
            var meta = new Dictionary<string, string> { ["size"] = size.ToString(System.Globalization.CultureInfo.InvariantCulture), ["by"] = "csharp" };
            var id = await client.UploadAsync(data, "bin", meta);
            entries.Add(new JsonObject
            {
                ["fileId"] = id.ToString(),
                ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(data)),
                ["size"] = size,
                ["metadata"] = new JsonObject { ["size"] = meta["size"], ["by"] = "csharp" },
            });
        }

        string work = Path.Combine(Cluster.Root, "npm-verify");
        Directory.CreateDirectory(work);
        string list = Path.Combine(work, "ours.json");
        File.WriteAllText(list, entries.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        var (code, stdout, stderr) = await RunCompatAsync("--tracker", Cluster.TrackerEndpoint, "--workdir", work, "--verify-in", list);
        Assert.True(code == 0, stdout + stderr);
    }
}
