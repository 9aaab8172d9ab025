using System.Diagnostics;
using System.Security.Cryptography;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Mount.Tests;

/// <summary>
/// The named-mode cluster and mount, with writes chunked at 1 MiB (write_chunk) so tests of a few MiB cross chunk
/// boundaries; caches are short for close-to-open checks.
/// </summary>
public sealed class DataMountFixture() : NamedMountFixture(MountOptions)
{
    public new const string MountOptions = "names=on,auto_unmount,attr_timeout=0.2,entry_timeout=0.2,negative_timeout=0,timeout=10,write_chunk=1048576";
}

/// <summary>The write path of named files through a real FUSE mount: what the storage and the directory service hold after close.</summary>
public class DataTests(DataMountFixture fixture) : IClassFixture<DataMountFixture>
{
    private const int MiB = 1024 * 1024;

    /// <summary>What the directory service binds to the name, and the content the storage holds for it.</summary>
    private async Task<(NsAttributes Attributes, byte[] Content)> StoredAsync(long dir, string name)
    {
        var attributes = await fixture.Names.LookupAsync(dir, name);
        byte[] content = attributes.FileId is null || attributes.Size == 0
            ? []
            : await fixture.Client.DownloadBytesAsync(FileId.Parse(attributes.FileId));
        return (attributes, content);
    }

    [Fact]
    public async Task Sequential_write_is_stored_as_an_appender_and_reads_back_identical()
    {
        var (dir, inode) = await fixture.NewDirectoryAsync("seq");
        byte[] data = RandomNumberGenerator.GetBytes((5 * MiB) + 12345);
        string path = Path.Combine(dir, "seq.bin");

        await File.WriteAllBytesAsync(path, data);

        Assert.Equal(data, await File.ReadAllBytesAsync(path));
        var (attributes, content) = await StoredAsync(inode, "seq.bin");
        Assert.Equal(data.Length, attributes.Size);
        Assert.Equal(data, content);
        var info = await fixture.Client.GetFileInfoAsync(FileId.Parse(attributes.FileId!));
        Assert.True(info.IsAppender);
        Assert.Equal(0u, attributes.Uid); // the caller (the test runs as root)
    }

