using FastDfs.Client;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace FastDfs.Mount.Core;

/// <summary>
/// The directory service of our trackers through <see cref="NamespaceClient"/>. A refusal carries ext4's errno and is
/// passed on as is; a tracker that cannot be reached, or no answer within the caller's deadline, becomes EIO.
/// </summary>
public sealed class TrackerNameService(NamespaceClient client, TimeSpan operationTimeout, ILogger logger) : INameService
{
    public bool NamesAvailable => true;

    public ValueTask<FsResult<NsAttributes>> RootAsync(string group, CancellationToken cancellationToken) =>
        Call("root", group, () => client.GetRootAsync(group, cancellationToken), cancellationToken);

    public ValueTask<FsResult<NsAttributes>> LookupAsync(long parent, string name, CancellationToken cancellationToken) =>
        Call("lookup", name, () => client.LookupAsync(parent, name, cancellationToken), cancellationToken, quietErrno: Errno.ENOENT);

    public ValueTask<FsResult<NsAttributes>> GetAttrAsync(long inode, CancellationToken cancellationToken) =>
        Call("getattr", Target(inode), () => client.GetAttrAsync(inode, cancellationToken), cancellationToken, quietErrno: Errno.ENOENT);

    public ValueTask<FsResult<NamespacePage<NsDirEntryPlus>>> ReadDirPlusAsync(long inode, long cookie, int maxEntries, CancellationToken cancellationToken) =>
        Call("readdir", Target(inode), () => client.ReadDirPlusAsync(inode, cookie, maxEntries, cancellationToken), cancellationToken);

    public ValueTask<FsResult<NamespacePage<NsDirEntry>>> ReadDirAsync(long inode, long cookie, int maxEntries, CancellationToken cancellationToken) =>
        Call("readdir", Target(inode), () => client.ReadDirAsync(inode, cookie, maxEntries, cancellationToken), cancellationToken);

    public ValueTask<FsResult<NsAttributes>> MkDirAsync(long parent, string name, uint mode, uint uid, uint gid, CancellationToken cancellationToken) =>
        Call("mkdir", name, () => client.MkDirAsync(parent, name, mode, uid, gid, cancellationToken), cancellationToken);

    public ValueTask<FsResult<NsAttributes>> CreateAsync(
        long parent, string name, uint mode, uint uid, uint gid, string? fileId, long size, CancellationToken cancellationToken) =>
        Call("create", name, () => client.CreateAsync(parent, name, mode, uid, gid, fileId, size, cancellationToken), cancellationToken);

    public ValueTask<FsResult<NsAttributes>> MkNodAsync(long parent, string name, uint mode, uint rdev, uint uid, uint gid, CancellationToken cancellationToken) =>
        Call("mknod", name, () => client.MkNodAsync(parent, name, mode, rdev, uid, gid, cancellationToken), cancellationToken);

    public ValueTask<FsResult<NsAttributes>> SetContentAsync(long inode, string fileId, long size, long mtimeNs, CancellationToken cancellationToken) =>
        Call("set content", fileId, () => client.SetContentAsync(inode, fileId, size, mtimeNs, cancellationToken), cancellationToken);

    public ValueTask<FsResult<NsAttributes>> SymlinkAsync(long parent, string name, string target, uint uid, uint gid, CancellationToken cancellationToken) =>
        Call("symlink", name, () => client.SymlinkAsync(parent, name, target, uid, gid, cancellationToken), cancellationToken);

    public ValueTask<FsResult<string>> ReadLinkAsync(long inode, CancellationToken cancellationToken) =>
        Call("readlink", Target(inode), () => client.ReadLinkAsync(inode, cancellationToken), cancellationToken);

    public ValueTask<FsResult<NsAttributes>> LinkAsync(long inode, long newParent, string newName, CancellationToken cancellationToken) =>
        Call("link", newName, () => client.LinkAsync(inode, newParent, newName, cancellationToken), cancellationToken);

    public ValueTask<int> UnlinkAsync(long parent, string name, CancellationToken cancellationToken) =>
        Call("unlink", name, () => client.UnlinkAsync(parent, name, cancellationToken), cancellationToken);

