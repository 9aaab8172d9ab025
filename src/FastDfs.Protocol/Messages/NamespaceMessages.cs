using System.Buffers.Binary;
using System.Text;

namespace FastDfs.Protocol.Messages;

/// <summary>
/// Attributes of one directory-service inode. Times are nanoseconds since the Unix epoch. <see cref="Generation"/>
/// grows with every change of the inode (attributes, content, xattrs), so a cache compares it to validate.
/// <see cref="FileId"/> is the FastDFS file ID behind a regular file (null when it has no content yet). <see cref="Rdev"/>
/// is a character or block device's number as the Linux kernel encodes a 32-bit dev_t (what FUSE passes to mknod and
/// takes back in st_rdev); 0 for every other type.
/// </summary>
public readonly record struct NsAttributes(
    long Inode,
    long Generation,
    uint Mode,
    uint Uid,
    uint Gid,
    uint Nlink,
    long Size,
    long AtimeNs,
    long MtimeNs,
    long CtimeNs,
    string? FileId,
    uint Rdev = 0)
{
    /// <summary>
    /// inode, generation L8; mode, uid, gid, nlink 4 each; size, atime, mtime, ctime L8; file ID length 1 (the file ID
    /// follows); rdev 4. Rdev comes last so that the layout before it (which had no rdev) is exactly 4 bytes short.
    /// </summary>
    public const int FixedSize = 8 + 8 + 4 + 4 + 4 + 4 + 8 + 8 + 8 + 8 + 1 + 4;

    public bool IsDirectory => NamespaceMode.IsDirectory(Mode);

    public bool IsRegular => NamespaceMode.IsRegular(Mode);

    public bool IsSymlink => NamespaceMode.IsSymlink(Mode);

    public int WireSize => FixedSize + (FileId is null ? 0 : Encoding.UTF8.GetByteCount(FileId));

    public int Write(Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(Inode);
        w.WriteInt64(Generation);
        w.WriteInt32((int)Mode);
        w.WriteInt32((int)Uid);
        w.WriteInt32((int)Gid);
        w.WriteInt32((int)Nlink);
        w.WriteInt64(Size);
        w.WriteInt64(AtimeNs);
        w.WriteInt64(MtimeNs);
        w.WriteInt64(CtimeNs);
        int lengthAt = w.Position;
        w.WriteByte(0);
        if (FileId is not null)
        {
            int before = w.Position;
            w.WriteText(FileId);
            int length = w.Position - before;
            if (length > NamespaceLimits.MaxFileIdLength)
            {
                throw new FdfsProtocolException($"file ID of {length} bytes is too long");
            }

            destination[lengthAt] = (byte)length;
        }

        w.WriteInt32((int)Rdev);
        return w.Position;
    }

    public static NsAttributes Read(ref WireReader r)
    {
        long inode = r.ReadInt64("inode");
        long generation = r.ReadInt64("generation");
        uint mode = (uint)r.ReadInt32("mode");
        uint uid = (uint)r.ReadInt32("uid");
        uint gid = (uint)r.ReadInt32("gid");
        uint nlink = (uint)r.ReadInt32("nlink");
        long size = r.ReadInt64("size");
        long atime = r.ReadInt64("atime");
        long mtime = r.ReadInt64("mtime");
        long ctime = r.ReadInt64("ctime");
        int fileIdLength = r.ReadByte("file ID length");
        string? fileId = fileIdLength == 0 ? null : Encoding.UTF8.GetString(r.ReadBytes(fileIdLength, "file ID"));
        if (r.Remaining < 4)
        {
            // The only layout change so far: a peer that ends here speaks the layout from before device numbers.
            throw new FdfsProtocolException("attributes end before rdev: the peer's directory service probably predates device nodes (upgrade trackers and mounts together)");
        }

        uint rdev = (uint)r.ReadInt32("rdev");
        return new NsAttributes(inode, generation, mode, uid, gid, nlink, size, atime, mtime, ctime, fileId, rdev);
    }

    public static NsAttributes Read(ReadOnlySpan<byte> body)
    {
        var r = new WireReader(body);
        var attributes = Read(ref r);
        NamespaceMessages.ExpectEnd(r, "attributes");
        return attributes;
    }
}

/// <summary>One READ_DIR entry. <see cref="Cookie"/> resumes the listing after this entry.</summary>
public readonly record struct NsDirEntry(long Cookie, long Inode, uint Mode, string Name);

