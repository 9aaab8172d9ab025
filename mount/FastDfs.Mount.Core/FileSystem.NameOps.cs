using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Mount.Core;

/// <summary>Who asks: new nodes belong to the caller. The adapter passes the mode the kernel already masked with the umask.</summary>
public readonly record struct Caller(uint Uid, uint Gid);

/// <summary>Which attributes a setattr changes (the kernel's FATTR_* set, platform-neutral).</summary>
[Flags]
public enum AttrChange
{
    None = 0,
    Mode = 1,
    Uid = 2,
    Gid = 4,
    Size = 8,
    Atime = 16,
    Mtime = 32,
    AtimeNow = 64,
    MtimeNow = 128,
    Ctime = 256,
}

/// <summary>A setattr request: fields not in <see cref="Change"/> are ignored.</summary>
public readonly record struct SetAttrChange(AttrChange Change, uint Mode, uint Uid, uint Gid, long Size, long AtimeNs, long MtimeNs, long CtimeNs);

/// <summary>rename(2) flags as renameat2 defines them.</summary>
[Flags]
public enum RenameFlags : uint
{
    None = 0,
    NoReplace = 1,
    Exchange = 2,
    Whiteout = 4,
}

/// <summary>Creating, removing, renaming and linking names, and changing attributes, in a group's named tree.</summary>
public sealed partial class FileSystem
{
    /// <summary>
    /// Bumped by every change that can alter a node the mount did not touch directly (unlink, rmdir, rename: another
    /// name of a hard-linked inode, a replaced target). A node's cached directory-service answer is only trusted while
    /// it was taken in the current epoch, so nlink and ctime are right after the kernel invalidates its own copy.
    /// </summary>
    private long _namesEpoch;

    private const int EXDEV = 18;
    private const int ENOTEMPTY = 39;
    private const uint SetGroupId = 0x400; // S_ISGID

    public ValueTask<FsResult<EntryReply>> MkDirAsync(ulong parent, string name, uint mode, Caller caller, CancellationToken cancellationToken = default) =>
        CreateNamedAsync(parent, name, "mkdir", (ns, dir, deadline) =>
        {
            // Below a set-group-ID directory, new directories inherit the bit (ext4's inode_init_owner).
            uint inherited = InheritsGroup(dir) ? SetGroupId : 0;
            return _names.MkDirAsync(ns, name, NamespaceMode.Directory | (mode & NamespaceMode.PermissionMask) | inherited, caller.Uid, OwnerGid(dir, caller), deadline);
        }, cancellationToken);

    /// <summary>
    /// mknod: regular files, FIFOs, sockets and character and block devices. A device's number (<paramref name="rdev"/>,
    /// the kernel's 32-bit encoding as FUSE passes it) is kept in the directory service and comes back in st_rdev;
    /// other types keep none. Opening a device node never reaches the mount: the kernel opens the device itself.
    /// </summary>
    /// <remarks>
    /// No privilege check here: the kernel's vfs_mknod refuses devices with EPERM to a caller without CAP_MKNOD before
    /// any file system is asked, with or without default_permissions, and lets anyone make a 0:0 character device
    /// (an overlayfs whiteout), exactly as on ext4. Checking the caller's uid here would refuse those whiteouts and
    /// callers that hold CAP_MKNOD without being root.
    /// </remarks>
    public ValueTask<FsResult<EntryReply>> MkNodAsync(ulong parent, string name, uint mode, ulong rdev, Caller caller, CancellationToken cancellationToken = default)
    {
        uint type = mode & NamespaceMode.TypeMask;
        if (type == 0)
        {
            type = NamespaceMode.Regular; // mknod(2): a zero type means a regular file
        }

        if (type is not (NamespaceMode.Regular or NamespaceMode.Fifo or NamespaceMode.Socket or NamespaceMode.CharDevice or NamespaceMode.BlockDevice))
        {
            return ValueTask.FromResult(FsResult<EntryReply>.Fail(Errno.EINVAL));
        }

        uint full = type | (mode & NamespaceMode.PermissionMask);
        if (NamespaceMode.IsDevice(full) && rdev > uint.MaxValue)
        {
            return ValueTask.FromResult(FsResult<EntryReply>.Fail(Errno.EINVAL)); // FUSE's rdev is 32 bits: never from the kernel
        }

        // The directory service keeps the number for devices only (as ext4), so other types may pass any.
        return CreateNamedAsync(parent, name, "mknod", (ns, dir, deadline) =>
            _names.MkNodAsync(ns, name, full, (uint)rdev, caller.Uid, OwnerGid(dir, caller), deadline), cancellationToken);
    }

