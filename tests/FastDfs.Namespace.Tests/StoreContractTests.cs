using System.Diagnostics;
using System.Text;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit.Abstractions;

namespace FastDfs.Namespace.Tests;

/// <summary>
/// The store's semantics, run against every implementation (<see cref="SqliteStoreTests"/>, <see cref="PostgresStoreTests"/>).
/// Errnos are those ext4 gives for the same calls.
/// </summary>
public abstract class StoreContractTests : IAsyncLifetime
{
    private const uint Uid = 1000;
    private const uint Gid = 1001;
    private const string FileA = "group1/M00/00/00/aaaaaaaaaaaaaaaaaaaaaaaaaaa.bin";
    private const string FileB = "group1/M00/00/00/bbbbbbbbbbbbbbbbbbbbbbbbbbb.bin";

    protected StoreContractTests(ITestOutputHelper output) => Output = output;

    protected ITestOutputHelper Output { get; }

    protected INamespaceStore Store { get; private set; } = null!;

    protected long Root { get; private set; }

    /// <summary>A new, empty store whose orphans are due at once.</summary>
    protected abstract Task<INamespaceStore> CreateStoreAsync();

    public async Task InitializeAsync()
    {
        Store = await CreateStoreAsync();
        await Store.InitializeAsync(CancellationToken.None);
        Root = (await Store.RootAsync("group1", default)).Inode;
    }

    public async Task DisposeAsync() => await Store.DisposeAsync();

    protected static byte[] N(string name) => Encoding.UTF8.GetBytes(name);

    protected static async Task Errno(byte expected, Func<Task> action)
    {
        var e = await Assert.ThrowsAsync<NamespaceException>(action);
        Assert.True(expected == e.Errno, $"expected {FdfsErrno.Name(expected)}, got {FdfsErrno.Name(e.Errno)} ({e.Message})");
    }

    protected Task<NsAttributes> MkDir(long parent, string name) => Store.MkDirAsync(parent, N(name), 0x1ED, Uid, Gid, default).AsTask();

    protected Task<NsAttributes> Create(long parent, string name, string? fileId = null, long size = 0) =>
        Store.CreateAsync(parent, N(name), 0x1A4, Uid, Gid, fileId, size, default).AsTask();

    protected Task<NsAttributes> Lookup(long parent, string name) => Store.LookupAsync(parent, N(name), default).AsTask();

    protected Task Rename(long p, string n, long np, string nn, NamespaceRenameFlags flags = NamespaceRenameFlags.None) =>
        Store.RenameAsync(p, N(n), np, N(nn), flags, default).AsTask();

    private async Task<List<string>> OrphansAsync() =>
        (await Store.ClaimOrphansAsync(100, TimeSpan.FromMinutes(1), default)).Select(o => o.FileId).ToList();

    [Fact]
    public async Task Roots_are_stable_per_group_and_groups_are_validated()
    {
        var again = await Store.RootAsync("group1", default);
        var other = await Store.RootAsync("group2", default);
        Assert.Equal(Root, again.Inode);
        Assert.NotEqual(Root, other.Inode);
        Assert.True(again.IsDirectory);
        Assert.Equal(2u, again.Nlink);
        await Errno(FdfsErrno.EINVAL, () => Store.RootAsync("bad/group", default).AsTask());
        await Errno(FdfsErrno.EINVAL, () => Store.RootAsync("", default).AsTask());
    }

    [Fact]
    public async Task Mkdir_and_create_set_attributes_and_parent_links()
    {
        long before = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;
        var dir = await MkDir(Root, "docs");
        var file = await Create(dir.Inode, "a.txt", FileA, 123);
        var looked = await Lookup(dir.Inode, "a.txt");
        Assert.Equal(file, looked);
        Assert.Equal(NamespaceMode.Directory | 0x1ED, dir.Mode);
        Assert.Equal(NamespaceMode.Regular | 0x1A4, file.Mode);
        Assert.Equal((Uid, Gid, 1u, 123L, FileA), (file.Uid, file.Gid, file.Nlink, file.Size, file.FileId));
        Assert.InRange(file.MtimeNs, before, before + 60_000_000_000L);
        Assert.Equal(3u, (await Store.GetAttrAsync(Root, default)).Nlink);
        var fifo = await Store.CreateAsync(Root, N("pipe"), NamespaceMode.Fifo | 0x180, Uid, Gid, null, 0, default);
        Assert.Equal(NamespaceMode.Fifo | 0x180, fifo.Mode);
        await Errno(FdfsErrno.EINVAL, () => Store.CreateAsync(Root, N("d"), NamespaceMode.Directory, Uid, Gid, null, 0, default).AsTask());
    }

