using FastDfs.Client;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace FastDfs.Mount.Core;

/// <summary>
/// The directory service of our trackers through <see cref="NamespaceClient"/>. A refusal carries ext4's errno and is
/// passed on as is; a tracker that cannot be reached, or no answer before the deadline, becomes EIO; a call its caller
/// gave up on (an interrupt) becomes EINTR.
/// </summary>
public sealed class TrackerNameService(NamespaceClient client, ILogger logger) : INameService
{
    public bool NamesAvailable => true;

    public ValueTask<FsResult<NsAttributes>> RootAsync(string group, OperationDeadline deadline) =>
        Call("root", group, () => client.GetRootAsync(group, deadline.Token), deadline);

    public ValueTask<FsResult<NsAttributes>> LookupAsync(long parent, string name, OperationDeadline deadline) =>
        Call("lookup", name, () => client.LookupAsync(parent, name, deadline.Token), deadline, quietErrno: Errno.ENOENT);

    public ValueTask<FsResult<NsAttributes>> GetAttrAsync(long inode, OperationDeadline deadline) =>
        Call("getattr", Target(inode), () => client.GetAttrAsync(inode, deadline.Token), deadline, quietErrno: Errno.ENOENT);

    public ValueTask<FsResult<NamespacePage<NsDirEntryPlus>>> ReadDirPlusAsync(long inode, long cookie, int maxEntries, OperationDeadline deadline) =>
        Call("readdir", Target(inode), () => client.ReadDirPlusAsync(inode, cookie, maxEntries, deadline.Token), deadline);

    public ValueTask<FsResult<NamespacePage<NsDirEntry>>> ReadDirAsync(long inode, long cookie, int maxEntries, OperationDeadline deadline) =>
        Call("readdir", Target(inode), () => client.ReadDirAsync(inode, cookie, maxEntries, deadline.Token), deadline);

    public ValueTask<FsResult<NsAttributes>> MkDirAsync(long parent, string name, uint mode, uint uid, uint gid, OperationDeadline deadline) =>
        Call("mkdir", name, () => client.MkDirAsync(parent, name, mode, uid, gid, deadline.Token), deadline);

    public ValueTask<FsResult<NsAttributes>> CreateAsync(
        long parent, string name, uint mode, uint uid, uint gid, string? fileId, long size, OperationDeadline deadline) =>
        Call("create", name, () => client.CreateAsync(parent, name, mode, uid, gid, fileId, size, deadline.Token), deadline);

    public ValueTask<FsResult<NsAttributes>> MkNodAsync(long parent, string name, uint mode, uint rdev, uint uid, uint gid, OperationDeadline deadline) =>
        Call("mknod", name, () => client.MkNodAsync(parent, name, mode, rdev, uid, gid, deadline.Token), deadline);

    public ValueTask<FsResult<NsAttributes>> SetContentAsync(long inode, string fileId, long size, long mtimeNs, OperationDeadline deadline) =>
        Call("set content", fileId, () => client.SetContentAsync(inode, fileId, size, mtimeNs, deadline.Token), deadline);

    public ValueTask<FsResult<NsAttributes>> SymlinkAsync(long parent, string name, string target, uint uid, uint gid, OperationDeadline deadline) =>
        Call("symlink", name, () => client.SymlinkAsync(parent, name, target, uid, gid, deadline.Token), deadline);

    public ValueTask<FsResult<string>> ReadLinkAsync(long inode, OperationDeadline deadline) =>
        Call("readlink", Target(inode), () => client.ReadLinkAsync(inode, deadline.Token), deadline);

    public ValueTask<FsResult<NsAttributes>> LinkAsync(long inode, long newParent, string newName, OperationDeadline deadline) =>
        Call("link", newName, () => client.LinkAsync(inode, newParent, newName, deadline.Token), deadline);

