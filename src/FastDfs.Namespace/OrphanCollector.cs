using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastDfs.Namespace;

/// <summary>
/// Deletes content nobody names any more from the storages: file IDs a delete or an overwrite orphaned, and uploads
/// registered as pending that were never committed (a client crashed in between). Failed deletes are retried with a
/// growing delay. Several trackers sharing a store may run collectors at once: a claim hides an entry from the
/// others for a while, and deleting a file twice is harmless (the second gets ENOENT, which counts as done).
/// </summary>
public sealed class OrphanCollector
{
    /// <summary>Deletes one file from the storages; true when it is gone (deleted now or already absent).</summary>
    public delegate ValueTask<bool> DeleteFile(string fileId, CancellationToken cancellationToken);

    private static readonly TimeSpan ClaimFor = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromMinutes(10);
    private const int BatchSize = 64;

    private readonly INamespaceStore _store;
    private readonly DeleteFile _delete;
    private readonly ILogger _logger;

    public OrphanCollector(INamespaceStore store, DeleteFile delete, TimeSpan interval, ILogger? logger = null)
    {
        _store = store;
        _delete = delete;
        Interval = interval;
        _logger = logger ?? NullLogger.Instance;
    }

    public TimeSpan Interval { get; }

    /// <summary>Files deleted so far (diagnostics, tests).</summary>
    public long Deleted => Interlocked.Read(ref _deleted);

    private long _deleted;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    while (await CollectOnceAsync(cancellationToken) == BatchSize)
                    {
                        // A full batch: more may be due right now.
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    NamespaceLog.CollectorFailed(_logger, e);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>One pass over what is due; returns how many entries were claimed.</summary>
    public async Task<int> CollectOnceAsync(CancellationToken cancellationToken)
    {
        var due = await _store.ClaimOrphansAsync(BatchSize, ClaimFor, cancellationToken);
        foreach (var orphan in due)
        {
            string? error;
            try
            {
                error = await _delete(orphan.FileId, cancellationToken) ? null : "the storage did not confirm the delete";
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                error = e.Message;
            }

            if (error is null)
            {
                await _store.CompleteOrphanAsync(orphan.FileId, cancellationToken);
                Interlocked.Increment(ref _deleted);
                NamespaceLog.OrphanDeleted(_logger, orphan.FileId, orphan.WasPending ? "never committed" : "orphaned");
            }
            else
            {
                var delay = TimeSpan.FromSeconds(Math.Min(MaxRetryDelay.TotalSeconds, Math.Pow(2, Math.Min(orphan.Attempts, 20))));
                await _store.RetryOrphanAsync(orphan.FileId, delay, error, cancellationToken);
                NamespaceLog.OrphanDeleteFailed(_logger, orphan.FileId, orphan.Attempts + 1, delay, error);
            }
        }

        return due.Count;
    }
}