    [Fact]
    public async Task Names_are_checked_like_ext4()
    {
        var file = await Create(Root, "f");
        await Create(Root, new string('x', 255));
        await Errno(FdfsErrno.ENAMETOOLONG, () => Create(Root, new string('x', 256)));
        await Errno(FdfsErrno.ENAMETOOLONG, () => Lookup(Root, new string('y', 256)));
        await Errno(FdfsErrno.EINVAL, () => Create(Root, "a/b"));
        await Errno(FdfsErrno.EINVAL, () => MkDir(Root, ".."));
        await Errno(FdfsErrno.ENOENT, () => Lookup(Root, "missing"));
        await Errno(FdfsErrno.ENOENT, () => Lookup(999_999, "x"));
        await Errno(NamespaceErrno.ENOTDIR, () => Lookup(file.Inode, "x"));
        await Errno(NamespaceErrno.ENOTDIR, () => MkDir(file.Inode, "x"));
        await Errno(FdfsErrno.EEXIST, () => Create(Root, "f"));
        await Errno(FdfsErrno.EEXIST, () => MkDir(Root, "f"));
        await Errno(FdfsErrno.ENOENT, () => Store.GetAttrAsync(999_999, default).AsTask());
        var utf8 = await Create(Root, "naïve 文件");
        Assert.Equal(utf8.Inode, (await Lookup(Root, "naïve 文件")).Inode);
    }

    [Fact]
    public async Task Unlink_and_rmdir_errnos()
    {
        var dir = await MkDir(Root, "d");
        await Create(dir.Inode, "f");
        var file = await Create(Root, "g");
        await Errno(FdfsErrno.ENOENT, () => Store.UnlinkAsync(Root, N("nope"), default).AsTask());
        await Errno(FdfsErrno.EISDIR, () => Store.UnlinkAsync(Root, N("d"), default).AsTask());
        await Errno(NamespaceErrno.ENOTDIR, () => Store.RmDirAsync(Root, N("g"), default).AsTask());
        await Errno(NamespaceErrno.ENOTEMPTY, () => Store.RmDirAsync(Root, N("d"), default).AsTask());
        await Errno(NamespaceErrno.ENOTDIR, () => Store.UnlinkAsync(file.Inode, N("x"), default).AsTask());
        await Store.UnlinkAsync(dir.Inode, N("f"), default);
        await Store.RmDirAsync(Root, N("d"), default);
        await Errno(FdfsErrno.ENOENT, () => Lookup(Root, "d"));
        await Errno(FdfsErrno.ENOENT, () => Store.GetAttrAsync(dir.Inode, default).AsTask());
        Assert.Equal(2u, (await Store.GetAttrAsync(Root, default)).Nlink);
    }

    [Fact]
    public async Task Rename_over_an_existing_file_is_atomic_and_orphans_the_old_content()
    {
        var source = await Create(Root, "new", FileA, 10);
        await Create(Root, "old", FileB, 20);
        await Rename(Root, "new", Root, "old");
        var now = await Lookup(Root, "old");
        Assert.Equal(source.Inode, now.Inode);
        Assert.Equal(FileA, now.FileId);
        await Errno(FdfsErrno.ENOENT, () => Lookup(Root, "new"));
        Assert.Equal([FileB], await OrphansAsync());
        Assert.Empty(await Store.FindByFileIdAsync(FileB, default));
        var names = await Store.FindByFileIdAsync(FileA, default);
        Assert.Equal("old", Encoding.UTF8.GetString(Assert.Single(names).Name));
    }

    [Fact]
    public async Task Rename_across_groups_is_EXDEV()
    {
        long other = (await Store.RootAsync("group2", default)).Inode;
        await Create(Root, "f");
        var dir = await MkDir(Root, "d");
        await Errno(NamespaceErrno.EXDEV, () => Rename(Root, "f", other, "f"));
        long f = (await Lookup(Root, "f")).Inode;
        await Errno(NamespaceErrno.EXDEV, () => Store.LinkAsync(f, other, N("f"), default).AsTask());
        await Errno(NamespaceErrno.EXDEV, () => Rename(Root, "d", other, "d"));
        Assert.Equal(dir.Inode, (await Lookup(Root, "d")).Inode);
    }

