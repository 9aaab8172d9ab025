using FastDfs.Client;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Mount.Core;

/// <summary>
/// Where the mount gets user-given names from: the directory service our trackers serve (<see cref="TrackerNameService"/>).
/// Against FastDFS's own daemons <see cref="NoNameService"/> stands in and the mount serves file-ID paths only.
/// File-ID paths (<c>/group/Mxx/HH/HH/name</c>) never go through this interface, so they work in both modes.
/// Every call answers an errno (ext4's for refusals, EIO when no tracker answers, EINTR when the caller of its
/// <see cref="OperationDeadline"/> gave up) instead of throwing.
/// Inodes are the directory service's; a group's tree starts at <see cref="RootAsync"/>.
/// </summary>
public interface INameService
{
    /// <summary>False when the cluster has no directory service (compat mode).</summary>
    bool NamesAvailable { get; }

    ValueTask<FsResult<NsAttributes>> RootAsync(string group, OperationDeadline deadline);

    ValueTask<FsResult<NsAttributes>> LookupAsync(long parent, string name, OperationDeadline deadline);

    ValueTask<FsResult<NsAttributes>> GetAttrAsync(long inode, OperationDeadline deadline);

    /// <summary>Entries after <paramref name="cookie"/> (0 = from the start) with their attributes.</summary>
    ValueTask<FsResult<NamespacePage<NsDirEntryPlus>>> ReadDirPlusAsync(long inode, long cookie, int maxEntries, OperationDeadline deadline);

    /// <summary>Names only, after <paramref name="cookie"/> (0 = from the start); by default the names of <see cref="ReadDirPlusAsync"/>.</summary>
    async ValueTask<FsResult<NamespacePage<NsDirEntry>>> ReadDirAsync(long inode, long cookie, int maxEntries, OperationDeadline deadline)
    {
        var page = await ReadDirPlusAsync(inode, cookie, maxEntries, deadline);
        return page.IsOk
            ? new NamespacePage<NsDirEntry>([.. page.Value.Entries.Select(e => new NsDirEntry(e.Cookie, e.Attributes.Inode, e.Attributes.Mode, e.Name))], page.Value.Eof)
            : FsResult<NamespacePage<NsDirEntry>>.Fail(page.Errno);
    }

    ValueTask<FsResult<NsAttributes>> MkDirAsync(long parent, string name, uint mode, uint uid, uint gid, OperationDeadline deadline);

    /// <summary>A new regular file (or FIFO/socket when <paramref name="mode"/> says so), optionally with content.</summary>
    ValueTask<FsResult<NsAttributes>> CreateAsync(
        long parent, string name, uint mode, uint uid, uint gid, string? fileId, long size, OperationDeadline deadline);

    /// <summary>mknod(2) of any type but a directory or symlink; <paramref name="rdev"/> is kept for character and block devices.</summary>
    ValueTask<FsResult<NsAttributes>> MkNodAsync(long parent, string name, uint mode, uint rdev, uint uid, uint gid, OperationDeadline deadline);

    /// <summary>Binds new content to a regular file; the previous content, if no longer named, goes to the collector.</summary>
    ValueTask<FsResult<NsAttributes>> SetContentAsync(long inode, string fileId, long size, long mtimeNs, OperationDeadline deadline);

    ValueTask<FsResult<NsAttributes>> SymlinkAsync(long parent, string name, string target, uint uid, uint gid, OperationDeadline deadline);

    ValueTask<FsResult<string>> ReadLinkAsync(long inode, OperationDeadline deadline);

    ValueTask<FsResult<NsAttributes>> LinkAsync(long inode, long newParent, string newName, OperationDeadline deadline);

    ValueTask<int> UnlinkAsync(long parent, string name, OperationDeadline deadline);

    ValueTask<int> RmDirAsync(long parent, string name, OperationDeadline deadline);

    ValueTask<int> RenameAsync(long parent, string name, long newParent, string newName, NamespaceRenameFlags flags, OperationDeadline deadline);

    ValueTask<FsResult<NsAttributes>> SetAttrAsync(SetAttrRequest request, OperationDeadline deadline);

    ValueTask<int> SetXattrAsync(long inode, string name, ReadOnlyMemory<byte> value, NamespaceXattrFlags flags, OperationDeadline deadline);

    ValueTask<FsResult<byte[]>> GetXattrAsync(long inode, string name, OperationDeadline deadline);

    ValueTask<FsResult<IReadOnlyList<string>>> ListXattrAsync(long inode, OperationDeadline deadline);

    ValueTask<int> RemoveXattrAsync(long inode, string name, OperationDeadline deadline);

    /// <summary>
    /// Records an uploaded file ID not yet bound to a name: unless bound or forgotten within <paramref name="lease"/>,
    /// the collector deletes it (what a mount that crashed between upload and commit leaves).
    /// </summary>
    ValueTask<int> RegisterPendingAsync(string fileId, TimeSpan lease, OperationDeadline deadline);

