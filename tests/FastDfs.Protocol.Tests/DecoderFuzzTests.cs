using System.Buffers.Binary;
using System.Text;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>
/// Seeded fuzzing of every wire decoder: random bytes, and mutations of a valid body (bit flips, truncation,
/// extension, integer fields overwritten with extreme values). A daemon turns <see cref="FdfsProtocolException"/>
/// into the errno FastDFS answers (EINVAL) and logs anything else as a handler failure, so decoders may succeed or
/// throw that exception and nothing else. The valid bodies come from the encoders, whose bytes are pinned against
/// FastDFS captures in the message tests. Every decode is also held to an allocation budget, so that a hostile length
/// or count cannot make a decoder allocate far more than the body it was given.
/// </summary>
public class DecoderFuzzTests
{
    private const int Rounds = 1500;
    private const string Remote = "M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt";

    private static readonly StorageBrief Brief = new(StorageStatus.Active, 23000, "7", "127.0.0.3");

    private static readonly NsAttributes Attributes =
        new(42, 7, 0x81A4, 1000, 1000, 1, 12345, 1, 2, 3, "group1/" + Remote, 0);

    /// <summary>A decoder and a valid body for it. <see cref="Total"/>: a decoder that must not throw at all.</summary>
    public sealed record Case(string Name, byte[] Valid, Action<byte[]> Decode, bool Total = false)
    {
        public override string ToString() => Name;
    }

    private static byte[] Written(int size, Func<byte[], int> write)
    {
        var bytes = new byte[size];
        int n = write(bytes);
        return bytes[..n];
    }

    private static byte[] Written(int size, Action<byte[]> write)
    {
        var bytes = new byte[size];
        write(bytes);
        return bytes;
    }