/// <summary>One READ_DIR_PLUS entry: name and full attributes.</summary>
public readonly record struct NsDirEntryPlus(long Cookie, string Name, NsAttributes Attributes);

/// <summary>One name that points at an inode (FIND_BY_FILE_ID answer).</summary>
public readonly record struct NsLinkName(long Parent, long Inode, string Name);

/// <summary>STAT_FS answer for one group: what its tree holds and how much content waits for the collector.</summary>
public readonly record struct NsStatFs(Guid NamespaceId, long Directories, long Files, long Symlinks, long Bytes, long QueuedOrphans)
{
    public const int Size = 16 + (5 * 8);

    public int Write(Span<byte> destination)
    {
        NamespaceId.TryWriteBytes(destination, bigEndian: true, out _);
        var w = new WireWriter(destination[16..]);
        w.WriteInt64(Directories);
        w.WriteInt64(Files);
        w.WriteInt64(Symlinks);
        w.WriteInt64(Bytes);
        w.WriteInt64(QueuedOrphans);
        return Size;
    }

    public static NsStatFs Read(ReadOnlySpan<byte> body)
    {
        if (body.Length != Size)
        {
            throw new FdfsProtocolException($"statfs answer must be {Size} bytes, got {body.Length}");
        }

        var id = new Guid(body[..16], bigEndian: true);
        var r = new WireReader(body[16..]);
        return new NsStatFs(id, r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64());
    }
}

/// <summary>
/// Request and response layouts of the directory-service commands (<see cref="NamespaceCommand"/>). All integers are
/// big-endian; names are raw bytes (no terminator), their length implied by the packet length when last, otherwise
/// given by a length field. File names and symlink targets need not be UTF-8: as strings they go through
/// <see cref="FileNameCodec"/>, which keeps every byte. Requests:
/// <list type="table">
/// <item><term>ROOT, STAT_FS</term><description>g16 group</description></item>
/// <item><term>GET_ATTR, READ_LINK, LIST_XATTR</term><description>inode L8</description></item>
/// <item><term>LOOKUP, UNLINK, RM_DIR, GET_XATTR, REMOVE_XATTR</term><description>inode L8, name</description></item>
/// <item><term>READ_DIR, READ_DIR_PLUS</term><description>inode L8, cookie L8, max entries 4</description></item>
/// <item><term>MK_DIR, CREATE</term><description>parent L8, mode 4, uid 4, gid 4, rdev 4, size L8, file ID length 1, file ID, name</description></item>
/// <item><term>SYMLINK</term><description>parent L8, uid 4, gid 4, name length 2, name, target</description></item>
/// <item><term>LINK</term><description>inode L8, new parent L8, new name</description></item>
/// <item><term>RENAME</term><description>parent L8, new parent L8, flags 4, name length 2, name, new name</description></item>
/// <item><term>SET_ATTR</term><description>inode L8, mask 4, mode 4, uid 4, gid 4, size L8, atime L8, mtime L8, ctime L8</description></item>
/// <item><term>SET_CONTENT</term><description>inode L8, size L8, mtime L8, file ID</description></item>
/// <item><term>SET_XATTR</term><description>inode L8, flags 4, name length 2, name, value</description></item>
/// <item><term>FIND_BY_FILE_ID, FORGET_PENDING</term><description>file ID</description></item>
/// <item><term>REGISTER_PENDING</term><description>lease seconds 4, file ID</description></item>
/// </list>
/// Responses: attributes (<see cref="NsAttributes"/>) for ROOT, LOOKUP, GET_ATTR, MK_DIR, CREATE, SYMLINK, LINK,
/// SET_ATTR, SET_CONTENT; raw bytes for READ_LINK and GET_XATTR; NUL-terminated names for LIST_XATTR; a directory
/// page for READ_DIR(_PLUS): eof 1, count 4, entries; <see cref="NsStatFs"/>; for FIND_BY_FILE_ID count 4 then
/// (parent L8, inode L8, name length 1, name) each; empty bodies otherwise. Errors: errno in the status byte.
/// There is no version negotiation: trackers and mounts are upgraded together. The one layout change so far (rdev in
/// attributes and MK_DIR/CREATE) makes every attributes answer 4 bytes longer, so a mount and a tracker from either
/// side of it refuse each other's first answer (ROOT, at mount time) with a protocol error instead of misreading.
/// </summary>
public static class NamespaceMessages
{
    /// <summary>READ_DIR entry: cookie L8, inode L8, mode 4, name length 1, name.</summary>
    public const int DirEntryFixedSize = 8 + 8 + 4 + 1;

