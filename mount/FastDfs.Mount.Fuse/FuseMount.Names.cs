using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using FastDfs.Mount.Core;

namespace FastDfs.Mount.Fuse;

/// <summary>Name operations: create, remove, rename and link names, and change attributes.</summary>
public sealed unsafe partial class FuseMount
{
    [UnmanagedCallersOnly]
    private static void OnSetAttr(nint req, ulong ino, Stat* attr, int toSet, FuseFileInfo* fi) => LibFuse.ReplyErr(req, Fs.SetAttrRefused(ino));

    [UnmanagedCallersOnly]
    private static void OnMkNod(nint req, ulong parent, byte* name, uint mode, ulong dev) => LibFuse.ReplyErr(req, Fs.CreateRefused(parent));

    [UnmanagedCallersOnly]
    private static void OnMkDir(nint req, ulong parent, byte* name, uint mode) => LibFuse.ReplyErr(req, Fs.CreateRefused(parent));

    [UnmanagedCallersOnly]
    private static void OnCreate(nint req, ulong parent, byte* name, uint mode, FuseFileInfo* fi) => LibFuse.ReplyErr(req, Fs.CreateRefused(parent));

    [UnmanagedCallersOnly]
    private static void OnRmDir(nint req, ulong parent, byte* name) => LibFuse.ReplyErr(req, Fs.CreateRefused(parent));

    [UnmanagedCallersOnly]
    private static void OnSymlink(nint req, byte* link, ulong parent, byte* name) => LibFuse.ReplyErr(req, Fs.CreateRefused(parent));

    [UnmanagedCallersOnly]
    private static void OnRename(nint req, ulong parent, byte* name, ulong newParent, byte* newName, uint flags) =>
        LibFuse.ReplyErr(req, Fs.CreateRefused(parent));

    [UnmanagedCallersOnly]
    private static void OnLink(nint req, ulong ino, ulong newParent, byte* newName) => LibFuse.ReplyErr(req, Fs.CreateRefused(newParent));

    [UnmanagedCallersOnly]
    private static void OnUnlink(nint req, ulong parent, byte* name)
    {
        try
        {
            CompleteErrno(req, Fs.UnlinkAsync(parent, Name(name)));
        }
        catch (Exception e)
        {
            Failed(req, "unlink", e);
        }
    }
}
