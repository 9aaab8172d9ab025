namespace FastDfs.Protocol;

/// <summary>
/// A packet or field that does not follow the wire format. Carries the errno a FastDFS server answers
/// with for it (almost always EINVAL).
/// </summary>
public sealed class FdfsProtocolException : Exception
{
    public FdfsProtocolException(string message, byte errno = FdfsErrno.EINVAL)
        : base(message) => Errno = errno;

    public byte Errno { get; }

    internal static FdfsProtocolException Truncated(string what, int need, int have) =>
        new($"{what}: need {need} bytes, got {have}");
}
