using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>Storage-ID commands: FETCH_STORAGE_IDS (69), GET_SERVER_ID (70) and IDs in file names (notes 3.3, 6.2).</summary>
public class StorageIdMessagesTests
{
    [Fact]
    public void Fetch_storage_ids_request_is_the_start_index_and_an_optional_allow_empty_byte()
    {
        Assert.Equal("00000002", Hex.Of(new FetchStorageIdsRequest(2).ToArray()));
        Assert.Equal("0000010001", Hex.Of(new FetchStorageIdsRequest(256, true).ToArray()));
        Assert.Equal(new FetchStorageIdsRequest(256, true), FetchStorageIdsRequest.Read(Hex.Bytes("00000100 01")));
        Assert.Equal(new FetchStorageIdsRequest(3, null), FetchStorageIdsRequest.Read(Hex.Bytes("00000003")));
        Assert.Throws<FdfsProtocolException>(() => FetchStorageIdsRequest.Read(Hex.Bytes("000003")));
        Assert.Throws<FdfsProtocolException>(() => FetchStorageIdsRequest.Read(Hex.Bytes("000000030100")));
    }

    // total 3 (L4), returned 2 (L4), then "100001 group1 127.0.0.2\n100002 group1 127.0.0.3:23001 rw=read\n"
    private const string FetchGolden =
        "00000003" + "00000002" +
        "313030303031 20 67726f757031 20 3132372e302e302e32 0a" +
        "313030303032 20 67726f757031 20 3132372e302e302e333a3233303031 20 72773d72656164 0a";

    [Fact]
    public void Fetch_storage_ids_response_golden()
    {
        var response = new FetchStorageIdsResponse(3, ["100001 group1 127.0.0.2", "100002 group1 127.0.0.3:23001 rw=read"]);
        Assert.Equal(Hex.Of(Hex.Bytes(FetchGolden)), Hex.Of(response.ToArray()));
        var read = FetchStorageIdsResponse.Read(Hex.Bytes(FetchGolden));
        Assert.Equal(3, read.TotalCount);
        Assert.Equal(response.Lines, read.Lines);

        Assert.Equal("0000000300000000", Hex.Of(new FetchStorageIdsResponse(3, []).ToArray()));
        Assert.Throws<FdfsProtocolException>(() => FetchStorageIdsResponse.Read(Hex.Bytes("000000030000")));

        // A count that does not match the lines is refused rather than trusted.
        Assert.Throws<FdfsProtocolException>(() => FetchStorageIdsResponse.Read(Hex.Bytes("0000000300000003" + "3130303030312067726f75703120312e322e332e340a")));
    }

    [Fact]
    public void The_id_list_reader_pages_until_the_total_and_retries_an_old_tracker_without_allow_empty()
    {
        var reader = new StorageIdListReader();
        Assert.Equal("0000000001", Hex.Of(reader.NextRequest.ToArray()));

        // A tracker before 6.16 refuses the 5-byte request with EINVAL: ask again with the index alone.
        Assert.Equal(StorageIdPage.More, reader.Accept(FdfsErrno.EINVAL, []));
        Assert.Equal("00000000", Hex.Of(reader.NextRequest.ToArray()));

        Assert.Equal(StorageIdPage.More, reader.Accept(0, Hex.Bytes(FetchGolden)));
        Assert.Equal("00000002", Hex.Of(reader.NextRequest.ToArray()));
        Assert.Equal(StorageIdPage.Complete, reader.Accept(0, new FetchStorageIdsResponse(3, ["100003 group2 10.0.0.5,127.0.0.9"]).ToArray()));

        var map = reader.ToMap("test");
        Assert.Equal(["100001", "100002", "100003"], map.Entries.Select(e => e.Id));
        Assert.Equal(["10.0.0.5", "127.0.0.9"], map.Entries[2].Ips);
    }

