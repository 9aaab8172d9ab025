using System.Text;
using FastDfs.Mount.Core;
using Xunit;

namespace FastDfs.Mount.Tests;

/// <summary>The core's rules, checked without a kernel: paths, inode lifetime, xattr semantics, read-ahead.</summary>
public class FileSystemTests
{
    private const string Remote = "M00/00/00/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt";
    private const string FileKey = "group1/" + Remote;

    private readonly MemoryBackend _backend = new();

    private FileSystem NewFs(MountOptions? options = null) => new(_backend, NoNameService.Instance, options ?? new MountOptions());

    /// <summary>The inode at a '/'-separated path below the root, each step a lookup that must succeed.</summary>
    internal static async Task<ulong> WalkAsync(FileSystem fs, string path)
    {
        ulong ino = InodeTable.RootIno;
        foreach (string part in path.Split('/'))
        {
            var entry = await fs.LookupAsync(ino, part);
            Assert.True(entry.IsOk, $"lookup {part}: errno {entry.Errno}");
            ino = entry.Value.Ino;
        }

        return ino;
    }

    [Fact]
    public async Task Root_lists_groups_and_a_group_its_store_paths_only()
    {
        await using var fs = NewFs();
        var root = await fs.OpenDirAsync(InodeTable.RootIno);
        Assert.Equal([".", "..", "group1", "group2"], fs.DirectoryEntries(root.Value)!.Select(e => e.Name));
        ulong group = await WalkAsync(fs, "group1");
        var listing = await fs.OpenDirAsync(group);
        Assert.Equal([".", "..", "M00", "M01"], fs.DirectoryEntries(listing.Value)!.Select(e => e.Name));
        ulong sub = await WalkAsync(fs, "group1/M00/00/00");
        var empty = await fs.OpenDirAsync(sub);
        Assert.Equal([".", ".."], fs.DirectoryEntries(empty.Value)!.Select(e => e.Name));
    }

    [Theory]
    [InlineData("group3")]
    [InlineData("group1/M0")]
    [InlineData("group1/m00")]
    [InlineData("group1/M00/0g")]
    [InlineData("group1/M00/00/00/not-a-file-id")]
    [InlineData("group1/M00/00/00/fwAAA2sFwIKAdS55AAAD6Peho3g999.txt")]
    public async Task Names_that_are_not_groups_or_file_ids_give_ENOENT(string path)
    {
        _backend.Files[FileKey] = [1];
        await using var fs = NewFs();
        ulong ino = InodeTable.RootIno;
        string[] parts = path.Split('/');
        for (int i = 0; i < parts.Length - 1; i++)
        {
            ino = (await fs.LookupAsync(ino, parts[i])).Value.Ino;
        }

        var result = await fs.LookupAsync(ino, parts[^1]);
        Assert.Equal(Errno.ENOENT, result.Errno);
    }

    [Fact]
    public async Task A_file_id_path_gives_size_and_create_time_and_forget_frees_the_inode()
    {
        _backend.Files[FileKey] = new byte[1234];
        await using var fs = NewFs();
        int before = fs.Inodes.Count;
        ulong ino = await WalkAsync(fs, FileKey);
        var attr = await fs.GetAttrAsync(ino);
        Assert.Equal(1234, attr.Value.Attributes.Size);
        Assert.Equal(1_700_000_000 * NodeAttributes.NanosecondsPerSecond, attr.Value.Attributes.MtimeNs);
        Assert.Equal(NodeAttributes.S_IFREG | 0x1A4u, attr.Value.Attributes.Mode);

        // A second lookup reuses the node (and its cached attributes: no second stat on the cluster).
        ulong sub = fs.Inodes.Find(FileKey[..FileKey.LastIndexOf('/')])!.Ino;
        var again = await fs.LookupAsync(sub, FileKey[(FileKey.LastIndexOf('/') + 1)..]);
        Assert.Equal(ino, again.Value.Ino);
        Assert.Equal(1, _backend.Stats);

        fs.Forget(ino, 2);
        Assert.Null(fs.Inodes.Find(ino));
        Assert.Equal(before + 4, fs.Inodes.Count); // group1, M00, 00, 00 remain until forgotten
    }