    [Fact]
    public async Task Rename_of_a_directory_into_its_own_subtree_is_EINVAL()
    {
        var a = await MkDir(Root, "a");
        var b = await MkDir(a.Inode, "b");
        var c = await MkDir(b.Inode, "c");
        await Errno(FdfsErrno.EINVAL, () => Rename(Root, "a", c.Inode, "x"));
        await Errno(FdfsErrno.EINVAL, () => Rename(Root, "a", a.Inode, "x"));
        await Errno(FdfsErrno.EINVAL, () => Rename(Root, "a", b.Inode, "a2", NamespaceRenameFlags.NoReplace));

        // Moving the inner one up is fine, and link counts follow.
        await Rename(b.Inode, "c", Root, "c");
        Assert.Equal(2u, (await Store.GetAttrAsync(b.Inode, default)).Nlink);
        Assert.Equal(4u, (await Store.GetAttrAsync(Root, default)).Nlink);
        Assert.Equal(c.Inode, (await Lookup(Root, "c")).Inode);
    }

    [Fact]
    public async Task Rename_type_and_flag_cases()
    {
        var d1 = await MkDir(Root, "d1");
        var d2 = await MkDir(Root, "d2");
        await MkDir(Root, "full");
        await Create((await Lookup(Root, "full")).Inode, "x");
        var f1 = await Create(Root, "f1");
        var f2 = await Create(Root, "f2");
        await Errno(NamespaceErrno.ENOTDIR, () => Rename(Root, "d1", Root, "f1"));
        await Errno(FdfsErrno.EISDIR, () => Rename(Root, "f1", Root, "d1"));
        await Errno(NamespaceErrno.ENOTEMPTY, () => Rename(Root, "d1", Root, "full"));
        await Errno(FdfsErrno.ENOENT, () => Rename(Root, "missing", Root, "x"));
        await Errno(FdfsErrno.EEXIST, () => Rename(Root, "f1", Root, "f2", NamespaceRenameFlags.NoReplace));
        await Errno(FdfsErrno.ENOENT, () => Rename(Root, "f1", Root, "nothing", NamespaceRenameFlags.Exchange));
        await Errno(FdfsErrno.EINVAL, () => Rename(Root, "f1", Root, "f2", NamespaceRenameFlags.Exchange | NamespaceRenameFlags.NoReplace));

        // Directory over an empty directory replaces it.
        await Rename(Root, "d1", Root, "d2");
        Assert.Equal(d1.Inode, (await Lookup(Root, "d2")).Inode);
        await Errno(FdfsErrno.ENOENT, () => Store.GetAttrAsync(d2.Inode, default).AsTask());

        // Exchange swaps a file and a directory, in different parents.
        var sub = await MkDir(Root, "sub");
        await Create(sub.Inode, "inner");
        long rootLinks = (await Store.GetAttrAsync(Root, default)).Nlink;
        await Rename(Root, "d2", sub.Inode, "inner", NamespaceRenameFlags.Exchange);
        Assert.Equal(d1.Inode, (await Lookup(sub.Inode, "inner")).Inode);
        Assert.True((await Lookup(Root, "d2")).IsRegular);
        Assert.Equal(rootLinks - 1, (await Store.GetAttrAsync(Root, default)).Nlink);
        Assert.Equal(3u, (await Store.GetAttrAsync(sub.Inode, default)).Nlink);

        // Renaming one hard link onto another of the same file does nothing.
        await Store.LinkAsync(f1.Inode, Root, N("f1b"), default);
        await Rename(Root, "f1", Root, "f1b");
        Assert.Equal(f1.Inode, (await Lookup(Root, "f1")).Inode);
        Assert.Equal(2u, (await Store.GetAttrAsync(f1.Inode, default)).Nlink);

        // Plain move to a new name in the same directory.
        await Rename(Root, "f2", Root, "f3");
        Assert.Equal(f2.Inode, (await Lookup(Root, "f3")).Inode);
    }

