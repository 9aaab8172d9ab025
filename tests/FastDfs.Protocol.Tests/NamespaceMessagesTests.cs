using System.Text;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>Directory-service messages (our own commands 200-227): golden bytes written by hand from the layouts.</summary>
public class NamespaceMessagesTests
{
    // "group1/M00/00/00/a.txt" is 22 bytes: 67726f757031 2f 4d3030 2f 3030 2f 3030 2f 612e747874
    private const string FileIdHex = "67726f7570312f4d30302f30302f30302f612e747874";
    private const string FileId = "group1/M00/00/00/a.txt";

    private const string AttributesGolden =
        "0000000000000102" + //   0 inode 258
        "0000000000000007" + //   8 generation 7
        "000081a4" + //          16 mode S_IFREG | 0644
        "000003e8" + //          20 uid 1000
        "000003e9" + //          24 gid 1001
        "00000002" + //          28 nlink 2
        "0000000000001388" + //  32 size 5000
        "0000000000000001" + //  40 atime 1 ns
        "0000000000000002" + //  48 mtime 2 ns
        "17979cfe362a0000" + //  56 ctime 1700000000 s in ns
        "16" + FileIdHex + //    64 file ID length 22, file ID
        "00000000"; //           87 rdev 0 (not a device)

    private static readonly NsAttributes Attributes =
        new(258, 7, 0x81A4, 1000, 1001, 2, 5000, 1, 2, 1_700_000_000_000_000_000, FileId);

    private static string Write(Func<byte[], int> write)
    {
        var buffer = new byte[1024];
        return Hex.Of(buffer.AsSpan(0, write(buffer)));
    }

    [Fact]
    public void Command_codes_are_a_contiguous_range_beyond_fastdfs()
    {
        var codes = Enum.GetValues<NamespaceCommand>().Select(c => (int)c).Order().ToArray();
        Assert.Equal(Enumerable.Range(200, 28), codes);
        Assert.Equal((200, 227), ((int)NamespaceCommands.First, (int)NamespaceCommands.Last));
        Assert.DoesNotContain(codes, c => Enum.IsDefined(typeof(TrackerCommand), (byte)c) || c == FdfsConstants.ResponseCommand);
        Assert.True(NamespaceCommands.IsNamespace(211));
        Assert.False(NamespaceCommands.IsNamespace(111));
    }

    [Fact]
    public void Errno_names_cover_the_directory_service_values()
    {
        Assert.Equal(("ENOTEMPTY", "EXDEV", "ENODATA", "ENOENT"),
            (NamespaceErrno.Name(39), NamespaceErrno.Name(18), NamespaceErrno.Name(61), NamespaceErrno.Name(2)));
        Assert.Equal("directory not empty", NamespaceErrno.Describe(NamespaceErrno.ENOTEMPTY));
    }

    [Fact]
    public void Attributes_encode_and_decode()
    {
        Assert.Equal(AttributesGolden, Write(b => Attributes.Write(b)));
        Assert.Equal(69 + 22, Attributes.WireSize);
        Assert.Equal(Attributes, NsAttributes.Read(Hex.Bytes(AttributesGolden)));

        // No file ID: length 0, then rdev.
        var directory = Attributes with { Mode = 0x41ED, FileId = null };
        string golden = AttributesGolden[..(2 * 16)] + "000041ed" + AttributesGolden[(2 * 20)..(2 * 64)] + "00" + "00000000";
        Assert.Equal(golden, Write(b => directory.Write(b)));
        Assert.Equal(directory, NsAttributes.Read(Hex.Bytes(golden)));
        Assert.True(directory.IsDirectory);
    }

