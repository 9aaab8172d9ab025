using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using FastDfs.Client;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using FastDfs.Protocol.TrackerState;

namespace FastDfs.Cli;

/// <summary>
/// The tracker's per-source sync marks (FastDFS's sync timestamp matrix: for each storage, the source timestamp it
/// has applied each peer's changes up to). Listings carry only one mark per storage, so they are read through the
/// state copy trackers use among themselves (GET_SYS_FILES_START / GET_ONE_SYS_FILE / GET_SYS_FILES_END, protocol
/// notes 3.4): file 2 is storage_sync_timestamp.dat, the same from our tracker and FastDFS's (docs/tracker-state.md).
/// Earlier versions of our tracker sent their state as JSON in file 0 instead; that is still read. Trackers that
/// refuse yield null: the view then shows only what the listing says.
/// </summary>
internal static class TrackerSyncMatrix
{
    private const long MaxChunkResponse = 4L << 20;

    /// <summary>(group, storage ID) -> (source storage ID -> synced-up-to timestamp), or null when not available.</summary>
    public static async Task<Dictionary<(string Group, string Storage), IReadOnlyDictionary<string, long>>?> TryFetchAsync(
        FastDfsClientOptions options, CancellationToken cancellationToken)
    {
        foreach (var tracker in options.TrackerServers)
        {
            try
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                cts.CancelAfter(options.ConnectTimeout + options.NetworkTimeout);
                var matrix = await FetchStateAsync(tracker.Host, tracker.Port, options.ConnectTimeout, cts.Token);
                if (matrix is not null)
                {
                    return matrix;
                }
            }
            catch (Exception e) when (e is IOException or SocketException or FdfsProtocolException or JsonException or InvalidOperationException
                or KeyNotFoundException or FormatException or InvalidDataException
                || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // Not available from this tracker; try the next, else show the listing alone.
            }
        }

        return null;
    }

    private static async Task<Dictionary<(string Group, string Storage), IReadOnlyDictionary<string, long>>?> FetchStateAsync(
        string host, int port, TimeSpan connectTimeout, CancellationToken ct)
    {
        await using var connection = await FdfsConnection.ConnectAsync(host, port, connectTimeout, null, ct);
        var (status, _) = await connection.RoundTripAsync((byte)TrackerCommand.GetSysFilesStart, ReadOnlyMemory<byte>.Empty, 0, ct);
        if (status != FdfsErrno.Success)
        {
            return null;
        }

        try
        {
            byte[]? sync = await FetchFileAsync(connection, TrackerSysFiles.SyncTimestampsIndex, ct);
            if (sync is { Length: > 0 })
            {
                return ParseSyncTimestamps(Encoding.UTF8.GetString(sync));
            }

            byte[]? first = await FetchFileAsync(connection, TrackerSysFiles.GroupsIndex, ct);
            return first is { Length: > 0 } && first[0] == (byte)'{' ? ParseLegacyJson(first) : [];
        }
        finally
        {
            // FastDFS's tracker locks its state from START until END: always send END.
            await connection.RoundTripAsync((byte)TrackerCommand.GetSysFilesEnd, ReadOnlyMemory<byte>.Empty, 0, ct);
        }
    }

    /// <summary>The file, or null when the tracker refuses it; a malformed answer throws (the next tracker is tried).</summary>
    private static async Task<byte[]?> FetchFileAsync(FdfsConnection connection, byte index, CancellationToken ct)
    {
        var file = new SysFileAssembler(index);
        while (!file.IsComplete)
        {
            var (status, body) = await connection.RoundTripAsync((byte)TrackerCommand.GetOneSysFile, file.NextRequest(), MaxChunkResponse, ct);
            if (status != FdfsErrno.Success)
            {
                return null;
            }

            file.Add(body);
        }

        return file.ToArray();
    }

    /// <summary>
    /// storage_sync_timestamp.dat: each row is a source; column k is the group's k-th row storage as destination.
    /// The result maps each destination to its marks per source (never-synced sources are left out).
    /// </summary>
    internal static Dictionary<(string Group, string Storage), IReadOnlyDictionary<string, long>> ParseSyncTimestamps(string text)
    {
        var rows = SyncTimestampsFile.Parse(text);
        var matrix = new Dictionary<(string, string), IReadOnlyDictionary<string, long>>();
        foreach (var group in rows.GroupBy(r => r.Group, StringComparer.Ordinal))
        {
            var members = group.ToList();
            var marks = members.Select(_ => new Dictionary<string, long>(StringComparer.Ordinal)).ToList();
            foreach (var source in members)
            {
                for (int k = 0; k < source.Timestamps.Count && k < members.Count; k++)
                {
                    if (members[k].SourceId != source.SourceId && source.Timestamps[k] > 0)
                    {
                        marks[k][source.SourceId] = source.Timestamps[k];
                    }
                }
            }

            for (int k = 0; k < members.Count; k++)
            {
                matrix[(group.Key, members[k].SourceId)] = marks[k];
            }
        }

        return matrix;
    }

    /// <summary>Reads <c>groups[].storages[].synced_from</c> of our earlier tracker's JSON (format_version 1); null for anything else.</summary>
    internal static Dictionary<(string Group, string Storage), IReadOnlyDictionary<string, long>>? ParseLegacyJson(byte[] state)
    {
        using var doc = JsonDocument.Parse(state);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("format_version", out var version) || version.GetInt32() != 1
            || !root.TryGetProperty("groups", out var groups) || groups.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var matrix = new Dictionary<(string, string), IReadOnlyDictionary<string, long>>();
        foreach (var group in groups.EnumerateArray())
        {
            string name = group.GetProperty("name").GetString() ?? string.Empty;
            foreach (var storage in group.GetProperty("storages").EnumerateArray())
            {
                var row = new Dictionary<string, long>(StringComparer.Ordinal);
                if (storage.TryGetProperty("synced_from", out var syncedFrom) && syncedFrom.ValueKind == JsonValueKind.Object)
                {
                    foreach (var source in syncedFrom.EnumerateObject())
                    {
                        row[source.Name] = source.Value.GetInt64();
                    }
                }

                matrix[(name, storage.GetProperty("ip").GetString() ?? string.Empty)] = row;
            }
        }

        return matrix;
    }
}
