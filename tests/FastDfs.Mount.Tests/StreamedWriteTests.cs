using System.Runtime.InteropServices;
using System.Security.Cryptography;
using FastDfs.Mount.Core;
using FastDfs.Protocol;
using Xunit;

namespace FastDfs.Mount.Tests;

/// <summary>
/// Streamed writes: large writes that extend a file or overwrite stored bytes go onto the storage's socket through an
/// appender stream, from the receive buffer (stream_writes, the default) or from libfuse's pipe (splice_writes).
/// Each test writes through debug-logging mounts in every mode, chunks queued (stream_writes=off) included, and each
/// must store exactly what a local file holds; the log shows which path the writes took.
/// </summary>
public class StreamedWriteTests(DataMountFixture fixture) : IClassFixture<DataMountFixture>
{
    private const int MiB = 1024 * 1024;
    private const string StreamOpened = "through an appender stream";

    /// <summary>The modes: streamed from the receive buffer ("on"), spliced from the pipe, queued in chunks ("off").</summary>
    public static TheoryData<string> Modes => new() { "on", "splice", "off" };

    private static string OptionsOf(string mode) => mode switch
    {
        "on" => "stream_writes=on",
        "splice" => "splice_writes=on",
        _ => "stream_writes=off",
    };

    private async Task<(MountProcess Mount, string Dir, long Inode)> MountAsync(string mode, string purpose)
    {
        var (dir, inode) = await fixture.NewDirectoryAsync(purpose);
        var mount = await MountProcess.StartAsync(fixture.Cluster.TrackerEndpoint, DataMountFixture.MountOptions + "," + OptionsOf(mode), verbose: true);
        return (mount, mount.PathOf(Path.Combine("group1", Path.GetFileName(dir))), inode);
    }

    private async Task<byte[]> StoredAsync(long dir, string name)
    {
        var attributes = await fixture.Names.LookupAsync(dir, name);
        Assert.NotNull(attributes.FileId);
        byte[] content = await fixture.Client.DownloadBytesAsync(FileId.Parse(attributes.FileId));
        Assert.Equal(content.Length, attributes.Size);
        return content;
    }