    [Fact]
    public async Task Hard_links_count_and_the_last_unlink_orphans_the_content()
    {
        var file = await Create(Root, "a", FileA, 5);
        var dir = await MkDir(Root, "d");
        var linked = await Store.LinkAsync(file.Inode, dir.Inode, N("b"), default);
        Assert.Equal(2u, linked.Nlink);
        Assert.True(linked.Generation > file.Generation);
        Assert.Equal(2, (await Store.FindByFileIdAsync(FileA, default)).Count);
        await Errno(FdfsErrno.EEXIST, () => Store.LinkAsync(file.Inode, Root, N("a"), default).AsTask());
        await Errno(FdfsErrno.EPERM, () => Store.LinkAsync(dir.Inode, Root, N("dl"), default).AsTask());
        await Errno(FdfsErrno.ENOENT, () => Store.LinkAsync(999_999, Root, N("x"), default).AsTask());

        await Store.UnlinkAsync(Root, N("a"), default);
        Assert.Equal(1u, (await Lookup(dir.Inode, "b")).Nlink);
        Assert.Empty(await OrphansAsync());
        await Store.UnlinkAsync(dir.Inode, N("b"), default);
        Assert.Equal([FileA], await OrphansAsync());
        await Errno(FdfsErrno.ENOENT, () => Store.GetAttrAsync(file.Inode, default).AsTask());
    }

    [Fact]
    public async Task Symlinks()
    {
        var link = await Store.SymlinkAsync(Root, N("l"), N("../target/file"), Uid, Gid, default);
        Assert.True(link.IsSymlink);
        Assert.Equal(14, link.Size);
        Assert.Equal("../target/file", Encoding.UTF8.GetString(await Store.ReadLinkAsync(link.Inode, default)));
        var file = await Create(Root, "f");
        await Errno(FdfsErrno.EINVAL, () => Store.ReadLinkAsync(file.Inode, default).AsTask());
        await Errno(FdfsErrno.ENOENT, () => Store.SymlinkAsync(Root, N("e"), [], Uid, Gid, default).AsTask());
        await Errno(FdfsErrno.ENAMETOOLONG, () => Store.SymlinkAsync(Root, N("e"), new byte[4096], Uid, Gid, default).AsTask());
        await Errno(FdfsErrno.EEXIST, () => Store.SymlinkAsync(Root, N("f"), N("x"), Uid, Gid, default).AsTask());
    }

    [Fact]
    public async Task Setattr_changes_what_the_mask_says_and_bumps_the_generation()
    {
        var file = await Create(Root, "f", FileA, 100);
        var set = await Store.SetAttrAsync(new SetAttrRequest(file.Inode,
            NamespaceSetAttr.Mode | NamespaceSetAttr.Uid | NamespaceSetAttr.Atime | NamespaceSetAttr.Mtime | NamespaceSetAttr.Size,
            0x1C0, 42, 0, 7, 1_000_000_001, 2_000_000_002, 0), default);
        Assert.Equal(NamespaceMode.Regular | 0x1C0, set.Mode);
        Assert.Equal((42u, Gid, 7L, 1_000_000_001L, 2_000_000_002L), (set.Uid, set.Gid, set.Size, set.AtimeNs, set.MtimeNs));
        Assert.True(set.Generation > file.Generation);
        Assert.True(set.CtimeNs >= file.CtimeNs);
        Assert.Equal(set, await Store.GetAttrAsync(file.Inode, default));
        var ctime = await Store.SetAttrAsync(new SetAttrRequest(file.Inode, NamespaceSetAttr.Ctime | NamespaceSetAttr.Gid, 0, 0, 5, 0, 0, 0, 123), default);
        Assert.Equal((5u, 123L), (ctime.Gid, ctime.CtimeNs));
        var dir = await MkDir(Root, "d");
        await Errno(FdfsErrno.EISDIR, () => Store.SetAttrAsync(new SetAttrRequest(dir.Inode, NamespaceSetAttr.Size, 0, 0, 0, 1, 0, 0, 0), default).AsTask());
        await Errno(FdfsErrno.EINVAL, () => Store.SetAttrAsync(new SetAttrRequest(file.Inode, NamespaceSetAttr.Size, 0, 0, 0, -1, 0, 0, 0), default).AsTask());
        await Errno(FdfsErrno.ENOENT, () => Store.SetAttrAsync(new SetAttrRequest(999_999, NamespaceSetAttr.Mode, 0, 0, 0, 0, 0, 0, 0), default).AsTask());
    }

