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
    {
        Caller = caller;
        Timeout = timeout;
        _source = CancellationTokenSource.CreateLinkedTokenSource(caller);
        _source.CancelAfter(timeout);
        Token = _source.Token;
    }

    /// <summary>
    /// A deadline inside a longer one (a commit's naming within the commit's bound): it fires at the earlier of the two,
    /// and its caller is the outer one's, so the outer deadline running out is still a timeout, not an interrupt.
    /// </summary>
    public OperationDeadline(TimeSpan timeout, OperationDeadline outer)
    {
        Caller = outer.Caller;
        Timeout = timeout;
        _source = CancellationTokenSource.CreateLinkedTokenSource(outer.Token);
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

    public void Dispose() => _source?.Dispose();
}
