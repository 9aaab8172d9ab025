using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FastDfs.Storage;

/// <summary>Runs a <see cref="StorageServer"/> inside the Generic Host (fdfs-storaged).</summary>
public sealed class StorageService : IHostedService, IAsyncDisposable
{
    private readonly StorageServer _server;
    private readonly ILogger _logger;

    public StorageService(StorageOptions options, ILoggerFactory loggerFactory)
    {
        _server = new StorageServer(options, loggerFactory);
        _logger = loggerFactory.CreateLogger("FastDfs.Storage");
    }

    public StorageServer Server => _server;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        NativeMethods.IgnoreFileSizeSignal();
        var options = _server.Options;
        StorageLog.Banner(_logger, FastDfs.Protocol.FdfsConstants.ServerVersion, options.GroupName ?? "?", options.StorePathCount,
            string.Join(", ", options.StorePaths), string.Join(", ", options.TrackerServers.Select(t => new ServerAddress(t.Host, t.Port).ToString())));
        return _server.StartAsync(cancellationToken);
    }

    /// <summary>In-flight requests get a few seconds (bounded by the host's shutdown timeout) before connections close.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => _server.StopAsync(TimeSpan.FromSeconds(3));

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