    [Fact]
    public void Device_attributes_carry_the_device_number_last()
    {
        const string Golden =
            "0000000000000009" + //   0 inode 9
            "0000000000000001" + //   8 generation 1
            "000061b0" + //          16 mode S_IFBLK | 0660
            "00000000" + //          20 uid 0
            "00000006" + //          24 gid 6
            "00000001" + //          28 nlink 1
            "0000000000000000" + //  32 size 0
            "0000000000000003" + //  40 atime 3 ns
            "0000000000000004" + //  48 mtime 4 ns
            "0000000000000005" + //  56 ctime 5 ns
            "00" + //                64 no file ID
            "fff00801"; //           65 rdev: kernel encoding, top bit set (unsigned)
        var device = new NsAttributes(9, 1, 0x61B0, 0, 6, 1, 0, 3, 4, 5, null, 0xFFF0_0801);
        Assert.Equal(Golden, Write(b => device.Write(b)));
        Assert.Equal(NsAttributes.FixedSize, device.WireSize);
        Assert.Equal(device, NsAttributes.Read(Hex.Bytes(Golden)));
        Assert.True(NamespaceMode.IsDevice(device.Mode));
        Assert.False(NamespaceMode.IsDevice(0x11A4)); // a FIFO

        // In a READ_DIR_PLUS page the next entry starts right after rdev.
        string page = "01" + "00000002" + "0000000000000001" + "01" + "62" + Golden + "0000000000000002" + "01" + "78" + AttributesGolden;
        var entries = NamespaceMessages.ReadDirPlusPage(Hex.Bytes(page), out _);
        Assert.Equal([new NsDirEntryPlus(1, "b", device), new NsDirEntryPlus(2, "x", Attributes)], entries);
    }

