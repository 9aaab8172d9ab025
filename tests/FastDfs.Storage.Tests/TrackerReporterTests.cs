using System.Collections.Concurrent;
using System.Net;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastDfs.Storage.Tests;

public class TrackerReporterTests
{
    /// <summary>Records what a storage sends; answers like a leader tracker with nothing to report.</summary>
    private sealed class FakeTracker : IFdfsRequestHandler
    {
        public ConcurrentQueue<(TrackerCommand Command, byte[] Body)> Received { get; } = new();

        public async ValueTask<bool> HandleAsync(FdfsConnection connection, PacketHeader header, ConnectionContext context, CancellationToken cancellationToken)
        {
            var body = new byte[header.BodyLength];
            await connection.ReadExactlyAsync(body, cancellationToken);
            Received.Enqueue(((TrackerCommand)header.Command, body));
            byte[] reply = (TrackerCommand)header.Command switch
            {
                TrackerCommand.StorageJoin => new StorageJoinResponse(StorageStatus.Init, "").ToArray(),
                TrackerCommand.StorageBeat => new ChangeNotification(null, null, [new StorageBrief(StorageStatus.Active, 23000, "", "127.0.0.1")]).ToArray(),
                _ => [],
            };
            await connection.SendResponseAsync(reply, cancellationToken);
            return true;
        }
    }

    [Fact]
    public async Task Joins_handshakes_beats_and_reports_disk_usage()
    {
        var tracker = new FakeTracker();
        await using var trackerServer = new FdfsServer(new IPEndPoint(IPAddress.Loopback, 0), tracker, NullLogger.Instance);
        trackerServer.Start();
        await using var server = await StorageTestServer.StartAsync(o => o with
        {
            BindAddr = "",
            TrackerServers = [new TrackerEndpoint("127.0.0.1", trackerServer.EndPoint.Port)],
            HeartBeatInterval = TimeSpan.FromMilliseconds(200),
        });

        for (int i = 0; i < 100 && tracker.Received.Count(r => r.Command == TrackerCommand.StorageBeat) < 2; i++)
        {
            await Task.Delay(50);
        }

        // The cluster parameters (use_storage_id, id_type_in_filename) come first, once; then the join sequence.
        var commands = tracker.Received.Select(r => r.Command).ToList();
        Assert.Equal(TrackerCommand.StorageParameterReq, commands[0]);
        Assert.Equal(
            [TrackerCommand.StorageJoin, TrackerCommand.StorageSyncDestReq, TrackerCommand.StorageSyncNotify, TrackerCommand.StorageReportDiskUsage, TrackerCommand.StorageBeat],
            commands.Skip(1).Take(5));
        Assert.Single(commands, c => c == TrackerCommand.StorageParameterReq);
        var join = StorageJoinRequest.Read(tracker.Received.First(r => r.Command == TrackerCommand.StorageJoin).Body);
        Assert.Equal(StorageTestServer.Group, join.Group);
        Assert.Equal(server.Port, join.StoragePort);
        Assert.Equal(2, join.StorePathCount);
        Assert.Equal(4, join.SubdirCountPerPath);
        Assert.True(join.InitFlag);
        Assert.Equal($"127.0.0.1:{trackerServer.EndPoint.Port}", Assert.Single(join.Trackers));
        var disk = DiskUsageReport.Decode(tracker.Received.First(r => r.Command == TrackerCommand.StorageReportDiskUsage).Body, 2);
        Assert.All(disk, d => Assert.True(d.TotalMb > 0 && d.FreeMb <= d.TotalMb));
        var beat = tracker.Received.First(r => r.Command == TrackerCommand.StorageBeat).Body;
        Assert.Equal(StorageStats.Size, beat.Length);

        // The file-name source address is the local end of the tracker connection.
        await using var conn = await server.ConnectAsync();
        Assert.True(FileNames.TryDecode(await conn.UploadAsync([1]), out var info));
        Assert.Equal("127.0.0.1", info.Source);

        // A restart joins without init_flag and skips the handshake.
        tracker.Received.Clear();
        await server.RestartAsync();
        for (int i = 0; i < 100 && !tracker.Received.Any(r => r.Command == TrackerCommand.StorageJoin); i++)
        {
            await Task.Delay(50);
        }

        Assert.False(StorageJoinRequest.Read(tracker.Received.First(r => r.Command == TrackerCommand.StorageJoin).Body).InitFlag);
        Assert.DoesNotContain(tracker.Received, r => r.Command == TrackerCommand.StorageSyncDestReq);
    }

    [Fact]
    public async Task Unreachable_tracker_does_not_stop_serving()
    {
        await using var server = await StorageTestServer.StartAsync(o => o with
        {
            TrackerServers = [new TrackerEndpoint("127.0.0.1", 1)],
            ConnectTimeout = TimeSpan.FromMilliseconds(200),
        });
        await Task.Delay(300);
        await using var conn = await server.ConnectAsync();
        await conn.UploadAsync([1, 2]);
    }

    [Fact]
    public void Options_from_storage_conf()
    {
        var config = FdfsConfigFile.Parse("""
            disabled = false
            group_name = group2
            bind_addr =
            port = 0
            base_path = /tmp/fdfs-x
            store_path_count = 2
            store_path0 = /tmp/fdfs-x/a
            store_path1 = /tmp/fdfs-x/b
            subdir_count_per_path = 16
            tracker_server = 127.0.0.2:22122
            file_distribute_path_mode = 1
            buff_size = 128KB
            some_future_key = 1
            """);
        var options = StorageOptions.FromConfig(config);
        Assert.Equal(0, options.Port);
        Assert.Equal("group2", options.GroupName);
        Assert.Equal(2, options.StorePathCount);
        Assert.Equal(FileDistributePathMode.Random, options.FileDistributePathMode);
        Assert.Equal(128 * 1024, options.BuffSize);
        Assert.Equal("some_future_key", Assert.Single(config.UnusedKeys()).Key);
    }
}