    [Fact]
    public async Task Set_content_replaces_the_file_id_and_orphans_the_old_one()
    {
        var file = await Create(Root, "f");
        Assert.Null(file.FileId);
        var first = await Store.SetContentAsync(file.Inode, FileA, 11, 5_000, default);
        Assert.Equal((FileA, 11L, 5_000L), (first.FileId, first.Size, first.MtimeNs));
        Assert.Empty(await OrphansAsync());
        var again = await Store.SetContentAsync(file.Inode, FileA, 12, 0, default);
        Assert.Empty(await OrphansAsync());
        Assert.True(again.Generation > first.Generation);
        await Store.SetContentAsync(file.Inode, FileB, 13, 0, default);
        Assert.Equal([FileA], await OrphansAsync());
        var dir = await MkDir(Root, "d");
        await Errno(FdfsErrno.EISDIR, () => Store.SetContentAsync(dir.Inode, FileA, 1, 0, default).AsTask());
        await Errno(FdfsErrno.EINVAL, () => Store.SetContentAsync(file.Inode, "no-slash", 1, 0, default).AsTask());
    }

    [Fact]
    public async Task Xattrs_follow_the_setxattr_flags()
    {
        var dir = await MkDir(Root, "d");
        byte[] name = N("user.color");
        await Errno(NamespaceErrno.ENODATA, () => Store.GetXattrAsync(dir.Inode, name, default).AsTask());
        await Errno(NamespaceErrno.ENODATA, () => Store.SetXattrAsync(dir.Inode, name, N("red"), NamespaceXattrFlags.Replace, default).AsTask());
        await Store.SetXattrAsync(dir.Inode, name, N("red"), NamespaceXattrFlags.Create, default);
        await Errno(FdfsErrno.EEXIST, () => Store.SetXattrAsync(dir.Inode, name, N("blue"), NamespaceXattrFlags.Create, default).AsTask());
        await Store.SetXattrAsync(dir.Inode, name, N("blue"), NamespaceXattrFlags.Replace, default);
        await Store.SetXattrAsync(dir.Inode, N("trusted.a"), [], NamespaceXattrFlags.None, default);
        Assert.Equal("blue", Encoding.UTF8.GetString(await Store.GetXattrAsync(dir.Inode, name, default)));
        Assert.Empty(await Store.GetXattrAsync(dir.Inode, N("trusted.a"), default));
        Assert.Equal(["trusted.a", "user.color"], (await Store.ListXattrAsync(dir.Inode, default)).Select(Encoding.UTF8.GetString));
        await Store.RemoveXattrAsync(dir.Inode, name, default);
        await Errno(NamespaceErrno.ENODATA, () => Store.RemoveXattrAsync(dir.Inode, name, default).AsTask());
        await Errno(NamespaceErrno.ERANGE, () => Store.SetXattrAsync(dir.Inode, new byte[256], N("v"), 0, default).AsTask());
        await Errno(NamespaceErrno.E2BIG, () => Store.SetXattrAsync(dir.Inode, name, new byte[65537], 0, default).AsTask());
        await Store.SetXattrAsync(dir.Inode, name, new byte[65536], 0, default);
        await Errno(FdfsErrno.ENOENT, () => Store.ListXattrAsync(999_999, default).AsTask());

        // xattrs go with the inode.
        await Store.RmDirAsync(Root, N("d"), default);
        var again = await MkDir(Root, "d");
        Assert.Empty(await Store.ListXattrAsync(again.Inode, default));
    }

    [Fact]
    public async Task Statfs_counts_per_group()
    {
        var d = await MkDir(Root, "d");
        await Create(d.Inode, "a", FileA, 100);
        await Create(d.Inode, "b", FileB, 50);
        await Store.SymlinkAsync(Root, N("l"), N("d"), Uid, Gid, default);
        await Store.RootAsync("group2", default);
        var stat = await Store.StatFsAsync("group1", default);
        Assert.Equal((2L, 2L, 1L, 150L), (stat.Directories, stat.Files, stat.Symlinks, stat.Bytes));
        Assert.Equal(Store.NamespaceId, stat.NamespaceId);
        Assert.NotEqual(Guid.Empty, stat.NamespaceId);
        Assert.Equal(1L, (await Store.StatFsAsync("group2", default)).Directories);
    }

