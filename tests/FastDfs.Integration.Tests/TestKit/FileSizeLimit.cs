namespace FastDfs.Integration.Tests.TestKit;

/// <summary>The largest file a directory's file system takes (ext4 with 4 KiB blocks: 16 TiB - 4 KiB), found with ftruncate on a sparse file.</summary>
public static class FileSizeLimit
{
    public static long Of(string directory)
    {
        string probe = Path.Combine(directory, ".size-limit-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            using var handle = File.OpenHandle(probe, FileMode.CreateNew, FileAccess.Write);
            long taken = 0, refused = long.MaxValue;
            while (refused - taken > 1)
            {
                long size = taken + ((refused - taken) / 2);
                try
                {
                    RandomAccess.SetLength(handle, size);
                    taken = size;
                }
                catch (ArgumentOutOfRangeException)
                {
                    refused = size; // EFBIG
                }
            }

            if (refused == long.MaxValue)
            {
                throw new InvalidOperationException($"{directory} takes files of any size: these tests need a file system with a limit (ext4)");
            }

            return taken;
        }
        finally
        {
            File.Delete(probe);
        }
    }
}
