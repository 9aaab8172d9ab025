using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;
using Xunit.Abstractions;

namespace FastDfs.Integration.Tests;

/// <summary>A tracker serving the directory service (SQLite) with orphans collected at once, and one storage.</summary>
public sealed class NamespaceCluster : IAsyncLifetime
{
    public Cluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await Cluster.StartAsync("namespace_orphan_delay = 0", new StorageSpec());

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>The directory service over the wire: NamespaceClient against a real tracker daemon and storage.</summary>
public sealed class NamespaceTests(NamespaceCluster fixture, ITestOutputHelper output) : IClassFixture<NamespaceCluster>
{
    private const uint Dir = 0x1ED;
    private const uint File = 0x1A4;

    private Cluster Cluster => fixture.Cluster;

    private NamespaceClient CreateNamespaceClient() => new(FastDfsClientOptions.FromTrackers(Cluster.TrackerEndpoint) with
    {
        NetworkTimeout = TimeSpan.FromSeconds(10),
    });

    private static async Task<int> ErrnoOf(Func<Task> action) => (await Assert.ThrowsAsync<FdfsNamespaceException>(action)).Errno;

    /// <summary>Polls until the storage no longer has the file (the collector deleted it).</summary>
    private static async Task WaitDeletedAsync(FastDfsClient client, FileId id)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await client.GetFileInfoAsync(id);
            }
            catch (FdfsServerException e) when (e.Errno == FdfsErrno.ENOENT)
            {
                return;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), $"{id} still on the storage after {deadline.Elapsed}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Tree_rename_and_unlink_and_the_collector_deletes_orphaned_content()
    {
        await using var data = Cluster.CreateClient();
        await using var names = CreateNamespaceClient();
        var root = await names.GetRootAsync("group1");
        Assert.True(root.IsDirectory);
        var docs = await names.MkDirAsync(root.Inode, "docs-" + Guid.NewGuid().ToString("N")[..6], Dir, 1000, 1000);

        // Upload, then bind the name (what the mount does on close).
        byte[] first = RandomNumberGenerator.GetBytes(5000);
        var firstId = await data.UploadAsync(first, "txt");
        var file = await names.CreateAsync(docs.Inode, "report.txt", File, 1000, 1000);
        Assert.Null(file.FileId);
        var bound = await names.SetContentAsync(file.Inode, firstId.ToString(), first.Length, 1_700_000_000_123_456_789);
        Assert.Equal((firstId.ToString(), 5000L, 1_700_000_000_123_456_789L), (bound.FileId, bound.Size, bound.MtimeNs));
        Assert.Equal(bound, await names.LookupAsync(docs.Inode, "report.txt"));
        Assert.Equal(bound, await names.GetAttrAsync(file.Inode));
        var link = Assert.Single(await names.FindByFileIdAsync(firstId.ToString()));
        Assert.Equal((docs.Inode, file.Inode, "report.txt"), (link.Parent, link.Inode, link.Name));

        // Rename within the tree, symlink, dir xattrs, readdirplus.
        var sub = await names.MkDirAsync(docs.Inode, "2026", Dir, 1000, 1000);
        await names.RenameAsync(docs.Inode, "report.txt", sub.Inode, "final.txt");
        Assert.Null(await names.TryLookupAsync(docs.Inode, "report.txt"));
        Assert.Equal(file.Inode, (await names.LookupAsync(sub.Inode, "final.txt")).Inode);
        var symlink = await names.SymlinkAsync(docs.Inode, "latest", "2026/final.txt", 1000, 1000);
        Assert.Equal("2026/final.txt", await names.ReadLinkAsync(symlink.Inode));
        await names.SetXattrAsync(sub.Inode, "user.note", Encoding.UTF8.GetBytes("quarterly"), NamespaceXattrFlags.Create);
        Assert.Equal("quarterly", Encoding.UTF8.GetString(await names.GetXattrAsync(sub.Inode, "user.note")));
        Assert.Equal(["user.note"], await names.ListXattrAsync(sub.Inode));
        var listing = new List<NsDirEntryPlus>();
        await foreach (var entry in names.ListAsync(docs.Inode))
        {
            listing.Add(entry);
        }

        Assert.Equal(["2026", "latest"], listing.Select(e => e.Name).Order());
        Assert.Equal(3u, (await names.GetAttrAsync(docs.Inode)).Nlink); // ".", its entry in root, "2026/.."

        // Overwrite with new content: the old file ID is orphaned and deleted from the storage.
        byte[] second = RandomNumberGenerator.GetBytes(3000);
        var secondId = await data.UploadAsync(second, "txt");
        await names.RegisterPendingAsync(secondId.ToString(), TimeSpan.FromMinutes(10));
        await names.SetContentAsync(file.Inode, secondId.ToString(), second.Length);
        await WaitDeletedAsync(data, firstId);
        Assert.Equal(second, await data.DownloadBytesAsync(secondId));

        // Unlinking the last name deletes the content too.
        await names.UnlinkAsync(sub.Inode, "final.txt");
        await WaitDeletedAsync(data, secondId);
        Assert.Empty(await names.FindByFileIdAsync(secondId.ToString()));
        var stat = await names.StatFsAsync("group1");
        Assert.NotEqual(Guid.Empty, stat.NamespaceId);
        Assert.Equal(0, stat.QueuedOrphans);
    }