    [Fact]
    public async Task Pending_uploads_are_collected_unless_committed()
    {
        await Store.RegisterPendingAsync(FileA, TimeSpan.FromHours(1), default);
        await Store.RegisterPendingAsync(FileB, TimeSpan.Zero, default);
        var due = await Store.ClaimOrphansAsync(10, TimeSpan.FromMinutes(1), default);
        Assert.Equal(FileB, Assert.Single(due).FileId);
        Assert.True(due[0].WasPending);

        // A claimed entry is hidden from other collectors until the claim runs out, then retried.
        Assert.Empty(await Store.ClaimOrphansAsync(10, TimeSpan.FromMinutes(1), default));
        await Store.RetryOrphanAsync(FileB, TimeSpan.Zero, "storage down", default);
        Assert.Equal(1, Assert.Single(await Store.ClaimOrphansAsync(10, TimeSpan.FromMinutes(1), default)).Attempts);
        await Store.CompleteOrphanAsync(FileB, default);

        // Committing the pending upload takes it off the list.
        await Store.RegisterPendingAsync(FileA, TimeSpan.Zero, default);
        await Create(Root, "f", FileA, 1);
        Assert.Empty(await Store.ClaimOrphansAsync(10, TimeSpan.FromMinutes(1), default));
        Assert.Equal(0, (await Store.StatFsAsync("group1", default)).QueuedOrphans);
    }

    [Fact]
    public async Task Readdir_pages_with_cookies_and_survives_changes_between_pages()
    {
        var dir = await MkDir(Root, "big");
        for (int i = 0; i < 300; i++)
        {
            await Create(dir.Inode, $"f{i:D4}", i % 2 == 0 ? null : $"group1/M00/00/00/{i:D27}.bin", i);
        }

        var seen = new List<string>();
        long cookie = 0;
        bool eof = false;
        int pages = 0;
        while (!eof)
        {
            var page = await Store.ReadDirAsync(dir.Inode, cookie, 64, withAttributes: pages % 2 == 0, default);
            if (pages == 1)
            {
                // A name already listed goes away and a new one appears: neither breaks the listing.
                await Store.UnlinkAsync(dir.Inode, N("f0000"), default);
                await Create(dir.Inode, "zz-new");
            }

            foreach (var entry in page.Entries)
            {
                seen.Add(Encoding.UTF8.GetString(entry.Name));
                Assert.True(entry.Cookie > cookie);
                cookie = entry.Cookie;
            }

            if (pages % 2 == 0 && page.Entries.Count > 0)
            {
                var e = page.Entries[^1];
                Assert.Equal(await Store.GetAttrAsync(e.Attributes.Inode, default), e.Attributes);
            }

            eof = page.Eof;
            pages++;
        }

        Assert.Equal(301, seen.Count);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Contains("zz-new", seen);
        Assert.Equal(5, pages);
        long file = (await Lookup(dir.Inode, "f0001")).Inode;
        await Errno(NamespaceErrno.ENOTDIR, () => Store.ReadDirAsync(file, 0, 10, false, default).AsTask());
        Assert.True((await Store.ReadDirAsync((await MkDir(Root, "empty")).Inode, 0, 10, true, default)).Eof);
    }

    [Fact]
    public async Task Two_writers_racing_on_the_same_name_one_wins()
    {
        for (int round = 0; round < 20; round++)
        {
            string name = "race" + round;
            var attempts = Enumerable.Range(0, 2).Select(i => Task.Run(async () =>
            {
                try
                {
                    await Create(Root, name, i == 0 ? FileA : FileB, i);
                    return 0;
                }
                catch (NamespaceException e)
                {
                    return e.Errno;
                }
            })).ToArray();
            int[] results = await Task.WhenAll(attempts);
            Assert.Equal([0, FdfsErrno.EEXIST], results.Order().ToArray());
        }

        // Racing renames of two files onto one name: both succeed in some order, one content is orphaned.
        const string FileX = "group1/M00/00/01/xxxxxxxxxxxxxxxxxxxxxxxxxxx.bin", FileY = "group1/M00/00/01/yyyyyyyyyyyyyyyyyyyyyyyyyyy.bin";
        await Create(Root, "x", FileX, 1);
        await Create(Root, "y", FileY, 2);
        await Task.WhenAll(Task.Run(() => Rename(Root, "x", Root, "target")), Task.Run(() => Rename(Root, "y", Root, "target")));
        string survivor = (await Lookup(Root, "target")).FileId!;
        var orphans = await OrphansAsync();
        Assert.Equal([survivor == FileX ? FileY : FileX], orphans);
    }

