using System.Runtime.InteropServices;

namespace FastDfs.Mount.Fuse;

/// <summary>
/// The ~25 libfuse3 low-level functions we call, resolved once. Debian 12 ships libfuse3.so.3, libfuse 3.17+
/// ships .so.4; symbols without a default version (fuse_session_new in 3.17.1) are found with dlvsym at FUSE_3.0.
/// </summary>
internal static unsafe class LibFuse
{
    private static readonly string[] LibraryNames = ["libfuse3.so.3", "libfuse3.so.4", "libfuse3.so"];
    private static nint s_handle;

    public static delegate* unmanaged<int> Version;
    public static delegate* unmanaged<FuseArgs*, byte*, int> OptAddArg;
    public static delegate* unmanaged<FuseArgs*, void> OptFreeArgs;
    public static delegate* unmanaged<FuseArgs*, nint, nuint, nint, nint> SessionNew;
    public static delegate* unmanaged<nint, byte*, int> SessionMount;
    public static delegate* unmanaged<nint, void> SessionUnmount;
    public static delegate* unmanaged<nint, void> SessionDestroy;
    public static delegate* unmanaged<nint, void> SessionExit;
    public static delegate* unmanaged<nint, int> SessionExited;
    public static delegate* unmanaged<nint, int> SessionFd;
    public static delegate* unmanaged<nint, FuseBuf*, int> SessionReceiveBuf;
    public static delegate* unmanaged<nint, FuseBuf*, void> SessionProcessBuf;
    public static delegate* unmanaged<nint, int, int> ReplyErr;
    public static delegate* unmanaged<nint, void> ReplyNone;
    public static delegate* unmanaged<nint, EntryParam*, int> ReplyEntry;
    public static delegate* unmanaged<nint, Stat*, double, int> ReplyAttr;
    public static delegate* unmanaged<nint, FuseFileInfo*, int> ReplyOpen;
    public static delegate* unmanaged<nint, byte*, nuint, int> ReplyBuf;
    public static delegate* unmanaged<nint, StatVfs*, int> ReplyStatfs;
    public static delegate* unmanaged<nint, nuint, int> ReplyXattr;
    public static delegate* unmanaged<nint, Flock*, int> ReplyLock;
    public static delegate* unmanaged<nint, byte*, nuint, byte*, Stat*, long, nuint> AddDirEntry;
    public static delegate* unmanaged<nint, byte*, nuint, byte*, EntryParam*, long, nuint> AddDirEntryPlus;
    public static delegate* unmanaged<nint, EntryParam*, FuseFileInfo*, int> ReplyCreate;
    public static delegate* unmanaged<nint, nuint, int> ReplyWrite;
    public static delegate* unmanaged<nint, byte*, int> ReplyReadLink;
    public static delegate* unmanaged<nint, FuseCtx*> RequestContext;
    public static delegate* unmanaged<nint, delegate* unmanaged<nint, nint, void>, nint, void> RequestInterruptFunc;

    public static bool IsLoaded => s_handle != 0;

