using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FastDfs.Namespace;

/// <summary>What the host tells the directory service (the tracker maps its tracker.conf keys to this).</summary>
/// <param name="Store">Empty: SQLite in <paramref name="DataDirectory"/>; otherwise a PostgreSQL connection string or URI.</param>
/// <param name="DataDirectory">Where the SQLite file lives (the tracker's base_path/data).</param>
/// <param name="OrphanDelay">How long content stays after it lost its last name.</param>
/// <param name="CollectInterval">How often the orphan collector looks for due work.</param>
public sealed record NamespaceSettings(string Store, string DataDirectory, TimeSpan OrphanDelay, TimeSpan CollectInterval)
{
    public const string SqliteFileName = "namespace.db";

    public bool UsesPostgres => Store.Length > 0;

    public INamespaceStore CreateStore(ILogger? logger = null) => UsesPostgres
        ? new PostgresNamespaceStore(Store, OrphanDelay)
        : new SqliteNamespaceStore(Path.Combine(DataDirectory, SqliteFileName), OrphanDelay, logger);
}

/// <summary>
/// The directory service inside a daemon: opens (and migrates) the store at start, exposes the request handler for the
/// host to plug into its dispatch, and runs the orphan collector until stop. Register it before the service that
/// starts listening, so the store is ready before the first request.
/// </summary>
public sealed class NamespaceService : IHostedService, IAsyncDisposable
{
    private readonly NamespaceSettings _settings;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _collecting;

    public NamespaceService(NamespaceSettings settings, OrphanCollector.DeleteFile deleteFile, ILogger<NamespaceService> logger)
    {
        _settings = settings;
        _logger = logger;
        Store = settings.CreateStore(logger);
        Handler = new NamespaceRequestHandler(Store, logger);
        Collector = new OrphanCollector(Store, deleteFile, settings.CollectInterval, logger);
    }

    public INamespaceStore Store { get; }

    public NamespaceRequestHandler Handler { get; }

    public OrphanCollector Collector { get; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await Store.InitializeAsync(cancellationToken);
        string location = Store is SqliteNamespaceStore sqlite ? sqlite.Path : "(postgresql)";
        NamespaceLog.StoreOpened(_logger, _settings.UsesPostgres ? "postgresql" : "sqlite", location, Store.NamespaceId);
        _collecting = Task.Run(() => Collector.RunAsync(_stopping.Token), CancellationToken.None);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_collecting is not null)
        {
            await _collecting.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync();
        _stopping.Dispose();
    }
}
