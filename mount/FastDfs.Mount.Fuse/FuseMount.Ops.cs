using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;
using FastDfs.Mount.Core;
using FastDfs.Protocol;

namespace FastDfs.Mount.Fuse;

/// <summary>
/// The low-level callbacks. Rules (fuse-binding notes 2.4): exactly one reply per request; pointer arguments are
/// copied before the callback returns; nothing may throw into native code.
/// </summary>
public sealed unsafe partial class FuseMount
{
    [NativeConstant("FUSE_CAP_ASYNC_DIO")]
    private const uint CapAsyncDio = 1u << 15;

    [NativeConstant("FUSE_CAP_SPLICE_READ")]
    private const uint CapSpliceRead = 1u << 9;

    private const uint SplicedMaxWrite = 512 * 1024;

    private static nint BuildOps(bool splicedWrites)
    {
        var ops = (nint*)NativeMemory.AllocZeroed((nuint)((int)OpSlot.Count * sizeof(nint)));
        ops[(int)OpSlot.Init] = (nint)(delegate* unmanaged<nint, ConnInfo*, void>)&OnInit;
        ops[(int)OpSlot.Lookup] = (nint)(delegate* unmanaged<nint, ulong, byte*, void>)&OnLookup;
        ops[(int)OpSlot.Forget] = (nint)(delegate* unmanaged<nint, ulong, ulong, void>)&OnForget;
        ops[(int)OpSlot.ForgetMulti] = (nint)(delegate* unmanaged<nint, nuint, ForgetData*, void>)&OnForgetMulti;
        ops[(int)OpSlot.GetAttr] = (nint)(delegate* unmanaged<nint, ulong, FuseFileInfo*, void>)&OnGetAttr;
        ops[(int)OpSlot.ReadLink] = (nint)(delegate* unmanaged<nint, ulong, void>)&OnReadLink;
        ops[(int)OpSlot.SetAttr] = (nint)(delegate* unmanaged<nint, ulong, Stat*, int, FuseFileInfo*, void>)&OnSetAttr;
        ops[(int)OpSlot.MkNod] = (nint)(delegate* unmanaged<nint, ulong, byte*, uint, ulong, void>)&OnMkNod;
        ops[(int)OpSlot.MkDir] = (nint)(delegate* unmanaged<nint, ulong, byte*, uint, void>)&OnMkDir;
        ops[(int)OpSlot.Unlink] = (nint)(delegate* unmanaged<nint, ulong, byte*, void>)&OnUnlink;
        ops[(int)OpSlot.RmDir] = (nint)(delegate* unmanaged<nint, ulong, byte*, void>)&OnRmDir;
        ops[(int)OpSlot.Symlink] = (nint)(delegate* unmanaged<nint, byte*, ulong, byte*, void>)&OnSymlink;
        ops[(int)OpSlot.Rename] = (nint)(delegate* unmanaged<nint, ulong, byte*, ulong, byte*, uint, void>)&OnRename;
        ops[(int)OpSlot.Link] = (nint)(delegate* unmanaged<nint, ulong, ulong, byte*, void>)&OnLink;
        ops[(int)OpSlot.Open] = (nint)(delegate* unmanaged<nint, ulong, FuseFileInfo*, void>)&OnOpen;
        ops[(int)OpSlot.Read] = (nint)(delegate* unmanaged<nint, ulong, nuint, long, FuseFileInfo*, void>)&OnRead;
        ops[(int)OpSlot.Release] = (nint)(delegate* unmanaged<nint, ulong, FuseFileInfo*, void>)&OnRelease;
        ops[(int)OpSlot.OpenDir] = (nint)(delegate* unmanaged<nint, ulong, FuseFileInfo*, void>)&OnOpenDir;
        ops[(int)OpSlot.ReadDir] = (nint)(delegate* unmanaged<nint, ulong, nuint, long, FuseFileInfo*, void>)&OnReadDir;
        ops[(int)OpSlot.ReadDirPlus] = (nint)(delegate* unmanaged<nint, ulong, nuint, long, FuseFileInfo*, void>)&OnReadDirPlus;
        ops[(int)OpSlot.ReleaseDir] = (nint)(delegate* unmanaged<nint, ulong, FuseFileInfo*, void>)&OnReleaseDir;
        ops[(int)OpSlot.StatFs] = (nint)(delegate* unmanaged<nint, ulong, void>)&OnStatFs;
        ops[(int)OpSlot.SetXattr] = (nint)(delegate* unmanaged<nint, ulong, byte*, byte*, nuint, int, void>)&OnSetXattr;
        ops[(int)OpSlot.GetXattr] = (nint)(delegate* unmanaged<nint, ulong, byte*, nuint, void>)&OnGetXattr;
        ops[(int)OpSlot.ListXattr] = (nint)(delegate* unmanaged<nint, ulong, nuint, void>)&OnListXattr;
        ops[(int)OpSlot.RemoveXattr] = (nint)(delegate* unmanaged<nint, ulong, byte*, void>)&OnRemoveXattr;
        ops[(int)OpSlot.Create] = (nint)(delegate* unmanaged<nint, ulong, byte*, uint, FuseFileInfo*, void>)&OnCreateFile;
        ops[(int)OpSlot.Write] = (nint)(delegate* unmanaged<nint, ulong, byte*, nuint, long, FuseFileInfo*, void>)&OnWrite;
        if (splicedWrites)
        {
            // With write_buf set, libfuse asks the kernel for requests through a pipe (FUSE_CAP_SPLICE_READ) and calls
            // it instead of write for every WRITE.
            ops[(int)OpSlot.WriteBuf] = (nint)(delegate* unmanaged<nint, ulong, FuseBufvec*, long, FuseFileInfo*, void>)&OnWriteBuf;
        }

        ops[(int)OpSlot.Flush] = (nint)(delegate* unmanaged<nint, ulong, FuseFileInfo*, void>)&OnFlush;
        ops[(int)OpSlot.FSync] = (nint)(delegate* unmanaged<nint, ulong, int, FuseFileInfo*, void>)&OnFSync;
        ops[(int)OpSlot.Fallocate] = (nint)(delegate* unmanaged<nint, ulong, int, long, long, FuseFileInfo*, void>)&OnFallocate;
        ops[(int)OpSlot.GetLk] = (nint)(delegate* unmanaged<nint, ulong, FuseFileInfo*, Flock*, void>)&OnGetLk;
        ops[(int)OpSlot.SetLk] = (nint)(delegate* unmanaged<nint, ulong, FuseFileInfo*, Flock*, int, void>)&OnSetLk;
        ops[(int)OpSlot.Flock] = (nint)(delegate* unmanaged<nint, ulong, FuseFileInfo*, int, void>)&OnFlock;
        return (nint)ops;
    }

