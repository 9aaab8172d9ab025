using System.Text;
using FastDfs.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace FastDfs.Mount.Core;

/// <summary>
/// A local record of uploads the directory service does not know yet. A small file's content is uploaded at its
/// first commit and named by the very next request (CREATE or SET_CONTENT with the file ID); registering it as
/// pending first would cost a directory-service round trip per file, and registering it beside the naming request
/// would leave the same window open. So the file ID is appended here before the naming request (one pwrite, no
/// fsync: it must outlive the process, not the host) and forgotten once named. A mount that starts later on this
/// host takes over the journals that mounts of the same namespace left when they died (their lock is gone with
/// them) and registers those file IDs as pending: the collector deletes the ones no name took.
/// One file per mount process, <c>pending-&lt;namespace&gt;-&lt;random&gt;.log</c>, flock'ed while it lives.
/// </summary>
public sealed class PendingJournal : IDisposable
{
    // Cut back to empty once nothing in it is outstanding and it has grown past this (about 1,000 file IDs).
    private const long CompactAt = 64 * 1024;

    private readonly SafeFileHandle _file;
    private readonly string _path;
    private readonly ILogger _logger;
    private readonly HashSet<string> _outstanding = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _length;
    private bool _failed;

    private PendingJournal(SafeFileHandle file, string path, ILogger logger)
    {
        _file = file;
        _path = path;
        _logger = logger;
    }

    public string Path => _path;

    /// <summary>A new journal for this process in <paramref name="directory"/> (created if missing).</summary>
    public static PendingJournal Create(string directory, Guid namespaceId, ILogger logger)
    {
        Directory.CreateDirectory(directory);
        string name = Pattern(namespaceId).Replace("*", Guid.NewGuid().ToString("N"), StringComparison.Ordinal);

        // Made under a name recovery does not look at, locked, then renamed: another mount never sees it unlocked.
        string building = System.IO.Path.Combine(directory, "." + name);
        string path = System.IO.Path.Combine(directory, name);
        var file = File.OpenHandle(building, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        File.Move(building, path);
        return new PendingJournal(file, path, logger);
    }

    /// <summary>
    /// Registers the file IDs in the journals that dead mounts of <paramref name="namespaceId"/> left in
    /// <paramref name="directory"/> as pending for <paramref name="lease"/>, and removes those journals. A journal
    /// whose owner still runs is locked and skipped; one that cannot be fully registered stays for the next mount.
    /// </summary>
    public static async Task<int> RecoverAsync(
        string directory, Guid namespaceId, INameService names, TimeSpan lease, ILogger logger, OperationDeadline deadline)
    {
        if (!Directory.Exists(directory))
        {
            return 0;
        }

        int registered = 0;
        foreach (string path in Directory.EnumerateFiles(directory, Pattern(namespaceId)))
        {
            SafeFileHandle file;
            try
            {
                file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                continue; // its mount is alive (or another mount is taking it over now)
            }

            using (file)
            {
                string[] lines;
                try
                {
                    byte[] content = new byte[RandomAccess.GetLength(file)];
                    int read = 0;
                    while (read < content.Length)
                    {
                        int n = await RandomAccess.ReadAsync(file, content.AsMemory(read), read, deadline.Token);
                        if (n == 0)
                        {
                            break;
                        }

                        read += n;
                    }

                    lines = Encoding.ASCII.GetString(content, 0, read).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                }
                catch (IOException e)
                {
                    MountLog.JournalUnreadable(logger, path, e.Message);
                    continue;
                }

                int errno = 0;
                foreach (string line in lines.Distinct(StringComparer.Ordinal))
                {
                    if (!FileId.TryParse(line, out _, out _))
                    {
                        continue; // a line cut short by the crash: its upload was never answered either
                    }

                    errno = await names.RegisterPendingAsync(line, lease, deadline);
                    if (errno != 0)
                    {
                        break;
                    }

                    registered++;
                }

                if (errno != 0)
                {
                    MountLog.JournalNotRecovered(logger, path, errno);
                    continue;
                }

                File.Delete(path);
                MountLog.JournalRecovered(logger, path, lines.Length);
            }
        }

        return registered;
    }

    /// <summary>An upload about to be named by the next request: recorded before that request is sent.</summary>
    public void Uploaded(FileId fileId)
    {
        string id = fileId.ToString();
        byte[] line = Encoding.ASCII.GetBytes(id + "\n");
        lock (_lock)
        {
            try
            {
                RandomAccess.Write(_file, line, _length);
                _length += line.Length;
                _outstanding.Add(id);
            }
            catch (IOException e) when (!_failed)
            {
                // Not fatal: the data is stored; only a crash before the name is made would leave it behind.
                _failed = true;
                MountLog.JournalWriteFailed(_logger, _path, e.Message);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>The upload is named, or the directory service holds it as pending: the journal no longer needs it.</summary>
    public void Settled(FileId fileId)
    {
        lock (_lock)
        {
            if (!_outstanding.Remove(fileId.ToString()) || _outstanding.Count > 0 || _length < CompactAt)
            {
                return;
            }

            try
            {
                RandomAccess.SetLength(_file, 0);
                _length = 0;
            }
            catch (IOException)
            {
                // Stays longer; recovery only registers IDs, and named ones are left alone by the directory service.
            }
        }
    }

    /// <summary>At unmount: the journal goes unless some upload in it was neither named nor registered.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_outstanding.Count == 0)
            {
                File.Delete(_path);
            }

            _file.Dispose();
        }
    }

    private static string Pattern(Guid namespaceId) => $"pending-{namespaceId:N}-*.log";
}