    [Fact]
    public async Task Random_writes_match_a_local_reference_file_also_before_close()
    {
        var (dir, inode) = await fixture.NewDirectoryAsync("random");
        string path = Path.Combine(dir, "random.bin");
        string reference = Path.Combine(Path.GetTempPath(), "fdfs-data-ref-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var random = new Random(42);
            using (var mounted = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite))
            using (var local = File.OpenHandle(reference, FileMode.CreateNew, FileAccess.ReadWrite))
            {
                byte[] first = RandomNumberGenerator.GetBytes(3 * MiB);
                RandomAccess.Write(mounted, first, 0);
                RandomAccess.Write(local, first, 0);
                for (int i = 0; i < 120; i++)
                {
                    // Inside the stored part, across the tail, and past the end (a hole, then data).
                    long offset = random.NextInt64(0, (4 * MiB) + 200_000);
                    byte[] piece = RandomNumberGenerator.GetBytes(random.Next(1, 300_000));
                    RandomAccess.Write(mounted, piece, offset);
                    RandomAccess.Write(local, piece, offset);
                    if (i % 30 == 29)
                    {
                        // Reads see the writes before close.
                        long at = random.NextInt64(0, RandomAccess.GetLength(local));
                        Assert.Equal(ReadRange(local, at, 500_000), ReadRange(mounted, at, 500_000));
                    }
                }
            }

            byte[] expected = await File.ReadAllBytesAsync(reference);
            Assert.Equal(expected, await File.ReadAllBytesAsync(path));
            var (attributes, content) = await StoredAsync(inode, "random.bin");
            Assert.Equal(expected.Length, attributes.Size);
            Assert.Equal(expected, content);
        }
        finally
        {
            File.Delete(reference);
        }
    }

    [Fact]
    public async Task O_APPEND_writes_go_to_the_end()
    {
        var (dir, inode) = await fixture.NewDirectoryAsync("append");
        string path = Path.Combine(dir, "log.txt");
        await File.WriteAllTextAsync(path, "first\n");

        // bash's >> opens with O_APPEND.
        for (int i = 0; i < 3; i++)
        {
            var appended = await Tools.RunAsync("bash", "-c", $"printf 'line {i}\\n' >> '{path}'");
            Assert.True(appended.ExitCode == 0, appended.Error);
        }

        const string expected = "first\nline 0\nline 1\nline 2\n";
        Assert.Equal(expected, await File.ReadAllTextAsync(path));
        Assert.Equal(expected, System.Text.Encoding.UTF8.GetString((await StoredAsync(inode, "log.txt")).Content));
    }

    [Fact]
    public async Task A_write_only_descriptor_bypasses_the_page_cache_and_a_reader_with_cached_pages_sees_its_writes()
    {
        var (dir, inode) = await fixture.NewDirectoryAsync("direct");
        string path = Path.Combine(dir, "direct.bin");
        byte[] expected = RandomNumberGenerator.GetBytes(2 * MiB);

        await File.WriteAllBytesAsync(path, expected); // O_WRONLY: direct_io
        Assert.Equal(0, await ResidentPagesAsync(path));

        await using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);
        byte[] seen = new byte[expected.Length];
        await reader.ReadExactlyAsync(seen);
        Assert.Equal(expected, seen);
        Assert.True(await ResidentPagesAsync(path) > 0, "the reader's pages are cached");

        // A write-only descriptor overwrites the middle while the reader holds those pages.
        byte[] patch = RandomNumberGenerator.GetBytes(MiB);
        await using (var writer = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1))
        {
            writer.Position = MiB / 2;
            await writer.WriteAsync(patch);
        }

        patch.CopyTo(expected, MiB / 2);
        reader.Position = 0;
        await reader.ReadExactlyAsync(seen);
        Assert.Equal(expected, seen);
        Assert.Equal(expected, (await StoredAsync(inode, "direct.bin")).Content);
    }

    [Fact]
    public async Task An_O_DIRECT_descriptor_writes_and_reads_past_the_page_cache_and_leaves_the_content_stored()
    {
        // fio --direct=1 (docs/benchmarks.md) opens like this: read-write, O_DIRECT, no page cache on either side.
        int oDirect = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? 0x10000 : 0x4000;
        var (dir, inode) = await fixture.NewDirectoryAsync("odirect");
        string path = Path.Combine(dir, "direct.bin");
        byte[] head = RandomNumberGenerator.GetBytes((3 * MiB) + 123);
        byte[] tail = RandomNumberGenerator.GetBytes(MiB);
        const long TailAt = 5L * MiB;

        int fd = PosixTests.Libc.open(path, PosixTests.ORdWr | PosixTests.OCreat | oDirect, 420);
        Assert.True(fd >= 0, $"open: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
        byte[] seen = new byte[TailAt + tail.Length];
        try
        {
            Assert.Equal(head.Length, PosixTests.Libc.pwrite(fd, head, (nuint)head.Length, 0));
            Assert.Equal(tail.Length, PosixTests.Libc.pwrite(fd, tail, (nuint)tail.Length, TailAt));
            Assert.Equal(0, PosixTests.Libc.fsync(fd));
            Assert.Equal(seen.Length, PosixTests.Libc.pread(fd, seen, (nuint)seen.Length, 0));
        }
        finally
        {
            PosixTests.Libc.close(fd);
        }

        byte[] expected = new byte[seen.Length]; // the gap between the two writes reads as zeros
        head.CopyTo(expected, 0);
        tail.CopyTo(expected, TailAt);
        Assert.Equal(expected, seen);
        Assert.Equal(0, await ResidentPagesAsync(path));
        Assert.Equal(expected, await File.ReadAllBytesAsync(path));
        Assert.Equal(expected, (await StoredAsync(inode, "direct.bin")).Content);
    }

    /// <summary>Pages of the file in the kernel's page cache (util-linux fincore: mmap and mincore, no read).</summary>
    private static async Task<long> ResidentPagesAsync(string path)
    {
        var result = await Tools.RunAsync("fincore", "--noheadings", "--output", "PAGES", path);
        Assert.True(result.ExitCode == 0, result.Error);
        return long.Parse(result.Output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Fallocate_extends_with_zeros_keep_size_changes_nothing_and_punching_holes_is_refused()
    {
        var (dir, inode) = await fixture.NewDirectoryAsync("fallocate");
        string path = Path.Combine(dir, "pre.bin");
        byte[] head = RandomNumberGenerator.GetBytes(100_000);
        await File.WriteAllBytesAsync(path, head);

        // posix_fallocate(3) is fallocate mode 0 (glibc writes zeros block by block only where that is unsupported).
        var grown = await Tools.RunAsync("python3", "-c", "import os,sys; fd=os.open(sys.argv[1], os.O_RDWR); os.posix_fallocate(fd, 50000, 3 * 1048576); os.close(fd)", path);
        Assert.True(grown.ExitCode == 0, grown.Error);
        long size = 50_000 + (3 * MiB);
        Assert.Equal(size, new FileInfo(path).Length);

        // Inside the file: nothing changes. Keep-size: nothing changes either (FastDFS reserves no space).
        Assert.Equal(0, (await Tools.RunAsync("fallocate", "-o", "0", "-l", "4096", path)).ExitCode);
        var kept = await Tools.RunAsync("fallocate", "--keep-size", "-l", "20MiB", path);
        Assert.True(kept.ExitCode == 0, kept.Error);
        Assert.Equal(size, new FileInfo(path).Length);

        var punched = await Tools.RunAsync("fallocate", "--punch-hole", "-o", "0", "-l", "4096", path);
        Assert.NotEqual(0, punched.ExitCode);
        Assert.Contains("unsupported", punched.Error, StringComparison.OrdinalIgnoreCase);

        byte[] expected = new byte[size];
        head.CopyTo(expected, 0);
        Assert.Equal(expected, await File.ReadAllBytesAsync(path));
        var (attributes, content) = await StoredAsync(inode, "pre.bin");
        Assert.Equal(size, attributes.Size);
        Assert.Equal(expected, content);
    }

    [Fact]
    public async Task Truncate_cuts_and_extends_with_zeros()
    {
        var (dir, inode) = await fixture.NewDirectoryAsync("truncate");
        string path = Path.Combine(dir, "t.bin");
        byte[] data = RandomNumberGenerator.GetBytes(2 * MiB);
        await File.WriteAllBytesAsync(path, data);

        using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(handle, 1000); // ftruncate
            Assert.Equal(1000, RandomAccess.GetLength(handle));
        }

        Assert.Equal(data[..1000], await File.ReadAllBytesAsync(path));
        var shorter = await Tools.RunAsync("truncate", "-s", "5000", path);
        Assert.True(shorter.ExitCode == 0, shorter.Error);

        byte[] expected = [.. data[..1000], .. new byte[4000]];
        Assert.Equal(expected, await File.ReadAllBytesAsync(path));
        var (attributes, content) = await StoredAsync(inode, "t.bin");
        Assert.Equal(5000, attributes.Size);
        Assert.Equal(expected, content);
    }

    [Fact]
    public async Task Overwrite_with_O_TRUNC_replaces_the_content_and_keeps_its_metadata()
    {
        var (dir, inode) = await fixture.NewDirectoryAsync("otrunc");
        string path = Path.Combine(dir, "doc.txt");
        await File.WriteAllTextAsync(path, "old content, a bit longer than the new one");
        var before = await fixture.Names.LookupAsync(inode, "doc.txt");
        var oldId = FileId.Parse(before.FileId!);
        await fixture.Client.SetMetadataAsync(oldId, new Dictionary<string, string> { ["author"] = "ada", ["lang"] = "en" }, MetadataFlag.Overwrite);

        // bash's > opens with O_TRUNC (File.WriteAllText would ftruncate instead, which cuts the appender in place).
        var overwritten = await Tools.RunAsync("bash", "-c", $"printf new > '{path}'");
        Assert.True(overwritten.ExitCode == 0, overwritten.Error);

        Assert.Equal("new", await File.ReadAllTextAsync(path));
        var (after, content) = await StoredAsync(inode, "doc.txt");
        Assert.NotEqual(before.FileId, after.FileId);
        Assert.Equal("new"u8.ToArray(), content);
        var metadata = await fixture.Client.GetMetadataAsync(FileId.Parse(after.FileId!));
        Assert.Equal("ada", metadata["author"]);
        Assert.Equal("en", metadata["lang"]);

        // The replaced content is an orphan: the collector deletes it from the storage (orphan delay 0 here).
        await PollAsync(async () =>
        {
            try
            {
                await fixture.Client.GetFileInfoAsync(oldId);
                return false;
            }
            catch (FdfsServerException e) when (e.Errno == 2)
            {
                return true;
            }
        }, TimeSpan.FromSeconds(30), "the replaced content to be collected");
    }

    [Fact]
    public async Task New_content_takes_the_extension_of_the_files_name_at_upload()
    {
        // A directory the mount did not create: the name is made at open, the content uploaded at close.
        var (dir, inode) = await fixture.NewDirectoryAsync("ext");
        string path = Path.Combine(dir, "photo.jpg");
        byte[] photo = RandomNumberGenerator.GetBytes(30_000);
        await File.WriteAllBytesAsync(path, photo);
        string first = Tools.FileIdOf(path);
        Assert.EndsWith(".jpg", first, StringComparison.Ordinal);
        Assert.Equal(photo, await fixture.Client.DownloadBytesAsync(FileId.Parse(first)));

        // Renamed, then overwritten with O_TRUNC: the new content is named after the name it has now (as the mount
        // learns it: the kernel keeps its entry across a rename and looks the name up again after entry_timeout).
        File.Move(path, Path.Combine(dir, "photo.png"));
        await Task.Delay(300);
        var overwritten = await Tools.RunAsync("bash", "-c", $"printf png > '{Path.Combine(dir, "photo.png")}'");
        Assert.True(overwritten.ExitCode == 0, overwritten.Error);
        var (attributes, content) = await StoredAsync(inode, "photo.png");
        Assert.EndsWith(".png", attributes.FileId, StringComparison.Ordinal);
        Assert.Equal("png"u8.ToArray(), content);

        await File.WriteAllBytesAsync(Path.Combine(dir, "archive.tar-gz-bz2"), photo[..50]);
        Assert.DoesNotContain('.', FileId.Parse(Tools.FileIdOf(Path.Combine(dir, "archive.tar-gz-bz2"))).RemoteFileName);
    }

    [Fact]
    public async Task A_write_far_past_the_end_leaves_zeros_before_it()
    {
        var (dir, inode) = await fixture.NewDirectoryAsync("sparse");
        string path = Path.Combine(dir, "sparse.bin");
        byte[] tail = RandomNumberGenerator.GetBytes(4096);
        using (var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write))
        {
            RandomAccess.Write(handle, tail, 10 * MiB);
        }

        Assert.Equal((10 * MiB) + 4096, new FileInfo(path).Length);
        var (attributes, content) = await StoredAsync(inode, "sparse.bin");
        Assert.Equal((10 * MiB) + 4096, attributes.Size);
        Assert.True(content.AsSpan(0, 10 * MiB).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(tail, content[(10 * MiB)..]);
        Assert.Equal(content, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task After_close_another_mount_and_the_client_see_the_new_content_at_once()
    {
        var (dir, inode) = await fixture.NewDirectoryAsync("c2o");
        string name = Path.GetFileName(dir);
        string path = Path.Combine(dir, "shared.bin");
        byte[] first = RandomNumberGenerator.GetBytes(3 * MiB);
        await File.WriteAllBytesAsync(path, first);
        Assert.Equal(first, (await StoredAsync(inode, "shared.bin")).Content); // no waiting: close returned after the bind

        await using var other = await MountProcess.StartAsync(fixture.Cluster.TrackerEndpoint, DataMountFixture.MountOptions);
        string otherPath = other.PathOf(Path.Combine("group1", name, "shared.bin"));
        Assert.Equal(first, await File.ReadAllBytesAsync(otherPath));

        // The other mount has the pages cached; a change here shows there at its next open (close-to-open).
        byte[] second = RandomNumberGenerator.GetBytes(3 * MiB);
        await File.WriteAllBytesAsync(path, second);
        await PollAsync(() => Task.FromResult(new FileInfo(otherPath) is { } f && f.Length == second.Length), TimeSpan.FromSeconds(5), "the attribute cache to expire");
        Assert.Equal(second, await File.ReadAllBytesAsync(otherPath));
    }

    [Fact]
    public async Task Fsync_stores_and_names_the_data_before_close()
    {
        var (dir, inode) = await fixture.NewDirectoryAsync("fsync");
        string path = Path.Combine(dir, "f.bin");
        byte[] data = RandomNumberGenerator.GetBytes((2 * MiB) + 77);
        await using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite, 0))
        {
            await stream.WriteAsync(data);
            Assert.Equal(data.Length, new FileInfo(path).Length); // getattr during writes shows the local size
            stream.Flush(flushToDisk: true);

            var (attributes, content) = await StoredAsync(inode, "f.bin");
            Assert.Equal(data.Length, attributes.Size);
            Assert.Equal(data, content);
            await stream.WriteAsync(data.AsMemory(0, 1000));
        }

        Assert.Equal(data.Length + 1000, (await StoredAsync(inode, "f.bin")).Attributes.Size);
    }

    [Fact]
    public async Task A_64_MiB_file_copies_in_and_out_byte_identical()
    {
        var (dir, inode) = await fixture.NewDirectoryAsync("big");
        string local = Path.Combine(Path.GetTempPath(), "fdfs-data-big-" + Guid.NewGuid().ToString("N")[..8]);
        string copyBack = local + ".back";
        try
        {
            await File.WriteAllBytesAsync(local, RandomNumberGenerator.GetBytes(64 * MiB));
            string path = Path.Combine(dir, "big.bin");
            var copied = await Tools.RunAsync("cp", local, path);
            Assert.True(copied.ExitCode == 0, copied.Error);
            var back = await Tools.RunAsync("cp", path, copyBack);
            Assert.True(back.ExitCode == 0, back.Error);
            var compared = await Tools.RunAsync("cmp", local, copyBack);
            Assert.True(compared.ExitCode == 0, compared.Output + compared.Error);
            Assert.Equal(64 * MiB, (await fixture.Names.LookupAsync(inode, "big.bin")).Size);
        }
        finally
        {
            File.Delete(local);
            File.Delete(copyBack);
        }
    }

    [Fact]
    public async Task An_empty_created_file_has_no_content_and_a_file_ID_path_stays_read_only()
    {
        var (dir, inode) = await fixture.NewDirectoryAsync("empty");
        string path = Path.Combine(dir, "empty");
        await File.WriteAllBytesAsync(path, []);
        var attributes = await fixture.Names.LookupAsync(inode, "empty");
        Assert.Equal(0, attributes.Size);
        Assert.Null(attributes.FileId);
        Assert.Empty(await File.ReadAllBytesAsync(path));

        var id = await fixture.Client.UploadAsync("x"u8.ToArray(), "txt");
        var refused = Assert.ThrowsAny<IOException>(() => File.OpenHandle(fixture.Mount.PathOf(id.ToString()), FileMode.Open, FileAccess.Write));
        Assert.Contains("Read-only", refused.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Close_after_the_name_was_removed_succeeds()
    {
        var (dir, inode) = await fixture.NewDirectoryAsync("unlinked");
        string path = Path.Combine(dir, "gone.bin");
        await using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite, 0))
        {
            await stream.WriteAsync(RandomNumberGenerator.GetBytes(100_000));
            await fixture.Names.UnlinkAsync(inode, "gone.bin"); // another client removes the name meanwhile
        }

        Assert.Null(await fixture.Names.TryLookupAsync(inode, "gone.bin"));
    }

    internal static byte[] ReadRange(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, int length)
    {
        byte[] buffer = new byte[length];
        int total = 0;
        while (total < length)
        {
            int n = RandomAccess.Read(handle, buffer.AsSpan(total), offset + total);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return buffer[..total];
    }

    internal static async Task PollAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds} s waiting for {what}");
            }

            await Task.Delay(50);
        }
    }
}

