using System.Security.Cryptography;
using System.Text;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using Xunit;

namespace FastDfs.Mount.Tests;

/// <summary>A real cluster (one tracker, one storage with two store paths) and one fdfs-mount of it.</summary>
public sealed class MountedClusterFixture : IAsyncLifetime
{
    public Cluster Cluster { get; private set; } = null!;

    internal MountProcess Mount { get; private set; } = null!;

    public FastDfsClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        // Compat mode: a tracker without the directory service answers like FastDFS's own (names unavailable).
        Cluster = await Cluster.StartAsync("namespace_enabled = false", new StorageSpec(StorePaths: 2));
        Client = Cluster.CreateClient();
        Mount = await MountProcess.StartAsync(Cluster.TrackerEndpoint, "auto_unmount,attr_timeout=0.2,xattr_timeout=0.2,negative_timeout=0");
    }

    public async Task DisposeAsync()
    {
        if (Mount is not null)
        {
            await Mount.DisposeAsync();
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

/// <summary>Everyday tools on a FUSE mount of a real cluster, in compat mode (file-ID paths).</summary>
public class MountTests(MountedClusterFixture fixture) : IClassFixture<MountedClusterFixture>
{
    private const int ENODATA = 61;
    private const int EEXIST = 17;
    private const int E2BIG = 7;
    private const int ERANGE = 34;
    private const int XATTR_CREATE = 1;

    private MountProcess Mount => fixture.Mount;

    private FastDfsClient Client => fixture.Client;

    private async Task<FileId> UploadAsync(byte[] data, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var id = await Client.UploadAsync(data, "bin", metadata);
        return id;
    }

    private string PathOf(FileId id) => Mount.PathOf(id.ToString());

    [Fact]
    public void Root_lists_the_groups_and_a_group_its_store_paths()
    {
        Assert.Equal(["group1"], Directory.GetDirectories(Mount.MountPoint).Select(Path.GetFileName));
        Assert.Equal(["M00", "M01"], Directory.GetDirectories(Mount.PathOf("group1")).Select(Path.GetFileName).Order());
        Assert.True(Directory.Exists(Mount.PathOf("group1/M00/00/00")));
        Assert.False(Directory.Exists(Mount.PathOf("group1/M00/0Z")));
    }

    [Fact]
    public async Task An_uploaded_file_reads_back_byte_identical_with_cat_and_cmp()
    {
        byte[] data = RandomNumberGenerator.GetBytes(300_000);
        var id = await UploadAsync(data);
        string local = Path.Combine(Mount.MountPoint + "-local.bin");
        try
        {
            await File.WriteAllBytesAsync(local, data);
            var cmp = await Tools.RunAsync("cmp", local, PathOf(id));
            Assert.True(cmp.ExitCode == 0, cmp.Output + cmp.Error);
            var stat = new FileInfo(PathOf(id));
            Assert.Equal(data.Length, stat.Length);
            var info = await Client.GetFileInfoAsync(id);
            Assert.Equal(info.CreateTime.ToUnixTimeSeconds(), new DateTimeOffset(stat.LastWriteTimeUtc).ToUnixTimeSeconds());
        }
        finally
        {
            File.Delete(local);
        }
    }

    [Fact]
    public async Task A_20_MiB_file_reads_back_with_dd()
    {
        byte[] data = RandomNumberGenerator.GetBytes(20 * 1024 * 1024);
        var id = await UploadAsync(data);
        string copy = Mount.MountPoint + "-dd.bin";
        try
        {
            var dd = await Tools.RunAsync("dd", $"if={PathOf(id)}", $"of={copy}", "bs=1M");
            Assert.True(dd.ExitCode == 0, dd.Error);
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(await File.ReadAllBytesAsync(copy)));
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [Fact]
    public async Task Getfattr_shows_metadata_and_the_file_id()
    {
        var id = await UploadAsync([1, 2, 3], new Dictionary<string, string> { ["author"] = "ann", ["width"] = "640" });
        var dump = await Tools.RunAsync("getfattr", "-d", PathOf(id));
        Assert.Equal(0, dump.ExitCode);
        Assert.Contains("user.author=\"ann\"", dump.Output, StringComparison.Ordinal);
        Assert.Contains("user.width=\"640\"", dump.Output, StringComparison.Ordinal);

        var fileId = await Tools.RunAsync("getfattr", "--only-values", "-n", "system.fdfs.file_id", PathOf(id));
        Assert.Equal(id.ToString(), fileId.Output);
    }

    [Fact]
    public async Task Setfattr_is_seen_by_the_client_and_client_changes_by_the_mount()
    {
        var id = await UploadAsync([9, 9], new Dictionary<string, string> { ["a"] = "1" });
        var set = await Tools.RunAsync("setfattr", "-n", "user.color", "-v", "blue", PathOf(id));
        Assert.True(set.ExitCode == 0, set.Error);
        var metadata = await Client.GetMetadataAsync(id);
        Assert.Equal("blue", metadata["color"]);
        Assert.Equal("1", metadata["a"]); // merged, not replaced

        await Client.SetMetadataAsync(id, new Dictionary<string, string> { ["shape"] = "round" }, MetadataFlag.Merge);
        // The mount may have cached the metadata for xattr_timeout (0.2 s here).
        await MountProcess.WaitUntilAsync(() => Tools.GetXattr(PathOf(id), "user.shape", 0) == 5, TimeSpan.FromSeconds(10), "user.shape through the mount");
        var get = await Tools.RunAsync("getfattr", "--only-values", "-n", "user.shape", PathOf(id));
        Assert.Equal("round", get.Output);

        var remove = await Tools.RunAsync("setfattr", "-x", "user.color", PathOf(id));
        Assert.True(remove.ExitCode == 0, remove.Error);
        Assert.False((await Client.GetMetadataAsync(id)).ContainsKey("color"));
    }

    [Fact]
    public async Task Xattr_errors_are_those_of_ext4()
    {
        var id = await UploadAsync([1], new Dictionary<string, string> { ["k"] = "v" });
        string path = PathOf(id);
        Assert.Equal(EEXIST, Tools.SetXattr(path, "user.k", "w"u8.ToArray(), XATTR_CREATE));
        Assert.Equal(-ENODATA, Tools.GetXattr(path, "user.missing", 100));
        Assert.Equal(1, Tools.GetXattr(path, "user.k", 0)); // size probe

        // FastDFS keeps 256-byte values: a longer one is refused, never cut.
        Assert.Equal(E2BIG, Tools.SetXattr(path, "user.long", new byte[257].Select(_ => (byte)'x').ToArray(), 0));
        Assert.Equal(0, Tools.SetXattr(path, "user.max", new byte[256].Select(_ => (byte)'x').ToArray(), 0));
        Assert.Equal(256, (await Client.GetMetadataAsync(id))["max"].Length);
        Assert.False((await Client.GetMetadataAsync(id)).ContainsKey("long"));

        var missing = await Tools.RunAsync("getfattr", "-n", "user.nothing", path);
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("No such attribute", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_with_a_small_buffer_gives_ERANGE()
    {
        var id = await UploadAsync([1], new Dictionary<string, string> { ["long"] = "0123456789" });
        Assert.Equal(10, Tools.GetXattr(PathOf(id), "user.long", 0));
        Assert.Equal(-ERANGE, Tools.GetXattr(PathOf(id), "user.long", 4));
        Assert.Equal(10, Tools.GetXattr(PathOf(id), "user.long", 10));
    }

    [Fact]
    public async Task Rm_of_a_file_id_path_deletes_the_file()
    {
        var id = await UploadAsync([5, 5, 5]);
        Assert.True(File.Exists(PathOf(id)));
        var rm = await Tools.RunAsync("rm", PathOf(id));
        Assert.True(rm.ExitCode == 0, rm.Error);
        var e = await Assert.ThrowsAsync<FdfsServerException>(() => Client.GetFileInfoAsync(id));
        Assert.Equal(2, e.Errno);
        Assert.False(File.Exists(PathOf(id)));
    }

    [Fact]
    public async Task Df_reports_the_cluster_size()
    {
        var df = await Tools.RunAsync("df", "-B1", "--output=size,avail", Mount.MountPoint);
        Assert.Equal(0, df.ExitCode);
        long[] numbers = df.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1]
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray();
        var groups = await Client.ListGroupsAsync();
        Assert.Equal(groups.Sum(g => g.TotalMb) * 1024 * 1024, numbers[0]);
        Assert.True(numbers[0] > 0 && numbers[1] > 0);
    }

    [Fact]
    public async Task Names_cannot_be_created_without_a_directory_service()
    {
        var touch = await Tools.RunAsync("touch", Mount.PathOf("group1/newfile"));
        Assert.NotEqual(0, touch.ExitCode);
        Assert.Contains("Read-only file system", touch.Error, StringComparison.Ordinal);
        Assert.Contains("names are unavailable", Mount.Log, StringComparison.Ordinal);
    }
}
