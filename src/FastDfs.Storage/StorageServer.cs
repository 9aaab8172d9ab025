using System.Net;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace FastDfs.Storage;

/// <summary>
/// The storage role: store paths, binlog, statistics, the request handler behind an <see cref="FdfsServer"/>, and
/// the tracker reporter. Usable in-process (tests) or through <see cref="StorageService"/> in the daemon.
/// </summary>
public sealed class StorageServer : IAsyncDisposable
{
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private StorePaths? _paths;
    private Binlog? _binlog;
    private StorageRequestHandler? _handler;
    private FdfsServer? _server;
    private TrackerReporter? _reporter;
    private GroupPeers? _peers;
    private DiskRecovery? _recovery;
    private Task _recoveryTask = Task.CompletedTask;
    private readonly CancellationTokenSource _layoutCancel = new();
    private Task _layoutTask = Task.CompletedTask;
    private Task _statFileTask = Task.CompletedTask;
    private int _stopped;

    public StorageServer(StorageOptions options, ILoggerFactory loggerFactory)
    {
        Options = options;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("FastDfs.Storage");
    }

    public StorageOptions Options { get; }

    /// <summary>Live counters, as sent to trackers in BEAT.</summary>
    public StorageStats Stats { get; } = new();

    /// <summary>The bound endpoint (the real port when the config says 0); null before <see cref="StartAsync"/>.</summary>
    public IPEndPoint? EndPoint => _server?.EndPoint;

    /// <summary>The current binlog file.</summary>
    public string? BinlogPath => _binlog?.CurrentPath;

    /// <summary>Prepares the disk layout, starts accepting, then starts reporting to the trackers.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(Options.GroupName))
        {
            throw new InvalidOperationException("group_name is required (learning the group from the tracker is not supported)");
        }

        Directory.CreateDirectory(Path.Combine(Options.BasePath, "data"));

        // Before the data directories are (re)created: a path without them on a storage that ran before is a new disk.
        var initFlag = DataInitFlag.Load(Options.BasePath);
        StorageStatFile.Load(Options.BasePath, Stats, _logger);
        _recovery = DiskRecovery.Detect(Options, initFlag, _logger);
        _paths = new StorePaths(
            Options.StorePaths, Options.ReadOnlyStorePaths, Options.SubdirCountPerPath, (int)Options.FileDistributePathMode,
            Options.FileDistributeRotateCount, Options.StorePathLoadBalance, Options.ReservedStorageSpace);
        _layoutTask = _paths.Initialize(_logger, _layoutCancel.Token);
        _ = _layoutTask.ContinueWith(
            t => StorageLog.CreateSubdirsFailed(_logger, t.Exception!.GetBaseException()),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        cancellationToken.ThrowIfCancellationRequested();

        _binlog = new Binlog(Options.BasePath, Options.SyncBinlogBuffInterval, _logger);
        _handler = new StorageRequestHandler(Options, _paths, _binlog, Stats, _logger);

        var (address, otherAddresses, dualStack) = ListenAddress.Choose(Options.BindAddresses, Options.AddressFamily);
        _server = new FdfsServer(
            new IPEndPoint(address, Options.Port), _handler, _loggerFactory.CreateLogger("FastDfs.Net"), Options.MaxConnections, Options.IsAllowed)
        {
            DualStack = dualStack,
            AlsoListenOn = otherAddresses,
            NetworkTimeout = Options.NetworkTimeout,
        };
        _server.Start();
        foreach (var endpoint in _server.EndPoints)
        {
            StorageLog.Listening(_logger, ListenAddress.Format(endpoint.Address), endpoint.Port);
        }

        _peers = new GroupPeers(Options, _paths, _binlog, Stats, _logger);
        _reporter = new TrackerReporter(Options, _paths, Stats, _handler, initFlag, _peers, _recovery, _logger);
        _reporter.Start(_server.EndPoint.Port);
        var recovery = _recovery;
        var peers = _peers;
        var paths = _paths;
        var layout = _layoutTask;
        _recoveryTask = Task.Run(() => recovery.RunAsync(peers, paths, layout, _layoutCancel.Token));
        _statFileTask = Task.Run(() => SaveStatFilePeriodicallyAsync(_layoutCancel.Token));
        return Task.CompletedTask;
    }

    /// <summary>storage_stat.dat every sync_stat_file_interval; the last write happens at stop.</summary>
    private async Task SaveStatFilePeriodicallyAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Options.SyncStatFileInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                SaveStatFile();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void SaveStatFile()
    {
        try
        {
            StorageStatFile.Save(Options.BasePath, Stats);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            StorageLog.StatFileWriteFailed(_logger, StorageStatFile.PathFor(Options.BasePath), e);
        }
    }

    /// <summary>Stops accepting, gives in-flight requests <paramref name="grace"/>, stops reporting, flushes the binlog.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        StorageLog.Stopping(_logger);
        await _layoutCancel.CancelAsync();
        if (_server is not null)
        {
            await _server.StopAsync(grace);
        }

        if (_reporter is not null)
        {
            await _reporter.DisposeAsync();
        }

        await _recoveryTask.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        if (_peers is not null)
        {
            await _peers.DisposeAsync();
        }

        if (_binlog is not null)
        {
            await _binlog.DisposeAsync();
        }

        await _layoutTask.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        await _statFileTask;
        SaveStatFile();
        StorageLog.Stopped(_logger);
    }

    /// <summary>Completes when the <c>data/HH/HH</c> tree of every store path exists.</summary>
    public Task LayoutReady => _layoutTask;

    /// <summary>Newest source timestamp applied from <paramref name="sourceId"/> by replication; 0 when none.</summary>
    public long SyncProgressFor(string sourceId) =>
        _handler is not null && _handler.Progress.Snapshot().TryGetValue(sourceId, out long ts) ? ts : 0;

    /// <summary>Waits until every binlog record written so far is in the file (tests, shutdown).</summary>
    public Task FlushBinlogAsync() => _binlog?.FlushAsync() ?? Task.CompletedTask;

    public async ValueTask DisposeAsync() => await StopAsync(TimeSpan.FromSeconds(1));
}
