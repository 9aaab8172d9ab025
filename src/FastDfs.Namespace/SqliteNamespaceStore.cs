using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace FastDfs.Namespace;

/// <summary>
/// The embedded store: one SQLite file in WAL mode. One writer connection (writes are serialized in-process, so
/// SQLite never reports busy) and a few reader connections that read committed snapshots concurrently. Every
/// connection keeps its commands prepared, keyed by SQL text. The writer never checkpoints when it commits: every
/// <see cref="CheckpointEvery"/> commits a thread-pool task does, so a commit (which the request handler may run on a
/// socket thread) only appends to the WAL and never waits for the checkpoint's fsyncs.
/// </summary>
public sealed class SqliteNamespaceStore : SqlNamespaceStore
{
    private const int MaxIdleReaders = 8;

    /// <summary>Commits between checkpoints: a small write adds about 8 pages to the WAL, so about SQLite's own 1,000-page default.</summary>
    private const int CheckpointEvery = 128;

    private static readonly string[] SchemaV1 =
    [
        "CREATE TABLE ns_inodes (id INTEGER PRIMARY KEY AUTOINCREMENT, grp TEXT NOT NULL, mode INTEGER NOT NULL, uid INTEGER NOT NULL, " +
        "gid INTEGER NOT NULL, nlink INTEGER NOT NULL, size INTEGER NOT NULL, atime INTEGER NOT NULL, mtime INTEGER NOT NULL, " +
        "ctime INTEGER NOT NULL, gen INTEGER NOT NULL, file_id TEXT, target BLOB)",
        "CREATE INDEX ns_inodes_file_id ON ns_inodes (file_id)",
        "CREATE INDEX ns_inodes_grp ON ns_inodes (grp)",
        "CREATE TABLE ns_entries (id INTEGER PRIMARY KEY AUTOINCREMENT, parent INTEGER NOT NULL, name BLOB NOT NULL, inode INTEGER NOT NULL)",
        "CREATE UNIQUE INDEX ns_entries_name ON ns_entries (parent, name)",
        "CREATE INDEX ns_entries_page ON ns_entries (parent, id)",
        "CREATE INDEX ns_entries_inode ON ns_entries (inode)",
        "CREATE TABLE ns_xattrs (inode INTEGER NOT NULL, name BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (inode, name)) WITHOUT ROWID",
        "CREATE TABLE ns_groups (grp TEXT PRIMARY KEY, root INTEGER NOT NULL)",
        "CREATE TABLE ns_gc (file_id TEXT PRIMARY KEY, pending INTEGER NOT NULL, due INTEGER NOT NULL, attempts INTEGER NOT NULL, last_error TEXT)",
        "CREATE INDEX ns_gc_due ON ns_gc (due)",
    ];

    /// <summary>Version 2: device numbers of character and block devices (0 for every node a version 1 store made).</summary>
    private static readonly string[] SchemaV2 =
    [
        "ALTER TABLE ns_inodes ADD COLUMN rdev INTEGER NOT NULL DEFAULT 0",
    ];

    /// <summary>Version 3: lock sessions and cluster-wide file locks (SqlNamespaceStore.Locks).</summary>
    private static readonly string[] SchemaV3 =
    [
        "CREATE TABLE ns_lock_sessions (id INTEGER PRIMARY KEY AUTOINCREMENT, expires INTEGER NOT NULL)",
        "CREATE TABLE ns_locks (inode INTEGER NOT NULL, session INTEGER NOT NULL, owner INTEGER NOT NULL, kind INTEGER NOT NULL, " +
        "type INTEGER NOT NULL, first_byte INTEGER NOT NULL, last_byte INTEGER NOT NULL, pid INTEGER NOT NULL)",
        "CREATE INDEX ns_locks_inode ON ns_locks (inode, kind)",
        "CREATE INDEX ns_locks_session ON ns_locks (session)",
    ];

    /// <summary>Version 4: waiting F_SETLKW requests, for deadlock detection (SqlNamespaceStore.Locks).</summary>
    private static readonly string[] SchemaV4 =
    [
        "CREATE TABLE ns_lock_waits (session INTEGER NOT NULL, owner INTEGER NOT NULL, inode INTEGER NOT NULL, type INTEGER NOT NULL, " +
        "first_byte INTEGER NOT NULL, last_byte INTEGER NOT NULL, expires INTEGER NOT NULL)",
        "CREATE INDEX ns_lock_waits_owner ON ns_lock_waits (session, owner)",
    ];

    /// <summary>Step i brings a database from schema i to i + 1.</summary>
    private static readonly string[][] Migrations = [SchemaV1, SchemaV2, SchemaV3, SchemaV4];

    private static int SchemaVersion => Migrations.Length;

    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentBag<SqliteSession> _readers = [];
    private readonly ILogger? _logger;
    private SqliteSession? _writer;
    private int _commitsSinceCheckpoint; // under _writeLock
    private Task _checkpoint = Task.CompletedTask; // under _writeLock

    /// <param name="path">The database file (created when missing).</param>
    /// <param name="orphanDelay">How long content stays after losing its last name.</param>
    /// <param name="logger">Where a failed checkpoint is reported.</param>
    public SqliteNamespaceStore(string path, TimeSpan orphanDelay, ILogger? logger = null)
        : base(orphanDelay)
    {
        Path = path;
        _logger = logger;
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString();
    }

    public string Path { get; }

    public override bool IsBlocking => true;