    /// <summary>READ_DIR_PLUS entry: cookie L8, name length 1, name, attributes.</summary>
    public const int DirEntryPlusFixedSize = 8 + 1 + NsAttributes.FixedSize;

    /// <summary>Directory page header: eof 1, count 4.</summary>
    public const int PageHeaderSize = 1 + 4;

    public const int SetAttrSize = 8 + 4 + 4 + 4 + 4 + 8 + 8 + 8 + 8;

    internal static void ExpectEnd(in WireReader r, string what)
    {
        if (r.Remaining != 0)
        {
            throw new FdfsProtocolException($"{r.Remaining} unexpected bytes after {what}");
        }
    }

    private static void WriteUInt16(ref WireWriter w, int value)
    {
        w.WriteByte((byte)(value >> 8));
        w.WriteByte((byte)value);
    }

    private static int ReadUInt16(ref WireReader r, string what) => BinaryPrimitives.ReadUInt16BigEndian(r.ReadBytes(2, what));

    /// <summary>A name behind a one-byte length (directory listings, link names), decoded by <see cref="FileNameCodec"/>.</summary>
    private static string ReadShortName(ref WireReader r) => FileNameCodec.Decode(r.ReadBytes(r.ReadByte("name length"), "name"));

    private static int Utf8(string? text) => text is null ? 0 : Encoding.UTF8.GetByteCount(text);

    /// <summary>Encoded length of a file name or symlink target (<see cref="FileNameCodec"/>).</summary>
    private static int NameLength(string name) => FileNameCodec.GetByteCount(name);

    // ---- requests ------------------------------------------------------------------------------------------

    public static int GroupSize => FdfsConstants.GroupNameMaxLength;

    public static int WriteGroup(Span<byte> destination, string group)
    {
        var w = new WireWriter(destination);
        w.WriteFixed(group, FdfsConstants.GroupNameMaxLength);
        return w.Position;
    }

    public static string ReadGroup(ReadOnlySpan<byte> body)
    {
        if (body.Length != FdfsConstants.GroupNameMaxLength)
        {
            throw new FdfsProtocolException($"group request must be {FdfsConstants.GroupNameMaxLength} bytes, got {body.Length}");
        }

        return WireText.FromPadded(body);
    }

    public const int InodeSize = 8;

    public static int WriteInode(Span<byte> destination, long inode)
    {
        BinaryPrimitives.WriteInt64BigEndian(destination, inode);
        return 8;
    }

    public static long ReadInode(ReadOnlySpan<byte> body)
    {
        if (body.Length != 8)
        {
            throw new FdfsProtocolException($"inode request must be 8 bytes, got {body.Length}");
        }

        return BinaryPrimitives.ReadInt64BigEndian(body);
    }

    public static int InodeNameSize(string name) => 8 + NameLength(name);

