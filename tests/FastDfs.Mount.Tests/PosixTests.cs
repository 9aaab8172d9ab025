using System.Runtime.InteropServices;
using System.Text;
using FastDfs.Integration.Tests.TestKit;
using Xunit;
using Xunit.Abstractions;

namespace FastDfs.Mount.Tests;

/// <summary>
/// A cluster with the directory service and an fdfs-mount of it in named mode, mounted the way the POSIX suite needs:
/// the kernel checks permissions (default_permissions) and other users may enter (allow_other, for the sticky cases).
/// </summary>
public sealed class PosixMountFixture : IAsyncLifetime
{
    public Cluster Cluster { get; private set; } = null!;

    internal MountProcess Mount { get; private set; } = null!;

    /// <summary>Where the ext4 side of every case runs (/tmp is ext4).</summary>
    public string LocalRoot { get; } = Path.Combine(Path.GetTempPath(), "fdfs-posix-" + Guid.NewGuid().ToString("N")[..10]);

    /// <summary>Where the mount side runs: a directory of group1's tree.</summary>
    public string MountRoot { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(LocalRoot);
        Cluster = await Cluster.StartAsync("namespace_orphan_delay = 2", new StorageSpec(), new StorageSpec("group2"));
        Mount = await MountProcess.StartAsync(
            Cluster.TrackerEndpoint,
            "names=on,allow_other,default_permissions,auto_unmount,attr_timeout=0.1,entry_timeout=0.1,negative_timeout=0,xattr_timeout=0.1,timeout=15");
        MountRoot = Mount.PathOf("group1/posix-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(MountRoot);
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

        Directory.Delete(LocalRoot, recursive: true);
    }
}

/// <summary>
/// The POSIX conformance suite: every case runs in a fresh directory on the local ext4 and on the mount, and its
/// outcome (an errno name, or what it observed) must be the same on both. Cases marked <c>[data]</c> need the data
/// path (create, write, read, truncate).
/// </summary>
public partial class PosixTests(PosixMountFixture fixture, ITestOutputHelper output) : IClassFixture<PosixMountFixture>
{
    internal const int OCreat = 0x40, OExcl = 0x80, OWrOnly = 1, ORdWr = 2, ODirectory = 0x10000;
    private const uint SIfReg = 0x8000, SIfIfo = 0x1000, SIfChr = 0x2000, SIfBlk = 0x6000, SIfSock = 0xC000;
    private const uint RenameNoReplace = 1, RenameExchange = 2;
    private const long UtimeNow = (1L << 30) - 1, UtimeOmit = (1L << 30) - 2;
    private const int XattrCreate = 1, XattrReplace = 2;
    private const string Nobody = "65534";

