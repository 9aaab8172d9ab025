using FastDfs.Protocol;

namespace FastDfs.Client;

/// <summary>Base of every error the client reports; <see cref="Errno"/> is the Linux errno closest to the failure.</summary>
public class FdfsException : Exception
{
    public FdfsException(string message, int errno, Exception? innerException = null)
        : base(message, innerException) => Errno = errno;

    public int Errno { get; }

    /// <summary>The message without the server/command details (what the CLI prints).</summary>
    public virtual string Reason => Message;
}

/// <summary>The server answered with a non-zero status.</summary>
public sealed class FdfsServerException : FdfsException
{
    public FdfsServerException(int errno, string command, string server, bool fileOperation)
        : base($"{FormatReason(errno, fileOperation)} ({command} on {server})", errno)
    {
        Command = command;
        Server = server;
        Reason = FormatReason(errno, fileOperation);
    }

    /// <summary>The request that failed, e.g. <c>DOWNLOAD_FILE (14)</c>.</summary>
    public string Command { get; }

    /// <summary>The server that answered, <c>ip:port</c>.</summary>
    public string Server { get; }

    public override string Reason { get; }

    /// <summary><c>ENOENT (2): file not found</c>.</summary>
    public static string FormatReason(int errno, bool fileOperation)
    {
        string text = errno switch
        {
            FdfsErrno.ENOENT when fileOperation => "file not found",
            FdfsErrno.ENOENT => "not found (no such group, storage or no storage available)",
            FdfsErrno.EINVAL => "invalid argument",
            FdfsErrno.EEXIST => "file already exists",
            FdfsErrno.ENOSPC => "no space left on the storage",
            FdfsErrno.EBUSY => "busy (storage still online?)",
            _ => FdfsErrno.Describe(errno),
        };
        return $"{FdfsErrno.Name(errno)} ({errno}): {text}";
    }
}

/// <summary>No tracker or storage could be reached, or a connection broke during a request.</summary>
public sealed class FdfsConnectionException : FdfsException
{
    public FdfsConnectionException(string message, IReadOnlyList<string> addressesTried, Exception? innerException = null)
        : base(message, FdfsErrno.ECONNREFUSED, innerException) => AddressesTried = addressesTried;

    public IReadOnlyList<string> AddressesTried { get; }
}

/// <summary>A server did not answer within <c>network_timeout</c>; the connection was closed.</summary>
public sealed class FdfsTimeoutException : FdfsException
{
    public FdfsTimeoutException(string message, Exception? innerException = null)
        : base(message, FdfsErrno.ETIMEDOUT, innerException)
    {
    }
}
