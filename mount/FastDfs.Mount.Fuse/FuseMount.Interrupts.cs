using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace FastDfs.Mount.Fuse;

/// <summary>
/// FUSE_INTERRUPT. A request that goes asynchronous registers an interrupt callback (fuse-binding notes 2.4); when
/// the caller gets a signal, the callback queues <see cref="PendingRequest.Execute"/> to the thread pool, which
/// answers EINTR and cancels the request's token where the core can stop safely (reads: at once). Everything else
/// (lookups, name changes, writes, flush, fsync) cannot be stopped and keeps its real answer for
/// <see cref="FuseMount.InterruptGrace"/>: EINTR tells the caller nothing happened, so a mkdir, an O_APPEND write or a rename
/// that then completes and is retried would fail with EEXIST or ENOENT, or append twice. Only a request still waiting
/// after the grace (a frozen or dead server) is answered EINTR; it runs to its own end in the background, its result
/// updating the caches but not sent. Synchronous answers (cache hits, read-ahead memory) never register.
/// </summary>
public sealed unsafe partial class FuseMount
{
    // The callback's data is this id, not a GCHandle: libfuse may call the callback with the data it read just
    // before our reply cleared it, so the data must stay meaningful after the request is gone; a stale id finds nothing.
    private static readonly ConcurrentDictionary<nint, PendingRequest> s_pending = new();
    private static long s_nextPendingId;

    // One token source per receive thread, lent to reads: it only leaves the thread with a read that goes asynchronous.
    [ThreadStatic]
    private static CancellationTokenSource? t_spareCancellation;

    /// <summary>Requests waiting for an answer that an interrupt can end (diagnostics and tests).</summary>
    internal static int InterruptibleCount => s_pending.Count;

    /// <summary>A token for a read on this receive thread; see <see cref="KeepSpareCancellation"/>.</summary>
    private static CancellationTokenSource SpareCancellation() => t_spareCancellation ??= new CancellationTokenSource();

    /// <summary>The read finished synchronously: its token stays on this thread for the next one.</summary>
    private static void KeepSpareCancellation(CancellationTokenSource cancellation)
    {
        if (!cancellation.TryReset())
        {
            t_spareCancellation = null;
        }
    }

    /// <summary>
    /// Registers <paramref name="req"/> for interrupts; call before anything else may answer it. The caller answers
    /// through <see cref="PendingRequest.TryAnswer"/> and ends with <see cref="PendingRequest.Unregister"/>.
    /// </summary>
    /// <param name="cancellation">Cancelled on interrupt (null: the operation runs to its own end).</param>
    private static PendingRequest RegisterInterruptible(nint req, string operation, CancellationTokenSource? cancellation)
    {
        if (cancellation is not null && ReferenceEquals(cancellation, t_spareCancellation))
        {
            t_spareCancellation = null; // it now belongs to this request
        }

        var pending = new PendingRequest(req, (nint)Interlocked.Increment(ref s_nextPendingId), operation, cancellation);
        s_pending[pending.Id] = pending;

        // Calls OnInterrupt at once (with libfuse's request lock held) if the interrupt came first.
        LibFuse.RequestInterruptFunc(req, &OnInterrupt, pending.Id);
        pending.Registered();
        return pending;
    }

    /// <summary>
    /// Runs on a receive thread (or inside the registration) with the request's lock held by libfuse: only signal.
    /// </summary>
    [UnmanagedCallersOnly]
    private static void OnInterrupt(nint req, nint data)
    {
        if (s_pending.TryGetValue(data, out var pending))
        {
            pending.Interrupted();
        }
    }

    private sealed class PendingRequest(nint req, nint id, string operation, CancellationTokenSource? cancellation) : IThreadPoolWorkItem
    {
        private const int RegisteredBit = 1;
        private const int InterruptedBit = 2;
        private const int AnsweredBit = 4;

        private int _state;

        public nint Req => req;

        public nint Id => id;

        /// <summary>The kernel asked to interrupt it; set on the receive thread before EINTR is answered.</summary>
        public bool WasInterrupted => (Volatile.Read(ref _state) & InterruptedBit) != 0;

        /// <summary>True for exactly one caller: the completion or the interrupt, whichever comes first.</summary>
        public bool TryAnswer() => (Interlocked.Or(ref _state, AnsweredBit) & AnsweredBit) == 0;

        public void Unregister() => s_pending.TryRemove(id, out _);

        /// <summary>
        /// fuse_req_interrupt_func has returned. An interrupt seen during the call is acted on only now: answering
        /// from another thread while libfuse still held the request inside that call could free it under libfuse.
        /// </summary>
        public void Registered()
        {
            if ((Interlocked.Or(ref _state, RegisteredBit) & InterruptedBit) != 0)
            {
                Schedule();
            }
        }

        public void Interrupted()
        {
            int before = Interlocked.Or(ref _state, InterruptedBit);
            if ((before & (RegisteredBit | InterruptedBit)) == RegisteredBit)
            {
                Schedule();
            }
        }

        /// <summary>Not inline: a reply or cancellation continuations must not run under libfuse's lock.</summary>
        private void Schedule()
        {
            if (cancellation is not null)
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                return;
            }

            // Task.Delay's timer is rooted while it waits (an unreferenced Timer could be collected first).
            _ = Task.Delay(Current.InterruptGrace).ContinueWith(
                static (_, state) => ((PendingRequest)state!).Execute(), this, CancellationToken.None,
                TaskContinuationOptions.None, TaskScheduler.Default);
        }

        /// <summary>On the thread pool: EINTR now (libfuse still needs one reply), then stop what can stop.</summary>
        public void Execute()
        {
            if (TryAnswer())
            {
                LibFuse.ReplyErr(req, EINTR);
                FuseLog.Interrupted(Current._logger, operation);
            }

            cancellation?.Cancel();
        }
    }
}