    /// <summary>inode L8 then a name filling the rest (LOOKUP, UNLINK, RM_DIR, GET_XATTR, REMOVE_XATTR).</summary>
    public static int WriteInodeName(Span<byte> destination, long inode, string name)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(inode);
        w.WriteName(name);
        return w.Position;
    }

    public static long ReadInodeName(ReadOnlySpan<byte> body, out ReadOnlySpan<byte> name)
    {
        var r = new WireReader(body);
        long inode = r.ReadInt64("inode");
        name = r.Rest;
        return inode;
    }

    public const int ReadDirSize = 8 + 8 + 4;

    public static int WriteReadDir(Span<byte> destination, long inode, long cookie, int maxEntries)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(inode);
        w.WriteInt64(cookie);
        w.WriteInt32(maxEntries);
        return w.Position;
    }

    public static (long Inode, long Cookie, int MaxEntries) ReadReadDir(ReadOnlySpan<byte> body)
    {
        if (body.Length != ReadDirSize)
        {
            throw new FdfsProtocolException($"readdir request must be {ReadDirSize} bytes, got {body.Length}");
        }

        var r = new WireReader(body);
        return (r.ReadInt64(), r.ReadInt64(), r.ReadInt32());
    }

    public static int CreateSize(string name, string? fileId) => 8 + 4 + 4 + 4 + 4 + 8 + 1 + Utf8(fileId) + NameLength(name);

    /// <summary>
    /// MK_DIR and CREATE: parent, mode, uid, gid, rdev (a device node's number, else 0), size, file ID (MK_DIR: 0 and
    /// none), name.
    /// </summary>
    public static int WriteCreate(
        Span<byte> destination, long parent, uint mode, uint uid, uint gid, long size, string? fileId, string name, uint rdev = 0)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(parent);
        w.WriteInt32((int)mode);
        w.WriteInt32((int)uid);
        w.WriteInt32((int)gid);
        w.WriteInt32((int)rdev);
        w.WriteInt64(size);
        WriteShortText(ref w, fileId);
        w.WriteName(name);
        return w.Position;
    }

    public static CreateRequest ReadCreate(ReadOnlySpan<byte> body)
    {
        var r = new WireReader(body);
        long parent = r.ReadInt64("parent");
        uint mode = (uint)r.ReadInt32("mode");
        uint uid = (uint)r.ReadInt32("uid");
        uint gid = (uint)r.ReadInt32("gid");
        uint rdev = (uint)r.ReadInt32("rdev");
        long size = r.ReadInt64("size");
        int fileIdLength = r.ReadByte("file ID length");
        var fileId = r.ReadBytes(fileIdLength, "file ID");
        return new CreateRequest(parent, mode, uid, gid, rdev, size, fileId, r.Rest);
    }

    public static int SymlinkSize(string name, string target) => 8 + 4 + 4 + 2 + NameLength(name) + NameLength(target);

    public static int WriteSymlink(Span<byte> destination, long parent, uint uid, uint gid, string name, string target)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(parent);
        w.WriteInt32((int)uid);
        w.WriteInt32((int)gid);
        WriteUInt16(ref w, NameLength(name));
        w.WriteName(name);
        w.WriteName(target);
        return w.Position;
    }

    public static long ReadSymlink(ReadOnlySpan<byte> body, out uint uid, out uint gid, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> target)
    {
        var r = new WireReader(body);
        long parent = r.ReadInt64("parent");
        uid = (uint)r.ReadInt32("uid");
        gid = (uint)r.ReadInt32("gid");
        name = r.ReadBytes(ReadUInt16(ref r, "name length"), "name");
        target = r.Rest;
        return parent;
    }

    public static int LinkSize(string newName) => 8 + 8 + NameLength(newName);

    public static int WriteLink(Span<byte> destination, long inode, long newParent, string newName)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(inode);
        w.WriteInt64(newParent);
        w.WriteName(newName);
        return w.Position;
    }

    public static long ReadLink(ReadOnlySpan<byte> body, out long newParent, out ReadOnlySpan<byte> newName)
    {
        var r = new WireReader(body);
        long inode = r.ReadInt64("inode");
        newParent = r.ReadInt64("new parent");
        newName = r.Rest;
        return inode;
    }

    public static int RenameSize(string name, string newName) => 8 + 8 + 4 + 2 + NameLength(name) + NameLength(newName);

    public static int WriteRename(Span<byte> destination, long parent, string name, long newParent, string newName, NamespaceRenameFlags flags)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(parent);
        w.WriteInt64(newParent);
        w.WriteInt32((int)flags);
        WriteUInt16(ref w, NameLength(name));
        w.WriteName(name);
        w.WriteName(newName);
        return w.Position;
    }

    public static RenameRequest ReadRename(ReadOnlySpan<byte> body)
    {
        var r = new WireReader(body);
        long parent = r.ReadInt64("parent");
        long newParent = r.ReadInt64("new parent");
        var flags = (NamespaceRenameFlags)(uint)r.ReadInt32("flags");
        var name = r.ReadBytes(ReadUInt16(ref r, "name length"), "name");
        return new RenameRequest(parent, name, newParent, r.Rest, flags);
    }

    public static int WriteSetAttr(Span<byte> destination, in SetAttrRequest request)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(request.Inode);
        w.WriteInt32((int)request.Mask);
        w.WriteInt32((int)request.Mode);
        w.WriteInt32((int)request.Uid);
        w.WriteInt32((int)request.Gid);
        w.WriteInt64(request.Size);
        w.WriteInt64(request.AtimeNs);
        w.WriteInt64(request.MtimeNs);
        w.WriteInt64(request.CtimeNs);
        return w.Position;
    }

    public static SetAttrRequest ReadSetAttr(ReadOnlySpan<byte> body)
    {
        if (body.Length != SetAttrSize)
        {
            throw new FdfsProtocolException($"setattr request must be {SetAttrSize} bytes, got {body.Length}");
        }

        var r = new WireReader(body);
        return new SetAttrRequest(
            r.ReadInt64(), (NamespaceSetAttr)(uint)r.ReadInt32(), (uint)r.ReadInt32(), (uint)r.ReadInt32(), (uint)r.ReadInt32(),
            r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64());
    }

    public static int SetContentSize(string fileId) => 8 + 8 + 8 + Utf8(fileId);

    public static int WriteSetContent(Span<byte> destination, long inode, string fileId, long size, long mtimeNs)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(inode);
        w.WriteInt64(size);
        w.WriteInt64(mtimeNs);
        w.WriteText(fileId);
        return w.Position;
    }

    public static long ReadSetContent(ReadOnlySpan<byte> body, out long size, out long mtimeNs, out ReadOnlySpan<byte> fileId)
    {
        var r = new WireReader(body);
        long inode = r.ReadInt64("inode");
        size = r.ReadInt64("size");
        mtimeNs = r.ReadInt64("mtime");
        fileId = r.Rest;
        return inode;
    }

    public static int SetXattrSize(string name, int valueLength) => 8 + 4 + 2 + Utf8(name) + valueLength;

    public static int WriteSetXattr(Span<byte> destination, long inode, string name, ReadOnlySpan<byte> value, NamespaceXattrFlags flags)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(inode);
        w.WriteInt32((int)flags);
        WriteUInt16(ref w, Utf8(name));
        w.WriteText(name);
        w.WriteBytes(value);
        return w.Position;
    }

    public static long ReadSetXattr(ReadOnlySpan<byte> body, out NamespaceXattrFlags flags, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        var r = new WireReader(body);
        long inode = r.ReadInt64("inode");
        flags = (NamespaceXattrFlags)(uint)r.ReadInt32("flags");
        name = r.ReadBytes(ReadUInt16(ref r, "name length"), "name");
        value = r.Rest;
        return inode;
    }

    public static int PendingSize(string fileId) => 4 + Utf8(fileId);

    public static int WritePending(Span<byte> destination, string fileId, int leaseSeconds)
    {
        var w = new WireWriter(destination);
        w.WriteInt32(leaseSeconds);
        w.WriteText(fileId);
        return w.Position;
    }

    public static int ReadPending(ReadOnlySpan<byte> body, out ReadOnlySpan<byte> fileId)
    {
        var r = new WireReader(body);
        int lease = r.ReadInt32("lease");
        fileId = r.Rest;
        return lease;
    }

    private static void WriteShortText(ref WireWriter w, string? text)
    {
        int length = Utf8(text);
        if (length > byte.MaxValue)
        {
            throw new FdfsProtocolException($"text of {length} bytes does not fit a 1-byte length");
        }

        w.WriteByte((byte)length);
        if (text is not null)
        {
            w.WriteText(text);
        }
    }

    // ---- responses -----------------------------------------------------------------------------------------

    /// <summary>Writes a directory page header (the count is patched in after the entries).</summary>
    public static void WritePageHeader(Span<byte> destination, bool eof, int count)
    {
        destination[0] = eof ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt32BigEndian(destination[1..], count);
    }

    public static int DirEntrySize(int nameLength) => DirEntryFixedSize + nameLength;

    public static int WriteDirEntry(Span<byte> destination, long cookie, long inode, uint mode, ReadOnlySpan<byte> name)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(cookie);
        w.WriteInt64(inode);
        w.WriteInt32((int)mode);
        w.WriteByte((byte)name.Length);
        w.WriteBytes(name);
        return w.Position;
    }

    public static int WriteDirEntryPlus(Span<byte> destination, long cookie, ReadOnlySpan<byte> name, in NsAttributes attributes)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(cookie);
        w.WriteByte((byte)name.Length);
        w.WriteBytes(name);
        return w.Position + attributes.Write(destination[w.Position..]);
    }

    public static List<NsDirEntry> ReadDirPage(ReadOnlySpan<byte> body, out bool eof)
    {
        var r = new WireReader(body);
        eof = r.ReadByte("eof") != 0;
        int count = r.ReadInt32("count");
        // The capacity trusts the count only as far as the body can hold entries (a lying count costs nothing).
        var entries = new List<NsDirEntry>(Math.Clamp(count, 0, r.Remaining / DirEntryFixedSize));
        for (int i = 0; i < count; i++)
        {
            long cookie = r.ReadInt64("cookie");
            long inode = r.ReadInt64("inode");
            uint mode = (uint)r.ReadInt32("mode");
            string name = ReadShortName(ref r);
            entries.Add(new NsDirEntry(cookie, inode, mode, name));
        }

        ExpectEnd(r, "directory page");
        return entries;
    }

    public static List<NsDirEntryPlus> ReadDirPlusPage(ReadOnlySpan<byte> body, out bool eof)
    {
        var r = new WireReader(body);
        eof = r.ReadByte("eof") != 0;
        int count = r.ReadInt32("count");
        var entries = new List<NsDirEntryPlus>(Math.Clamp(count, 0, r.Remaining / DirEntryPlusFixedSize));
        for (int i = 0; i < count; i++)
        {
            long cookie = r.ReadInt64("cookie");
            string name = ReadShortName(ref r);
            entries.Add(new NsDirEntryPlus(cookie, name, NsAttributes.Read(ref r)));
        }

        ExpectEnd(r, "directory page");
        return entries;
    }

    public static int LinkNameSize(int nameLength) => 8 + 8 + 1 + nameLength;

    public static int WriteLinkName(Span<byte> destination, long parent, long inode, ReadOnlySpan<byte> name)
    {
        var w = new WireWriter(destination);
        w.WriteInt64(parent);
        w.WriteInt64(inode);
        w.WriteByte((byte)name.Length);
        w.WriteBytes(name);
        return w.Position;
    }

    public static List<NsLinkName> ReadLinkNames(ReadOnlySpan<byte> body)
    {
        var r = new WireReader(body);
        int count = r.ReadInt32("count");
        var names = new List<NsLinkName>(Math.Clamp(count, 0, r.Remaining / LinkNameSize(0)));
        for (int i = 0; i < count; i++)
        {
            long parent = r.ReadInt64("parent");
            long inode = r.ReadInt64("inode");
            names.Add(new NsLinkName(parent, inode, ReadShortName(ref r)));
        }

        ExpectEnd(r, "names");
        return names;
    }

    /// <summary>LIST_XATTR answer as Linux's listxattr returns it: each name followed by a NUL.</summary>
    public static List<string> ReadXattrNames(ReadOnlySpan<byte> body)
    {
        var names = new List<string>();
        while (!body.IsEmpty)
        {
            int end = body.IndexOf((byte)0);
            if (end < 0)
            {
                throw new FdfsProtocolException("xattr name list does not end with NUL");
            }

            names.Add(Encoding.UTF8.GetString(body[..end]));
            body = body[(end + 1)..];
        }

        return names;
    }
}

