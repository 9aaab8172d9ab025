using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Xunit;

namespace FastDfs.Mount.Tests;

/// <summary>The named-mode mount with a non-zero negative_timeout, so directories it creates answer misses locally.</summary>
public sealed class KnownNamesMountFixture() : NamedMountFixture(MountOptions)
{
    public new const string MountOptions =
        "names=on,auto_unmount,attr_timeout=0.2,entry_timeout=0.2,negative_timeout=1,xattr_timeout=0.2,timeout=15";
}

/// <summary>
/// In a directory the mount created itself, a name it does not know is answered ENOENT without a directory-service
/// round trip (FileSystem.Names: KnownNames), and a new file is named with its content at its first commit (deferred
/// CREATE, FileSystem.Data). These tests check that no name the mount makes is ever missed, that names another client
/// adds show within negative_timeout, and what a file not yet closed supports.
/// </summary>
public sealed class KnownNamesTests(KnownNamesMountFixture fixture) : IClassFixture<KnownNamesMountFixture>
{
    private string NewMountDirectory(string purpose)
    {
        string path = fixture.Mount.PathOf(Path.Combine("group1", purpose + "-" + Guid.NewGuid().ToString("N")[..8]));
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>The kernel's entries (entry_timeout 0.2 s) expire, so the next lookups reach the mount.</summary>
    private static Task KernelEntriesExpireAsync() => Task.Delay(300);

    [Fact]
    public async Task Every_name_the_mount_makes_in_its_new_directory_is_found_and_others_miss()
    {
        string dir = NewMountDirectory("known");
        Assert.False(File.Exists(Path.Combine(dir, "a"))); // answered from the empty set
        await File.WriteAllTextAsync(Path.Combine(dir, "a"), "a");
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        File.CreateSymbolicLink(Path.Combine(dir, "sym"), "a");
        Assert.Equal(0, (await Tools.RunAsync("ln", Path.Combine(dir, "a"), Path.Combine(dir, "hard"))).ExitCode);
        Assert.Equal(0, (await Tools.RunAsync("mkfifo", Path.Combine(dir, "fifo"))).ExitCode);
        await File.WriteAllTextAsync(Path.Combine(dir, "tmp"), "moved");
        File.Move(Path.Combine(dir, "tmp"), Path.Combine(dir, "moved"));
        await File.WriteAllTextAsync(Path.Combine(dir, "sub", "inner"), "inner"); // the new subdirectory is tracked too
        await KernelEntriesExpireAsync();

        Assert.Equal("a", await File.ReadAllTextAsync(Path.Combine(dir, "a")));
        Assert.True(Directory.Exists(Path.Combine(dir, "sub")));
        Assert.Equal("a", new FileInfo(Path.Combine(dir, "sym")).LinkTarget);
        Assert.Equal("a", await File.ReadAllTextAsync(Path.Combine(dir, "hard")));
        Assert.True(File.Exists(Path.Combine(dir, "fifo")));
        Assert.Equal("moved", await File.ReadAllTextAsync(Path.Combine(dir, "moved")));
        Assert.Equal("inner", await File.ReadAllTextAsync(Path.Combine(dir, "sub", "inner")));
        Assert.False(File.Exists(Path.Combine(dir, "tmp")));
        Assert.False(File.Exists(Path.Combine(dir, "missing")));
        Assert.Equal(
            ["a", "fifo", "hard", "moved", "sub", "sym"],
            Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        // A removed name misses, and made again it is found again.
        File.Delete(Path.Combine(dir, "a"));
        await KernelEntriesExpireAsync();
        Assert.False(File.Exists(Path.Combine(dir, "a")));
        await File.WriteAllTextAsync(Path.Combine(dir, "a"), "again");
        await KernelEntriesExpireAsync();
        Assert.Equal("again", await File.ReadAllTextAsync(Path.Combine(dir, "a")));
    }

    [Fact]
    public async Task A_name_another_client_adds_to_the_mounts_new_directory_shows_within_negative_timeout()
    {
        string dir = NewMountDirectory("other");
        string path = Path.Combine(dir, "from-elsewhere.bin");
        Assert.False(File.Exists(path));

        long dirInode = await DirectoryInodeAsync(dir);
        byte[] data = RandomNumberGenerator.GetBytes(5000);
        byte[] mine = RandomNumberGenerator.GetBytes(3000);
        string minePath = Path.Combine(dir, "mine.bin");
        await using (var open = new FileStream(minePath, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite, 0))
        {
            // Not yet named while the mount lists the directory again: it must still be found after its close.
            await open.WriteAsync(mine);
            var watch = Stopwatch.StartNew();
            await fixture.NameUploadedAsync(dirInode, "from-elsewhere.bin", data);

            await MountProcess.WaitUntilAsync(() => File.Exists(path), TimeSpan.FromSeconds(10), "the other client's name to show");
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"showed after {watch.Elapsed}, negative_timeout is 1 s");
        }

        Assert.Equal(data, await File.ReadAllBytesAsync(path));
        await KernelEntriesExpireAsync();
        Assert.Equal(mine, await File.ReadAllBytesAsync(minePath));
    }

    [Fact]
    public async Task A_new_file_in_the_mounts_new_directory_is_named_with_its_content_at_close()
    {
        string dir = NewMountDirectory("deferred");
        long dirInode = await DirectoryInodeAsync(dir);
        string path = Path.Combine(dir, "new.bin");
        byte[] data = RandomNumberGenerator.GetBytes(100_000);
        await using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite, 0))
        {
            await stream.WriteAsync(data);
            Assert.Null(await fixture.Names.TryLookupAsync(dirInode, "new.bin")); // not made yet
            Assert.Equal(data.Length, new FileInfo(path).Length); // but this mount sees it
            Assert.Equal(["new.bin"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName)); // a listing makes it
            Assert.NotNull(await fixture.Names.TryLookupAsync(dirInode, "new.bin"));
        }