    public ValueTask<int> RmDirAsync(long parent, string name, CancellationToken cancellationToken) =>
        Call("rmdir", name, () => client.RmDirAsync(parent, name, cancellationToken), cancellationToken);

    public ValueTask<int> RenameAsync(long parent, string name, long newParent, string newName, NamespaceRenameFlags flags, CancellationToken cancellationToken) =>
        Call("rename", name, () => client.RenameAsync(parent, name, newParent, newName, flags, cancellationToken), cancellationToken);

    public ValueTask<FsResult<NsAttributes>> SetAttrAsync(SetAttrRequest request, CancellationToken cancellationToken) =>
        Call("setattr", Target(request.Inode), () => client.SetAttrAsync(request, cancellationToken), cancellationToken);

    public ValueTask<int> SetXattrAsync(long inode, string name, ReadOnlyMemory<byte> value, NamespaceXattrFlags flags, CancellationToken cancellationToken) =>
        Call("setxattr", name, () => client.SetXattrAsync(inode, name, value, flags, cancellationToken), cancellationToken);

    public ValueTask<FsResult<byte[]>> GetXattrAsync(long inode, string name, CancellationToken cancellationToken) =>
        Call("getxattr", name, () => client.GetXattrAsync(inode, name, cancellationToken), cancellationToken, quietErrno: Errno.ENODATA);

    public ValueTask<FsResult<IReadOnlyList<string>>> ListXattrAsync(long inode, CancellationToken cancellationToken) =>
        Call("listxattr", Target(inode), () => client.ListXattrAsync(inode, cancellationToken), cancellationToken);

    public ValueTask<int> RemoveXattrAsync(long inode, string name, CancellationToken cancellationToken) =>
        Call("removexattr", name, () => client.RemoveXattrAsync(inode, name, cancellationToken), cancellationToken);

    public ValueTask<int> RegisterPendingAsync(string fileId, TimeSpan lease, CancellationToken cancellationToken) =>
        Call("register pending", fileId, () => client.RegisterPendingAsync(fileId, lease, cancellationToken), cancellationToken);

    public ValueTask<int> ForgetPendingAsync(string fileId, CancellationToken cancellationToken) =>
        Call("forget pending", fileId, () => client.ForgetPendingAsync(fileId, cancellationToken), cancellationToken);

    public ValueTask<FsResult<NsStatFs>> StatFsAsync(string group, CancellationToken cancellationToken) =>
        Call("statfs", group, () => client.StatFsAsync(group, cancellationToken), cancellationToken);

    private static string Target(long inode) => "inode " + inode.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private async ValueTask<FsResult<T>> Call<T>(string operation, string target, Func<Task<T>> call, CancellationToken cancellationToken, int quietErrno = 0)
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (e is FdfsException or OperationCanceledException or IOException)
        {
            return FsResult<T>.Fail(ToErrno(operation, target, e, quietErrno, cancellationToken));
        }
    }

    private async ValueTask<int> Call(string operation, string target, Func<Task> call, CancellationToken cancellationToken)
    {
        try
        {
            await call();
            return 0;
        }
        catch (Exception e) when (e is FdfsException or OperationCanceledException or IOException)
        {
            return ToErrno(operation, target, e, 0, cancellationToken);
        }
    }

    private int ToErrno(string operation, string target, Exception e, int quietErrno, CancellationToken cancellationToken)
    {
        switch (e)
        {
            case FdfsNamespaceException refused:
                // An answer of the file system (ENOENT, EEXIST, ENOTEMPTY, ...): what the caller returns, not a failure.
                if (refused.Errno != quietErrno)
                {
                    MountLog.NameOperationRefused(logger, operation, target, refused.Message);
                }

                return refused.Errno;
            case OperationCanceledException when cancellationToken.IsCancellationRequested:
                MountLog.OperationTimedOut(logger, operation, target, operationTimeout.TotalSeconds);
                return Errno.EIO;
            default:
                MountLog.OperationFailed(logger, operation, target, e.Message);
                return Errno.EIO;
        }
    }
}