    public override async Task InitializeAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!);
        _writer = Open(writer: true);
        using var tx = _writer.Connection.BeginTransaction();
        Run(_writer.Connection, tx, "CREATE TABLE IF NOT EXISTS ns_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
        int version = Convert.ToInt32(Scalar(_writer.Connection, tx, "SELECT value FROM ns_meta WHERE key = 'schema_version'") ?? "0",
            System.Globalization.CultureInfo.InvariantCulture);
        if (version > SchemaVersion)
        {
            throw new InvalidOperationException($"namespace database {Path} has schema {version}, newer than this tracker's {SchemaVersion}");
        }

        for (int step = version; step < SchemaVersion; step++)
        {
            foreach (string sql in Migrations[step])
            {
                Run(_writer.Connection, tx, sql);
            }
        }

        if (version < 1)
        {
            Run(_writer.Connection, tx, $"INSERT INTO ns_meta (key, value) VALUES ('namespace_id', '{Guid.NewGuid()}')");
        }

        if (version < SchemaVersion)
        {
            Run(_writer.Connection, tx, $"INSERT OR REPLACE INTO ns_meta (key, value) VALUES ('schema_version', '{SchemaVersion}')");
        }

        NamespaceId = Guid.Parse((string)Scalar(_writer.Connection, tx, "SELECT value FROM ns_meta WHERE key = 'namespace_id'")!);
        tx.Commit();
        await Task.CompletedTask;
    }

    private SqliteSession Open(bool writer = false)
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();

        // WAL: readers never block the writer; synchronous=NORMAL: a commit is durable against process crashes
        // (what a tracker restart needs) without an fsync per transaction. The writer's checkpoints are ours (Committed).
        Run(connection, null, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; " +
            "PRAGMA cache_size = -16000; PRAGMA temp_store = MEMORY" + (writer ? "; PRAGMA wal_autocheckpoint = 0" : ""));
        return new SqliteSession(this, connection);
    }

    /// <summary>The writer committed (under the write lock): every <see cref="CheckpointEvery"/> commits, a checkpoint on the thread pool.</summary>
    private void Committed()
    {
        if (++_commitsSinceCheckpoint >= CheckpointEvery && _checkpoint.IsCompleted)
        {
            _commitsSinceCheckpoint = 0;
            _checkpoint = Task.Run(CheckpointAsync);
        }
    }

    private async Task CheckpointAsync()
    {
        await _writeLock.WaitAsync();
        try
        {
            if (_writer is { } writer)
            {
                // PASSIVE, as SQLite's automatic checkpoint: copies what no reader still needs, never waits for readers.
                Run(writer.Connection, null, "PRAGMA wal_checkpoint(PASSIVE)");
            }
        }
        catch (SqliteException e)
        {
            if (_logger is not null)
            {
                NamespaceLog.CheckpointFailed(_logger, Path, e);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static void Run(SqliteConnection connection, SqliteTransaction? tx, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, SqliteTransaction? tx, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    protected override ValueTask<Session> OpenReadAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_writer is null, this);
        return ValueTask.FromResult<Session>(_readers.TryTake(out var reader) ? reader : Open());
    }

    protected override async ValueTask<Session> OpenWriteAsync(CancellationToken cancellationToken)
    {
        var writer = _writer ?? throw new ObjectDisposedException(nameof(SqliteNamespaceStore));
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            writer.Begin();
            return writer;
        }
        catch
        {
            _writeLock.Release();
            throw;
        }
    }

    protected override bool IsRetryable(DbException exception) =>
        exception is SqliteException { SqliteErrorCode: 5 or 6 }; // SQLITE_BUSY, SQLITE_LOCKED (another process)

    public override async ValueTask DisposeAsync()
    {
        var writer = _writer;
        _writer = null; // no new checkpoint starts, and a queued one finds no connection
        await _checkpoint;
        writer?.Close();
        while (_readers.TryTake(out var reader))
        {
            reader.Close();
        }
    }

    private void Released(SqliteSession session)
    {
        if (ReferenceEquals(session, _writer))
        {
            _writeLock.Release();
        }
        else if (_writer is null || _readers.Count >= MaxIdleReaders)
        {
            session.Close();
        }
        else
        {
            _readers.Add(session);
        }
    }

    private sealed class SqliteSession(SqliteNamespaceStore store, SqliteConnection connection) : Session
    {
        private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);
        private SqliteTransaction? _transaction;

        public SqliteConnection Connection { get; } = connection;

        public void Begin() => _transaction = Connection.BeginTransaction(deferred: false);

        public override DbCommand Command(string sql, int parameterCount)
        {
            if (!_commands.TryGetValue(sql, out var command))
            {
                command = Connection.CreateCommand();
                command.CommandText = sql;
                for (int i = 0; i < parameterCount; i++)
                {
                    command.Parameters.Add(new SqliteParameter { ParameterName = "@p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                }

                _commands.Add(sql, command);
            }

            command.Transaction = _transaction;
            return command;
        }

        public override ValueTask CommitAsync(CancellationToken cancellationToken)
        {
            if (_transaction is { } transaction)
            {
                transaction.Commit();
                transaction.Dispose();
                _transaction = null;
                if (ReferenceEquals(this, store._writer))
                {
                    store.Committed();
                }
            }

            return ValueTask.CompletedTask;
        }

        public override ValueTask DisposeAsync()
        {
            if (_transaction is not null)
            {
                _transaction.Rollback();
                _transaction.Dispose();
                _transaction = null;
            }

            store.Released(this);
            return ValueTask.CompletedTask;
        }

        public void Close()
        {
            foreach (var command in _commands.Values)
            {
                command.Dispose();
            }

            _commands.Clear();
            Connection.Dispose();
        }
    }
}