    /// <summary>Loads libfuse3; throws <see cref="DllNotFoundException"/> with the names tried.</summary>
    public static void Load()
    {
        if (s_handle != 0)
        {
            return;
        }

        nint handle = 0;
        foreach (string name in LibraryNames)
        {
            if (NativeLibrary.TryLoad(name, out handle))
            {
                break;
            }
        }

        if (handle == 0)
        {
            throw new DllNotFoundException($"libfuse3 not found (tried {string.Join(", ", LibraryNames)}); install the libfuse3-3 package");
        }

        Version = (delegate* unmanaged<int>)Export(handle, "fuse_version");
        OptAddArg = (delegate* unmanaged<FuseArgs*, byte*, int>)Export(handle, "fuse_opt_add_arg");
        OptFreeArgs = (delegate* unmanaged<FuseArgs*, void>)Export(handle, "fuse_opt_free_args");
        SessionNew = (delegate* unmanaged<FuseArgs*, nint, nuint, nint, nint>)Export(handle, "fuse_session_new");
        SessionMount = (delegate* unmanaged<nint, byte*, int>)Export(handle, "fuse_session_mount");
        SessionUnmount = (delegate* unmanaged<nint, void>)Export(handle, "fuse_session_unmount");
        SessionDestroy = (delegate* unmanaged<nint, void>)Export(handle, "fuse_session_destroy");
        SessionExit = (delegate* unmanaged<nint, void>)Export(handle, "fuse_session_exit");
        SessionExited = (delegate* unmanaged<nint, int>)Export(handle, "fuse_session_exited");
        SessionFd = (delegate* unmanaged<nint, int>)Export(handle, "fuse_session_fd");
        SessionReceiveBuf = (delegate* unmanaged<nint, FuseBuf*, int>)Export(handle, "fuse_session_receive_buf");
        SessionProcessBuf = (delegate* unmanaged<nint, FuseBuf*, void>)Export(handle, "fuse_session_process_buf");
        ReplyErr = (delegate* unmanaged<nint, int, int>)Export(handle, "fuse_reply_err");
        ReplyNone = (delegate* unmanaged<nint, void>)Export(handle, "fuse_reply_none");
        ReplyEntry = (delegate* unmanaged<nint, EntryParam*, int>)Export(handle, "fuse_reply_entry");
        ReplyAttr = (delegate* unmanaged<nint, Stat*, double, int>)Export(handle, "fuse_reply_attr");
        ReplyOpen = (delegate* unmanaged<nint, FuseFileInfo*, int>)Export(handle, "fuse_reply_open");
        ReplyBuf = (delegate* unmanaged<nint, byte*, nuint, int>)Export(handle, "fuse_reply_buf");
        ReplyStatfs = (delegate* unmanaged<nint, StatVfs*, int>)Export(handle, "fuse_reply_statfs");
        ReplyXattr = (delegate* unmanaged<nint, nuint, int>)Export(handle, "fuse_reply_xattr");
        ReplyLock = (delegate* unmanaged<nint, Flock*, int>)Export(handle, "fuse_reply_lock");
        AddDirEntry = (delegate* unmanaged<nint, byte*, nuint, byte*, Stat*, long, nuint>)Export(handle, "fuse_add_direntry");
        AddDirEntryPlus = (delegate* unmanaged<nint, byte*, nuint, byte*, EntryParam*, long, nuint>)Export(handle, "fuse_add_direntry_plus");
        ReplyCreate = (delegate* unmanaged<nint, EntryParam*, FuseFileInfo*, int>)Export(handle, "fuse_reply_create");
        ReplyWrite = (delegate* unmanaged<nint, nuint, int>)Export(handle, "fuse_reply_write");
        ReplyReadLink = (delegate* unmanaged<nint, byte*, int>)Export(handle, "fuse_reply_readlink");
        RequestContext = (delegate* unmanaged<nint, FuseCtx*>)Export(handle, "fuse_req_ctx");
        RequestInterruptFunc = (delegate* unmanaged<nint, delegate* unmanaged<nint, nint, void>, nint, void>)Export(handle, "fuse_req_interrupt_func");
        s_handle = handle;
    }

    private static nint Export(nint handle, string name)
    {
        if (NativeLibrary.TryGetExport(handle, name, out nint address))
        {
            return address;
        }

        // dlsym only finds a symbol's default version; some releases export these only as name@FUSE_3.0.
        address = DlVSym(handle, name, "FUSE_3.0");
        return address != 0 ? address : throw new EntryPointNotFoundException($"libfuse3 has no {name}");
    }

    [DllImport("libc", EntryPoint = "dlvsym", CharSet = CharSet.Ansi, BestFitMapping = false)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint DlVSym(nint handle, string symbol, string version);
}