    /// <summary>Inserts and lists a directory of <paramref name="count"/> entries one transaction each, reporting times.</summary>
    protected async Task LargeDirectoryAsync(int count)
    {
        var dir = await MkDir(Root, "huge");
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            await Create(dir.Inode, "file-" + i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture), $"group1/M00/00/00/{i:D27}.bin", i);
        }

        var insert = watch.Elapsed;
        watch.Restart();
        int listed = 0;
        long cookie = 0;
        for (bool eof = false; !eof;)
        {
            var page = await Store.ReadDirAsync(dir.Inode, cookie, NamespaceRequestHandler.MaxDirPlusEntries, withAttributes: true, default);
            listed += page.Entries.Count;
            cookie = page.Entries.Count > 0 ? page.Entries[^1].Cookie : cookie;
            eof = page.Eof;
        }

        var list = watch.Elapsed;
        watch.Restart();
        for (int i = 0; i < 10_000; i++)
        {
            await Lookup(dir.Inode, "file-" + (i * 7 % count).ToString("D6", System.Globalization.CultureInfo.InvariantCulture));
        }

        var lookups = watch.Elapsed;
        Assert.Equal(count, listed);
        Output.WriteLine($"{GetType().Name}: {count} creates in {insert.TotalSeconds:0.00} s ({count / insert.TotalSeconds:0} /s), " +
            $"readdirplus of {count} in {list.TotalMilliseconds:0} ms, 10000 lookups in {lookups.TotalMilliseconds:0} ms");
        Console.WriteLine($"[namespace figures] {GetType().Name}: {count} creates {insert.TotalSeconds:0.00} s, list {list.TotalMilliseconds:0} ms, 10k lookups {lookups.TotalMilliseconds:0} ms");
    }
}

public sealed class SqliteStoreTests(ITestOutputHelper output) : StoreContractTests(output), IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fdfs-ns-" + Guid.NewGuid().ToString("N")[..8]);

    protected override Task<INamespaceStore> CreateStoreAsync() =>
        Task.FromResult<INamespaceStore>(new SqliteNamespaceStore(Path.Combine(_dir, "data", NamespaceSettings.SqliteFileName), TimeSpan.Zero));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public Task Readdir_of_100000_entries() => LargeDirectoryAsync(100_000);

    [Fact]
    public async Task Reopening_keeps_the_tree_and_the_namespace_id()
    {
        var dir = await MkDir(Root, "kept");
        Guid id = Store.NamespaceId;
        await Store.DisposeAsync();
        await using var again = new SqliteNamespaceStore(Path.Combine(_dir, "data", NamespaceSettings.SqliteFileName), TimeSpan.Zero);
        await again.InitializeAsync(default);
        Assert.Equal(id, again.NamespaceId);
        Assert.Equal(dir.Inode, (await again.LookupAsync(Root, N("kept"), default)).Inode);
        await InitializeAsync(); // so DisposeAsync has a live store
    }
}

public sealed class PostgresStoreTests(PostgresServer server, ITestOutputHelper output) : StoreContractTests(output), IClassFixture<PostgresServer>
{
    protected override async Task<INamespaceStore> CreateStoreAsync() =>
        new PostgresNamespaceStore(await server.CreateSchemaAsync(), TimeSpan.Zero);

    [Fact]
    public Task Readdir_of_10000_entries() => LargeDirectoryAsync(10_000);

    [Fact]
    public async Task Two_stores_on_one_database_share_the_namespace()
    {
        string connection = await server.CreateSchemaAsync();
        await using var a = new PostgresNamespaceStore(connection, TimeSpan.Zero);
        await using var b = new PostgresNamespaceStore(connection, TimeSpan.Zero);
        await Task.WhenAll(a.InitializeAsync(default), b.InitializeAsync(default));
        Assert.Equal(a.NamespaceId, b.NamespaceId);
        var root = await a.RootAsync("group1", default);
        Assert.Equal(root.Inode, (await b.RootAsync("group1", default)).Inode);
        var made = await a.MkDirAsync(root.Inode, N("shared"), 0x1ED, 1, 1, default);
        Assert.Equal(made, await b.LookupAsync(root.Inode, N("shared"), default));
        var parsed = new Npgsql.NpgsqlConnectionStringBuilder(PostgresNamespaceStore.ToKeywords("postgresql://u:p%20w@h:5433/db?Search%20Path=s"));
        Assert.Equal(("h", 5433, "u", "p w", "db", "s"), (parsed.Host, parsed.Port, parsed.Username, parsed.Password, parsed.Database, parsed.SearchPath));
    }
}
