using System.Net;
using FastDfs.Client;
using FastDfs.Namespace;
using FastDfs.Protocol;
using FastDfs.Tracker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FastDfs.Trackerd;

/// <summary>
/// Composes the directory service into the tracker daemon: the store and collector (<see cref="NamespaceService"/>)
/// start before the tracker listens, the tracker's dispatch serves the namespace commands, and the collector deletes
/// orphaned content as an ordinary FastDFS client of this very tracker.
/// </summary>
internal static class NamespaceHosting
{
    private static readonly TimeSpan CollectInterval = TimeSpan.FromSeconds(1);

    public static void AddTracker(IServiceCollection services, TrackerOptions options)
    {
        if (options.NamespaceEnabled)
        {
            services.AddSingleton(sp => new SelfClient(sp.GetRequiredService<TrackerService>(), options));
            services.AddSingleton(sp => new NamespaceService(
                new NamespaceSettings(options.NamespaceStore, Path.Combine(options.BasePath, "data"), options.NamespaceOrphanDelay, CollectInterval),
                sp.GetRequiredService<SelfClient>().DeleteAsync,
                sp.GetRequiredService<ILogger<NamespaceService>>()));
            services.AddHostedService(sp => sp.GetRequiredService<NamespaceService>());
        }

        services.AddSingleton(sp =>
        {
            var tracker = ActivatorUtilities.CreateInstance<TrackerService>(sp);
            if (options.NamespaceEnabled)
            {
                tracker.ConfigureHandler = handler =>
                {
                    var service = sp.GetRequiredService<NamespaceService>();
                    for (int command = NamespaceCommands.First; command <= NamespaceCommands.Last; command++)
                    {
                        handler.RegisterExtension((byte)command, service.Handler);
                    }
                };
            }

            return tracker;
        });
        services.AddHostedService(sp => sp.GetRequiredService<TrackerService>());
    }

    /// <summary>A FastDFS client of this tracker, created on first use (the listening port is known only after start).</summary>
    private sealed class SelfClient(TrackerService tracker, TrackerOptions options) : IAsyncDisposable
    {
        private readonly Lock _lock = new();
        private FastDfsClient? _client;

        public async ValueTask<bool> DeleteAsync(string fileId, CancellationToken cancellationToken)
        {
            if (!FileId.TryParse(fileId, out var id, out _))
            {
                return true; // nothing any storage could hold: drop it
            }

            try
            {
                await Client().DeleteAsync(id, cancellationToken);
                return true;
            }
            catch (FdfsServerException e) when (e.Errno == FdfsErrno.ENOENT && e.Command.StartsWith(nameof(StorageCommand.DeleteFile), StringComparison.Ordinal))
            {
                return true; // the storage does not have it (deleted before, or by another collector)
            }
        }

        private FastDfsClient Client()
        {
            lock (_lock)
            {
                if (_client is null)
                {
                    var endpoint = tracker.EndPoint ?? throw new InvalidOperationException("the tracker is not listening yet");
                    var address = endpoint.Address.Equals(IPAddress.Any) ? IPAddress.Loopback
                        : endpoint.Address.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback : endpoint.Address;
                    string host = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
                    _client = new FastDfsClient(FastDfsClientOptions.FromTrackers($"{host}:{endpoint.Port}") with
                    {
                        ConnectTimeout = options.ConnectTimeout,
                        NetworkTimeout = TimeSpan.FromSeconds(Math.Min(30, options.NetworkTimeout.TotalSeconds)),
                        MaxConnectionsPerServer = 4,
                    });
                }

                return _client;
            }
        }

        public ValueTask DisposeAsync() => _client?.DisposeAsync() ?? ValueTask.CompletedTask;
    }
}