    public ValueTask<int> UnlinkAsync(long parent, string name, OperationDeadline deadline) =>
        Call("unlink", name, () => client.UnlinkAsync(parent, name, deadline.Token), deadline);

    public ValueTask<int> RmDirAsync(long parent, string name, OperationDeadline deadline) =>
        Call("rmdir", name, () => client.RmDirAsync(parent, name, deadline.Token), deadline);

    public ValueTask<int> RenameAsync(long parent, string name, long newParent, string newName, NamespaceRenameFlags flags, OperationDeadline deadline) =>
        Call("rename", name, () => client.RenameAsync(parent, name, newParent, newName, flags, deadline.Token), deadline);

    public ValueTask<FsResult<NsAttributes>> SetAttrAsync(SetAttrRequest request, OperationDeadline deadline) =>
        Call("setattr", Target(request.Inode), () => client.SetAttrAsync(request, deadline.Token), deadline);

    public ValueTask<int> SetXattrAsync(long inode, string name, ReadOnlyMemory<byte> value, NamespaceXattrFlags flags, OperationDeadline deadline) =>
        Call("setxattr", name, () => client.SetXattrAsync(inode, name, value, flags, deadline.Token), deadline);

    public ValueTask<FsResult<byte[]>> GetXattrAsync(long inode, string name, OperationDeadline deadline) =>
        Call("getxattr", name, () => client.GetXattrAsync(inode, name, deadline.Token), deadline, quietErrno: Errno.ENODATA);

    public ValueTask<FsResult<IReadOnlyList<string>>> ListXattrAsync(long inode, OperationDeadline deadline) =>
        Call("listxattr", Target(inode), () => client.ListXattrAsync(inode, deadline.Token), deadline);

    public ValueTask<int> RemoveXattrAsync(long inode, string name, OperationDeadline deadline) =>
        Call("removexattr", name, () => client.RemoveXattrAsync(inode, name, deadline.Token), deadline);

    public ValueTask<int> RegisterPendingAsync(string fileId, TimeSpan lease, OperationDeadline deadline) =>
        Call("register pending", fileId, () => client.RegisterPendingAsync(fileId, lease, deadline.Token), deadline);

    public ValueTask<int> ForgetPendingAsync(string fileId, OperationDeadline deadline) =>
        Call("forget pending", fileId, () => client.ForgetPendingAsync(fileId, deadline.Token), deadline);

    public ValueTask<FsResult<NsStatFs>> StatFsAsync(string group, OperationDeadline deadline) =>
        Call("statfs", group, () => client.StatFsAsync(group, deadline.Token), deadline);

    private static string Target(long inode) => "inode " + inode.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private async ValueTask<FsResult<T>> Call<T>(string operation, string target, Func<Task<T>> call, OperationDeadline deadline, int quietErrno = 0)
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (e is FdfsException or OperationCanceledException or IOException)
        {
            return FsResult<T>.Fail(ToErrno(operation, target, e, quietErrno, deadline));
        }
    }

    private async ValueTask<int> Call(string operation, string target, Func<Task> call, OperationDeadline deadline)
    {
        try
        {
            await call();
            return 0;
        }
        catch (Exception e) when (e is FdfsException or OperationCanceledException or IOException)
        {
            return ToErrno(operation, target, e, 0, deadline);
        }
    }

    private int ToErrno(string operation, string target, Exception e, int quietErrno, OperationDeadline deadline)
    {
        if (e is FdfsNamespaceException refused)
        {
            // An answer of the file system (ENOENT, EEXIST, ENOTEMPTY, ...): what the caller returns, not a failure.
            if (refused.Errno != quietErrno)
            {
                MountLog.NameOperationRefused(logger, operation, target, refused.Message);
            }

            return refused.Errno;
        }

        int cancelled = deadline.CancelledErrno(e, logger, operation, target);
        if (cancelled != 0)
        {
            return cancelled;
        }

        MountLog.OperationFailed(logger, operation, target, e.Message);
        return Errno.EIO;
    }
}
