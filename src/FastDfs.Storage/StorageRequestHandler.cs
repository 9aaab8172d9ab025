using System.Buffers;
using System.IO.Hashing;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace FastDfs.Storage;

/// <summary>Per-connection state: one pooled buffer reused by every request, a CRC32 engine, body accounting.</summary>
internal sealed class StorageConnectionState
{
    public StorageConnectionState(int bufferSize) => Buffer = ArrayPool<byte>.Shared.Rent(bufferSize);

    public byte[] Buffer { get; private set; }

    public Crc32 Crc { get; } = new();

    /// <summary>Body bytes of the current request not read yet; drained before a non-EINVAL error reply.</summary>
    public long Unread;

    /// <summary>
    /// The current request may touch the disk on a socket event thread (downloads, which read without waiting:
    /// <see cref="DownloadFile"/>). Every other request moves to the thread pool after each receive.
    /// </summary>
    public bool DiskOnEventThread;

    /// <summary>The peer's storage ID from REPORT_SERVER_ID; empty on client connections.</summary>
    public string SyncSourceId = string.Empty;

    public void Release()
    {
        var buffer = Buffer;
        Buffer = [];
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>
/// Client-facing storage commands (protocol notes 5.1). One instance serves every connection; per-connection
/// state lives in <see cref="ConnectionContext.State"/>. Handlers are split by family in partial files.
/// </summary>
internal sealed partial class StorageRequestHandler : IFdfsRequestHandler
{
    private const int StripeCount = 256;

    private readonly StorageOptions _options;
    private readonly StorePaths _paths;
    private readonly Binlog _binlog;
    private readonly StorageStats _stats;
    private readonly ILogger _logger;
    private readonly string _group;
    private readonly byte[] _groupBytes;
    private readonly int _bufferSize;
    private readonly SemaphoreSlim[] _fileLocks;
    private readonly FileCrcCache _crcCache = new();
    private uint _sourceAddress;

    public StorageRequestHandler(StorageOptions options, StorePaths paths, Binlog binlog, StorageStats stats, ILogger logger)
    {
        _options = options;
        _paths = paths;
        _binlog = binlog;
        _stats = stats;
        _logger = logger;
        _group = options.GroupName ?? throw new ArgumentException("group_name is required", nameof(options));
        _groupBytes = Encoding.ASCII.GetBytes(_group);
        _bufferSize = Math.Max(options.BuffSize, 64 * 1024);
        _fileLocks = Enumerable.Range(0, StripeCount).Select(_ => new SemaphoreSlim(1, 1)).ToArray();
    }

    /// <summary>IPv4 address put in new file names (network order as FileNames wants it); 0 = the connection's local address.</summary>
    public uint SourceAddress
    {
        get => Volatile.Read(ref _sourceAddress);
        set => Volatile.Write(ref _sourceAddress, value);
    }

    /// <remarks>Pooled state machines: a request that waits for its body or the binlog allocates none.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> HandleAsync(FdfsConnection connection, PacketHeader header, ConnectionContext context, CancellationToken cancellationToken)
    {
        if (context.State is not StorageConnectionState state)
        {
            state = new StorageConnectionState(_bufferSize);
            context.State = state;
            ConnectionOpened();
        }

        state.Unread = header.BodyLength;
        state.DiskOnEventThread = header.Command == (byte)StorageCommand.DownloadFile;
        if (!state.DiskOnEventThread)
        {
            await EventThread.Leave();
        }

        try
        {
            return (StorageCommand)header.Command switch
            {
                StorageCommand.UploadFile => await UploadAsync(connection, header, state, appender: false, cancellationToken),
                StorageCommand.UploadAppenderFile => await UploadAsync(connection, header, state, appender: true, cancellationToken),
                StorageCommand.UploadSlaveFile => await UploadSlaveAsync(connection, header, state, cancellationToken),
                StorageCommand.DownloadFile => await DownloadAsync(connection, header, state, cancellationToken),
                StorageCommand.DeleteFile => await DeleteAsync(connection, header, state, cancellationToken),
                StorageCommand.SetMetadata => await SetMetadataAsync(connection, header, state, cancellationToken),
                StorageCommand.GetMetadata => await GetMetadataAsync(connection, header, state, cancellationToken),
                StorageCommand.QueryFileInfo => await QueryFileInfoAsync(connection, header, state, cancellationToken),
                StorageCommand.AppendFile => await AppendOrModifyAsync(connection, header, state, modify: false, cancellationToken),
                StorageCommand.ModifyFile => await AppendOrModifyAsync(connection, header, state, modify: true, cancellationToken),
                StorageCommand.TruncateFile => await TruncateAsync(connection, header, state, cancellationToken),
                StorageCommand.RegenerateAppenderFileName => await RegenerateAsync(connection, header, state, cancellationToken),
                StorageCommand.ReportServerId => await ReportServerIdAsync(connection, header, state, cancellationToken),
                StorageCommand.SyncCreateFile => await SyncCopyFileAsync(connection, header, state, update: false, cancellationToken),
                StorageCommand.SyncUpdateFile => await SyncCopyFileAsync(connection, header, state, update: true, cancellationToken),
                StorageCommand.SyncDeleteFile => await SyncDeleteAsync(connection, header, state, cancellationToken),
                StorageCommand.SyncAppendFile => await SyncAppendOrModifyAsync(connection, header, state, modify: false, cancellationToken),
                StorageCommand.SyncModifyFile => await SyncAppendOrModifyAsync(connection, header, state, modify: true, cancellationToken),
                StorageCommand.SyncTruncateFile => await SyncTruncateAsync(connection, header, state, cancellationToken),
                StorageCommand.SyncRenameFile => await SyncRenameAsync(connection, header, state, cancellationToken),
                StorageCommand.SyncCreateLink => await SyncCreateLinkAsync(connection, header, state, cancellationToken),
                StorageCommand.FetchOnePathBinlog => await FetchOnePathBinlogAsync(connection, header, state, cancellationToken),
                _ => await RefuseAsync(connection, header, state, FdfsErrno.EINVAL, "unknown command", cancellationToken),
            };
        }
        catch (FdfsProtocolException e)
        {
            return await RefuseAsync(connection, header, state, e.Errno, e.Message, cancellationToken);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, e.Message, cancellationToken);
        }
        catch (Exception e) when (IsDiskError(e))
        {
            StorageLog.IoError(_logger, header.Command, connection.RemoteEndPoint, e);
            return await RefuseAsync(connection, header, state, DiskErrno(e), e.Message, cancellationToken);
        }
    }

    public void OnConnectionClosed(ConnectionContext context)
    {
        if (context.State is StorageConnectionState state)
        {
            state.Release();
            Interlocked.Decrement(ref _stats.ConnectionCurrentCount);
        }
    }

    private void ConnectionOpened()
    {
        Interlocked.Increment(ref _stats.ConnectionAllocCount);
        int current = Interlocked.Increment(ref _stats.ConnectionCurrentCount);
        int max;
        while (current > (max = Volatile.Read(ref _stats.ConnectionMaxCount))
            && Interlocked.CompareExchange(ref _stats.ConnectionMaxCount, current, max) != max)
        {
        }
    }

    /// <summary>Socket failures surface as SocketException / EndOfStreamException and must drop the connection instead.</summary>
    private static bool IsDiskError(Exception e) =>
        e is UnauthorizedAccessException || (e is IOException && e is not EndOfStreamException && e.InnerException is not System.Net.Sockets.SocketException);

    private static byte DiskErrno(Exception e) => (e.HResult & 0xFFFF) switch
    {
        NativeMethods.ENOSPC => FdfsErrno.ENOSPC, // as .NET reports it on Unix
        _ when e is UnauthorizedAccessException => FdfsErrno.EACCES,
        _ => FdfsErrno.EIO,
    };

    /// <summary>
    /// Error reply with an empty body. After EINVAL the storage closes the connection (as FastDFS does); other errors
    /// first drain what is left of the body so the next request starts on a packet boundary.
    /// </summary>
    private async ValueTask<bool> RefuseAsync(
        FdfsConnection connection, PacketHeader header, StorageConnectionState state, byte errno, string reason, CancellationToken cancellationToken)
    {
        StorageLog.RequestRefused(_logger, connection.RemoteEndPoint, header.Command, FdfsErrno.Name(errno), reason);
        if (errno == FdfsErrno.EINVAL)
        {
            await connection.SendErrorAsync(errno, cancellationToken);
            return false;
        }

        if (state.Unread > 0)
        {
            await connection.SkipAsync(state.Unread, cancellationToken);
            state.Unread = 0;
        }

        await connection.SendErrorAsync(errno, cancellationToken);
        return true;
    }

    private ValueTask<bool> Invalid(FdfsConnection connection, PacketHeader header, StorageConnectionState state, string reason, CancellationToken cancellationToken) =>
        RefuseAsync(connection, header, state, FdfsErrno.EINVAL, reason, cancellationToken);

    /// <summary>Reads a whole non-streaming request body; such requests must fit in buff_size (else EINVAL).</summary>
    private async ValueTask<int> ReadSmallBodyAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, int minLength, CancellationToken cancellationToken)
    {
        if (header.BodyLength > _options.BuffSize || header.BodyLength > state.Buffer.Length)
        {
            throw new FdfsProtocolException($"request body of {header.BodyLength} bytes exceeds buff_size {_options.BuffSize}");
        }

        if (header.BodyLength < minLength)
        {
            throw new FdfsProtocolException($"request body of {header.BodyLength} bytes is shorter than {minLength}");
        }

        int length = (int)header.BodyLength;
        await connection.ReadExactlyAsync(state.Buffer.AsMemory(0, length), cancellationToken);
        state.Unread = 0;
        if (!state.DiskOnEventThread)
        {
            await EventThread.Leave();
        }

        return length;
    }