    private static IEnumerable<Case> Cases()
    {
        // Framing and storage requests/responses.
        yield return new("PacketHeader", PacketHeader.Request(StorageCommand.UploadFile, 99).ToArray(), b => PacketHeader.Read(b));
        yield return new("FileRequest", new FileRequest("group1", Remote).ToArray(), b => FileRequest.Read(b));
        yield return new("UploadRequestHeader", Written(UploadRequestHeader.Size, b => new UploadRequestHeader(0, 1, "txt").Write(b)),
            b => UploadRequestHeader.Read(b));
        yield return new("UploadSlaveRequestHeader",
            Written(UploadSlaveRequestHeader.Size, b => new UploadSlaveRequestHeader(44, 1, "_s", "jpg").Write(b)),
            b => UploadSlaveRequestHeader.Read(b));
        foreach (var command in new[] { StorageCommand.AppendFile, StorageCommand.ModifyFile, StorageCommand.TruncateFile })
        {
            yield return new($"AppenderRequestHeader.{command}",
                Written(AppenderRequestHeader.FixedSize(command), b => new AppenderRequestHeader(44, 2, 3).Write(command, b)),
                b => AppenderRequestHeader.Read(command, b));
        }

        yield return new("DownloadRequest", new DownloadRequest(5, 10, "group1", Remote).ToArray(), b => DownloadRequest.Read(b));
        yield return new("SetMetadataRequest",
            new SetMetadataRequest(MetadataFlag.Overwrite, "group1", Remote, MetadataCodec.Encode([new("width", "1024"), new("k", "v")])).ToArray(),
            b => SetMetadataRequest.Read(b));
        yield return new("UploadResponse", UploadResponse.Encode("group1", Remote), b => UploadResponse.Decode(b));
        yield return new("FileInfoResponse", new FileInfoResponse(1, 2, 3, "127.0.0.3").ToArray(), b => FileInfoResponse.Read(b));
        yield return new("FileInfoResponse.IPv6", new FileInfoResponse(1, 2, 3, "fd00::3").ToArray(ipv6Fields: true), b => FileInfoResponse.Read(b));

        // Tracker queries and listings.
        var store = new StoreTarget("group1", new ServerAddress("127.0.0.3", 23000), 1);
        yield return new("StoreTarget", store.ToArray(), b => StoreTarget.Read(b));
        yield return new("StoreTarget.IPv6", store.ToArray(ipv6Fields: true), b => StoreTarget.Read(b));
        var servers = new GroupServers("group1", [new ServerAddress("127.0.0.3", 23000), new ServerAddress("127.0.0.4", 23000)]);
        yield return new("GroupServers", servers.ToArray(), b => GroupServers.Read(b, false));
        yield return new("GroupServers.IPv6", servers.ToArray(ipv6Fields: true), b => GroupServers.Read(b, false));
        yield return new("GroupServers.StoreAll", (servers with { StorePathIndex = 1 }).ToArray(), b => GroupServers.Read(b, true));
        yield return new("GroupStat.ReadAll", GroupStat.WriteAll([new GroupStat { Name = "group1" }, new GroupStat { Name = "g2" }]),
            b => GroupStat.ReadAll(b));
        yield return new("GroupStat", Written(GroupStat.Size, b => new GroupStat { Name = "group1" }.Write(b)), b => GroupStat.Read(b));
        var storage = new StorageInfo { Id = "7", Ip = "127.0.0.3" };
        yield return new("StorageInfo", Written(StorageInfo.Size, b => storage.Write(b)), b => StorageInfo.Read(b));
        yield return new("StorageInfo.ReadAll", StorageInfo.WriteAll([storage, storage with { Id = "8" }]), b => StorageInfo.ReadAll(b));
        yield return new("StorageInfo.ReadAll.IPv6", StorageInfo.WriteAll([storage], ipv6Fields: true), b => StorageInfo.ReadAll(b));
        yield return new("StorageStats", new StorageStats().ToArray(), b => StorageStats.Read(b));
        yield return new("GroupAndStorageRequest", new GroupAndStorageRequest("group1", "7").ToArray(), b => GroupAndStorageRequest.Read(b, false));
        yield return new("GroupAndStorageRequest.IdRequired", new GroupAndStorageRequest("group1", "7").ToArray(),
            b => GroupAndStorageRequest.Read(b, true));

        // Storage to tracker.
        var join = new StorageJoinRequest { Group = "group1", StoragePort = 23000, StorePathCount = 1, Trackers = ["127.0.0.2:22122"] };
        yield return new("StorageJoinRequest", join.ToArray(), b => StorageJoinRequest.Read(b));
        yield return new("StorageJoinResponse", new StorageJoinResponse(StorageStatus.Online, "7").ToArray(), b => StorageJoinResponse.Read(b));
        yield return new("StorageBrief", Written(StorageBrief.Size, b => Brief.Write(b)), b => StorageBrief.Read(b));
        yield return new("ChangeNotification", new ChangeNotification(Brief, Brief, [Brief, Brief]).ToArray(), b => ChangeNotification.Read(b));
        yield return new("DiskUsageReport", DiskUsageReport.Encode([(1, 2), (3, 4)]), b => DiskUsageReport.Decode(b, 2));
        // The path count comes from the storage's join record: here from the first 4 bytes, so it gets fuzzed too.
        yield return new("DiskUsageReport.HostileCount", [0, 0, 0, 1, .. DiskUsageReport.Encode([(1, 2)])],
            b => DiskUsageReport.Decode(b.AsSpan(Math.Min(4, b.Length)), b.Length >= 4 ? BinaryPrimitives.ReadInt32BigEndian(b) : 1));

        // Storage to storage.
        yield return new("SyncFileHeader", Written(SyncFileHeader.Size, b => new SyncFileHeader(44, 10, 1, "group1").Write(b)),
            b => SyncFileHeader.Read(b));
        yield return new("SyncRangeHeader", Written(SyncRangeHeader.Size, b => new SyncRangeHeader(44, 0, 10, 1, "group1").Write(b)),
            b => SyncRangeHeader.Read(b));
        yield return new("SyncTwoNamesHeader", Written(SyncTwoNamesHeader.Size, b => new SyncTwoNamesHeader(44, 44, 1, "group1").Write(b)),
            b => SyncTwoNamesHeader.Read(b));
        yield return new("SyncDeleteHeader", Written(SyncDeleteHeader.Size, b => new SyncDeleteHeader(1, "group1").Write(b)),
            b => SyncDeleteHeader.Read(b));
        yield return new("ReportServerIdRequest", Written(ReportServerIdRequest.Size, b => new ReportServerIdRequest("7").Write(b)),
            b => ReportServerIdRequest.Read(b));
        yield return new("FetchOnePathBinlogRequest", Written(FetchOnePathBinlogRequest.Size, b => new FetchOnePathBinlogRequest("group1", 1).Write(b)),
            b => FetchOnePathBinlogRequest.Read(b));
        yield return new("SyncReportBody", SyncReportBody.Encode([("7", 100), ("8", 200)]), b => SyncReportBody.Decode(b));
        yield return new("FetchStorageIdsRequest", new FetchStorageIdsRequest(0, true).ToArray(), b => FetchStorageIdsRequest.Read(b));
        yield return new("FetchStorageIdsResponse", new FetchStorageIdsResponse(2, ["1 group1 127.0.0.3", "2 group1 127.0.0.4:23000"]).ToArray(),
            b => FetchStorageIdsResponse.Read(b));
        yield return new("GetServerIdRequest", new GetServerIdRequest("group1", "[fd00::3]:23000").ToArray(),
            b => GetServerIdRequest.Read(b).SplitAddress());

        // Tracker to tracker.
        yield return new("TrackerStatus", new TrackerStatus(true, 10, 20).ToArray(), b => TrackerStatus.Read(b));
        yield return new("LeaderAddressBody", LeaderAddressBody.ToArray(new ServerAddress("127.0.0.2", 22122)),
            b => LeaderAddressBody.TryRead(b, out _), Total: true);
        yield return new("TrackerJoinLeaderRequest", new TrackerJoinLeaderRequest(10, "6.16.1", 22122).ToArray(),
            b => TrackerJoinLeaderRequest.Read(b));
        yield return new("SysFileChunk.Request", SysFileChunk.Request(1, 100), b => SysFileChunk.ReadRequest(b));
        yield return new("SysFileChunk.Response", Hex.Concat(Hex.L8(5), "0102030405"), b => SysFileChunk.ReadResponse(b));

        // Directory service.
        yield return new("NsAttributes", Written(Attributes.WireSize, b => Attributes.Write(b)), b => NsAttributes.Read(b));
        yield return new("NsStatFs", Written(NsStatFs.Size, b => new NsStatFs(Guid.Empty, 1, 2, 3, 4, 5).Write(b)), b => NsStatFs.Read(b));
        yield return new("Ns.Group", Written(16, b => NamespaceMessages.WriteGroup(b, "group1")), b => NamespaceMessages.ReadGroup(b));
        yield return new("Ns.Inode", Written(8, b => NamespaceMessages.WriteInode(b, 42)), b => NamespaceMessages.ReadInode(b));
        yield return new("Ns.InodeName", Written(64, b => NamespaceMessages.WriteInodeName(b, 42, "name.txt")),
            b => NamespaceMessages.ReadInodeName(b, out _));
        yield return new("Ns.ReadDir", Written(NamespaceMessages.ReadDirSize, b => NamespaceMessages.WriteReadDir(b, 1, 2, 100)),
            b => NamespaceMessages.ReadReadDir(b));
        yield return new("Ns.Create", Written(256, b => NamespaceMessages.WriteCreate(b, 1, 0x81A4, 0, 0, 10, "group1/" + Remote, "a.txt")),
            b => NamespaceMessages.ReadCreate(b));
        yield return new("Ns.Symlink", Written(64, b => NamespaceMessages.WriteSymlink(b, 1, 0, 0, "link", "../target")),
            b => NamespaceMessages.ReadSymlink(b, out _, out _, out _, out _));
        yield return new("Ns.Link", Written(64, b => NamespaceMessages.WriteLink(b, 5, 1, "again")), b => NamespaceMessages.ReadLink(b, out _, out _));
        yield return new("Ns.Rename", Written(64, b => NamespaceMessages.WriteRename(b, 1, "old", 2, "new", NamespaceRenameFlags.None)),
            b => NamespaceMessages.ReadRename(b));
        yield return new("Ns.SetAttr", Written(NamespaceMessages.SetAttrSize,
                b => NamespaceMessages.WriteSetAttr(b, new SetAttrRequest(1, NamespaceSetAttr.Mode, 0x1A4, 0, 0, 0, 0, 0, 0))),
            b => NamespaceMessages.ReadSetAttr(b));
        yield return new("Ns.SetContent", Written(128, b => NamespaceMessages.WriteSetContent(b, 1, "group1/" + Remote, 10, 20)),
            b => NamespaceMessages.ReadSetContent(b, out _, out _, out _));
        yield return new("Ns.SetXattr", Written(64, b => NamespaceMessages.WriteSetXattr(b, 1, "user.a", "value"u8, NamespaceXattrFlags.None)),
            b => NamespaceMessages.ReadSetXattr(b, out _, out _, out _));
        yield return new("Ns.Pending", Written(128, b => NamespaceMessages.WritePending(b, "group1/" + Remote, 60)),
            b => NamespaceMessages.ReadPending(b, out _));
        yield return new("Ns.DirPage", DirPage(), b => NamespaceMessages.ReadDirPage(b, out _));
        yield return new("Ns.DirPlusPage", DirPlusPage(), b => NamespaceMessages.ReadDirPlusPage(b, out _));
        yield return new("Ns.LinkNames", LinkNames(), b => NamespaceMessages.ReadLinkNames(b));
        yield return new("Ns.XattrNames", "user.a\0user.bb\0"u8.ToArray(), b => NamespaceMessages.ReadXattrNames(b));

        // Text inside packets: metadata, file IDs and file names must never throw past their documented errors.
        yield return new("Metadata", MetadataCodec.Encode([new("width", "1024"), new("k", "v")]), b => MetadataCodec.Decode(b), Total: true);
        yield return new("FileId.Parse", Encoding.ASCII.GetBytes("group1/" + Remote), b => FileId.Parse(Encoding.Latin1.GetString(b)));
        yield return new("FileNames", Encoding.ASCII.GetBytes(Remote), b => FileNameFacts(Encoding.Latin1.GetString(b)), Total: true);
    }

