using System.Net.Sockets;
using System.Text;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace FastDfs.Client;

/// <summary>The content of one <see cref="AppenderStream"/> request, put on the socket by its owner (e.g. spliced from a pipe).</summary>
public interface IRequestBody
{
    /// <summary>
    /// Writes exactly <paramref name="length"/> bytes to <paramref name="socket"/>, which is non-blocking: waits for
    /// room at most <paramref name="timeout"/> at a time. Throws <see cref="IOException"/> or
    /// <see cref="TimeoutException"/> when it cannot; the stream is then unusable.
    /// </summary>
    void WriteTo(Socket socket, int length, TimeSpan timeout);
}

/// <summary>
/// APPEND_FILE and MODIFY_FILE requests to one appender file, sent one after another on a connection of its own
/// without waiting for each answer (from <see cref="FastDfsClient.OpenAppenderStreamAsync"/>); the storage runs them in
/// order. The sender's thread puts each request on the
/// socket synchronously (so a body can be spliced straight from a pipe); the answers are read in the background. The
/// first failure sticks: later appends and <see cref="CompleteAsync"/> answer it. One sender at a time.
/// </summary>
public sealed class AppenderStream
{
    private const long AnswerLimit = 64;

    private readonly ClientConnection _connection;
    private readonly ILogger _logger;
    private readonly TimeSpan _timeout;
    private readonly byte[] _prefix;
    private readonly int _nameLength;
    private readonly SemaphoreSlim _sent = new(0);
    private readonly Task _answers;

    // Offset (-1 for an append) and length of each request not yet answered, in the order sent.
    private readonly System.Collections.Concurrent.ConcurrentQueue<(long Offset, int Length)> _unansweredRequests = new();
    private (long Offset, int Length)? _refused;
    private int _errno;
    private int _unanswered;
    private int _completing;

    internal AppenderStream(ClientConnection connection, FileId fileId, ILogger logger, TimeSpan timeout)
    {
        _connection = connection;
        _logger = logger;
        _timeout = timeout;
        FileId = fileId;
        _nameLength = fileId.RemoteFileName.Length;
        _prefix = new byte[FdfsConstants.HeaderSize + AppenderRequestHeader.FixedSize(StorageCommand.ModifyFile) + _nameLength];

        // Sends wait with poll under the sender's own timeout; the background receives are unaffected.
        connection.Connection.Socket.Blocking = false;
        _answers = Task.Run(ReadAnswersAsync);
    }

    public FileId FileId { get; }

    /// <summary>The storage it appends to, <c>ip:port</c>.</summary>
    public string Server => _connection.Pool.Name;

    /// <summary>The first failure (an errno), 0 while every request so far was sent and none was refused.</summary>
    public int Errno => Volatile.Read(ref _errno);

    /// <summary>
    /// Once <see cref="Errno"/> is the storage's refusal of a request (not a broken connection): that request's offset
    /// (-1 for an append) and length. Every request before it was stored; requests sent after it may have run too.
    /// </summary>
    public (long Offset, int Length)? Refused => Errno == 0 ? null : _refused;