    /// <summary>One line per case: a name and what it does in directory <c>d</c>; the result is compared across both file systems.</summary>
    private static readonly (string Name, Func<string, string> Run)[] Cases =
    [
        // open / create flags
        ("open O_CREAT|O_EXCL on an existing file = EEXIST", d => { Touch(d, "a"); return OpenClose($"{d}/a", OCreat | OExcl | OWrOnly); }),
        ("open O_DIRECTORY on a file = ENOTDIR", d => { Touch(d, "a"); return OpenClose($"{d}/a", ODirectory); }),
        ("open a directory for writing = EISDIR", d => { Mk(d, "s"); return OpenClose($"{d}/s", OWrOnly); }),
        ("open O_CREAT below a missing directory = ENOENT", d => OpenClose($"{d}/none/a", OCreat | OWrOnly)),
        ("open O_CREAT|O_EXCL on a dangling symlink = EEXIST", d => { Libc.symlink("nowhere", $"{d}/l"); return OpenClose($"{d}/l", OCreat | OExcl | OWrOnly); }),
        ("[data] create, write, close: size and mode", d => { WriteFile($"{d}/a", "hello", 0x1A0); return $"{StatOf($"{d}/a").Size} {Oct(StatOf($"{d}/a").Mode)}"; }),
        ("[data] unlink while open: the open fd still reads the data", d => UnlinkWhileOpen(d)),
        ("[data] unlink while open: ftruncate, pwrite, fstat and pread of the open fd", d => UnlinkedFileResized(d)),
        ("[data] unlink while open: fallocate extends the open fd", d => UnlinkedFileAllocated(d)),
        ("[data] unlink while open: fchmod, fchown and futimens of the open fd", d => UnlinkedFileAttributes(d)),
        ("a name that is not UTF-8: create, mkdir, lookup and rename onto it", d => NotUtf8Name(d)),
        ("NAME_MAX counts bytes that are not UTF-8 as one each: 255 made, 256 = ENAMETOOLONG", d => LongLatin1Names(d)),

        // mkdir / rmdir
        ("mkdir of an existing name = EEXIST", d => { Mk(d, "s"); return Err(Libc.mkdir($"{d}/s", 0x1ED)); }),
        ("mkdir below a file = ENOTDIR", d => { Touch(d, "a"); return Err(Libc.mkdir($"{d}/a/s", 0x1ED)); }),
        ("mkdir mode and parent nlink", d => { long before = StatOf(d).Nlink; Mk(d, "s", 0x1E8); return $"{Oct(StatOf($"{d}/s").Mode)} +{StatOf(d).Nlink - before} nlink={StatOf($"{d}/s").Nlink}"; }),
        ("rmdir of a non-empty directory = ENOTEMPTY", d => { Mk(d, "s"); Touch(d, "s/a"); return Err(Libc.rmdir($"{d}/s")); }),
        ("rmdir of a file = ENOTDIR", d => { Touch(d, "a"); return Err(Libc.rmdir($"{d}/a")); }),
        ("rmdir of \".\" = EINVAL", d => { Mk(d, "s"); return Err(Libc.rmdir($"{d}/s/.")); }),
        ("rmdir of a missing name = ENOENT", d => Err(Libc.rmdir($"{d}/none"))),
        ("rmdir of a symlink to a directory = ENOTDIR", d => { Mk(d, "s"); Libc.symlink("s", $"{d}/l"); return Err(Libc.rmdir($"{d}/l")); }),
        ("mkdir of a 256-byte name = ENAMETOOLONG", d => Err(Libc.mkdir($"{d}/{new string('n', 256)}", 0x1ED))),
        ("mkdir of a 255-byte name", d => { string r = Err(Libc.mkdir($"{d}/{new string('n', 255)}", 0x1ED)); return $"{r} {Directory.GetDirectories(d).Single().Length - d.Length - 1}"; }),
        ("setgid directory: new nodes take its group, subdirectories its bit", d => SetGidInheritance(d)),
        ("[data] setgid directory: a file made by create(2) takes its group", d => { SetGidInheritance(d); WriteFile($"{d}/s/w", "x", 0x1A4); return $"{StatOf($"{d}/s/w").Gid}"; }),
        ("rmdir of an empty directory, parent nlink", d => { Mk(d, "s"); long before = StatOf(d).Nlink; return $"{Err(Libc.rmdir($"{d}/s"))} {StatOf(d).Nlink - before} {Exists($"{d}/s")}"; }),
        ("unlink of a directory = EISDIR", d => { Mk(d, "s"); return Err(Libc.unlink($"{d}/s")); }),
        ("unlink of a missing name = ENOENT", d => Err(Libc.unlink($"{d}/none"))),

        // rename
        ("rename over a file replaces it", d => { Touch(d, "a"); Touch(d, "b"); ulong ino = StatOf($"{d}/a").Ino; return $"{Err(Libc.rename($"{d}/a", $"{d}/b"))} {Exists($"{d}/a")} {StatOf($"{d}/b").Ino == ino}"; }),
        ("rename a directory over an empty directory", d => { Mk(d, "s"); Mk(d, "t"); return $"{Err(Libc.rename($"{d}/s", $"{d}/t"))} {Exists($"{d}/s")} {Exists($"{d}/t")}"; }),
        ("rename a directory over a non-empty directory = ENOTEMPTY", d => { Mk(d, "s"); Mk(d, "t"); Touch(d, "t/a"); return Err(Libc.rename($"{d}/s", $"{d}/t")); }),
        ("rename a directory over a file = ENOTDIR", d => { Mk(d, "s"); Touch(d, "a"); return Err(Libc.rename($"{d}/s", $"{d}/a")); }),
        ("rename a file over a directory = EISDIR", d => { Mk(d, "s"); Touch(d, "a"); return Err(Libc.rename($"{d}/a", $"{d}/s")); }),
        ("rename a directory into its own subtree = EINVAL", d => { Mk(d, "s"); Mk(d, "s/t"); return Err(Libc.rename($"{d}/s", $"{d}/s/t/u")); }),
        ("rename of a missing name = ENOENT", d => Err(Libc.rename($"{d}/none", $"{d}/b"))),
        ("rename between directories moves nlink", d => { Mk(d, "s"); Mk(d, "t"); Mk(d, "s/u"); Err(Libc.rename($"{d}/s/u", $"{d}/t/u")); return $"{StatOf($"{d}/s").Nlink} {StatOf($"{d}/t").Nlink}"; }),
        ("rename onto another hard link of the same file does nothing", d => { Touch(d, "a"); Libc.link($"{d}/a", $"{d}/b"); return $"{Err(Libc.rename($"{d}/a", $"{d}/b"))} {Exists($"{d}/a")} {Exists($"{d}/b")}"; }),
        ("renameat2 RENAME_NOREPLACE onto an existing name = EEXIST", d => { Touch(d, "a"); Touch(d, "b"); return Err(Libc.renameat2(Libc.AtFdCwd, $"{d}/a", Libc.AtFdCwd, $"{d}/b", RenameNoReplace)); }),
        ("renameat2 RENAME_NOREPLACE onto a new name", d => { Touch(d, "a"); return $"{Err(Libc.renameat2(Libc.AtFdCwd, $"{d}/a", Libc.AtFdCwd, $"{d}/b", RenameNoReplace))} {Exists($"{d}/a")} {Exists($"{d}/b")}"; }),
        ("renameat2 RENAME_EXCHANGE of a file and a directory", d => { Touch(d, "a"); Mk(d, "s"); return $"{Err(Libc.renameat2(Libc.AtFdCwd, $"{d}/a", Libc.AtFdCwd, $"{d}/s", RenameExchange))} {Directory.Exists($"{d}/a")} {File.Exists($"{d}/s")}"; }),
        ("renameat2 RENAME_EXCHANGE with a missing target = ENOENT", d => { Touch(d, "a"); return Err(Libc.renameat2(Libc.AtFdCwd, $"{d}/a", Libc.AtFdCwd, $"{d}/b", RenameExchange)); }),
        ("renameat2 with both NOREPLACE and EXCHANGE = EINVAL", d => { Touch(d, "a"); Touch(d, "b"); return Err(Libc.renameat2(Libc.AtFdCwd, $"{d}/a", Libc.AtFdCwd, $"{d}/b", RenameExchange | RenameNoReplace)); }),

        // link / symlink / readlink
        ("link to a directory = EPERM", d => { Mk(d, "s"); return Err(Libc.link($"{d}/s", $"{d}/t")); }),
        ("link: same inode, nlink 2 on both names", d => { Touch(d, "a"); string r = Err(Libc.link($"{d}/a", $"{d}/b")); return $"{r} {StatOf($"{d}/a").Nlink} {StatOf($"{d}/b").Nlink} {StatOf($"{d}/a").Ino == StatOf($"{d}/b").Ino}"; }),
        ("link then unlink one name: nlink 1 on the other", d => { Touch(d, "a"); Libc.link($"{d}/a", $"{d}/b"); Libc.unlink($"{d}/a"); return $"{StatOf($"{d}/b").Nlink}"; }),
        ("link onto an existing name = EEXIST", d => { Touch(d, "a"); Touch(d, "b"); return Err(Libc.link($"{d}/a", $"{d}/b")); }),
        ("symlink and readlink", d => $"{Err(Libc.symlink("some/where/../x", $"{d}/l"))} {ReadLink($"{d}/l")} {Oct(LStatOf($"{d}/l").Mode & 0xF000)} {LStatOf($"{d}/l").Size}"),
        ("a dangling symlink: lstat works, stat = ENOENT", d => { Libc.symlink("nowhere", $"{d}/l"); return $"{Oct(LStatOf($"{d}/l").Mode & 0xF000)} {Err(Libc.stat($"{d}/l", out _))}"; }),
        ("a symlink to a file resolves", d => { Touch(d, "a"); Libc.symlink("a", $"{d}/l"); return $"{Oct(StatOf($"{d}/l").Mode)} {StatOf($"{d}/l").Ino == StatOf($"{d}/a").Ino}"; }),
        ("symlink onto an existing name = EEXIST", d => { Touch(d, "a"); return Err(Libc.symlink("x", $"{d}/a")); }),
        ("readlink of a file = EINVAL", d => { Touch(d, "a"); return ReadLink($"{d}/a"); }),

        // mknod
        ("mknod of a FIFO", d => $"{Err(Libc.mknod($"{d}/f", SIfIfo | 0x1A4, 0))} {Oct(LStatOf($"{d}/f").Mode)}"),
        ("mknod of a socket", d => $"{Err(Libc.mknod($"{d}/f", SIfSock | 0x1A4, 0))} {Oct(LStatOf($"{d}/f").Mode)}"),
        ("mknod of a regular file", d => $"{Err(Libc.mknod($"{d}/f", SIfReg | 0x1A4, 0))} {Oct(LStatOf($"{d}/f").Mode)} {LStatOf($"{d}/f").Size}"),
        ("mknod of a character device: type and numbers", d => $"{Err(Libc.mknod($"{d}/c", SIfChr | 0x1B6, MakeDev(1, 3)))} {Node(LStatOf($"{d}/c"))}"),
        ("mknod of a block device with numbers beyond 8 bits", d => $"{Err(Libc.mknod($"{d}/b", SIfBlk | 0x1B0, MakeDev(259, 70_000)))} {Node(LStatOf($"{d}/b"))}"),
        ("mknod of a FIFO with a device number keeps none", d => $"{Err(Libc.mknod($"{d}/f", SIfIfo | 0x1A4, MakeDev(1, 3)))} {Node(LStatOf($"{d}/f"))}"),
        ("mknod of a device onto an existing name = EEXIST", d => { Touch(d, "a"); return Err(Libc.mknod($"{d}/a", SIfChr | 0x1A4, MakeDev(1, 3))); }),
        ("a device node by a user without CAP_MKNOD = EPERM", d => { Mk(d, "s", 0x1FF); Libc.chmod($"{d}/s", 0x1FF); return AsNobody("mknod", $"{d}/s/c", "c", "1", "3"); }),
        ("a 0:0 character device (a whiteout) by any user", d => { Mk(d, "s", 0x1FF); Libc.chmod($"{d}/s", 0x1FF); string r = AsNobody("mknod", $"{d}/s/w", "c", "0", "0"); return $"{r} {(Exists($"{d}/s/w") ? Node(LStatOf($"{d}/s/w")) : "-")}"; }),
        ("chmod, chown, link and rename of a device node keep its numbers", d => DeviceChanges(d)),

        // chmod / chown / utimensat
        ("chmod 0751", d => { Touch(d, "a"); return $"{Err(Libc.chmod($"{d}/a", 0x1E9))} {Oct(StatOf($"{d}/a").Mode)}"; }),
        ("chmod 04755 and 01777 on a directory", d => { Touch(d, "a"); Mk(d, "s"); Libc.chmod($"{d}/a", 0x9ED); Libc.chmod($"{d}/s", 0x3FF); return $"{Oct(StatOf($"{d}/a").Mode)} {Oct(StatOf($"{d}/s").Mode)}"; }),
        ("chmod through a symlink changes its target", d => { Touch(d, "a"); Libc.symlink("a", $"{d}/l"); Libc.chmod($"{d}/l", 0x180); return $"{Oct(StatOf($"{d}/a").Mode)} {Oct(LStatOf($"{d}/l").Mode)}"; }),
        ("chown 1234:5678", d => { Touch(d, "a"); return $"{Err(Libc.lchown($"{d}/a", 1234, 5678))} {StatOf($"{d}/a").Uid}:{StatOf($"{d}/a").Gid}"; }),
        ("lchown of a symlink changes the link, not its target", d => { Touch(d, "a"); Libc.symlink("a", $"{d}/l"); Libc.lchown($"{d}/l", 42, 43); return $"{LStatOf($"{d}/l").Uid} {StatOf($"{d}/a").Uid}"; }),
        ("utimensat with nanoseconds", d => { Touch(d, "a"); string r = Utimes($"{d}/a", (1_000_000_001, 123_456_789), (1_500_000_000, 987_654_321)); var s = StatOf($"{d}/a"); return $"{r} {s.Atime} {s.Mtime}"; }),
        ("utimensat UTIME_OMIT keeps atime", d => { Touch(d, "a"); Utimes($"{d}/a", (1_000_000_000, 5), (1_000_000_000, 5)); Utimes($"{d}/a", (0, UtimeOmit), (1_200_000_000, 7)); var s = StatOf($"{d}/a"); return $"{s.Atime} {s.Mtime}"; }),
        ("utimensat UTIME_NOW sets both to now", d => { Touch(d, "a"); Utimes($"{d}/a", (1_000_000_000, 0), (1_000_000_000, 0)); Utimes($"{d}/a", (0, UtimeNow), (0, UtimeNow)); var s = StatOf($"{d}/a"); return $"{IsRecent(s.Atime)} {IsRecent(s.Mtime)}"; }),
        ("utimensat of a symlink with AT_SYMLINK_NOFOLLOW", d => { Touch(d, "a"); Libc.symlink("a", $"{d}/l"); string r = Utimes($"{d}/l", (1_100_000_000, 1), (1_100_000_000, 2), noFollow: true); return $"{r} {LStatOf($"{d}/l").Mtime} {StatOf($"{d}/a").Mtime != LStatOf($"{d}/l").Mtime}"; }),
        ("[data] futimens on an open file with unwritten data: the set times survive close", d => TimesBeforeClose($"{d}/a")),
        ("chmod changes ctime", d => { Touch(d, "a"); long before = StatOf($"{d}/a").Ctime; WaitForClockTick(); Libc.chmod($"{d}/a", 0x180); return $"{StatOf($"{d}/a").Ctime > before}"; }),
        ("rename changes the moved file's ctime", d => { Touch(d, "a"); long before = StatOf($"{d}/a").Ctime; WaitForClockTick(); Libc.rename($"{d}/a", $"{d}/b"); return $"{StatOf($"{d}/b").Ctime > before}"; }),
        ("link changes ctime", d => { Touch(d, "a"); long before = StatOf($"{d}/a").Ctime; WaitForClockTick(); Libc.link($"{d}/a", $"{d}/b"); return $"{StatOf($"{d}/a").Ctime > before}"; }),
        ("mkdir changes the parent's mtime", d => { Mk(d, "s"); long before = StatOf($"{d}/s").Mtime; WaitForClockTick(); Mk(d, "s/t"); return $"{StatOf($"{d}/s").Mtime > before}"; }),

        // truncate
        ("[data] truncate grows and shrinks", d => { WriteFile($"{d}/a", "0123456789", 0x1A4); string r = Err(Libc.truncate($"{d}/a", 100)); long grown = StatOf($"{d}/a").Size; Libc.truncate($"{d}/a", 4); return $"{r} {grown} {StatOf($"{d}/a").Size} {File.ReadAllText($"{d}/a")}"; }),
        ("[data] ftruncate of an open file", d => FTruncate($"{d}/a")),
        ("truncate of an empty file to 3 bytes reads zeros", d => { Touch(d, "a"); string r = Err(Libc.truncate($"{d}/a", 3)); return $"{r} {StatOf($"{d}/a").Size} {Convert.ToHexString(File.ReadAllBytes($"{d}/a"))}"; }),
        ("truncate of a directory = EISDIR", d => { Mk(d, "s"); return Err(Libc.truncate($"{d}/s", 0)); }),

        // sticky directories (the kernel checks them with default_permissions)
        ("sticky: another user cannot unlink my file = EPERM", d => { Mk(d, "s", 0x3FF); Libc.chmod($"{d}/s", 0x3FF); Touch(d, "s/a"); return AsNobody("unlink", $"{d}/s/a"); }),
        ("sticky: another user cannot rename my file = EPERM", d => { Mk(d, "s", 0x3FF); Libc.chmod($"{d}/s", 0x3FF); Touch(d, "s/a"); return AsNobody("mv", $"{d}/s/a", $"{d}/s/b"); }),
        ("sticky: a user can unlink its own file", d => { Mk(d, "s", 0x3FF); Libc.chmod($"{d}/s", 0x3FF); AsNobody("mkfifo", $"{d}/s/f"); return $"{LStatOf($"{d}/s/f").Uid} {AsNobody("unlink", $"{d}/s/f")}"; }),
        ("not sticky: another user can unlink my file", d => { Mk(d, "s", 0x1FF); Libc.chmod($"{d}/s", 0x1FF); Touch(d, "s/a"); return AsNobody("unlink", $"{d}/s/a"); }),
        ("a new node belongs to its creator", d => { Mk(d, "s", 0x1FF); Libc.chmod($"{d}/s", 0x1FF); AsNobody("mkdir", $"{d}/s/t"); var s = StatOf($"{d}/s/t"); return $"{s.Uid}:{s.Gid} {Oct(s.Mode)}"; }),
        ("without write permission mkdir = EACCES", d => { Mk(d, "s", 0x1ED); Libc.chmod($"{d}/s", 0x1ED); return AsNobody("mkdir", $"{d}/s/t"); }),

        // xattrs (directories keep theirs in the directory service, regular files in their content's metadata)
        ("setxattr XATTR_CREATE twice = EEXIST", d => { Mk(d, "s"); SetX($"{d}/s", "user.k", "v", XattrCreate); return SetX($"{d}/s", "user.k", "w", XattrCreate); }),
        ("setxattr XATTR_REPLACE of a missing name = ENODATA", d => { Mk(d, "s"); return SetX($"{d}/s", "user.k", "v", XattrReplace); }),
        ("getxattr of a missing name = ENODATA", d => { Mk(d, "s"); return GetX($"{d}/s", "user.none", 100); }),
        ("getxattr size probe and ERANGE", d => { Mk(d, "s"); SetX($"{d}/s", "user.k", "value", 0); return $"{GetX($"{d}/s", "user.k", 0)} {GetX($"{d}/s", "user.k", 2)} {GetX($"{d}/s", "user.k", 100)}"; }),
        ("removexattr, then getxattr = ENODATA", d => { Mk(d, "s"); SetX($"{d}/s", "user.k", "v", 0); return $"{Err(Libc.removexattr($"{d}/s", "user.k"))} {GetX($"{d}/s", "user.k", 10)} {Err(Libc.removexattr($"{d}/s", "user.k"))}"; }),
        ("listxattr of a directory", d => { Mk(d, "s"); SetX($"{d}/s", "user.b", "1", 0); SetX($"{d}/s", "user.a", "2", 0); return ListX($"{d}/s"); }),
        ("user.* on a symlink = EPERM", d => { Libc.symlink("x", $"{d}/l"); return Err(Libc.lsetxattr($"{d}/l", "user.k", "v"u8.ToArray(), 1, 0)); }),
        ("user.* on a FIFO = EPERM", d => { Libc.mknod($"{d}/f", SIfIfo | 0x1A4, 0); return Err(Libc.lsetxattr($"{d}/f", "user.k", "v"u8.ToArray(), 1, 0)); }),
        ("setxattr and removexattr change a directory's ctime, not its mtime", d => { Mk(d, "s"); return XattrStampsCtime($"{d}/s"); }),
        ("[data] setxattr and removexattr change a file's ctime, not its mtime", d => { WriteFile($"{d}/a", "content", 0x1A4); return XattrStampsCtime($"{d}/a"); }),
        ("[data] setxattr and removexattr change an empty file's ctime, not its mtime", d => { Touch(d, "a"); return XattrStampsCtime($"{d}/a"); }),
        ("[data] xattrs of an empty regular file", d => { Touch(d, "a"); return $"{SetX($"{d}/a", "user.k", "v", XattrCreate)} {GetX($"{d}/a", "user.k", 10)} {SetX($"{d}/a", "user.k", "w", XattrCreate)} {ListX($"{d}/a")}"; }),
    ];

