using System.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Tracker.Tests;

/// <summary>A clock the tests move by hand.</summary>
internal sealed class FakeTime : TimeProvider
{
    public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public long Seconds => Now.ToUnixTimeSeconds();

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}

/// <summary>Builds registries and drives storages through join / sync / beat / disk reports.</summary>
internal sealed class Cluster
{
    private long _session;

    public Cluster(TrackerOptions? options = null)
    {
        Options = options ?? new TrackerOptions { BasePath = "/tmp", ReservedStorageSpace = ReservedSpace.FromPercent(10) };
        Registry = new ClusterRegistry(Options, Time);
    }

    public FakeTime Time { get; } = new();

    public TrackerOptions Options { get; }

    public ClusterRegistry Registry { get; }

    public static StorageJoinRequest JoinRequest(string group = "group1", long port = 23000, long paths = 2, long subdirs = 256,
        long priority = 10, bool init = false, StorageStatus status = StorageStatus.Active) => new()
        {
            Group = group,
            StoragePort = port,
            StorePathCount = paths,
            SubdirCountPerPath = subdirs,
            UploadPriority = priority,
            JoinTime = 1_700_000_000,
            UpTime = 1_700_000_100,
            InitFlag = init,
            Status = status,
            CurrentTrackerIp = "127.0.0.1",
            Trackers = ["127.0.0.1:22122"],
        };

    internal StorageNode Join(string ip, StorageJoinRequest? request = null)
    {
        byte errno = Registry.Join(ip, request ?? JoinRequest(), ++_session, out var node, out string? error);
        Assert.True(errno == 0, error);
        return node!;
    }

    /// <summary>A storage that is ACTIVE with the given free space per path (total 1000 MB each).</summary>
    internal StorageNode Active(string ip, string group = "group1", long freeMb = 500, long priority = 10, int paths = 2)
    {
        var node = Join(ip, JoinRequest(group, paths: paths, priority: priority));
        Registry.Beat(node, default);
        Disk(node, Enumerable.Repeat(freeMb, paths).ToArray());
        Assert.Equal(StorageStatus.Active, node.Status);
        return node;
    }

    internal void Disk(StorageNode node, params long[] freeMb) =>
        Registry.ReportDiskUsage(node, freeMb.Select(_ => 1000L).ToArray(), freeMb);

    internal string Upload(out GroupView? group, out StorageNode? storage, out byte path, string? groupName = null)
    {
        byte errno = Registry.SelectStore(groupName is null ? default : Field(groupName), out group, out storage, out path);
        return FdfsErrno.Name(errno);
    }

    internal static byte[] Field(string group)
    {
        var bytes = new byte[16];
        System.Text.Encoding.ASCII.GetBytes(group, bytes);
        return bytes;
    }

    /// <summary>A remote filename whose source is <paramref name="ip"/> and timestamp <paramref name="timestamp"/>.</summary>
    internal static string RemoteName(string ip, long timestamp, bool appender = false)
    {
        string name = FileNames.MakeName(FileNames.AddressToNameField(IPAddress.Parse(ip)), timestamp,
            FileNames.MakeSizeField(appender ? 0 : 1000, appender, 12345), 0xDEADBEEF, "txt", new Random(1));
        return "M00/00/00/" + name;
    }

    internal static FileNameInfo Decode(string remote)
    {
        Assert.True(FileNames.TryDecode(remote, out var info));
        return info;
    }
}
