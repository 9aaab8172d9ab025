using System.Diagnostics;
using System.Security.Cryptography;
using FastDfs.Integration.Tests.TestKit;
using Xunit;

namespace FastDfs.Mount.Tests;

/// <summary>
/// Dead servers, signals and kill -9: the mount answers EIO in time and never leaves a dead mount point.
/// Runs alone: once in two full runs beside the other mount tests, fusermount3's auto_unmount watchdog did not
/// unmount within 30 s after a kill -9 (cause not found yet; alone it passed every time).
/// </summary>
[Collection(nameof(MountFaultTests))]
public class MountFaultTests
{
    private const int SIGTERM = 15;
    private const int SIGKILL = 9;

    [Fact]
    public async Task Killed_tracker_and_storage_make_a_read_fail_with_EIO_within_the_timeout()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec());
        await using var client = cluster.CreateClient();
        var id = await client.UploadAsync(RandomNumberGenerator.GetBytes(3 * 1024 * 1024), "bin");
        await using var mount = await MountProcess.StartAsync(cluster.TrackerEndpoint, "timeout=3");

        // Open before the cluster dies (lookup and open succeed), then read once it is gone.
        await using var stream = new FileStream(mount.PathOf(id.ToString()), FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
        await cluster.Storages[0].KillHardAsync();
        await cluster.Tracker!.KillHardAsync();

        var watch = Stopwatch.StartNew();
        var e = Assert.ThrowsAny<IOException>(() => stream.Read(new byte[65536], 0, 65536));
        Assert.Contains("Input/output error", e.Message, StringComparison.Ordinal);
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(10));

        // A new lookup fails the same way instead of hanging.
        watch.Restart();
        Assert.ThrowsAny<IOException>(() => File.ReadAllBytes(mount.PathOf("group1/M00/00/00/wKgAAWsFwIKAdS55AAAD6Peho3g674.txt")));
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_frozen_storage_makes_a_read_fail_with_EIO_within_the_timeout_instead_of_hanging()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec());
        await using var client = cluster.CreateClient();
        var id = await client.UploadAsync(RandomNumberGenerator.GetBytes(1024 * 1024), "bin");
        await using var mount = await MountProcess.StartAsync(cluster.TrackerEndpoint, "timeout=2");
        await using var stream = new FileStream(mount.PathOf(id.ToString()), FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
        cluster.Storages[0].Process!.Freeze(true);
        try
        {
            var watch = Stopwatch.StartNew();
            Assert.ThrowsAny<IOException>(() => stream.Read(new byte[65536], 0, 65536));
            Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(12));
        }
        finally
        {
            cluster.Storages[0].Process!.Freeze(false);
        }
    }

    [Fact]
    public async Task Sigterm_unmounts_and_exits_cleanly()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec());
        await using var mount = await MountProcess.StartAsync(cluster.TrackerEndpoint);
        Assert.Contains("group1", Directory.GetDirectories(mount.MountPoint).Select(Path.GetFileName));
        mount.Signal(SIGTERM);
        Assert.True(await mount.WaitForExitAsync(TimeSpan.FromSeconds(20)), mount.Log);
        Assert.Equal(0, mount.ExitCode);
        Assert.False(mount.IsMounted);
        Assert.Empty(Directory.GetFileSystemEntries(mount.MountPoint));
    }

    [Fact]
    public async Task Fusermount_u_ends_the_process()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec());
        await using var mount = await MountProcess.StartAsync(cluster.TrackerEndpoint);
        var unmount = await Tools.RunAsync("fusermount3", "-u", mount.MountPoint);
        Assert.True(unmount.ExitCode == 0, unmount.Error);
        Assert.True(await mount.WaitForExitAsync(TimeSpan.FromSeconds(20)), mount.Log);
        Assert.Equal(0, mount.ExitCode);
        Assert.Contains("unmounted", mount.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_auto_unmount_kill_9_leaves_a_usable_mount_point()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec());
        await using var mount = await MountProcess.StartAsync(cluster.TrackerEndpoint, "auto_unmount");
        Assert.NotEmpty(Directory.GetDirectories(mount.MountPoint));
        mount.Signal(SIGKILL);
        Assert.True(await mount.WaitForExitAsync(TimeSpan.FromSeconds(30)), mount.Log);
        await MountProcess.WaitUntilAsync(() => !mount.IsMounted, TimeSpan.FromSeconds(30), "fusermount3 to unmount");

        // No "Transport endpoint is not connected": the directory is an ordinary empty directory again.
        Assert.Empty(Directory.GetFileSystemEntries(mount.MountPoint));
    }
}

/// <summary>Keeps <see cref="MountFaultTests"/> from running beside other test classes.</summary>
[CollectionDefinition(nameof(MountFaultTests), DisableParallelization = true)]
public sealed class MountFaultTestsCollection;
