using System.Runtime.InteropServices;

namespace FastDfs.Storage.Tests;

/// <summary>
/// Downloads on a socket event thread read only what the kernel has cached (openat2 RESOLVE_CACHED, preadv2
/// RWF_NOWAIT) and move to the thread pool for the rest; these check both answers on a real file.
/// </summary>
public sealed class CachedReadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fdfs-cached-read-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Cached_file_is_opened_and_read_without_blocking()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        string path = Path.Combine(_dir, "hot");
        byte[] content = Enumerable.Range(0, 10_000).Select(i => (byte)i).ToArray();
        File.WriteAllBytes(path, content);
        _ = File.ReadAllBytes(path); // the dentry and the pages are in the cache now

        Assert.True(DownloadFile.TryOpenCached(path, out var file));
        using (file)
        {
            Assert.Equal(content.Length, file.GetLength());
            var buffer = new byte[20_000];
            int n = file.ReadCached(buffer, 100);
            Assert.Equal(content.Length - 100, n);
            Assert.Equal(content.AsSpan(100).ToArray(), buffer.AsSpan(0, n).ToArray());
            Assert.Equal(0, file.ReadCached(buffer, content.Length)); // end of file, not "would block"
        }
    }

    [Fact]
    public void Evicted_pages_would_block_and_the_blocking_read_still_gets_them()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        string path = Path.Combine(_dir, "cold");
        byte[] content = new byte[1 << 20];
        Random.Shared.NextBytes(content);
        File.WriteAllBytes(path, content);
        using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            // Written back, then dropped from the page cache: the next read has to go to the disk.
            Assert.Equal(0, FSync(handle.DangerousGetHandle().ToInt32()));
            Assert.Equal(0, FAdvise(handle.DangerousGetHandle().ToInt32(), 0, 0, FAdviseDontNeed));
        }

        Assert.True(DownloadFile.TryOpenCached(path, out var file));
        using (file)
        {
            var buffer = new byte[256 * 1024];
            Assert.Equal(DownloadFile.WouldBlock, file.ReadCached(buffer, 512 * 1024));
            int n = file.Read(buffer, 512 * 1024);
            Assert.Equal(buffer.Length, n);
            Assert.Equal(content.AsSpan(512 * 1024, n).ToArray(), buffer);
        }
    }

    [Fact]
    public void Missing_file_is_file_not_found_whichever_way_it_is_opened()
    {
        string path = Path.Combine(_dir, "missing");
        Assert.Throws<FileNotFoundException>(() =>
        {
            if (!DownloadFile.TryOpenCached(path, out var file))
            {
                file = DownloadFile.Open(path); // not in the dentry cache: the blocking open answers
            }

            file.Dispose();
        });
    }

    private const int FAdviseDontNeed = 4;

    [DllImport("libc", EntryPoint = "posix_fadvise")]
    private static extern int FAdvise(int fd, long offset, long length, int advice);

    [DllImport("libc", EntryPoint = "fsync")]
    private static extern int FSync(int fd);
}