    /// <summary>Where the mount answers differently from ext4 on purpose: case → the mount's answer, and why.</summary>
    private static readonly Dictionary<string, string> KnownDifferences = new(StringComparer.Ordinal)
    {
    };

    public static IEnumerable<object[]> CaseNames => Cases.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Behaves_as_ext4(string name)
    {
        var run = Cases.Single(c => c.Name == name).Run;
        string dir = Guid.NewGuid().ToString("N")[..8];
        string local = Path.Combine(fixture.LocalRoot, dir);
        string mounted = Path.Combine(fixture.MountRoot, dir);
        Directory.CreateDirectory(local);
        Directory.CreateDirectory(mounted);
        string ext4 = Run(run, local);
        string mount = Run(run, mounted);
        output.WriteLine($"ext4: {ext4}\nmount: {mount}");
        string expected = KnownDifferences.GetValueOrDefault(name, ext4);
        Assert.True(expected == mount, $"{name}: ext4 gave \"{ext4}\", mount gave \"{mount}\"");
    }

    [Fact]
    public async Task A_named_files_user_xattrs_are_its_contents_FastDFS_metadata()
    {
        string path = Path.Combine(fixture.MountRoot, "meta-" + Guid.NewGuid().ToString("N")[..8]);
        WriteFile(path, "content with metadata", 0x1A4);
        Assert.Equal("0", SetX(path, "user.author", "alice", XattrCreate));
        string fileId = GetX(path, "system.fdfs.file_id", 256);
        Assert.StartsWith("group1/M00/", fileId, StringComparison.Ordinal);

        // Any FastDFS client sees the attribute as the content file's metadata, and changes it the other way round.
        await using var client = fixture.Cluster.CreateClient();
        var id = FastDfs.Protocol.FileId.Parse(fileId);
        Assert.Equal("alice", (await client.GetMetadataAsync(id))["author"]);
        await client.SetMetadataAsync(id, new Dictionary<string, string> { ["reviewer"] = "bob" }, FastDfs.Protocol.MetadataFlag.Merge);
        await MountProcess.WaitUntilAsync(() => GetX(path, "user.reviewer", 64) == "bob", TimeSpan.FromSeconds(10), "the client's metadata to show as an xattr");
        Assert.Equal("user.author,user.reviewer", ListX(path));
    }