    private static FuseMount Current => Volatile.Read(ref s_current)!;

    private static FileSystem Fs => Current._fs;

    /// <summary>
    /// A file name (or symlink target) the kernel passed. Linux names are bytes, not text: <see cref="FileNameCodec"/>
    /// keeps bytes that are not UTF-8 as escapes, so every name reaches the directory service as the kernel sent it.
    /// </summary>
    private static string NameOf(byte* name) => FileNameCodec.Decode(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(name));

    /// <summary>
    /// An xattr name, if it is UTF-8; otherwise the request is answered <paramref name="refusal"/> and false returned.
    /// Xattrs of file-ID paths are FastDFS metadata, whose keys are text.
    /// </summary>
    private static bool TryXattrName(nint req, byte* name, int refusal, [NotNullWhen(true)] out string? text)
    {
        var bytes = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(name);
        if (!Utf8.IsValid(bytes))
        {
            text = null;
            LibFuse.ReplyErr(req, refusal);
            return false;
        }

        text = Encoding.UTF8.GetString(bytes);
        return true;
    }

    // ------------------------------------------------------------------ reply senders

    private interface IReply<T>
    {
        static abstract void Send(nint req, in FsResult<T> result);

        /// <summary>The request was answered EINTR before this result came: undo what the kernel will never learn of.</summary>
        static virtual void Abandon(in FsResult<T> result)
        {
        }
    }