    public async ValueTask<FsResult<EntryReply>> SymlinkAsync(ulong parent, string name, string target, Caller caller, CancellationToken cancellationToken = default)
    {
        var created = await CreateNamedAsync(
            parent, name, "symlink", (ns, dir, deadline) => _names.SymlinkAsync(ns, name, target, caller.Uid, OwnerGid(dir, caller), deadline), cancellationToken);
        if (created.IsOk && Inodes.Find(created.Value.Ino) is { } node)
        {
            Volatile.Write(ref node.SymlinkTarget, target); // the kernel reads it back right away (ls -l, cp -a)
        }

        return created;
    }

    public async ValueTask<FsResult<string>> ReadLinkAsync(ulong ino, CancellationToken cancellationToken = default)
    {
        var node = Inodes.Find(ino);
        if (node is null)
        {
            return FsResult<string>.Fail(Errno.ENOENT);
        }

        if (node.Kind != NodeKind.Named || !node.Attributes.IsSymlink)
        {
            return FsResult<string>.Fail(Errno.EINVAL);
        }

        if (Volatile.Read(ref node.SymlinkTarget) is { } known)
        {
            return known;
        }

        using var deadline = Deadline(cancellationToken);
        var target = await _names.ReadLinkAsync(node.NsInode, deadline);
        if (target.IsOk)
        {
            Volatile.Write(ref node.SymlinkTarget, target.Value);
        }

        return target;
    }

    /// <summary>A hard link: the reply is the existing node (same ino) with its new nlink.</summary>
    public async ValueTask<FsResult<EntryReply>> LinkAsync(ulong ino, ulong newParent, string newName, CancellationToken cancellationToken = default)
    {
        var node = Inodes.Find(ino);
        if (node is null)
        {
            return FsResult<EntryReply>.Fail(Errno.ENOENT);
        }

        if (node.IsDirectory)
        {
            return FsResult<EntryReply>.Fail(Errno.EPERM);
        }

        if (node.Kind != NodeKind.Named)
        {
            // A file-ID file has no name to share; a name cannot point at it either (its content is not ours to delete).
            return FsResult<EntryReply>.Fail(Options.ReadOnly ? Errno.EROFS : Errno.EPERM);
        }

        int named = await EnsureNamedAsync(node, cancellationToken);
        if (named != 0)
        {
            return FsResult<EntryReply>.Fail(named);
        }

        return await CreateNamedAsync(newParent, newName, "link", (ns, _, deadline) => _names.LinkAsync(node.NsInode, ns, newName, deadline), cancellationToken);
    }

    /// <summary>unlink of a name in a named tree (file-ID paths go through <see cref="UnlinkAsync"/>'s own branch).</summary>
    private async ValueTask<int> UnlinkNamedAsync(Node dir, string name, CancellationToken cancellationToken)
    {
        var parent = await WritableDirectoryAsync(dir, name, cancellationToken);
        if (!parent.IsOk)
        {
            return parent.Errno;
        }

        int named = await EnsureNamedInAsync(parent.Value, name, cancellationToken);
        if (named != 0)
        {
            return named;
        }

        using var deadline = Deadline(cancellationToken);
        int errno = await _names.UnlinkAsync(parent.Value, name, deadline);
        NamesChanged(dir, errno);
        return errno;
    }

