using Microsoft.Extensions.Logging;

namespace FastDfs.Mount.Core;

/// <summary>
/// What bounds a cluster operation: the caller's token (cancelled when the caller gives up, a FUSE_INTERRUPT) and a
/// deadline, kept apart so that a cancellation says which one fired. <see cref="Token"/> fires on either; the
/// backend and the name service answer EINTR when <see cref="CallerCancelled"/>, a timeout otherwise.
/// </summary>
public sealed class OperationDeadline : IDisposable
{
    private readonly CancellationTokenSource? _source;

    /// <param name="caller">The caller's token: an interrupt, nothing else (none: only the deadline ends the operation).</param>
    public OperationDeadline(TimeSpan timeout, CancellationToken caller = default)
        : this(timeout, caller, caller)
    {
    }

    /// <summary>
    /// A deadline inside a longer one (a commit's naming within the commit's bound): it fires at the earlier of the two,
    /// and its caller is the outer one's, so the outer deadline running out is still a timeout, not an interrupt.
    /// </summary>
    public OperationDeadline(TimeSpan timeout, OperationDeadline outer)
        : this(timeout, outer.Caller, outer.Token)
    {
    }

    private OperationDeadline(TimeSpan timeout, CancellationToken caller, CancellationToken within)
    {
        Caller = caller;
        Timeout = timeout;
        _source = CancellationTokenSource.CreateLinkedTokenSource(within);
        _source.CancelAfter(timeout);
        Token = _source.Token;
    }

    private OperationDeadline()
    {
        Timeout = System.Threading.Timeout.InfiniteTimeSpan;
    }

    /// <summary>Never fires (callers bounded some other way, and tests).</summary>
    public static OperationDeadline None { get; } = new();

    /// <summary>The caller's token alone.</summary>
    public CancellationToken Caller { get; }

    /// <summary>Fires when the caller gives up or the deadline passes: what the operation's I/O waits on.</summary>
    public CancellationToken Token { get; }

    /// <summary>How long the operation was given (the timeout warnings name it).</summary>
    public TimeSpan Timeout { get; }

    /// <summary>
    /// The caller gave up. Checked before the deadline: when both fired, nobody waits for the answer any more, so an
    /// interrupt it is.
    /// </summary>
    public bool CallerCancelled => Caller.IsCancellationRequested;

    /// <summary>The deadline passed and the caller still waits.</summary>
    public bool Expired => Token.IsCancellationRequested && !Caller.IsCancellationRequested;

    /// <summary><paramref name="e"/> ended the operation because its caller gave up (a signal): the server is not to blame.</summary>
    public bool Interrupted(Exception e) => e is OperationCanceledException && CallerCancelled;

    /// <summary>
    /// The errno of an operation this deadline ended, the rule the backend and the name service share: EINTR (logged at
    /// debug level) when the caller gave up, EIO with the timeout warning when the deadline passed; 0 when
    /// <paramref name="e"/> is some other failure.
    /// </summary>
    internal int CancelledErrno(Exception e, ILogger logger, string operation, string target)
    {
        if (Interrupted(e))
        {
            MountLog.OperationInterrupted(logger, operation, target);
            return Errno.EINTR;
        }

        if (e is OperationCanceledException && Expired)
        {
            MountLog.OperationTimedOut(logger, operation, target, Timeout.TotalSeconds);
            return Errno.EIO;
        }

        return 0;
    }

    public void Dispose() => _source?.Dispose();
}
