using System.Data.Common;
using System.Text;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Namespace;

/// <summary>
/// The namespace logic over ADO.NET, shared by <see cref="SqliteNamespaceStore"/> and <see cref="PostgresNamespaceStore"/>.
/// Tables: <c>ns_inodes</c> (attributes, file ID, symlink target), <c>ns_entries</c> (parent, name -> inode; its id is
/// the readdir cookie), <c>ns_xattrs</c>, <c>ns_groups</c> (group -> root inode), <c>ns_gc</c> (file IDs to delete),
/// <c>ns_meta</c> (schema version, namespace id), <c>ns_lock_sessions</c>, <c>ns_locks</c> and <c>ns_lock_waits</c> (cluster-wide file
/// locks and waiting F_SETLKW requests, SqlNamespaceStore.Locks). Each mutation reads, checks and writes inside one transaction.
/// </summary>
public abstract partial class SqlNamespaceStore : INamespaceStore
{
    private const string InodeColumns = "id, gen, mode, uid, gid, nlink, size, atime, mtime, ctime, file_id, grp, rdev";
    private const string InodeColumnsOfI = "i.id, i.gen, i.mode, i.uid, i.gid, i.nlink, i.size, i.atime, i.mtime, i.ctime, i.file_id, i.grp, i.rdev";
    private const long DirectorySize = 4096;

    protected SqlNamespaceStore(TimeSpan orphanDelay) => OrphanDelay = orphanDelay;

    public Guid NamespaceId { get; protected set; }

    public abstract bool IsBlocking { get; }

    /// <summary>How long content stays after it lost its last name (so a file unlinked while open stays readable a while).</summary>
    public TimeSpan OrphanDelay { get; }

