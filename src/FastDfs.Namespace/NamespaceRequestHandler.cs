using System.Buffers;
using System.Buffers.Binary;
using System.Data.Common;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastDfs.Namespace;

/// <summary>
/// Serves the directory-service commands (<see cref="NamespaceCommand"/>) from an <see cref="INamespaceStore"/>.
/// Request and response buffers are rented per request. A refused request gets its errno with an empty body and
/// the connection stays open, as on the tracker.
/// </summary>
public sealed class NamespaceRequestHandler : IFdfsRequestHandler
{
    /// <summary>Largest request accepted (an xattr value of 64 KiB plus its name fits easily).</summary>
    public const int MaxRequestSize = 256 * 1024;

    /// <summary>Entries per READ_DIR page at most (about 290 bytes each at worst: pages stay well under 1 MiB).</summary>
    public const int MaxDirEntries = 2048;

    /// <summary>Entries per READ_DIR_PLUS page at most (about 600 bytes each at worst).</summary>
    public const int MaxDirPlusEntries = 1024;

    /// <summary>Longest lock-session lease a mount may ask for.</summary>
    public const int MaxLockLeaseSeconds = 86400;

    private readonly INamespaceStore _store;
    private readonly ILogger _logger;

    public NamespaceRequestHandler(INamespaceStore store, ILogger? logger = null)
    {
        _store = store;
        _logger = logger ?? NullLogger.Instance;
    }

    public INamespaceStore Store => _store;

    public async ValueTask<bool> HandleAsync(FdfsConnection connection, PacketHeader header, ConnectionContext context, CancellationToken cancellationToken)
    {
        var command = (NamespaceCommand)header.Command;
        if (!NamespaceCommands.IsNamespace(header.Command) || header.BodyLength > MaxRequestSize)
        {
            await connection.SkipAsync(header.BodyLength, cancellationToken);
            await connection.SendErrorAsync(FdfsErrno.EINVAL, cancellationToken);
            return true;
        }

        int length = (int)header.BodyLength;
        byte[] request = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        try
        {
            await connection.ReadExactlyAsync(request.AsMemory(0, length), cancellationToken);

            // SQLite calls block: get off the socket's I/O thread (the tracker completes sockets inline) except for
            // the cheap, frequent point reads and the one small write a new file's close makes (CREATE with its file
            // ID, SET_CONTENT): a thread hop costs them about a fifth of the tracker's CPU, and their commit only
            // appends to the WAL (the store checkpoints on the thread pool, never on the committing thread).
            if (_store.IsBlocking && command is not (NamespaceCommand.Lookup or NamespaceCommand.GetAttr or NamespaceCommand.Create or NamespaceCommand.SetContent))
            {
                await Task.Yield();
            }

            Response response;
            try
            {
                response = await DispatchAsync(command, request.AsMemory(0, length), cancellationToken);
            }
            catch (NamespaceException e)
            {
                return await RefuseAsync(connection, command, e.Errno, e.Message, cancellationToken);
            }
            catch (FdfsProtocolException e)
            {
                return await RefuseAsync(connection, command, FdfsErrno.EINVAL, e.Message, cancellationToken);
            }
            catch (Exception e) when (e is DbException or InvalidOperationException or TimeoutException or IOException)
            {
                // The store failed (database down, broken connection): the client gets EIO, the tracker keeps running.
                NamespaceLog.StoreFailed(_logger, command.ToString(), e);
                return await RefuseAsync(connection, command, FdfsErrno.EIO, e.Message, cancellationToken);
            }

            if (response.Refusal != 0)
            {
                return await RefuseAsync(connection, command, response.Refusal, response.Reason!, cancellationToken);
            }

            try
            {
                await connection.SendAsync(response.Packet.AsMemory(0, FdfsConstants.HeaderSize + response.BodyLength), cancellationToken);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(response.Packet);
            }

            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(request);
        }
    }

    private async ValueTask<bool> RefuseAsync(FdfsConnection connection, NamespaceCommand command, byte errno, string reason, CancellationToken cancellationToken)
    {
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            NamespaceLog.Refused(_logger, command.ToString(), connection.RemoteEndPoint, NamespaceErrno.Name(errno), reason);
        }