    [Fact]
    public void Attributes_in_the_layout_before_rdev_are_refused_clearly()
    {
        // What a tracker from before device numbers answers: everything up to the file ID, no rdev.
        byte[] old = Hex.Bytes(AttributesGolden[..^8]);
        var e = Assert.Throws<FdfsProtocolException>(() => NsAttributes.Read(old));
        Assert.Contains("predates device nodes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Attributes_that_are_short_or_long_are_refused()
    {
        byte[] golden = Hex.Bytes(AttributesGolden);
        Assert.Throws<FdfsProtocolException>(() => NsAttributes.Read(golden.AsSpan(0, golden.Length - 1)));
        Assert.Throws<FdfsProtocolException>(() => NsAttributes.Read([.. golden, 0]));
    }

    [Fact]
    public void Group_inode_and_inode_name_requests()
    {
        Assert.Equal(Hex.Padded("group1", 16), Write(b => NamespaceMessages.WriteGroup(b, "group1")));
        Assert.Equal("group1", NamespaceMessages.ReadGroup(Hex.Bytes(Hex.Padded("group1", 16))));
        Assert.Throws<FdfsProtocolException>(() => NamespaceMessages.ReadGroup(new byte[15]));

        Assert.Equal("00000000000000ff", Write(b => NamespaceMessages.WriteInode(b, 255)));
        Assert.Equal(255, NamespaceMessages.ReadInode(Hex.Bytes("00000000000000ff")));
        Assert.Throws<FdfsProtocolException>(() => NamespaceMessages.ReadInode(new byte[9]));

        const string Lookup = "0000000000000001" + "646f6373"; // parent 1, "docs"
        Assert.Equal(Lookup, Write(b => NamespaceMessages.WriteInodeName(b, 1, "docs")));
        Assert.Equal(1, NamespaceMessages.ReadInodeName(Hex.Bytes(Lookup), out var name));
        Assert.Equal("docs", Encoding.UTF8.GetString(name));
        Assert.Equal(12, NamespaceMessages.InodeNameSize("docs"));
    }

    [Fact]
    public void Readdir_request_and_pages()
    {
        const string Request = "0000000000000002" + "0000000000000064" + "00000200"; // inode 2, cookie 100, max 512
        Assert.Equal(Request, Write(b => NamespaceMessages.WriteReadDir(b, 2, 100, 512)));
        Assert.Equal((2L, 100L, 512), NamespaceMessages.ReadReadDir(Hex.Bytes(Request)));

        const string Page =
            "00" + "00000002" + //                                               not eof, 2 entries
            "0000000000000065" + "0000000000000009" + "000041ed" + "01" + "61" + // cookie 101, inode 9, dir, "a"
            "0000000000000066" + "000000000000000a" + "000081a4" + "02" + "6263"; // cookie 102, inode 10, file, "bc"
        var buffer = new byte[256];
        int at = NamespaceMessages.PageHeaderSize;
        at += NamespaceMessages.WriteDirEntry(buffer.AsSpan(at), 101, 9, 0x41ED, "a"u8);
        at += NamespaceMessages.WriteDirEntry(buffer.AsSpan(at), 102, 10, 0x81A4, "bc"u8);
        NamespaceMessages.WritePageHeader(buffer, eof: false, 2);
        Assert.Equal(Page, Hex.Of(buffer.AsSpan(0, at)));
        var entries = NamespaceMessages.ReadDirPage(Hex.Bytes(Page), out bool eof);
        Assert.False(eof);
        Assert.Equal([new NsDirEntry(101, 9, 0x41ED, "a"), new NsDirEntry(102, 10, 0x81A4, "bc")], entries);

        string plus = "01" + "00000001" + "0000000000000065" + "01" + "78" + AttributesGolden; // eof, 1 entry, cookie 101, "x"
        var plusEntries = NamespaceMessages.ReadDirPlusPage(Hex.Bytes(plus), out eof);
        Assert.True(eof);
        Assert.Equal(new NsDirEntryPlus(101, "x", Attributes), Assert.Single(plusEntries));
        Assert.Equal(plus[10..], Write(b => NamespaceMessages.WriteDirEntryPlus(b, 101, "x"u8, Attributes)));
        Assert.Throws<FdfsProtocolException>(() => NamespaceMessages.ReadDirPage(Hex.Bytes("00 00000001"), out _));
    }

    [Fact]
    public void Create_and_mkdir_requests()
    {
        const string Create =
            "0000000000000001" + "000081a4" + "000003e8" + "000003e9" + // parent 1, mode, uid, gid
            "00000000" + "0000000000001388" + "16" + FileIdHex + //       rdev 0, size 5000, file ID
            "612e747874"; //                                              name "a.txt"
        Assert.Equal(Create, Write(b => NamespaceMessages.WriteCreate(b, 1, 0x81A4, 1000, 1001, 5000, FileId, "a.txt")));
        Assert.Equal(Create.Length / 2, NamespaceMessages.CreateSize("a.txt", FileId));
        var r = NamespaceMessages.ReadCreate(Hex.Bytes(Create));
        Assert.Equal((1L, 0x81A4u, 1000u, 1001u, 0u, 5000L), (r.Parent, r.Mode, r.Uid, r.Gid, r.Rdev, r.Size));
        Assert.Equal(FileId, Encoding.UTF8.GetString(r.FileId));
        Assert.Equal("a.txt", Encoding.UTF8.GetString(r.Name));

        // mknod of a character device 1:3 (the kernel's encoding: 0x103), mode 0666.
        const string MkNod =
            "0000000000000002" + "000021b6" + "00000000" + "00000005" + // parent 2, S_IFCHR | 0666, uid 0, gid 5
            "00000103" + "0000000000000000" + "00" + "6e756c6c"; //         rdev, size 0, no file ID, name "null"
        Assert.Equal(MkNod, Write(b => NamespaceMessages.WriteCreate(b, 2, 0x21B6, 0, 5, 0, null, "null", rdev: 0x103)));
        Assert.Equal(MkNod.Length / 2, NamespaceMessages.CreateSize("null", null));
        var n = NamespaceMessages.ReadCreate(Hex.Bytes(MkNod));
        Assert.Equal((2L, 0x21B6u, 0u, 5u, 0x103u, 0L, "null"), (n.Parent, n.Mode, n.Uid, n.Gid, n.Rdev, n.Size, Encoding.UTF8.GetString(n.Name)));
        Assert.True(n.FileId.IsEmpty);

        const string MkDir = "0000000000000001" + "000001ed" + "00000000" + "00000000" + "00000000" + "0000000000000000" + "00" + "64";
        Assert.Equal(MkDir, Write(b => NamespaceMessages.WriteCreate(b, 1, 0x1ED, 0, 0, 0, null, "d")));
        Assert.True(NamespaceMessages.ReadCreate(Hex.Bytes(MkDir)).FileId.IsEmpty);
        Assert.Throws<FdfsProtocolException>(() => NamespaceMessages.ReadCreate(Hex.Bytes(MkDir[..20])));
    }

    [Fact]
    public void Symlink_link_and_rename_requests()
    {
        const string Symlink = "0000000000000001" + "00000005" + "00000006" + "0001" + "6c" + "2e2e2f74"; // "l" -> "../t"
        Assert.Equal(Symlink, Write(b => NamespaceMessages.WriteSymlink(b, 1, 5, 6, "l", "../t")));
        Assert.Equal(1, NamespaceMessages.ReadSymlink(Hex.Bytes(Symlink), out uint uid, out uint gid, out var name, out var target));
        Assert.Equal((5u, 6u, "l", "../t"), (uid, gid, Encoding.UTF8.GetString(name), Encoding.UTF8.GetString(target)));

        const string Link = "0000000000000009" + "0000000000000002" + "62"; // inode 9 as "b" in 2
        Assert.Equal(Link, Write(b => NamespaceMessages.WriteLink(b, 9, 2, "b")));
        Assert.Equal(9, NamespaceMessages.ReadLink(Hex.Bytes(Link), out long newParent, out var newName));
        Assert.Equal((2L, "b"), (newParent, Encoding.UTF8.GetString(newName)));

        const string Rename = "0000000000000001" + "0000000000000002" + "00000001" + "0002" + "6161" + "626262"; // aa -> bbb, NOREPLACE
        Assert.Equal(Rename, Write(b => NamespaceMessages.WriteRename(b, 1, "aa", 2, "bbb", NamespaceRenameFlags.NoReplace)));
        var r = NamespaceMessages.ReadRename(Hex.Bytes(Rename));
        Assert.Equal((1L, "aa", 2L, "bbb", NamespaceRenameFlags.NoReplace),
            (r.Parent, Encoding.UTF8.GetString(r.Name), r.NewParent, Encoding.UTF8.GetString(r.NewName), r.Flags));
        Assert.Throws<FdfsProtocolException>(() => NamespaceMessages.ReadRename(Hex.Bytes("0000000000000001 0000000000000002 00000000 00ff 61")));
    }

    [Fact]
    public void Names_that_are_not_utf8_go_on_the_wire_byte_for_byte()
    {
        // Latin-1 "café" and "\xffX": the mount's strings carry the stray bytes as U+DCE9 and U+DCFF.
        const string Cafe = "caf\uDCE9";
        const string Lookup = "0000000000000001" + "636166e9"; // parent 1, 63 61 66 e9
        Assert.Equal(Lookup, Write(b => NamespaceMessages.WriteInodeName(b, 1, Cafe)));
        Assert.Equal(12, NamespaceMessages.InodeNameSize(Cafe));

        const string Rename = "0000000000000001" + "0000000000000001" + "00000000" + "0004" + "636166e9" + "ff58"; // -> \xffX
        Assert.Equal(Rename, Write(b => NamespaceMessages.WriteRename(b, 1, Cafe, 1, "\uDCFFX", NamespaceRenameFlags.None)));
        Assert.Equal(Rename.Length / 2, NamespaceMessages.RenameSize(Cafe, "\uDCFFX"));

        const string Symlink = "0000000000000001" + "00000000" + "00000000" + "0001" + "ff" + "2e2e2fe9"; // \xff -> ../\xe9
        Assert.Equal(Symlink, Write(b => NamespaceMessages.WriteSymlink(b, 1, 0, 0, "\uDCFF", "../\uDCE9")));
        Assert.Equal(Symlink.Length / 2, NamespaceMessages.SymlinkSize("\uDCFF", "../\uDCE9"));

        const string Page =
            "01" + "00000002" +
            "0000000000000065" + "0000000000000009" + "000081a4" + "04" + "636166e9" + // "caf\xe9"
            "0000000000000066" + "000000000000000a" + "000081a4" + "04" + "efbfbd58"; // "\uFFFDX": a different name
        var entries = NamespaceMessages.ReadDirPage(Hex.Bytes(Page), out _);
        Assert.Equal([new NsDirEntry(101, 9, 0x81A4, Cafe), new NsDirEntry(102, 10, 0x81A4, "\uFFFDX")], entries);

        string plus = "01" + "00000001" + "0000000000000065" + "02" + "ff58" + AttributesGolden;
        Assert.Equal("\uDCFFX", Assert.Single(NamespaceMessages.ReadDirPlusPage(Hex.Bytes(plus), out _)).Name);

        const string Names = "00000001" + "0000000000000001" + "0000000000000009" + "01" + "80"; // a lone continuation byte
        Assert.Equal(new NsLinkName(1, 9, "\uDC80"), Assert.Single(NamespaceMessages.ReadLinkNames(Hex.Bytes(Names))));
    }

    [Fact]
    public void Setattr_set_content_xattr_and_pending_requests()
    {
        const string SetAttr = "0000000000000003" + "00000021" + "000001c0" + "00000000" + "00000000" +
            "0000000000000000" + "0000000000000000" + "000000000000000a" + "0000000000000000"; // mode + mtime 10
        var request = new SetAttrRequest(3, NamespaceSetAttr.Mode | NamespaceSetAttr.Mtime, 0x1C0, 0, 0, 0, 0, 10, 0);
        Assert.Equal(SetAttr, Write(b => NamespaceMessages.WriteSetAttr(b, request)));
        Assert.Equal(NamespaceMessages.SetAttrSize, SetAttr.Length / 2);
        Assert.Equal(request, NamespaceMessages.ReadSetAttr(Hex.Bytes(SetAttr)));

        const string SetContent = "0000000000000003" + "0000000000001388" + "0000000000000000" + FileIdHex;
        Assert.Equal(SetContent, Write(b => NamespaceMessages.WriteSetContent(b, 3, FileId, 5000, 0)));
        Assert.Equal(3, NamespaceMessages.ReadSetContent(Hex.Bytes(SetContent), out long size, out long mtime, out var fileId));
        Assert.Equal((5000L, 0L, FileId), (size, mtime, Encoding.UTF8.GetString(fileId)));

        const string SetXattr = "0000000000000003" + "00000001" + "0006" + "757365722e61" + "7631"; // user.a = v1, CREATE
        Assert.Equal(SetXattr, Write(b => NamespaceMessages.WriteSetXattr(b, 3, "user.a", "v1"u8, NamespaceXattrFlags.Create)));
        Assert.Equal(3, NamespaceMessages.ReadSetXattr(Hex.Bytes(SetXattr), out var flags, out var xname, out var value));
        Assert.Equal((NamespaceXattrFlags.Create, "user.a", "v1"), (flags, Encoding.UTF8.GetString(xname), Encoding.UTF8.GetString(value)));

        const string Pending = "00000e10" + FileIdHex; // lease 3600 s
        Assert.Equal(Pending, Write(b => NamespaceMessages.WritePending(b, FileId, 3600)));
        Assert.Equal(3600, NamespaceMessages.ReadPending(Hex.Bytes(Pending), out var pendingId));
        Assert.Equal(FileId, Encoding.UTF8.GetString(pendingId));
    }

    [Fact]
    public void Statfs_names_and_xattr_list_answers()
    {
        var id = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        const string StatFs = "00112233445566778899aabbccddeeff" + "0000000000000002" + "0000000000000003" +
            "0000000000000001" + "0000000000000064" + "0000000000000000";
        var stat = new NsStatFs(id, 2, 3, 1, 100, 0);
        Assert.Equal(StatFs, Write(b => stat.Write(b)));
        Assert.Equal(stat, NsStatFs.Read(Hex.Bytes(StatFs)));
        Assert.Throws<FdfsProtocolException>(() => NsStatFs.Read(new byte[55]));

        const string Names = "00000001" + "0000000000000001" + "0000000000000009" + "01" + "61";
        Assert.Equal(Names[8..], Write(b => NamespaceMessages.WriteLinkName(b, 1, 9, "a"u8)));
        Assert.Equal([new NsLinkName(1, 9, "a")], NamespaceMessages.ReadLinkNames(Hex.Bytes(Names)));

        Assert.Equal(["user.a", "trusted.b"], NamespaceMessages.ReadXattrNames(Encoding.UTF8.GetBytes("user.a\0trusted.b\0")));
        Assert.Empty(NamespaceMessages.ReadXattrNames([]));
        Assert.Throws<FdfsProtocolException>(() => NamespaceMessages.ReadXattrNames("user.a"u8));
    }
}