/// <summary>MK_DIR / CREATE request as read by the server.</summary>
public readonly ref struct CreateRequest(long parent, uint mode, uint uid, uint gid, uint rdev, long size, ReadOnlySpan<byte> fileId, ReadOnlySpan<byte> name)
{
    public long Parent { get; } = parent;

    public uint Mode { get; } = mode;

    public uint Uid { get; } = uid;

    public uint Gid { get; } = gid;

    public uint Rdev { get; } = rdev;

    public long Size { get; } = size;

    public ReadOnlySpan<byte> FileId { get; } = fileId;

    public ReadOnlySpan<byte> Name { get; } = name;
}

/// <summary>RENAME request as read by the server.</summary>
public readonly ref struct RenameRequest(long parent, ReadOnlySpan<byte> name, long newParent, ReadOnlySpan<byte> newName, NamespaceRenameFlags flags)
{
    public long Parent { get; } = parent;

    public ReadOnlySpan<byte> Name { get; } = name;

    public long NewParent { get; } = newParent;

    public ReadOnlySpan<byte> NewName { get; } = newName;

    public NamespaceRenameFlags Flags { get; } = flags;
}

/// <summary>SET_ATTR request: fields not in <see cref="Mask"/> are ignored (send 0).</summary>
public readonly record struct SetAttrRequest(
    long Inode, NamespaceSetAttr Mask, uint Mode, uint Uid, uint Gid, long Size, long AtimeNs, long MtimeNs, long CtimeNs);
