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
public abstract partial class StoreContractTests : IAsyncLifetime
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
        Store.CreateAsync(parent, N(name), 0x1A4, Uid, Gid, fileId, size, 0, default).AsTask();

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
        var fifo = await Store.CreateAsync(Root, N("pipe"), NamespaceMode.Fifo | 0x180, Uid, Gid, null, 0, 0, default);
        Assert.Equal(NamespaceMode.Fifo | 0x180, fifo.Mode);
        await Errno(FdfsErrno.EINVAL, () => Store.CreateAsync(Root, N("d"), NamespaceMode.Directory, Uid, Gid, null, 0, 0, default).AsTask());
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
    public async Task NAME_MAX_counts_UTF8_bytes_in_every_operation_that_takes_a_name()
    {
        string euro255 = new('€', 85); // 3 bytes each: 255 bytes
        string euro258 = new('€', 86); // 86 characters, 258 bytes
        string ascii255 = new('a', 255);
        string ascii256 = new('a', 256);
        Assert.Equal((255, 258), (N(euro255).Length, N(euro258).Length));

        // At the limit: every operation takes the name, and a listing gives it back whole.
        var dir = await MkDir(Root, euro255);
        var file = await Create(dir.Inode, euro255);
        await Create(dir.Inode, ascii255);
        await Store.SymlinkAsync(dir.Inode, N("€" + new string('s', 252)), N("target"), Uid, Gid, default);
        await Store.LinkAsync(file.Inode, Root, N(ascii255), default);
        await Rename(Root, ascii255, Root, new string('€', 84) + "xyz");
        Assert.Equal(file.Inode, (await Lookup(Root, new string('€', 84) + "xyz")).Inode);
        var listed = (await Store.ReadDirAsync(dir.Inode, 0, 100, withAttributes: false, default)).Entries.Select(e => e.Name).ToList();
        Assert.Contains(listed, name => name.AsSpan().SequenceEqual(N(euro255)));

        // One byte, or three, over: ENAMETOOLONG whatever the character count, before anything changes.
        foreach (string tooLong in new[] { euro258, ascii256 })
        {
            await Errno(FdfsErrno.ENAMETOOLONG, () => MkDir(Root, tooLong));
            await Errno(FdfsErrno.ENAMETOOLONG, () => Create(Root, tooLong));
            await Errno(FdfsErrno.ENAMETOOLONG, () => Store.CreateAsync(Root, N(tooLong), NamespaceMode.Fifo | 0x1A4, Uid, Gid, null, 0, 0, default).AsTask());
            await Errno(FdfsErrno.ENAMETOOLONG, () => Store.SymlinkAsync(Root, N(tooLong), N("target"), Uid, Gid, default).AsTask());
            await Errno(FdfsErrno.ENAMETOOLONG, () => Store.LinkAsync(file.Inode, Root, N(tooLong), default).AsTask());
            await Errno(FdfsErrno.ENAMETOOLONG, () => Rename(dir.Inode, euro255, Root, tooLong));
            await Errno(FdfsErrno.ENAMETOOLONG, () => Rename(Root, tooLong, Root, "x"));
            await Errno(FdfsErrno.ENAMETOOLONG, () => Lookup(Root, tooLong));
            await Errno(FdfsErrno.ENAMETOOLONG, () => Store.UnlinkAsync(Root, N(tooLong), default).AsTask());
            await Errno(FdfsErrno.ENAMETOOLONG, () => Store.RmDirAsync(Root, N(tooLong), default).AsTask());
        }

        Assert.Equal(file.Inode, (await Lookup(dir.Inode, euro255)).Inode);
        Assert.Equal(2u, (await Store.GetAttrAsync(file.Inode, default)).Nlink);
        Assert.Equal(2, (await Store.ReadDirAsync(Root, 0, 100, withAttributes: false, default)).Entries.Count);
        Assert.Equal(3, (await Store.ReadDirAsync(dir.Inode, 0, 100, withAttributes: false, default)).Entries.Count);
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
    public async Task Device_nodes_keep_their_numbers_and_other_types_keep_none()
    {
        // rdev is the kernel's 32-bit dev_t encoding: 1:3 is 0x103; the top bit set checks it stays unsigned.
        var chr = await Store.CreateAsync(Root, N("null"), NamespaceMode.CharDevice | 0x1B6, Uid, Gid, null, 0, 0x103, default);
        var blk = await Store.CreateAsync(Root, N("sda"), NamespaceMode.BlockDevice | 0x1B0, Uid, Gid, null, 0, 0xFFF0_0801, default);
        Assert.Equal((NamespaceMode.CharDevice | 0x1B6, 0x103u, 0L, 1u), (chr.Mode, chr.Rdev, chr.Size, chr.Nlink));
        Assert.Equal((NamespaceMode.BlockDevice | 0x1B0, 0xFFF0_0801u), (blk.Mode, blk.Rdev));
        Assert.Equal(chr, await Lookup(Root, "null"));
        Assert.Equal(blk, await Store.GetAttrAsync(blk.Inode, default));
        var listed = (await Store.ReadDirAsync(Root, 0, 100, withAttributes: true, default)).Entries.ToDictionary(e => Encoding.UTF8.GetString(e.Name), e => e.Attributes);
        Assert.Equal((chr, blk), (listed["null"], listed["sda"]));

        // ext4 keeps a number for devices only: mknod of a FIFO, socket or file with one keeps none.
        var fifo = await Store.CreateAsync(Root, N("fifo"), NamespaceMode.Fifo | 0x1A4, Uid, Gid, null, 0, 0x103, default);
        var sock = await Store.CreateAsync(Root, N("sock"), NamespaceMode.Socket | 0x1A4, Uid, Gid, null, 0, 0x103, default);
        var file = await Store.CreateAsync(Root, N("file"), 0x1A4, Uid, Gid, null, 0, 0x103, default);
        Assert.Equal((0u, 0u, 0u), (fifo.Rdev, sock.Rdev, file.Rdev));
        Assert.Equal(0u, (await Lookup(Root, "fifo")).Rdev);

        // chmod, chown, links and renames keep the number.
        var chmod = await Store.SetAttrAsync(new SetAttrRequest(chr.Inode, NamespaceSetAttr.Mode | NamespaceSetAttr.Uid, 0x180, 7, 0, 0, 0, 0, 0), default);
        Assert.Equal((NamespaceMode.CharDevice | 0x180, 0x103u), (chmod.Mode, chmod.Rdev));
        var linked = await Store.LinkAsync(chr.Inode, Root, N("null2"), default);
        Assert.Equal((2u, 0x103u), (linked.Nlink, linked.Rdev));
        await Rename(Root, "sda", Root, "sdb");
        Assert.Equal(0xFFF0_0801u, (await Lookup(Root, "sdb")).Rdev);

        // Devices are files to statfs, without bytes; a size cannot be set on them.
        var stat = await Store.StatFsAsync("group1", default);
        Assert.Equal((5L, 0L), (stat.Files, stat.Bytes));
        await Errno(FdfsErrno.EINVAL, () => Store.SetAttrAsync(new SetAttrRequest(blk.Inode, NamespaceSetAttr.Size, 0, 0, 0, 10, 0, 0, 0), default).AsTask());
        await Store.UnlinkAsync(Root, N("null"), default);
        await Store.UnlinkAsync(Root, N("null2"), default);
        await Errno(FdfsErrno.ENOENT, () => Store.GetAttrAsync(chr.Inode, default).AsTask());
    }

    /// <summary>The statements a version 1 tracker ran on a new database (no rdev column), in this engine's dialect.</summary>
    protected abstract IReadOnlyList<string> Version1Schema { get; }

    /// <summary>Runs <paramref name="statements"/> on a new, empty database; the answer makes stores over it, not yet opened.</summary>
    protected abstract Task<Func<INamespaceStore>> CreateStoreOverAsync(IReadOnlyList<string> statements);

    [Fact]
    public async Task A_version_1_database_gains_device_numbers_when_opened()
    {
        var id = Guid.Parse("0f0e0d0c-0b0a-0908-0706-050403020100");
        string[] data =
        [
            "INSERT INTO ns_meta (key, value) VALUES ('schema_version', '1')",
            $"INSERT INTO ns_meta (key, value) VALUES ('namespace_id', '{id}')",
            "INSERT INTO ns_inodes (id, grp, mode, uid, gid, nlink, size, atime, mtime, ctime, gen, file_id, target) " +
            "VALUES (1, 'group1', 16877, 0, 0, 2, 4096, 1, 1, 1, 1, NULL, NULL)",
            "INSERT INTO ns_inodes (id, grp, mode, uid, gid, nlink, size, atime, mtime, ctime, gen, file_id, target) " +
            "VALUES (2, 'group1', 4516, 1000, 1000, 1, 0, 2, 2, 2, 1, NULL, NULL)", // a FIFO, 010644
            "INSERT INTO ns_groups (grp, root) VALUES ('group1', 1)",
        ];
        var open = await CreateStoreOverAsync([.. Version1Schema, .. data]);
        long root;
        await using (var store = open())
        {
            await store.InitializeAsync(default);
            Assert.Equal(id, store.NamespaceId);
            var top = await store.RootAsync("group1", default);
            Assert.Equal((1L, 0u), (top.Inode, top.Rdev));
            var fifo = await store.GetAttrAsync(2, default);
            Assert.Equal((NamespaceMode.Fifo | 0x1A4, 0u, 1000u), (fifo.Mode, fifo.Rdev, fifo.Uid));

            // The migrated store makes devices; new rows take ids after the old ones.
            var dev = await store.CreateAsync(top.Inode, N("tty"), NamespaceMode.CharDevice | 0x1B6, 0, 5, null, 0, 0x500, default);
            Assert.True(dev.Inode > 2);
            root = top.Inode;

            // The lock tables of versions 3 and 4 are there too: a wait is recorded, the one that would close a cycle refused.
            long session = await store.OpenLockSessionAsync(TimeSpan.FromMinutes(1), default);
            await store.SetLockAsync(new NsLockRequest(session, 2, 1, NsLockKind.Posix, NsLockType.Write, 0, 9, 1), default);
            await store.SetLockAsync(new NsLockRequest(session, 2, 2, NsLockKind.Posix, NsLockType.Write, 10, 19, 2), default);
            await Errno(FdfsErrno.EAGAIN, () => store.SetLockAsync(new NsLockRequest(session, 2, 1, NsLockKind.Posix, NsLockType.Write, 10, 10, 1, NsLockWait.Wait), default).AsTask());
            await Errno(NamespaceErrno.EDEADLK, () => store.SetLockAsync(new NsLockRequest(session, 2, 2, NsLockKind.Posix, NsLockType.Write, 0, 0, 2, NsLockWait.Wait), default).AsTask());
        }

        // Opened again: already the current version, so nothing is migrated twice (a second ADD COLUMN would fail).
        await using (var again = open())
        {
            await again.InitializeAsync(default);
            Assert.Equal(id, again.NamespaceId);
            Assert.Equal(0x500u, (await again.LookupAsync(root, N("tty"), default)).Rdev);
        }
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

    protected override IReadOnlyList<string> Version1Schema { get; } =
    [
        "CREATE TABLE ns_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE ns_inodes (id INTEGER PRIMARY KEY AUTOINCREMENT, grp TEXT NOT NULL, mode INTEGER NOT NULL, uid INTEGER NOT NULL, " +
        "gid INTEGER NOT NULL, nlink INTEGER NOT NULL, size INTEGER NOT NULL, atime INTEGER NOT NULL, mtime INTEGER NOT NULL, " +
        "ctime INTEGER NOT NULL, gen INTEGER NOT NULL, file_id TEXT, target BLOB)",
        "CREATE INDEX ns_inodes_file_id ON ns_inodes (file_id)",
        "CREATE INDEX ns_inodes_grp ON ns_inodes (grp)",
        "CREATE TABLE ns_entries (id INTEGER PRIMARY KEY AUTOINCREMENT, parent INTEGER NOT NULL, name BLOB NOT NULL, inode INTEGER NOT NULL)",
        "CREATE UNIQUE INDEX ns_entries_name ON ns_entries (parent, name)",
        "CREATE INDEX ns_entries_page ON ns_entries (parent, id)",
        "CREATE INDEX ns_entries_inode ON ns_entries (inode)",
        "CREATE TABLE ns_xattrs (inode INTEGER NOT NULL, name BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (inode, name)) WITHOUT ROWID",
        "CREATE TABLE ns_groups (grp TEXT PRIMARY KEY, root INTEGER NOT NULL)",
        "CREATE TABLE ns_gc (file_id TEXT PRIMARY KEY, pending INTEGER NOT NULL, due INTEGER NOT NULL, attempts INTEGER NOT NULL, last_error TEXT)",
        "CREATE INDEX ns_gc_due ON ns_gc (due)",
    ];

    protected override Task<Func<INamespaceStore>> CreateStoreOverAsync(IReadOnlyList<string> statements)
    {
        string path = Path.Combine(_dir, "old", NamespaceSettings.SqliteFileName);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            foreach (string sql in statements)
            {
                using var command = connection.CreateCommand();
                command.CommandText = sql;
                command.ExecuteNonQuery();
            }
        }

        return Task.FromResult<Func<INamespaceStore>>(() => new SqliteNamespaceStore(path, TimeSpan.Zero));
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

    [Fact]
    public async Task The_store_checkpoints_its_WAL_and_keeps_every_commit()
    {
        // The writer does not checkpoint when it commits (a commit may run on a socket thread); a thread-pool task does,
        // every 128 commits. Without it the WAL would hold every page these 2,000 commits wrote.
        var dir = await MkDir(Root, "many");
        for (int i = 0; i < 2_000; i++)
        {
            await Create(dir.Inode, "f" + i, $"group1/M00/00/00/file{i}.bin", 4096);
            if (i % 64 == 0)
            {
                await Task.Yield(); // SQLite never yields: let the checkpoint task have this thread now and then
            }
        }

        string path = Path.Combine(_dir, "data", NamespaceSettings.SqliteFileName);
        long wal = new FileInfo(path + "-wal").Length;
        Output.WriteLine($"WAL after 2,000 creates: {wal:N0} bytes");
        Assert.InRange(wal, 1, 32L << 20); // about 80 MB when nothing checkpoints

        await Store.DisposeAsync();
        await using var again = new SqliteNamespaceStore(path, TimeSpan.Zero);
        await again.InitializeAsync(default);
        var last = await again.LookupAsync(dir.Inode, N("f1999"), default);
        Assert.Equal("group1/M00/00/00/file1999.bin", last.FileId);
        Assert.Equal("group1/M00/00/00/file0.bin", (await again.LookupAsync(dir.Inode, N("f0"), default)).FileId);
        await InitializeAsync(); // so DisposeAsync has a live store
    }
}

public sealed class PostgresStoreTests(PostgresServer server, ITestOutputHelper output) : StoreContractTests(output), IClassFixture<PostgresServer>
{
    protected override async Task<INamespaceStore> CreateStoreAsync() =>
        new PostgresNamespaceStore(await server.CreateSchemaAsync(), TimeSpan.Zero);

    protected override IReadOnlyList<string> Version1Schema { get; } =
    [
        "CREATE TABLE ns_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE ns_inodes (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, grp TEXT NOT NULL, mode BIGINT NOT NULL, " +
        "uid BIGINT NOT NULL, gid BIGINT NOT NULL, nlink BIGINT NOT NULL, size BIGINT NOT NULL, atime BIGINT NOT NULL, " +
        "mtime BIGINT NOT NULL, ctime BIGINT NOT NULL, gen BIGINT NOT NULL, file_id TEXT, target BYTEA)",
        "CREATE INDEX ns_inodes_file_id ON ns_inodes (file_id)",
        "CREATE INDEX ns_inodes_grp ON ns_inodes (grp)",
        "CREATE TABLE ns_entries (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, parent BIGINT NOT NULL, name BYTEA NOT NULL, inode BIGINT NOT NULL)",
        "CREATE UNIQUE INDEX ns_entries_name ON ns_entries (parent, name)",
        "CREATE INDEX ns_entries_page ON ns_entries (parent, id)",
        "CREATE INDEX ns_entries_inode ON ns_entries (inode)",
        "CREATE TABLE ns_xattrs (inode BIGINT NOT NULL, name BYTEA NOT NULL, value BYTEA NOT NULL, PRIMARY KEY (inode, name))",
        "CREATE TABLE ns_groups (grp TEXT PRIMARY KEY, root BIGINT NOT NULL)",
        "CREATE TABLE ns_gc (file_id TEXT PRIMARY KEY, pending BIGINT NOT NULL, due BIGINT NOT NULL, attempts BIGINT NOT NULL, last_error TEXT)",
        "CREATE INDEX ns_gc_due ON ns_gc (due)",
    ];

    protected override async Task<Func<INamespaceStore>> CreateStoreOverAsync(IReadOnlyList<string> statements)
    {
        string connection = await server.CreateSchemaAsync();
        await using (var db = new Npgsql.NpgsqlConnection(connection))
        {
            await db.OpenAsync();
            foreach (string sql in statements)
            {
                await using var command = new Npgsql.NpgsqlCommand(sql, db);
                await command.ExecuteNonQueryAsync();
            }

            // Rows inserted with explicit ids leave the identity behind: a version 1 tracker would have advanced it.
            await using var advance = new Npgsql.NpgsqlCommand("SELECT setval(pg_get_serial_sequence('ns_inodes', 'id'), (SELECT MAX(id) FROM ns_inodes))", db);
            await advance.ExecuteNonQueryAsync();
        }

        return () => new PostgresNamespaceStore(connection, TimeSpan.Zero);
    }

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

    [Fact]
    public async Task Two_stores_on_one_database_grant_a_contended_lock_once()
    {
        // Two trackers sharing PostgreSQL: 16 owners from both ask for the same write lock at once; exactly one gets it.
        string connection = await server.CreateSchemaAsync();
        await using var a = new PostgresNamespaceStore(connection, TimeSpan.Zero);
        await using var b = new PostgresNamespaceStore(connection, TimeSpan.Zero);
        await a.InitializeAsync(default);
        await b.InitializeAsync(default);
        var root = await a.RootAsync("group1", default);
        long file = (await a.CreateAsync(root.Inode, N("contended"), 0x1A4, 0, 0, null, 0, 0, default)).Inode;
        long sa = await a.OpenLockSessionAsync(TimeSpan.FromMinutes(1), default);
        long sb = await b.OpenLockSessionAsync(TimeSpan.FromMinutes(1), default);
        var attempts = Enumerable.Range(0, 16).Select(async i =>
        {
            var store = i % 2 == 0 ? a : b;
            var request = new NsLockRequest(i % 2 == 0 ? sa : sb, file, 100 + i, NsLockKind.Posix, NsLockType.Write, i, 1000, i);
            try
            {
                await store.SetLockAsync(request, default);
                return true;
            }
            catch (NamespaceException e) when (e.Errno == FdfsErrno.EAGAIN)
            {
                return false;
            }
        });
        bool[] granted = await Task.WhenAll(attempts);
        Assert.Single(granted, g => g);
        var holder = await b.GetLockAsync(new NsLockRequest(sb, file, 999, NsLockKind.Posix, NsLockType.Read, 0, long.MaxValue, 0), default);
        Assert.Equal(NsLockType.Write, holder.Type);
        Assert.Equal(1000, holder.End);
    }
}
