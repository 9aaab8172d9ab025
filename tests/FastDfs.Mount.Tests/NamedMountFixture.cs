using System.Diagnostics;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Mount.Tests;

/// <summary>
/// A real cluster whose tracker serves the directory service (SQLite), one storage, and one fdfs-mount of it in
/// named mode with short caches, so close-to-open checks and polling stay fast. Each test works in its own
/// directory of /group1 (<see cref="NewDirectoryAsync"/>).
/// </summary>
public class NamedMountFixture : IAsyncLifetime
{
    private readonly string _mountOptions;

    public NamedMountFixture()
        : this(MountOptions)
    {
    }

    /// <summary>The same cluster and mount, mounted with other options.</summary>
    protected NamedMountFixture(string mountOptions) => _mountOptions = mountOptions;

    /// <summary>What every named-mode test mounts with: the kernel checks permissions, a killed mount unmounts itself.</summary>
    public const string MountOptions =
        "names=on,default_permissions,auto_unmount,attr_timeout=0.2,entry_timeout=0.2,negative_timeout=0,xattr_timeout=0.2,timeout=15";

    public const uint DirectoryMode = 0x1ED; // 0755

    public const uint FileMode = 0x1A4; // 0644

    public Cluster Cluster { get; private set; } = null!;

    public FastDfsClient Client { get; private set; } = null!;

    public NamespaceClient Names { get; private set; } = null!;

    internal MountProcess Mount { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await Cluster.StartAsync("namespace_orphan_delay = 0", new StorageSpec());
        Client = Cluster.CreateClient();
        Names = CreateNamespaceClient(Cluster.TrackerEndpoint);
        Mount = await MountProcess.StartAsync(Cluster.TrackerEndpoint, _mountOptions);
    }

    public static NamespaceClient CreateNamespaceClient(params string[] trackers) =>
        new(FastDfsClientOptions.FromTrackers(trackers) with { NetworkTimeout = TimeSpan.FromSeconds(20), ConnectTimeout = TimeSpan.FromSeconds(3) });

    /// <summary>
    /// A fresh directory under /group1, made through the directory service so that tests which only read do not
    /// depend on mkdir through the mount.
    /// </summary>
    internal async Task<TestDirectory> NewDirectoryAsync(string purpose)
    {
        var root = await Names.GetRootAsync("group1");
        string name = purpose + "-" + Guid.NewGuid().ToString("N")[..8];
        var dir = await Names.MkDirAsync(root.Inode, name, DirectoryMode, 0, 0);
        return new TestDirectory(Mount.PathOf(Path.Combine("group1", name)), dir.Inode);
    }

    /// <summary>Uploads <paramref name="data"/> with the FastDFS client and names it, as the mount does on close.</summary>
    public async Task<(NsAttributes Attributes, FileId Id)> NameUploadedAsync(
        long parent, string name, byte[] data, IReadOnlyDictionary<string, string>? metadata = null, long mtimeNs = 0)
    {
        var id = await Client.UploadAsync(data, "bin", metadata);
        var created = await Names.CreateAsync(parent, name, FileMode, 0, 0, id.ToString(), data.Length);
        if (mtimeNs != 0)
        {
            created = await Names.SetContentAsync(created.Inode, id.ToString(), data.Length, mtimeNs);
        }

        return (created, id);
    }

    public async Task DisposeAsync()
    {
        if (Mount is not null)
        {
            await Mount.DisposeAsync();
        }

        if (Names is not null)
        {
            await Names.DisposeAsync();
        }

        if (Client is not null)
        {
            await Client.DisposeAsync();
        }

        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }
    }
}

/// <summary>A test's own directory: its path on the mount and its directory-service inode.</summary>
internal sealed record TestDirectory(string Path, long Inode)
{
    public string PathOf(string relative) => System.IO.Path.Combine(Path, relative);
}

/// <summary>A local (ext4) scratch directory, the reference the mount's results are compared with; removed on dispose.</summary>
internal sealed class LocalDirectory : IDisposable
{
    public LocalDirectory(string purpose)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"fdfs-tools-{purpose}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string PathOf(string relative) => System.IO.Path.Combine(Path, relative);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS temp cleaner.
        }
    }
}

/// <summary>Shell pipelines (bash, pipefail) for the tool workflows.</summary>
internal static class Shell
{
    public sealed record Result(string Script, int ExitCode, string Output, string Error, TimeSpan Elapsed)
    {
        public override string ToString() => $"$ {Script}\nexit {ExitCode} after {Elapsed.TotalSeconds:F1} s\nstdout:\n{Clip(Output)}\nstderr:\n{Clip(Error)}";

        private static string Clip(string text) => text.Length > 4000 ? text[..4000] + $"\n... ({text.Length} chars)" : text;
    }

    public static async Task<Result> RunAsync(string script, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("set -o pipefail; " + script);
        if (workingDirectory is not null)
        {
            info.WorkingDirectory = workingDirectory;
        }

        // Tools print the same text whatever the machine's locale, and git needs an identity.
        info.Environment["LC_ALL"] = "C";
        info.Environment["TZ"] = "UTC";
        info.Environment["GIT_AUTHOR_NAME"] = info.Environment["GIT_COMMITTER_NAME"] = "Mount Test";
        info.Environment["GIT_AUTHOR_EMAIL"] = info.Environment["GIT_COMMITTER_EMAIL"] = "mount@test.invalid";
        info.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        info.Environment["HOME"] = Path.GetTempPath();
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{script}` did not finish within {(timeout ?? TimeSpan.FromSeconds(120)).TotalSeconds} s (hung on the mount?)");
        }

        return new Result(script, process.ExitCode, await output, await error, watch.Elapsed);
    }

    /// <summary>Runs the script and fails the test with the command and its output unless it exits 0.</summary>
    public static async Task<Result> MustAsync(string script, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        var result = await RunAsync(script, workingDirectory, timeout);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }

    /// <summary>Single-quotes a path for bash.</summary>
    public static string Q(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
