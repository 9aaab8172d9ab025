using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>Storage-to-storage replication messages (protocol notes 5.3) and the SYNC_REPORT body (3.3).</summary>
public class SyncMessagesTests
{
    // group1 NUL-padded to 16 bytes
    private const string Group1 = "67726f75703100000000000000000000";

    // ---- SYNC_CREATE_FILE / SYNC_UPDATE_FILE: name_len L8 + file_size L8 + timestamp L4 + g16 ----

    private const string SyncFileGolden =
        "000000000000002c" + //  0  name length 44
        "0000000000012345" + //  8  file size 0x12345
        "6b05f8a1" + //         16  timestamp
        Group1; //              20  group

    [Fact]
    public void Sync_file_header_encodes_and_decodes()
    {
        Assert.Equal(36, SyncFileHeader.Size);
        var bytes = new byte[SyncFileHeader.Size];
        new SyncFileHeader(44, 0x12345, 0x6b05f8a1, "group1").Write(bytes);
        Assert.Equal(SyncFileGolden, Hex.Of(bytes));
        Assert.Equal(new SyncFileHeader(44, 0x12345, 0x6b05f8a1, "group1"), SyncFileHeader.Read(Hex.Bytes(SyncFileGolden)));
    }

    // ---- SYNC_APPEND / MODIFY / TRUNCATE: name_len L8 + two L8 + timestamp L4 + g16 ----

    private const string SyncRangeGolden =
        "000000000000002c" + //  0  name length
        "0000000000000bb8" + //  8  start offset 3000 (truncate: old size)
        "00000000000007d0" + // 16  length 2000 (truncate: new size)
        "6b05f8a2" + //         24  timestamp
        Group1; //              28  group

    [Fact]
    public void Sync_range_header_encodes_and_decodes()
    {
        Assert.Equal(44, SyncRangeHeader.Size);
        var bytes = new byte[SyncRangeHeader.Size];
        new SyncRangeHeader(44, 3000, 2000, 0x6b05f8a2, "group1").Write(bytes);
        Assert.Equal(SyncRangeGolden, Hex.Of(bytes));
        Assert.Equal(new SyncRangeHeader(44, 3000, 2000, 0x6b05f8a2, "group1"), SyncRangeHeader.Read(Hex.Bytes(SyncRangeGolden)));
    }

    // ---- SYNC_RENAME_FILE / SYNC_CREATE_LINK: len L8 + len L8 + timestamp L4 + g16 ----

    private const string TwoNamesGolden =
        "000000000000002c" + //  0  new name / link name length
        "000000000000002d" + //  8  old name / source name length
        "6b05f8a3" + //         16  timestamp
        Group1; //              20  group

    [Fact]
    public void Two_names_header_encodes_and_decodes()
    {
        Assert.Equal(36, SyncTwoNamesHeader.Size);
        var bytes = new byte[SyncTwoNamesHeader.Size];
        new SyncTwoNamesHeader(44, 45, 0x6b05f8a3, "group1").Write(bytes);
        Assert.Equal(TwoNamesGolden, Hex.Of(bytes));
        Assert.Equal(new SyncTwoNamesHeader(44, 45, 0x6b05f8a3, "group1"), SyncTwoNamesHeader.Read(Hex.Bytes(TwoNamesGolden)));
    }

    // ---- SYNC_DELETE_FILE: timestamp L4 + g16 ----

    [Fact]
    public void Sync_delete_header_encodes_and_decodes()
    {
        const string golden = "6b05f8a4" + Group1;
        Assert.Equal(20, SyncDeleteHeader.Size);
        var bytes = new byte[SyncDeleteHeader.Size];
        new SyncDeleteHeader(0x6b05f8a4, "group1").Write(bytes);
        Assert.Equal(golden, Hex.Of(bytes));
        Assert.Equal(new SyncDeleteHeader(0x6b05f8a4, "group1"), SyncDeleteHeader.Read(Hex.Bytes(golden)));
    }

    // ---- REPORT_SERVER_ID: storage id 16 ----

    [Fact]
    public void Report_server_id_encodes_and_decodes()
    {
        const string golden = "3132372e302e302e3500000000000000"; // "127.0.0.5" padded to 16
        var bytes = new byte[ReportServerIdRequest.Size];
        new ReportServerIdRequest("127.0.0.5").Write(bytes);
        Assert.Equal(golden, Hex.Of(bytes));
        Assert.Equal("127.0.0.5", ReportServerIdRequest.Read(Hex.Bytes(golden)).StorageId);
    }

    // ---- FETCH_ONE_PATH_BINLOG: g16 + store path index 1 ----

    [Fact]
    public void Fetch_one_path_binlog_encodes_and_decodes()
    {
        const string golden = Group1 + "02";
        var bytes = new byte[FetchOnePathBinlogRequest.Size];
        new FetchOnePathBinlogRequest("group1", 2).Write(bytes);
        Assert.Equal(golden, Hex.Of(bytes));
        Assert.Equal(new FetchOnePathBinlogRequest("group1", 2), FetchOnePathBinlogRequest.Read(Hex.Bytes(golden)));
    }

    // ---- STORAGE_SYNC_REPORT: N x (source id 16 + timestamp L4) ----

    [Fact]
    public void Sync_report_body_encodes_and_decodes()
    {
        const string golden =
            "3132372e302e302e3500000000000000" + "6b05f8a5" + // 127.0.0.5 synced until 0x6b05f8a5
            "3132372e302e302e3600000000000000" + "00000000"; //  127.0.0.6 nothing yet
        var entries = new List<(string, long)> { ("127.0.0.5", 0x6b05f8a5), ("127.0.0.6", 0) };
        Assert.Equal(golden, Hex.Of(SyncReportBody.Encode(entries)));
        Assert.Equal(entries, SyncReportBody.Decode(Hex.Bytes(golden)));
    }

    [Fact]
    public void Sync_report_body_of_wrong_length_is_refused()
    {
        Assert.Throws<FdfsProtocolException>(() => SyncReportBody.Decode(new byte[21]));
    }

    [Fact]
    public void Truncated_headers_are_refused()
    {
        Assert.Throws<FdfsProtocolException>(() => SyncFileHeader.Read(new byte[35]));
        Assert.Throws<FdfsProtocolException>(() => SyncRangeHeader.Read(new byte[43]));
        Assert.Throws<FdfsProtocolException>(() => SyncTwoNamesHeader.Read(new byte[35]));
        Assert.Throws<FdfsProtocolException>(() => SyncDeleteHeader.Read(new byte[19]));
    }
}