/// <summary>A storage that dies during a write: the writer gets EIO within the timeout and nothing hangs.</summary>
public sealed class DataFaultTests : IAsyncLifetime
{
    private Cluster _cluster = null!;
    private NamespaceClient _names = null!;
    private MountProcess _mount = null!;

    public async Task InitializeAsync()
    {
        _cluster = await Cluster.StartAsync(new StorageSpec());
        _names = new NamespaceClient(FastDfsClientOptions.FromTrackers([_cluster.TrackerEndpoint]) with { NetworkTimeout = TimeSpan.FromSeconds(10) });
        _mount = await MountProcess.StartAsync(_cluster.TrackerEndpoint, "names=on,auto_unmount,attr_timeout=0.2,negative_timeout=0,timeout=5,write_chunk=1048576");
    }

    [Fact]
    public async Task A_storage_killed_during_a_write_gives_EIO_within_the_timeout()
    {
        var root = await _names.GetRootAsync("group1");
        await _names.MkDirAsync(root.Inode, "fault", 0x1FF, 0, 0);
        string path = _mount.PathOf("group1/fault/doomed.bin");
        byte[] chunk = RandomNumberGenerator.GetBytes(1024 * 1024);
        var watch = Stopwatch.StartNew();
        var failure = await Record.ExceptionAsync(async () =>
        {
            await using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0);
            await stream.WriteAsync(chunk);
            await _cluster.Storages[0].KillHardAsync();
            for (int i = 0; i < 8; i++)
            {
                await stream.WriteAsync(chunk);
            }

            stream.Flush(flushToDisk: true);
        });