    private readonly struct EntrySender : IReply<EntryReply>
    {
        public static void Send(nint req, in FsResult<EntryReply> result)
        {
            if (result.Errno == Errno.ENOENT)
            {
                // A negative entry lets the kernel remember the miss for negative_timeout.
                var negative = default(EntryParam);
                negative.EntryTimeout = Fs.Options.NegativeTimeout.TotalSeconds;
                LibFuse.ReplyEntry(req, &negative);
                return;
            }

            if (!result.IsOk)
            {
                LibFuse.ReplyErr(req, result.Errno);
                return;
            }

            var reply = result.Value;
            var entry = default(EntryParam);
            Fill(ref entry, reply);
            if (LibFuse.ReplyEntry(req, &entry) != 0)
            {
                // The kernel dropped the request (interrupted): it will never forget this lookup.
                Fs.Forget(reply.Ino, 1);
            }
        }

        public static void Abandon(in FsResult<EntryReply> result)
        {
            if (result.IsOk)
            {
                Fs.Forget(result.Value.Ino, 1);
            }
        }
    }

    private readonly struct AttrSender : IReply<AttrReply>
    {
        public static void Send(nint req, in FsResult<AttrReply> result)
        {
            if (!result.IsOk)
            {
                LibFuse.ReplyErr(req, result.Errno);
                return;
            }

            var stat = default(Stat);
            Fill(ref stat, result.Value.Attributes);
            LibFuse.ReplyAttr(req, &stat, result.Value.Timeout);
        }
    }

    private readonly struct OpenSender : IReply<OpenReply>
    {
        public static void Send(nint req, in FsResult<OpenReply> result)
        {
            if (!result.IsOk)
            {
                LibFuse.ReplyErr(req, result.Errno);
                return;
            }

            // libfuse's fi pointer is only valid during the callback, so the reply carries our own copy.
            var fi = FileInfoFor(result.Value);
            if (LibFuse.ReplyOpen(req, &fi) != 0)
            {
                Fs.Release(result.Value.Handle); // interrupted: release will never come
            }
        }

        public static void Abandon(in FsResult<OpenReply> result)
        {
            if (result.IsOk)
            {
                Fs.Release(result.Value.Handle);
            }
        }
    }

    private readonly struct OpenDirSender : IReply<ulong>
    {
        public static void Send(nint req, in FsResult<ulong> result)
        {
            if (!result.IsOk)
            {
                LibFuse.ReplyErr(req, result.Errno);
                return;
            }

            var fi = default(FuseFileInfo);
            fi.Fh = result.Value;
            if (LibFuse.ReplyOpen(req, &fi) != 0)
            {
                Fs.ReleaseDir(result.Value);
            }
        }

        public static void Abandon(in FsResult<ulong> result)
        {
            if (result.IsOk)
            {
                Fs.ReleaseDir(result.Value);
            }
        }
    }

    private readonly struct StatFsSender : IReply<FsStats>
    {
        public static void Send(nint req, in FsResult<FsStats> result)
        {
            if (!result.IsOk)
            {
                LibFuse.ReplyErr(req, result.Errno);
                return;
            }

            var s = result.Value;
            var vfs = default(StatVfs);
            vfs.BlockSize = (ulong)s.BlockSize;
            vfs.FragmentSize = (ulong)s.BlockSize;
            vfs.Blocks = (ulong)s.TotalBlocks;
            vfs.BlocksFree = (ulong)s.FreeBlocks;
            vfs.BlocksAvailable = (ulong)s.AvailableBlocks;
            vfs.Files = (ulong)s.Files;
            vfs.FilesFree = (ulong)s.FreeFiles;
            vfs.FilesAvailable = (ulong)s.FreeFiles;
            vfs.NameMax = (ulong)s.NameMax;
            LibFuse.ReplyStatfs(req, &vfs);
        }
    }