    ValueTask<int> ForgetPendingAsync(string fileId, OperationDeadline deadline);

    /// <summary>What a group's tree holds (directories, files, symlinks): statfs's file counts.</summary>
    ValueTask<FsResult<NsStatFs>> StatFsAsync(string group, OperationDeadline deadline);
}

/// <summary>Compat mode: there are no names, only file IDs. Every name operation is refused.</summary>
public sealed class NoNameService : INameService
{
    public static NoNameService Instance { get; } = new();

    public bool NamesAvailable => false;

    private static ValueTask<FsResult<T>> Refused<T>(int errno = Errno.EROFS) => ValueTask.FromResult(FsResult<T>.Fail(errno));

    public ValueTask<FsResult<NsAttributes>> RootAsync(string group, OperationDeadline deadline) => Refused<NsAttributes>(Errno.ENOENT);

    public ValueTask<FsResult<NsAttributes>> LookupAsync(long parent, string name, OperationDeadline deadline) => Refused<NsAttributes>(Errno.ENOENT);

    public ValueTask<FsResult<NsAttributes>> GetAttrAsync(long inode, OperationDeadline deadline) => Refused<NsAttributes>(Errno.ENOENT);

    public ValueTask<FsResult<NamespacePage<NsDirEntryPlus>>> ReadDirPlusAsync(long inode, long cookie, int maxEntries, OperationDeadline deadline) =>
        Refused<NamespacePage<NsDirEntryPlus>>(Errno.ENOENT);

    public ValueTask<FsResult<NsAttributes>> MkDirAsync(long parent, string name, uint mode, uint uid, uint gid, OperationDeadline deadline) =>
        Refused<NsAttributes>();

    public ValueTask<FsResult<NsAttributes>> CreateAsync(
        long parent, string name, uint mode, uint uid, uint gid, string? fileId, long size, OperationDeadline deadline) => Refused<NsAttributes>();

    public ValueTask<FsResult<NsAttributes>> MkNodAsync(long parent, string name, uint mode, uint rdev, uint uid, uint gid, OperationDeadline deadline) =>
        Refused<NsAttributes>();

    public ValueTask<FsResult<NsAttributes>> SetContentAsync(long inode, string fileId, long size, long mtimeNs, OperationDeadline deadline) =>
        Refused<NsAttributes>();

    public ValueTask<FsResult<NsAttributes>> SymlinkAsync(long parent, string name, string target, uint uid, uint gid, OperationDeadline deadline) =>
        Refused<NsAttributes>();

    public ValueTask<FsResult<string>> ReadLinkAsync(long inode, OperationDeadline deadline) => Refused<string>(Errno.ENOENT);

    public ValueTask<FsResult<NsAttributes>> LinkAsync(long inode, long newParent, string newName, OperationDeadline deadline) =>
        Refused<NsAttributes>();

    public ValueTask<int> UnlinkAsync(long parent, string name, OperationDeadline deadline) => ValueTask.FromResult(Errno.EROFS);

    public ValueTask<int> RmDirAsync(long parent, string name, OperationDeadline deadline) => ValueTask.FromResult(Errno.EROFS);

    public ValueTask<int> RenameAsync(long parent, string name, long newParent, string newName, NamespaceRenameFlags flags, OperationDeadline deadline) =>
        ValueTask.FromResult(Errno.EROFS);

    public ValueTask<FsResult<NsAttributes>> SetAttrAsync(SetAttrRequest request, OperationDeadline deadline) => Refused<NsAttributes>();

    public ValueTask<int> SetXattrAsync(long inode, string name, ReadOnlyMemory<byte> value, NamespaceXattrFlags flags, OperationDeadline deadline) =>
        ValueTask.FromResult(Errno.EROFS);

    public ValueTask<FsResult<byte[]>> GetXattrAsync(long inode, string name, OperationDeadline deadline) => Refused<byte[]>(Errno.ENODATA);

    public ValueTask<FsResult<IReadOnlyList<string>>> ListXattrAsync(long inode, OperationDeadline deadline) =>
        ValueTask.FromResult(FsResult<IReadOnlyList<string>>.Ok(Array.Empty<string>()));

    public ValueTask<int> RemoveXattrAsync(long inode, string name, OperationDeadline deadline) => ValueTask.FromResult(Errno.EROFS);

    public ValueTask<int> RegisterPendingAsync(string fileId, TimeSpan lease, OperationDeadline deadline) => ValueTask.FromResult(Errno.EROFS);

    public ValueTask<int> ForgetPendingAsync(string fileId, OperationDeadline deadline) => ValueTask.FromResult(0);

    public ValueTask<FsResult<NsStatFs>> StatFsAsync(string group, OperationDeadline deadline) => Refused<NsStatFs>(Errno.ENOSYS);
}