    [Fact]
    public async Task Xattrs_follow_ext4_rules()
    {
        _backend.Files[FileKey] = [1];
        _backend.Metadata[FileKey] = new() { ["color"] = "blue" };
        await using var fs = NewFs();
        ulong ino = await WalkAsync(fs, FileKey);

        Assert.Equal("blue", Encoding.UTF8.GetString((await fs.GetXattrAsync(ino, "user.color")).Value));
        Assert.Equal(Errno.ENODATA, (await fs.GetXattrAsync(ino, "user.missing")).Errno);
        Assert.Equal(Errno.EEXIST, await fs.SetXattrAsync(ino, "user.color", "red"u8.ToArray(), Xattrs.XattrCreate));
        Assert.Equal(Errno.ENODATA, await fs.SetXattrAsync(ino, "user.shape", "round"u8.ToArray(), Xattrs.XattrReplace));
        Assert.Equal(0, await fs.SetXattrAsync(ino, "user.shape", "round"u8.ToArray(), Xattrs.XattrCreate));
        Assert.Equal(0, await fs.SetXattrAsync(ino, "user.color", "red"u8.ToArray(), Xattrs.XattrReplace));
        Assert.Equal(new Dictionary<string, string> { ["color"] = "red", ["shape"] = "round" }, _backend.Metadata[FileKey]);

        Assert.Equal(Errno.E2BIG, await fs.SetXattrAsync(ino, "user.long", new byte[257], 0));
        Assert.Equal(0, await fs.SetXattrAsync(ino, "user.max", Enumerable.Repeat((byte)'v', 256).ToArray(), 0));
        Assert.Equal(Errno.ERANGE, await fs.SetXattrAsync(ino, "user." + new string('k', 65), "v"u8.ToArray(), 0));
        Assert.Equal(Errno.EINVAL, await fs.SetXattrAsync(ino, "user.sep", new byte[] { (byte)'a', 1, (byte)'b' }, 0));
        Assert.Equal(Errno.EINVAL, await fs.SetXattrAsync(ino, "user.bin", new byte[] { 0xFF, 0xFE }, 0));
        Assert.Equal(Errno.EOPNOTSUPP, await fs.SetXattrAsync(ino, "trusted.x", "v"u8.ToArray(), 0));
        Assert.Equal(Errno.EPERM, await fs.SetXattrAsync(ino, Xattrs.FileIdName, "v"u8.ToArray(), 0));
        Assert.Equal(256, _backend.Metadata[FileKey]["max"].Length);

        // security.* is answered from memory: no metadata request.
        int gets = _backend.MetadataGets;
        Assert.Equal(Errno.ENODATA, (await fs.GetXattrAsync(ino, "security.capability")).Errno);
        Assert.Equal(gets, _backend.MetadataGets);

        Assert.Equal("group1/" + Remote, Encoding.UTF8.GetString((await fs.GetXattrAsync(ino, Xattrs.FileIdName)).Value));
        Assert.Equal("user.color\0user.max\0user.shape\0"u8.ToArray(), (await fs.ListXattrAsync(ino)).Value);

        Assert.Equal(0, await fs.RemoveXattrAsync(ino, "user.color"));
        Assert.Equal(Errno.ENODATA, await fs.RemoveXattrAsync(ino, "user.color"));
        Assert.False(_backend.Metadata[FileKey].ContainsKey("color"));

        Assert.Equal(0, await fs.SetXattrAsync(ino, "user.empty", Array.Empty<byte>(), 0));
        Assert.Empty((await fs.GetXattrAsync(ino, "user.empty")).Value);
    }

    [Theory]
    [InlineData(10, 0, XattrReplyKind.SizeOnly)]
    [InlineData(10, 9, XattrReplyKind.TooSmall)]
    [InlineData(10, 10, XattrReplyKind.Data)]
    [InlineData(0, 4, XattrReplyKind.Data)]
    public void Size_probe_and_ERANGE(int length, int requested, XattrReplyKind expected) =>
        Assert.Equal(expected, Xattrs.Decide(length, requested));

