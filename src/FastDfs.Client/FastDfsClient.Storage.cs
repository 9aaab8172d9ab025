using System.Buffers;
using System.Text;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Client;

/// <summary>File operations (protocol notes 4, 5.1, 7).</summary>
public sealed partial class FastDfsClient
{
    /// <summary>The storage reads set-metadata requests whole into its 256 KiB buffer (protocol notes 1.1).</summary>
    public const int MaxMetadataBytes = 256 * 1024 - 64 - FdfsConstants.RemoteFileNameMaxLength;

    private const long MetadataResponseMax = 4 * 1024 * 1024;

    // ---------------------------------------------------------------- uploads

    /// <summary>Uploads <paramref name="length"/> bytes read from <paramref name="content"/> (tracker 101/104, storage 11).</summary>
    public Task<FileId> UploadAsync(
        Stream content, long length, string? extension, IReadOnlyDictionary<string, string>? metadata = null,
        string? group = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return UploadCoreAsync(StorageCommand.UploadFile, new Content(content, default, length, progress), extension, metadata, group, cancellationToken);
    }

    public Task<FileId> UploadAsync(
        ReadOnlyMemory<byte> content, string? extension, IReadOnlyDictionary<string, string>? metadata = null,
        string? group = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        UploadCoreAsync(StorageCommand.UploadFile, new Content(null, content, content.Length, progress), extension, metadata, group, cancellationToken);

    public Task<FileId> UploadAsync(
        byte[] content, string? extension, IReadOnlyDictionary<string, string>? metadata = null,
        string? group = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        UploadAsync(content.AsMemory(), extension, metadata, group, progress, cancellationToken);

    /// <summary>Uploads a local file; the extension defaults to the file's own when FastDFS accepts it.</summary>
    public Task<FileId> UploadFileAsync(
        string path, string? extension = null, IReadOnlyDictionary<string, string>? metadata = null,
        string? group = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        UploadFromFileAsync(StorageCommand.UploadFile, path, extension, metadata, group, progress, cancellationToken);

    /// <summary>Uploads an appender file (storage 23), which later accepts append/modify/truncate.</summary>
    public Task<FileId> UploadAppenderAsync(
        Stream content, long length, string? extension, IReadOnlyDictionary<string, string>? metadata = null,
        string? group = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return UploadCoreAsync(StorageCommand.UploadAppenderFile, new Content(content, default, length, progress), extension, metadata, group, cancellationToken);
    }

    public Task<FileId> UploadAppenderAsync(
        ReadOnlyMemory<byte> content, string? extension, IReadOnlyDictionary<string, string>? metadata = null,
        string? group = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        UploadCoreAsync(StorageCommand.UploadAppenderFile, new Content(null, content, content.Length, progress), extension, metadata, group, cancellationToken);

    public Task<FileId> UploadAppenderAsync(
        byte[] content, string? extension, IReadOnlyDictionary<string, string>? metadata = null,
        string? group = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        UploadAppenderAsync(content.AsMemory(), extension, metadata, group, progress, cancellationToken);

    /// <summary>
    /// Uploads an appender file to <paramref name="target"/>, an upload choice the caller got from
    /// <see cref="QueryStoreAsync"/> and reuses for a short while: no tracker round trip (storage 23 only).
    /// </summary>
    public Task<FileId> UploadAppenderAsync(
        ReadOnlyMemory<byte> content, string? extension, StoreTarget target, CancellationToken cancellationToken = default)
    {
        ValidateGroup(target.Group);
        return UploadCoreAsync(StorageCommand.UploadAppenderFile, new Content(null, content, content.Length, null), extension, null, target.Group, cancellationToken, target);
    }

    public Task<FileId> UploadAppenderFileAsync(
        string path, string? extension = null, IReadOnlyDictionary<string, string>? metadata = null,
        string? group = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        UploadFromFileAsync(StorageCommand.UploadAppenderFile, path, extension, metadata, group, progress, cancellationToken);

    /// <summary>
    /// Uploads a slave file next to <paramref name="master"/> (tracker 103 for the master, storage 21). Its name is
    /// the master's with <paramref name="prefix"/> and <paramref name="extension"/> (or the master's) appended.
    /// </summary>
    public Task<FileId> UploadSlaveAsync(
        FileId master, string prefix, string? extension, Stream content, long length,
        IReadOnlyDictionary<string, string>? metadata = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return UploadSlaveCoreAsync(master, prefix, extension, new Content(content, default, length, progress), metadata, cancellationToken);
    }

    public Task<FileId> UploadSlaveAsync(
        FileId master, string prefix, string? extension, ReadOnlyMemory<byte> content,
        IReadOnlyDictionary<string, string>? metadata = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        UploadSlaveCoreAsync(master, prefix, extension, new Content(null, content, content.Length, progress), metadata, cancellationToken);

    public async Task<FileId> UploadSlaveFileAsync(
        FileId master, string prefix, string path, string? extension = null,
        IReadOnlyDictionary<string, string>? metadata = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        extension ??= ExtensionOf(path);
        await using var stream = OpenRead(path);
        return await UploadSlaveAsync(master, prefix, extension, stream, stream.Length, metadata, progress, cancellationToken);
    }

    /// <summary>The extension FastDFS would accept for a local file name, or null.</summary>
    public static string? ExtensionOf(string path)
    {
        string ext = Path.GetExtension(path);
        if (ext.Length > 1)
        {
            ext = ext[1..];
            return FileNames.IsValidExtension(ext) ? ext : null;
        }

        return null;
    }

    private static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous | FileOptions.SequentialScan);

    private async Task<FileId> UploadFromFileAsync(
        StorageCommand command, string path, string? extension, IReadOnlyDictionary<string, string>? metadata,
        string? group, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        extension ??= ExtensionOf(path);
        await using var stream = OpenRead(path);
        return await UploadCoreAsync(command, new Content(stream, default, stream.Length, progress), extension, metadata, group, cancellationToken);
    }

    private static string NormalizeExtension(string? extension)
    {
        if (string.IsNullOrEmpty(extension))
        {
            return string.Empty;
        }

        if (extension[0] == '.')
        {
            extension = extension[1..];
        }

        return FileNames.IsValidExtension(extension)
            ? extension
            : throw new ArgumentException($"invalid extension '{extension}': at most 6 characters [A-Za-z0-9._-]", nameof(extension));
    }

    private async Task<FileId> UploadCoreAsync(
        StorageCommand command, Content content, string? extension, IReadOnlyDictionary<string, string>? metadata,
        string? group, CancellationToken cancellationToken, StoreTarget? chosen = null)
    {
        string ext = NormalizeExtension(extension);
        byte[]? meta = metadata is { Count: > 0 } ? EncodeMetadata(metadata) : null;
        if (!string.IsNullOrEmpty(group))
        {
            ValidateGroup(group);
        }

        var target = chosen ?? await QueryStoreAsync(group, cancellationToken);
        const int prefix = FdfsConstants.HeaderSize + UploadRequestHeader.Size;
        byte[] buffer = RentForContent(prefix, content);
        FileId fileId;
        try
        {
            new PacketHeader(UploadRequestHeader.Size + content.Length, (byte)command, 0).Write(buffer);
            new UploadRequestHeader(target.StorePathIndex, content.Length, ext).Write(buffer.AsSpan(FdfsConstants.HeaderSize));
            fileId = await OnServerAsync(
                StoragePool(target.Storage),
                (Buffer: buffer, Prefix: prefix, Content: content, Command: (byte)command),
                static async (c, s, t, u) =>
                {
                    await SendWithContentAsync(c, s.Buffer, s.Prefix, s.Content, t, u);
                    return UploadResponse.Decode(await ReadResponseAsync(c, SmallResponse, s.Command, false, t));
                },
                (byte)command,
                false,
                content.Stream is null,
                cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (meta is not null)
        {
            await AttachMetadataAsync(target.Storage, fileId, meta, cancellationToken);
        }

        return fileId;
    }

    /// <summary>As the C client: set metadata right after the upload, and delete the file again if that fails.</summary>
    private async Task AttachMetadataAsync(ServerAddress storage, FileId fileId, byte[] meta, CancellationToken cancellationToken)
    {
        try
        {
            await StorageRequestAsync(storage, MetadataPacket(fileId, meta, MetadataFlag.Overwrite), cancellationToken);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await StorageRequestAsync(storage, FilePacket((byte)StorageCommand.DeleteFile, fileId, false), CancellationToken.None);
            }
            catch (FdfsException)
            {
                // Best effort; the metadata error is the one to report.
            }

            throw;
        }
    }

    private async Task<FileId> UploadSlaveCoreAsync(
        FileId master, string prefix, string? extension, Content content,
        IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken)
    {
        ValidateFileId(master);
        if (prefix is null || !FileNames.IsValidPrefix(prefix))
        {
            throw new ArgumentException($"invalid slave prefix '{prefix}': 1..16 characters [A-Za-z0-9._-]", nameof(prefix));
        }

        string ext = NormalizeExtension(extension);
        byte[]? meta = metadata is { Count: > 0 } ? EncodeMetadata(metadata) : null;
        var storage = await QueryUpdateAsync(master, cancellationToken);
        int nameLength = master.RemoteFileName.Length;
        int prefixLength = FdfsConstants.HeaderSize + UploadSlaveRequestHeader.Size + nameLength;
        byte[] buffer = RentForContent(prefixLength, content);
        FileId fileId;
        try
        {
            new PacketHeader(UploadSlaveRequestHeader.Size + nameLength + content.Length, (byte)StorageCommand.UploadSlaveFile, 0).Write(buffer);
            new UploadSlaveRequestHeader(nameLength, content.Length, prefix, ext).Write(buffer.AsSpan(FdfsConstants.HeaderSize));
            Encoding.ASCII.GetBytes(master.RemoteFileName, buffer.AsSpan(FdfsConstants.HeaderSize + UploadSlaveRequestHeader.Size));
            fileId = await OnServerAsync(
                StoragePool(storage),
                (Buffer: buffer, Prefix: prefixLength, Content: content),
                static async (c, s, t, u) =>
                {
                    await SendWithContentAsync(c, s.Buffer, s.Prefix, s.Content, t, u);
                    return UploadResponse.Decode(await ReadResponseAsync(c, SmallResponse, (byte)StorageCommand.UploadSlaveFile, false, t));
                },
                (byte)StorageCommand.UploadSlaveFile,
                false,
                content.Stream is null,
                cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (meta is not null)
        {
            await AttachMetadataAsync(storage, fileId, meta, cancellationToken);
        }

        return fileId;
    }

    // ---------------------------------------------------------------- appender files

    /// <summary>Appends to an appender file (tracker 103, storage 24).</summary>
    public Task AppendAsync(FileId fileId, Stream content, long length, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return AppenderCoreAsync(StorageCommand.AppendFile, fileId, 0, new Content(content, default, length, progress), cancellationToken);
    }

    public Task AppendAsync(FileId fileId, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default) =>
        AppenderCoreAsync(StorageCommand.AppendFile, fileId, 0, new Content(null, content, content.Length, null), cancellationToken);

    /// <summary>Overwrites part of an appender file from <paramref name="offset"/> (tracker 103, storage 34).</summary>
    public Task ModifyAsync(FileId fileId, long offset, Stream content, long length, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        return AppenderCoreAsync(StorageCommand.ModifyFile, fileId, offset, new Content(content, default, length, progress), cancellationToken);
    }

    public Task ModifyAsync(FileId fileId, long offset, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        return AppenderCoreAsync(StorageCommand.ModifyFile, fileId, offset, new Content(null, content, content.Length, null), cancellationToken);
    }

    /// <summary>Truncates (or extends) an appender file (tracker 103, storage 36).</summary>
    public Task TruncateAsync(FileId fileId, long size, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        return AppenderCoreAsync(StorageCommand.TruncateFile, fileId, size, new Content(null, default, 0, null), cancellationToken);
    }

    /// <summary>
    /// Appends, overwrites or truncates on <paramref name="storage"/>, an update choice the caller got from
    /// <see cref="QueryUpdateAsync"/> for this file: no tracker round trip (storage 24, 34, 36 only).
    /// </summary>
    public Task AppendAsync(FileId fileId, ReadOnlyMemory<byte> content, ServerAddress storage, CancellationToken cancellationToken = default) =>
        AppenderCoreAsync(StorageCommand.AppendFile, fileId, 0, new Content(null, content, content.Length, null), cancellationToken, storage);

    /// <inheritdoc cref="AppendAsync(FileId, ReadOnlyMemory{byte}, ServerAddress, CancellationToken)"/>
    public Task ModifyAsync(FileId fileId, long offset, ReadOnlyMemory<byte> content, ServerAddress storage, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        return AppenderCoreAsync(StorageCommand.ModifyFile, fileId, offset, new Content(null, content, content.Length, null), cancellationToken, storage);
    }

    /// <inheritdoc cref="AppendAsync(FileId, ReadOnlyMemory{byte}, ServerAddress, CancellationToken)"/>
    public Task TruncateAsync(FileId fileId, long size, ServerAddress storage, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        return AppenderCoreAsync(StorageCommand.TruncateFile, fileId, size, new Content(null, default, 0, null), cancellationToken, storage);
    }

    private async Task AppenderCoreAsync(
        StorageCommand command, FileId fileId, long offsetOrSize, Content content, CancellationToken cancellationToken, ServerAddress? chosen = null)
    {
        ValidateFileId(fileId);
        var storage = chosen ?? await QueryUpdateAsync(fileId, cancellationToken);
        int nameLength = fileId.RemoteFileName.Length;
        int fixedLength = AppenderRequestHeader.FixedSize(command);
        int prefixLength = FdfsConstants.HeaderSize + fixedLength + nameLength;
        byte[] buffer = RentForContent(prefixLength, content);
        try
        {
            new PacketHeader(fixedLength + nameLength + content.Length, (byte)command, 0).Write(buffer);
            var header = command switch
            {
                StorageCommand.ModifyFile => new AppenderRequestHeader(nameLength, offsetOrSize, content.Length),
                StorageCommand.TruncateFile => new AppenderRequestHeader(nameLength, 0, offsetOrSize),
                _ => new AppenderRequestHeader(nameLength, 0, content.Length),
            };
            header.Write(command, buffer.AsSpan(FdfsConstants.HeaderSize));
            Encoding.ASCII.GetBytes(fileId.RemoteFileName, buffer.AsSpan(FdfsConstants.HeaderSize + fixedLength));
            await OnServerAsync(
                StoragePool(storage),
                (Buffer: buffer, Prefix: prefixLength, Content: content, Command: (byte)command),
                static async (c, s, t, u) =>
                {
                    await SendWithContentAsync(c, s.Buffer, s.Prefix, s.Content, t, u);
                    await ReadResponseAsync(c, SmallResponse, s.Command, false, t);
                    return true;
                },
                (byte)command,
                false,
                content.Stream is null,
                cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Turns an appender file into a normal one with a new name (storage 38, FastDFS 6.02+); returns the new ID.
    /// </summary>
    public async Task<FileId> RegenerateAppenderAsync(FileId fileId, CancellationToken cancellationToken = default)
    {
        ValidateFileId(fileId);
        var storage = await QueryUpdateAsync(fileId, cancellationToken);
        int bodyLength = fileId.RemoteFileName.Length;
        byte[] packet = RentPacket((byte)StorageCommand.RegenerateAppenderFileName, bodyLength);
        Encoding.ASCII.GetBytes(fileId.RemoteFileName, packet.AsSpan(FdfsConstants.HeaderSize));
        byte[] body = await StorageRequestAsync(
            storage,
            new SimpleRequest(packet, FdfsConstants.HeaderSize + bodyLength, (byte)StorageCommand.RegenerateAppenderFileName, false, SmallResponse),
            cancellationToken);
        return UploadResponse.Decode(body);
    }

    // ---------------------------------------------------------------- downloads

    /// <summary>
    /// Streams the file (or <paramref name="length"/> bytes from <paramref name="offset"/>; 0 = to the end) into
    /// <paramref name="destination"/> (tracker 102, storage 14). Returns the number of bytes written.
    /// </summary>
    public async Task<long> DownloadAsync(
        FileId fileId, Stream destination, long offset = 0, long length = 0, IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var (storage, request) = await PrepareDownloadAsync(fileId, offset, length, cancellationToken);
        try
        {
            return await OnServerAsync(
                StoragePool(storage),
                (Request: request, Destination: destination, Progress: progress, Client: this),
                static async (c, s, t, u) =>
                {
                    await c.Connection.SendAsync(s.Request.Packet.AsMemory(0, s.Request.Length), t);
                    long bodyLength = await ReadDownloadHeaderAsync(c, t);
                    return await s.Client.ReceiveToStreamAsync(c, bodyLength, s.Destination, s.Progress, t, u);
                },
                (byte)StorageCommand.DownloadFile,
                false,
                false,
                cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(request.Packet);
        }
    }

    /// <summary>Downloads into memory; meant for small files or ranges.</summary>
    public async Task<byte[]> DownloadBytesAsync(FileId fileId, long offset = 0, long length = 0, CancellationToken cancellationToken = default)
    {
        var (storage, request) = await PrepareDownloadAsync(fileId, offset, length, cancellationToken);
        try
        {
            return await OnServerAsync(
                StoragePool(storage),
                request,
                static async (c, r, t, u) =>
                {
                    await c.Connection.SendAsync(r.Packet.AsMemory(0, r.Length), t);
                    long bodyLength = await ReadDownloadHeaderAsync(c, t);
                    if (bodyLength > Array.MaxLength)
                    {
                        throw new FdfsProtocolException($"{bodyLength} bytes do not fit in memory; use DownloadAsync");
                    }

                    byte[] data = bodyLength == 0 ? [] : new byte[bodyLength];
                    await c.Connection.ReadExactlyAsync(data, t);
                    return data;
                },
                (byte)StorageCommand.DownloadFile,
                false,
                true,
                cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(request.Packet);
        }
    }

    /// <summary>
    /// Reads up to <c>destination.Length</c> bytes from <paramref name="offset"/> into the caller's buffer (storage 14)
    /// and returns how many arrived. The storage comes from the tracker (102) unless <paramref name="storage"/> names
    /// one already chosen by <see cref="QueryFetchAsync"/>, which saves a tracker round trip per range. The range
    /// must start inside the file: FastDFS answers EINVAL to an offset at or past its end.
    /// </summary>
    public async Task<int> ReadRangeAsync(
        FileId fileId, long offset, Memory<byte> destination, ServerAddress? storage = null, CancellationToken cancellationToken = default)
    {
        if (destination.IsEmpty)
        {
            return 0;
        }

        var (chosen, request) = await PrepareDownloadAsync(fileId, offset, destination.Length, storage, cancellationToken);
        try
        {
            return await OnServerAsync(
                StoragePool(chosen),
                (Request: request, Destination: destination),
                static async (c, s, t, u) =>
                {
                    await c.Connection.SendAsync(s.Request.Packet.AsMemory(0, s.Request.Length), t);
                    long bodyLength = await ReadDownloadHeaderAsync(c, t);
                    if (bodyLength > s.Destination.Length)
                    {
                        throw new FdfsProtocolException($"asked for {s.Destination.Length} bytes, the storage sends {bodyLength}");
                    }

                    await c.Connection.ReadExactlyAsync(s.Destination[..(int)bodyLength], t);
                    return (int)bodyLength;
                },
                (byte)StorageCommand.DownloadFile,
                false,
                true,
                cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(request.Packet);
        }
    }

    /// <summary>
    /// Downloads to a temporary file next to <paramref name="path"/>, then renames it into place, so a failed
    /// download never leaves a partial file. A device or FIFO (<c>/dev/null</c>) is written in place instead.
    /// </summary>
    public async Task<long> DownloadToFileAsync(
        FileId fileId, string path, long offset = 0, long length = 0, IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        string full = Path.GetFullPath(path);
        if (LocalFiles.IsSpecial(full))
        {
            await using var device = new FileStream(full, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
            return await DownloadAsync(fileId, device, offset, length, progress, cancellationToken);
        }

        string temp = Path.Combine(Path.GetDirectoryName(full) ?? ".", "." + Path.GetFileName(full) + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp");
        try
        {
            long written;
            await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous))
            {
                written = await DownloadAsync(fileId, stream, offset, length, progress, cancellationToken);
            }

            File.Move(temp, full, overwrite: true);
            return written;
        }
        catch
        {
            try
            {
                File.Delete(temp);
            }
            catch (IOException)
            {
            }

            throw;
        }
    }

    private async Task<(ServerAddress Storage, SimpleRequest Request)> PrepareDownloadAsync(
        FileId fileId, long offset, long length, CancellationToken cancellationToken) =>
        await PrepareDownloadAsync(fileId, offset, length, null, cancellationToken);

    private async Task<(ServerAddress Storage, SimpleRequest Request)> PrepareDownloadAsync(
        FileId fileId, long offset, long length, ServerAddress? chosen, CancellationToken cancellationToken)
    {
        ValidateFileId(fileId);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var storage = chosen ?? await QueryFetchAsync(fileId, cancellationToken);
        int bodyLength = 16 + FdfsConstants.GroupNameMaxLength + fileId.RemoteFileName.Length;
        byte[] packet = RentPacket((byte)StorageCommand.DownloadFile, bodyLength);
        var w = new WireWriter(packet.AsSpan(FdfsConstants.HeaderSize));
        w.WriteInt64(offset);
        w.WriteInt64(length);
        w.WriteFixed(fileId.Group, FdfsConstants.GroupNameMaxLength);
        w.WriteText(fileId.RemoteFileName);
        return (storage, new SimpleRequest(packet, FdfsConstants.HeaderSize + bodyLength, (byte)StorageCommand.DownloadFile, false, long.MaxValue));
    }

    private static async ValueTask<long> ReadDownloadHeaderAsync(ClientConnection c, CancellationToken token)
    {
        var header = await c.Connection.ReadHeaderAsync(token);
        if (header.Command != FdfsConstants.ResponseCommand)
        {
            throw new FdfsProtocolException($"expected a response (cmd 100), got cmd {header.Command}");
        }

        if (header.Status != 0)
        {
            if (header.BodyLength != 0)
            {
                throw new FdfsProtocolException($"error response with a {header.BodyLength}-byte body");
            }

            throw new FdfsServerException(header.Status, CommandName((byte)StorageCommand.DownloadFile, false), c.Pool.Name, true);
        }

        return header.BodyLength;
    }

    // ---------------------------------------------------------------- delete, info, metadata

    /// <summary>Deletes a file and its metadata (tracker 103, storage 12).</summary>
    public async Task DeleteAsync(FileId fileId, CancellationToken cancellationToken = default)
    {
        ValidateFileId(fileId);
        var storage = await QueryUpdateAsync(fileId, cancellationToken);
        await StorageRequestAsync(storage, FilePacket((byte)StorageCommand.DeleteFile, fileId, false), cancellationToken);
    }

    /// <summary>Size, create time, CRC32 and source of a file (tracker 102, storage 22), plus the facts its name encodes.</summary>
    public Task<StorageFileInfo> GetFileInfoAsync(FileId fileId, CancellationToken cancellationToken = default) =>
        GetFileInfoAsync(fileId, computeCrc: true, cancellationToken);

    /// <summary>
    /// As <see cref="GetFileInfoAsync(FileId, CancellationToken)"/>; with <paramref name="computeCrc"/> false the request
    /// carries flag bit 0 and the storage skips computing an appender or slave file's CRC32 over its content (answered
    /// as 0): a stat that wants only the size and time does not make it read a multi-GiB appender.
    /// </summary>
    public async Task<StorageFileInfo> GetFileInfoAsync(FileId fileId, bool computeCrc, CancellationToken cancellationToken = default)
    {
        ValidateFileId(fileId);
        var storage = await QueryFetchAsync(fileId, cancellationToken);
        var request = FilePacket((byte)StorageCommand.QueryFileInfo, fileId, false);
        if (!computeCrc)
        {
            new PacketHeader(request.Length - FdfsConstants.HeaderSize, request.Command, 1).Write(request.Packet);
        }

        byte[] body = await StorageRequestAsync(storage, request, cancellationToken);
        var response = FileInfoResponse.Read(body);
        return new StorageFileInfo(fileId, response, FileNames.TryDecode(fileId.RemoteFileName, out var info) ? info : null);
    }

    /// <summary>
    /// The file's metadata (tracker 103, storage 15). A file without metadata gives
    /// <see cref="FdfsServerException"/> with errno ENOENT, as FastDFS answers; see <see cref="TryGetMetadataAsync"/>.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, string>> GetMetadataAsync(FileId fileId, CancellationToken cancellationToken = default)
    {
        ValidateFileId(fileId);
        var storage = await QueryUpdateAsync(fileId, cancellationToken);
        byte[] body = await StorageRequestAsync(
            storage, FilePacket((byte)StorageCommand.GetMetadata, fileId, false, MetadataResponseMax), cancellationToken);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in MetadataCodec.Decode(body))
        {
            result[key] = value;
        }

        return result;
    }

    /// <summary>As <see cref="GetMetadataAsync"/>, but null when the storage answers ENOENT (no metadata or no file).</summary>
    public async Task<IReadOnlyDictionary<string, string>?> TryGetMetadataAsync(FileId fileId, CancellationToken cancellationToken = default)
    {
        try
        {
            return await GetMetadataAsync(fileId, cancellationToken);
        }
        catch (FdfsServerException e) when (e.Errno == FdfsErrno.ENOENT)
        {
            return null;
        }
    }

    /// <summary>
    /// Replaces (<see cref="MetadataFlag.Overwrite"/>) or merges (<see cref="MetadataFlag.Merge"/>) metadata
    /// (tracker 103, storage 13). Names over 64 bytes or values over 256 bytes are refused, never truncated.
    /// </summary>
    public async Task SetMetadataAsync(
        FileId fileId, IReadOnlyDictionary<string, string> metadata, MetadataFlag flag = MetadataFlag.Overwrite,
        CancellationToken cancellationToken = default)
    {
        ValidateFileId(fileId);
        ArgumentNullException.ThrowIfNull(metadata);
        if (flag is not (MetadataFlag.Overwrite or MetadataFlag.Merge))
        {
            throw new ArgumentOutOfRangeException(nameof(flag), flag, "flag must be Overwrite or Merge");
        }

        byte[] meta = EncodeMetadata(metadata);
        var storage = await QueryUpdateAsync(fileId, cancellationToken);
        await StorageRequestAsync(storage, MetadataPacket(fileId, meta, flag), cancellationToken);
    }

    private static byte[] EncodeMetadata(IReadOnlyDictionary<string, string> metadata)
    {
        byte[] meta;
        try
        {
            meta = MetadataCodec.Encode(metadata);
        }
        catch (FdfsProtocolException e)
        {
            throw new ArgumentException(e.Message, nameof(metadata), e);
        }

        if (meta.Length > MaxMetadataBytes)
        {
            throw new ArgumentException(
                $"metadata of {meta.Length} bytes is over the {MaxMetadataBytes} bytes a storage accepts in one request", nameof(metadata));
        }

        return meta;
    }

    private static SimpleRequest MetadataPacket(FileId fileId, byte[] meta, MetadataFlag flag)
    {
        int nameLength = fileId.RemoteFileName.Length;
        int bodyLength = 17 + FdfsConstants.GroupNameMaxLength + nameLength + meta.Length;
        byte[] packet = RentPacket((byte)StorageCommand.SetMetadata, bodyLength);
        var w = new WireWriter(packet.AsSpan(FdfsConstants.HeaderSize));
        w.WriteInt64(nameLength);
        w.WriteInt64(meta.Length);
        w.WriteByte((byte)flag);
        w.WriteFixed(fileId.Group, FdfsConstants.GroupNameMaxLength);
        w.WriteText(fileId.RemoteFileName);
        w.WriteBytes(meta);
        return new SimpleRequest(packet, FdfsConstants.HeaderSize + bodyLength, (byte)StorageCommand.SetMetadata, false, SmallResponse);
    }
}