    public abstract Task InitializeAsync(CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();

    /// <summary>A connection for reading committed state.</summary>
    protected abstract ValueTask<Session> OpenReadAsync(CancellationToken cancellationToken);

    /// <summary>A connection inside a write transaction (serialized with other writers as the engine requires).</summary>
    protected abstract ValueTask<Session> OpenWriteAsync(CancellationToken cancellationToken);

    /// <summary>True for errors after which the whole transaction should run again (serialization failure, deadlock, a
    /// unique-key race); the retry then sees the winner's row and answers properly.</summary>
    protected abstract bool IsRetryable(DbException exception);

    /// <summary>A connection (and transaction, when writing) with a way to get commands for it.</summary>
    protected abstract class Session : IAsyncDisposable
    {
        /// <summary>A command for <paramref name="sql"/> with parameters <c>@p0</c>..; may be a cached, prepared one.</summary>
        public abstract DbCommand Command(string sql, int parameterCount);

        public abstract ValueTask CommitAsync(CancellationToken cancellationToken);

        public abstract ValueTask DisposeAsync();
    }

    // ---- plumbing ------------------------------------------------------------------------------------------

    private static DbCommand Bind(Session s, string sql, object?[] args)
    {
        var command = s.Command(sql, args.Length);
        for (int i = 0; i < args.Length; i++)
        {
            command.Parameters[i].Value = args[i] ?? DBNull.Value;
        }

        return command;
    }

    private static async ValueTask<int> ExecAsync(Session s, string sql, CancellationToken ct, params object?[] args) =>
        await Bind(s, sql, args).ExecuteNonQueryAsync(ct);

    private static async ValueTask<object?> ScalarAsync(Session s, string sql, CancellationToken ct, params object?[] args)
    {
        object? value = await Bind(s, sql, args).ExecuteScalarAsync(ct);
        return value is DBNull ? null : value;
    }

    private static ValueTask<long> InsertAsync(Session s, string sql, CancellationToken ct, params object?[] args) =>
        LongAsync(ScalarAsync(s, sql, ct, args));

    private static async ValueTask<long> LongAsync(ValueTask<object?> value) => Convert.ToInt64(await value, System.Globalization.CultureInfo.InvariantCulture);

    private static Task<DbDataReader> ReaderAsync(Session s, string sql, CancellationToken ct, params object?[] args) =>
        Bind(s, sql, args).ExecuteReaderAsync(ct);

    /// <summary>Runs a read against committed state.</summary>
    private async ValueTask<T> ReadAsync<T>(Func<Session, CancellationToken, Task<T>> body, CancellationToken ct)
    {
        await using var s = await OpenReadAsync(ct);
        return await body(s, ct);
    }

    /// <summary>Runs one transaction, again when the engine reports a conflict with a concurrent writer.</summary>
    private async ValueTask<T> WriteAsync<T>(Func<Session, CancellationToken, Task<T>> body, CancellationToken ct)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await using var s = await OpenWriteAsync(ct);
                var result = await body(s, ct);
                await s.CommitAsync(ct);
                return result;
            }
            catch (DbException e) when (attempt < 20 && IsRetryable(e))
            {
                await Task.Delay(Random.Shared.Next(1, 5 + (attempt * 5)), ct);
            }
        }
    }

    private sealed class Inode
    {
        public long Id;
        public long Gen;
        public uint Mode;
        public uint Uid;
        public uint Gid;
        public uint Nlink;
        public long Size;
        public long Atime;
        public long Mtime;
        public long Ctime;
        public string? FileId;
        public string Group = "";
        public uint Rdev;

        public bool IsDirectory => NamespaceMode.IsDirectory(Mode);

        public NsAttributes ToAttributes() => new(Id, Gen, Mode, Uid, Gid, Nlink, Size, Atime, Mtime, Ctime, FileId, Rdev);

        public static Inode Read(DbDataReader r, int o = 0) => new()
        {
            Id = r.GetInt64(o),
            Gen = r.GetInt64(o + 1),
            Mode = (uint)r.GetInt64(o + 2),
            Uid = (uint)r.GetInt64(o + 3),
            Gid = (uint)r.GetInt64(o + 4),
            Nlink = (uint)r.GetInt64(o + 5),
            Size = r.GetInt64(o + 6),
            Atime = r.GetInt64(o + 7),
            Mtime = r.GetInt64(o + 8),
            Ctime = r.GetInt64(o + 9),
            FileId = r.IsDBNull(o + 10) ? null : r.GetString(o + 10),
            Group = r.GetString(o + 11),
            Rdev = (uint)r.GetInt64(o + 12),
        };
    }

    private static async Task<Inode?> FindInodeAsync(Session s, long id, CancellationToken ct)
    {
        await using var r = await ReaderAsync(s, $"SELECT {InodeColumns} FROM ns_inodes WHERE id = @p0", ct, id);
        return await r.ReadAsync(ct) ? Inode.Read(r) : null;
    }

    private static async Task<Inode> InodeAsync(Session s, long id, CancellationToken ct) =>
        await FindInodeAsync(s, id, ct) ?? throw NamespaceException.NotFound($"inode {id}");

    private static async Task<Inode> DirectoryAsync(Session s, long id, CancellationToken ct)
    {
        var inode = await InodeAsync(s, id, ct);
        return inode.IsDirectory ? inode : throw new NamespaceException(NamespaceErrno.ENOTDIR, $"inode {id} is not a directory");
    }

    /// <summary>(entry id, inode) of a name in a directory, or null.</summary>
    private static async Task<(long Entry, long Inode)?> FindEntryAsync(Session s, long parent, byte[] name, CancellationToken ct)
    {
        await using var r = await ReaderAsync(s, "SELECT id, inode FROM ns_entries WHERE parent = @p0 AND name = @p1", ct, parent, name);
        return await r.ReadAsync(ct) ? (r.GetInt64(0), r.GetInt64(1)) : null;
    }

    /// <summary>Refuses names ext4 refuses: longer than 255 bytes, empty, containing '/' or NUL, "." and "..".</summary>
    internal static void CheckName(byte[] name)
    {
        if (name.Length > NamespaceLimits.MaxNameLength)
        {
            throw new NamespaceException(FdfsErrno.ENAMETOOLONG, $"name of {name.Length} bytes exceeds {NamespaceLimits.MaxNameLength}");
        }

        if (name.Length == 0 || name.AsSpan().IndexOfAny((byte)'/', (byte)0) >= 0 || name is [(byte)'.'] or [(byte)'.', (byte)'.'])
        {
            throw new NamespaceException(FdfsErrno.EINVAL, "invalid name");
        }
    }

    private static void CheckGroup(string group)
    {
        if (group.Length is 0 or > FdfsConstants.GroupNameMaxLength || !group.All(char.IsAsciiLetterOrDigit))
        {
            throw new NamespaceException(FdfsErrno.EINVAL, $"invalid group name '{group}'");
        }
    }

    private static string CheckFileId(string fileId)
    {
        if (fileId.Length == 0 || Encoding.UTF8.GetByteCount(fileId) > NamespaceLimits.MaxFileIdLength || !fileId.Contains('/', StringComparison.Ordinal))
        {
            throw new NamespaceException(FdfsErrno.EINVAL, "invalid file ID");
        }

        return fileId;
    }

    private static Task TouchDirectoryAsync(Session s, long id, long now, int nlinkDelta, CancellationToken ct) =>
        ExecAsync(s, "UPDATE ns_inodes SET mtime = @p1, ctime = @p1, nlink = nlink + @p2, gen = gen + 1 WHERE id = @p0", ct, id, now, nlinkDelta).AsTask();

    private static Task<long> InsertInodeAsync(
        Session s, string group, uint mode, uint uid, uint gid, uint nlink, long size, long now, string? fileId, byte[]? target, uint rdev,
        CancellationToken ct) =>
        InsertAsync(s,
            "INSERT INTO ns_inodes (grp, mode, uid, gid, nlink, size, atime, mtime, ctime, gen, file_id, target, rdev) " +
            "VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p6, @p6, 1, @p7, @p8, @p9) RETURNING id",
            ct, group, (long)mode, (long)uid, (long)gid, (long)nlink, size, now, fileId, target, (long)rdev).AsTask();

    private static Task InsertEntryAsync(Session s, long parent, byte[] name, long inode, CancellationToken ct) =>
        ExecAsync(s, "INSERT INTO ns_entries (parent, name, inode) VALUES (@p0, @p1, @p2)", ct, parent, name, inode).AsTask();

    /// <summary>Queues content that lost its last reference; binding it again (see <see cref="ClaimFileIdAsync"/>) rescues it.</summary>
    private async Task OrphanAsync(Session s, string? fileId, long now, CancellationToken ct)
    {
        if (fileId is null)
        {
            return;
        }

        if (await ScalarAsync(s, "SELECT 1 FROM ns_inodes WHERE file_id = @p0 LIMIT 1", ct, fileId) is not null)
        {
            return;
        }

        await ExecAsync(s,
            "INSERT INTO ns_gc (file_id, pending, due, attempts) VALUES (@p0, 0, @p1, 0) " +
            "ON CONFLICT (file_id) DO UPDATE SET pending = 0, due = excluded.due",
            ct, fileId, now + (OrphanDelay.Ticks * 100));
    }

    /// <summary>A file ID bound to a name is neither pending nor orphaned any more.</summary>
    private static Task ClaimFileIdAsync(Session s, string fileId, CancellationToken ct) =>
        ExecAsync(s, "DELETE FROM ns_gc WHERE file_id = @p0", ct, fileId).AsTask();

    /// <summary>Removes one link to an inode; at zero the inode, its xattrs and (for files) its content go.</summary>
    private async Task DropLinkAsync(Session s, Inode inode, long now, CancellationToken ct)
    {
        if (inode.IsDirectory || inode.Nlink <= 1)
        {
            await ExecAsync(s, "DELETE FROM ns_inodes WHERE id = @p0", ct, inode.Id);
            await ExecAsync(s, "DELETE FROM ns_xattrs WHERE inode = @p0", ct, inode.Id);
            await OrphanAsync(s, inode.FileId, now, ct);
        }
        else
        {
            await ExecAsync(s, "UPDATE ns_inodes SET nlink = nlink - 1, ctime = @p1, gen = gen + 1 WHERE id = @p0", ct, inode.Id, now);
        }
    }

    private static async Task<bool> IsEmptyAsync(Session s, long dir, CancellationToken ct) =>
        await ScalarAsync(s, "SELECT 1 FROM ns_entries WHERE parent = @p0 LIMIT 1", ct, dir) is null;

    /// <summary>True when <paramref name="dir"/> is <paramref name="ancestor"/> or below it (walks up the entries).</summary>
    private static async Task<bool> IsWithinAsync(Session s, long dir, long ancestor, CancellationToken ct)
    {
        for (long current = dir; ;)
        {
            if (current == ancestor)
            {
                return true;
            }

            object? parent = await ScalarAsync(s, "SELECT parent FROM ns_entries WHERE inode = @p0 LIMIT 1", ct, current);
            if (parent is null)
            {
                return false;
            }

            current = Convert.ToInt64(parent, System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    // ---- reads ---------------------------------------------------------------------------------------------

    public async ValueTask<NsAttributes> RootAsync(string group, CancellationToken cancellationToken)
    {
        CheckGroup(group);
        var existing = await ReadAsync((s, ct) => FindRootAsync(s, group, ct), cancellationToken);
        if (existing is { } found)
        {
            return found;
        }

        return await WriteAsync(async (s, ct) =>
        {
            if (await FindRootAsync(s, group, ct) is { } raced)
            {
                return raced;
            }

            long now = UnixTime.NowNanoseconds();
            long id = await InsertInodeAsync(s, group, NamespaceMode.Directory | 0x1ED, 0, 0, 2, DirectorySize, now, null, null, 0, ct);
            await ExecAsync(s, "INSERT INTO ns_groups (grp, root) VALUES (@p0, @p1)", ct, group, id);
            return (await InodeAsync(s, id, ct)).ToAttributes();
        }, cancellationToken);
    }

    private static async Task<NsAttributes?> FindRootAsync(Session s, string group, CancellationToken ct)
    {
        await using var r = await ReaderAsync(s,
            $"SELECT {InodeColumnsOfI} FROM ns_groups g JOIN ns_inodes i ON i.id = g.root WHERE g.grp = @p0", ct, group);
        return await r.ReadAsync(ct) ? Inode.Read(r).ToAttributes() : null;
    }


    public ValueTask<NsAttributes> LookupAsync(long parent, byte[] name, CancellationToken cancellationToken)
    {
        CheckName(name);
        return ReadAsync(async (s, ct) =>
        {
            await using (var r = await ReaderAsync(s,
                $"SELECT {InodeColumnsOfI} FROM ns_entries e JOIN ns_inodes i ON i.id = e.inode WHERE e.parent = @p0 AND e.name = @p1",
                ct, parent, name))
            {
                if (await r.ReadAsync(ct))
                {
                    return Inode.Read(r).ToAttributes();
                }
            }

            // Not there: tell ENOENT from a parent that is missing or not a directory.
            await DirectoryAsync(s, parent, ct);
            throw NamespaceException.NotFound("name");
        }, cancellationToken);
    }

    public ValueTask<NsAttributes> GetAttrAsync(long inode, CancellationToken cancellationToken) =>
        ReadAsync(async (s, ct) => (await InodeAsync(s, inode, ct)).ToAttributes(), cancellationToken);

    public ValueTask<NsDirPage> ReadDirAsync(long inode, long cookie, int maxEntries, bool withAttributes, CancellationToken cancellationToken)
    {
        maxEntries = Math.Clamp(maxEntries, 1, 4096);
        return ReadAsync(async (s, ct) =>
        {
            await DirectoryAsync(s, inode, ct);
            var rows = new List<NsDirRow>(Math.Min(maxEntries, 1024));
            string sql = withAttributes
                ? $"SELECT e.id, e.name, {InodeColumnsOfI} FROM ns_entries e JOIN ns_inodes i ON i.id = e.inode " +
                  "WHERE e.parent = @p0 AND e.id > @p1 ORDER BY e.id LIMIT @p2"
                : "SELECT e.id, e.name, e.inode, i.mode FROM ns_entries e JOIN ns_inodes i ON i.id = e.inode " +
                  "WHERE e.parent = @p0 AND e.id > @p1 ORDER BY e.id LIMIT @p2";
            bool more = false;
            await using (var r = await ReaderAsync(s, sql, ct, inode, cookie, (long)maxEntries + 1))
            {
                while (await r.ReadAsync(ct))
                {
                    if (rows.Count == maxEntries)
                    {
                        more = true;
                        break;
                    }

                    long entry = r.GetInt64(0);
                    byte[] name = (byte[])r.GetValue(1);
                    var attributes = withAttributes
                        ? Inode.Read(r, 2).ToAttributes()
                        : new NsAttributes(r.GetInt64(2), 0, (uint)r.GetInt64(3), 0, 0, 0, 0, 0, 0, 0, null);
                    rows.Add(new NsDirRow(entry, name, attributes));
                }
            }

            return new NsDirPage(rows, !more);
        }, cancellationToken);
    }

    public ValueTask<byte[]> ReadLinkAsync(long inode, CancellationToken cancellationToken) =>
        ReadAsync(async (s, ct) =>
        {
            await using var r = await ReaderAsync(s, "SELECT mode, target FROM ns_inodes WHERE id = @p0", ct, inode);
            if (!await r.ReadAsync(ct))
            {
                throw NamespaceException.NotFound($"inode {inode}");
            }

            return NamespaceMode.IsSymlink((uint)r.GetInt64(0)) && !r.IsDBNull(1)
                ? (byte[])r.GetValue(1)
                : throw new NamespaceException(FdfsErrno.EINVAL, "not a symlink");
        }, cancellationToken);

    public ValueTask<byte[]> GetXattrAsync(long inode, byte[] name, CancellationToken cancellationToken)
    {
        CheckXattrName(name);
        return ReadAsync(async (s, ct) =>
        {
            if (await ScalarAsync(s, "SELECT value FROM ns_xattrs WHERE inode = @p0 AND name = @p1", ct, inode, name) is byte[] value)
            {
                return value;
            }

            await InodeAsync(s, inode, ct);
            throw new NamespaceException(NamespaceErrno.ENODATA, "no such attribute");
        }, cancellationToken);
    }

    public ValueTask<IReadOnlyList<byte[]>> ListXattrAsync(long inode, CancellationToken cancellationToken) =>
        ReadAsync<IReadOnlyList<byte[]>>(async (s, ct) =>
        {
            await InodeAsync(s, inode, ct);
            var names = new List<byte[]>();
            await using var r = await ReaderAsync(s, "SELECT name FROM ns_xattrs WHERE inode = @p0 ORDER BY name", ct, inode);
            while (await r.ReadAsync(ct))
            {
                names.Add((byte[])r.GetValue(0));
            }

            return names;
        }, cancellationToken);

    public ValueTask<NsStatFs> StatFsAsync(string group, CancellationToken cancellationToken)
    {
        CheckGroup(group);
        return ReadAsync(async (s, ct) =>
        {
            long dirs = 0, files = 0, links = 0, bytes = 0;
            await using (var r = await ReaderAsync(s,
                "SELECT mode & 61440, COUNT(*), COALESCE(SUM(size), 0) FROM ns_inodes WHERE grp = @p0 GROUP BY mode & 61440", ct, group))
            {
                while (await r.ReadAsync(ct))
                {
                    long count = r.GetInt64(1);
                    switch ((uint)r.GetInt64(0))
                    {
                        case NamespaceMode.Directory:
                            dirs += count;
                            break;
                        case NamespaceMode.Symlink:
                            links += count;
                            break;
                        default:
                            files += count;
                            bytes += r.GetInt64(2);
                            break;
                    }
                }
            }

            long queued = await LongAsync(ScalarAsync(s, "SELECT COUNT(*) FROM ns_gc", ct));
            return new NsStatFs(NamespaceId, dirs, files, links, bytes, queued);
        }, cancellationToken);
    }

    public ValueTask<IReadOnlyList<NsNameRow>> FindByFileIdAsync(string fileId, CancellationToken cancellationToken) =>
        ReadAsync<IReadOnlyList<NsNameRow>>(async (s, ct) =>
        {
            var names = new List<NsNameRow>();
            await using var r = await ReaderAsync(s,
                "SELECT e.parent, e.inode, e.name FROM ns_inodes i JOIN ns_entries e ON e.inode = i.id WHERE i.file_id = @p0 ORDER BY e.id",
                ct, fileId);
            while (await r.ReadAsync(ct))
            {
                names.Add(new NsNameRow(r.GetInt64(0), r.GetInt64(1), (byte[])r.GetValue(2)));
            }

            return names;
        }, cancellationToken);

    // ---- creation ------------------------------------------------------------------------------------------

    /// <summary>Checks (in one query) that the parent is a directory and the name is free; returns the parent's group.</summary>
    private static async Task<string> PrepareNewNameAsync(Session s, long parent, byte[] name, CancellationToken ct)
    {
        await using var r = await ReaderAsync(s,
            "SELECT i.mode, i.grp, (SELECT 1 FROM ns_entries e WHERE e.parent = i.id AND e.name = @p1) FROM ns_inodes i WHERE i.id = @p0",
            ct, parent, name);
        if (!await r.ReadAsync(ct))
        {
            throw NamespaceException.NotFound($"inode {parent}");
        }

        if (!NamespaceMode.IsDirectory((uint)r.GetInt64(0)))
        {
            throw new NamespaceException(NamespaceErrno.ENOTDIR, $"inode {parent} is not a directory");
        }

        return r.IsDBNull(2) ? r.GetString(1) : throw new NamespaceException(FdfsErrno.EEXIST, "name exists");
    }

    public ValueTask<NsAttributes> MkDirAsync(long parent, byte[] name, uint mode, uint uid, uint gid, CancellationToken cancellationToken)
    {
        CheckName(name);
        return WriteAsync(async (s, ct) =>
        {
            string group = await PrepareNewNameAsync(s, parent, name, ct);
            long now = UnixTime.NowNanoseconds();
            uint fullMode = NamespaceMode.Directory | (mode & NamespaceMode.PermissionMask);
            long id = await InsertInodeAsync(s, group, fullMode, uid, gid, 2, DirectorySize, now, null, null, 0, ct);
            await InsertEntryAsync(s, parent, name, id, ct);
            await TouchDirectoryAsync(s, parent, now, 1, ct);
            return new NsAttributes(id, 1, fullMode, uid, gid, 2, DirectorySize, now, now, now, null);
        }, cancellationToken);
    }

    public ValueTask<NsAttributes> CreateAsync(
        long parent, byte[] name, uint mode, uint uid, uint gid, string? fileId, long size, uint rdev, CancellationToken cancellationToken)
    {
        CheckName(name);
        uint type = mode & NamespaceMode.TypeMask;
        if (type == 0)
        {
            type = NamespaceMode.Regular;
        }

        if (type is NamespaceMode.Directory or NamespaceMode.Symlink || (type != NamespaceMode.Regular && fileId is not null) || size < 0)
        {
            throw new NamespaceException(FdfsErrno.EINVAL, "create makes files and special nodes only");
        }

        if (fileId is not null)
        {
            CheckFileId(fileId);
        }

        return WriteAsync(async (s, ct) =>
        {
            string group = await PrepareNewNameAsync(s, parent, name, ct);
            long now = UnixTime.NowNanoseconds();
            uint fullMode = type | (mode & NamespaceMode.PermissionMask);
            long fileSize = fileId is null ? 0 : size;
            uint deviceNumber = NamespaceMode.IsDevice(fullMode) ? rdev : 0; // ext4 keeps a number for devices only, ignoring it otherwise
            long id = await InsertInodeAsync(s, group, fullMode, uid, gid, 1, fileSize, now, fileId, null, deviceNumber, ct);
            await InsertEntryAsync(s, parent, name, id, ct);
            await TouchDirectoryAsync(s, parent, now, 0, ct);
            if (fileId is not null)
            {
                await ClaimFileIdAsync(s, fileId, ct);
            }

            return new NsAttributes(id, 1, fullMode, uid, gid, 1, fileSize, now, now, now, fileId, deviceNumber);
        }, cancellationToken);
    }

    public ValueTask<NsAttributes> SymlinkAsync(long parent, byte[] name, byte[] target, uint uid, uint gid, CancellationToken cancellationToken)
    {
        CheckName(name);
        if (target.Length == 0)
        {
            throw NamespaceException.NotFound("empty symlink target");
        }

        if (target.Length > NamespaceLimits.MaxSymlinkLength)
        {
            throw new NamespaceException(FdfsErrno.ENAMETOOLONG, "symlink target too long");
        }

        return WriteAsync(async (s, ct) =>
        {
            string group = await PrepareNewNameAsync(s, parent, name, ct);
            long now = UnixTime.NowNanoseconds();
            long id = await InsertInodeAsync(s, group, NamespaceMode.Symlink | 0x1FF, uid, gid, 1, target.Length, now, null, target, 0, ct);
            await InsertEntryAsync(s, parent, name, id, ct);
            await TouchDirectoryAsync(s, parent, now, 0, ct);
            return new NsAttributes(id, 1, NamespaceMode.Symlink | 0x1FF, uid, gid, 1, target.Length, now, now, now, null);
        }, cancellationToken);
    }

    public ValueTask<NsAttributes> LinkAsync(long inode, long newParent, byte[] newName, CancellationToken cancellationToken)
    {
        CheckName(newName);
        return WriteAsync(async (s, ct) =>
        {
            var target = await InodeAsync(s, inode, ct);
            if (target.IsDirectory)
            {
                throw new NamespaceException(FdfsErrno.EPERM, "hard links to directories are not allowed");
            }

            string group = await PrepareNewNameAsync(s, newParent, newName, ct);
            if (group != target.Group)
            {
                throw new NamespaceException(NamespaceErrno.EXDEV, "link across groups");
            }

            if (target.Nlink >= NamespaceLimits.MaxLinks)
            {
                throw new NamespaceException(NamespaceErrno.EMLINK, "too many links");
            }

            long now = UnixTime.NowNanoseconds();
            await InsertEntryAsync(s, newParent, newName, inode, ct);
            await ExecAsync(s, "UPDATE ns_inodes SET nlink = nlink + 1, ctime = @p1, gen = gen + 1 WHERE id = @p0", ct, inode, now);
            await TouchDirectoryAsync(s, newParent, now, 0, ct);
            return (await InodeAsync(s, inode, ct)).ToAttributes();
        }, cancellationToken);
    }

    // ---- removal -------------------------------------------------------------------------------------------

    public ValueTask UnlinkAsync(long parent, byte[] name, CancellationToken cancellationToken) =>
        RemoveAsync(parent, name, directory: false, cancellationToken);

    public ValueTask RmDirAsync(long parent, byte[] name, CancellationToken cancellationToken) =>
        RemoveAsync(parent, name, directory: true, cancellationToken);

    private async ValueTask RemoveAsync(long parent, byte[] name, bool directory, CancellationToken cancellationToken)
    {
        CheckName(name);
        await WriteAsync(async (s, ct) =>
        {
            await DirectoryAsync(s, parent, ct);
            var entry = await FindEntryAsync(s, parent, name, ct) ?? throw NamespaceException.NotFound("name");
            var inode = await InodeAsync(s, entry.Inode, ct);
            if (directory && !inode.IsDirectory)
            {
                throw new NamespaceException(NamespaceErrno.ENOTDIR, "not a directory");
            }

            if (!directory && inode.IsDirectory)
            {
                throw new NamespaceException(FdfsErrno.EISDIR, "is a directory");
            }

            if (directory && !await IsEmptyAsync(s, inode.Id, ct))
            {
                throw new NamespaceException(NamespaceErrno.ENOTEMPTY, "directory not empty");
            }

            long now = UnixTime.NowNanoseconds();
            await ExecAsync(s, "DELETE FROM ns_entries WHERE id = @p0", ct, entry.Entry);
            await DropLinkAsync(s, inode, now, ct);
            await TouchDirectoryAsync(s, parent, now, directory ? -1 : 0, ct);
            return true;
        }, cancellationToken);
    }

    public async ValueTask RenameAsync(
        long parent, byte[] name, long newParent, byte[] newName, NamespaceRenameFlags flags, CancellationToken cancellationToken)
    {
        CheckName(name);
        CheckName(newName);
        if ((flags & ~(NamespaceRenameFlags.NoReplace | NamespaceRenameFlags.Exchange)) != 0
            || flags == (NamespaceRenameFlags.NoReplace | NamespaceRenameFlags.Exchange))
        {
            throw new NamespaceException(FdfsErrno.EINVAL, "invalid rename flags");
        }

        await WriteAsync(async (s, ct) =>
        {
            var from = await DirectoryAsync(s, parent, ct);
            var to = newParent == parent ? from : await DirectoryAsync(s, newParent, ct);
            var source = await FindEntryAsync(s, parent, name, ct) ?? throw NamespaceException.NotFound("name");
            if (from.Group != to.Group)
            {
                throw new NamespaceException(NamespaceErrno.EXDEV, "rename across groups");
            }

            var target = await FindEntryAsync(s, newParent, newName, ct);
            if (flags.HasFlag(NamespaceRenameFlags.Exchange) && target is null)
            {
                throw NamespaceException.NotFound("exchange target");
            }

            if (target is { } t0 && (t0.Entry == source.Entry || t0.Inode == source.Inode))
            {
                return true; // the same file under both names: rename does nothing (POSIX)
            }

            var moving = await InodeAsync(s, source.Inode, ct);
            if (moving.IsDirectory && await IsWithinAsync(s, newParent, moving.Id, ct))
            {
                throw new NamespaceException(FdfsErrno.EINVAL, "cannot move a directory into itself");
            }

            long now = UnixTime.NowNanoseconds();
            if (target is { } t)
            {
                if (flags.HasFlag(NamespaceRenameFlags.NoReplace))
                {
                    throw new NamespaceException(FdfsErrno.EEXIST, "target exists");
                }

                var replaced = await InodeAsync(s, t.Inode, ct);
                if (flags.HasFlag(NamespaceRenameFlags.Exchange))
                {
                    if (replaced.IsDirectory && await IsWithinAsync(s, parent, replaced.Id, ct))
                    {
                        throw new NamespaceException(FdfsErrno.EINVAL, "cannot move a directory into itself");
                    }

                    await ExecAsync(s, "UPDATE ns_entries SET inode = @p1 WHERE id = @p0", ct, source.Entry, replaced.Id);
                    await ExecAsync(s, "UPDATE ns_entries SET inode = @p1 WHERE id = @p0", ct, t.Entry, moving.Id);
                    int delta = (moving.IsDirectory ? 1 : 0) - (replaced.IsDirectory ? 1 : 0);
                    await TouchDirectoryAsync(s, parent, now, parent == newParent ? 0 : -delta, ct);
                    if (newParent != parent)
                    {
                        await TouchDirectoryAsync(s, newParent, now, delta, ct);
                    }

                    await ExecAsync(s, "UPDATE ns_inodes SET ctime = @p2, gen = gen + 1 WHERE id = @p0 OR id = @p1", ct, moving.Id, replaced.Id, now);
                    return true;
                }

                if (moving.IsDirectory && !replaced.IsDirectory)
                {
                    throw new NamespaceException(NamespaceErrno.ENOTDIR, "target is not a directory");
                }

                if (!moving.IsDirectory && replaced.IsDirectory)
                {
                    throw new NamespaceException(FdfsErrno.EISDIR, "target is a directory");
                }

                if (replaced.IsDirectory && !await IsEmptyAsync(s, replaced.Id, ct))
                {
                    throw new NamespaceException(NamespaceErrno.ENOTEMPTY, "target directory not empty");
                }

                await ExecAsync(s, "DELETE FROM ns_entries WHERE id = @p0", ct, t.Entry);
                await DropLinkAsync(s, replaced, now, ct);
                if (replaced.IsDirectory)
                {
                    await TouchDirectoryAsync(s, newParent, now, -1, ct);
                }
            }

            await ExecAsync(s, "UPDATE ns_entries SET parent = @p1, name = @p2 WHERE id = @p0", ct, source.Entry, newParent, newName);
            await ExecAsync(s, "UPDATE ns_inodes SET ctime = @p1, gen = gen + 1 WHERE id = @p0", ct, moving.Id, now);
            int moved = moving.IsDirectory && parent != newParent ? 1 : 0;
            await TouchDirectoryAsync(s, parent, now, -moved, ct);
            if (newParent != parent)
            {
                await TouchDirectoryAsync(s, newParent, now, moved, ct);
            }

            return true;
        }, cancellationToken);
    }

    // ---- attributes and content ----------------------------------------------------------------------------

    public ValueTask<NsAttributes> SetAttrAsync(SetAttrRequest request, CancellationToken cancellationToken)
    {
        var mask = request.Mask;
        if (mask.HasFlag(NamespaceSetAttr.Size) && request.Size < 0)
        {
            throw new NamespaceException(FdfsErrno.EINVAL, "negative size");
        }

        return WriteAsync(async (s, ct) =>
        {
            var inode = await InodeAsync(s, request.Inode, ct);
            long now = UnixTime.NowNanoseconds();
            if (mask.HasFlag(NamespaceSetAttr.Size))
            {
                if (inode.IsDirectory)
                {
                    throw new NamespaceException(FdfsErrno.EISDIR, "is a directory");
                }

                if (!NamespaceMode.IsRegular(inode.Mode))
                {
                    throw new NamespaceException(FdfsErrno.EINVAL, "size of a non-regular file");
                }

                inode.Size = request.Size;
                inode.Mtime = now; // truncate changes mtime (unless the caller sets it below)
            }

            if (mask.HasFlag(NamespaceSetAttr.Mode))
            {
                inode.Mode = (inode.Mode & NamespaceMode.TypeMask) | (request.Mode & NamespaceMode.PermissionMask);
            }

            if (mask.HasFlag(NamespaceSetAttr.Uid))
            {
                inode.Uid = request.Uid;
            }

            if (mask.HasFlag(NamespaceSetAttr.Gid))
            {
                inode.Gid = request.Gid;
            }

            if (mask.HasFlag(NamespaceSetAttr.Atime) || mask.HasFlag(NamespaceSetAttr.AtimeNow))
            {
                inode.Atime = mask.HasFlag(NamespaceSetAttr.AtimeNow) ? now : request.AtimeNs;
            }

            if (mask.HasFlag(NamespaceSetAttr.Mtime) || mask.HasFlag(NamespaceSetAttr.MtimeNow))
            {
                inode.Mtime = mask.HasFlag(NamespaceSetAttr.MtimeNow) ? now : request.MtimeNs;
            }

            inode.Ctime = mask.HasFlag(NamespaceSetAttr.Ctime) ? request.CtimeNs : now;
            inode.Gen++;
            await ExecAsync(s,
                "UPDATE ns_inodes SET mode = @p1, uid = @p2, gid = @p3, size = @p4, atime = @p5, mtime = @p6, ctime = @p7, gen = @p8 WHERE id = @p0",
                ct, inode.Id, (long)inode.Mode, (long)inode.Uid, (long)inode.Gid, inode.Size, inode.Atime, inode.Mtime, inode.Ctime, inode.Gen);
            return inode.ToAttributes();
        }, cancellationToken);
    }

    public ValueTask<NsAttributes> SetContentAsync(long inode, string fileId, long size, long mtimeNs, CancellationToken cancellationToken)
    {
        CheckFileId(fileId);
        if (size < 0)
        {
            throw new NamespaceException(FdfsErrno.EINVAL, "negative size");
        }

        return WriteAsync(async (s, ct) =>
        {
            var node = await InodeAsync(s, inode, ct);
            if (node.IsDirectory)
            {
                throw new NamespaceException(FdfsErrno.EISDIR, "is a directory");
            }

            if (!NamespaceMode.IsRegular(node.Mode))
            {
                throw new NamespaceException(FdfsErrno.EINVAL, "not a regular file");
            }

            long now = UnixTime.NowNanoseconds();
            string? old = node.FileId;
            node.FileId = fileId;
            node.Size = size;
            node.Mtime = mtimeNs == 0 ? now : mtimeNs;
            node.Ctime = now;
            node.Gen++;
            await ExecAsync(s, "UPDATE ns_inodes SET file_id = @p1, size = @p2, mtime = @p3, ctime = @p4, gen = @p5 WHERE id = @p0",
                ct, inode, fileId, size, node.Mtime, now, node.Gen);
            await ClaimFileIdAsync(s, fileId, ct);
            if (old != fileId)
            {
                await OrphanAsync(s, old, now, ct);
            }

            return node.ToAttributes();
        }, cancellationToken);
    }

    // ---- xattrs --------------------------------------------------------------------------------------------

    private static void CheckXattrName(byte[] name)
    {
        if (name.Length is 0 or > NamespaceLimits.MaxXattrNameLength || name.AsSpan().IndexOf((byte)0) >= 0)
        {
            throw new NamespaceException(NamespaceErrno.ERANGE, "invalid attribute name");
        }
    }

    public async ValueTask SetXattrAsync(long inode, byte[] name, byte[] value, NamespaceXattrFlags flags, CancellationToken cancellationToken)
    {
        CheckXattrName(name);
        if (value.Length > NamespaceLimits.MaxXattrValueLength)
        {
            throw new NamespaceException(NamespaceErrno.E2BIG, "attribute value too large");
        }

        if ((flags & ~(NamespaceXattrFlags.Create | NamespaceXattrFlags.Replace)) != 0 || flags == (NamespaceXattrFlags.Create | NamespaceXattrFlags.Replace))
        {
            throw new NamespaceException(FdfsErrno.EINVAL, "invalid xattr flags");
        }

        await WriteAsync(async (s, ct) =>
        {
            await InodeAsync(s, inode, ct);
            bool exists = await ScalarAsync(s, "SELECT 1 FROM ns_xattrs WHERE inode = @p0 AND name = @p1", ct, inode, name) is not null;
            if (exists && flags.HasFlag(NamespaceXattrFlags.Create))
            {
                throw new NamespaceException(FdfsErrno.EEXIST, "attribute exists");
            }

            if (!exists && flags.HasFlag(NamespaceXattrFlags.Replace))
            {
                throw new NamespaceException(NamespaceErrno.ENODATA, "no such attribute");
            }

            await ExecAsync(s, exists
                ? "UPDATE ns_xattrs SET value = @p2 WHERE inode = @p0 AND name = @p1"
                : "INSERT INTO ns_xattrs (inode, name, value) VALUES (@p0, @p1, @p2)", ct, inode, name, value);
            await ExecAsync(s, "UPDATE ns_inodes SET ctime = @p1, gen = gen + 1 WHERE id = @p0", ct, inode, UnixTime.NowNanoseconds());
            return true;
        }, cancellationToken);
    }

    public async ValueTask RemoveXattrAsync(long inode, byte[] name, CancellationToken cancellationToken)
    {
        CheckXattrName(name);
        await WriteAsync(async (s, ct) =>
        {
            await InodeAsync(s, inode, ct);
            if (await ExecAsync(s, "DELETE FROM ns_xattrs WHERE inode = @p0 AND name = @p1", ct, inode, name) == 0)
            {
                throw new NamespaceException(NamespaceErrno.ENODATA, "no such attribute");
            }

            await ExecAsync(s, "UPDATE ns_inodes SET ctime = @p1, gen = gen + 1 WHERE id = @p0", ct, inode, UnixTime.NowNanoseconds());
            return true;
        }, cancellationToken);
    }

    // ---- garbage collection --------------------------------------------------------------------------------

    public async ValueTask RegisterPendingAsync(string fileId, TimeSpan lease, CancellationToken cancellationToken)
    {
        CheckFileId(fileId);
        await WriteAsync(async (s, ct) =>
        {
            if (await ScalarAsync(s, "SELECT 1 FROM ns_inodes WHERE file_id = @p0 LIMIT 1", ct, fileId) is null)
            {
                await ExecAsync(s,
                    "INSERT INTO ns_gc (file_id, pending, due, attempts) VALUES (@p0, 1, @p1, 0) " +
                    "ON CONFLICT (file_id) DO UPDATE SET pending = 1, due = excluded.due",
                    ct, fileId, UnixTime.NowNanoseconds() + (lease.Ticks * 100));
            }

            return true;
        }, cancellationToken);
    }

    public async ValueTask ForgetPendingAsync(string fileId, CancellationToken cancellationToken) =>
        await WriteAsync(async (s, ct) => await ExecAsync(s, "DELETE FROM ns_gc WHERE file_id = @p0 AND pending = 1", ct, fileId), cancellationToken);

    public ValueTask<IReadOnlyList<NsOrphan>> ClaimOrphansAsync(int max, TimeSpan claimFor, CancellationToken cancellationToken) =>
        WriteAsync<IReadOnlyList<NsOrphan>>(async (s, ct) =>
        {
            long now = UnixTime.NowNanoseconds();
            var due = new List<NsOrphan>();
            await using (var r = await ReaderAsync(s, "SELECT file_id, attempts, pending FROM ns_gc WHERE due <= @p0 ORDER BY due LIMIT @p1", ct, now, (long)max))
            {
                while (await r.ReadAsync(ct))
                {
                    due.Add(new NsOrphan(r.GetString(0), (int)r.GetInt64(1), r.GetInt64(2) != 0));
                }
            }

            var claimed = new List<NsOrphan>(due.Count);
            foreach (var orphan in due)
            {
                if (await ScalarAsync(s, "SELECT 1 FROM ns_inodes WHERE file_id = @p0 LIMIT 1", ct, orphan.FileId) is not null)
                {
                    await ClaimFileIdAsync(s, orphan.FileId, ct);
                    continue;
                }

                await ExecAsync(s, "UPDATE ns_gc SET due = @p1, attempts = attempts + 1 WHERE file_id = @p0", ct, orphan.FileId, now + (claimFor.Ticks * 100));
                claimed.Add(orphan);
            }

            return claimed;
        }, cancellationToken);

    public async ValueTask CompleteOrphanAsync(string fileId, CancellationToken cancellationToken) =>
        await WriteAsync(async (s, ct) => await ExecAsync(s, "DELETE FROM ns_gc WHERE file_id = @p0", ct, fileId), cancellationToken);

    public async ValueTask RetryOrphanAsync(string fileId, TimeSpan delay, string error, CancellationToken cancellationToken) =>
        await WriteAsync(async (s, ct) => await ExecAsync(s, "UPDATE ns_gc SET due = @p1, last_error = @p2 WHERE file_id = @p0",
            ct, fileId, UnixTime.NowNanoseconds() + (delay.Ticks * 100), error.Length > 500 ? error[..500] : error), cancellationToken);
}