    private static void FileNameFacts(string text)
    {
        if (FileNames.TryDecode(text, out var info))
        {
            _ = info.Source;
            _ = info.FileSize;
        }

        if (RemoteNames.TryValidate(text, out _))
        {
            _ = RemoteNames.StorePathIndex(text);
        }
    }

    private static byte[] DirPage()
    {
        var bytes = new byte[256];
        int o = NamespaceMessages.PageHeaderSize;
        o += NamespaceMessages.WriteDirEntry(bytes.AsSpan(o), 1, 10, 0x41ED, "dir"u8);
        o += NamespaceMessages.WriteDirEntry(bytes.AsSpan(o), 2, 11, 0x81A4, "file.txt"u8);
        NamespaceMessages.WritePageHeader(bytes, true, 2);
        return bytes[..o];
    }

    private static byte[] DirPlusPage()
    {
        var bytes = new byte[512];
        int o = NamespaceMessages.PageHeaderSize;
        o += NamespaceMessages.WriteDirEntryPlus(bytes.AsSpan(o), 1, "file.txt"u8, Attributes);
        o += NamespaceMessages.WriteDirEntryPlus(bytes.AsSpan(o), 2, "other"u8, Attributes with { FileId = null });
        NamespaceMessages.WritePageHeader(bytes, false, 2);
        return bytes[..o];
    }

