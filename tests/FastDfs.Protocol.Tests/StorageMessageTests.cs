using System.Text;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>Client-facing storage requests and responses (notes 5.1). Golden hex is written out by hand.</summary>
public class StorageMessageTests
{
    private const string Group1 = "67726f757031 00000000000000000000"; // "group1" NUL-padded to 16
    private const string Remote = "M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt";

    // The observed remote filename as ASCII hex, spelled out.
    private const string RemoteHex =
        "4d30302f30332f35322f" + // M00/03/52/
        "667741414132734677494b416453353541414144365065686f3367" + // fwAAA2sFwIKAdS55AAAD6Peho3g (27)
        "3637342e747874"; // 674.txt

    [Fact]
    public void Remote_hex_matches_the_name()
    {
        // Guards the hand-written constant above.
        Assert.Equal(Remote, Encoding.ASCII.GetString(Hex.Bytes(RemoteHex)));
        Assert.Equal(44, Hex.Bytes(RemoteHex).Length);
    }

    // ---- FileRequest: g16 + remote filename ----

    [Fact]
    public void FileRequest_encodes()
    {
        var request = new FileRequest("group1", Remote);
        Assert.Equal(60, request.Size);
        Assert.Equal(Hex.Bytes(Group1 + RemoteHex), request.ToArray());
    }

    [Fact]
    public void FileRequest_decodes()
    {
        Assert.Equal(new FileRequest("group1", Remote), FileRequest.Read(Hex.Bytes(Group1 + RemoteHex)));
    }

    [Fact]
    public void FileRequest_with_full_16_char_group_has_no_terminator()
    {
        string hex = "67726f75706e616d6531323334353637" + "4d30302f"; // "groupname1234567" + "M00/"
        Assert.Equal(Hex.Bytes(hex), new FileRequest("groupname1234567", "M00/").ToArray());
        Assert.Equal(new FileRequest("groupname1234567", "M00/"), FileRequest.Read(Hex.Bytes(hex)));
    }

    [Fact]
    public void FileRequest_refuses_group_over_16_bytes()
    {
        Assert.Throws<FdfsProtocolException>(() => new FileRequest("groupname12345678", Remote).ToArray());
    }

    [Fact]
    public void FileRequest_shorter_than_group_throws()
    {
        Assert.Throws<FdfsProtocolException>(() => FileRequest.Read(new byte[15]));
    }

    // ---- UploadRequestHeader: path index 1 + file_size L8 + ext 6 ----

    [Fact]
    public void UploadRequestHeader_encodes()
    {
        var buffer = new byte[UploadRequestHeader.Size];
        new UploadRequestHeader(0, 1000, "txt").Write(buffer);
        Assert.Equal(15, UploadRequestHeader.Size);
        Assert.Equal(Hex.Bytes("00 | 00000000000003e8 | 747874000000"), buffer);
    }

    [Fact]
    public void UploadRequestHeader_any_path_and_full_extension()
    {
        var buffer = new byte[15];
        new UploadRequestHeader(FdfsConstants.AnyStorePath, 0x123456789A, "tar.gz").Write(buffer);
        Assert.Equal(Hex.Bytes("ff | 000000123456789a | 7461722e677a"), buffer);
    }

    [Fact]
    public void UploadRequestHeader_decodes()
    {
        Assert.Equal(new UploadRequestHeader(0, 1000, "txt"), UploadRequestHeader.Read(Hex.Bytes("00 00000000000003e8 747874000000")));
        Assert.Equal(new UploadRequestHeader(0xFF, 0, string.Empty), UploadRequestHeader.Read(Hex.Bytes("ff 0000000000000000 000000000000")));
    }

    [Fact]
    public void UploadRequestHeader_decodes_prefix_of_body_with_content()
    {
        var body = Hex.Bytes("01 0000000000000003 62696e000000 616263");
        Assert.Equal(new UploadRequestHeader(1, 3, "bin"), UploadRequestHeader.Read(body));
    }

    [Fact]
    public void UploadRequestHeader_refuses_extension_over_6()
    {
        Assert.Throws<FdfsProtocolException>(() => new UploadRequestHeader(0, 1, "abcdefg").Write(new byte[15]));
    }

    // ---- UploadSlaveRequestHeader: master_len L8 + size L8 + prefix 16 + ext 6 (+ master name) ----

    [Fact]
    public void UploadSlaveRequestHeader_encodes()
    {
        var buffer = new byte[UploadSlaveRequestHeader.Size];
        new UploadSlaveRequestHeader(44, 10, "_150x150", "jpg").Write(buffer);
        Assert.Equal(38, UploadSlaveRequestHeader.Size);
        Assert.Equal(
            Hex.Bytes("000000000000002c | 000000000000000a | 5f3135307831353000000000 00000000 | 6a7067000000"),
            buffer);
    }

    [Fact]
    public void UploadSlaveRequestHeader_decodes()
    {
        var body = Hex.Bytes("000000000000002c 000000000000000a 5f313530783135300000000000000000 6a7067000000" + RemoteHex);
        Assert.Equal(new UploadSlaveRequestHeader(44, 10, "_150x150", "jpg"), UploadSlaveRequestHeader.Read(body));
    }

