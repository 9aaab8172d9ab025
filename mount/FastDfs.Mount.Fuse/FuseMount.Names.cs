using System.Runtime.InteropServices;
using FastDfs.Mount.Core;
using FastDfs.Protocol;

namespace FastDfs.Mount.Fuse;

/// <summary>Name operations: create, remove, rename and link names, and change attributes.</summary>
public sealed unsafe partial class FuseMount
{
    // setattr's to_set bits (fuse_lowlevel.h).
    [NativeConstant("FUSE_SET_ATTR_MODE")]
    private const int SetAttrMode = 1 << 0;
    [NativeConstant("FUSE_SET_ATTR_UID")]
    private const int SetAttrUid = 1 << 1;
    [NativeConstant("FUSE_SET_ATTR_GID")]
    private const int SetAttrGid = 1 << 2;
    [NativeConstant("FUSE_SET_ATTR_SIZE")]
    private const int SetAttrSize = 1 << 3;
    [NativeConstant("FUSE_SET_ATTR_ATIME")]
    private const int SetAttrAtime = 1 << 4;
    [NativeConstant("FUSE_SET_ATTR_MTIME")]
    private const int SetAttrMtime = 1 << 5;
    [NativeConstant("FUSE_SET_ATTR_ATIME_NOW")]
    private const int SetAttrAtimeNow = 1 << 7;
    [NativeConstant("FUSE_SET_ATTR_MTIME_NOW")]
    private const int SetAttrMtimeNow = 1 << 8;
    [NativeConstant("FUSE_SET_ATTR_CTIME")]
    private const int SetAttrCtime = 1 << 10;

    /// <summary>
    /// Replies to mkdir, mknod, symlink and link. Unlike lookup, ENOENT is an error here: a reply without a node would
    /// make the kernel answer EIO.
    /// </summary>
    private readonly struct NewEntrySender : IReply<EntryReply>
    {
        public static void Send(nint req, in FsResult<EntryReply> result)
        {
            if (!result.IsOk)
            {
                LibFuse.ReplyErr(req, result.Errno);
                return;
            }

            EntrySender.Send(req, result);
        }

        public static void Abandon(in FsResult<EntryReply> result) => EntrySender.Abandon(result);
    }

    private readonly struct ReadLinkSender : IReply<string>
    {
        public static void Send(nint req, in FsResult<string> result)
        {
            if (!result.IsOk)
            {
                LibFuse.ReplyErr(req, result.Errno);
                return;
            }

            byte[] target = new byte[FileNameCodec.GetByteCount(result.Value) + 1];
            FileNameCodec.Encode(result.Value, target);
            fixed (byte* p = target)
            {
                LibFuse.ReplyReadLink(req, p);
            }
        }
    }

    /// <summary>The caller: new nodes belong to it. The kernel already applied its umask to the mode (FUSE_CAP_DONT_MASK is off).</summary>
    private static Caller CallerOf(nint req)
    {
        var ctx = LibFuse.RequestContext(req);
        return new Caller(ctx->Uid, ctx->Gid);
    }

    [UnmanagedCallersOnly]
    private static void OnSetAttr(nint req, ulong ino, Stat* attr, int toSet, FuseFileInfo* fi)
    {
        try
        {
            var change = AttrChange.None;
            change |= (toSet & SetAttrMode) != 0 ? AttrChange.Mode : 0;
            change |= (toSet & SetAttrUid) != 0 ? AttrChange.Uid : 0;
            change |= (toSet & SetAttrGid) != 0 ? AttrChange.Gid : 0;
            change |= (toSet & SetAttrSize) != 0 ? AttrChange.Size : 0;
            change |= (toSet & SetAttrAtime) != 0 ? AttrChange.Atime : 0;
            change |= (toSet & SetAttrMtime) != 0 ? AttrChange.Mtime : 0;
            change |= (toSet & SetAttrAtimeNow) != 0 ? AttrChange.AtimeNow : 0;
            change |= (toSet & SetAttrMtimeNow) != 0 ? AttrChange.MtimeNow : 0;
            change |= (toSet & SetAttrCtime) != 0 ? AttrChange.Ctime : 0;
            var request = new SetAttrChange(
                change, attr->Mode, attr->Uid, attr->Gid, attr->Size, attr->Atime.ToNanoseconds(), attr->Mtime.ToNanoseconds(), attr->Ctime.ToNanoseconds());
            Complete<AttrReply, AttrSender>(req, Fs.SetAttrAsync(ino, request));
        }
        catch (Exception e)
        {
            Failed(req, "setattr", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnMkNod(nint req, ulong parent, byte* name, uint mode, ulong dev)
    {
        try
        {
            // dev: fuse_mknod_in's 32-bit rdev (the kernel's new_encode_dev), widened to dev_t by libfuse.
            Complete<EntryReply, NewEntrySender>(req, Fs.MkNodAsync(parent, NameOf(name), mode, dev, CallerOf(req)));
        }
        catch (Exception e)
        {
            Failed(req, "mknod", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnMkDir(nint req, ulong parent, byte* name, uint mode)
    {
        try
        {
            Complete<EntryReply, NewEntrySender>(req, Fs.MkDirAsync(parent, NameOf(name), mode, CallerOf(req)));
        }
        catch (Exception e)
        {
            Failed(req, "mkdir", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnRmDir(nint req, ulong parent, byte* name)
    {
        try
        {
            CompleteErrno(req, Fs.RmDirAsync(parent, NameOf(name)));
        }
        catch (Exception e)
        {
            Failed(req, "rmdir", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnSymlink(nint req, byte* link, ulong parent, byte* name)
    {
        try
        {
            Complete<EntryReply, NewEntrySender>(req, Fs.SymlinkAsync(parent, NameOf(name), NameOf(link), CallerOf(req)));
        }
        catch (Exception e)
        {
            Failed(req, "symlink", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnReadLink(nint req, ulong ino)
    {
        try
        {
            Complete<string, ReadLinkSender>(req, Fs.ReadLinkAsync(ino));
        }
        catch (Exception e)
        {
            Failed(req, "readlink", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnRename(nint req, ulong parent, byte* name, ulong newParent, byte* newName, uint flags)
    {
        try
        {
            CompleteErrno(req, Fs.RenameAsync(parent, NameOf(name), newParent, NameOf(newName), (RenameFlags)flags));
        }
        catch (Exception e)
        {
            Failed(req, "rename", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnLink(nint req, ulong ino, ulong newParent, byte* newName)
    {
        try
        {
            Complete<EntryReply, NewEntrySender>(req, Fs.LinkAsync(ino, newParent, NameOf(newName)));
        }
        catch (Exception e)
        {
            Failed(req, "link", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnUnlink(nint req, ulong parent, byte* name)
    {
        try
        {
            CompleteErrno(req, Fs.UnlinkAsync(parent, NameOf(name)));
        }
        catch (Exception e)
        {
            Failed(req, "unlink", e);
        }
    }
}