    private static byte[] LinkNames()
    {
        var bytes = new byte[128];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 2);
        int o = 4;
        o += NamespaceMessages.WriteLinkName(bytes.AsSpan(o), 1, 5, "a"u8);
        o += NamespaceMessages.WriteLinkName(bytes.AsSpan(o), 2, 5, "b.txt"u8);
        return bytes[..o];
    }

    public static TheoryData<Case> AllCases()
    {
        var data = new TheoryData<Case>();
        foreach (var c in Cases())
        {
            data.Add(c);
        }

        return data;
    }

    /// <summary>Values that break length and count handling: signs, int32/int64 edges, and the body's own size.</summary>
    private static long[] ExtremeValues(int bodyLength) =>
    [
        0, 1, -1, 2, 15, 16, 17, 255, 256, 0xFFFF, 0x10000, bodyLength - 1, bodyLength, bodyLength + 1,
        int.MaxValue, int.MinValue, int.MaxValue / 16 + 1, 0x10000000, uint.MaxValue, 1L << 32, 1L << 40,
        long.MaxValue, long.MinValue, long.MaxValue - 1, long.MinValue + 1,
    ];

    /// <summary>A stable seed per case (string.GetHashCode differs between runs).</summary>
    private static int Seed(string name)
    {
        uint hash = 2166136261;
        foreach (char c in name)
        {
            hash = (hash ^ c) * 16777619;
        }

        return (int)(hash & 0x7FFFFFFF);
    }

    internal static byte[] Mutate(Random random, byte[] valid, int round)
    {
        byte[] input = (byte[])valid.Clone();
        switch (round % 6)
        {
            case 0:
                input = new byte[random.Next(0, valid.Length * 2 + 64)];
                random.NextBytes(input);
                break;
            case 1:
                for (int i = random.Next(1, 9); i > 0 && input.Length > 0; i--)
                {
                    int bit = random.Next(input.Length * 8);
                    input[bit / 8] ^= (byte)(1 << (bit % 8));
                }

                break;
            case 2:
                input = input[..random.Next(input.Length + 1)];
                break;
            case 3:
                var tail = new byte[random.Next(1, 65)];
                if (random.Next(2) == 0)
                {
                    random.NextBytes(tail);
                }

                input = [.. input, .. tail];
                break;
            default:
                // An integer field (8, 4, 2 or 1 bytes, at any offset) set to an extreme value; sometimes two of them.
                var big = new byte[8];
                for (int pokes = random.Next(1, 3); pokes > 0; pokes--)
                {
                    int width = Math.Min(1 << random.Next(4), input.Length);
                    if (width == 0)
                    {
                        break;
                    }

                    long[] values = ExtremeValues(valid.Length);
                    long value = values[random.Next(values.Length)];
                    var field = input.AsSpan(random.Next(input.Length - width + 1), width);
                    BinaryPrimitives.WriteInt64BigEndian(big, value);
                    big.AsSpan(8 - width).CopyTo(field);
                }

                break;
        }

        return input;
    }

    [Theory]
    [MemberData(nameof(AllCases))]
    public void Valid_body_decodes(Case c) => c.Decode(c.Valid);

    [Theory]
    [MemberData(nameof(AllCases))]
    public void Fuzzed_bodies_decode_or_raise_only_protocol_errors_within_an_allocation_budget(Case c)
    {
        var random = new Random(Seed(c.Name));
        int failures = 0;
        for (int round = 0; round < Rounds; round++)
        {
            var input = Mutate(random, c.Valid, round);
            if (!DecodesCleanly(c, input))
            {
                failures++;
            }
        }

        // Most mutations must fail to decode: a decoder that accepts everything checks nothing (total ones excepted).
        Assert.True(c.Total || failures > 0, $"{c.Name}: no mutated body was refused");
    }

    /// <summary>True when the input decoded, false when it was refused with a protocol error; fails the test otherwise.</summary>
    private static bool DecodesCleanly(Case c, byte[] input)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        bool decoded;
        try
        {
            c.Decode(input);
            decoded = true;
        }
        catch (FdfsProtocolException e) when (!c.Total)
        {
            Assert.Equal(FdfsErrno.EINVAL, e.Errno);
            decoded = false;
        }
        catch (Exception e)
        {
            Assert.Fail($"{c.Name}: {e.GetType().Name} for input {Convert.ToHexString(input)}: {e.Message}\n{e.StackTrace}");
            throw;
        }

        // Strings and lists in proportion to the body, plus a little; never from a length field alone.
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long budget = 64 * 1024 + 32L * input.Length;
        Assert.True(allocated <= budget, $"{c.Name}: decoding {input.Length} bytes allocated {allocated} bytes: {Convert.ToHexString(input)}");
        return decoded;
    }

    [Theory]
    [MemberData(nameof(AllCases))]
    public void Every_prefix_decodes_or_raises_a_protocol_error(Case c)
    {
        for (int length = 0; length <= c.Valid.Length; length++)
        {
            DecodesCleanly(c, c.Valid[..length]);
        }
    }

    [Fact]
    public void Directory_pages_with_a_lying_entry_count_allocate_in_proportion_to_the_body()
    {
        // The list capacity was clamped to 4096 entries whatever the body held: 130-400 KB for a 5-byte page.
        var page = new byte[NamespaceMessages.PageHeaderSize];
        NamespaceMessages.WritePageHeader(page, false, int.MaxValue);
        foreach (Action decode in new Action[]
                 {
                     () => NamespaceMessages.ReadDirPage(page, out _), () => NamespaceMessages.ReadDirPlusPage(page, out _),
                     () => NamespaceMessages.ReadLinkNames(page.AsSpan(1)),
                 })
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Assert.Throws<FdfsProtocolException>(decode);
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 * 1024);
        }
    }

    [Fact]
    public void Disk_usage_with_a_path_count_whose_byte_size_overflows_is_refused_without_allocating()
    {
        // 0x10000000 paths x 16 bytes wraps to 0 in 32-bit arithmetic: the empty body used to pass the size check and
        // the decoder then reserved a 4 GiB list before the first read failed.
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<FdfsProtocolException>(() => DiskUsageReport.Decode([], 0x10000000));
        Assert.Equal(FdfsErrno.EINVAL, ex.Errno);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }
}
