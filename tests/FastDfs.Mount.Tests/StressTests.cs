using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FastDfs.Integration.Tests.TestKit;
using Xunit;
using Xunit.Abstractions;
using static FastDfs.Mount.Tests.Shell;

namespace FastDfs.Mount.Tests;

/// <summary>
/// A named mount for the stress runs. Unlike <see cref="NamedMountFixture"/> the tracker keeps the default orphan delay
/// (60 s): stress-ng unlinks its files while they are open and keeps using them, and content the collector took at
/// once would read EIO (a documented limit of a handle left open past the delay, not what these runs check).
/// </summary>
public sealed class StressMountFixture : IAsyncLifetime
{
    public Cluster Cluster { get; private set; } = null!;

    internal MountProcess Mount { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await Cluster.StartAsync(new StorageSpec());
        Mount = await MountProcess.StartAsync(Cluster.TrackerEndpoint, NamedMountFixture.MountOptions);
    }

    public async Task DisposeAsync()
    {
        if (Mount is not null)
        {
            await Mount.DisposeAsync();
        }

        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }
    }
}

/// <summary>
/// Independent conformance and robustness checks: stress-ng's file-system stressors (with <c>--verify</c>) and fio's
/// data verification, each in a fresh directory of the named mount. A bounded set (about three minutes): every run must
/// exit 0 with no failure, leave its directory empty, and leave the mount and the daemons alive.
/// mount/README.md ("Conformance and stress") lists what runs here and what is refused by design.
/// </summary>
public sealed partial class StressTests(StressMountFixture fixture, ITestOutputHelper output) : IClassFixture<StressMountFixture>
{
    private const int Seconds = 3;

    /// <summary>Stressors that pass, with the options that keep them short; each runs one worker for <see cref="Seconds"/>.</summary>
    public static TheoryData<string, string> Stressors => new()
    {
        { "access", string.Empty },
        { "chdir", string.Empty },
        { "chmod", string.Empty },
        { "chown", string.Empty },
        { "copy-file", "--copy-file-bytes 128M" },
        { "dentry", string.Empty },
        { "dir", string.Empty },
        { "dirdeep", "--dirdeep-dirs 2 --dirdeep-inodes 400" },
        { "fallocate", "--fallocate-bytes 16M" },
        { "fcntl", string.Empty },
        { "file-ioctl", string.Empty },
        { "filename", string.Empty },
        { "flock", string.Empty },
        { "fpunch", string.Empty },
        { "fsize", string.Empty },
        { "fstat", string.Empty },
        { "getdent", string.Empty },
        { "hdd", "--hdd-opts wr-rnd,rd-rnd --hdd-bytes 8M" },
        { "iomix", "--iomix-bytes 8M" },
        { "link", string.Empty },
        { "locka", string.Empty },
        { "lockf", string.Empty },
        { "lockofd", string.Empty },
        { "mknod", string.Empty },
        { "mmap", "--mmap-file --mmap-bytes 1M" },
        { "open", string.Empty },
        { "readahead", "--readahead-bytes 8M" },
        { "rename", string.Empty },
        { "revio", "--revio-bytes 8M" },
        { "seek", "--seek-size 8M" },
        { "sendfile", string.Empty },
        { "symlink", string.Empty },
        { "sync-file", "--sync-file-bytes 8M" },
        { "touch", string.Empty },
        { "utime", string.Empty },
    };

    /// <summary>fio jobs with data verification (crc32c, md5), each with its own options.</summary>
    public static TheoryData<string, string> FioJobs => new()
    {
        { "sequential", "--rw=write --bs=128k --size=32m --verify=crc32c" },
        { "sequential-direct", "--rw=write --bs=1m --size=32m --direct=1 --verify=crc32c" },
        { "random", "--rw=randwrite --bs=4k --size=8m --verify=crc32c" },
        { "random-direct", "--rw=randwrite --bs=4k --size=2m --direct=1 --verify=crc32c" },
        { "randrw-md5", "--rw=randrw --bs=16k --size=8m --verify=md5" },
        { "four-jobs-one-file", "--filename=shared --numjobs=4 --size=2m --offset_increment=2m --rw=randwrite --bs=4k --verify=crc32c" },
        { "append", "--rw=write --file_append=1 --bs=8k --size=8m --verify=crc32c" },
        { "truncated-then-random", "--rw=randwrite --fallocate=truncate --bs=4k --size=8m --verify=crc32c" },
    };