    public async ValueTask<int> RmDirAsync(ulong parent, string name, CancellationToken cancellationToken = default)
    {
        var dir = Inodes.Find(parent);
        if (dir is null)
        {
            return Errno.ENOENT;
        }

        if (name == ".")
        {
            return Errno.EINVAL;
        }

        if (name == "..")
        {
            return ENOTEMPTY;
        }

        var ns = await WritableDirectoryAsync(dir, name, cancellationToken);
        if (!ns.IsOk)
        {
            return ns.Errno;
        }

        await EnsureNamedInAsync(0, null, cancellationToken); // the directory's pending files, whatever its inode
        using var deadline = Deadline(cancellationToken);
        int errno = await _names.RmDirAsync(ns.Value, name, deadline);
        NamesChanged(dir, errno);
        return errno;
    }

    public async ValueTask<int> RenameAsync(ulong parent, string name, ulong newParent, string newName, RenameFlags flags, CancellationToken cancellationToken = default)
    {
        var from = Inodes.Find(parent);
        var to = Inodes.Find(newParent);
        if (from is null || to is null)
        {
            return Errno.ENOENT;
        }

        if ((flags & RenameFlags.Whiteout) != 0)
        {
            return Errno.EINVAL; // overlayfs' whiteouts need device nodes, which the directory service does not keep
        }

        var source = await WritableDirectoryAsync(from, name, cancellationToken);
        if (!source.IsOk)
        {
            return source.Errno;
        }

        var target = await WritableDirectoryAsync(to, newName, cancellationToken);
        if (!target.IsOk)
        {
            return target.Errno;
        }

        if (from.Group != to.Group)
        {
            return EXDEV; // each group is its own tree (mv then copies)
        }

        int named = await EnsureNamedInAsync(source.Value, name, cancellationToken);
        named = named != 0 ? named : await EnsureNamedInAsync(target.Value, newName, cancellationToken);
        if (named != 0)
        {
            return named;
        }

        NoteNewName(to, newName);
        using var deadline = Deadline(cancellationToken);
        int errno = await _names.RenameAsync(source.Value, name, target.Value, newName, (NamespaceRenameFlags)(uint)flags, deadline);
        NamesChanged(from, errno);
        if (errno == 0)
        {
            to.AttributesExpire = 0;
            RenamedWhileWritten(source.Value, name, target.Value, newName);
        }

        return errno;
    }

