using System.Text.Json;
using System.Text.Json.Serialization;
using FastDfs.Protocol;

namespace FastDfs.Tracker;

/// <summary>Persisted cluster state (<c>base_path/data/tracker_cluster.json</c>).</summary>
internal sealed record ClusterState
{
    public const int CurrentFormatVersion = 1;

    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>Unix time of the save.</summary>
    public long SavedAt { get; init; }

    public List<GroupRecord> Groups { get; init; } = [];
}

internal sealed record GroupRecord
{
    public string Name { get; init; } = "";

    public int StoragePort { get; init; }

    public int StorePathCount { get; init; }

    public int SubdirCountPerPath { get; init; }

    public List<StorageRecord> Storages { get; init; } = [];
}

internal sealed record StorageRecord
{
    /// <summary>The storage ID (absent in files written before IDs were kept: the IP is the ID then).</summary>
    public string? Id { get; init; }

    public string Ip { get; init; } = "";

    public StorageStatus Status { get; init; }

    public int Port { get; init; }

    public long JoinTime { get; init; }

    public long UpTime { get; init; }

    public string? Version { get; init; }

    public int StorePathCount { get; init; }

    public int SubdirCountPerPath { get; init; }

    public long UploadPriority { get; init; }

    public string? SyncSource { get; init; }

    public long SyncUntilTimestamp { get; init; }

    public long LastSyncedTimestamp { get; init; }

    public long LastHeartbeat { get; init; }

    /// <summary>Source storage ID -> timestamp synced up to (the row of FastDFS's sync timestamp matrix).</summary>
    public Dictionary<string, long>? SyncedFrom { get; init; }
}

[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(ClusterState))]
internal sealed partial class ClusterStateJsonContext : JsonSerializerContext;

/// <summary>
/// Reads and writes <see cref="ClusterState"/> as JSON under <c>base_path/data</c>. Writes go to a temp file that
/// is flushed and renamed over the old one, so a crash leaves either the old or the new state.
/// </summary>
internal sealed class ClusterStateStore
{
    public const string FileName = "tracker_cluster.json";

    public ClusterStateStore(string basePath)
    {
        DataDirectory = Path.Combine(basePath, "data");
        FilePath = Path.Combine(DataDirectory, FileName);
    }

    public string DataDirectory { get; }

    public string FilePath { get; }

    /// <summary>The saved state, or null when there is none. Throws <see cref="InvalidDataException"/> for a corrupt file.</summary>
    public ClusterState? Load()
    {
        if (!File.Exists(FilePath))
        {
            return null;
        }

        try
        {
            using var stream = File.OpenRead(FilePath);
            var state = JsonSerializer.Deserialize(stream, ClusterStateJsonContext.Default.ClusterState);
            if (state is null || state.FormatVersion != ClusterState.CurrentFormatVersion)
            {
                throw new InvalidDataException($"{FilePath}: unsupported format version {state?.FormatVersion}");
            }

            return state;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{FilePath}: {e.Message}", e);
        }
    }

    public void Save(ClusterState state)
    {
        Directory.CreateDirectory(DataDirectory);
        string temp = FilePath + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(stream, state, ClusterStateJsonContext.Default.ClusterState);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, FilePath, overwrite: true);
    }
}