    [Fact]
    public void The_id_list_reader_stops_on_a_refusal_an_empty_page_and_a_garbled_one()
    {
        var refused = new StorageIdListReader();
        Assert.Equal(StorageIdPage.Refused, refused.Accept(FdfsErrno.EOPNOTSUPP, []));

        // EINVAL after the fallback, or on a later page, is a refusal, not another retry.
        var late = new StorageIdListReader();
        Assert.Equal(StorageIdPage.More, late.Accept(FdfsErrno.EINVAL, []));
        Assert.Equal(StorageIdPage.Refused, late.Accept(FdfsErrno.EINVAL, []));

        // A page with no lines ends the list even if the total promised more (the list shrank meanwhile); an empty
        // list is refused as an empty storage_ids.conf is.
        var shrunk = new StorageIdListReader();
        Assert.Equal(StorageIdPage.Complete, shrunk.Accept(0, new FetchStorageIdsResponse(5, []).ToArray()));
        Assert.Throws<FastDfs.Protocol.Config.FdfsConfigException>(() => shrunk.ToMap("test"));

        Assert.Throws<FdfsProtocolException>(() => new StorageIdListReader().Accept(0, Hex.Bytes("000000030000")));
    }

    [Fact]
    public void Tracker_parameters_are_key_value_lines()
    {
        var parameters = TrackerParameters.Read("use_storage_id=1\nid_type_in_filename = id\n\nnonsense\nstore_path=2\nuse_storage_id=0"u8);
        Assert.Equal(false, parameters.GetBool("use_storage_id")); // the last wins
        Assert.Equal("id", parameters.Values["id_type_in_filename"]);
        Assert.Equal("2", parameters.Values["store_path"]);
        Assert.Null(parameters.GetBool("store_path_missing"));
        Assert.Null(TrackerParameters.Read("use_storage_id=maybe"u8).GetBool("use_storage_id"));
        Assert.Equal(true, TrackerParameters.Read("use_storage_id=true\n"u8).GetBool("use_storage_id"));
        Assert.Equal(3, TrackerParameters.Read("a=1\nb=2\nc=\n"u8).Values.Count);
    }

    [Fact]
    public void Get_server_id_request_is_the_group_and_address_text()
    {
        string golden = Hex.Padded("group1", 16) + "3132372e302e302e323a3233303030"; // 127.0.0.2:23000
        var request = new GetServerIdRequest("group1", "127.0.0.2:23000");
        Assert.Equal(golden, Hex.Of(request.ToArray()));
        Assert.Equal(request, GetServerIdRequest.Read(Hex.Bytes(golden)));
        Assert.Equal(("127.0.0.2", 23000), request.SplitAddress());
        Assert.Equal(("127.0.0.2", 0), new GetServerIdRequest("group1", "127.0.0.2").SplitAddress());
        Assert.Equal(("2001:db8::1", 23000), new GetServerIdRequest("group1", "[2001:db8::1]:23000").SplitAddress());
        Assert.Equal(("", 0), GetServerIdRequest.Read(Hex.Bytes(Hex.Padded("group1", 16))).SplitAddress());
        Assert.Throws<FdfsProtocolException>(() => GetServerIdRequest.Read(Hex.Bytes("67726f757031")));
    }

    [Fact]
    public void A_file_name_carries_a_server_id_as_little_endian_uint32()
    {
        // ID 100001 = 0x000186a1: bytes a1 86 01 00, then timestamp, size field, CRC32 (all big-endian).
        string name = FileNames.MakeName(100001, 0x6b050000, FileNames.MakeSizeField(1000, false, 0), 0xDEADBEEF, "txt", new Random(1));
        var raw = new byte[20];
        Assert.True(FdfsBase64.TryDecode(name.AsSpan(0, 27), raw, out int written));
        Assert.Equal(20, written);
        Assert.Equal("a1860100", Hex.Of(raw.AsSpan(0, 4)));
        Assert.Equal("6b050000", Hex.Of(raw.AsSpan(4, 4)));

        Assert.True(FileNames.TryDecode("M00/00/00/" + name, out var info));
        Assert.True(info.HasServerId);
        Assert.Equal(100001u, info.SourceAddress);
        Assert.Equal("100001", info.Source);
    }
}
