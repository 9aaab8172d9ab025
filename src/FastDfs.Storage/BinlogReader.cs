using System.Globalization;
using System.Text;

namespace FastDfs.Storage;

/// <summary>One parsed binlog line and the position just after it (where a mark goes once it is done).</summary>
internal readonly record struct BinlogEntry(long Timestamp, char Op, string RemoteName, string? Extra, int EndIndex, long EndOffset);

/// <summary>
/// Reads the binlog from a position, whole lines only: a line the writer has not finished (no '\n' yet) is left
/// for the next call. Moves to the next file once the writer has moved on and the current one is read to its end.
/// </summary>
internal sealed class BinlogReader : IDisposable
{
    private readonly Binlog _binlog;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private Microsoft.Win32.SafeHandles.SafeFileHandle? _file;
    private int _fileIndex = -1;

    public BinlogReader(Binlog binlog, int index, long offset)
    {
        _binlog = binlog;
        Index = index;
        Offset = offset;
    }

    public int Index { get; private set; }

    public long Offset { get; private set; }

    /// <summary>Rewinds to a position (after a failed batch, to the last acknowledged record).</summary>
    public void Seek(int index, long offset)
    {
        Index = index;
        Offset = offset;
    }

    /// <summary>Appends up to <paramref name="max"/> entries; returns how many (0 at the end of the binlog).</summary>
    public int Read(List<BinlogEntry> entries, int max)
    {
        int added = 0;
        while (added < max)
        {
            int current = _binlog.CurrentIndex;
            var file = Open();
            int n = file is null ? 0 : RandomAccess.Read(file, _buffer, Offset);
            int consumed = 0;
            while (added < max)
            {
                int newline = Array.IndexOf(_buffer, (byte)'\n', consumed, n - consumed);
                if (newline < 0)
                {
                    break;
                }

                long end = Offset + newline + 1;
                if (TryParse(_buffer.AsSpan(consumed, newline - consumed), Index, end, out var entry))
                {
                    entries.Add(entry);
                    added++;
                }

                consumed = newline + 1;
            }

            if (consumed > 0)
            {
                Offset += consumed;
                continue;
            }

            if (n == 0 && Index < current)
            {
                // The writer moved to a new file before we read: this one is complete.
                Index++;
                Offset = 0;
                continue;
            }

            break;
        }

        return added;
    }

    /// <summary>A plain handle, not a FileStream: FileStream.SafeFileHandle re-seeks the descriptor on every access.</summary>
    private Microsoft.Win32.SafeHandles.SafeFileHandle? Open()
    {
        if (_fileIndex == Index && _file is not null)
        {
            return _file;
        }

        _file?.Dispose();
        _file = null;
        string path = Path.Combine(_binlog.FolderPath, Binlog.FileName(Index));
        if (!File.Exists(path))
        {
            return null;
        }

        _file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        _fileIndex = Index;
        return _file;
    }

    /// <summary><c>&lt;timestamp&gt; &lt;op&gt; &lt;remote filename&gt;[ extra]</c>; malformed lines are skipped.</summary>
    public static bool TryParse(ReadOnlySpan<byte> line, int endIndex, long endOffset, out BinlogEntry entry)
    {
        entry = default;
        int space = line.IndexOf((byte)' ');
        if (space <= 0 || line.Length < space + 4 || line[space + 2] != (byte)' '
            || !long.TryParse(line[..space], NumberStyles.None, CultureInfo.InvariantCulture, out long ts))
        {
            return false;
        }

        char op = (char)line[space + 1];
        var rest = line[(space + 3)..];
        int next = rest.IndexOf((byte)' ');
        string name = Encoding.UTF8.GetString(next < 0 ? rest : rest[..next]);
        string? extra = next < 0 ? null : Encoding.UTF8.GetString(rest[(next + 1)..]);
        entry = new BinlogEntry(ts, op, name, extra, endIndex, endOffset);
        return name.Length > 0;
    }

    public void Dispose() => _file?.Dispose();
}
