using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;
using Xunit.Abstractions;
using static FastDfs.Mount.Tests.Shell;

namespace FastDfs.Mount.Tests;

/// <summary>
/// Everyday tools on a named mount (directory service on): each workflow runs the real tool on the mount and
/// compares the outcome with the same tool on local ext4 or with what the cluster holds.
/// </summary>
public sealed class ToolWorkflowTests(NamedMountFixture fixture, ITestOutputHelper output) : IClassFixture<NamedMountFixture>
{
    /// <summary>One line per entry: path, type, mode, owner, mtime (ns), link target; sorted. Sizes of regular files apart.</summary>
    private const string Snapshot =
        "find . -printf '%P|%y|%m|%U:%G|%T@|%l\\n' | sort && find . -type f -printf '%P|%s\\n' | sort";

    private MountProcess Mount => fixture.Mount;

    private static long Ns(int year, int month, int day, long extraNs = 0) =>
        (new DateTimeOffset(year, month, day, 12, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds() * 1_000_000_000L) + extraNs;

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>A local tree with what copy tools must carry: nested and empty dirs, 0 B to 3 MiB files, symlinks, a hard link, modes, owners, old ns mtimes.</summary>
    private static async Task BuildSampleTreeAsync(string root, bool withXattrs = false)
    {
        string xattrs = withXattrs
            ? """
              setfattr -n user.origin -v local a/text.txt
              setfattr -n user.empty -v '' zero
              setfattr -n user.note -v 'two words' three-mib
              setfattr -n user.purpose -v nested a/b
              """
            : string.Empty;
        await MustAsync($"""
            mkdir -p a/b/c empty-dir
            : > zero
            head -c 1 /dev/urandom > a/one-byte
            head -c 4096 /dev/urandom > a/b/page
            head -c 100000 /dev/urandom > a/b/c/hundred-k
            head -c 3145728 /dev/urandom > three-mib
            printf 'hello\nworld\n' > a/text.txt
            ln -s text.txt a/link-to-text
            ln -s ../../zero a/b/link-up
            ln -s nowhere dangling
            ln -s a/b link-to-dir
            ln a/text.txt hard-link-to-text
            chmod 0600 a/one-byte; chmod 0755 three-mib; chmod 0700 a/b/c; chmod 0750 empty-dir; chmod 0640 a/b/page
            chown 1234:5678 a/b/page
            {xattrs}
            find . -depth -print0 | xargs -0 touch -h -d @981201906.123456789
            touch -h -d @1262347200.5 a/b/c/hundred-k a/link-to-text
            touch -d @1000000000.000000001 a/b
            """, root);
    }

    private static async Task<string> SnapshotAsync(string root) => (await MustAsync(Snapshot, root)).Output;

    /// <summary>Fails with the lines that differ (expected: the local reference; actual: the mount).</summary>
    private static void AssertSameLines(string expected, string actual, string what)
    {
        var missing = Lines(expected).Except(Lines(actual)).ToList();
        var unexpected = Lines(actual).Except(Lines(expected)).ToList();
        Assert.True(
            missing.Count == 0 && unexpected.Count == 0,
            $"{what} differ.\nonly in the reference:\n  {string.Join("\n  ", missing)}\nonly on the mount:\n  {string.Join("\n  ", unexpected)}");
    }

    /// <summary>user.* xattrs of every entry in path order (no dereference), for comparing trees.</summary>
    private static async Task<string> XattrDumpAsync(string root) =>
        (await MustAsync("find . | sort | while IFS= read -r f; do getfattr -h -d -- \"$f\" 2>&1; done", root)).Output;

    [Fact]
    public async Task Find_selects_by_type_name_and_newer()
    {
        var dir = await fixture.NewDirectoryAsync("find");
        var names = fixture.Names;
        var a = await names.MkDirAsync(dir.Inode, "a", NamedMountFixture.DirectoryMode, 0, 0);
        var b = await names.MkDirAsync(a.Inode, "b", NamedMountFixture.DirectoryMode, 0, 0);
        async Task FileAsync(long parent, string name, long mtimeNs)
        {
            var created = await names.CreateAsync(parent, name, NamedMountFixture.FileMode, 0, 0);
            await names.SetAttrAsync(new SetAttrRequest(created.Inode, NamespaceSetAttr.Mtime, 0, 0, 0, 0, 0, mtimeNs, 0));
        }

        await FileAsync(dir.Inode, "old.txt", Ns(2001, 1, 1));
        await FileAsync(a.Inode, "reference", Ns(2010, 1, 1));
        await FileAsync(a.Inode, "new.txt", Ns(2020, 1, 1));
        await FileAsync(b.Inode, "new.log", Ns(2020, 1, 1, 1));
        await FileAsync(b.Inode, "old.log", Ns(2005, 1, 1));
        await names.SymlinkAsync(b.Inode, "link.txt", "../new.txt", 0, 0);

        Assert.Equal(["a/b/new.log", "a/b/old.log", "a/new.txt", "a/reference", "old.txt"], Lines((await MustAsync("find . -type f -printf '%P\\n' | sort", dir.Path)).Output));
        Assert.Equal(["a/b/link.txt", "a/new.txt", "old.txt"], Lines((await MustAsync("find . -name '*.txt' -printf '%P\\n' | sort", dir.Path)).Output));
        Assert.Equal(["a/b/new.log", "a/new.txt"], Lines((await MustAsync("find . -type f -newer a/reference -printf '%P\\n' | sort", dir.Path)).Output));
        Assert.Equal(["a", "a/b"], Lines((await MustAsync("find . -mindepth 1 -type d -printf '%P\\n' | sort", dir.Path)).Output));
        Assert.Equal(["a/b/link.txt -> ../new.txt"], Lines((await MustAsync("find . -type l -printf '%P -> %l\\n'", dir.Path)).Output));
    }

    [Fact]
    public async Task Du_reports_apparent_and_allocated_sizes()
    {
        var dir = await fixture.NewDirectoryAsync("du");
        var sub = await fixture.Names.MkDirAsync(dir.Inode, "sub", NamedMountFixture.DirectoryMode, 0, 0);
        int[] topSizes = [1, 1000, 70_000];
        int[] subSizes = [5000, 1024 * 1024 + 3];
        for (int i = 0; i < topSizes.Length; i++)
        {
            await fixture.NameUploadedAsync(dir.Inode, $"top{i}", RandomNumberGenerator.GetBytes(topSizes[i]));
        }

        for (int i = 0; i < subSizes.Length; i++)
        {
            await fixture.NameUploadedAsync(sub.Inode, $"sub{i}", RandomNumberGenerator.GetBytes(subSizes[i]));
        }

        await fixture.Names.CreateAsync(sub.Inode, "empty", NamedMountFixture.FileMode, 0, 0);

        // Apparent sizes: the files' bytes plus 4096 per directory (what the mount, like ext4 for a small directory, shows).
        long subApparent = subSizes.Sum(s => (long)s) + 4096;
        long allApparent = subApparent + topSizes.Sum(s => (long)s) + 4096;
        var apparent = await MustAsync($"du -b {Q(dir.Path)}");
        Assert.Equal([$"{subApparent}\t{dir.PathOf("sub")}", $"{allApparent}\t{dir.Path}"], Lines(apparent.Output));
        Assert.Equal($"{allApparent}\t{dir.Path}", (await MustAsync($"du -sb {Q(dir.Path)}")).Output.Trim());

        // Allocated sizes (st_blocks): at least the bytes (no file shows as 0 blocks), at most one 4 KiB block more per entry.
        long allocated = long.Parse((await MustAsync($"du -s -B1 {Q(dir.Path)} | cut -f1")).Output.Trim(), CultureInfo.InvariantCulture);
        int entries = topSizes.Length + subSizes.Length + 1 + 2;
        Assert.InRange(allocated, allApparent, allApparent + (entries * 4096L));
        long kib = long.Parse((await MustAsync($"du -s {Q(dir.Path)} | cut -f1")).Output.Trim(), CultureInfo.InvariantCulture);
        Assert.Equal((allocated + 1023) / 1024, kib);
    }

    [Fact]
    public async Task Ls_l_lists_a_directory_with_100000_entries()
    {
        const int Count = 100_000;
        var dir = await fixture.NewDirectoryAsync("big");
        var populate = Stopwatch.StartNew();
        await Parallel.ForAsync(0, Count, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
            await fixture.Names.CreateAsync(dir.Inode, $"f-{i:D6}", NamedMountFixture.FileMode, 0, 0, cancellationToken: ct));
        output.WriteLine($"populated {Count} entries through the directory service in {populate.Elapsed.TotalSeconds:F1} s");

        using var work = new LocalDirectory("ls");
        var ls = await MustAsync(
            $"ls -l {Q(dir.Path)} > ls.out && wc -l < ls.out && head -n 1 ls.out && grep -c ' f-[0-9]*$' ls.out && tail -n 1 ls.out", work.Path, TimeSpan.FromMinutes(5));
        output.WriteLine($"ls -l of {Count} entries took {ls.Elapsed.TotalSeconds:F1} s");
        string[] lines = Lines(ls.Output);
        Assert.Equal((Count + 1).ToString(CultureInfo.InvariantCulture), lines[0]); // "total N" plus one line per entry
        Assert.StartsWith("total ", lines[1], StringComparison.Ordinal);
        Assert.Equal(Count.ToString(CultureInfo.InvariantCulture), lines[2]);
        Assert.Matches(@"^-rw-r--r-- 1 root root 0 .* f-099999$", lines[3]);

        var plain = await MustAsync($"ls -f {Q(dir.Path)} | wc -l", timeout: TimeSpan.FromMinutes(2));
        Assert.Equal((Count + 2).ToString(CultureInfo.InvariantCulture), plain.Output.Trim()); // with . and ..
    }

    [Fact]
    public async Task Setfattr_and_getfattr_round_trip_user_attributes_of_files_and_directories()
    {
        var dir = await fixture.NewDirectoryAsync("xattr");
        var (_, id) = await fixture.NameUploadedAsync(dir.Inode, "photo.jpg", RandomNumberGenerator.GetBytes(2000), new Dictionary<string, string> { ["camera"] = "x100" });
        string file = dir.PathOf("photo.jpg");

        var before = await MustAsync($"getfattr -d {Q(file)}");
        Assert.Contains("user.camera=\"x100\"", before.Output, StringComparison.Ordinal);
        await MustAsync($"setfattr -n user.color -v blue {Q(file)} && setfattr -n user.title -v 'a title' {Q(file)}");
        var dump = await MustAsync($"getfattr -d {Q(file)}");
        Assert.Contains("user.color=\"blue\"", dump.Output, StringComparison.Ordinal);
        Assert.Contains("user.title=\"a title\"", dump.Output, StringComparison.Ordinal);
        Assert.Contains("user.camera=\"x100\"", dump.Output, StringComparison.Ordinal);
        Assert.Equal(id.ToString(), (await MustAsync($"getfattr --only-values -n system.fdfs.file_id {Q(file)}")).Output);

        // user.* of a named file are its content's FastDFS metadata.
        var metadata = await fixture.Client.GetMetadataAsync(id);
        Assert.Equal(("blue", "a title", "x100"), (metadata["color"], metadata["title"], metadata["camera"]));

        await MustAsync($"setfattr -x user.color {Q(file)}");
        Assert.DoesNotContain("user.color", (await MustAsync($"getfattr -d {Q(file)}")).Output, StringComparison.Ordinal);
        Assert.False((await fixture.Client.GetMetadataAsync(id)).ContainsKey("color"));
        var missing = await RunAsync($"setfattr -x user.color {Q(file)}");
        Assert.True(missing.ExitCode != 0 && missing.Error.Contains("No such attribute", StringComparison.Ordinal), missing.ToString());

        // Directories keep theirs in the directory service.
        string sub = dir.PathOf("album");
        await fixture.Names.MkDirAsync(dir.Inode, "album", NamedMountFixture.DirectoryMode, 0, 0);
        await MustAsync($"setfattr -n user.purpose -v holidays {Q(sub)} && setfattr -n user.year -v 2024 {Q(sub)}");
        var dirDump = await MustAsync($"getfattr -d {Q(sub)}");
        Assert.Contains("user.purpose=\"holidays\"", dirDump.Output, StringComparison.Ordinal);
        Assert.Contains("user.year=\"2024\"", dirDump.Output, StringComparison.Ordinal);
        await MustAsync($"setfattr -x user.purpose {Q(sub)}");
        dirDump = await MustAsync($"getfattr -d {Q(sub)}");
        Assert.DoesNotContain("user.purpose", dirDump.Output, StringComparison.Ordinal);
        Assert.Contains("user.year=\"2024\"", dirDump.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cp_a_copies_a_tree_with_modes_times_owners_symlinks_and_a_hard_link()
    {
        using var local = new LocalDirectory("cp");
        await BuildSampleTreeAsync(local.Path);
        var dir = await fixture.NewDirectoryAsync("cp");
        string copy = dir.PathOf("tree");

        await MustAsync($"cp -a {Q(local.Path)} {Q(copy)}");

        await MustAsync($"diff -r --no-dereference {Q(local.Path)} {Q(copy)}");
        AssertSameLines(await SnapshotAsync(local.Path), await SnapshotAsync(copy), "path|type|mode|owner|mtime|link target (and sizes)");
        var links = Lines((await MustAsync("stat -c '%i %h' a/text.txt hard-link-to-text", copy)).Output);
        Assert.Equal(links[0], links[1]);
        Assert.EndsWith(" 2", links[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rsync_aX_twice_transfers_nothing_the_second_time_and_keeps_modes_times_and_xattrs()
    {
        using var local = new LocalDirectory("rsync");
        await BuildSampleTreeAsync(local.Path, withXattrs: true);
        var dir = await fixture.NewDirectoryAsync("rsync");
        string target = dir.PathOf("mirror");

        var first = await MustAsync($"rsync -aX --itemize-changes {Q(local.Path + "/")} {Q(target + "/")}");
        output.WriteLine(first.ToString());
        var second = await MustAsync($"rsync -aX --itemize-changes {Q(local.Path + "/")} {Q(target + "/")}");
        Assert.True(second.Output.Trim().Length == 0, "the second run changed something:\n" + second);
        var stats = await MustAsync($"rsync -aX --stats {Q(local.Path + "/")} {Q(target + "/")}");
        Assert.Contains("Number of regular files transferred: 0", stats.Output, StringComparison.Ordinal);

        AssertSameLines(await SnapshotAsync(local.Path), await SnapshotAsync(target), "path|type|mode|owner|mtime|link target (and sizes)");
        Assert.Equal(await XattrDumpAsync(local.Path), await XattrDumpAsync(target));
        await MustAsync($"diff -r --no-dereference {Q(local.Path)} {Q(target)}");
    }

    [Fact]
    public async Task Tar_x_into_the_mount_and_tar_c_from_it_round_trip()
    {
        using var local = new LocalDirectory("tar");
        string source = local.PathOf("src");
        Directory.CreateDirectory(source);
        await BuildSampleTreeAsync(source);
        var dir = await fixture.NewDirectoryAsync("tar");
        string into = dir.PathOf("x");
        Directory.CreateDirectory(into);

        const string Pack = "tar --sort=name --numeric-owner --format=posix --pax-option=delete=atime,delete=ctime";
        await MustAsync($"{Pack} -C {Q(source)} -cf in.tar .", local.Path);
        await MustAsync($"tar --numeric-owner -xpf {Q(local.PathOf("in.tar"))} -C {Q(into)}");
        await MustAsync($"{Pack} -C {Q(into)} -cf out.tar .", local.Path);

        const string List = "tar --numeric-owner --full-time -tvf";
        AssertSameLines((await MustAsync($"{List} in.tar", local.Path)).Output, (await MustAsync($"{List} out.tar", local.Path)).Output, "tar listings (in.tar: the local tree; out.tar: the mount)");
        await MustAsync($"mkdir back && tar --numeric-owner -xpf out.tar -C back && diff -r --no-dereference src back", local.Path);
        AssertSameLines(await SnapshotAsync(source), await SnapshotAsync(local.PathOf("back")), "path|type|mode|owner|mtime|link target (and sizes)");
    }

    [Fact]
    public async Task Rsync_aD_and_tar_carry_device_nodes_and_fifos()
    {
        using var local = new LocalDirectory("devices");
        string source = local.PathOf("src");
        Directory.CreateDirectory(source);
        await MustAsync("""
            mkdir -p dev/sub
            mknod -m 0666 dev/null c 1 3
            mknod -m 0660 dev/sub/nvme b 259 70000
            mknod -m 0620 dev/tty5 c 4 5
            mkfifo -m 0640 dev/pipe
            printf x > dev/plain
            chown 0:6 dev/sub/nvme; chown 1234:5 dev/tty5
            find . -depth -print0 | xargs -0 touch -h -d @1262347200.5
            """, source);

        // Every entry's type, mode, owner and mtime, then each device's major and minor (stat: hex).
        const string Devices =
            "find . -printf '%P|%y|%m|%U:%G|%T@\\n' | sort && find . \\( -type b -o -type c \\) -exec stat -c '%n|%t|%T' {} + | sort";
        string reference = (await MustAsync(Devices, source)).Output;
        Assert.Contains("./dev/sub/nvme|103|11170", reference, StringComparison.Ordinal);

        var dir = await fixture.NewDirectoryAsync("devices");
        string mirror = dir.PathOf("mirror");
        await MustAsync($"rsync -aD {Q(source + "/")} {Q(mirror + "/")}");
        Assert.Equal(reference, (await MustAsync(Devices, mirror)).Output);

        // rsync compares a device's type and numbers: a second run finds nothing to redo.
        var again = await MustAsync($"rsync -aD --itemize-changes {Q(source + "/")} {Q(mirror + "/")}");
        Assert.True(again.Output.Trim().Length == 0, "the second run changed something:\n" + again);

        // tar -c from the mount (pax: sub-second mtimes), -x back onto ext4 and into the mount.
        await MustAsync($"tar --numeric-owner --format=posix -C {Q(mirror)} -cf out.tar . && mkdir back && tar --numeric-owner -xpf out.tar -C back", local.Path);
        Assert.Equal(reference, (await MustAsync(Devices, local.PathOf("back"))).Output);
        string into = dir.PathOf("untarred");
        Directory.CreateDirectory(into);
        await MustAsync($"tar --numeric-owner -xpf {Q(local.PathOf("out.tar"))} -C {Q(into)}");
        Assert.Equal(reference, (await MustAsync(Devices, into)).Output);
    }

    [Fact]
    public async Task Git_init_add_commit_checkout_on_the_mount()
    {
        var dir = await fixture.NewDirectoryAsync("git");
        string repo = dir.PathOf("repo");
        const string Git = "git -c safe.directory='*' -c init.defaultBranch=main -c core.fsync=all";
        await MustAsync($$"""
            mkdir {{Q(repo)}} && cd {{Q(repo)}}
            {{Git}} init -q .
            printf 'first\n' > a.txt
            mkdir -p src/deep && printf 'int main() { return 0; }\n' > src/deep/main.c
            printf '#!/bin/sh\necho hi\n' > run.sh && chmod 0755 run.sh
            ln -s a.txt link
            {{Git}} add -A && {{Git}} commit -q -m first
            printf 'second\n' >> a.txt && rm src/deep/main.c && printf 'new\n' > b.txt
            {{Git}} add -A && {{Git}} commit -q -m second
            """);
        Assert.Equal(string.Empty, (await MustAsync($"{Git} status --porcelain", repo)).Output);

        await MustAsync($"{Git} checkout -q HEAD~1", repo);
        Assert.Equal("first\n", File.ReadAllText(Path.Combine(repo, "a.txt")));
        Assert.True(File.Exists(Path.Combine(repo, "src/deep/main.c")));
        Assert.False(File.Exists(Path.Combine(repo, "b.txt")));
        Assert.Equal(string.Empty, (await MustAsync($"{Git} status --porcelain", repo)).Output);
        Assert.Equal("755", (await MustAsync("stat -c %a run.sh", repo)).Output.Trim());
        Assert.Equal("a.txt", (await MustAsync("readlink link", repo)).Output.Trim());

        await MustAsync($"{Git} checkout -q main", repo);
        Assert.Equal("first\nsecond\n", File.ReadAllText(Path.Combine(repo, "a.txt")));
        Assert.False(File.Exists(Path.Combine(repo, "src/deep/main.c")));
        Assert.Equal(string.Empty, (await MustAsync($"{Git} status --porcelain", repo)).Output);
        await MustAsync($"{Git} fsck --full --strict", repo);
        Assert.Equal(2, Lines((await MustAsync($"{Git} log --oneline", repo)).Output).Length);
    }

    [Fact]
    public async Task Editor_save_replaces_the_file_by_rename_with_ext4_inode_semantics_and_sed_i_works()
    {
        var dir = await fixture.NewDirectoryAsync("editor");
        string file = dir.PathOf("notes.txt");
        string other = dir.PathOf("notes-hardlink");
        string temp = dir.PathOf(".notes.txt.swp");
        await File.WriteAllTextAsync(file, "old text\n");
        await MustAsync($"chmod 0640 {Q(file)} && ln {Q(file)} {Q(other)}");
        long originalInode = await InodeAsync(file);

        // An editor's save: new content in a temp file, fsync, the original's mode, rename over the original.
        using var reader = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1);
        await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes("new text, saved\n"));
            stream.Flush(flushToDisk: true);
        }

        await MustAsync($"chmod 0640 {Q(temp)}");
        long tempInode = await InodeAsync(temp);
        File.Move(temp, file, overwrite: true);

        Assert.Equal("new text, saved\n", await File.ReadAllTextAsync(file));
        Assert.False(File.Exists(temp));
        Assert.Equal(tempInode, await InodeAsync(file)); // rename moves the inode, as on ext4
        Assert.Equal("old text\n", await File.ReadAllTextAsync(other)); // the hard link still names the old inode
        Assert.Equal(originalInode, await InodeAsync(other));
        Assert.Equal("1", (await MustAsync($"stat -c %h {Q(other)}")).Output.Trim());
        var buffer = new byte[64];
        Assert.Equal("old text\n", Encoding.UTF8.GetString(buffer, 0, reader.Read(buffer))); // open before the save: old content

        await MustAsync($"sed -i 's/saved/edited by sed/' {Q(file)}");
        Assert.Equal("new text, edited by sed\n", await File.ReadAllTextAsync(file));
        Assert.Equal("640", (await MustAsync($"stat -c %a {Q(file)}")).Output.Trim());
        Assert.Equal(["notes-hardlink", "notes.txt"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName).Order());
    }

    private static async Task<long> InodeAsync(string path) =>
        long.Parse((await MustAsync($"stat -c %i {Q(path)}")).Output.Trim(), CultureInfo.InvariantCulture);

    [Fact]
    public async Task A_file_written_through_the_mount_is_read_by_the_npm_client_by_its_file_id()
    {
        var dir = await fixture.NewDirectoryAsync("npm");
        string file = dir.PathOf("from-mount.bin");
        byte[] data = RandomNumberGenerator.GetBytes(300_000);
        await File.WriteAllBytesAsync(file, data);
        await MustAsync($"setfattr -n user.author -v ann {Q(file)} && setfattr -n user.kind -v written-by-mount {Q(file)}");
        string fileId = (await MustAsync($"getfattr --only-values -n system.fdfs.file_id {Q(file)}")).Output;
        Assert.True(FileId.TryParse(fileId, out _, out string? invalid), $"not a file ID: '{fileId}' ({invalid})");

        using var work = new LocalDirectory("npm");
        string list = work.PathOf("mount-files.json");
        var entries = new JsonArray
        {
            new JsonObject
            {
                ["fileId"] = fileId,
                ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(data)),
                ["size"] = data.Length,
                ["metadata"] = new JsonObject { ["author"] = "ann", ["kind"] = "written-by-mount" },
            },
        };
        await File.WriteAllTextAsync(list, entries.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        string compat = Path.Combine(Binaries.RepoRoot, "tests", "compat");
        Assert.True(Directory.Exists(Path.Combine(compat, "node_modules", "fdfs")), "npm packages missing: run `npm ci` in tests/compat (scripts/test.sh does it)");
        var npm = await RunAsync($"node compat.mjs --tracker {fixture.Cluster.TrackerEndpoint} --workdir {Q(work.Path)} --verify-in {Q(list)}", compat);
        Assert.True(npm.ExitCode == 0, npm.ToString());
        var result = JsonNode.Parse(Lines(npm.Output)[^1])!;
        Assert.Contains($"verify:0:{fileId}", result["passed"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Empty(result["failed"]!.AsArray());
    }

    [Fact]
    public async Task Two_mounts_see_each_others_changes_after_the_attribute_timeout()
    {
        var dir = await fixture.NewDirectoryAsync("two");
        await using var second = await MountProcess.StartAsync(fixture.Cluster.TrackerEndpoint, NamedMountFixture.MountOptions);
        string name = Path.GetFileName(dir.Path);
        string onFirst = dir.Path;
        string onSecond = second.PathOf(Path.Combine("group1", name));
        var limit = TimeSpan.FromSeconds(5); // attr/entry timeouts are 0.2 s

        async Task SeenAsync(Func<bool> condition, string what)
        {
            var watch = Stopwatch.StartNew();
            await MountProcess.WaitUntilAsync(condition, limit, what);
            output.WriteLine($"{what}: {watch.ElapsedMilliseconds} ms");
        }

        string ReadOrEmpty(string path)
        {
            try
            {
                return File.ReadAllText(path);
            }
            catch (IOException)
            {
                return string.Empty;
            }
        }

        await File.WriteAllTextAsync(Path.Combine(onFirst, "shared.txt"), "version one\n");
        await SeenAsync(() => ReadOrEmpty(Path.Combine(onSecond, "shared.txt")) == "version one\n", "a new file on the other mount");

        // The second mount has read (and cached) version one; a rewrite with another length must replace it.
        await File.WriteAllTextAsync(Path.Combine(onFirst, "shared.txt"), "version two, longer\n");
        await SeenAsync(() => ReadOrEmpty(Path.Combine(onSecond, "shared.txt")) == "version two, longer\n", "new content on the other mount");

        Directory.CreateDirectory(Path.Combine(onSecond, "made-on-second"));
        await SeenAsync(() => Directory.Exists(Path.Combine(onFirst, "made-on-second")), "a directory made on the second mount");

        File.Move(Path.Combine(onFirst, "shared.txt"), Path.Combine(onFirst, "made-on-second", "moved.txt"));
        await SeenAsync(
            () => !File.Exists(Path.Combine(onSecond, "shared.txt")) && ReadOrEmpty(Path.Combine(onSecond, "made-on-second", "moved.txt")) == "version two, longer\n",
            "a rename on the other mount");

        File.Delete(Path.Combine(onSecond, "made-on-second", "moved.txt"));
        await SeenAsync(() => !File.Exists(Path.Combine(onFirst, "made-on-second", "moved.txt")), "a delete on the other mount");
    }
}