        await connection.SendErrorAsync(errno, cancellationToken);
        return true;
    }

    /// <summary>
    /// A response packet (header included) in a rented buffer, or a refusal answered with an errno alone: the store's
    /// refusals that are answers rather than errors (a lock held by another owner) come back this way, not thrown.
    /// </summary>
    private readonly record struct Response(byte[] Packet, int BodyLength, byte Refusal = 0, string? Reason = null)
    {
        public static Response Refused(byte errno, string reason) => new([], 0, errno, reason);

        public static Response Rent(int maxBody) => new(ArrayPool<byte>.Shared.Rent(FdfsConstants.HeaderSize + maxBody), 0);

        public Span<byte> Body => Packet.AsSpan(FdfsConstants.HeaderSize);

        public Response Complete(int bodyLength)
        {
            PacketHeader.Response(bodyLength).Write(Packet);
            return this with { BodyLength = bodyLength };
        }

        public static Response Empty() => Rent(0).Complete(0);

        public static Response Of(in NsAttributes attributes)
        {
            var r = Rent(attributes.WireSize);
            return r.Complete(attributes.Write(r.Body));
        }

        public static Response Of(ReadOnlySpan<byte> bytes)
        {
            var r = Rent(bytes.Length);
            bytes.CopyTo(r.Body);
            return r.Complete(bytes.Length);
        }
    }

    private static byte[] Copy(ReadOnlySpan<byte> bytes) => bytes.ToArray();

    private static string? Text(ReadOnlySpan<byte> bytes) => bytes.IsEmpty ? null : Encoding.UTF8.GetString(bytes);

    private async ValueTask<Response> DispatchAsync(NamespaceCommand command, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        var s = _store;
        switch (command)
        {
            case NamespaceCommand.Root:
                return Response.Of(await s.RootAsync(NamespaceMessages.ReadGroup(body.Span), ct));
            case NamespaceCommand.Lookup:
                {
                    long parent = NamespaceMessages.ReadInodeName(body.Span, out var name);
                    return Response.Of(await s.LookupAsync(parent, Copy(name), ct));
                }

            case NamespaceCommand.GetAttr:
                return Response.Of(await s.GetAttrAsync(NamespaceMessages.ReadInode(body.Span), ct));
            case NamespaceCommand.ReadDir:
            case NamespaceCommand.ReadDirPlus:
                return await ReadDirAsync(body, command == NamespaceCommand.ReadDirPlus, ct);
            case NamespaceCommand.MkDir:
            case NamespaceCommand.Create:
                {
                    var r = NamespaceMessages.ReadCreate(body.Span);
                    byte[] name = Copy(r.Name);
                    if (command == NamespaceCommand.MkDir)
                    {
                        return Response.Of(await s.MkDirAsync(r.Parent, name, r.Mode, r.Uid, r.Gid, ct));
                    }

                    return Response.Of(await s.CreateAsync(r.Parent, name, r.Mode, r.Uid, r.Gid, Text(r.FileId), r.Size, r.Rdev, ct));
                }

            case NamespaceCommand.SetContent:
                {
                    long inode = NamespaceMessages.ReadSetContent(body.Span, out long size, out long mtime, out var fileId);
                    return Response.Of(await s.SetContentAsync(inode, Text(fileId) ?? "", size, mtime, ct));
                }

            case NamespaceCommand.Symlink:
                {
                    long parent = NamespaceMessages.ReadSymlink(body.Span, out uint uid, out uint gid, out var name, out var target);
                    return Response.Of(await s.SymlinkAsync(parent, Copy(name), Copy(target), uid, gid, ct));
                }

            case NamespaceCommand.ReadLink:
                return Response.Of(await s.ReadLinkAsync(NamespaceMessages.ReadInode(body.Span), ct));
            case NamespaceCommand.Link:
                {
                    long inode = NamespaceMessages.ReadLink(body.Span, out long newParent, out var newName);
                    return Response.Of(await s.LinkAsync(inode, newParent, Copy(newName), ct));
                }

            case NamespaceCommand.Unlink:
            case NamespaceCommand.RmDir:
                {
                    long parent = NamespaceMessages.ReadInodeName(body.Span, out var name);
                    if (command == NamespaceCommand.Unlink)
                    {
                        await s.UnlinkAsync(parent, Copy(name), ct);
                    }
                    else
                    {
                        await s.RmDirAsync(parent, Copy(name), ct);
                    }

                    return Response.Empty();
                }

            case NamespaceCommand.Rename:
                {
                    var r = NamespaceMessages.ReadRename(body.Span);
                    await s.RenameAsync(r.Parent, Copy(r.Name), r.NewParent, Copy(r.NewName), r.Flags, ct);
                    return Response.Empty();
                }

            case NamespaceCommand.SetAttr:
                return Response.Of(await s.SetAttrAsync(NamespaceMessages.ReadSetAttr(body.Span), ct));
            case NamespaceCommand.SetXattr:
                {
                    long inode = NamespaceMessages.ReadSetXattr(body.Span, out var flags, out var name, out var value);
                    await s.SetXattrAsync(inode, Copy(name), Copy(value), flags, ct);
                    return Response.Empty();
                }

            case NamespaceCommand.GetXattr:
                {
                    long inode = NamespaceMessages.ReadInodeName(body.Span, out var name);
                    return Response.Of(await s.GetXattrAsync(inode, Copy(name), ct));
                }

            case NamespaceCommand.ListXattr:
                {
                    var names = await s.ListXattrAsync(NamespaceMessages.ReadInode(body.Span), ct);
                    var r = Response.Rent(names.Sum(n => n.Length + 1));
                    int at = 0;
                    foreach (byte[] n in names)
                    {
                        n.CopyTo(r.Body[at..]);
                        at += n.Length;
                        r.Body[at++] = 0;
                    }

                    return r.Complete(at);
                }

            case NamespaceCommand.RemoveXattr:
                {
                    long inode = NamespaceMessages.ReadInodeName(body.Span, out var name);
                    await s.RemoveXattrAsync(inode, Copy(name), ct);
                    return Response.Empty();
                }

            case NamespaceCommand.StatFs:
                {
                    var stat = await s.StatFsAsync(NamespaceMessages.ReadGroup(body.Span), ct);
                    var r = Response.Rent(NsStatFs.Size);
                    return r.Complete(stat.Write(r.Body));
                }

            case NamespaceCommand.FindByFileId:
                {
                    var names = await s.FindByFileIdAsync(Text(body.Span) ?? "", ct);
                    var r = Response.Rent(4 + names.Sum(n => NamespaceMessages.LinkNameSize(n.Name.Length)));
                    BinaryPrimitives.WriteInt32BigEndian(r.Body, names.Count);
                    int at = 4;
                    foreach (var n in names)
                    {
                        at += NamespaceMessages.WriteLinkName(r.Body[at..], n.Parent, n.Inode, n.Name);
                    }

                    return r.Complete(at);
                }

            case NamespaceCommand.RegisterPending:
                {
                    int lease = NamespaceMessages.ReadPending(body.Span, out var fileId);
                    if (lease <= 0)
                    {
                        throw new NamespaceException(FdfsErrno.EINVAL, "lease must be positive");
                    }

                    await s.RegisterPendingAsync(Text(fileId) ?? "", TimeSpan.FromSeconds(lease), ct);
                    return Response.Empty();
                }

            case NamespaceCommand.ForgetPending:
                await s.ForgetPendingAsync(Text(body.Span) ?? "", ct);
                return Response.Empty();
            case NamespaceCommand.OpenLockSession:
                {
                    long session = await s.OpenLockSessionAsync(Lease(LockMessages.ReadOpenSession(body.Span)), ct);
                    var r = Response.Rent(LockMessages.SessionSize);
                    return r.Complete(LockMessages.WriteSession(r.Body, session));
                }

            case NamespaceCommand.RenewLockSession:
                {
                    long session = LockMessages.ReadRenewSession(body.Span, out int lease);
                    await s.RenewLockSessionAsync(session, Lease(lease), ct);
                    return Response.Empty();
                }

            case NamespaceCommand.CloseLockSession:
                await s.CloseLockSessionAsync(LockMessages.ReadSession(body.Span), ct);
                return Response.Empty();
            case NamespaceCommand.SetLock:
                {
                    var outcome = await s.TrySetLockAsync(NsLockRequest.Read(body.Span), ct);
                    if (!outcome.Granted)
                    {
                        return Response.Refused(outcome.Conflict, outcome.Reason);
                    }

                    var r = Response.Rent(outcome.Replaced.Length * NsLockRange.Size);
                    return r.Complete(NsLockRange.WriteAll(r.Body, outcome.Replaced));
                }

            case NamespaceCommand.GetLock:
                {
                    var holder = await s.GetLockAsync(NsLockRequest.Read(body.Span), ct);
                    var r = Response.Rent(NsLockHolder.Size);
                    return r.Complete(holder.Write(r.Body));
                }

            default:
                throw new NamespaceException(FdfsErrno.EINVAL, "unknown command");
        }
    }

    /// <summary>A lock session's lease: 1 s to a day (a longer one would keep a dead mount's locks for too long).</summary>
    private static TimeSpan Lease(int seconds) => seconds is > 0 and <= MaxLockLeaseSeconds
        ? TimeSpan.FromSeconds(seconds)
        : throw new NamespaceException(FdfsErrno.EINVAL, $"lock lease must be 1..{MaxLockLeaseSeconds} s, got {seconds}");

    private async ValueTask<Response> ReadDirAsync(ReadOnlyMemory<byte> body, bool plus, CancellationToken ct)
    {
        var (inode, cookie, max) = NamespaceMessages.ReadReadDir(body.Span);
        if (max <= 0)
        {
            throw new NamespaceException(FdfsErrno.EINVAL, "max entries must be positive");
        }

        var page = await _store.ReadDirAsync(inode, cookie, Math.Min(max, plus ? MaxDirPlusEntries : MaxDirEntries), plus, ct);
        int size = NamespaceMessages.PageHeaderSize;
        foreach (var e in page.Entries)
        {
            size += plus ? NamespaceMessages.DirEntryPlusFixedSize + e.Name.Length + e.Attributes.WireSize - NsAttributes.FixedSize
                         : NamespaceMessages.DirEntrySize(e.Name.Length);
        }

        var r = Response.Rent(size);
        int at = NamespaceMessages.PageHeaderSize;
        foreach (var e in page.Entries)
        {
            at += plus
                ? NamespaceMessages.WriteDirEntryPlus(r.Body[at..], e.Cookie, e.Name, e.Attributes)
                : NamespaceMessages.WriteDirEntry(r.Body[at..], e.Cookie, e.Attributes.Inode, e.Attributes.Mode, e.Name);
        }

        NamespaceMessages.WritePageHeader(r.Body, page.Eof, page.Entries.Count);
        return r.Complete(at);
    }
}