    /// <summary>chmod, chown, utimens and truncate of a named node; anything else is refused as <see cref="SetAttrRefused"/> says.</summary>
    public async ValueTask<FsResult<AttrReply>> SetAttrAsync(ulong ino, SetAttrChange change, CancellationToken cancellationToken = default)
    {
        var node = Inodes.Find(ino);
        if (node is null)
        {
            return FsResult<AttrReply>.Fail(Errno.ENOENT);
        }

        int named = await EnsureNamedAsync(node, cancellationToken);
        if (named != 0)
        {
            return FsResult<AttrReply>.Fail(named);
        }

        long nsInode = NamedInode(node);
        if (nsInode == 0)
        {
            return FsResult<AttrReply>.Fail(SetAttrRefused(ino));
        }

        if (Options.ReadOnly)
        {
            return FsResult<AttrReply>.Fail(Errno.EROFS);
        }

        if ((change.Change & AttrChange.Size) != 0)
        {
            if (node.IsDirectory)
            {
                return FsResult<AttrReply>.Fail(Errno.EISDIR);
            }

            if (!node.Attributes.IsRegular)
            {
                return FsResult<AttrReply>.Fail(Errno.EINVAL);
            }

            // The data path owns content: it truncates or extends the appender and records the new size.
            int resized = await ResizeNamedAsync(node, change.Size, cancellationToken);
            if (resized != 0)
            {
                return FsResult<AttrReply>.Fail(resized);
            }
        }

        if (node.Orphaned)
        {
            return SetOrphanAttributes(node, change);
        }

        var mask = NamespaceSetAttr.None;
        AttrChange rest = change.Change & ~AttrChange.Size;
        if ((rest & AttrChange.Mode) != 0)
        {
            mask |= NamespaceSetAttr.Mode;
        }

        if ((rest & AttrChange.Uid) != 0)
        {
            mask |= NamespaceSetAttr.Uid;
        }

        if ((rest & AttrChange.Gid) != 0)
        {
            mask |= NamespaceSetAttr.Gid;
        }

        if ((rest & AttrChange.AtimeNow) != 0)
        {
            mask |= NamespaceSetAttr.AtimeNow;
        }
        else if ((rest & AttrChange.Atime) != 0)
        {
            mask |= NamespaceSetAttr.Atime;
        }

        if ((rest & AttrChange.MtimeNow) != 0)
        {
            mask |= NamespaceSetAttr.MtimeNow;
        }
        else if ((rest & AttrChange.Mtime) != 0)
        {
            mask |= NamespaceSetAttr.Mtime;
        }

        if ((rest & AttrChange.Ctime) != 0)
        {
            mask |= NamespaceSetAttr.Ctime;
        }

        const AttrChange Times = AttrChange.Atime | AttrChange.Mtime | AttrChange.AtimeNow | AttrChange.MtimeNow;
        if ((rest & Times) != 0 && FindWriter(node) is { Dirty: true } writer)
        {
            // Data not yet stored would be committed later with the writer's own mtime, undoing the times set here
            // (cp -a and rsync set them with futimens before close): store it first.
            using var commitDeadline = CommitDeadline(cancellationToken);
            int committed = await writer.CommitAsync(commitDeadline);
            if (committed != 0)
            {
                return FsResult<AttrReply>.Fail(committed);
            }
        }

        using var deadline = Deadline(cancellationToken);
        FsResult<NsAttributes> updated;
        if (mask != NamespaceSetAttr.None)
        {
            var request = new SetAttrRequest(nsInode, mask, change.Mode, change.Uid, change.Gid, 0, change.AtimeNs, change.MtimeNs, change.CtimeNs);
            updated = await _names.SetAttrAsync(request, deadline);
        }
        else
        {
            updated = await _names.GetAttrAsync(nsInode, deadline);
        }

        if (!updated.IsOk)
        {
            return updated.Errno == Errno.ENOENT && TryOrphan(node) ? SetOrphanAttributes(node, change) : FsResult<AttrReply>.Fail(updated.Errno);
        }

        var attributes = SetNamed(node, updated.Value);
        return new AttrReply(WithPendingWrites(node, attributes), Options.AttrTimeout.TotalSeconds);
    }

    /// <summary>
    /// fchmod, fchown, futimens (and the size, already changed by the data path) of an unlinked file still open: only
    /// this mount's handles can see it, so the change is made to the node alone, as ext4 changes its orphan inode.
    /// </summary>
    private FsResult<AttrReply> SetOrphanAttributes(Node node, SetAttrChange change)
    {
        long now = UnixTime.NowNanoseconds();
        var attributes = node.Attributes;
        AttrChange rest = change.Change;
        if ((rest & AttrChange.Mode) != 0)
        {
            attributes = attributes with { Mode = (attributes.Mode & NodeAttributes.S_IFMT) | (change.Mode & ~NodeAttributes.S_IFMT) };
        }

        if ((rest & AttrChange.Uid) != 0)
        {
            attributes = attributes with { Uid = change.Uid };
        }

        if ((rest & AttrChange.Gid) != 0)
        {
            attributes = attributes with { Gid = change.Gid };
        }

        if ((rest & (AttrChange.AtimeNow | AttrChange.Atime)) != 0)
        {
            attributes = attributes with { AtimeNs = (rest & AttrChange.AtimeNow) != 0 ? now : change.AtimeNs };
        }

        if ((rest & (AttrChange.MtimeNow | AttrChange.Mtime)) != 0)
        {
            long mtime = (rest & AttrChange.MtimeNow) != 0 ? now : change.MtimeNs;
            attributes = attributes with { MtimeNs = mtime };
            FindWriter(node)?.SetMtime(mtime);
        }

        node.Attributes = attributes with { CtimeNs = (rest & AttrChange.Ctime) != 0 ? change.CtimeNs : now };
        return new AttrReply(WithPendingWrites(node, node.Attributes), Options.AttrTimeout.TotalSeconds);
    }