    /// <summary>
    /// Reads at least <paramref name="min"/> bytes of a streaming body, taking whatever else has already arrived
    /// (up to the buffer or the body), so a small upload costs one receive.
    /// </summary>
    private static async ValueTask<int> ReadAtLeastAsync(FdfsConnection connection, StorageConnectionState state, int start, int min, CancellationToken cancellationToken)
    {
        int have = start;
        int cap = (int)Math.Min(state.Buffer.Length, start + state.Unread);
        while (have < min)
        {
            int n = await connection.ReadSomeAsync(state.Buffer.AsMemory(have, cap - have), cancellationToken);
            have += n;
            state.Unread -= n;
        }

        await EventThread.Leave(); // only downloads read on the event thread, and they do not stream a body
        return have;
    }

    /// <summary>The group field must name our group (text up to the first NUL, as C compares it).</summary>
    private bool IsOurGroup(ReadOnlySpan<byte> field)
    {
        int end = field.IndexOf((byte)0);
        return (end < 0 ? field : field[..end]).SequenceEqual(_groupBytes);
    }

    /// <summary>Validated remote filename -> store path and local path; the error says why not.</summary>
    private bool TryLocate(string remote, out StorePath path, out string local, out string error)
    {
        if (!_paths.TryResolve(remote, out var found, out string? why))
        {
            path = null!;
            local = string.Empty;
            error = why;
            return false;
        }

        path = found;
        local = _paths.LocalPath(found, remote);
        error = string.Empty;
        return true;
    }