    [Fact]
    public async Task Sequential_and_random_reads_return_the_right_bytes_with_bounded_read_ahead()
    {
        byte[] data = new byte[10 * 1024 * 1024 + 123];
        new Random(42).NextBytes(data);
        _backend.Files[FileKey] = data;
        var options = new MountOptions { ReadAheadChunkSize = 256 * 1024, ReadAheadChunks = 3 };
        await using var fs = NewFs(options);
        ulong ino = await WalkAsync(fs, FileKey);
        var open = await fs.OpenAsync(ino, 0);
        Assert.True(open.Value.KeepCache);

        byte[] copy = new byte[data.Length];
        for (int offset = 0; offset < data.Length; offset += 128 * 1024)
        {
            var n = await fs.ReadAsync(open.Value.Handle, offset, copy.AsMemory(offset, Math.Min(128 * 1024, data.Length - offset)));
            Assert.True(n.IsOk);
        }

        Assert.Equal(data, copy);

        // Everything was fetched once, in chunks: no read went to the cluster twice.
        Assert.InRange(_backend.BytesRead, data.Length, data.Length + (3 * 256 * 1024));

        byte[] piece = new byte[5000];
        foreach (int offset in new[] { 7_000_001, 12, 3_333_333, data.Length - 100 })
        {
            var n = await fs.ReadAsync(open.Value.Handle, offset, piece);
            int expected = Math.Min(piece.Length, data.Length - offset);
            Assert.Equal(expected, n.Value);
            Assert.Equal(data.AsSpan(offset, expected).ToArray(), piece.AsSpan(0, expected).ToArray());
        }

        Assert.Equal(0, (await fs.ReadAsync(open.Value.Handle, data.Length, piece)).Value);
        fs.Release(open.Value.Handle);
        Assert.Equal(0, fs.OpenHandles);
    }

    [Fact]
    public async Task Leased_reads_lend_read_ahead_chunks_and_return_the_right_bytes()
    {
        byte[] data = new byte[3 * 1024 * 1024 + 777];
        new Random(7).NextBytes(data);
        _backend.Files[FileKey] = data;
        await using var fs = NewFs(new MountOptions { ReadAheadChunkSize = 1024 * 1024, ReadAheadChunks = 2 });
        ulong ino = await WalkAsync(fs, FileKey);
        var open = await fs.OpenAsync(ino, 0);

        // Sequential 128 KiB reads, one of them across no chunk boundary: lent from the chunks, no copy.
        byte[] copy = new byte[data.Length];
        for (int offset = 0; offset < data.Length; offset += 128 * 1024)
        {
            var lease = await fs.ReadLeaseAsync(open.Value.Handle, offset, 128 * 1024);
            Assert.True(lease.IsOk);
            Assert.Equal(Math.Min(128 * 1024, data.Length - offset), lease.Value.Length);
            if (offset + (128 * 1024) <= 3 * 1024 * 1024)
            {
                Assert.Equal(offset % (1024 * 1024), lease.Value.Start); // the chunk's own buffer
            }

            lease.Value.Span.CopyTo(copy.AsSpan(offset));
            lease.Value.Release();
        }

        Assert.Equal(data, copy);
        Assert.InRange(_backend.BytesRead, data.Length, data.Length + (2 * 1024 * 1024));

        // A read elsewhere and a read at the end.
        var random = await fs.ReadLeaseAsync(open.Value.Handle, 1_500_000, 5000);
        Assert.Equal(data.AsSpan(1_500_000, 5000).ToArray(), random.Value.Span.ToArray());
        random.Value.Release();
        Assert.Equal(0, (await fs.ReadLeaseAsync(open.Value.Handle, data.Length, 4096)).Value.Length);
        fs.Release(open.Value.Handle);
        Assert.Equal(0, fs.OpenHandles);
    }

    [Fact]
    public async Task Two_random_reads_near_each_other_start_no_read_ahead()
    {
        _backend.Files[FileKey] = new byte[16 * 1024 * 1024];
        await using var fs = NewFs(new MountOptions { ReadAheadChunkSize = 4 * 1024 * 1024, ReadAheadChunks = 2 });
        ulong ino = await WalkAsync(fs, FileKey);
        var open = await fs.OpenAsync(ino, 0);

        foreach (long offset in new[] { 9_000_000L, 9_500_000L })
        {
            var lease = await fs.ReadLeaseAsync(open.Value.Handle, offset, 4096);
            Assert.Equal(4096, lease.Value.Length);
            lease.Value.Release();
        }

        Assert.Equal(2 * 4096, _backend.BytesRead);
        fs.Release(open.Value.Handle);
    }