    /// <summary>getxattr/listxattr: the size probe, ERANGE and data rules of ext4 (fuse-binding notes 6).</summary>
    private readonly struct XattrSender : IReply<(byte[] Value, int Requested)>
    {
        public static void Send(nint req, in FsResult<(byte[] Value, int Requested)> result)
        {
            if (!result.IsOk)
            {
                LibFuse.ReplyErr(req, result.Errno);
                return;
            }

            byte[] value = result.Value.Value;
            switch (Xattrs.Decide(value.Length, result.Value.Requested))
            {
                case XattrReplyKind.SizeOnly:
                    LibFuse.ReplyXattr(req, (nuint)value.Length);
                    break;
                case XattrReplyKind.TooSmall:
                    LibFuse.ReplyErr(req, Errno.ERANGE);
                    break;
                default:
                    fixed (byte* p = value)
                    {
                        LibFuse.ReplyBuf(req, p, (nuint)value.Length);
                    }

                    break;
            }
        }
    }

    private static void Fill(ref EntryParam entry, in EntryReply reply)
    {
        entry.Ino = reply.Ino;
        entry.Generation = reply.Generation;
        Fill(ref entry.Attr, reply.Attributes);
        entry.AttrTimeout = reply.AttrTimeout;
        entry.EntryTimeout = reply.EntryTimeout;
    }

    private static FuseFileInfo FileInfoFor(in OpenReply open)
    {
        var fi = default(FuseFileInfo);
        fi.Fh = open.Handle;
        fi.Bits = (open.KeepCache ? FuseFileInfo.KeepCache : 0) | (open.BypassPageCache ? FuseFileInfo.DirectIo : 0);
        return fi;
    }

    internal static void Fill(ref Stat stat, in NodeAttributes a)
    {
        stat.Ino = a.Ino;
        stat.Mode = a.Mode;
        stat.Nlink = a.Nlink;
        stat.Uid = a.Uid;
        stat.Gid = a.Gid;
        stat.Size = a.Size;
        stat.BlockSize = 1024 * 1024;
        stat.Blocks = a.Blocks;
        stat.Rdev = a.Rdev;
        stat.Atime = Timespec.FromNanoseconds(a.AtimeNs);
        stat.Mtime = Timespec.FromNanoseconds(a.MtimeNs);
        stat.Ctime = Timespec.FromNanoseconds(a.CtimeNs);
    }

    /// <summary>
    /// Replies now when the operation finished synchronously, else once it completes, or EINTR first if the caller is
    /// interrupted meanwhile (the operation still runs to its end).
    /// </summary>
    private static void Complete<T, TSender>(nint req, ValueTask<FsResult<T>> pending, [CallerMemberName] string operation = "")
        where TSender : IReply<T>
    {
        if (pending.IsCompletedSuccessfully)
        {
            TSender.Send(req, pending.Result);
            return;
        }

        var mount = Current;
        Interlocked.Increment(ref mount._inFlight);
        _ = CompleteLaterAsync<T, TSender>(mount, RegisterInterruptible(req, operation, null), pending);
    }

    private static void CompleteErrno(nint req, ValueTask<int> pending, [CallerMemberName] string operation = "")
    {
        if (pending.IsCompletedSuccessfully)
        {
            LibFuse.ReplyErr(req, pending.Result);
            return;
        }

        var mount = Current;
        Interlocked.Increment(ref mount._inFlight);
        _ = CompleteErrnoLaterAsync(mount, RegisterInterruptible(req, operation, null), pending);
    }

    private static void ReplyErrno(nint req, int errno) => LibFuse.ReplyErr(req, errno);

    private static void Failed(nint req, string operation, Exception e)
    {
        FuseLog.CallbackFailed(Current._logger, operation, e);
        LibFuse.ReplyErr(req, Errno.EIO);
    }

    // ------------------------------------------------------------------ callbacks

