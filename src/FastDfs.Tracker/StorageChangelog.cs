using System.Text;
using FastDfs.Protocol.TrackerState;

namespace FastDfs.Tracker;

/// <summary>
/// <c>base_path/data/storage_changelog.dat</c>: the append-only log of storage deletions and IP changes FastDFS
/// keeps (docs/tracker-state.md). Each line is appended and flushed to disk before the change is answered, as
/// FastDFS does; storages read it from their own offset with STORAGE_CHANGELOG_REQ.
/// </summary>
internal sealed class StorageChangelog
{
    private readonly Lock _gate = new();
    private long _size;

    public StorageChangelog(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        FilePath = Path.Combine(dataDirectory, TrackerSysFiles.ChangelogFileName);
        _size = File.Exists(FilePath) ? new FileInfo(FilePath).Length : 0;
    }

    public string FilePath { get; }

    /// <summary>Called when a line cannot be written (the change itself stands; only its log line is lost).</summary>
    public Action<Exception>? WriteFailed { get; set; }

    public long Size => Volatile.Read(ref _size);

    public void Append(ChangelogEntry entry)
    {
        byte[] line = Encoding.UTF8.GetBytes(entry.ToLine());
        lock (_gate)
        {
            try
            {
                using var stream = new FileStream(FilePath, FileMode.Append, FileAccess.Write, FileShare.Read);
                stream.Write(line);
                stream.Flush(flushToDisk: true);
                Volatile.Write(ref _size, stream.Length);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                WriteFailed?.Invoke(e);
            }
        }
    }

    /// <summary>Up to <paramref name="max"/> bytes from <paramref name="offset"/> (clamped to the file).</summary>
    public byte[] Read(long offset, int max)
    {
        lock (_gate)
        {
            long size = _size;
            offset = Math.Clamp(offset, 0, size);
            int length = (int)Math.Min(size - offset, max);
            if (length <= 0)
            {
                return [];
            }

            using var stream = new FileStream(FilePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            stream.Position = offset;
            var buffer = new byte[length];
            stream.ReadExactly(buffer);
            return buffer;
        }
    }

    public byte[] ReadAll() => Read(0, int.MaxValue);

    /// <summary>A tracker that copied the leader's state takes its changelog too, when it has none of its own.</summary>
    public bool ReplaceIfEmpty(ReadOnlySpan<byte> content)
    {
        lock (_gate)
        {
            if (_size > 0 || content.IsEmpty)
            {
                return false;
            }

            ClusterStateStore.WriteAtomic(FilePath, content);
            Volatile.Write(ref _size, content.Length);
            return true;
        }
    }
}