    private static async Task AssertPathAsync(MountProcess mount, string mode)
    {
        if (mode != "off")
        {
            // The console logger writes in the background.
            await MountProcess.WaitUntilAsync(() => mount.Log.Contains(StreamOpened, StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the stream-opened event");
        }
        else
        {
            Assert.DoesNotContain(StreamOpened, mount.Log, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task A_large_sequential_write_only_file_is_stored_identical(string mode)
    {
        var (mount, dir, inode) = await MountAsync(mode, "stream-seq");
        await using (mount)
        {
            byte[] data = RandomNumberGenerator.GetBytes((9 * MiB) + 777);
            await using (var stream = new FileStream(Path.Combine(dir, "seq.bin"), FileMode.CreateNew, FileAccess.Write, FileShare.None, 0))
            {
                for (int at = 0; at < data.Length; at += MiB)
                {
                    await stream.WriteAsync(data.AsMemory(at, Math.Min(MiB, data.Length - at)));
                }
            }

            Assert.Equal(data, await StoredAsync(inode, "seq.bin"));
            Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(dir, "seq.bin")));
            await AssertPathAsync(mount, mode);
        }
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Overwrites_of_a_preallocated_file_land_in_place(string mode)
    {
        var (mount, dir, inode) = await MountAsync(mode, "stream-prealloc");
        await using (mount)
        {
            // As fio does: the size first, then 1 MiB writes over it from a read-write descriptor.
            byte[] data = RandomNumberGenerator.GetBytes(8 * MiB);
            using (var handle = File.OpenHandle(Path.Combine(dir, "pre.bin"), FileMode.CreateNew, FileAccess.ReadWrite))
            {
                RandomAccess.SetLength(handle, data.Length);
                for (int at = 0; at < data.Length; at += MiB)
                {
                    RandomAccess.Write(handle, data.AsSpan(at, MiB), at);
                }

                // Read before close through the same descriptor's file: the stream's writes are complete first.
                byte[] middle = new byte[300_000];
                Assert.Equal(middle.Length, RandomAccess.Read(handle, middle, 3 * MiB + 5));
                Assert.Equal(data.AsSpan(3 * MiB + 5, middle.Length).ToArray(), middle);
            }

            Assert.Equal(data, await StoredAsync(inode, "pre.bin"));
            await AssertPathAsync(mount, mode);
        }
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Mixed_small_large_appending_and_overwriting_writes_keep_their_order(string mode)
    {
        var (mount, dir, inode) = await MountAsync(mode, "stream-mixed");
        await using (mount)
        {
            var reference = new MemoryStream();
            string path = Path.Combine(dir, "mixed.bin");
            using (var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite))
            {
                void Write(long offset, int length)
                {
                    byte[] piece = RandomNumberGenerator.GetBytes(length);
                    RandomAccess.Write(handle, piece, offset);
                    reference.Position = offset;
                    reference.Write(piece);
                }

                long End() => reference.Length;
                Write(0, 4096);
                Write(End(), 2 * MiB);
                Write(End(), 100);
                Write(End(), 700_000);
                Write(End(), 3000);
                Write(End(), 3 * MiB);
                Write(1000, 600_000); // over stored bytes
                Write(End() - 5000, 900_000); // across the end: part overwrite, part append
                Write(End(), MiB);
                Write(2 * MiB + 17, 512 * 1024);
                Write(End() + 70_000, 300_000); // past the end: a hole, then data
                Write(End(), 2 * MiB);
            }

            byte[] expected = reference.ToArray();
            Assert.Equal(expected, await StoredAsync(inode, "mixed.bin"));
            Assert.Equal(expected, await File.ReadAllBytesAsync(path));
            await AssertPathAsync(mount, mode);
        }
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task A_large_write_across_the_storage_size_limit_is_answered_by_fsync_once_and_the_file_goes_on(string mode)
    {
        // The storage keeps its files on /tmp (ext4: 16 TiB - 4 KiB); the mount takes writes up to 16 TiB. The last
        // MiB crosses the storage's limit and is refused after the write returned: fsync answers, once. Queued (off),
        // the bytes below the limit are stored, as on ext4; through the appender stream, the refused request's bytes
        // are gone (the mount kept no copy), so the file ends where that request began.
        long limit = FastDfs.Integration.Tests.TestKit.FileSizeLimit.Of(fixture.Cluster.Storages[0].StorePaths[0]);
        const long MountLimit = 16L << 40;
        int request = mode == "splice" ? 512 * 1024 : MiB; // the kernel's largest WRITE (the pipe's limit with splice_writes)
        Assert.InRange(limit, MountLimit - request + 1, MountLimit - 1);
        var (mount, dir, inode) = await MountAsync(mode, "stream-limit");
        await using (mount)
        {
            byte[] data = RandomNumberGenerator.GetBytes(8 * MiB);
            byte[] head = RandomNumberGenerator.GetBytes(100);
            long start = MountLimit - data.Length;
            string path = Path.Combine(dir, "big.bin");
            int fd = PosixTests.Libc.open(path, 0x40 | 0x80 | 2, 0x1A4); // O_CREAT | O_EXCL | O_RDWR
            Assert.True(fd >= 0, "create");
            Assert.Equal(0, PosixTests.Libc.ftruncate(fd, start));
            for (int at = 0; at < data.Length; at += MiB)
            {
                Assert.Equal(MiB, PosixTests.Libc.pwrite(fd, data[at..(at + MiB)], MiB, start + at));
            }

            Assert.Equal(-1, PosixTests.Libc.fsync(fd));
            Assert.Equal(Errno.EFBIG, Marshal.GetLastPInvokeError());
            Assert.Equal(0, PosixTests.Libc.fsync(fd));
            Assert.Equal(head.Length, PosixTests.Libc.pwrite(fd, head, (nuint)head.Length, 0));
            Assert.Equal(0, PosixTests.Libc.close(fd));

            var attributes = await fixture.Names.LookupAsync(inode, "big.bin");
            if (attributes.Size != limit)
            {
                Assert.NotEqual("off", mode);
                Assert.Equal(MountLimit - request, attributes.Size);
            }

            int kept = (int)(attributes.Size - start);
            var id = FileId.Parse(attributes.FileId!);
            Assert.Equal(head, await fixture.Client.DownloadBytesAsync(id, 0, head.Length));
            Assert.Equal(data[..kept], await fixture.Client.DownloadBytesAsync(id, start, kept));
            using (var handle = File.OpenHandle(path))
            {
                Assert.Equal(attributes.Size, RandomAccess.GetLength(handle));
                byte[] last = new byte[MiB];
                Assert.Equal(MiB, RandomAccess.Read(handle, last, attributes.Size - MiB));
                Assert.Equal(data[(kept - MiB)..kept], last);
            }

            await AssertPathAsync(mount, mode);
        }
    }

    [Theory]
    [InlineData("on")]
    [InlineData("splice")]
    public async Task Large_O_APPEND_writes_go_to_the_end(string mode)
    {
        var (mount, dir, inode) = await MountAsync(mode, "stream-append");
        await using (mount)
        {
            string path = Path.Combine(dir, "log.bin");
            byte[] first = RandomNumberGenerator.GetBytes(3 * MiB);
            await File.WriteAllBytesAsync(path, first);
            byte[] more = RandomNumberGenerator.GetBytes(5 * MiB);
            await using (var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.None, 0))
            {
                for (int at = 0; at < more.Length; at += MiB)
                {
                    await stream.WriteAsync(more.AsMemory(at, MiB));
                }
            }

            byte[] stored = await StoredAsync(inode, "log.bin");
            Assert.Equal(first.Concat(more).ToArray(), stored);
            await AssertPathAsync(mount, mode);
        }
    }
}