    [UnmanagedCallersOnly]
    private static void OnInit(nint userdata, ConnInfo* conn)
    {
        // More asynchronous requests (read-ahead) in flight than the kernel's default 12: the backend is remote.
        conn->MaxBackground = 64;
        conn->CongestionThreshold = 48;

        // O_DIRECT reads and writes as plain requests the caller waits for interruptibly: with async DIO the kernel
        // sends them in the background and waits uninterruptibly, so even SIGKILL could not end a read of a dead storage.
        conn->Want &= ~CapAsyncDio;

        // Requests through a pipe, so write_buf can splice large writes on without copying them (splice_writes).
        // libfuse splices only when the whole request fits its pipe, and without CAP_SYS_RESOURCE a pipe holds at
        // most fs.pipe-max-size (1 MiB by default): a 1 MiB write plus its header would not. 512 KiB writes do.
        if (Current._fs.Options.SplicedWrites && (conn->Capable & CapSpliceRead) != 0)
        {
            conn->Want |= CapSpliceRead;
            conn->MaxWrite = Math.Min(conn->MaxWrite, SplicedMaxWrite);
        }

        NegotiateLocks(conn);
    }

    [UnmanagedCallersOnly]
    private static void OnLookup(nint req, ulong parent, byte* name)
    {
        try
        {
            Complete<EntryReply, EntrySender>(req, Fs.LookupAsync(parent, NameOf(name)));
        }
        catch (Exception e)
        {
            Failed(req, "lookup", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnForget(nint req, ulong ino, ulong count)
    {
        try
        {
            Fs.Forget(ino, count);
        }
        catch (Exception e)
        {
            FuseLog.CallbackFailed(Current._logger, "forget", e);
        }

        LibFuse.ReplyNone(req);
    }

    [UnmanagedCallersOnly]
    private static void OnForgetMulti(nint req, nuint count, ForgetData* forgets)
    {
        try
        {
            for (nuint i = 0; i < count; i++)
            {
                Fs.Forget(forgets[i].Ino, forgets[i].Nlookup);
            }
        }
        catch (Exception e)
        {
            FuseLog.CallbackFailed(Current._logger, "forget", e);
        }

        LibFuse.ReplyNone(req);
    }

    [UnmanagedCallersOnly]
    private static void OnGetAttr(nint req, ulong ino, FuseFileInfo* fi)
    {
        try
        {
            Complete<AttrReply, AttrSender>(req, Fs.GetAttrAsync(ino));
        }
        catch (Exception e)
        {
            Failed(req, "getattr", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnOpenDir(nint req, ulong ino, FuseFileInfo* fi)
    {
        try
        {
            Complete<ulong, OpenDirSender>(req, Fs.OpenDirAsync(ino));
        }
        catch (Exception e)
        {
            Failed(req, "opendir", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnReadDir(nint req, ulong ino, nuint size, long offset, FuseFileInfo* fi) => ReplyDirectory(req, size, offset, fi->Fh, plus: false);

    /// <summary>
    /// READDIRPLUS: names with their attributes, so ls -l of a large directory costs no lookup per entry. Every entry
    /// sent with a node counts one lookup (the kernel forgets it later); "." and ".." and entries without attributes
    /// go with node 0, which the kernel does not count.
    /// </summary>
    [UnmanagedCallersOnly]
    private static void OnReadDirPlus(nint req, ulong ino, nuint size, long offset, FuseFileInfo* fi) => ReplyDirectory(req, size, offset, fi->Fh, plus: true);

    /// <summary>Entries of the opendir snapshot from <paramref name="offset"/> on, as many as fit in <paramref name="size"/>.</summary>
    private static void ReplyDirectory(nint req, nuint size, long offset, ulong handle, bool plus)
    {
        try
        {
            var entries = Fs.DirectoryEntries(handle);
            if (entries is null)
            {
                LibFuse.ReplyErr(req, Errno.EBADF);
                return;
            }

            int capacity = (int)Math.Min(size, 1024 * 1024);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(capacity);
            byte[] name = ArrayPool<byte>.Shared.Rent(1024);
            List<ulong>? counted = plus ? [] : null;
            try
            {
                fixed (byte* b = buffer)
                fixed (byte* n = name)
                {
                    nuint used = 0;
                    for (long i = offset; i < entries.Count; i++)
                    {
                        var entry = entries[(int)i];
                        int length = FileNameCodec.Encode(entry.Name, name);
                        name[length] = 0;

                        // The offset given with an entry is where the next readdir resumes: the snapshot index.
                        nuint added = plus
                            ? AddEntryPlus(req, b + used, (nuint)capacity - used, n, handle, entry, (int)i, counted!)
                            : AddEntry(req, b + used, (nuint)capacity - used, n, entry, i + 1);
                        if (added == 0)
                        {
                            break;
                        }

                        used += added;
                    }

                    if (LibFuse.ReplyBuf(req, b, used) != 0 && counted is not null)
                    {
                        // The kernel dropped the request: it will never forget these lookups.
                        foreach (ulong ino in counted)
                        {
                            Fs.Forget(ino, 1);
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
                ArrayPool<byte>.Shared.Return(name);
            }
        }
        catch (Exception e)
        {
            Failed(req, plus ? "readdirplus" : "readdir", e);
        }
    }

    /// <summary>One readdir entry; 0 when it does not fit.</summary>
    private static nuint AddEntry(nint req, byte* destination, nuint room, byte* name, in DirEntry entry, long next)
    {
        var stat = default(Stat);
        stat.Ino = entry.Ino;
        stat.Mode = entry.TypeMode;
        nuint needed = LibFuse.AddDirEntry(req, destination, room, name, &stat, next);
        return needed > room ? 0 : needed;
    }

    /// <summary>One readdirplus entry, counting a lookup of its node only if it is sent; 0 when it does not fit.</summary>
    private static nuint AddEntryPlus(nint req, byte* destination, nuint room, byte* name, ulong handle, in DirEntry entry, int index, List<ulong> counted)
    {
        // Measure first (a zero-sized buffer is never written).
        var param = default(EntryParam);
        if (LibFuse.AddDirEntryPlus(req, null, 0, name, &param, index + 1) > room)
        {
            return 0;
        }

        if (Fs.TryDirectoryEntryPlus(handle, index, out var reply))
        {
            counted.Add(reply.Ino);
            Fill(ref param, reply);
        }
        else
        {
            param.Attr.Ino = entry.Ino;
            param.Attr.Mode = entry.TypeMode;
        }

        return LibFuse.AddDirEntryPlus(req, destination, room, name, &param, index + 1);
    }

    [UnmanagedCallersOnly]
    private static void OnReleaseDir(nint req, ulong ino, FuseFileInfo* fi)
    {
        Fs.ReleaseDir(fi->Fh);
        LibFuse.ReplyErr(req, 0);
    }

    [UnmanagedCallersOnly]
    private static void OnStatFs(nint req, ulong ino)
    {
        try
        {
            Complete<FsStats, StatFsSender>(req, Fs.StatFsAsync());
        }
        catch (Exception e)
        {
            Failed(req, "statfs", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnGetXattr(nint req, ulong ino, byte* name, nuint size)
    {
        try
        {
            if (TryXattrName(req, name, Errno.ENODATA, out string? text))
            {
                Complete<(byte[], int), XattrSender>(req, WithRequested(Fs.GetXattrAsync(ino, text), (int)Math.Min(size, int.MaxValue)));
            }
        }
        catch (Exception e)
        {
            Failed(req, "getxattr", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnListXattr(nint req, ulong ino, nuint size)
    {
        try
        {
            Complete<(byte[], int), XattrSender>(req, WithRequested(Fs.ListXattrAsync(ino), (int)Math.Min(size, int.MaxValue)));
        }
        catch (Exception e)
        {
            Failed(req, "listxattr", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnSetXattr(nint req, ulong ino, byte* name, byte* value, nuint size, int flags)
    {
        try
        {
            // The value points into the receive buffer, reused by the next request: copy it now.
            if (TryXattrName(req, name, Errno.EINVAL, out string? text))
            {
                byte[] copy = new ReadOnlySpan<byte>(value, (int)Math.Min(size, 64 * 1024)).ToArray();
                CompleteErrno(req, Fs.SetXattrAsync(ino, text, copy, flags));
            }
        }
        catch (Exception e)
        {
            Failed(req, "setxattr", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnRemoveXattr(nint req, ulong ino, byte* name)
    {
        try
        {
            if (TryXattrName(req, name, Errno.ENODATA, out string? text))
            {
                CompleteErrno(req, Fs.RemoveXattrAsync(ino, text));
            }
        }
        catch (Exception e)
        {
            Failed(req, "removexattr", e);
        }
    }
}