    [Fact]
    public void A_directory_and_an_empty_file_have_no_file_id()
    {
        string dir = Path.Combine(fixture.MountRoot, "noid-" + Guid.NewGuid().ToString("N")[..8]);
        Mk(fixture.MountRoot, Path.GetFileName(dir));
        Touch(dir, "empty");
        Assert.Equal("ENODATA", GetX(dir, "system.fdfs.file_id", 256));
        Assert.Equal("ENODATA", GetX($"{dir}/empty", "system.fdfs.file_id", 256));
        Assert.Equal("EPERM", SetX($"{dir}/empty", "system.fdfs.file_id", "x", 0));
        Assert.Equal(string.Empty, ListX($"{dir}/empty"));
    }

    [Fact]
    public async Task Df_counts_the_named_trees_inodes()
    {
        string dir = Path.Combine(fixture.MountRoot, "df-" + Guid.NewGuid().ToString("N")[..8]);
        Mk(fixture.MountRoot, Path.GetFileName(dir));
        var (exitCode, output, error) = await Tools.RunAsync("df", "--output=itotal,iused,iavail", fixture.Mount.MountPoint);
        Assert.True(exitCode == 0, error);
        long[] counts = output.Split('\n')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray();
        Assert.True(counts[1] >= 3, $"df -i: {output}"); // the group root, the suite's directory and this one at least
        Assert.True(counts[2] > 0 && counts[0] == counts[1] + counts[2], $"df -i: {output}");
    }

    [Fact]
    public async Task Rename_across_groups_is_EXDEV_and_mv_copies_instead()
    {
        string name = "xdev-" + Guid.NewGuid().ToString("N")[..8];
        string source = Path.Combine(fixture.MountRoot, name);
        string target = fixture.Mount.PathOf("group2/" + name);
        await MountProcess.WaitUntilAsync(() => Directory.Exists(fixture.Mount.PathOf("group2")), TimeSpan.FromSeconds(20), "group2");
        WriteFile(source, "moving between groups", 0x1A4);
        Assert.Equal("EXDEV", Err(Libc.rename(source, target)));
        Assert.Equal("EXDEV", Err(Libc.link(source, target)));

        var (exitCode, _, error) = await Tools.RunAsync("mv", source, target);
        Assert.True(exitCode == 0, error);
        Assert.False(Exists(source));
        Assert.Equal("moving between groups", await File.ReadAllTextAsync(target));
        Assert.StartsWith("group2/", GetX(target, "system.fdfs.file_id", 256), StringComparison.Ordinal);
        File.Delete(target);
    }

    [Fact]
    public void A_group_top_level_keeps_its_store_paths()
    {
        string group = fixture.Mount.PathOf("group1");
        Assert.Equal("EEXIST", Err(Libc.mkdir($"{group}/M00", 0x1ED))); // M00 is the file-ID path, not a user name
        Assert.Equal("EPERM", Err(Libc.rename(fixture.MountRoot, $"{group}/M01")));
        Assert.Equal("EPERM", Err(Libc.mkdir(fixture.Mount.PathOf("newgroup"), 0x1ED))); // groups come from the trackers
    }

    [Fact]
    public async Task Device_nodes_are_kept_by_the_directory_service_and_a_second_mount_sees_them()
    {
        string name = "dev-" + Guid.NewGuid().ToString("N")[..8];
        string dir = Path.Combine(fixture.MountRoot, name);
        string local = Path.Combine(fixture.LocalRoot, name);
        Mk(fixture.MountRoot, name);
        Check(Libc.chmod(dir, 0x1FF), "chmod");
        Directory.CreateDirectory(local);
        Check(Libc.mknod($"{dir}/null", SIfChr | 0x1B6, MakeDev(1, 3)), "mknod null");
        Check(Libc.mknod($"{dir}/sda1", SIfBlk | 0x1B0, MakeDev(8, 1)), "mknod sda1");
        Check(Libc.mknod($"{dir}/fifo", SIfIfo | 0x1A4, 0), "mknod fifo");
        Check(Libc.mknod($"{dir}/file", SIfReg | 0x1A4, 0), "mknod file");

        // cp -a of a /dev/zero-like node made on ext4 (the sandbox's own /dev may not hold real devices).
        Check(Libc.mknod($"{local}/zero", SIfChr | 0x1B6, MakeDev(1, 5)), "mknod zero on ext4");
        var copied = await Tools.RunAsync("cp", "-a", $"{local}/zero", $"{dir}/zero");
        Assert.True(copied.ExitCode == 0, copied.Error);

        // stat's %t and %T are major and minor in hex.
        string[] expected =
        [
            "null 1 3 character special file",
            "sda1 8 1 block special file",
            "fifo 0 0 fifo",
            "file 0 0 regular empty file",
            "zero 1 5 character special file",
        ];
        async Task<string[]> StatAsync(string where)
        {
            string[] paths = [.. expected.Select(e => Path.Combine(where, e.Split(' ')[0]))];
            var (exitCode, text, error) = await Tools.RunAsync("stat", ["-c", "%n %t %T %F", .. paths]);
            Assert.True(exitCode == 0, error);
            return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[(where.Length + 1)..])];
        }