    /// <summary>Appends <paramref name="length"/> bytes that <paramref name="body"/> writes; returns 0 or the stream's errno.</summary>
    public int Append(int length, IRequestBody body)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        return Send(StorageCommand.AppendFile, 0, length, body, default);
    }

    /// <summary>Appends <paramref name="data"/>; returns 0 or the stream's errno.</summary>
    public int Append(ReadOnlySpan<byte> data) => data.IsEmpty ? Errno : Send(StorageCommand.AppendFile, 0, data.Length, null, data);

    /// <summary>
    /// Overwrites <paramref name="length"/> bytes from <paramref name="offset"/> (which must lie within the file as
    /// the storage has it when the request runs) with what <paramref name="body"/> writes; returns 0 or the stream's errno.
    /// </summary>
    public int Modify(long offset, int length, IRequestBody body)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        return Send(StorageCommand.ModifyFile, offset, length, body, default);
    }

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="offset"/> (at most the file's size when the request runs: at
    /// the size it appends). Unlike an append, a request behind a refused one cannot land at the wrong place: the
    /// storage refuses an offset past the end (EINVAL) and closes the connection. Returns 0 or the stream's errno.
    /// </summary>
    public int Modify(long offset, ReadOnlySpan<byte> data)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        return data.IsEmpty ? Errno : Send(StorageCommand.ModifyFile, offset, data.Length, null, data);
    }

    private int Send(StorageCommand command, long offset, int length, IRequestBody? body, ReadOnlySpan<byte> data)
    {
        // After CompleteAsync the connection may be another request's (pooled): writing to it would corrupt that one.
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _completing) != 0, this);
        if (Errno is var failed and not 0)
        {
            return failed;
        }

        int fixedLength = AppenderRequestHeader.FixedSize(command);
        int prefixLength = FdfsConstants.HeaderSize + fixedLength + _nameLength;
        new PacketHeader(fixedLength + _nameLength + length, (byte)command, 0).Write(_prefix);
        new AppenderRequestHeader(_nameLength, offset, length).Write(command, _prefix.AsSpan(FdfsConstants.HeaderSize));
        Encoding.ASCII.GetBytes(FileId.RemoteFileName, _prefix.AsSpan(FdfsConstants.HeaderSize + fixedLength));
        var socket = _connection.Connection.Socket;
        _unansweredRequests.Enqueue((command == StorageCommand.ModifyFile ? offset : -1, length));
        try
        {
            SendAll(socket, _prefix.AsSpan(0, prefixLength), _timeout);
            if (body is not null)
            {
                body.WriteTo(socket, length, _timeout);
            }
            else
            {
                SendAll(socket, data, _timeout);
            }
        }
        catch (Exception e) when (e is SocketException or IOException or TimeoutException or ObjectDisposedException)
        {
            ClientLog.AppendStreamFailed(_logger, Server, e.Message);
            if (e is not TimeoutException)
            {
                TakeLastAnswers();
            }

            Fail(e is TimeoutException ? FdfsErrno.ETIMEDOUT : FdfsErrno.EIO);

            // The storage holds part of a request and waits for the rest: closing ends the background reader now.
            _connection.Connection.Dispose();
            return Errno;
        }

        Sent();
        return 0;
    }

    /// <summary>One more request for the background reader to expect an answer to.</summary>
    private void Sent()
    {
        Interlocked.Increment(ref _unanswered);
        _sent.Release();
    }

    /// <summary>
    /// After a send that failed other than by a timeout: the storage may have refused an earlier request and closed the
    /// connection (its errno, not EIO, is the answer), or holds part of this request. Ending our side lets it finish
    /// what it has and close; the reader takes every answer sent before that, within the network timeout.
    /// </summary>
    private void TakeLastAnswers()
    {
        if (Errno != 0)
        {
            return;
        }

        try
        {
            _connection.Connection.Socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already reset by the storage: the reader sees that too.
        }

        // The broken request counts as unanswered: the reader waits for its answer, which is the end of the connection.
        Sent();
        Task.WaitAny([_answers], _timeout);
    }

    /// <summary>Waits until a non-blocking socket takes bytes again; <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public static void WaitForRoom(Socket socket, TimeSpan timeout)
    {
        if (!socket.Poll(timeout, SelectMode.SelectWrite))
        {
            throw new TimeoutException($"the storage took no data for {timeout.TotalSeconds:0.###} s");
        }
    }

    /// <summary>Writes all of <paramref name="data"/> to a non-blocking socket, waiting for room at most <paramref name="timeout"/> at a time.</summary>
    public static void SendAll(Socket socket, ReadOnlySpan<byte> data, TimeSpan timeout)
    {
        while (!data.IsEmpty)
        {
            int n = socket.Send(data, SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
            {
                WaitForRoom(socket, timeout);
                continue;
            }

            if (error != SocketError.Success)
            {
                throw new SocketException((int)error);
            }

            data = data[n..];
        }
    }

    /// <summary>
    /// Waits for every answer and gives the connection back; returns 0 or the first failure. The stream is unusable
    /// afterwards (appending or completing again throws <see cref="ObjectDisposedException"/>). If
    /// <paramref name="cancellationToken"/> fires first, the connection is closed and EINTR answered.
    /// </summary>
    public async ValueTask<int> CompleteAsync(CancellationToken cancellationToken)
    {
        // A second completion would give the connection back twice.
        ObjectDisposedException.ThrowIf(Interlocked.Exchange(ref _completing, 1) != 0, this);
        _sent.Release(); // wakes the reader once more: with nothing unanswered, it ends
        try
        {
            await _answers.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Fail(FdfsErrno.EINTR);

            // Ends the reader's wait for an answer: it must be done with the connection before the pool disposes it.
            _connection.Connection.Dispose();
            await _answers.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (Errno == 0 && Volatile.Read(ref _unanswered) == 0)
        {
            try
            {
                _connection.Connection.Socket.Blocking = true;
                _connection.Pool.Return(_connection);
                return 0;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                Fail(FdfsErrno.EIO);
            }
        }

        // Unanswered requests may still arrive on it: never reuse it.
        _connection.Pool.Release(_connection, "append stream ended with errno " + Errno);
        return Errno;
    }

    private async Task ReadAnswersAsync()
    {
        while (true)
        {
            await _sent.WaitAsync();
            if (Volatile.Read(ref _unanswered) == 0)
            {
                return; // the completion signal, every request answered
            }

            var token = _connection.Begin(default);
            try
            {
                var (status, _) = await _connection.Connection.ReadResponseAsync(AnswerLimit, token);
                _unansweredRequests.TryDequeue(out var request);
                if (status != 0)
                {
                    ClientLog.ServerError(_logger, "APPEND_FILE (24) / MODIFY_FILE (34)", Server, status);
                    if (Errno == 0)
                    {
                        _refused = request; // before Fail publishes the errno
                    }

                    Fail(status);
                    return;
                }
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException or FdfsProtocolException)
            {
                bool timedOut = token.IsCancellationRequested;
                if (Errno == 0)
                {
                    ClientLog.AppendStreamFailed(_logger, Server, timedOut ? $"no answer within {_timeout.TotalSeconds:0.###} s" : e.Message);
                }

                Fail(timedOut ? FdfsErrno.ETIMEDOUT : FdfsErrno.EIO);
                return;
            }
            finally
            {
                _connection.End();
            }

            Interlocked.Decrement(ref _unanswered);
        }
    }

    private void Fail(int errno) => Interlocked.CompareExchange(ref _errno, errno, 0);
}
