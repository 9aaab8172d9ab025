using FastDfs.Protocol.Messages;
using FastDfs.Protocol.TrackerState;
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

    [Fact]
    public void Sys_file_assembler_pages_through_chunks()
    {
        var file = new SysFileAssembler(2);
        Assert.Equal("storage_sync_timestamp.dat", file.FileName);
        Assert.False(file.IsComplete);
        Assert.Equal("02" + Hex.L8(0), Hex.Of(file.NextRequest()));

        file.Add(Hex.Concat(Hex.L8(7), Hex.Text("abc")));
        Assert.False(file.IsComplete);
        Assert.Equal(3, file.Offset);
        Assert.Equal("02" + Hex.L8(3), Hex.Of(file.NextRequest()));
        Assert.Throws<InvalidOperationException>(file.ToArray);

        file.Add(Hex.Concat(Hex.L8(7), Hex.Text("defg")));
        Assert.True(file.IsComplete);
        Assert.Equal("abcdefg"u8.ToArray(), file.ToArray());
        Assert.Throws<InvalidOperationException>(() => file.Add(Hex.Concat(Hex.L8(7))));
    }

    [Fact]
    public void Sys_file_assembler_takes_an_empty_file_from_one_answer()
    {
        var file = new SysFileAssembler(3);
        file.Add(Hex.Bytes(Hex.L8(0)));
        Assert.True(file.IsComplete);
        Assert.Empty(file.ToArray());
    }

    [Theory]
    [InlineData("0000000000000007 6465666768", "a chunk of 5 bytes at offset 3 runs past the announced size 7")]
    [InlineData("0000000000000008 6465", "announced size changed from 7 to 8 between chunks")]
    [InlineData("0000000000000007", "empty chunk at offset 3 of 7")]
    [InlineData("0000000004000001 64", "announced size 67108865 is over the 67108864-byte limit")]
    [InlineData("00000000000007", "need 8 bytes, got 7")]
    [InlineData("ffffffffffffffff 64", "file size -1 with a chunk of 1 bytes")]
    public void Sys_file_assembler_refuses_a_bad_answer_and_keeps_what_it_had(string answer, string reason)
    {
        var file = new SysFileAssembler(0);
        file.Add(Hex.Concat(Hex.L8(7), Hex.Text("abc")));

        var e = Assert.Throws<FdfsProtocolException>(() => file.Add(Hex.Bytes(answer)));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.Equal(3, file.Offset);
        Assert.False(file.IsComplete);

        file.Add(Hex.Concat(Hex.L8(7), Hex.Text("defg")));
        Assert.Equal("abcdefg"u8.ToArray(), file.ToArray());
    }

    [Fact]
    public void Sys_file_assembler_refuses_a_past_size_first_chunk_and_unknown_indexes()
    {
        var file = new SysFileAssembler(1);
        Assert.Throws<FdfsProtocolException>(() => file.Add(Hex.Concat(Hex.L8(2), Hex.Text("abc"))));
        Assert.Equal(0, file.Offset);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SysFileAssembler(TrackerSysFiles.Count));
    }
}
