using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;
using Xunit.Abstractions;

namespace FastDfs.Integration.Tests;

/// <summary>
/// Seeded fuzzing of a live tracker (with its directory service) and storage over raw TCP: random headers for every
/// command byte, mutated real requests, path tricks, bodies cut off mid-way and half-open connections. Between
/// batches both daemons must be running and serve a normal upload, download and delete; at the end files uploaded
/// before the fuzzing are intact, nothing was written outside the daemons' data folders, and no log shows a
/// request that failed with an unexpected exception. Set FDFS_FUZZ_SEED to replay a run; the seed is printed.
/// </summary>
public sealed class DaemonFuzzTests(ITestOutputHelper output)
{
    private const int Batches = 8;
    private const int RequestsPerBatch = 600;
    private const string Group = "group1";

    /// <summary>Log text that only an exception the server did not expect produces (FdfsServer, storage, directory service).</summary>
    private static readonly string[] CrashMarkers =
    [
        "request handler failed", "Unhandled exception", "failed in the store", "I/O error handling cmd", "binlog write failed",
        "OutOfMemoryException", "StackOverflow",
    ];

    [Fact]
    public async Task Daemons_survive_malformed_requests_keep_serving_and_lose_nothing()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("FDFS_FUZZ_SEED"), CultureInfo.InvariantCulture, out int s) ? s : 61601;
        output.WriteLine($"daemon fuzz seed {seed} (FDFS_FUZZ_SEED={seed} replays this run)");

        await using var cluster = await Cluster.StartAsync(new StorageSpec(StorePaths: 2));
        var storage = cluster.Storages[0];
        await using var client = cluster.CreateClient(TimeSpan.FromSeconds(20));

        // Files the fuzzer never names: they must come through intact.
        var precious = new List<(FileId Id, byte[] Content)>();
        for (int i = 0; i < 3; i++)
        {
            var content = Encoding.ASCII.GetBytes($"precious {i} " + new string('p', 100 * i));
            precious.Add((await client.UploadAsync(content, "bin", new Dictionary<string, string> { ["k"] = "v" + i }, Group), content));
        }

        // Files the fuzzer targets (it may legitimately change or delete them).
        var target = await client.UploadAsync(Encoding.ASCII.GetBytes("target file content"), "txt", null, Group);
        var appender = await client.UploadAppenderAsync(Encoding.ASCII.GetBytes("appender"), "log", null, Group);

        string marker = "fdfsfuzz" + seed.ToString(CultureInfo.InvariantCulture);
        var before = Snapshot(cluster.Root);
        var generator = new RequestGenerator(new Random(seed), target, appender, marker, storage.Ip);
        var stats = new Dictionary<string, int>();
        for (int batch = 0; batch < Batches; batch++)
        {
            // Half-open connections (a partial header, or nothing) stay open while the batch and the checks run.
            var halfOpen = new List<FdfsConnection>();
            foreach (string endpoint in new[] { cluster.TrackerEndpoint, storage.Endpoint })
            {
                for (int i = 0; i < 4; i++)
                {
                    var c = await ConnectAsync(endpoint);
                    await c.SendAsync(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0x40 }.AsMemory(0, i * 2), CancellationToken.None);
                    halfOpen.Add(c);
                }
            }

            for (int i = 0; i < RequestsPerBatch; i++)
            {
                var request = generator.Next(batch * RequestsPerBatch + i);
                string outcome = await SendAsync(request.ToTracker ? cluster.TrackerEndpoint : storage.Endpoint, request);
                string key = request.Kind + ":" + outcome;
                stats[key] = stats.GetValueOrDefault(key) + 1;
            }

            Assert.False(cluster.Tracker!.HasExited, $"tracker exited during batch {batch} (seed {seed}):\n{cluster.Tracker.LogTail}");
            Assert.False(storage.Process!.HasExited, $"storage exited during batch {batch} (seed {seed}):\n{storage.Process.LogTail}");
            await AssertServesAsync(client, batch);
            foreach (var c in halfOpen)
            {
                c.Dispose();
            }
        }

        foreach (var (kind, count) in stats.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            output.WriteLine($"{kind} {count}");
        }

        // Nothing lost: content and metadata of the untouched files.
        foreach (var (id, content) in precious)
        {
            Assert.Equal(content, await client.DownloadBytesAsync(id));
            Assert.Equal("v" + precious.FindIndex(p => p.Id == id), (await client.GetMetadataAsync(id))["k"]);
        }

        await AssertNoTempFilesLeftAsync(storage);
        AssertNothingWrittenOutsideDataFolders(cluster, storage, before, marker);
        foreach (var (name, daemon) in new[] { ("tracker", cluster.Tracker!), ("storage", storage.Process!) })
        {
            string log = daemon.Output;
            foreach (string crash in CrashMarkers)
            {
                int at = log.IndexOf(crash, StringComparison.Ordinal);
                Assert.True(at < 0, $"{name} log shows '{crash}' (seed {seed}):\n{log[Math.Max(0, at - 300)..Math.Min(log.Length, at + 3000)]}");
            }
        }
    }

    private static async Task<FdfsConnection> ConnectAsync(string endpoint) => await Endpoints.ConnectAsync(endpoint, TimeSpan.FromSeconds(10));

    /// <summary>Sends one request; returns what happened (for the summary, not asserted: garbage may get any answer).</summary>
    private static async Task<string> SendAsync(string endpoint, FuzzRequest request)
    {
        await using var c = await ConnectAsync(endpoint);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await c.SendAsync(request.Bytes.AsMemory(0, request.SendLength), cts.Token);
            if (!request.Complete)
            {
                return "cut"; // closed mid-packet
            }

            // A complete packet gets an answer or a closed connection; a lying length may leave the server waiting.
            using var wait = new CancellationTokenSource(request.MayWait ? TimeSpan.FromMilliseconds(200) : TimeSpan.FromSeconds(10));
            var (status, _) = await c.ReadResponseAsync(1 << 24, wait.Token);
            return status == 0 ? "ok" : FdfsErrno.Name(status);
        }
        catch (OperationCanceledException)
        {
            return "no-answer";
        }
        catch (Exception e) when (e is IOException or SocketException or EndOfStreamException)
        {
            return "closed";
        }
        catch (FdfsProtocolException)
        {
            return "bad-response";
        }
    }

    private static async Task AssertServesAsync(FastDfs.Client.FastDfsClient client, int batch)
    {
        var content = Encoding.ASCII.GetBytes($"after batch {batch}");
        var id = await client.UploadAsync(content, "txt", null, Group);
        Assert.Equal(content, await client.DownloadBytesAsync(id));
        await client.DeleteAsync(id);
        Assert.NotEmpty(await client.ListGroupsAsync());
    }

    private static HashSet<string> Snapshot(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)).ToHashSet(StringComparer.Ordinal);

    /// <summary>Upload temp files of connections cut mid-body must be gone once the storage has seen them close.</summary>
    private static async Task AssertNoTempFilesLeftAsync(StorageNode storage)
    {
        List<string> left = [];
        for (int attempt = 0; attempt < 100; attempt++)
        {
            left = storage.StorePaths.Select(p => Path.Combine(p, "data", ".tmp")).Where(Directory.Exists)
                .SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories)).ToList();
            if (left.Count == 0)
            {
                return;
            }

            await Task.Delay(100); // the storage may still be tearing down the last cut connections
        }

        Assert.Fail("temp files left in the store paths: " + string.Join(", ", left));
    }

    private static void AssertNothingWrittenOutsideDataFolders(Cluster cluster, StorageNode storage, HashSet<string> before, string marker)
    {
        string Relative(string path) => Path.GetRelativePath(cluster.Root, path) + Path.DirectorySeparatorChar;
        string tracker = "tracker" + Path.DirectorySeparatorChar;
        string storageData = Relative(Path.Combine(storage.BaseDir, "data"));
        var storeData = storage.StorePaths.Select((p, i) => (Prefix: Relative(Path.Combine(p, "data")), Index: i)).ToList();
        foreach (string file in Snapshot(cluster.Root).Except(before))
        {
            if (file.StartsWith(tracker, StringComparison.Ordinal) || file.StartsWith(storageData, StringComparison.Ordinal))
            {
                Assert.DoesNotContain(marker, file, StringComparison.Ordinal);
                continue;
            }

            // In a store path only FastDFS names (and their -m metadata files) may appear: Mxx/HH/HH/name.
            var store = storeData.FirstOrDefault(s => file.StartsWith(s.Prefix, StringComparison.Ordinal));
            string name = store.Prefix is null ? string.Empty : file[store.Prefix.Length..];
            name = name.EndsWith("-m", StringComparison.Ordinal) ? name[..^2] : name;
            string remote = "M" + store.Index.ToString("X2", CultureInfo.InvariantCulture) + "/" + name.Replace(Path.DirectorySeparatorChar, '/');
            Assert.True(store.Prefix is not null && RemoteNames.TryValidate(remote, out _), $"unexpected file written: {file}");
        }

        foreach (string dir in new[] { Path.GetTempPath(), Path.GetDirectoryName(cluster.Root)!, "/" }.Distinct())
        {
            Assert.Empty(Directory.EnumerateFileSystemEntries(dir, marker + "*"));
        }
    }

    /// <summary>One fuzz request: the bytes, how many of them to send, and whether the packet is whole.</summary>
    private sealed record FuzzRequest(string Kind, bool ToTracker, byte[] Bytes, int SendLength, bool Complete, bool MayWait);

    /// <summary>Deterministic request source: everything derives from the seed and the request number.</summary>
    private sealed class RequestGenerator(Random random, FileId target, FileId appender, string marker, string storageIp)
    {
        private static readonly long[] Extremes =
        [
            0, 1, -1, 15, 16, 17, 255, 256, 0xFFFF, int.MaxValue, int.MinValue, uint.MaxValue, 1L << 32, 1L << 40,
            long.MaxValue, long.MinValue,
        ];

        private readonly string[] _names =
        [
            target.RemoteFileName, appender.RemoteFileName, "M00/00/00/../../../../../../../../../../tmp/" + marker,
            "M00/00/00/../../" + marker + "aaaaaaaaaaaaaaaaaaaaaaaaaa.txt", "M00/00/00/" + marker + "/../../../../x.txt",
            "../../../../../../../../../../../tmp/" + marker + "-escape-aaaaaaaaaaaaaaaa", "/tmp/" + marker + "-absolute-aaaaaaaaaaaaaaaaaaaaaaaa",
            "M00/00/00/" + marker + "\0aaaaaaaaaaaaaaaaaaaaaaaaaaa.txt", "M00/00/00/" + new string('A', 300), "M01/00/00/" + marker + "xxxxxxxxxxxxxxxxxxxxxxxxxxx.b",
            "MFF/00/00/wKgAAmbJmZmAAAAAAAAAAAAAAAA123.txt", "M00/0/0/x", "M00/00/00/.", "M00/00/00/..", "M00/00/00/", string.Empty,
            "M00/00/00/" + marker + "%2e%2e%2fxxxxxxxxxxxxxxxxxxx", "M00\\00\\00\\..\\..\\" + marker + "xxxxxxxxxxxxxxxxxxxxxxx",
        ];

        private readonly string[] _groups = [Group, Group, "group2", string.Empty, "../..", "group1\0../x", new string('g', 16)];

        private byte[] Content() => RandomBytes(random.Next(0, 200));

        private byte[] RandomBytes(int length)
        {
            var bytes = new byte[length];
            random.NextBytes(bytes);
            return bytes;
        }

        private T Pick<T>(T[] items) => items[random.Next(items.Length)];

        private static byte[] Text(string text) => Encoding.UTF8.GetBytes(text);

        private static byte[] Packet(byte command, byte[] body, long? declared = null)
        {
            var bytes = new byte[FdfsConstants.HeaderSize + body.Length];
            BinaryPrimitives.WriteInt64BigEndian(bytes, declared ?? body.Length);
            bytes[8] = command;
            body.CopyTo(bytes, FdfsConstants.HeaderSize);
            return bytes;
        }

        private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

        /// <summary>g16: a group name, cut or NUL-padded to 16 bytes (an over-long one fills the field).</summary>
        private static byte[] G16(string group)
        {
            var field = new byte[FdfsConstants.GroupNameMaxLength];
            var text = Text(group);
            text.AsSpan(0, Math.Min(text.Length, field.Length)).CopyTo(field);
            return field;
        }

        private static byte[] L8(long value)
        {
            var bytes = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(bytes, value);
            return bytes;
        }

        private static byte[] L4(int value)
        {
            var bytes = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(bytes, value);
            return bytes;
        }

        private byte[] Fixed(int width, string text)
        {
            var field = new byte[width];
            var bytes = Text(text);
            bytes.AsSpan(0, Math.Min(bytes.Length, width)).CopyTo(field);
            return field;
        }

        /// <summary>A realistic request body for a storage command (the kind of body a client or peer sends).</summary>
        private (byte Command, byte[] Body) StorageRequest()
        {
            string name = Pick(_names);
            byte[] nameBytes = Text(name);
            byte[] content = Content();
            string group = Pick(_groups);
            switch (random.Next(16))
            {
                case 0:
                    return ((byte)StorageCommand.UploadFile, Concat([(byte)random.Next(3)], L8(content.Length), Fixed(6, Pick(["txt", "", "../x", "a/b", "\0x"])), content));
                case 1:
                    return ((byte)StorageCommand.UploadAppenderFile, Concat([0], L8(content.Length), Fixed(6, "log"), content));
                case 2:
                    return ((byte)StorageCommand.UploadSlaveFile, Concat(L8(nameBytes.Length), L8(content.Length),
                        Fixed(16, Pick(["_s", "../", "/x", "_big"])), Fixed(6, "jpg"), nameBytes, content));
                case 3:
                    return ((byte)StorageCommand.AppendFile, Concat(L8(nameBytes.Length), L8(content.Length), nameBytes, content));
                case 4:
                    return ((byte)StorageCommand.ModifyFile, Concat(L8(nameBytes.Length), L8(Pick(Extremes)), L8(content.Length), nameBytes, content));
                case 5:
                    return ((byte)StorageCommand.TruncateFile, Concat(L8(nameBytes.Length), L8(Pick(Extremes)), nameBytes));
                case 6:
                    // Ranges before, across and past the end of the file.
                    return ((byte)StorageCommand.DownloadFile, Concat(L8(Pick(Extremes)), L8(Pick(Extremes)), G16(group), nameBytes));
                case 7:
                    return ((byte)Pick(new[] { StorageCommand.DeleteFile, StorageCommand.GetMetadata, StorageCommand.QueryFileInfo }),
                        Concat(G16(group), nameBytes));
                case 8:
                    // Metadata with names and values past FastDFS's 64/256-byte limits, separators in odd places.
                    var meta = Text(string.Join('\u0001', Enumerable.Range(0, random.Next(1, 5)).Select(_ =>
                        new string('n', random.Next(0, 100)) + Pick(["\u0002", "", "\u0002\u0002"]) + new string('v', random.Next(0, 400)))));
                    return ((byte)StorageCommand.SetMetadata, Concat(L8(nameBytes.Length), L8(meta.Length), [(byte)"OMX"[random.Next(3)]], G16(group), nameBytes, meta));
                case 9:
                    return ((byte)Pick(new[] { StorageCommand.SyncCreateFile, StorageCommand.SyncUpdateFile }),
                        Concat(L8(nameBytes.Length), L8(content.Length), L4(random.Next()), G16(group), nameBytes, content));
                case 10:
                    return ((byte)StorageCommand.SyncDeleteFile, Concat(L4(random.Next()), G16(group), nameBytes));
                case 11:
                    return ((byte)Pick(new[] { StorageCommand.SyncAppendFile, StorageCommand.SyncModifyFile, StorageCommand.SyncTruncateFile }),
                        Concat(L8(nameBytes.Length), L8(Pick(Extremes)), L8(content.Length), L4(random.Next()), G16(group), nameBytes, content));
                case 12:
                    var other = Text(Pick(_names));
                    return ((byte)Pick(new[] { StorageCommand.SyncRenameFile, StorageCommand.SyncCreateLink }),
                        Concat(L8(nameBytes.Length), L8(other.Length), L4(random.Next()), G16(group), nameBytes, other));
                case 13:
                    return ((byte)StorageCommand.ReportServerId, Fixed(16, Pick(["1", storageIp, "../..", string.Empty])));
                case 14:
                    return ((byte)StorageCommand.FetchOnePathBinlog, Concat(G16(group), [(byte)random.Next(256)]));
                default:
                    return ((byte)Pick(new[] { StorageCommand.CreateLink, StorageCommand.RegenerateAppenderFileName }), Concat(L8(nameBytes.Length), nameBytes, G16(group)));
            }
        }

        /// <summary>A realistic request body for a tracker command, client, storage or peer tracker.</summary>
        private (byte Command, byte[] Body) TrackerRequest()
        {
            string group = Pick(_groups);
            var file = Concat(G16(group), Text(Pick(_names)));
            switch (random.Next(10))
            {
                case 0:
                    return ((byte)TrackerCommand.QueryStoreWithoutGroupOne, []);
                case 1:
                    return ((byte)Pick(new[] { TrackerCommand.QueryStoreWithGroupOne, TrackerCommand.QueryStoreWithGroupAll, TrackerCommand.ListOneGroup }), G16(group));
                case 2:
                    return ((byte)Pick(new[] { TrackerCommand.QueryFetchOne, TrackerCommand.QueryUpdate, TrackerCommand.QueryFetchAll }), file);
                case 3:
                    // The real storage's address as its ID: deleting an active storage must be refused.
                    return ((byte)Pick(new[] { TrackerCommand.ListStorage, TrackerCommand.DeleteStorage }), Concat(G16(group), Text(Pick([storageIp, "1", "x"]))));
                case 4:
                    // A stranger joining (a group of its own, so that uploads of the health check are not routed to it).
                    var join = new StorageJoinRequest
                    {
                        Group = "fuzz" + random.Next(3).ToString(CultureInfo.InvariantCulture),
                        StoragePort = Pick(Extremes),
                        StorePathCount = Pick(Extremes),
                        SubdirCountPerPath = Pick(Extremes),
                        UploadPriority = Pick(Extremes),
                        JoinTime = Pick(Extremes),
                        UpTime = Pick(Extremes),
                        Status = (StorageStatus)random.Next(12),
                        StorageId = Pick(["", "1", "../x"]),
                        CurrentTrackerIp = "127.0.0.1",
                        Trackers = ["127.0.0.1:1", "[::1]:x", new string('a', 80)],
                    };
                    return ((byte)TrackerCommand.StorageJoin, join.ToArray());
                case 5:
                    return ((byte)Pick(new[] { TrackerCommand.StorageBeat, TrackerCommand.StorageReportDiskUsage, TrackerCommand.StorageSyncReport }),
                        RandomBytes(Pick([0, 16, 32, StorageStats.Size, 20])));
                case 6:
                    return ((byte)Pick(new[] { TrackerCommand.StorageFetchStorageIds, TrackerCommand.StorageGetServerId, TrackerCommand.StorageParameterReq }),
                        Concat(G16(group), Text(Pick(["127.0.0.1:23000", "[::1]:1", "::::", "300.1.1.1", string.Empty]))));
                case 7:
                    return ((byte)Pick(new[] { TrackerCommand.TrackerJoinLeader, TrackerCommand.TrackerNotifyNextLeader, TrackerCommand.TrackerCommitNextLeader, TrackerCommand.TrackerPingLeader }),
                        RandomBytes(Pick([0, 24, LeaderAddressBody.Size])));
                case 8:
                    return ((byte)Pick(new[] { TrackerCommand.GetOneSysFile, TrackerCommand.GetSysFilesStart, TrackerCommand.GetSysFilesEnd }),
                        Concat([(byte)random.Next(256)], L8(Pick(Extremes))));
                default:
                    return ((byte)Pick(new[] { TrackerCommand.DeleteGroup, TrackerCommand.SetTrunkServer, TrackerCommand.StorageChangeStatus, TrackerCommand.StorageSyncSrcReq, TrackerCommand.StorageSyncDestReq }),
                        Concat(G16(group), Text(Pick([storageIp, string.Empty]))));
            }
        }

        /// <summary>A realistic directory-service request, with names that are not names (dot-dot, slashes, NUL, 300 bytes).</summary>
        private (byte Command, byte[] Body) NamespaceRequest()
        {
            var buffer = new byte[4096];
            long inode = Pick([1L, 1L, 2L, 3L, 0L, -1L, long.MaxValue]);
            string name = Pick(["a", "dir", "..", ".", "a/b", "/", "x\0y", string.Empty, new string('n', 300), marker]);
            string fileId = Pick([target.ToString(), "group1/M00/00/00/../../x", string.Empty, "bad", new string('f', 255)]);
            Span<byte> b = buffer;
            (NamespaceCommand command, int length) = random.Next(14) switch
            {
                0 => (NamespaceCommand.Root, NamespaceMessages.WriteGroup(b, Group)),
                1 => (Pick([NamespaceCommand.GetAttr, NamespaceCommand.ReadLink, NamespaceCommand.ListXattr]), NamespaceMessages.WriteInode(b, inode)),
                2 => (Pick([NamespaceCommand.Lookup, NamespaceCommand.Unlink, NamespaceCommand.RmDir, NamespaceCommand.GetXattr, NamespaceCommand.RemoveXattr]),
                    NamespaceMessages.WriteInodeName(b, inode, name)),
                3 => (Pick([NamespaceCommand.ReadDir, NamespaceCommand.ReadDirPlus]), NamespaceMessages.WriteReadDir(b, inode, Pick(Extremes), (int)Pick(Extremes))),
                4 => (Pick([NamespaceCommand.MkDir, NamespaceCommand.Create]),
                    NamespaceMessages.WriteCreate(b, inode, (uint)random.Next(), 0, 0, Pick(Extremes), fileId.Length == 0 ? null : fileId, name, (uint)random.Next())),
                5 => (NamespaceCommand.Symlink, NamespaceMessages.WriteSymlink(b, inode, 0, 0, name, Pick(["../../etc/passwd", "/", new string('t', 3000)]))),
                6 => (NamespaceCommand.Link, NamespaceMessages.WriteLink(b, inode, Pick([1L, 2L]), name)),
                7 => (NamespaceCommand.Rename, NamespaceMessages.WriteRename(b, 1, name, Pick([1L, 2L, inode]), Pick(["b", "..", name]), (NamespaceRenameFlags)random.Next(8))),
                8 => (NamespaceCommand.SetAttr, NamespaceMessages.WriteSetAttr(b, new SetAttrRequest(inode, (NamespaceSetAttr)random.Next(), (uint)random.Next(), 0, 0,
                    Pick(Extremes), Pick(Extremes), Pick(Extremes), Pick(Extremes)))),
                9 => (NamespaceCommand.SetContent, NamespaceMessages.WriteSetContent(b, inode, fileId, Pick(Extremes), Pick(Extremes))),
                10 => (NamespaceCommand.SetXattr, NamespaceMessages.WriteSetXattr(b, inode, Pick(["user.a", "", name]), RandomBytes(random.Next(0, 2000)), (NamespaceXattrFlags)random.Next(4))),
                11 => (NamespaceCommand.StatFs, NamespaceMessages.WriteGroup(b, Pick(_groups))),
                12 => (Pick([NamespaceCommand.FindByFileId, NamespaceCommand.ForgetPending]), Encoding.UTF8.GetBytes(fileId, b)),
                _ => (NamespaceCommand.RegisterPending, NamespaceMessages.WritePending(b, fileId, (int)Pick(Extremes))),
            };
            return ((byte)command, buffer[..length]);
        }

        /// <summary>The body with bits flipped, cut, extended, or an integer field (anywhere) set to an extreme value.</summary>
        private byte[] Mutate(byte[] body)
        {
            var bytes = (byte[])body.Clone();
            switch (random.Next(5))
            {
                case 0:
                    return bytes;
                case 1:
                    for (int i = random.Next(1, 6); i > 0 && bytes.Length > 0; i--)
                    {
                        int bit = random.Next(bytes.Length * 8);
                        bytes[bit / 8] ^= (byte)(1 << (bit % 8));
                    }

                    return bytes;
                case 2:
                    return bytes[..random.Next(bytes.Length + 1)];
                case 3:
                    return Concat(bytes, RandomBytes(random.Next(1, 64)));
                default:
                    int width = Math.Min(1 << random.Next(4), bytes.Length);
                    if (width > 0)
                    {
                        L8(Pick(Extremes)).AsSpan(8 - width).CopyTo(bytes.AsSpan(random.Next(bytes.Length - width + 1), width));
                    }

                    return bytes;
            }
        }

        /// <summary>Honest length mostly; otherwise negative, huge, or longer than what is sent (the server waits).</summary>
        private FuzzRequest Frame(string kind, bool toTracker, byte command, byte[] body)
        {
            switch (random.Next(10))
            {
                case 0:
                    return new(kind + "-negative", toTracker, Packet(command, body, -random.NextInt64(1, long.MaxValue)), FdfsConstants.HeaderSize + body.Length, true, false);
                case 1:
                    return new(kind + "-huge", toTracker, Packet(command, body, Pick([1L << 31, 1L << 40, long.MaxValue])), FdfsConstants.HeaderSize + body.Length, true, true);
                case 2:
                    // Shorter than the body: the rest is read as the next packet's header.
                    return new(kind + "-short", toTracker, Packet(command, body, random.Next(body.Length + 1)), FdfsConstants.HeaderSize + body.Length, true, false);
                case 3:
                    var packet = Packet(command, body);
                    return new(kind + "-cut", toTracker, packet, random.Next(packet.Length), false, false);
                default:
                    var whole = Packet(command, body);
                    return new(kind, toTracker, whole, whole.Length, true, false);
            }
        }

        public FuzzRequest Next(int n)
        {
            switch (n % 6)
            {
                case 0:
                    // Every command byte in turn, random body, to either daemon.
                    byte command = (byte)(n / 6 % 256);
                    return Frame("random-" + (n / 6 % 512 < 256 ? "tracker" : "storage"), n / 6 % 512 < 256, command, RandomBytes(random.Next(0, 300)));
                case 1:
                case 2:
                    var (sc, sb) = StorageRequest();
                    return Frame("storage-" + ((StorageCommand)sc).ToString(), false, sc, Mutate(sb));
                case 3:
                    var (tc, tb) = TrackerRequest();
                    return Frame("tracker-" + ((TrackerCommand)tc).ToString(), true, tc, Mutate(tb));
                case 4:
                    var (nc, nb) = NamespaceRequest();
                    return Frame("namespace-" + ((NamespaceCommand)nc).ToString(), true, nc, Mutate(nb));
                default:
                    // Two requests pipelined on one connection: the second runs after the first's answer (a join then reports).
                    var join = new StorageJoinRequest { Group = "fuzz9", StoragePort = 1, StorePathCount = 1, SubdirCountPerPath = 1, Trackers = ["127.0.0.1:1"] };
                    var (c1, b1) = random.Next(2) == 0 ? TrackerRequest() : ((byte)TrackerCommand.StorageJoin, join.ToArray());
                    var (c2, b2) = TrackerRequest();
                    var two = Concat(Packet(c1, b1), Packet(c2, Mutate(b2)));
                    return new("tracker-pipelined", true, two, two.Length, true, false);
            }
        }
    }
}