    [Fact]
    public async Task Rename_over_an_existing_file_orphans_the_replaced_content()
    {
        await using var data = Cluster.CreateClient();
        await using var names = CreateNamespaceClient();
        var root = await names.GetRootAsync("group1");
        var dir = await names.MkDirAsync(root.Inode, "save-" + Guid.NewGuid().ToString("N")[..6], Dir, 0, 0);
        var oldId = await data.UploadAsync(RandomNumberGenerator.GetBytes(100), "txt");
        var newId = await data.UploadAsync(RandomNumberGenerator.GetBytes(200), "txt");
        await names.CreateAsync(dir.Inode, "doc.txt", File, 0, 0, oldId.ToString(), 100);
        var temp = await names.CreateAsync(dir.Inode, ".doc.txt.swp", File, 0, 0, newId.ToString(), 200);

        // The editor's save: write a temp file, rename it over the original.
        await names.RenameAsync(dir.Inode, ".doc.txt.swp", dir.Inode, "doc.txt");
        var now = await names.LookupAsync(dir.Inode, "doc.txt");
        Assert.Equal((temp.Inode, newId.ToString()), (now.Inode, now.FileId));
        await WaitDeletedAsync(data, oldId);
        Assert.Equal(200, (await data.GetFileInfoAsync(newId)).Size);
    }

    [Fact]
    public async Task Refusals_come_back_as_errno_and_the_connection_stays_usable()
    {
        await using var names = CreateNamespaceClient();
        var root = await names.GetRootAsync("group1");
        var other = await names.GetRootAsync("group2");
        Assert.NotEqual(root.Inode, other.Inode);
        string name = "e-" + Guid.NewGuid().ToString("N")[..6];
        var dir = await names.MkDirAsync(root.Inode, name, Dir, 0, 0);
        await names.CreateAsync(dir.Inode, "f", File, 0, 0);
        Assert.Equal(FdfsErrno.ENOENT, await ErrnoOf(() => names.LookupAsync(dir.Inode, "missing")));
        Assert.Equal(FdfsErrno.EEXIST, await ErrnoOf(() => names.MkDirAsync(root.Inode, name, Dir, 0, 0)));
        Assert.Equal(NamespaceErrno.ENOTEMPTY, await ErrnoOf(() => names.RmDirAsync(root.Inode, name)));
        Assert.Equal(NamespaceErrno.EXDEV, await ErrnoOf(() => names.RenameAsync(dir.Inode, "f", other.Inode, "f")));
        Assert.Equal(FdfsErrno.EINVAL, await ErrnoOf(() => names.RenameAsync(root.Inode, name, dir.Inode, "x")));
        Assert.Equal(FdfsErrno.ENAMETOOLONG, await ErrnoOf(() => names.CreateAsync(dir.Inode, new string('n', 256), File, 0, 0)));
        Assert.Equal(NamespaceErrno.ENODATA, await ErrnoOf(() => names.GetXattrAsync(dir.Inode, "user.none")));
        Assert.Equal(FdfsErrno.EISDIR, await ErrnoOf(() => names.UnlinkAsync(root.Inode, name)));
        Assert.True(await names.IsAvailableAsync("group1"));
        Assert.Equal("f", Assert.Single((await names.ReadDirAsync(dir.Inode)).Entries).Name);
    }

