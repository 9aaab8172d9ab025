using System.Collections.Concurrent;

namespace FastDfs.Storage;

/// <summary>
/// Receiver side of replication: per source storage, the newest source timestamp applied here. The tracker reporter
/// sends it as STORAGE_SYNC_REPORT (protocol notes 8.3), which feeds the tracker's download rule (8.6).
/// </summary>
internal sealed class SyncProgress
{
    private readonly ConcurrentDictionary<string, long> _bySource = new(StringComparer.Ordinal);
    private int _changed;

    public void Applied(string sourceId, long timestamp)
    {
        if (sourceId.Length == 0)
        {
            return;
        }

        // Records of one source arrive in binlog order per file but several connections interleave: keep the max.
        long current = _bySource.GetOrAdd(sourceId, timestamp);
        while (timestamp > current)
        {
            if (_bySource.TryUpdate(sourceId, timestamp, current))
            {
                break;
            }

            current = _bySource[sourceId];
        }

        Volatile.Write(ref _changed, 1);
    }

    /// <summary>The entries when something changed since the last call, else null.</summary>
    public List<(string SourceId, long Timestamp)>? TakeChanges()
    {
        if (Interlocked.Exchange(ref _changed, 0) == 0)
        {
            return null;
        }

        return _bySource.Select(p => (p.Key, p.Value)).ToList();
    }

    /// <summary>Marks the current values as unsent (a new tracker session must hear them).</summary>
    public void Resend() => Volatile.Write(ref _changed, _bySource.IsEmpty ? 0 : 1);

    public IReadOnlyDictionary<string, long> Snapshot() => new Dictionary<string, long>(_bySource, StringComparer.Ordinal);
}
