using System.Net;
using FastDfs.Net;
using FastDfs.Protocol;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FastDfs.Tracker;

/// <summary>
/// The tracker daemon as a hosted service: loads the saved cluster state, serves the protocol through
/// <see cref="FdfsServer"/>, runs the heartbeat checker and saves the state (debounced) after changes and at stop.
/// </summary>
public sealed class TrackerService : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan SaveDebounce = TimeSpan.FromMilliseconds(200);

    private readonly TrackerOptions _options;
    private readonly ILogger _logger;
    private readonly ClusterStateStore _store;
    private readonly SemaphoreSlim _saveSignal = new(0);
    private readonly Lock _saveLock = new();
    private readonly CancellationTokenSource _stopping = new();
    private FdfsServer? _server;
    private LeaderElection? _election;
    private Task? _background;
    private int _dirty;

    public TrackerService(TrackerOptions options, ILogger<TrackerService> logger, TimeProvider? timeProvider = null)
    {
        _options = options;
        _logger = logger;
        _store = new ClusterStateStore(options);
        Registry = new ClusterRegistry(options, timeProvider);
        Registry.StateChanged += OnStateChanged;
    }

    public ClusterRegistry Registry { get; }

    /// <summary>Called with the request handler before the server starts, so a host can add extensions (the directory service).</summary>
    public Action<TrackerRequestHandler>? ConfigureHandler { get; set; }

    /// <summary>The bound address (with the real port when <c>port = 0</c>); null before start.</summary>
    public IPEndPoint? EndPoint => _server?.EndPoint;

    /// <summary>Where the cluster state is saved (storage_groups_new.dat; the other files sit next to it).</summary>
    public string StateFilePath => _store.GroupsPath;

    /// <summary>True while this tracker leads the tracker cluster (a lone tracker always does).</summary>
    public bool IsLeader => _election?.IsLeader ?? false;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = _options;
        TrackerLog.Banner(_logger, FdfsConstants.ServerVersion, o.BasePath, o.Port, o.BindAddr.Length == 0 ? "*" : o.BindAddr,
            (int)o.StoreLookup, o.StoreGroup, (int)o.StoreServer, (int)o.StorePath, (int)o.DownloadServer,
            o.ReservedStorageSpace.ToString(), (long)o.CheckActiveInterval.TotalSeconds, o.MaxConnections, string.Join(",", o.AllowHosts));
        if (o.UseStorageId && o.StorageIds is { } ids)
        {
            TrackerLog.StorageIdsLoaded(_logger, ids.Count, o.ResolveStorageIdsPath(), o.IdTypeInFilename == IdTypeInFilename.Id ? "id" : "ip");
        }

        Directory.CreateDirectory(_store.DataDirectory);
        var changelog = new StorageChangelog(_store.DataDirectory);
        changelog.WriteFailed = e => TrackerLog.ChangelogWriteFailed(_logger, changelog.FilePath, e);
        Registry.Changelog = changelog;
        long savedAt = LoadState();

        var handler = new TrackerRequestHandler(Registry, _logger);
        ConfigureHandler?.Invoke(handler);
        var (bindAddress, otherAddresses, dualStack) = ListenAddress.Choose(o.BindAddresses, o.AddressFamily);
        var peers = new TrackerPeers(_store.DataDirectory, bindAddress);

        // restart_interval (8.7): how long this tracker was down; a tracker that starts without state copies the leader's.
        var election = new LeaderElection(o, Registry, peers, _logger, savedAt > 0 ? Registry.StartTime - savedAt : 0, needsStateCopy: savedAt == 0);
        handler.Election = election;
        _election = election;
        var access = o.HostAccess.HostNames.Count > 0 ? o.HostAccess.WithResolvedHostNames(Resolve) : o.HostAccess;
        var server = new FdfsServer(new IPEndPoint(bindAddress, o.Port), handler, _logger, o.MaxConnections,
            access.AllowsAll ? null : access.IsAllowed)
        {
            DualStack = dualStack,
            AlsoListenOn = otherAddresses,
            NetworkTimeout = o.NetworkTimeout,
        };
        server.Start();
        _server = server;
        peers.Start(server.EndPoint.Port);
        election.Start();
        foreach (var endpoint in server.EndPoints)
        {
            TrackerLog.Listening(_logger, ListenAddress.Format(endpoint.Address), endpoint.Port);
        }
        _background = Task.WhenAll(LivenessLoopAsync(_stopping.Token), SaveLoopAsync(_stopping.Token));
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        TrackerLog.Stopping(_logger);
        if (_election is not null)
        {
            await _election.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.StopAsync(TimeSpan.FromSeconds(1));
        }

        await _stopping.CancelAsync();
        if (_background is not null)
        {
            await _background.ContinueWith(_ => { }, TaskScheduler.Default);
        }

        Interlocked.Exchange(ref _dirty, 1);
        SaveNow();
        TrackerLog.Stopped(_logger, _store.GroupsPath);
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _stopping.Dispose();
        _saveSignal.Dispose();
    }

    private static IPAddress[] Resolve(string host)
    {
        try
        {
            return Dns.GetHostAddresses(host);
        }
        catch (System.Net.Sockets.SocketException)
        {
            return [];
        }
    }

    /// <summary>Loads the saved state; returns when it was saved (0 when there was none).</summary>
    private long LoadState()
    {
        try
        {
            if (_store.Load() is { } state)
            {
                Registry.ImportState(state);
                int storages = state.Groups.Sum(g => g.Storages.Count);
                if (_store.LoadedLegacyJson)
                {
                    // Write the .dat files right away: from then on they are the state.
                    TrackerLog.StateMigrated(_logger, _store.LegacyJsonPath, state.Groups.Count, storages);
                    Interlocked.Exchange(ref _dirty, 1);
                    SaveNow();
                }
                else
                {
                    TrackerLog.StateLoaded(_logger, state.Groups.Count, storages, _store.GroupsPath);
                }

                return Math.Max(1, state.SavedAt);
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            // Keep the bad files for inspection; the storages will re-join and rebuild the picture.
            string suffix = ".bad-" + DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
            var moved = _store.MoveAside(suffix);
            TrackerLog.StateLoadFailed(_logger, _store.DataDirectory, moved.Count > 0 ? string.Join(", ", moved) : "(nothing moved)", e);
        }

        return 0;
    }

    private void OnStateChanged()
    {
        if (Interlocked.Exchange(ref _dirty, 1) == 0)
        {
            _saveSignal.Release();
        }
    }

    private async Task SaveLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await _saveSignal.WaitAsync(cancellationToken);

                // Coalesce bursts (a storage joining sends several reports in a row).
                await Task.Delay(SaveDebounce, cancellationToken);
                SaveNow();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void SaveNow()
    {
        lock (_saveLock)
        {
            if (Interlocked.Exchange(ref _dirty, 0) == 0)
            {
                return;
            }

            try
            {
                _store.Save(Registry.ExportState());
                TrackerLog.StateSaved(_logger, _store.GroupsPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                TrackerLog.StateSaveFailed(_logger, _store.GroupsPath, e);
            }
        }
    }

    private async Task LivenessLoopAsync(CancellationToken cancellationToken)
    {
        // Check a few times per interval so a dead storage goes OFFLINE soon after its deadline.
        var period = TimeSpan.FromSeconds(Math.Clamp(_options.CheckActiveInterval.TotalSeconds / 4, 1, 5));
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                int count = Registry.CheckLiveness();
                if (count > 0)
                {
                    TrackerLog.StoragesTimedOut(_logger, count, (long)_options.CheckActiveInterval.TotalSeconds);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