    [Fact]
    public void UploadSlaveRequestHeader_full_width_prefix()
    {
        var body = Hex.Bytes("0000000000000001 0000000000000002 41424344454647484950515253545556 000000000000");
        Assert.Equal(new UploadSlaveRequestHeader(1, 2, "ABCDEFGHIPQRSTUV", string.Empty), UploadSlaveRequestHeader.Read(body));
    }

    // ---- AppenderRequestHeader: append (len, size), modify (len, offset, size), truncate (len, new size) ----

    [Fact]
    public void Append_header_encodes_and_decodes()
    {
        Assert.Equal(16, AppenderRequestHeader.FixedSize(StorageCommand.AppendFile));
        var buffer = new byte[16];
        new AppenderRequestHeader(44, 0, 5).Write(StorageCommand.AppendFile, buffer);
        var golden = Hex.Bytes("000000000000002c 0000000000000005");
        Assert.Equal(golden, buffer);
        Assert.Equal(new AppenderRequestHeader(44, 0, 5), AppenderRequestHeader.Read(StorageCommand.AppendFile, golden));
    }

    [Fact]
    public void Modify_header_encodes_and_decodes()
    {
        Assert.Equal(24, AppenderRequestHeader.FixedSize(StorageCommand.ModifyFile));
        var buffer = new byte[24];
        new AppenderRequestHeader(44, 0x1000, 0x20).Write(StorageCommand.ModifyFile, buffer);
        var golden = Hex.Bytes("000000000000002c 0000000000001000 0000000000000020");
        Assert.Equal(golden, buffer);
        Assert.Equal(new AppenderRequestHeader(44, 0x1000, 0x20), AppenderRequestHeader.Read(StorageCommand.ModifyFile, golden));
    }

    [Fact]
    public void Truncate_header_encodes_and_decodes()
    {
        Assert.Equal(16, AppenderRequestHeader.FixedSize(StorageCommand.TruncateFile));
        var buffer = new byte[16];
        new AppenderRequestHeader(44, 0, 0x100000000).Write(StorageCommand.TruncateFile, buffer);
        var golden = Hex.Bytes("000000000000002c 0000000100000000");
        Assert.Equal(golden, buffer);
        Assert.Equal(new AppenderRequestHeader(44, 0, 0x100000000), AppenderRequestHeader.Read(StorageCommand.TruncateFile, golden));
    }

    [Fact]
    public void Modify_header_one_byte_short_throws()
    {
        Assert.Throws<FdfsProtocolException>(() => AppenderRequestHeader.Read(StorageCommand.ModifyFile, new byte[23]));
        Assert.Throws<FdfsProtocolException>(() => AppenderRequestHeader.Read(StorageCommand.AppendFile, new byte[15]));
    }

    // ---- DownloadRequest: offset L8 + length L8 + g16 + remote ----

    [Fact]
    public void DownloadRequest_encodes()
    {
        var golden = Hex.Bytes("00000000000003de | 0000000000000064 | " + Group1 + RemoteHex);
        Assert.Equal(golden, new DownloadRequest(990, 100, "group1", Remote).ToArray());
    }

    [Fact]
    public void DownloadRequest_decodes()
    {
        var golden = Hex.Bytes("0000000000000000 0000000000000000" + Group1 + RemoteHex);
        Assert.Equal(new DownloadRequest(0, 0, "group1", Remote), DownloadRequest.Read(golden));
    }

    // ---- SetMetadataRequest: name_len L8 + meta_len L8 + flag + g16 + remote + metadata ----

    private const string MetaHex = "6102 62 01 6b31 02 7639"; // a 02 b 01 k1 02 v9

    [Fact]
    public void SetMetadata_encodes()
    {
        var request = new SetMetadataRequest(MetadataFlag.Merge, "group1", Remote, Hex.Bytes(MetaHex));
        var golden = Hex.Bytes("000000000000002c | 0000000000000009 | 4d | " + Group1 + RemoteHex + MetaHex);
        Assert.Equal(golden, request.ToArray());
    }

    [Fact]
    public void SetMetadata_decodes()
    {
        var golden = Hex.Bytes("000000000000002c 0000000000000009 4f" + Group1 + RemoteHex + MetaHex);
        var request = SetMetadataRequest.Read(golden);
        Assert.Equal(MetadataFlag.Overwrite, request.Flag);
        Assert.Equal("group1", request.Group);
        Assert.Equal(Remote, request.RemoteFileName);
        Assert.Equal(Hex.Bytes(MetaHex), request.Metadata);
    }

    [Fact]
    public void SetMetadata_empty_metadata_is_allowed()
    {
        var golden = Hex.Bytes("000000000000002c 0000000000000000 4f" + Group1 + RemoteHex);
        Assert.Equal(golden, new SetMetadataRequest(MetadataFlag.Overwrite, "group1", Remote, []).ToArray());
        Assert.Empty(SetMetadataRequest.Read(golden).Metadata);
    }