        await using (var stream = new FileStream(Path.Combine(dir, "closed.bin"), FileMode.CreateNew, FileAccess.Write))
        {
            await stream.WriteAsync(data);
        }

        var named = await fixture.Names.LookupAsync(dirInode, "closed.bin"); // no waiting: close made the name
        Assert.Equal(data.Length, named.Size);
        Assert.Equal(data, await fixture.Client.DownloadBytesAsync(FastDfs.Protocol.FileId.Parse(named.FileId!)));
        await File.WriteAllBytesAsync(Path.Combine(dir, "empty"), []);
        Assert.Null((await fixture.Names.LookupAsync(dirInode, "empty")).FileId);
    }

    [Fact]
    public async Task Cp_of_a_photo_gives_its_content_a_jpg_file_ID_and_bad_extensions_give_none()
    {
        // cp into a directory this mount made: the deferred CREATE path (content uploaded at close).
        string dir = NewMountDirectory("ext");
        string source = Path.Combine(Path.GetTempPath(), "fdfs-ext-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(source);
        try
        {
            byte[] photo = RandomNumberGenerator.GetBytes(20_000);
            await File.WriteAllBytesAsync(Path.Combine(source, "photo.jpg"), photo);
            await File.WriteAllBytesAsync(Path.Combine(source, "notes.abcdefghij"), photo[..100]);
            await File.WriteAllBytesAsync(Path.Combine(source, "README"), photo[..10]);
            foreach (string name in new[] { "photo.jpg", "notes.abcdefghij", "README" })
            {
                var copy = await Tools.RunAsync("cp", Path.Combine(source, name), dir);
                Assert.True(copy.ExitCode == 0, copy.Error);
            }

            string photoId = Tools.FileIdOf(Path.Combine(dir, "photo.jpg"));
            Assert.EndsWith(".jpg", photoId, StringComparison.Ordinal);
            Assert.Equal(photo, await fixture.Client.DownloadBytesAsync(FastDfs.Protocol.FileId.Parse(photoId)));

            // FastDFS's ext field holds at most 6 characters: a longer extension, or none, leaves the file ID without one.
            foreach (string name in new[] { "notes.abcdefghij", "README" })
            {
                var id = FastDfs.Protocol.FileId.Parse(Tools.FileIdOf(Path.Combine(dir, name)));
                Assert.DoesNotContain('.', id.RemoteFileName);
            }
        }
        finally
        {
            Directory.Delete(source, recursive: true);
        }
    }

    [Fact]
    public async Task Rename_chmod_link_and_unlink_of_a_file_not_yet_closed_work()
    {
        string dir = NewMountDirectory("pending-ops");
        long dirInode = await DirectoryInodeAsync(dir);
        byte[] data = RandomNumberGenerator.GetBytes(10_000);
        await using (var stream = new FileStream(Path.Combine(dir, "a"), FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 0))
        {
            await stream.WriteAsync(data);
            File.Move(Path.Combine(dir, "a"), Path.Combine(dir, "b"));
            Assert.Equal(0, (await Tools.RunAsync("chmod", "600", Path.Combine(dir, "b"))).ExitCode);
            Assert.Equal(0, (await Tools.RunAsync("ln", Path.Combine(dir, "b"), Path.Combine(dir, "c"))).ExitCode);
            await stream.WriteAsync(data);
        }

        byte[] twice = [.. data, .. data];
        Assert.Equal(twice, await File.ReadAllBytesAsync(Path.Combine(dir, "b")));
        Assert.Equal(twice, await File.ReadAllBytesAsync(Path.Combine(dir, "c")));
        Assert.False(File.Exists(Path.Combine(dir, "a")));
        Assert.Equal("600", (await Tools.RunAsync("stat", "-c", "%a", Path.Combine(dir, "b"))).Output.Trim());
        Assert.Equal(2u, (await fixture.Names.LookupAsync(dirInode, "b")).Nlink);

        await using (var stream = new FileStream(Path.Combine(dir, "d"), FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 0))
        {
            await stream.WriteAsync(data);
            File.Delete(Path.Combine(dir, "d")); // unlinked while open: close still succeeds, as on ext4
        }

        Assert.False(File.Exists(Path.Combine(dir, "d")));
        Assert.Null(await fixture.Names.TryLookupAsync(dirInode, "d"));
    }

    [Fact]
    public async Task A_name_another_client_made_while_the_file_was_open_fails_the_close_and_keeps_the_other_file()
    {
        string dir = NewMountDirectory("conflict");
        long dirInode = await DirectoryInodeAsync(dir);
        byte[] theirs = RandomNumberGenerator.GetBytes(5000);
        // libc directly: .NET ignores what close(2) answers.
        int fd = PosixTests.Libc.open(Path.Combine(dir, "x"), 0x40 | 0x80 | 1, 0x1A4); // O_CREAT | O_EXCL | O_WRONLY, 0644
        Assert.True(fd >= 0, $"open: errno {Marshal.GetLastPInvokeError()}");
        byte[] mine = RandomNumberGenerator.GetBytes(7000);
        Assert.Equal(mine.Length, PosixTests.Libc.write(fd, mine, (nuint)mine.Length));
        await fixture.NameUploadedAsync(dirInode, "x", theirs);
        Assert.Equal(-1, PosixTests.Libc.close(fd));
        Assert.Equal(5, Marshal.GetLastPInvokeError()); // EIO

        var kept = await fixture.Names.LookupAsync(dirInode, "x");
        Assert.Equal(theirs, await fixture.Client.DownloadBytesAsync(FastDfs.Protocol.FileId.Parse(kept.FileId!)));
    }

    private async Task<long> DirectoryInodeAsync(string mountPath)
    {
        var root = await fixture.Names.GetRootAsync("group1");
        return (await fixture.Names.LookupAsync(root.Inode, Path.GetFileName(mountPath))).Inode;
    }

    [Fact]
    public async Task Cp_r_into_the_mount_copies_every_file_of_a_tree()
    {
        using var local = new LocalDirectory("known-cp");
        string source = Path.Combine(local.Path, "tree");
        for (int d = 0; d < 3; d++)
        {
            Directory.CreateDirectory(Path.Combine(source, $"d{d}", "nested"));
            for (int f = 0; f < 100; f++)
            {
                await File.WriteAllBytesAsync(Path.Combine(source, $"d{d}", $"f{f}"), RandomNumberGenerator.GetBytes(4096));
            }

            await File.WriteAllTextAsync(Path.Combine(source, $"d{d}", "nested", "leaf"), "leaf");
        }

        string target = Path.Combine(NewMountDirectory("cp"), "tree");
        var copy = await Tools.RunAsync("cp", "-r", source, target);
        Assert.True(copy.ExitCode == 0, copy.Error);

        // A second copy onto the same names (overwrite) must find every name the first one made.
        await KernelEntriesExpireAsync();
        copy = await Tools.RunAsync("cp", "-r", "-T", source, target);
        Assert.True(copy.ExitCode == 0, copy.Error);
        var diff = await Tools.RunAsync("diff", "-r", source, target);
        Assert.True(diff.ExitCode == 0, diff.Output + diff.Error);
    }
}
