using System.Net.Sockets;
using System.Text.Json;
using FastDfs.Client;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Cli;

/// <summary>
/// The tracker's per-source sync marks (the rows of FastDFS's sync timestamp matrix: for each storage, the source
/// timestamp it has applied each peer's changes up to). Listings carry only one mark per storage, so they are read
/// through the state copy trackers use among themselves (GET_SYS_FILES_START / GET_ONE_SYS_FILE / GET_SYS_FILES_END,
/// protocol notes 3.4), where our tracker sends its state as JSON in file 0. Trackers that refuse or send something
/// else (FastDFS's own files) yield null: the view then shows only what the listing says.
/// </summary>
internal static class TrackerSyncMatrix
{
    /// <summary>Guards against a tracker announcing an absurd file size.</summary>
    private const long MaxStateBytes = 64L << 20;

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
                byte[]? state = await FetchStateAsync(tracker.Host, tracker.Port, options.ConnectTimeout, cts.Token);
                if (state is not null)
                {
                    return Parse(state);
                }
            }
            catch (Exception e) when (e is IOException or SocketException or FdfsProtocolException or JsonException or InvalidOperationException
                or KeyNotFoundException or FormatException
                || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // Not available from this tracker; try the next, else show the listing alone.
            }
        }

        return null;
    }

    private static async Task<byte[]?> FetchStateAsync(string host, int port, TimeSpan connectTimeout, CancellationToken ct)
    {
        await using var connection = await FdfsConnection.ConnectAsync(host, port, connectTimeout, null, ct);
        var (status, _) = await connection.RoundTripAsync((byte)TrackerCommand.GetSysFilesStart, ReadOnlyMemory<byte>.Empty, 0, ct);
        if (status != FdfsErrno.Success)
        {
            return null;
        }

        try
        {
            using var file = new MemoryStream();
            long size = -1;
            while (size < 0 || file.Length < size)
            {
                (status, byte[] body) = await connection.RoundTripAsync(
                    (byte)TrackerCommand.GetOneSysFile, SysFileChunk.Request(0, file.Length), MaxChunkResponse, ct);
                if (status != FdfsErrno.Success)
                {
                    return null;
                }

                var (total, chunk) = SysFileChunk.ReadResponse(body);
                if (total > MaxStateBytes || (chunk.IsEmpty && file.Length < total))
                {
                    return null;
                }

                size = total;
                file.Write(chunk.Span);
            }

            return file.ToArray();
        }
        finally
        {
            // FastDFS's tracker locks its state from START until END: always send END.
            await connection.RoundTripAsync((byte)TrackerCommand.GetSysFilesEnd, ReadOnlyMemory<byte>.Empty, 0, ct);
        }
    }

    /// <summary>Reads <c>groups[].storages[].synced_from</c> of our tracker's state (format_version 1); null for anything else.</summary>
    internal static Dictionary<(string Group, string Storage), IReadOnlyDictionary<string, long>>? Parse(byte[] state)
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
