using System.Diagnostics.CodeAnalysis;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using Microsoft.Extensions.Logging;

namespace FastDfs.Storage;

/// <summary>One store path: <c>root/data/HH/HH</c>, its temp dir and the state needed to place new files.</summary>
internal sealed class StorePath
{
    private long _fileCount;
    private long _freeBytes = -1;
    private long _totalBytes;
    private long _freeCheckedTicks = -1_000_000; // forces a first read

    public StorePath(int index, string root)
    {
        Index = index;
        Root = Path.GetFullPath(root);
        DataDir = Path.Combine(Root, "data");
        TempDir = Path.Combine(DataDir, ".tmp");
        Prefix = "M" + StorePaths.Hex[index];
    }

    public int Index { get; }

    public string Root { get; }

    public string DataDir { get; }

    public string TempDir { get; }

    /// <summary><c>Mxx</c> as it starts every remote filename of this path.</summary>
    public string Prefix { get; }

    /// <summary>Sequence number of the next file, for the rotating directory choice.</summary>
    public long NextFileNumber() => Interlocked.Increment(ref _fileCount) - 1;

    /// <summary>
    /// Free bytes, re-read from the file system at most once a second (statvfs per upload would cost a syscall
    /// each); in between, bytes written are subtracted so a burst cannot overrun the reserve by much.
    /// </summary>
    public long FreeBytes(bool refresh = false)
    {
        long now = Environment.TickCount64;
        if (refresh || now - Volatile.Read(ref _freeCheckedTicks) > 1000)
        {
            Volatile.Write(ref _freeCheckedTicks, now);
            try
            {
                var drive = new DriveInfo(Root);
                Volatile.Write(ref _totalBytes, drive.TotalSize);
                Volatile.Write(ref _freeBytes, drive.AvailableFreeSpace);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                // Unknown: do not refuse uploads because statvfs failed.
                Volatile.Write(ref _freeBytes, long.MaxValue);
            }
        }

        return Volatile.Read(ref _freeBytes);
    }

    public long TotalBytes
    {
        get
        {
            FreeBytes();
            return Volatile.Read(ref _totalBytes);
        }
    }

    public void Consumed(long bytes) => Interlocked.Add(ref _freeBytes, -bytes);
}

/// <summary>The store paths of this storage: layout creation, choice of path and directory, name resolution.</summary>
internal sealed class StorePaths
{
    public const string MarkFileName = ".fastdfs_vars";

