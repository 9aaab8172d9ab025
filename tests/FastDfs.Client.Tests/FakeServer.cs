using System.Collections.Concurrent;
using System.Net;
using FastDfs.Net;
using FastDfs.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastDfs.Client.Tests;

/// <summary>One request as the fake server saw it.</summary>
public sealed record Received(long ConnectionId, PacketHeader Header, byte[] Body)
{
    /// <summary>Header + body exactly as they came over the wire.</summary>
    public byte[] Wire => [.. Header.ToArray(), .. Body];
}

/// <summary>What a script answers: a status and body, or nothing (hang), or a close.</summary>
public abstract record Reply
{
    public static Reply Ok(byte[]? body = null) => new Answer(0, body ?? []);

    public static Reply Error(byte errno) => new Answer(errno, []);

    public static Reply Hang { get; } = new HangReply();

    public static Reply Close { get; } = new CloseReply();

    public sealed record Answer(byte Status, byte[] Body) : Reply;

    public sealed record HangReply : Reply;

    public sealed record CloseReply : Reply;
}

/// <summary>A scripted FastDFS server on 127.0.0.1 and an ephemeral port, built on the real <see cref="FdfsServer"/>.</summary>
public sealed class FakeServer : IFdfsRequestHandler, IAsyncDisposable
{
    private readonly FdfsServer _server;
    private readonly Func<Received, Reply> _script;
    private readonly ConcurrentDictionary<long, bool> _connections = new();

    public FakeServer(Func<Received, Reply> script)
    {
        _script = script;
        _server = new FdfsServer(new IPEndPoint(IPAddress.Loopback, 0), this, NullLogger.Instance);
        _server.Start();
    }

    public int Port => _server.EndPoint.Port;

    public string Address => $"127.0.0.1:{Port}";

    public ConcurrentQueue<Received> Requests { get; } = new();

    /// <summary>Distinct TCP connections that sent at least one request.</summary>
    public int ConnectionCount => _connections.Count;

    public async ValueTask<bool> HandleAsync(FdfsConnection connection, PacketHeader header, ConnectionContext context, CancellationToken cancellationToken)
    {
        var body = new byte[header.BodyLength];
        await connection.ReadExactlyAsync(body, cancellationToken);
        var received = new Received(context.Id, header, body);
        _connections[context.Id] = true;
        Requests.Enqueue(received);
        switch (_script(received))
        {
            case Reply.Answer a when a.Status != 0:
                await connection.SendErrorAsync(a.Status, cancellationToken);
                return true;
            case Reply.Answer a:
                await connection.SendResponseAsync(a.Body, cancellationToken);
                return true;
            case Reply.HangReply:
                await Task.Delay(Timeout.Infinite, cancellationToken);
                return false;
            default:
                return false;
        }
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    /// <summary>A port nobody listens on (bound then released).</summary>
    public static int ClosedPort()
    {
        using var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}