    [Fact]
    public async Task A_frozen_cluster_gives_EIO_within_the_operation_timeout()
    {
        _backend.Files[FileKey] = new byte[100_000];
        await using var fs = NewFs(new MountOptions { OperationTimeout = TimeSpan.FromMilliseconds(300) });
        ulong ino = await WalkAsync(fs, FileKey);
        var open = await fs.OpenAsync(ino, 0);
        _backend.Gate = new TaskCompletionSource();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var result = await fs.ReadAsync(open.Value.Handle, 0, new byte[4096]);
        Assert.Equal(Errno.EIO, result.Errno);
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        _backend.Gate = null;
    }

    [Fact]
    public async Task Unlink_deletes_and_changes_are_refused_without_names()
    {
        _backend.Files[FileKey] = [1, 2, 3];
        await using var fs = NewFs();
        ulong ino = await WalkAsync(fs, FileKey);
        ulong dir = fs.Inodes.Find(FileKey[..FileKey.LastIndexOf('/')])!.Ino;
        Assert.Equal(Errno.EROFS, (await fs.OpenAsync(ino, 1)).Errno);
        Assert.Equal(Errno.EROFS, fs.CreateRefused(dir));
        Assert.Equal(0, await fs.UnlinkAsync(dir, Remote[(Remote.LastIndexOf('/') + 1)..]));
        Assert.False(_backend.Files.ContainsKey(FileKey));
        Assert.Equal(Errno.ENOENT, await fs.UnlinkAsync(dir, Remote[(Remote.LastIndexOf('/') + 1)..]));
    }

    [Fact]
    public async Task Name_operations_without_names_are_refused_with_EROFS_and_file_ids_stay_fixed()
    {
        _backend.Files[FileKey] = [1, 2, 3];
        await using var fs = NewFs();
        ulong file = await WalkAsync(fs, FileKey);
        ulong group = await WalkAsync(fs, "group1");
        ulong dir = fs.Inodes.Find(FileKey[..FileKey.LastIndexOf('/')])!.Ino;
        var caller = new Caller(1000, 1000);
        Assert.Equal(Errno.EROFS, (await fs.MkDirAsync(group, "docs", 0x1ED, caller)).Errno);
        Assert.Equal(Errno.EROFS, (await fs.MkNodAsync(dir, "fifo", 0x1000 | 0x1A4, 0, caller)).Errno);
        Assert.Equal(Errno.EROFS, (await fs.SymlinkAsync(group, "link", "M00", caller)).Errno);
        Assert.Equal(Errno.EROFS, await fs.RmDirAsync(group, "M00"));
        Assert.Equal(Errno.EROFS, await fs.RenameAsync(dir, "a", dir, "b", RenameFlags.None));
        Assert.Equal(Errno.EPERM, (await fs.LinkAsync(file, group, "alias")).Errno); // a file-ID file has no name to share
        Assert.Equal(Errno.EPERM, (await fs.SetAttrAsync(file, new SetAttrChange(AttrChange.Mode, 0x1FF, 0, 0, 0, 0, 0, 0))).Errno);
        Assert.Equal(Errno.EINVAL, (await fs.ReadLinkAsync(file)).Errno);

        // Device nodes are names like any other: none without the directory service.
        Assert.Equal(Errno.EROFS, (await fs.MkNodAsync(group, "tty", 0x2000 | 0x1A4, 0x8800, caller)).Errno);
        Assert.Equal(Errno.EROFS, (await fs.MkNodAsync(group, "sda", 0x6000 | 0x1A4, 0x801, caller)).Errno);
        Assert.Equal(Errno.EINVAL, await fs.RmDirAsync(group, "."));
    }

    [Fact]
    public async Task Statfs_sums_the_groups()
    {
        await using var fs = NewFs();
        var stats = await fs.StatFsAsync();
        Assert.Equal(1500, stats.Value.TotalBlocks);
        Assert.Equal(500, stats.Value.FreeBlocks);
        Assert.Equal(1024 * 1024, stats.Value.BlockSize);
    }
}