    /// <summary>"00".."FF": directory and prefix digits without formatting per request.</summary>
    public static readonly string[] Hex = Enumerable.Range(0, 256).Select(i => i.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    private readonly StorePath[] _paths;
    private readonly int _subdirs;
    private readonly int _rotateCount;
    private readonly bool _hashDistribution;
    private readonly bool _loadBalance;
    private readonly ReservedSpace _reserve;
    private readonly IReadOnlySet<int> _readOnly;
    private int _roundRobin = -1;

    public StorePaths(
        IReadOnlyList<string> roots, IReadOnlySet<int> readOnly, int subdirCount, int distributeMode, int rotateCount, bool loadBalance, ReservedSpace reserve)
    {
        _readOnly = readOnly;
        _paths = roots.Select((r, i) => new StorePath(i, r)).ToArray();
        _subdirs = subdirCount;
        _rotateCount = Math.Max(1, rotateCount);
        _hashDistribution = distributeMode == 1;
        _loadBalance = loadBalance;
        _reserve = reserve;
    }

    public IReadOnlyList<StorePath> Paths => _paths;

    public int Count => _paths.Length;

    public int SubdirCount => _subdirs;

    /// <summary>
    /// Prepares every path: data and temp dirs, removal of temp files left by a crash, and the <c>data/HH/HH</c>
    /// tree. The tree (65,536 mkdirs per path at 256, tens of seconds on a slow disk) is created in the background
    /// so the storage accepts at once; uploads create a missing directory on demand. The mark file is written
    /// last, so an interrupted first start is redone.
    /// </summary>
    public Task Initialize(ILogger logger, CancellationToken cancellationToken)
    {
        var pending = new List<StorePath>();
        foreach (var path in _paths)
        {
            Directory.CreateDirectory(path.DataDir);
            string mark = Path.Combine(path.DataDir, MarkFileName);
            string last = Path.Combine(path.DataDir, Hex[_subdirs - 1], Hex[_subdirs - 1]);
            if (!File.Exists(mark) || !Directory.Exists(last))
            {
                pending.Add(path);
            }

            if (Directory.Exists(path.TempDir))
            {
                int removed = 0;
                foreach (string file in Directory.EnumerateFiles(path.TempDir))
                {
                    File.Delete(file);
                    removed++;
                }

                if (removed > 0)
                {
                    StorageLog.RemovedTempFiles(logger, removed, path.TempDir);
                }
            }
            else
            {
                Directory.CreateDirectory(path.TempDir);
            }
        }

        return pending.Count == 0 ? Task.CompletedTask : Task.Run(() => CreateTrees(pending, logger, cancellationToken), cancellationToken);
    }

    private void CreateTrees(List<StorePath> pending, ILogger logger, CancellationToken cancellationToken)
    {
        foreach (var path in pending)
        {
            StorageLog.CreatingSubdirs(logger, _subdirs * _subdirs, path.DataDir);

            // One worker per high-level dir: mkdirs in different parents do not contend on one directory lock.
            Parallel.For(0, _subdirs, new ParallelOptions { CancellationToken = cancellationToken }, high =>
            {
                string highDir = Path.Combine(path.DataDir, Hex[high]);
                Directory.CreateDirectory(highDir);
                for (int low = 0; low < _subdirs; low++)
                {
                    Directory.CreateDirectory(Path.Combine(highDir, Hex[low]));
                }
            });

            string mark = Path.Combine(path.DataDir, MarkFileName);
            if (!File.Exists(mark))
            {
                File.WriteAllText(mark,
                    $"store_path_index={path.Index}\nstore_path_mark={Guid.NewGuid():N}\ncreate_time={DateTimeOffset.UtcNow.ToUnixTimeSeconds()}\n");
            }

            StorageLog.CreatedSubdirs(logger, path.DataDir);
        }
    }

    /// <summary>
    /// The path for a new file: the client's index, or ours to pick for 0xFF or a read-only path.
    /// Returns 0, EINVAL (index out of range) or ENOSPC (every path read-only).
    /// </summary>
    public byte Choose(byte requested, out StorePath? path)
    {
        path = null;
        if (requested != FdfsConstants.AnyStorePath)
        {
            if (requested >= _paths.Length)
            {
                return FdfsErrno.EINVAL;
            }

            if (!_readOnly.Contains(requested))
            {
                path = _paths[requested];
                return FdfsErrno.Success;
            }
        }

        if (_loadBalance)
        {
            long best = -1;
            foreach (var candidate in _paths)
            {
                long free = _readOnly.Contains(candidate.Index) ? -1 : candidate.FreeBytes();
                if (free > best)
                {
                    best = free;
                    path = candidate;
                }
            }

            return path is null ? FdfsErrno.ENOSPC : FdfsErrno.Success;
        }

        for (int attempt = 0; attempt < _paths.Length; attempt++)
        {
            int next = (int)((uint)Interlocked.Increment(ref _roundRobin) % (uint)_paths.Length);
            if (!_readOnly.Contains(next))
            {
                path = _paths[next];
                return FdfsErrno.Success;
            }
        }

        return FdfsErrno.ENOSPC;
    }

    /// <summary>True when taking <paramref name="size"/> more bytes would eat into the reserve.</summary>
    public bool IsFull(StorePath path, long size)
    {
        long free = path.FreeBytes();
        if (free == long.MaxValue)
        {
            return false;
        }

        long totalMb = path.TotalBytes / (1024 * 1024);
        long freeMb = Math.Max(0, free - size) / (1024 * 1024);
        return _reserve.IsReached(totalMb, freeMb) || free < size;
    }

    /// <summary>Sub-directory for a new file: rotating (mode 0) or spread at random (mode 1, where FastDFS hashes a name that is itself random).</summary>
    public (int High, int Low) ChooseSubdir(StorePath path)
    {
        if (_hashDistribution)
        {
            return RandomSubdir();
        }

        long next = path.NextFileNumber() / _rotateCount % ((long)_subdirs * _subdirs);
        return ((int)(next / _subdirs), (int)(next % _subdirs));
    }

    /// <summary>
    /// A directory to create a new unnamed (O_TMPFILE) file in before it is linked under its real name.
    /// ext4 puts a new inode in its parent directory's block group and, within the group, steps over every
    /// inode freed in the last minute or more, one inode-table look-up each. With one temp directory, or with
    /// mode 0 sending 100 files in a row to directories that share a group, a workload that deletes as well
    /// as uploads piles thousands of such inodes into a few groups and uploads slow down 3x (measured with
    /// perf: recently_deleted/find_inode_bit). A random directory of the tree spreads new inodes over all
    /// the groups the tree spans.
    /// </summary>
    public (int High, int Low) RandomSubdir()
    {
        int slot = Random.Shared.Next(_subdirs * _subdirs);
        return (slot / _subdirs, slot % _subdirs);
    }

    /// <summary>Local directory <c>data/HH/HH</c> of a sub-directory pair.</summary>
    public static string SubdirPath(StorePath path, int high, int low) => string.Concat(path.DataDir, "/", Hex[high], "/", Hex[low]);

    /// <summary>
    /// Local path of a remote filename that passed <see cref="RemoteNames.TryValidate"/> and whose index is ours:
    /// the store path root plus the already-checked <c>/HH/HH/name</c> tail, so nothing can point elsewhere.
    /// </summary>
    public string LocalPath(StorePath path, string remote) => string.Concat(path.DataDir, remote.AsSpan(3));

    /// <summary>Validates a remote filename and finds its store path; the error text says why not.</summary>
    public bool TryResolve(string remote, [NotNullWhen(true)] out StorePath? path, [NotNullWhen(false)] out string? error)
    {
        path = null;
        if (!RemoteNames.TryValidate(remote, out error))
        {
            return false;
        }

        int index = RemoteNames.StorePathIndex(remote);
        if (index >= _paths.Length)
        {
            error = $"store path index {index} out of range";
            return false;
        }

        path = _paths[index];
        return true;
    }

    public static string RemoteName(StorePath path, int high, int low, string name) =>
        $"{path.Prefix}/{Hex[high]}/{Hex[low]}/{name}";
}
