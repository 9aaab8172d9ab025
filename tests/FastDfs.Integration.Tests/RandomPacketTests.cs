using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Net;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>Random packets (seeded, so a failure replays) must never take a daemon down.</summary>
public sealed class RandomPacketTests(SingleStorageCluster fixture) : IClassFixture<SingleStorageCluster>
{
    [Theory]
    [InlineData("tracker", 1)]
    [InlineData("storage", 2)]
    public async Task Daemons_survive_random_packets(string role, int seed)
    {
        var cluster = fixture.Cluster;
        string endpoint = role == "tracker" ? cluster.TrackerEndpoint : cluster.Storages[0].Endpoint;
        int colon = endpoint.LastIndexOf(':');
        string host = endpoint[..colon];
        int port = int.Parse(endpoint[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        var random = new Random(seed);
        for (int i = 0; i < 300; i++)
        {
            int bodyLength = random.Next(0, 600);
            var packet = new byte[10 + bodyLength];
            random.NextBytes(packet);

            // Mostly honest lengths (to reach the handlers), sometimes lies in either direction.
            long declared = random.Next(10) switch
            {
                0 => -random.Next(1, 1000),
                1 => bodyLength + random.Next(1, 100),
                _ => bodyLength,
            };
            BinaryPrimitives.WriteInt64BigEndian(packet, declared);
            packet[9] = 0;
            await using var c = await FdfsConnection.ConnectAsync(host, port, TimeSpan.FromSeconds(5));
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(declared > bodyLength ? 50 : 2000));
            try
            {
                await c.SendAsync(packet, cts.Token);
                await c.ReadResponseAsync(1 << 20, cts.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or EndOfStreamException or FastDfs.Protocol.FdfsProtocolException)
            {
                // Any answer or none is fine for garbage; surviving is what counts.
            }
        }

        Assert.False(cluster.Tracker!.HasExited);
        Assert.False(cluster.Storages[0].Process!.HasExited);
        await using var client = cluster.CreateClient();
        var id = await client.UploadAsync(Encoding.ASCII.GetBytes("survived"), "txt");
        Assert.Equal("survived", Encoding.ASCII.GetString(await client.DownloadBytesAsync(id)));
    }
}
