using System.Runtime.InteropServices;
using System.Security.Cryptography;
using FastDfs.Integration.Tests.TestKit;
using Xunit;

namespace FastDfs.Mount.Tests;

public partial class PosixTests
{
    /// <summary>
    /// stress-ng's fsize, for writes: pwrite around ext4's maximum file size (16 TiB - 4 KiB) on /tmp and on the mount,
    /// whose storage keeps its files on /tmp too. Every answer must be ext4's, except that the first write across the
    /// limit, which the mount took before the storage refused part of it, may be answered by EFBIG at the next call
    /// instead of by a short count. The descriptor stays usable, and a new mount reads exactly what ext4 holds.
    /// </summary>
    [Fact]
    public async Task Writes_past_the_storage_file_size_limit_end_as_on_ext4()
    {
        long limit = FileSizeLimit.Of(fixture.LocalRoot);
        string name = "fsize-" + Guid.NewGuid().ToString("N")[..8];
        string local = Path.Combine(fixture.LocalRoot, name), mounted = Path.Combine(fixture.MountRoot, name);
        byte[] head = RandomNumberGenerator.GetBytes(100_000);
        byte[] block = RandomNumberGenerator.GetBytes(8192);
        byte[] later = "written after the refusal"u8.ToArray();
        (string Name, Func<int, string> Run)[] steps =
        [
            ("pwrite at 0", fd => Wrote(Libc.pwrite(fd, head, (nuint)head.Length, 0))),
            ("pwrite of 8 KiB from 4 KiB before the limit", fd => Wrote(Libc.pwrite(fd, block, 8192, limit - 4096))),
            ("fsync", fd => Err(Libc.fsync(fd))),
            ("the same pwrite again", fd => Wrote(Libc.pwrite(fd, block, 8192, limit - 4096))),
            ("pwrite at the limit", fd => Wrote(Libc.pwrite(fd, block, 10, limit))),
            ("pwrite 1 MiB past the limit", fd => Wrote(Libc.pwrite(fd, block, 10, limit + (1 << 20)))),
            ("ftruncate past the limit", fd => Err(Libc.ftruncate(fd, limit + 1))),
            ("pwrite inside the file", fd => Wrote(Libc.pwrite(fd, later, (nuint)later.Length, 50))),
            ("fstat", fd => Libc.fstat(fd, out var stat) == 0 ? $"size {stat.Size}" : Err(-1)),
            ("fsync", fd => Err(Libc.fsync(fd))),
        ];

        try
        {
            var onExt4 = RunSteps(local, steps);
            var onMount = RunSteps(mounted, steps);
            for (int i = 0; i < steps.Length; i++)
            {
                output.WriteLine($"{steps[i].Name}: ext4 {onExt4[i]}, mount {onMount[i]}");
            }

            if (onMount[1] != onExt4[1])
            {
                // Taken whole, then the refusal of its bytes past the limit answered by fsync.
                Assert.Equal(("8192", "EFBIG"), (onMount[1], onMount[2]));
                (onMount[1], onMount[2]) = (onExt4[1], onExt4[2]);
            }

            Assert.Equal(onExt4, onMount);

            // A mount with nothing cached reads what the storage holds.
            await using var again = await MountProcess.StartAsync(fixture.Cluster.TrackerEndpoint, "names=on,auto_unmount,timeout=15");
            string there = again.PathOf(Path.Combine("group1", Path.GetFileName(fixture.MountRoot), name));
            Assert.Equal(new FileInfo(local).Length, new FileInfo(there).Length);
            using var expected = File.OpenHandle(local);
            using var actual = File.OpenHandle(there);
            foreach (long at in new[] { 0L, limit - (64 * 1024) })
            {
                byte[] want = new byte[64 * 1024], got = new byte[64 * 1024];
                Assert.Equal(want.Length, RandomAccess.Read(expected, want, at));
                Assert.Equal(got.Length, RandomAccess.Read(actual, got, at));
                Assert.True(want.AsSpan().SequenceEqual(got), $"64 KiB at {at} differ");
            }
        }
        finally
        {
            File.Delete(local);
            File.Delete(mounted);
        }
    }

    private static List<string> RunSteps(string path, (string Name, Func<int, string> Run)[] steps)
    {
        int fd = Libc.open(path, OCreat | OExcl | ORdWr, 0x1A4);
        Check(fd < 0 ? -1 : 0, "create " + path);
        var answers = steps.Select(step => step.Run(fd)).ToList();
        answers.Add("close " + Err(Libc.close(fd)));
        return answers;
    }

    private static string Wrote(long written) => written >= 0 ? written.ToString(System.Globalization.CultureInfo.InvariantCulture) : ErrnoName(Marshal.GetLastPInvokeError());
}