    /// <summary>
    /// The group a new node in <paramref name="dir"/> gets: the directory's when it is set-group-ID (BSD semantics,
    /// as ext4 does), else the caller's. The data path's create uses it too.
    /// </summary>
    internal static uint OwnerGid(Node dir, Caller caller) => InheritsGroup(dir) ? dir.Attributes.Gid : caller.Gid;

    private static bool InheritsGroup(Node dir) => (dir.Attributes.Mode & SetGroupId) != 0;

    /// <summary>The directory-service inode of a node that has one (named node, or a group root when names are on); 0 otherwise.</summary>
    private long NamedInode(Node node) =>
        node.Kind == NodeKind.Named || (node.Kind == NodeKind.Group && _names.NamesAvailable) ? Volatile.Read(ref node.NsInode) : 0;

    /// <summary>Creates a name below <paramref name="parentIno"/> with <paramref name="create"/>; the reply counts one kernel lookup.</summary>
    private async ValueTask<FsResult<EntryReply>> CreateNamedAsync(
        ulong parentIno, string name, string operation, Func<long, Node, OperationDeadline, ValueTask<FsResult<NsAttributes>>> create, CancellationToken cancellationToken)
    {
        var dir = Inodes.Find(parentIno);
        if (dir is null)
        {
            return FsResult<EntryReply>.Fail(Errno.ENOENT);
        }

        var parent = await WritableDirectoryAsync(dir, name, cancellationToken);
        if (!parent.IsOk)
        {
            return FsResult<EntryReply>.Fail(parent.Errno);
        }

        NoteNewName(dir, name);
        using var deadline = Deadline(cancellationToken);
        var created = await create(parent.Value, dir, deadline);
        if (!created.IsOk)
        {
            return FsResult<EntryReply>.Fail(created.Errno);
        }

        // The parent's mtime, ctime (and nlink for mkdir) changed: the kernel invalidates its copy, so must we.
        dir.AttributesExpire = 0;
        if (operation == "link")
        {
            Interlocked.Increment(ref _namesEpoch); // the other names of the inode see the new nlink
        }

        var entry = NamedEntry(dir.Group, created.Value, parent.Value, name);
        if (operation == "mkdir")
        {
            TrackNewDirectory(entry.Value.Ino);
        }

        return entry;
    }

    /// <summary>
    /// The directory-service inode of a directory in which names may change, or the errno: EROFS read-only or without
    /// names, EPERM at the root (groups come from the trackers) and for the reserved store-path names, ENOTDIR.
    /// </summary>
    private async ValueTask<FsResult<long>> WritableDirectoryAsync(Node dir, string name, CancellationToken cancellationToken)
    {
        if (!dir.IsDirectory)
        {
            return FsResult<long>.Fail(Errno.ENOTDIR);
        }

        if (Options.ReadOnly || !_names.NamesAvailable)
        {
            return FsResult<long>.Fail(Errno.EROFS);
        }

        if (dir.Kind is not (NodeKind.Named or NodeKind.Group))
        {
            return FsResult<long>.Fail(Errno.EPERM);
        }

        if (dir.Kind == NodeKind.Group && IsStorePath(name))
        {
            return FsResult<long>.Fail(Errno.EPERM); // M00..MFF are file-ID paths at a group's top level
        }

        if (IsNameTooLong(name))
        {
            return FsResult<long>.Fail(Errno.ENAMETOOLONG);
        }

        return await NamedDirectoryAsync(dir, cancellationToken);
    }

    /// <summary>After unlink, rmdir or rename: the directory changed, and so may have nodes the mount holds under other names.</summary>
    private void NamesChanged(Node dir, int errno)
    {
        if (errno == 0)
        {
            dir.AttributesExpire = 0;
            Interlocked.Increment(ref _namesEpoch);
        }
    }
}
