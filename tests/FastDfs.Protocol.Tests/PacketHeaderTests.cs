using Xunit;

namespace FastDfs.Protocol.Tests;

public class PacketHeaderTests
{
    [Fact]
    public void Request_encodes_length_big_endian_then_command_then_zero_status()
    {
        // 40-byte body, QUERY_STORE_WITHOUT_GROUP_ONE (101 = 0x65).
        var header = PacketHeader.Request(TrackerCommand.QueryStoreWithoutGroupOne, 40);
        Assert.Equal(Hex.Bytes("0000000000000028 65 00"), header.ToArray());
    }

    [Fact]
    public void Storage_request_header()
    {
        var header = PacketHeader.Request(StorageCommand.UploadFile, 0x0102030405060708);
        Assert.Equal(Hex.Bytes("0102030405060708 0b 00"), header.ToArray());
    }

    [Fact]
    public void Response_header_uses_command_100_and_status()
    {
        Assert.Equal(Hex.Bytes("0000000000000000 64 16"), PacketHeader.Response(0, FdfsErrno.EINVAL).ToArray());
        Assert.Equal(Hex.Bytes("00000000000003e8 64 00"), PacketHeader.Response(1000).ToArray());
    }

    [Fact]
    public void Write_into_larger_span_touches_only_ten_bytes()
    {
        var buffer = Enumerable.Repeat((byte)0xAA, 12).ToArray();
        new PacketHeader(1, 111, 0).Write(buffer);
        Assert.Equal(Hex.Bytes("0000000000000001 6f 00 aaaa"), buffer);
    }

    [Fact]
    public void Write_refuses_short_destination()
    {
        Assert.Throws<ArgumentException>(() => new PacketHeader(1, 1, 0).Write(new byte[9]));
    }

    [Fact]
    public void Decodes_golden_bytes()
    {
        var header = PacketHeader.Read(Hex.Bytes("0000000000000027 64 00"));
        Assert.Equal(new PacketHeader(39, 100, 0), header);

        // QUERY_FILE_INFO carries flags in the request status byte (notes 1.1).
        Assert.Equal(new PacketHeader(0x7fffffffffffffff, 22, 3), PacketHeader.Read(Hex.Bytes("7fffffffffffffff 16 03")));
    }

    [Fact]
    public void Decode_ignores_bytes_after_the_header()
    {
        Assert.Equal(new PacketHeader(0, 82, 0), PacketHeader.Read(Hex.Bytes("0000000000000000 52 00 ff ff")));
    }

    [Theory]
    [InlineData("ffffffffffffffff 0b 00")]
    [InlineData("8000000000000000 0b 00")]
    [InlineData("fffffffffffffff6 64 00")]
    public void Negative_length_is_rejected_with_EINVAL(string hex)
    {
        var ex = Assert.Throws<FdfsProtocolException>(() => PacketHeader.Read(Hex.Bytes(hex)));
        Assert.Equal(FdfsErrno.EINVAL, ex.Errno);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(9)]
    public void Short_header_is_rejected(int length)
    {
        var ex = Assert.Throws<FdfsProtocolException>(() => PacketHeader.Read(new byte[length]));
        Assert.Equal(FdfsErrno.EINVAL, ex.Errno);
    }

    [Fact]
    public void Header_size_constant()
    {
        Assert.Equal(10, FdfsConstants.HeaderSize);
        Assert.Equal(100, FdfsConstants.ResponseCommand);
    }
}
