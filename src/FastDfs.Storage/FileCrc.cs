using System.Buffers;
using System.IO.Hashing;
using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;

namespace FastDfs.Storage;

/// <summary>
/// CRC32 of a whole file for QUERY_FILE_INFO and REGENERATE_APPENDER_FILENAME of appender files. Only data extents
/// are read (lseek SEEK_DATA / SEEK_HOLE): a hole is folded in by <see cref="Crc32Zeros"/> arithmetic, so a 16 TiB
/// sparse appender costs a few syscalls, not hours of reading zeros. Reads are asynchronous (each chunk is its own
/// thread-pool work item, so other connections interleave) and stop when <paramref name="stop"/> says so.
/// </summary>
internal static class FileCrc
{
    /// <summary>Read size: large enough that the syscalls do not matter next to the CRC itself.</summary>
    public const int ChunkSize = 1 << 20;

    /// <summary>
    /// CRC-32 of the first <paramref name="size"/> bytes of the file (bytes past its end, if it shrank meanwhile, count
    /// as zeros). <paramref name="stop"/> is asked before every chunk read: true cancels with <see cref="OperationCanceledException"/>.
    /// </summary>
    public static async ValueTask<(uint Crc, long BytesRead)> ComputeAsync(
        SafeFileHandle handle, long size, Func<bool>? stop, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            var hash = new Crc32();
            uint crc = 0;
            long position = 0;
            long bytesRead = 0;
            bool seekable = true;
            while (position < size)
            {
                // Asked per extent as well as per chunk: a file of millions of tiny extents reads little but seeks a lot.
                StopIfAsked(stop, cancellationToken);
                long dataStart = position;
                if (seekable)
                {
                    long? at = NativeMethods.SeekDataOrHole(handle, position, hole: false);
                    if (at is null)
                    {
                        seekable = false; // no SEEK_DATA here: every byte is read
                    }
                    else
                    {
                        dataStart = at.Value < 0 ? size : Math.Min(at.Value, size);
                    }
                }

                if (dataStart > position)
                {
                    crc = Crc32Zeros.Extend(crc, dataStart - position);
                    position = dataStart;
                    continue;
                }

                long dataEnd = size;
                if (seekable)
                {
                    long? at = NativeMethods.SeekDataOrHole(handle, position, hole: true);
                    dataEnd = at is > 0 ? Math.Min(at.Value, size) : size;
                    if (dataEnd <= position)
                    {
                        dataEnd = size; // the file changed between the two seeks: read on
                    }
                }

                // One data extent: its CRC through the SIMD hasher, then joined to what came before.
                hash.Reset();
                long extentStart = position;
                while (position < dataEnd)
                {
                    if (position > extentStart)
                    {
                        StopIfAsked(stop, cancellationToken);
                    }

                    int want = (int)Math.Min(buffer.Length, dataEnd - position);
                    int n = await RandomAccess.ReadAsync(handle, buffer.AsMemory(0, want), position, cancellationToken);
                    if (n <= 0)
                    {
                        break; // shrank under us: the rest is past the end
                    }

                    hash.Append(buffer.AsSpan(0, n));
                    position += n;
                    bytesRead += n;
                }

                crc = Crc32Zeros.Combine(crc, hash.GetCurrentHashAsUInt32(), position - extentStart);
                if (position < dataEnd)
                {
                    crc = Crc32Zeros.Extend(crc, size - position);
                    position = size;
                }
            }

            return (crc, bytesRead);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void StopIfAsked(Func<bool>? stop, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (stop?.Invoke() == true)
        {
            throw new OperationCanceledException("CRC32 computation stopped");
        }
    }

    /// <summary>
    /// True when the peer closed or reset the connection: the socket reads as ready with nothing to read. A client
    /// that sent its next request already (pipelining) has bytes waiting and counts as present.
    /// </summary>
    public static bool PeerGone(Socket socket)
    {
        try
        {
            return socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return true;
        }
    }
}

/// <summary>
/// A small cache of CRCs of big files, keyed by path and <see cref="NativeMethods.FileVersion"/> (inode, size, ctime,
/// mtime): repeated QUERY_FILE_INFO of an unchanged multi-GiB appender (a mount's stat asks on every lookup) reads it
/// once. Bounded: it is emptied when full.
/// </summary>
internal sealed class FileCrcCache
{
    /// <summary>Files whose CRC needed less reading than this are not worth an entry.</summary>
    public const long MinBytesRead = 16 << 20;

    /// <summary>
    /// The file must have been unchanged this long before its CRC started. ctime comes from a coarse clock (a jiffy):
    /// a write in the same tick as the stat could leave it unchanged, and replicas set mtime to whole seconds, so
    /// only a ctime well in the past proves that any later change shows in the key.
    /// </summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(2);

    private readonly int _capacity;
    private readonly Dictionary<string, (NativeMethods.FileVersion Version, uint Crc)> _entries = new(StringComparer.Ordinal);

    public FileCrcCache(int capacity = 256) => _capacity = capacity;

    public int Count
    {
        get
        {
            lock (_entries)
            {
                return _entries.Count;
            }
        }
    }

    public bool TryGet(string path, NativeMethods.FileVersion version, out uint crc)
    {
        lock (_entries)
        {
            if (_entries.TryGetValue(path, out var entry) && entry.Version == version)
            {
                crc = entry.Crc;
                return true;
            }
        }

        crc = 0;
        return false;
    }

    /// <summary>
    /// Keeps <paramref name="crc"/>, computed between the two stats <paramref name="before"/> and <paramref name="after"/>
    /// at <paramref name="startedNs"/> (Unix ns), when the file did not change meanwhile and had settled before.
    /// </summary>
    public void Add(string path, NativeMethods.FileVersion before, NativeMethods.FileVersion after, long startedNs, long bytesRead, uint crc)
    {
        if (bytesRead < MinBytesRead || before != after || before.ChangeTimeNs > startedNs - (long)(SettleTime.TotalMilliseconds * 1_000_000))
        {
            return;
        }

        lock (_entries)
        {
            if (_entries.Count >= _capacity && !_entries.ContainsKey(path))
            {
                _entries.Clear();
            }

            _entries[path] = (before, crc);
        }
    }
}
