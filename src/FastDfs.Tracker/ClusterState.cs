using System.Text.Json;
using System.Text.Json.Serialization;
using FastDfs.Protocol;

namespace FastDfs.Tracker;

/// <summary>
/// The cluster state as the tracker saves and exchanges it: written as FastDFS's .dat files (see
/// <see cref="ClusterStateStore"/>); older versions of this tracker wrote it as JSON (<c>tracker_cluster.json</c>).
/// </summary>
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

    /// <summary>How far into storage_changelog.dat the storage has been answered.</summary>
    public long ChangelogOffset { get; init; }

    public long TotalMb { get; init; }

    public long FreeMb { get; init; }

    /// <summary>The ID the storage goes by: <see cref="Id"/>, or its IP when the record has none.</summary>
    public string IdOrIp() => string.IsNullOrEmpty(Id) ? Ip : Id;
}

/// <summary>
/// What this tracker keeps beyond FastDFS's files (<c>tracker_cluster_extra.json</c>): the save time (for the
/// restart interval), each storage's up_time, and the DELETED / IP_CHANGED storages FastDFS drops from its files.
/// </summary>
internal sealed record ClusterSideState
{
    public const int CurrentFormatVersion = 1;

    public int FormatVersion { get; init; } = CurrentFormatVersion;

    public long SavedAt { get; init; }

    public List<SideStorage> Storages { get; init; } = [];

    public List<RetiredStorage> Retired { get; init; } = [];
}

internal sealed record SideStorage(string Group, string Id, long UpTime);

internal sealed record RetiredStorage(string Group, StorageRecord Storage);

[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(ClusterState))]
[JsonSerializable(typeof(ClusterSideState))]
internal sealed partial class ClusterStateJsonContext : JsonSerializerContext;