    [Fact]
    public async Task NAME_MAX_is_255_UTF8_bytes_over_the_wire_for_clients_other_than_the_mount()
    {
        await using var names = CreateNamespaceClient();
        var root = await names.GetRootAsync("group1");
        var dir = await names.MkDirAsync(root.Inode, "nm-" + Guid.NewGuid().ToString("N")[..6], Dir, 0, 0);
        string atLimit = new('€', 85); // 255 bytes: the listings' one-byte name length still carries it
        string overLimit = new('€', 86); // 86 characters but 258 bytes
        var file = await names.CreateAsync(dir.Inode, atLimit, File, 0, 0);
        Assert.Equal(file.Inode, (await names.LookupAsync(dir.Inode, atLimit)).Inode);
        Assert.Equal(atLimit, Assert.Single((await names.ReadDirAsync(dir.Inode)).Entries).Name);
        Assert.Equal(atLimit, Assert.Single((await names.ReadDirPlusAsync(dir.Inode)).Entries).Name);

        Assert.Equal(FdfsErrno.ENAMETOOLONG, await ErrnoOf(() => names.CreateAsync(dir.Inode, overLimit, File, 0, 0)));
        Assert.Equal(FdfsErrno.ENAMETOOLONG, await ErrnoOf(() => names.MkDirAsync(dir.Inode, overLimit, Dir, 0, 0)));
        Assert.Equal(FdfsErrno.ENAMETOOLONG, await ErrnoOf(() => names.SymlinkAsync(dir.Inode, overLimit, "target", 0, 0)));
        Assert.Equal(FdfsErrno.ENAMETOOLONG, await ErrnoOf(() => names.LinkAsync(file.Inode, dir.Inode, overLimit)));
        Assert.Equal(FdfsErrno.ENAMETOOLONG, await ErrnoOf(() => names.RenameAsync(dir.Inode, atLimit, dir.Inode, overLimit)));
        Assert.Equal(FdfsErrno.ENAMETOOLONG, await ErrnoOf(() => names.LookupAsync(dir.Inode, overLimit)));
        Assert.Equal(atLimit, Assert.Single((await names.ReadDirAsync(dir.Inode)).Entries).Name); // nothing changed
    }

