using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>Tracker <-> tracker messages (protocol notes 3.4).</summary>
public class TrackerPeerMessagesTests
{
    private const string StatusGolden =
        "01" + //                 0 is_leader
        "0000000000000e10" + //   1 running_time 3600
        "000000000000003c"; //    9 restart_interval 60

    [Fact]
    public void Status_is_17_bytes_and_encodes()
    {
        Assert.Equal(17, TrackerStatus.Size);
        Assert.Equal(StatusGolden, Hex.Of(new TrackerStatus(true, 3600, 60).ToArray()));
    }

    [Fact]
    public void Status_decodes()
    {
        Assert.Equal(new TrackerStatus(true, 3600, 60), TrackerStatus.Read(Hex.Bytes(StatusGolden)));
        Assert.Equal(new TrackerStatus(false, 1, 0), TrackerStatus.Read(Hex.Bytes("00 0000000000000001 0000000000000000")));
    }

    [Fact]
    public void Status_of_wrong_size_is_refused()
    {
        Assert.Throws<FdfsProtocolException>(() => TrackerStatus.Read(new byte[16]));
        Assert.Throws<FdfsProtocolException>(() => TrackerStatus.Read(new byte[18]));
    }

    // "127.0.0.2:22122" NUL-padded to IP_ADDRESS_SIZE (46) + 6 = 52 bytes.
    private static readonly string LeaderGolden = "3132372e302e302e323a3232313232" + new string('0', 2 * (52 - 15));

    [Fact]
    public void Leader_address_is_52_bytes_of_padded_text()
    {
        Assert.Equal(52, LeaderAddressBody.Size);
        Assert.Equal(LeaderGolden, Hex.Of(LeaderAddressBody.ToArray(new ServerAddress("127.0.0.2", 22122))));
    }

    [Fact]
    public void Leader_address_decodes()
    {
        Assert.True(LeaderAddressBody.TryRead(Hex.Bytes(LeaderGolden), out var leader));
        Assert.Equal(new ServerAddress("127.0.0.2", 22122), leader);
    }

    [Theory]
    [InlineData("127.0.0.2")]
    [InlineData("127.0.0.2:0")]
    [InlineData("127.0.0.2:70000")]
    [InlineData(":22122")]
    [InlineData("127.0.0.2:x")]
    public void Leader_address_refuses_bad_text(string text)
    {
        var body = new byte[LeaderAddressBody.Size];
        System.Text.Encoding.ASCII.GetBytes(text, body);
        Assert.False(LeaderAddressBody.TryRead(body, out _));
    }

    [Fact]
    public void Leader_address_of_wrong_size_is_refused() =>
        Assert.False(LeaderAddressBody.TryRead(Hex.Bytes("3132372e302e302e323a3232313232"), out _));

    [Fact]
    public void Leader_address_parses_bracketed_ipv6() =>
        Assert.True(LeaderAddressBody.TryParse("[::1]:22122", out var a) && a == new ServerAddress("::1", 22122));

    private const string JoinLeaderGolden =
        "000000006b050000" + //   0 up_time
        "362e31362e310000" + //   8 version 8
        "0000000000005650"; //   16 port 22096

    [Fact]
    public void Join_leader_encodes_and_decodes()
    {
        var request = new TrackerJoinLeaderRequest(0x6b050000, "6.16.1", 22096);
        Assert.Equal(24, TrackerJoinLeaderRequest.Size);
        Assert.Equal(JoinLeaderGolden, Hex.Of(request.ToArray()));
        Assert.Equal(request, TrackerJoinLeaderRequest.Read(Hex.Bytes(JoinLeaderGolden)));
        Assert.Throws<FdfsProtocolException>(() => TrackerJoinLeaderRequest.Read(new byte[23]));
    }

    [Fact]
    public void Sys_file_request_is_index_and_offset()
    {
        Assert.Equal("00" + "0000000000010000", Hex.Of(SysFileChunk.Request(0, 65536)));
        Assert.Equal(((byte)2, 7L), SysFileChunk.ReadRequest(Hex.Bytes("02 0000000000000007")));
        Assert.Throws<FdfsProtocolException>(() => SysFileChunk.ReadRequest(new byte[8]));
    }

    [Fact]
    public void Sys_file_response_is_size_then_chunk()
    {
        var (size, chunk) = SysFileChunk.ReadResponse(Hex.Bytes("0000000000000005 616263"));
        Assert.Equal(5, size);
        Assert.Equal("616263", Hex.Of(chunk.Span));
        Assert.Throws<FdfsProtocolException>(() => SysFileChunk.ReadResponse(Hex.Bytes("0000000000000001 616263")));
        Assert.Throws<FdfsProtocolException>(() => SysFileChunk.ReadResponse(new byte[7]));
    }
}