    [Theory]
    [InlineData("58")] // 'X'
    [InlineData("6f")] // 'o' (lower case)
    [InlineData("00")]
    public void SetMetadata_bad_flag_is_EINVAL(string flag)
    {
        var body = Hex.Bytes("000000000000002c 0000000000000009" + flag + Group1 + RemoteHex + MetaHex);
        var ex = Assert.Throws<FdfsProtocolException>(() => SetMetadataRequest.Read(body));
        Assert.Equal(FdfsErrno.EINVAL, ex.Errno);
    }

    [Theory]
    [InlineData("000000000000002c", "000000000000000a")] // meta_len one too many
    [InlineData("000000000000002c", "0000000000000008")] // meta_len one too few
    [InlineData("000000000000002d", "0000000000000009")] // name_len one too many
    [InlineData("0000000000000000", "0000000000000035")] // empty name
    [InlineData("0000000000000036", "ffffffffffffffff")] // negative meta_len
    [InlineData("7fffffffffffffff", "7fffffffffffffff")] // overflowing sum
    [InlineData("ffffffffffffffd4", "0000000000000061")] // negative name_len, sum matches
    public void SetMetadata_inconsistent_lengths_are_EINVAL(string nameLength, string metaLength)
    {
        var body = Hex.Bytes(nameLength + metaLength + "4d" + Group1 + RemoteHex + MetaHex);
        var ex = Assert.Throws<FdfsProtocolException>(() => SetMetadataRequest.Read(body));
        Assert.Equal(FdfsErrno.EINVAL, ex.Errno);
    }

    // ---- UploadResponse: g16 + remote ----

    [Fact]
    public void UploadResponse_encodes_and_decodes()
    {
        var golden = Hex.Bytes(Group1 + RemoteHex);
        Assert.Equal(golden, UploadResponse.Encode("group1", Remote));
        Assert.Equal(new FileId("group1", Remote), UploadResponse.Decode(golden));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    [InlineData(16)]
    public void UploadResponse_without_a_name_throws(int length)
    {
        Assert.Throws<FdfsProtocolException>(() => UploadResponse.Decode(new byte[length]));
    }

    // ---- FileInfoResponse: size L8 + create time L8 + crc32 L8 (sign-extended) + ip 16 (or 46) ----

    private const string FileInfoGolden =
        "00000000000003e8 | 000000006b05c082 | fffffffff7a1a378 | 3132372e302e302e3300000000000000";

    [Fact]
    public void FileInfo_encodes_with_sign_extended_crc()
    {
        var info = new FileInfoResponse(1000, 0x6b05c082, 0xf7a1a378, "127.0.0.3");
        Assert.Equal(40, FileInfoResponse.Size);
        Assert.Equal(Hex.Bytes(FileInfoGolden), info.ToArray());
    }

    [Fact]
    public void FileInfo_decodes_observed_bytes_keeping_low_32_bits()
    {
        Assert.Equal(new FileInfoResponse(1000, 0x6b05c082, 0xf7a1a378, "127.0.0.3"), FileInfoResponse.Read(Hex.Bytes(FileInfoGolden)));
    }

    [Fact]
    public void FileInfo_crc_without_high_bit_is_not_extended()
    {
        var golden = Hex.Bytes("0000000000000000 0000000000000001 000000007fffffff 31302e302e302e310000000000000000");
        Assert.Equal(golden, new FileInfoResponse(0, 1, 0x7fffffff, "10.0.0.1").ToArray());
        Assert.Equal(new FileInfoResponse(0, 1, 0x7fffffff, "10.0.0.1"), FileInfoResponse.Read(golden));
    }

    [Fact]
    public void FileInfo_decodes_70_byte_ipv6_form()
    {
        var golden = Hex.Concat(
            "0000000000002710", "000000006b05bd8c", "ffffffffd6ec9a5b",
            Hex.Text("fe80::1"), Hex.Zeros(46 - 7));
        Assert.Equal(70, golden.Length);
        Assert.Equal(new FileInfoResponse(10000, 0x6b05bd8c, 0xd6ec9a5b, "fe80::1"), FileInfoResponse.Read(golden));
    }

    [Fact]
    public void FileInfo_70_byte_form_with_full_width_address()
    {
        string ip = "2001:0db8:85a3:0000:0000:8a2e:0370:7334"; // 39 chars, fits 46
        var golden = Hex.Concat("0000000000000001", "0000000000000002", "0000000000000003", Hex.Text(ip), Hex.Zeros(46 - ip.Length));
        Assert.Equal(ip, FileInfoResponse.Read(golden).SourceIp);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(24)]
    [InlineData(39)]
    [InlineData(41)]
    [InlineData(69)]
    [InlineData(71)]
    public void FileInfo_other_lengths_throw(int length)
    {
        Assert.Throws<FdfsProtocolException>(() => FileInfoResponse.Read(new byte[length]));
    }
}
