namespace FastDfs.Mount.Core;

/// <summary>
/// The mount-wide budget of data buffers beyond each file's minimum (<see cref="MountOptions.MaxBuffers"/>): queued
/// write chunks wait for it (<see cref="ReserveAsync"/>), read-ahead takes it only when free (<see cref="TryReserve"/>).
/// Every reservation is given back exactly once with <see cref="Release"/>, when its buffer goes back to the pool.
/// Callers reserve per chunk, so the lock is taken once per chunk, never per write.
/// </summary>
public sealed class BufferBudget
{
    private readonly Lock _lock = new();

    // Waiting reservations, first come first served: a small one never overtakes a large one that waits.
    private readonly LinkedList<Waiter> _waiters = [];
    private readonly Action? _exhausted;
    private long _reserved;
    private long _peak;
    private int _exhaustedOnce;

    /// <param name="capacity">Bytes that may be reserved at once.</param>
    /// <param name="exhausted">Called once, the first time a reservation has to wait or is refused.</param>
    public BufferBudget(long capacity, Action? exhausted = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Capacity = capacity;
        _exhausted = exhausted;
    }

    public long Capacity { get; }

    /// <summary>Bytes reserved now.</summary>
    public long Reserved => Volatile.Read(ref _reserved);

    /// <summary>The most bytes reserved at any one time (tests, diagnostics).</summary>
    public long Peak => Volatile.Read(ref _peak);

    /// <summary>Reservations waiting now.</summary>
    public int Waiting
    {
        get
        {
            lock (_lock)
            {
                return _waiters.Count;
            }
        }
    }

    /// <summary>
    /// Reserves <paramref name="bytes"/> if that leaves at least <paramref name="keepFree"/> bytes unreserved and
    /// nobody waits (whoever waits comes first). Never waits.
    /// </summary>
    public bool TryReserve(long bytes, long keepFree = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        lock (_lock)
        {
            if (_waiters.Count == 0 && _reserved + bytes + keepFree <= Capacity)
            {
                Take(bytes);
                return true;
            }
        }

        NoteExhausted();
        return false;
    }

    /// <summary>
    /// Reserves <paramref name="bytes"/>, waiting in line until they fit. A request larger than the whole budget is
    /// granted once nothing else is reserved, so no request waits forever. Cancelled: throws
    /// <see cref="OperationCanceledException"/> and nothing stays reserved.
    /// </summary>
    public async ValueTask ReserveAsync(long bytes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        Waiter waiter;
        lock (_lock)
        {
            if (_waiters.Count == 0 && Fits(bytes))
            {
                Take(bytes);
                return;
            }

            cancellationToken.ThrowIfCancellationRequested();
            waiter = new Waiter(this, bytes);
            waiter.Node = _waiters.AddLast(waiter);
        }

        NoteExhausted();

        // The grant and the cancellation both decide under the lock: whichever comes first wins, exactly once.
        using (cancellationToken.UnsafeRegister(static (state, token) => ((Waiter)state!).Cancel(token), waiter))
        {
            await waiter.Task;
        }
    }

    /// <summary>Gives back bytes reserved before; waiting reservations that now fit are granted in order.</summary>
    public void Release(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        lock (_lock)
        {
            if (bytes > _reserved)
            {
                // A buffer given back twice: the budget would grow past the cap unnoticed.
                throw new InvalidOperationException($"releasing {bytes} bytes of {_reserved} reserved");
            }

            _reserved -= bytes;
            GrantWaiters();
        }
    }

    private bool Fits(long bytes) => _reserved + bytes <= Capacity || _reserved == 0;

    private void Take(long bytes)
    {
        _reserved += bytes;
        if (_reserved > _peak)
        {
            Volatile.Write(ref _peak, _reserved);
        }
    }

    private void GrantWaiters()
    {
        while (_waiters.First is { } first && Fits(first.Value.Bytes))
        {
            _waiters.RemoveFirst();
            first.Value.Node = null;
            Take(first.Value.Bytes);
            first.Value.TrySetResult(); // continuations run asynchronously: not under this lock
        }
    }

    private void Cancel(Waiter waiter, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (waiter.Node is not { } node)
            {
                return; // granted already: the caller holds the bytes and gives them back
            }

            _waiters.Remove(node);
            waiter.Node = null;
            waiter.TrySetCanceled(cancellationToken);

            // The one that left may have been the large one at the head holding smaller ones back.
            GrantWaiters();
        }
    }

    private void NoteExhausted()
    {
        if (_exhausted is not null && Interlocked.Exchange(ref _exhaustedOnce, 1) == 0)
        {
            _exhausted();
        }
    }

    private sealed class Waiter(BufferBudget budget, long bytes) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public long Bytes { get; } = bytes;

        // In the waiting list while not null (guarded by the budget's lock).
        public LinkedListNode<Waiter>? Node { get; set; }

        public void Cancel(CancellationToken cancellationToken) => budget.Cancel(this, cancellationToken);
    }
}
