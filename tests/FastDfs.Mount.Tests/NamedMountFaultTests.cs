using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using Xunit;
using Xunit.Abstractions;

namespace FastDfs.Mount.Tests;

/// <summary>
/// Dead servers and a killed mount in named mode: every operation fails over or answers EIO within the mount's
/// timeout, and nothing hangs. In <see cref="MountFaultTests"/>'s collection: alone, never beside other mount tests.
/// </summary>
[Collection(nameof(MountFaultTests))]
public sealed class NamedMountFaultTests(ITestOutputHelper output)
{
    private const int SIGKILL = 9;

    /// <summary>The mount's <c>timeout=</c> in these tests, and how much later than that an answer may come.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(4);

    private static string Options(TimeSpan timeout) =>
        NamedMountFixture.MountOptions.Replace("timeout=15", $"timeout={(int)timeout.TotalSeconds}", StringComparison.Ordinal);

    [Fact]
    public async Task An_upload_a_killed_mount_never_named_is_collected_after_the_next_mount_starts()
    {
        await using var cluster = await Cluster.StartAsync("namespace_orphan_delay = 0", new StorageSpec());
        string journal = Path.Combine(Path.GetTempPath(), "fdfs-journal-" + Guid.NewGuid().ToString("N")[..10]);
        try
        {
            // Deferred CREATE (negative_timeout) and a cached upload choice, so a file's content reaches the storage
            // while the tracker, and with it the directory service, is gone.
            // Long caches, so no lookup or getattr needs the tracker either.
            string options = "names=on,auto_unmount,attr_timeout=60,entry_timeout=60,negative_timeout=60,timeout=3,"
                + $"choice_timeout=120,pending_lease=10,pending_journal={journal}";
            FileId lost;
            string keptPath = "group1/dir/kept.jpg";
            await using (var first = await MountProcess.StartAsync(cluster.TrackerEndpoint, options))
            {
                Directory.CreateDirectory(first.PathOf("group1/dir"));
                await File.WriteAllTextAsync(first.PathOf(keptPath), "kept");

                // The name cannot be made, nor the upload registered: only the journal knows the content.
                int port = cluster.Tracker!.Port;
                await cluster.Tracker.KillHardAsync();
                await cluster.Tracker.DisposeAsync();
                var write = await Tools.RunAsync("bash", "-c", $"printf lost | dd of='{first.PathOf("group1/dir/lost.jpg")}' conv=fsync status=none");
                Assert.NotEqual(0, write.ExitCode); // fsync answers EIO
                var journalFiles = await Tools.RunAsync("cat", Directory.GetFiles(journal)); // .NET would respect the mount's flock
                string[] recorded = journalFiles.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                output.WriteLine("journal: " + string.Join(' ', recorded) + "\n" + write.Error + "\n" + first.Log);
                lost = FileId.Parse(recorded.Last());
                Assert.EndsWith(".jpg", lost.RemoteFileName, StringComparison.Ordinal);

                first.Signal(SIGKILL);
                Assert.True(await first.WaitForExitAsync(TimeSpan.FromSeconds(10)), "the killed mount to exit");
                await cluster.StartTrackerAsync(port);
            }

            await cluster.WaitAllActiveAsync();
            await using var client = cluster.CreateClient();
            Assert.Equal(4, (await client.GetFileInfoAsync(lost)).Size); // stored, and named nowhere

            // The next mount of the namespace takes over the dead mount's journal and registers its uploads as
            // pending: after pending_lease the collector deletes the unnamed one.
            await using var second = await MountProcess.StartAsync(cluster.TrackerEndpoint, options);
            await MountProcess.WaitUntilAsync(() => Directory.GetFiles(journal).Length == 1, TimeSpan.FromSeconds(20), "the dead mount's journal to be taken over");
            var watch = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    await client.GetFileInfoAsync(lost);
                }
                catch (FdfsServerException e) when (e.Errno == 2)
                {
                    break;
                }

                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), "the lost upload to be collected");
                await Task.Delay(500);
            }

            Assert.Equal("kept", await File.ReadAllTextAsync(second.PathOf(keptPath))); // named content stays
        }
        finally
        {
            if (Directory.Exists(journal))
            {
                Directory.Delete(journal, recursive: true);
            }
        }
    }

    [Fact]
    public async Task A_killed_storage_makes_reads_fail_over_or_fail_with_EIO_within_the_timeout()
    {
        await using var cluster = await Cluster.StartAsync("namespace_orphan_delay = 0", new StorageSpec(), new StorageSpec());
        await using var client = cluster.CreateClient();
        await using var names = NamedMountFixture.CreateNamespaceClient(cluster.TrackerEndpoint);
        var root = await names.GetRootAsync("group1");
        var dir = await names.MkDirAsync(root.Inode, "data", NamedMountFixture.DirectoryMode, 0, 0);
        var files = new List<(string Name, byte[] Data, FileId Id)>();
        for (int i = 0; i < 4; i++)
        {
            byte[] data = RandomNumberGenerator.GetBytes((4 * 1024 * 1024) + i);
            var id = await client.UploadAsync(data, "bin");
            await names.CreateAsync(dir.Inode, $"f{i}", NamedMountFixture.FileMode, 0, 0, id.ToString(), data.Length);
            files.Add(($"f{i}", data, id));
        }

        // Both storages hold every file before one dies, so a read has somewhere to fail over to.
        foreach (var storage in cluster.Storages)
        {
            await using var probe = await StorageProbe.ConnectAsync(storage.Endpoint);
            foreach (var file in files)
            {
                await MountProcess.WaitUntilAsync(() => probe.ExistsStatusAsync(file.Id).GetAwaiter().GetResult() == 0, TimeSpan.FromSeconds(30), $"{file.Id} on {storage.Ip}");
            }
        }

        await using var mount = await MountProcess.StartAsync(cluster.TrackerEndpoint, Options(Timeout));
        string PathOf(string name) => mount.PathOf("group1/data/" + name);

        // Read the head of each file: the mount picks (and remembers) a storage per file, and the tail stays uncached.
        foreach (var file in files)
        {
            await using var head = new FileStream(PathOf(file.Name), FileMode.Open, FileAccess.Read, FileShare.Read, 1);
            byte[] first = new byte[4096];
            await head.ReadExactlyAsync(first);
            Assert.Equal(file.Data[..first.Length], first);
        }

        // The tracker hands out the two storages in turn, so some files' remembered storage is the dead one.
        await cluster.Storages[0].KillHardAsync();

        // Names live on the tracker: listing and stat answer at once.
        var watch = Stopwatch.StartNew();
        Assert.Equal(files.Select(f => f.Name), Directory.GetFiles(Path.Combine(mount.MountPoint, "group1", "data")).Select(Path.GetFileName).Order());
        Assert.Equal(files[1].Data.Length, new FileInfo(PathOf(files[1].Name)).Length);
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, Timeout + Slack);

        // Every read either fails over to the live storage (right bytes) or answers EIO, in time; never wrong bytes, never a hang.
        foreach (var file in files)
        {
            watch.Restart();
            try
            {
                Assert.Equal(file.Data, await File.ReadAllBytesAsync(PathOf(file.Name)));
                output.WriteLine($"{file.Name}: read from the live storage in {watch.ElapsedMilliseconds} ms");
            }
            catch (IOException e)
            {
                Assert.Contains("Input/output error", e.Message, StringComparison.Ordinal);
                output.WriteLine($"{file.Name}: EIO after {watch.ElapsedMilliseconds} ms");
            }

            Assert.InRange(watch.Elapsed, TimeSpan.Zero, Timeout + Slack);
        }

        // Once the tracker has noticed, every file reads from the survivor.
        await MountProcess.WaitUntilAsync(
            () => files.All(f => TryRead(PathOf(f.Name)) is { } data && data.AsSpan().SequenceEqual(f.Data)),
            TimeSpan.FromSeconds(30),
            "every file to read back from the live storage");
        Assert.False(mount.HasExited, mount.Log);
    }

    [Fact]
    public async Task With_no_live_storage_in_the_group_writes_answer_EIO_not_ENOENT_and_unlocks_still_unlock()
    {
        await using var cluster = await Cluster.StartAsync("namespace_orphan_delay = 0", new StorageSpec());
        await using var client = cluster.CreateClient();
        await using var mount = await MountProcess.StartAsync(cluster.TrackerEndpoint, Options(Timeout));
        await File.WriteAllBytesAsync(mount.PathOf("group1/before"), [1, 2, 3]);

        await cluster.Storages[0].KillHardAsync();
        await MountProcess.WaitUntilAsync(
            () => client.ListStoragesAsync("group1").GetAwaiter().GetResult().All(s => s.Status != StorageStatus.Active),
            TimeSpan.FromSeconds(30),
            "the tracker to see the storage gone");

        // The first write may still go to the remembered (dead) storage; the next asks the tracker, which has none.
        for (int attempt = 0; attempt < 2; attempt++)
        {
            var watch = Stopwatch.StartNew();
            int fd = PosixTests.Libc.open(mount.PathOf($"group1/after{attempt}"), PosixTests.OWrOnly | PosixTests.OCreat | PosixTests.OExcl, 420);
            Assert.True(fd >= 0, $"open: errno {Marshal.GetLastPInvokeError()}");
            Assert.Equal(3, PosixTests.Libc.write(fd, [4, 5, 6], 3));
            int synced = PosixTests.Libc.fsync(fd);
            int errno = Marshal.GetLastPInvokeError();
            PosixTests.Libc.close(fd);
            Assert.Equal((-1, FastDfs.Mount.Core.Errno.EIO), (synced, synced < 0 ? errno : 0));
            Assert.InRange(watch.Elapsed, TimeSpan.Zero, Timeout + Slack);
        }

        // The console logger writes from a queue of its own.
        await MountProcess.WaitUntilAsync(
            () => mount.Log.Contains("no storage of group group1 takes uploads", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the log line");

        // An unlock whose data cannot be stored answers the error, and the lock is gone all the same.
        const int LockExclusive = 2, LockUnlock = 8, LockNonBlocking = 4;
        string locked = mount.PathOf("group1/locked");
        int holder = PosixTests.Libc.open(locked, PosixTests.OWrOnly | PosixTests.OCreat, 420);
        int other = PosixTests.Libc.open(locked, PosixTests.OWrOnly, 0);
        try
        {
            Assert.Equal(0, PosixTests.Libc.flock(holder, LockExclusive));
            Assert.Equal(3, PosixTests.Libc.write(holder, [7, 8, 9], 3));
            int unlocked = PosixTests.Libc.flock(holder, LockUnlock);
            int errno = Marshal.GetLastPInvokeError();
            Assert.Equal((-1, FastDfs.Mount.Core.Errno.EIO), (unlocked, unlocked < 0 ? errno : 0));
            Assert.Equal(0, PosixTests.Libc.flock(other, LockExclusive | LockNonBlocking));
        }
        finally
        {
            PosixTests.Libc.close(holder);
            PosixTests.Libc.close(other);
        }

        Assert.False(mount.HasExited, mount.Log);
    }

    private static byte[]? TryRead(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (IOException)
        {
            return null;
        }
    }

    [Fact]
    public async Task With_auto_unmount_kill_9_of_a_named_mount_leaves_a_usable_mount_point()
    {
        await using var cluster = await Cluster.StartAsync(new StorageSpec());
        await using var client = cluster.CreateClient();
        await using var names = NamedMountFixture.CreateNamespaceClient(cluster.TrackerEndpoint);
        var root = await names.GetRootAsync("group1");
        byte[] data = RandomNumberGenerator.GetBytes(100_000);
        var id = await client.UploadAsync(data, "bin");
        await names.CreateAsync(root.Inode, "kept.bin", NamedMountFixture.FileMode, 0, 0, id.ToString(), data.Length);

        await using var mount = await MountProcess.StartAsync(cluster.TrackerEndpoint, NamedMountFixture.MountOptions);
        Assert.Equal(data, await File.ReadAllBytesAsync(mount.PathOf("group1/kept.bin")));

        // Killed while a file is open on it: the open handle must not keep the dead mount point around.
        await using (var open = new FileStream(mount.PathOf("group1/kept.bin"), FileMode.Open, FileAccess.Read, FileShare.Read, 1))
        {
            mount.Signal(SIGKILL);
            Assert.True(await mount.WaitForExitAsync(TimeSpan.FromSeconds(30)), mount.Log);
            var watch = Stopwatch.StartNew();
            await MountProcess.WaitUntilAsync(() => !mount.IsMounted, TimeSpan.FromSeconds(30), "fusermount3's auto_unmount watchdog to unmount");
            output.WriteLine($"unmounted {watch.ElapsedMilliseconds} ms after the process died");
        }

        // No "Transport endpoint is not connected": an ordinary, empty directory again.
        Assert.Empty(Directory.GetFileSystemEntries(mount.MountPoint));
        var stat = await Tools.RunAsync("stat", mount.MountPoint);
        Assert.True(stat.ExitCode == 0, stat.Error);
    }
}

/// <summary>
/// Two trackers serving one namespace from PostgreSQL, one mount knowing both: the first tracker is killed and
/// lookups, creates and reads go on through the second.
/// </summary>
[Collection(nameof(MountFaultTests))]
public sealed class NamedMountTrackerFailoverTests(PostgresServer postgres, ITestOutputHelper output) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task A_killed_tracker_leaves_the_mount_working_through_the_other_tracker()
    {
        string store = await postgres.CreateSchemaAsync();
        await using var cluster = await Cluster.StartSharedNamespaceAsync(store);
        var second = cluster.ExtraTrackers[0];
        await WaitUploadsAcceptedAsync(second.Endpoint);

        await using var mount = await MountProcess.StartAsync(cluster.AllTrackerEndpoints, NamedMountFixture.MountOptions.Replace("timeout=15", "timeout=5", StringComparison.Ordinal));
        string dir = mount.PathOf("group1/failover");
        Directory.CreateDirectory(dir);
        byte[] before = RandomNumberGenerator.GetBytes(150_000);
        await File.WriteAllBytesAsync(Path.Combine(dir, "before.bin"), before);
        Assert.Equal(before, await File.ReadAllBytesAsync(Path.Combine(dir, "before.bin")));

        await cluster.Tracker!.KillHardAsync();
        var watch = Stopwatch.StartNew();

        // Lookups (past the 0.2 s attribute timeout, so they go to a tracker), reads, creates, a directory, a rename.
        await Task.Delay(300);
        Assert.Equal(before.Length, new FileInfo(Path.Combine(dir, "before.bin")).Length);
        Assert.Equal(before, await File.ReadAllBytesAsync(Path.Combine(dir, "before.bin")));
        byte[] after = RandomNumberGenerator.GetBytes(90_000);
        await File.WriteAllBytesAsync(Path.Combine(dir, "after.bin"), after);
        Directory.CreateDirectory(Path.Combine(dir, "made-after"));
        File.Move(Path.Combine(dir, "after.bin"), Path.Combine(dir, "made-after", "after.bin"));
        Assert.Equal(after, await File.ReadAllBytesAsync(Path.Combine(dir, "made-after", "after.bin")));
        Assert.Equal(["before.bin", "made-after"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Order());
        output.WriteLine($"all operations after the kill took {watch.ElapsedMilliseconds} ms");

        // The other tracker holds the names: what the mount did is there, not only in its caches.
        await using var names = NamedMountFixture.CreateNamespaceClient(second.Endpoint);
        var root = await names.GetRootAsync("group1");
        var failover = await names.LookupAsync(root.Inode, "failover");
        var madeAfter = await names.LookupAsync(failover.Inode, "made-after");
        var file = await names.LookupAsync(madeAfter.Inode, "after.bin");
        Assert.Equal(after.Length, file.Size);
        await using var client = Cluster.CreateClientFor(TimeSpan.FromSeconds(10), second.Endpoint);
        Assert.Equal(after, await client.DownloadBytesAsync(FileId.Parse(file.FileId!)));
        Assert.False(mount.HasExited, mount.Log);
    }

    /// <summary>The storage's first disk report must have reached a tracker before that tracker can choose it for uploads.</summary>
    private static async Task WaitUploadsAcceptedAsync(string tracker)
    {
        await using var client = Cluster.CreateClientFor(TimeSpan.FromSeconds(10), tracker);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await client.DeleteAsync(await client.UploadAsync(RandomNumberGenerator.GetBytes(10), "txt"));
                return;
            }
            catch (FdfsServerException e) when (e.Errno is FdfsErrno.ENOSPC or FdfsErrno.ENOENT && deadline.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(200);
            }
        }
    }
}
