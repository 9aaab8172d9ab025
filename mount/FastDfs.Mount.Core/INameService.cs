namespace FastDfs.Mount.Core;

/// <summary>
/// Where the mount gets user-given names and directories from. The directory service (src/FastDfs.Namespace,
/// served by trackers that have it) will implement this; against FastDFS's own daemons <see cref="NoNameService"/>
/// stands in, and the mount serves file-ID paths only. File-ID paths (<c>/group/Mxx/HH/HH/name</c>) never go
/// through this interface, so they work in both modes.
/// </summary>
public interface INameService
{
    /// <summary>False when the cluster has no directory service (compat mode).</summary>
    bool NamesAvailable { get; }

    /// <summary>Resolves a name in a group's named tree; <paramref name="parentDirectoryId"/> 0 is the group's root.</summary>
    ValueTask<FsResult<NamedNode>> LookupAsync(string group, long parentDirectoryId, string name, CancellationToken cancellationToken);

    /// <summary>Lists a directory of a group's named tree.</summary>
    ValueTask<FsResult<IReadOnlyList<NamedNode>>> ListAsync(string group, long directoryId, CancellationToken cancellationToken);
}

/// <summary>A named node: a directory (no content) or a file whose content is a FastDFS file.</summary>
public sealed record NamedNode(long Id, string Name, bool IsDirectory, string? ContentFileId, long Size, uint Mode, DateTimeOffset ModifiedTime);

/// <summary>Compat mode: there are no names, only file IDs.</summary>
public sealed class NoNameService : INameService
{
    public static NoNameService Instance { get; } = new();

    public bool NamesAvailable => false;

    public ValueTask<FsResult<NamedNode>> LookupAsync(string group, long parentDirectoryId, string name, CancellationToken cancellationToken) =>
        ValueTask.FromResult(FsResult<NamedNode>.Fail(Errno.ENOENT));

    public ValueTask<FsResult<IReadOnlyList<NamedNode>>> ListAsync(string group, long directoryId, CancellationToken cancellationToken) =>
        ValueTask.FromResult<FsResult<IReadOnlyList<NamedNode>>>(Array.Empty<NamedNode>());
}