    [Theory]
    [MemberData(nameof(Stressors))]
    public async Task Stress_ng_stressor_passes_with_verification(string stressor, string options)
    {
        string dir = NewDirectory("stress-" + stressor);
        int logStart = fixture.Mount.Log.Length;
        var result = await RunAsync(
            $"stress-ng --{stressor} 1 --timeout {Seconds}s --verify --metrics-brief --temp-path {Q(dir)} {options} 2>&1",
            timeout: TimeSpan.FromSeconds((Seconds * 10) + 60));
        output.WriteLine(result.ToString());

        Assert.True(result.ExitCode == 0, $"stress-ng --{stressor} exited {result.ExitCode}\n{result}");
        Assert.DoesNotMatch(FailLine(), result.Output);
        Assert.Contains("successful run completed", result.Output, StringComparison.Ordinal);
        Assert.True(BogoOps(result.Output, stressor) > 0, $"stress-ng --{stressor} did no work:\n{result}");
        AssertCleanAndAlive(dir, logStart);
    }

    [Fact]
    public async Task Fiemap_is_refused_and_stress_ng_skips_it()
    {
        // FastDFS files have no extents to map: FS_IOC_FIEMAP answers EOPNOTSUPP (FUSE has no ioctl here).
        string dir = NewDirectory("stress-fiemap");
        int logStart = fixture.Mount.Log.Length;
        var result = await RunAsync($"stress-ng --fiemap 1 --timeout {Seconds}s --verify --temp-path {Q(dir)} 2>&1", timeout: TimeSpan.FromSeconds(60));
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("FS_IOC_FIEMAP not supported", result.Output, StringComparison.Ordinal);
        AssertCleanAndAlive(dir, logStart);
    }

    [Theory]
    [MemberData(nameof(FioJobs))]
    public async Task Fio_job_verifies_its_data(string name, string options)
    {
        string dir = NewDirectory("fio-" + name);
        int logStart = fixture.Mount.Log.Length;
        var result = await RunAsync(
            $"fio --name={name} --directory={Q(dir)} --ioengine=psync --do_verify=1 --verify_fatal=1 --output-format=json {options}",
            timeout: TimeSpan.FromSeconds(180));
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, $"fio {name} exited {result.ExitCode}\n{result}");

        // fio's JSON may follow warnings on stdout ("multiple writers may overwrite blocks ..."): parse from the first brace.
        var report = JsonNode.Parse(result.Output[result.Output.IndexOf('{', StringComparison.Ordinal)..])!;
        foreach (var job in report["jobs"]!.AsArray())
        {
            Assert.Equal(0, job!["error"]!.GetValue<int>());
            long written = job["write"]!["io_bytes"]!.GetValue<long>();
            long read = job["read"]!["io_bytes"]!.GetValue<long>();
            Assert.True(written > 0, $"fio {name}: job wrote nothing");
            Assert.True(read >= written || options.Contains("randrw", StringComparison.Ordinal), $"fio {name}: verified {read} of {written} bytes");
        }

        await MustAsync($"rm -rf {Q(dir)}/*");
        AssertCleanAndAlive(dir, logStart);
    }

    private string NewDirectory(string purpose)
    {
        string dir = fixture.Mount.PathOf($"group1/{purpose}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>
    /// stress-ng removes what it made; the mount, the tracker and the storage are still there, and the mount logged no
    /// error (a change it could not save) since <paramref name="logStart"/>.
    /// </summary>
    private void AssertCleanAndAlive(string dir, int logStart)
    {
        Assert.False(fixture.Mount.HasExited, "fdfs-mount exited:\n" + fixture.Mount.Log);
        Assert.True(fixture.Mount.IsMounted, "the mount is gone");
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
        Directory.Delete(dir);
        Assert.False(fixture.Cluster.Tracker!.HasExited, "the tracker exited");
        Assert.All(fixture.Cluster.Storages, s => Assert.False(s.Process!.HasExited, $"storage {s.Endpoint} exited"));
        Assert.DoesNotContain(" fail: ", fixture.Mount.Log[logStart..], StringComparison.Ordinal);
    }

    /// <summary>The bogo-ops column of stress-ng's metrics line for <paramref name="stressor"/>.</summary>
    private static long BogoOps(string text, string stressor)
    {
        var match = Regex.Match(text, $@"metrc: \[\d+\] {Regex.Escape(stressor)}\s+(\d+)\s");
        return match.Success ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
    }

    [GeneratedRegex(@"^stress-ng: fail:", RegexOptions.Multiline)]
    private static partial Regex FailLine();
}