        Assert.IsAssignableFrom<IOException>(failure);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"took {watch.Elapsed}");

        // The mount still answers.
        Assert.Contains("fault", Directory.GetDirectories(_mount.PathOf("group1")).Select(Path.GetFileName));
    }

    /// <summary>
    /// Two files streaming to a storage that stops taking bytes: with two receive threads, only one may wait in a send
    /// (the other file's writes take the chunk queue, which waits without a thread), so the mount still answers other
    /// requests at once instead of after the timeout.
    /// </summary>
    [Fact]
    public async Task Streamed_writes_to_a_frozen_storage_leave_a_receive_thread_for_other_requests()
    {
        var root = await _names.GetRootAsync("group1");
        await _names.MkDirAsync(root.Inode, "frozen-two", 0x1FF, 0, 0);
        await using var mount = await MountProcess.StartAsync(
            _cluster.TrackerEndpoint, "names=on,auto_unmount,attr_timeout=0.2,negative_timeout=0,timeout=10,write_chunk=1048576,threads=2", verbose: true);
        byte[] chunk = RandomNumberGenerator.GetBytes(1024 * 1024);
        var storage = _cluster.Storages[0].Process!;
        var streams = new[] { "one.bin", "two.bin" }
            .Select(name => new FileStream(mount.PathOf("group1/frozen-two/" + name), FileMode.CreateNew, FileAccess.Write, FileShare.None, 0))
            .ToArray();
        try
        {
            // Both files' streams open (each opens in the background once the file's first chunk is stored).
            for (int i = 0; i < 64 && CountOf(mount.Log, "through an appender stream") < 2; i++)
            {
                foreach (var stream in streams)
                {
                    await stream.WriteAsync(chunk);
                }

                await Task.Delay(20);
            }

            Assert.Equal(2, CountOf(mount.Log, "through an appender stream"));
            storage.Freeze(true);

            // Socket buffers take some megabytes before a send blocks; then each writer waits for the timeout.
            var writers = streams.Select(stream => Task.Run(async () =>
            {
                for (int i = 0; i < 64; i++)
                {
                    await stream.WriteAsync(chunk);
                }
            })).ToArray();
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.All(writers, writer => Assert.False(writer.IsCompleted, "a write to the frozen storage completed"));

            // A lookup the kernel cannot answer from its cache: it needs a receive thread.
            var watch = Stopwatch.StartNew();
            var lookup = Task.Run(() => File.Exists(mount.PathOf($"group1/frozen-two/absent-{Guid.NewGuid():N}")));
            Assert.Same(lookup, await Task.WhenAny(lookup, Task.Delay(TimeSpan.FromSeconds(5))));
            Assert.False(await lookup);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"the lookup took {watch.Elapsed}");

            storage.Freeze(false);
            foreach (var writer in writers)
            {
                await Record.ExceptionAsync(() => writer); // EIO after the timeout, or done once the storage woke
            }
        }
        finally
        {
            storage.Freeze(false);
            foreach (var stream in streams)
            {
                await Record.ExceptionAsync(async () => await stream.DisposeAsync());
            }
        }
    }

    private static int CountOf(string text, string value)
    {
        int count = 0;
        for (int at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    /// <summary>
    /// A storage that stops answering while a streamed write (from the receive buffer, or spliced from the pipe) goes
    /// to it: EIO within the timeout, never a hang.
    /// </summary>
    [Theory]
    [InlineData("stream_writes=on")]
    [InlineData("splice_writes=on")]
    public async Task A_storage_frozen_mid_stream_gives_EIO_within_the_timeout_and_the_mount_answers(string mode)
    {
        var root = await _names.GetRootAsync("group1");
        string dir = "frozen-" + mode[..mode.IndexOf('_', StringComparison.Ordinal)];
        await _names.MkDirAsync(root.Inode, dir, 0x1FF, 0, 0);
        await using var spliced = await MountProcess.StartAsync(
            _cluster.TrackerEndpoint, "names=on,auto_unmount,attr_timeout=0.2,negative_timeout=0,timeout=3,write_chunk=1048576," + mode, verbose: true);
        string path = spliced.PathOf($"group1/{dir}/stuck.bin");
        byte[] chunk = RandomNumberGenerator.GetBytes(1024 * 1024);
        var storage = _cluster.Storages[0].Process!;
        var watch = new Stopwatch();
        var failure = await Record.ExceptionAsync(async () =>
        {
            await using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0);
            // Until the stream is open (it opens in the background once the first chunk is stored).
            for (int i = 0; i < 64 && !spliced.Log.Contains("through an appender stream", StringComparison.Ordinal); i++)
            {
                await stream.WriteAsync(chunk);
                await Task.Delay(20);
            }

            Assert.Contains("through an appender stream", spliced.Log, StringComparison.Ordinal);
            storage.Freeze(true);
            watch.Start();

            // Socket buffers take some megabytes before a write blocks; the timeout then ends it.
            for (int i = 0; i < 256; i++)
            {
                await stream.WriteAsync(chunk);
            }

            stream.Flush(flushToDisk: true);
        });

        storage.Freeze(false);
        Assert.IsAssignableFrom<IOException>(failure);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
        Assert.Contains(dir, Directory.GetDirectories(spliced.PathOf("group1")).Select(Path.GetFileName));
    }

    public async Task DisposeAsync()
    {
        if (_mount is not null)
        {
            await _mount.DisposeAsync();
        }

        if (_names is not null)
        {
            await _names.DisposeAsync();
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}