    private SemaphoreSlim LockFor(string remote) => _fileLocks[(uint)StringComparer.Ordinal.GetHashCode(remote) % StripeCount];

    private uint SourceFor(FdfsConnection connection)
    {
        uint source = SourceAddress;
        if (source != 0)
        {
            return source;
        }

        var local = connection.LocalEndPoint.Address;
        if (local.IsIPv4MappedToIPv6)
        {
            local = local.MapToIPv4();
        }

        return local.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            ? FileNames.AddressToNameField(local)
            : FileNames.AddressToNameField(IPAddress.Loopback);
    }

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private void Count(StatCounter counter, long value = 1) => Interlocked.Add(ref _stats.Ref(counter), value);

    /// <summary>Sends <c>g16 + remote filename</c> (upload answers) in one segment from the connection buffer.</summary>
    private async ValueTask SendFileIdAsync(FdfsConnection connection, StorageConnectionState state, string remote, CancellationToken cancellationToken)
    {
        var buffer = state.Buffer;
        int nameLength = Encoding.UTF8.GetBytes(remote, buffer.AsSpan(FdfsConstants.HeaderSize + FdfsConstants.GroupNameMaxLength));
        int bodyLength = FdfsConstants.GroupNameMaxLength + nameLength;
        PacketHeader.Response(bodyLength).Write(buffer);
        var group = buffer.AsSpan(FdfsConstants.HeaderSize, FdfsConstants.GroupNameMaxLength);
        group.Clear();
        _groupBytes.CopyTo(group);
        await connection.SendAsync(buffer.AsMemory(0, FdfsConstants.HeaderSize + bodyLength), cancellationToken);
    }

    private async ValueTask SendEmptyOkAsync(FdfsConnection connection, StorageConnectionState state, CancellationToken cancellationToken)
    {
        PacketHeader.Response(0).Write(state.Buffer);
        await connection.SendAsync(state.Buffer.AsMemory(0, FdfsConstants.HeaderSize), cancellationToken);
    }
}
