using System.Text;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>
/// Bad input must only ever surface as <see cref="FdfsProtocolException"/> (a daemon answers it with EINVAL),
/// never as IndexOutOfRange / ArgumentOutOfRange / overflow. The byte-exact layouts are pinned elsewhere; here the
/// valid bodies come from the encoders.
/// </summary>
public class RobustnessTests
{
    private const string Remote = "M00/03/52/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt";

    private static readonly StorageBrief Brief = new(StorageStatus.Active, 23000, "127.0.0.3", "127.0.0.3");

    private static byte[] Written(int size, Action<byte[]> write)
    {
        var bytes = new byte[size];
        write(bytes);
        return bytes;
    }

    /// <summary>A decoder, a valid body for it, and whether every shorter prefix must fail too.</summary>
    public sealed record Case(string Name, byte[] Valid, Action<byte[]> Decode, bool FixedSize)
    {
        /// <summary>Variable-length bodies whose one-byte-shorter form is itself valid (a shorter name).</summary>
        public bool ShortIsValid { get; init; }

        public override string ToString() => Name;
    }

    private static IEnumerable<Case> Cases()
    {
        yield return new("PacketHeader", PacketHeader.Response(5).ToArray(), b => PacketHeader.Read(b), true);
        yield return new("FileRequest", new FileRequest("group1", Remote).ToArray(), b => FileRequest.Read(b), false) { ShortIsValid = true };
        yield return new("FileRequest.EmptyName", new FileRequest("group1", string.Empty).ToArray(), b => FileRequest.Read(b), true);
        yield return new("UploadRequestHeader", Written(15, b => new UploadRequestHeader(0, 1, "txt").Write(b)), b => UploadRequestHeader.Read(b), true);
        yield return new("UploadSlaveRequestHeader", Written(38, b => new UploadSlaveRequestHeader(44, 1, "_s", "jpg").Write(b)),
            b => UploadSlaveRequestHeader.Read(b), true);
        foreach (var command in new[] { StorageCommand.AppendFile, StorageCommand.ModifyFile, StorageCommand.TruncateFile })
        {
            int size = AppenderRequestHeader.FixedSize(command);
            yield return new($"AppenderRequestHeader.{command}", Written(size, b => new AppenderRequestHeader(44, 2, 3).Write(command, b)),
                b => AppenderRequestHeader.Read(command, b), true);
        }

        yield return new("DownloadRequest", new DownloadRequest(0, 0, "group1", string.Empty).ToArray(), b => DownloadRequest.Read(b), true);
        yield return new("SetMetadataRequest", new SetMetadataRequest(MetadataFlag.Merge, "group1", Remote, [0x61, 0x02, 0x62]).ToArray(),
            b => SetMetadataRequest.Read(b), false);
        yield return new("UploadResponse", UploadResponse.Encode("group1", "M"), b => UploadResponse.Decode(b), true);
        yield return new("FileInfoResponse", new FileInfoResponse(1, 2, 3, "127.0.0.3").ToArray(), b => FileInfoResponse.Read(b), true);
        yield return new("FileInfoResponse.IPv6", new byte[70], b => FileInfoResponse.Read(b), false);
        yield return new("StoreTarget", new StoreTarget("group1", new ServerAddress("127.0.0.3", 23000), 0).ToArray(), b => StoreTarget.Read(b), true);
        yield return new("GroupServers.FetchOne", new GroupServers("group1", [new ServerAddress("127.0.0.3", 23000)]).ToArray(),
            b => GroupServers.Read(b, false), true);
        yield return new("GroupServers.FetchAll",
            new GroupServers("group1", [new ServerAddress("127.0.0.3", 23000), new ServerAddress("127.0.0.4", 23000)]).ToArray(),
            b => GroupServers.Read(b, false), false);
        yield return new("GroupServers.StoreAll",
            new GroupServers("group1", [new ServerAddress("127.0.0.3", 23000), new ServerAddress("127.0.0.4", 23000)], 1).ToArray(),
            b => GroupServers.Read(b, true), false);
        yield return new("GroupStat", Written(113, b => new GroupStat { Name = "group1" }.Write(b)), b => GroupStat.Read(b), true);
        yield return new("GroupStat.ReadAll", GroupStat.WriteAll([new GroupStat { Name = "g1" }, new GroupStat { Name = "g2" }]),
            b => GroupStat.ReadAll(b), false);
        yield return new("StorageInfo", Written(487, b => new StorageInfo { Id = "s", Ip = "127.0.0.3" }.Write(b)), b => StorageInfo.Read(b), true);
        yield return new("StorageInfo.ReadAll", StorageInfo.WriteAll([new StorageInfo { Id = "s", Ip = "1.2.3.4" }]), b => StorageInfo.ReadAll(b), false);
        yield return new("StorageStats", new StorageStats().ToArray(), b => StorageStats.Read(b), true);
        yield return new("GroupAndStorageRequest", new GroupAndStorageRequest("group1", null).ToArray(),
            b => GroupAndStorageRequest.Read(b, false), true);
        yield return new("GroupAndStorageRequest.Id", new GroupAndStorageRequest("group1", "1").ToArray(),
            b => GroupAndStorageRequest.Read(b, true), true);
        yield return new("StorageJoinRequest", new StorageJoinRequest { Group = "group1" }.ToArray()[..145], b => StorageJoinRequest.Read(b), true);
        yield return new("StorageJoinResponse", new StorageJoinResponse(StorageStatus.Online, "x").ToArray(), b => StorageJoinResponse.Read(b), true);
        yield return new("StorageBrief", Written(67, b => Brief.Write(b)), b => StorageBrief.Read(b), true);
        for (int flags = 1; flags <= 7; flags++)
        {
            var notification = new ChangeNotification((flags & 1) != 0 ? Brief : null, (flags & 2) != 0 ? Brief : null,
                (flags & 4) != 0 ? [Brief, Brief] : null);
            yield return new($"ChangeNotification.{flags}", notification.ToArray(), b => ChangeNotification.Read(b), false);
        }

        yield return new("DiskUsageReport", DiskUsageReport.Encode([(1, 2), (3, 4)]), b => DiskUsageReport.Decode(b, 2), true);
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

    [Theory]
    [MemberData(nameof(AllCases))]
    public void Valid_body_decodes(Case c) => c.Decode(c.Valid);

    [Theory]
    [MemberData(nameof(AllCases))]
    public void One_byte_short_throws_protocol_exception(Case c)
    {
        if (c.ShortIsValid)
        {
            c.Decode(c.Valid[..^1]);
            return;
        }

        var ex = Assert.Throws<FdfsProtocolException>(() => c.Decode(c.Valid[..^1]));
        Assert.Equal(FdfsErrno.EINVAL, ex.Errno);
    }

    [Theory]
    [MemberData(nameof(AllCases))]
    public void Every_shorter_prefix_of_a_fixed_record_throws(Case c)
    {
        if (!c.FixedSize)
        {
            return;
        }

        for (int length = 0; length < c.Valid.Length; length++)
        {
            Assert.Throws<FdfsProtocolException>(() => c.Decode(c.Valid[..length]));
        }
    }

    [Theory]
    [MemberData(nameof(AllCases))]
    public void Random_and_mutated_bytes_only_raise_protocol_exceptions(Case c)
    {
        var random = new Random(c.Name.Length * 7919 + c.Valid.Length);
        for (int round = 0; round < 3000; round++)
        {
            byte[] input;
            switch (round % 3)
            {
                case 0:
                    input = new byte[random.Next(0, 640)];
                    random.NextBytes(input);
                    break;
                case 1:
                    // Near the valid length, random content.
                    input = new byte[Math.Max(0, c.Valid.Length + random.Next(-3, 4))];
                    random.NextBytes(input);
                    break;
                default:
                    // The valid body with a few bytes changed; length fields are where decoders break.
                    input = (byte[])c.Valid.Clone();
                    for (int i = random.Next(1, 4); i > 0 && input.Length > 0; i--)
                    {
                        input[random.Next(input.Length)] = (byte)random.Next(256);
                    }

                    if (random.Next(4) == 0)
                    {
                        input = input[..random.Next(input.Length + 1)];
                    }

                    break;
            }

            OnlyProtocolErrors(() => c.Decode(input), input);
        }
    }

    [Fact]
    public void Set_metadata_with_extreme_lengths_only_raises_protocol_exceptions()
    {
        string[] lengths = ["0000000000000000", "0000000000000001", "000000007fffffff", "0000000080000000", "00000000ffffffff",
            "7fffffffffffffff", "8000000000000000", "ffffffffffffffff", "ffffffff80000000"];
        var tail = Encoding.ASCII.GetBytes("4d" + new string('0', 32)).Length; // unused, keeps the shape readable
        _ = tail;
        foreach (string name in lengths)
        {
            foreach (string meta in lengths)
            {
                var body = Hex.Bytes(name + meta + "4d" + Hex.Padded("group1", 16) + Hex.Text(Remote) + "610262");
                OnlyProtocolErrors(() => SetMetadataRequest.Read(body), body);
            }
        }
    }

    [Fact]
    public void Disk_usage_with_any_path_count_only_raises_protocol_exceptions()
    {
        foreach (int paths in new[] { -1, 0, 1, 2, 255, int.MaxValue / 16 + 1 })
        {
            OnlyProtocolErrors(() => DiskUsageReport.Decode(new byte[32], paths), []);
        }
    }

    [Fact]
    public void Text_decoders_never_throw_on_random_strings()
    {
        var random = new Random(99);
        const string pool = "M0123456789ABCDEFabcdef/._-+=\\ \u0000\u00e9\u4e2dgroup";
        for (int round = 0; round < 5000; round++)
        {
            var chars = new char[random.Next(0, 140)];
            for (int i = 0; i < chars.Length; i++)
            {
                chars[i] = pool[random.Next(pool.Length)];
            }

            if (random.Next(2) == 0 && chars.Length > 10)
            {
                "M00/00/00/".CopyTo(0, chars, 0, 10);
            }

            string text = new(chars);
            _ = FileNames.TryDecode(text, out _);
            _ = FileId.TryParse(text, out _, out _);
            _ = RemoteNames.TryValidate(text, out _);
            _ = GroupName.IsValid(text);
            _ = FdfsBase64.TryDecode(text, new byte[random.Next(0, 120)], out _);
        }
    }

    [Fact]
    public void Metadata_decode_never_throws()
    {
        var random = new Random(7);
        for (int round = 0; round < 3000; round++)
        {
            var data = new byte[random.Next(0, 700)];
            random.NextBytes(data);
            for (int i = 0; i < data.Length; i++)
            {
                if (random.Next(8) == 0)
                {
                    data[i] = (byte)random.Next(1, 3);
                }
            }

            _ = MetadataCodec.Decode(data);
        }
    }

    private static void OnlyProtocolErrors(Action action, byte[] input)
    {
        try
        {
            action();
        }
        catch (FdfsProtocolException)
        {
        }
        catch (Exception ex)
        {
            Assert.Fail($"{ex.GetType().Name} instead of FdfsProtocolException for input {Convert.ToHexString(input)}: {ex.Message}");
        }
    }
}