        Assert.Equal(expected, await StatAsync(dir));

        // A second mount has nothing cached: what it shows comes from the directory service. It runs without
        // default_permissions, so the mount checks nothing itself: CAP_MKNOD is still the kernel's question before the
        // mount hears of a device (EPERM as on ext4), while a 0:0 whiteout needs no privilege (as on ext4).
        await using var second = await MountProcess.StartAsync(
            fixture.Cluster.TrackerEndpoint, "names=on,allow_other,auto_unmount,attr_timeout=0.1,entry_timeout=0.1,negative_timeout=0,timeout=15");
        string there = second.PathOf($"group1/{Path.GetFileName(fixture.MountRoot)}/{name}");
        Assert.Equal(expected, await StatAsync(there));
        Assert.Equal("EPERM", AsNobody("mknod", $"{there}/tty", "c", "5", "0"));
        Assert.False(Exists($"{there}/tty"));
        Assert.Equal("0", AsNobody("mknod", $"{there}/whiteout", "c", "0", "0"));
        var whiteout = LStatOf($"{dir}/whiteout");
        Assert.Equal((SIfChr, 0UL, 65534u), (whiteout.Mode & 0xF000, whiteout.Rdev, whiteout.Uid));

        // Removing a device node removes the name only.
        Assert.Equal("0", Err(Libc.unlink($"{there}/null")));
        await MountProcess.WaitUntilAsync(() => !Exists($"{dir}/null"), TimeSpan.FromSeconds(10), "the first mount to miss the unlinked node");
        Assert.Equal(0, (await Tools.RunAsync("rm", "-rf", dir)).ExitCode);
    }

    [Fact]
    public async Task Ls_l_of_a_large_directory_shows_every_entrys_attributes()
    {
        const int Count = 3000;
        string name = "big-" + Guid.NewGuid().ToString("N")[..8];
        string dir = Path.Combine(fixture.MountRoot, name);
        Mk(fixture.MountRoot, name);

        // Entries made straight in the directory service: the mount has never looked any of them up.
        await using var names = new FastDfs.Client.NamespaceClient(FastDfs.Client.FastDfsClientOptions.FromTrackers([fixture.Cluster.TrackerEndpoint]));
        var root = await names.GetRootAsync("group1");
        var suite = await names.LookupAsync(root.Inode, Path.GetFileName(fixture.MountRoot));
        var parent = await names.LookupAsync(suite.Inode, name);
        await Parallel.ForAsync(0, Count, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
            await names.CreateAsync(parent.Inode, $"f{i:D5}", SIfReg | 0x1A4, (uint)(1000 + (i % 7)), 100, null, 0, ct));

        for (int pass = 0; pass < 2; pass++)
        {
            var (exitCode, output, error) = await Tools.RunAsync("ls", "-ln", dir);
            Assert.True(exitCode == 0, error);
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToList(); // "total N"
            Assert.Equal(Count, lines.Count);
            foreach (string line in lines)
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                int i = int.Parse(f[^1][1..], System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal(("-rw-r--r--", (1000 + (i % 7)).ToString(System.Globalization.CultureInfo.InvariantCulture), "100"), (f[0], f[2], f[3]));
            }
        }

        Assert.Equal(0, (await Tools.RunAsync("rm", "-rf", dir)).ExitCode);
        Assert.False(Directory.Exists(dir));
    }

    /// <summary>
    /// Names and a symlink target in Latin-1 (not UTF-8) keep their bytes: readdir gives them back as made, rename and
    /// reads work on them, and a second mount of the same tree sees the same bytes.
    /// </summary>
    [Fact]
    public async Task Latin1_names_keep_their_bytes_through_readdir_rename_and_a_remount()
    {
        string name = "latin1-" + Guid.NewGuid().ToString("N")[..8];
        string dir = Path.Combine(fixture.MountRoot, name);
        Mk(fixture.MountRoot, name);
        byte[] cafe = [0x63, 0x61, 0x66, 0xE9, 0x2E, 0x74, 0x78, 0x74]; //  "café.txt" in Latin-1
        byte[] resume = [0x72, 0xE9, 0x73, 0x75, 0x6D, 0xE9]; //            "résumé"
        byte[] link = [0x6C, 0xFF]; //                                      "l\xff"
        byte[] target = [0x2E, 0x2F, .. resume]; //                         "./résumé"
        byte[] sibling = "\uFFFDX"u8.ToArray(); //                          what lossy decoding made of "\xffX"
        byte[] ffx = [0xFF, 0x58];
        byte[] content = "bytes for bytes"u8.ToArray();
        await using var client = new FastDfs.Client.NamespaceClient(FastDfs.Client.FastDfsClientOptions.FromTrackers([fixture.Cluster.TrackerEndpoint]));
        try
        {
            int fd = Libc.open(PathBytes(dir, cafe), OCreat | OExcl | OWrOnly, 0x1A4);
            Check(fd < 0 ? -1 : 0, "create café");
            Assert.Equal(content.Length, Libc.write(fd, content, (nuint)content.Length));
            Check(Libc.close(fd), "close");
            Check(Libc.mknod(Path.Combine(dir, "\uFFFDX"), SIfReg | 0x1A4, 0), "mknod U+FFFD X");
            Check(Libc.mknod(PathBytes(dir, ffx), SIfReg | 0x1A4, 0), "mknod \\xffX");
            Assert.Equal(Sorted(cafe, sibling, ffx), ListNames(dir));

            // The directory service holds the bytes the kernel passed, not a decoded form.
            var root = await client.GetRootAsync("group1");
            var suite = await client.LookupAsync(root.Inode, Path.GetFileName(fixture.MountRoot));
            var parent = await client.LookupAsync(suite.Inode, name);
            var page = await client.ReadDirAsync(parent.Inode);
            Assert.Equal(Sorted(cafe, sibling, ffx), Sorted([.. page.Entries.Select(e => FastDfs.Protocol.FileNameCodec.Encode(e.Name))]));

            Check(Libc.rename(PathBytes(dir, cafe), PathBytes(dir, resume)), "rename café résumé");
            Check(Libc.unlink(PathBytes(dir, ffx)), "unlink \\xffX");
            Check(Libc.symlink(target, PathBytes(dir, link)), "symlink");
            Assert.Equal(Sorted(resume, sibling, link), ListNames(dir));
            Assert.Equal(Hex(content), Hex(ReadAll(PathBytes(dir, resume))));
            Assert.Equal(Hex(target), Hex(ReadLink(PathBytes(dir, link))));
            Assert.Equal(Hex(content), Hex(ReadAll(PathBytes(dir, link)))); // through the symlink: the target resolves
            Assert.Equal(-1, Libc.open(PathBytes(dir, cafe), 0, 0));
            Assert.Equal("ENOENT", ErrnoName(Marshal.GetLastPInvokeError()));

            // A second mount of the same tree knows nothing cached: it reads every name from the directory service.
            await using (var again = await MountProcess.StartAsync(fixture.Cluster.TrackerEndpoint, "names=on,auto_unmount,timeout=15"))
            {
                string there = again.PathOf(Path.Combine("group1", Path.GetFileName(fixture.MountRoot), name));
                Assert.Equal(Sorted(resume, sibling, link), ListNames(there));
                Assert.Equal(Hex(content), Hex(ReadAll(PathBytes(there, resume))));
                Assert.Equal(Hex(target), Hex(ReadLink(PathBytes(there, link))));
            }
        }
        finally
        {
            // .NET cannot name these files, so its recursive delete could not remove the directory.
            foreach (byte[] n in new[] { cafe, resume, link, ffx, sibling })
            {
                Libc.unlink(PathBytes(dir, n));
            }

            Libc.rmdir(dir);
        }

        Assert.False(Directory.Exists(dir));
    }

    private static byte[] PathBytes(string dir, byte[] name) => [.. Encoding.UTF8.GetBytes(dir + "/"), .. name, 0];

    private static string Hex(byte[] bytes) => Convert.ToHexString(bytes);

    private static List<string> Sorted(params byte[][] names) => names.Select(Hex).Order(StringComparer.Ordinal).ToList();

    /// <summary>A directory's names as readdir returns them (hex), without "." and "..".</summary>
    private static unsafe List<string> ListNames(string dir)
    {
        nint stream = Libc.opendir(PathBytes(dir, []));
        Check(stream == 0 ? -1 : 0, "opendir " + dir);
        var names = new List<byte[]>();
        try
        {
            for (nint entry; (entry = Libc.readdir(stream)) != 0;)
            {
                // struct dirent: d_ino 8, d_off 8, d_reclen 2, d_type 1, then d_name (NUL-terminated).
                var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated((byte*)entry + 19);
                if (!name.SequenceEqual("."u8) && !name.SequenceEqual(".."u8))
                {
                    names.Add(name.ToArray());
                }
            }
        }
        finally
        {
            Libc.closedir(stream);
        }

        return Sorted([.. names]);
    }

    private static byte[] ReadAll(byte[] path)
    {
        int fd = Libc.open(path, 0, 0);
        Check(fd < 0 ? -1 : 0, "open for reading");
        try
        {
            byte[] buffer = new byte[4096];
            long n = Libc.pread(fd, buffer, (nuint)buffer.Length, 0);
            Check(n < 0 ? -1 : 0, "pread");
            return buffer[..(int)n];
        }
        finally
        {
            Libc.close(fd);
        }
    }

    private static byte[] ReadLink(byte[] path)
    {
        byte[] buffer = new byte[4096];
        long n = Libc.readlink(path, buffer, (nuint)buffer.Length);
        Check(n < 0 ? -1 : 0, "readlink");
        return buffer[..(int)n];
    }

    private static string Run(Func<string, string> run, string dir)
    {
        try
        {
            return run(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return e.GetType().Name + ": " + e.Message.Replace(dir, "<d>", StringComparison.Ordinal);
        }
    }

    // ------------------------------------------------------------------ helpers

    private static string Err(int rc) => rc == 0 ? "0" : ErrnoName(Marshal.GetLastPInvokeError());

    private static string ErrnoName(int errno) => errno switch
    {
        1 => "EPERM",
        2 => "ENOENT",
        5 => "EIO",
        7 => "E2BIG",
        9 => "EBADF",
        13 => "EACCES",
        17 => "EEXIST",
        18 => "EXDEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        27 => "EFBIG",
        28 => "ENOSPC",
        30 => "EROFS",
        34 => "ERANGE",
        36 => "ENAMETOOLONG",
        38 => "ENOSYS",
        39 => "ENOTEMPTY",
        61 => "ENODATA",
        95 => "EOPNOTSUPP",
        _ => "errno " + errno,
    };

    private static string Oct(uint mode) => Convert.ToString(mode, 8);

    /// <summary>glibc's makedev: the 64-bit dev_t mknod(2) takes.</summary>
    private static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xFFF) << 8) | ((ulong)(major & ~0xFFFu) << 32) | (minor & 0xFFu) | ((ulong)(minor & ~0xFFu) << 12);

    /// <summary>A node's type and permission bits and its device numbers as major:minor (glibc's major() and minor()).</summary>
    private static string Node(Libc.StatBuf s)
    {
        ulong major = ((s.Rdev >> 8) & 0xFFF) | ((s.Rdev >> 32) & ~0xFFFUL);
        ulong minor = (s.Rdev & 0xFF) | ((s.Rdev >> 12) & ~0xFFUL);
        return $"{Oct(s.Mode)} {major}:{minor} size={s.Size}";
    }

    private static string DeviceChanges(string d)
    {
        Check(Libc.mknod($"{d}/c", SIfChr | 0x1A4, MakeDev(4, 64)), "mknod");
        string chmod = Err(Libc.chmod($"{d}/c", 0x180));
        string chown = Err(Libc.lchown($"{d}/c", 42, 43));
        string link = Err(Libc.link($"{d}/c", $"{d}/l"));
        string rename = Err(Libc.rename($"{d}/c", $"{d}/r"));
        var s = LStatOf($"{d}/r");
        return $"{chmod} {chown} {link} {rename} {Node(s)} {s.Uid}:{s.Gid} nlink={s.Nlink} {Node(LStatOf($"{d}/l"))}";
    }

    private static bool Exists(string path) => Libc.lstat(path, out _) == 0;

    private static Libc.StatBuf StatOf(string path) =>
        Libc.stat(path, out var s) == 0 ? s : throw new InvalidOperationException($"stat {path}: {ErrnoName(Marshal.GetLastPInvokeError())}");

    private static Libc.StatBuf LStatOf(string path) =>
        Libc.lstat(path, out var s) == 0 ? s : throw new InvalidOperationException($"lstat {path}: {ErrnoName(Marshal.GetLastPInvokeError())}");

    /// <summary>An empty regular file without the data path (mknod S_IFREG).</summary>
    private static void Touch(string dir, string name) => Check(Libc.mknod($"{dir}/{name}", SIfReg | 0x1A4, 0), "mknod " + name);

    private static void Mk(string dir, string name, uint mode = 0x1ED) => Check(Libc.mkdir($"{dir}/{name}", mode), "mkdir " + name);

    private static void Check(int rc, string what)
    {
        if (rc != 0)
        {
            throw new InvalidOperationException($"{what}: {ErrnoName(Marshal.GetLastPInvokeError())}");
        }
    }

    private static string OpenClose(string path, int flags)
    {
        int fd = Libc.open(path, flags, 0x1A4);
        if (fd < 0)
        {
            return ErrnoName(Marshal.GetLastPInvokeError());
        }

        Libc.close(fd);
        return "0";
    }

    private static void WriteFile(string path, string text, uint mode)
    {
        int fd = Libc.open(path, OCreat | OWrOnly, mode);
        Check(fd < 0 ? -1 : 0, "open " + path);
        byte[] data = Encoding.UTF8.GetBytes(text);
        long written = Libc.write(fd, data, (nuint)data.Length);
        Check(Libc.close(fd), "close " + path);
        Check(written == data.Length ? 0 : -1, "write " + path);
    }

    private static string UnlinkWhileOpen(string d)
    {
        WriteFile($"{d}/a", "still here", 0x1A4);
        int fd = Libc.open($"{d}/a", 0, 0);
        Check(fd < 0 ? -1 : 0, "open");
        try
        {
            string unlinked = Err(Libc.unlink($"{d}/a"));
            byte[] buffer = new byte[64];
            long n = Libc.pread(fd, buffer, (nuint)buffer.Length, 0);
            string read = n < 0 ? ErrnoName(Marshal.GetLastPInvokeError()) : Encoding.UTF8.GetString(buffer, 0, (int)n);
            string nlink = Libc.fstat(fd, out var s) == 0 ? s.Nlink.ToString(System.Globalization.CultureInfo.InvariantCulture) : ErrnoName(Marshal.GetLastPInvokeError());
            return $"{unlinked} {read} nlink={nlink} {Exists($"{d}/a")}";
        }
        finally
        {
            Libc.close(fd);
        }
    }

    /// <summary>What stress-ng's copy-file, fsize and sync-file do: create, unlink, then size and write the open descriptor.</summary>
    private static string UnlinkedFileResized(string d)
    {
        int fd = Libc.open($"{d}/a", OCreat | ORdWr, 0x1A4);
        Check(fd < 0 ? -1 : 0, "open");
        try
        {
            Check(Libc.unlink($"{d}/a"), "unlink");
            string grown = Err(Libc.ftruncate(fd, 8192));
            string written = Libc.pwrite(fd, "abc"u8.ToArray(), 3, 100) == 3 ? "0" : ErrnoName(Marshal.GetLastPInvokeError());
            Check(Libc.fstat(fd, out var s), "fstat");
            byte[] buffer = new byte[5];
            long n = Libc.pread(fd, buffer, 5, 99);
            string shrunk = Err(Libc.ftruncate(fd, 101));
            Check(Libc.fstat(fd, out var after), "fstat");
            long tail = Libc.pread(fd, buffer, 5, 99);
            return $"{grown} {written} size={s.Size} nlink={s.Nlink} {Convert.ToHexString(buffer, 0, (int)Math.Max(n, 0))} {shrunk} size={after.Size} read={tail} {Exists($"{d}/a")}";
        }
        finally
        {
            Libc.close(fd);
        }
    }

    /// <summary>stress-ng's fallocate and file-ioctl: fallocate of an unlinked open file, then fstat.</summary>
    private static string UnlinkedFileAllocated(string d)
    {
        int fd = Libc.open($"{d}/a", OCreat | ORdWr, 0x1A4);
        Check(fd < 0 ? -1 : 0, "open");
        try
        {
            Check(Libc.unlink($"{d}/a"), "unlink");
            string allocated = Err(Libc.fallocate(fd, 0, 0, 65536));
            Check(Libc.fstat(fd, out var s), "fstat");
            string kept = Err(Libc.fallocate(fd, 1, 0, 1 << 20)); // FALLOC_FL_KEEP_SIZE
            Check(Libc.fstat(fd, out var after), "fstat");
            return $"{allocated} size={s.Size} {kept} size={after.Size}";
        }
        finally
        {
            Libc.close(fd);
        }
    }

    private static string UnlinkedFileAttributes(string d)
    {
        int fd = Libc.open($"{d}/a", OCreat | ORdWr, 0x1A4);
        Check(fd < 0 ? -1 : 0, "open");
        try
        {
            Check(Libc.write(fd, "data"u8.ToArray(), 4) == 4 ? 0 : -1, "write");
            Check(Libc.unlink($"{d}/a"), "unlink");
            string chmod = Err(Libc.fchmod(fd, 0x180));
            string chown = Err(Libc.fchown(fd, 1234, 5678));
            string times = Err(Libc.futimens(fd, [1_111_111_111, 111, 1_234_567_890, 500_000_000]));
            Check(Libc.fstat(fd, out var s), "fstat");
            return $"{chmod} {chown} {times} {Oct(s.Mode)} {s.Uid}:{s.Gid} {s.Atime} {s.Mtime} size={s.Size} nlink={s.Nlink}";
        }
        finally
        {
            Libc.close(fd);
        }
    }

    /// <summary>
    /// Byte 0xFF then 'X': not UTF-8. Beside it, the name a lossy decoding would turn it into (U+FFFD 'X'), which must
    /// stay a different name.
    /// </summary>
    private static string NotUtf8Name(string d)
    {
        Touch(d, "\uFFFDX");
        byte[] bad = [.. Encoding.UTF8.GetBytes(d + "/"), 0xFF, (byte)'X', 0];
        byte[] replacement = [.. Encoding.UTF8.GetBytes(d + "/\uFFFDX"), 0];
        int fd = Libc.open(bad, OCreat | OExcl | OWrOnly, 0x1A4);
        string create = fd >= 0 ? "0" : ErrnoName(Marshal.GetLastPInvokeError());
        Libc.close(fd);
        string mkdir = Err(Libc.mkdir(bad, 0x1ED));
        fd = Libc.open(bad, 0, 0);
        string open = fd >= 0 ? "0" : ErrnoName(Marshal.GetLastPInvokeError());
        Libc.close(fd);
        int before = Directory.GetFileSystemEntries(d).Length;
        string rename = Err(Libc.rename(replacement, bad));
        string result = $"{create} {mkdir} {open} {before} {rename} {Directory.GetFileSystemEntries(d).Length}";

        // .NET decodes such a name lossily and cannot delete it, so the test's recursive cleanup of the ext4 side would fail.
        Libc.unlink(bad);
        Libc.rmdir(bad);
        return result;
    }

    /// <summary>Names of 255 and 256 bytes 0xE9 (Latin-1 'é'); decoded lossily each byte would have become 3.</summary>
    private static string LongLatin1Names(string d)
    {
        byte[] fits = PathBytes(d, [.. Enumerable.Repeat((byte)0xE9, 255)]);
        byte[] tooLong = PathBytes(d, [.. Enumerable.Repeat((byte)0xE9, 256)]);
        string mkdir = Err(Libc.mkdir(fits, 0x1ED));
        string longer = Err(Libc.mkdir(tooLong, 0x1ED));
        int fd = Libc.open(tooLong, 0, 0);
        string open = fd >= 0 ? "0" : ErrnoName(Marshal.GetLastPInvokeError());
        Libc.close(fd);
        string result = $"{mkdir} {longer} {open} {Directory.GetFileSystemEntries(d).Length}";
        Libc.rmdir(fits);
        return result;
    }

    private static string FTruncate(string path)
    {
        WriteFile(path, "abcdef", 0x1A4);
        int fd = Libc.open(path, ORdWr, 0);
        Check(fd < 0 ? -1 : 0, "open");
        string r = Err(Libc.ftruncate(fd, 2));
        Libc.close(fd);
        return $"{r} {StatOf(path).Size} {File.ReadAllText(path)}";
    }

    private static string SetGidInheritance(string d)
    {
        Mk(d, "s");
        Check(Libc.lchown($"{d}/s", 0, 4321), "chown");
        Check(Libc.chmod($"{d}/s", 0x5FD), "chmod"); // 02775
        Mk(d, "s/t");
        Check(Libc.mknod($"{d}/s/f", SIfIfo | 0x1A4, 0), "mknod");
        Check(Libc.symlink("t", $"{d}/s/l"), "symlink");
        Check(Libc.mkdir($"{d}/u", 0x1ED), "mkdir outside");
        return $"{StatOf($"{d}/s/t").Gid} {Oct(StatOf($"{d}/s/t").Mode)} {LStatOf($"{d}/s/f").Gid} {LStatOf($"{d}/s/l").Gid} {StatOf($"{d}/u").Gid}";
    }

    private static string TimesBeforeClose(string path)
    {
        int fd = Libc.open(path, OCreat | OWrOnly, 0x1A4);
        Check(fd < 0 ? -1 : 0, "open");
        byte[] data = "written, then stamped"u8.ToArray();
        Libc.write(fd, data, (nuint)data.Length);
        string r = Err(Libc.futimens(fd, [1_111_111_111, 111, 1_234_567_890, 500_000_000]));
        Check(Libc.close(fd), "close");
        var s = StatOf(path);
        return $"{r} {s.Size} {s.Atime} {s.Mtime}";
    }

    private static string ReadLink(string path)
    {
        byte[] buffer = new byte[4096];
        long n = Libc.readlink(path, buffer, (nuint)buffer.Length);
        return n < 0 ? ErrnoName(Marshal.GetLastPInvokeError()) : Encoding.UTF8.GetString(buffer, 0, (int)n);
    }

    private static string Utimes(string path, (long Sec, long Nsec) atime, (long Sec, long Nsec) mtime, bool noFollow = false)
    {
        const int AtSymlinkNoFollow = 0x100;
        long[] times = [atime.Sec, atime.Nsec, mtime.Sec, mtime.Nsec];
        return Err(Libc.utimensat(Libc.AtFdCwd, path, times, noFollow ? AtSymlinkNoFollow : 0));
    }

    private static bool IsRecent(long ns) => Math.Abs((DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000) - ns) < 10_000_000_000;

    /// <summary>ext4's timestamps come from the kernel's coarse clock (one tick, up to 4 ms): wait until it moved.</summary>
    private static void WaitForClockTick() => Thread.Sleep(20);

    /// <summary>setxattr, then removexattr of user.k: whether each moved ctime forward and left mtime alone.</summary>
    private static string XattrStampsCtime(string path)
    {
        var before = StatOf(path);
        WaitForClockTick();
        string set = SetX(path, "user.k", "v", 0);
        var afterSet = StatOf(path);
        WaitForClockTick();
        string removed = Err(Libc.removexattr(path, "user.k"));
        var afterRemove = StatOf(path);
        return $"{set} {afterSet.Ctime > before.Ctime} {afterSet.Mtime == before.Mtime} " +
            $"{removed} {afterRemove.Ctime > afterSet.Ctime} {afterRemove.Mtime == before.Mtime}";
    }

    private static string SetX(string path, string name, string value, int flags)
    {
        byte[] v = Encoding.UTF8.GetBytes(value);
        return Err(Libc.setxattr(path, name, v, (nuint)v.Length, flags));
    }

    private static string GetX(string path, string name, int size)
    {
        byte[] buffer = new byte[Math.Max(size, 1)];
        long n = (long)Libc.getxattr(path, name, size == 0 ? null : buffer, (nuint)size);
        return n < 0 ? ErrnoName(Marshal.GetLastPInvokeError()) : size == 0 ? "len=" + n : Encoding.UTF8.GetString(buffer, 0, (int)n);
    }

    private static string ListX(string path)
    {
        byte[] buffer = new byte[4096];
        long n = (long)Libc.listxattr(path, buffer, (nuint)buffer.Length);
        if (n < 0)
        {
            return ErrnoName(Marshal.GetLastPInvokeError());
        }

        // Only user.* names: ext4 may list security.* names (SELinux) the mount does not keep.
        var names = Encoding.UTF8.GetString(buffer, 0, (int)n).Split('\0', StringSplitOptions.RemoveEmptyEntries).Where(x => x.StartsWith("user.", StringComparison.Ordinal));
        return string.Join(",", names.Order(StringComparer.Ordinal));
    }

    /// <summary>Runs a coreutils tool as uid/gid 65534 and answers "0" or the errno its message names.</summary>
    private static string AsNobody(string tool, params string[] args)
    {
        string[] all = ["--reuid=" + Nobody, "--regid=" + Nobody, "--clear-groups", tool, .. args];
        var (exitCode, _, error) = Tools.RunAsync("setpriv", all).GetAwaiter().GetResult();
        if (exitCode == 0)
        {
            return "0";
        }

        return error.Contains("Operation not permitted", StringComparison.Ordinal) ? "EPERM"
            : error.Contains("Permission denied", StringComparison.Ordinal) ? "EACCES"
            : error.Contains("No such file", StringComparison.Ordinal) ? "ENOENT"
            : "exit " + exitCode + ": " + error.Trim();
    }

    /// <summary>The libc calls the suite makes, with errno.</summary>
    internal static partial class Libc
    {
        public const int AtFdCwd = -100;

        /// <summary>struct stat of this architecture (the binding's, checked against the headers); times folded into nanoseconds.</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct StatBuf
        {
            private Fuse.Stat _stat;

            public readonly ulong Ino => _stat.Ino;

            public readonly long Nlink => _stat.Nlink;

            public readonly uint Mode => _stat.Mode;

            public readonly uint Uid => _stat.Uid;

            public readonly uint Gid => _stat.Gid;

            public readonly ulong Rdev => _stat.Rdev;

            public readonly long Size => _stat.Size;

            public readonly long Atime => _stat.Atime.ToNanoseconds();

            public readonly long Mtime => _stat.Mtime.ToNanoseconds();

            public readonly long Ctime => _stat.Ctime.ToNanoseconds();
        }

#pragma warning disable SA1300, IDE1006 // libc's names
        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int open(string path, int flags, uint mode);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int close(int fd);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int flock(int fd, int operation);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int open(byte[] path, int flags, uint mode);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int mkdir(byte[] path, uint mode);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int rename(byte[] from, byte[] to);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int unlink(byte[] path);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int rmdir(byte[] path);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int mknod(byte[] path, uint mode, ulong dev);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int symlink(byte[] target, byte[] path);

        [LibraryImport("libc", SetLastError = true)]
        public static partial long readlink(byte[] path, byte[] buffer, nuint size);

        [LibraryImport("libc", SetLastError = true)]
        public static partial nint opendir(byte[] path);

        [LibraryImport("libc", SetLastError = true)]
        public static partial nint readdir(nint stream);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int closedir(nint stream);

        [LibraryImport("libc", SetLastError = true)]
        public static partial long pwrite(int fd, byte[] buffer, nuint count, long offset);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int fallocate(int fd, int mode, long offset, long length);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int fchmod(int fd, uint mode);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int fchown(int fd, uint uid, uint gid);

        [LibraryImport("libc", SetLastError = true)]
        public static partial long write(int fd, byte[] buffer, nuint count);

        [LibraryImport("libc", SetLastError = true)]
        public static partial long pread(int fd, byte[] buffer, nuint count, long offset);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int mkdir(string path, uint mode);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int rmdir(string path);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int unlink(string path);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int rename(string from, string to);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int renameat2(int fromDir, string from, int toDir, string to, uint flags);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int link(string from, string to);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int symlink(string target, string path);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial long readlink(string path, byte[] buffer, nuint size);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int mknod(string path, uint mode, ulong dev);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int chmod(string path, uint mode);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int lchown(string path, uint uid, uint gid);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int utimensat(int dirFd, string path, long[] times, int flags);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int futimens(int fd, long[] times);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int truncate(string path, long length);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int ftruncate(int fd, long length);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int fsync(int fd);

        public static unsafe int stat(string path, out StatBuf buffer)
        {
            buffer = default;
            fixed (StatBuf* p = &buffer)
            {
                return stat(path, p);
            }
        }

        public static unsafe int lstat(string path, out StatBuf buffer)
        {
            buffer = default;
            fixed (StatBuf* p = &buffer)
            {
                return lstat(path, p);
            }
        }

        public static unsafe int fstat(int fd, out StatBuf buffer)
        {
            buffer = default;
            fixed (StatBuf* p = &buffer)
            {
                return fstat(fd, p);
            }
        }

        // Pointers: the source generator does not marshal a struct from another assembly (the binding's Stat) by value.
        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static unsafe partial int stat(string path, StatBuf* buffer);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static unsafe partial int lstat(string path, StatBuf* buffer);

        [LibraryImport("libc", SetLastError = true)]
        private static unsafe partial int fstat(int fd, StatBuf* buffer);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int setxattr(string path, string name, byte[] value, nuint size, int flags);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int lsetxattr(string path, string name, byte[] value, nuint size, int flags);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial nint getxattr(string path, string name, byte[]? value, nuint size);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial nint listxattr(string path, byte[] buffer, nuint size);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int removexattr(string path, string name);
#pragma warning restore SA1300, IDE1006
    }
}