    [Fact]
    public async Task Readdir_pages_a_large_directory_over_the_wire()
    {
        await using var names = CreateNamespaceClient();
        var root = await names.GetRootAsync("group1");
        var dir = await names.MkDirAsync(root.Inode, "many-" + Guid.NewGuid().ToString("N")[..6], Dir, 0, 0);
        const int Count = 3000;
        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, Count), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, ct) =>
            await names.CreateAsync(dir.Inode, $"f{i:D5}", File, 0, 0, cancellationToken: ct));
        var create = watch.Elapsed;
        watch.Restart();
        var plain = new List<string>();
        long cookie = 0;
        for (bool eof = false; !eof;)
        {
            var page = await names.ReadDirAsync(dir.Inode, cookie, 1000);
            plain.AddRange(page.Entries.Select(e => e.Name));
            cookie = page.Entries.Count > 0 ? page.Entries[^1].Cookie : cookie;
            eof = page.Eof;
        }

        var list = watch.Elapsed;
        watch.Restart();
        int plus = 0;
        await foreach (var entry in names.ListAsync(dir.Inode))
        {
            Assert.True(entry.Attributes.IsRegular);
            plus++;
        }

        var listPlus = watch.Elapsed;
        watch.Restart();
        for (int i = 0; i < 1000; i++)
        {
            await names.LookupAsync(dir.Inode, $"f{i * 3:D5}");
        }

        var lookups = watch.Elapsed;
        Assert.Equal(Count, plain.Distinct().Count());
        Assert.Equal(Count, plus);
        output.WriteLine($"over the wire: {Count} creates in {create.TotalMilliseconds:0} ms ({Count / create.TotalSeconds:0}/s, 4 concurrent), " +
            $"readdir {list.TotalMilliseconds:0} ms, readdirplus {listPlus.TotalMilliseconds:0} ms, 1000 lookups {lookups.TotalMilliseconds:0} ms");
        Console.WriteLine($"[namespace figures] wire: {Count} creates {create.TotalMilliseconds:0} ms, readdir {list.TotalMilliseconds:0} ms, " +
            $"readdirplus {listPlus.TotalMilliseconds:0} ms, 1000 lookups {lookups.TotalMilliseconds:0} ms");
    }

    public static TheoryData<string, byte, byte[]> MalformedRequests() => new()
    {
        { "truncated lookup", (byte)NamespaceCommand.Lookup, new byte[5] },
        { "getattr with extra bytes", (byte)NamespaceCommand.GetAttr, new byte[9] },
        { "readdir too short", (byte)NamespaceCommand.ReadDir, new byte[19] },
        { "readdir max 0", (byte)NamespaceCommand.ReadDir, new byte[20] },
        { "rename name length past the end", (byte)NamespaceCommand.Rename, [.. new byte[20], 0xFF, 0xFF, 0x61] },
        { "create file ID length past the end", (byte)NamespaceCommand.Create, [.. new byte[28], 200, 0x61] },
        { "setattr wrong size", (byte)NamespaceCommand.SetAttr, new byte[59] },
        { "statfs short group", (byte)NamespaceCommand.StatFs, new byte[3] },
        { "root of a bad group name", (byte)NamespaceCommand.Root, Encoding.ASCII.GetBytes("group-1/........") },
        { "pending lease 0", (byte)NamespaceCommand.RegisterPending, [0, 0, 0, 0, .. Encoding.ASCII.GetBytes("group1/M00/00/00/x")] },
        { "empty body", (byte)NamespaceCommand.Unlink, [] },
    };

    [Theory]
    [MemberData(nameof(MalformedRequests))]
    public async Task Malformed_requests_get_EINVAL_and_the_connection_keeps_serving(string reason, byte command, byte[] body)
    {
        _ = reason;
        int colon = Cluster.TrackerEndpoint.LastIndexOf(':');
        await using var c = await FdfsConnection.ConnectAsync(
            Cluster.TrackerEndpoint[..colon], int.Parse(Cluster.TrackerEndpoint[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromSeconds(10));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (status, answer) = await c.RoundTripAsync(command, body, 1 << 20, cts.Token);
        Assert.Equal((FdfsErrno.EINVAL, 0), (status, answer.Length));
        var (rootStatus, root) = await c.RoundTripAsync((byte)NamespaceCommand.Root, Encoding.ASCII.GetBytes("group1\0\0\0\0\0\0\0\0\0\0"), 1 << 20, cts.Token);
        Assert.Equal(0, rootStatus);
        Assert.True(NsAttributes.Read(root).IsDirectory);
    }

    [Fact]
    public async Task An_upload_registered_as_pending_and_never_committed_is_collected()
    {
        await using var data = Cluster.CreateClient();
        await using var names = CreateNamespaceClient();
        var id = await data.UploadAsync(RandomNumberGenerator.GetBytes(1000), "tmp");
        await names.RegisterPendingAsync(id.ToString(), TimeSpan.FromSeconds(1));
        await WaitDeletedAsync(data, id);

        // A committed one stays.
        var kept = await data.UploadAsync(RandomNumberGenerator.GetBytes(1000), "tmp");
        await names.RegisterPendingAsync(kept.ToString(), TimeSpan.FromSeconds(1));
        var root = await names.GetRootAsync("group1");
        await names.CreateAsync(root.Inode, "kept-" + Guid.NewGuid().ToString("N")[..6], File, 0, 0, kept.ToString(), 1000);
        await Task.Delay(2500);
        Assert.Equal(1000, (await data.GetFileInfoAsync(kept)).Size);
    }
}

/// <summary>Persistence across restarts and the switch that turns the service off.</summary>
public sealed class NamespaceRestartTests
{
    [Fact]
    public async Task The_namespace_survives_a_tracker_restart_even_a_hard_kill()
    {
        await using var cluster = await Cluster.StartAsync("namespace_orphan_delay = 0");
        long dir;
        Guid id;
        await using (var names = new NamespaceClient(FastDfsClientOptions.FromTrackers(cluster.TrackerEndpoint)))
        {
            var root = await names.GetRootAsync("group1");
            dir = (await names.MkDirAsync(root.Inode, "kept", 0x1ED, 0, 0)).Inode;
            id = (await names.StatFsAsync("group1")).NamespaceId;
        }

        await cluster.RestartTrackerAsync(hard: true);
        await using (var names = new NamespaceClient(FastDfsClientOptions.FromTrackers(cluster.TrackerEndpoint)))
        {
            var root = await names.GetRootAsync("group1");
            Assert.Equal(dir, (await names.LookupAsync(root.Inode, "kept")).Inode);
            Assert.Equal(id, (await names.StatFsAsync("group1")).NamespaceId);
        }

        Assert.True(System.IO.File.Exists(Path.Combine(cluster.Root, "tracker", "data", "namespace.db")));
    }

    [Fact]
    public async Task A_tracker_without_the_service_answers_EINVAL()
    {
        await using var cluster = await Cluster.StartAsync("namespace_enabled = false");
        await using var names = new NamespaceClient(FastDfsClientOptions.FromTrackers(cluster.TrackerEndpoint));
        Assert.False(await names.IsAvailableAsync("group1"));
        Assert.False(System.IO.File.Exists(Path.Combine(cluster.Root, "tracker", "data", "namespace.db")));
    }
}

/// <summary>Two trackers serving one namespace from PostgreSQL: one killed, the client keeps working through the other.</summary>
public sealed class NamespaceSharedStoreTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task Two_trackers_share_a_postgresql_namespace_and_the_client_fails_over()
    {
        string store = await postgres.CreateSchemaAsync();
        await using var cluster = await Cluster.StartSharedNamespaceAsync(store);
        var second = cluster.ExtraTrackers[0];

        await using var onFirst = new NamespaceClient(FastDfsClientOptions.FromTrackers(cluster.TrackerEndpoint));
        await using var onSecond = new NamespaceClient(FastDfsClientOptions.FromTrackers(second.Endpoint));
        var root = await onFirst.GetRootAsync("group1");
        var dir = await onFirst.MkDirAsync(root.Inode, "shared", 0x1ED, 0, 0);
        Assert.Equal(dir, await onSecond.LookupAsync(root.Inode, "shared"));
        Assert.Equal((await onFirst.StatFsAsync("group1")).NamespaceId, (await onSecond.StatFsAsync("group1")).NamespaceId);

        // One client knowing both trackers; the first dies, the second answers, and its collector deletes orphans.
        await using var data = Cluster.CreateClientFor(TimeSpan.FromSeconds(10), second.Endpoint);
        FileId id = default;
        var uploadDeadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                id = await data.UploadAsync(RandomNumberGenerator.GetBytes(500), "txt");
                break;
            }
            catch (FdfsServerException e) when (e.Errno is FdfsErrno.ENOSPC or FdfsErrno.ENOENT && uploadDeadline.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(200); // the storage's first disk report has not reached the second tracker yet
            }
        }

        await using var both = new NamespaceClient(FastDfsClientOptions.FromTrackers(cluster.TrackerEndpoint, second.Endpoint) with
        {
            ConnectTimeout = TimeSpan.FromSeconds(2),
            NetworkTimeout = TimeSpan.FromSeconds(5),
        });
        var file = await both.CreateAsync(dir.Inode, "f.txt", 0x1A4, 0, 0, id.ToString(), 500);
        Assert.Equal(cluster.TrackerEndpoint, both.CurrentTracker);
        await cluster.Tracker!.KillHardAsync();
        Assert.Equal(file.Inode, (await both.LookupAsync(dir.Inode, "f.txt")).Inode);
        Assert.Equal(second.Endpoint, both.CurrentTracker);
        await both.UnlinkAsync(dir.Inode, "f.txt");
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await data.GetFileInfoAsync(id);
            }
            catch (FdfsServerException e) when (e.Errno == FdfsErrno.ENOENT)
            {
                break;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), "the orphan was not collected");
            await Task.Delay(100);
        }
    }
}
