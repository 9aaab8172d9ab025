using System.Runtime.CompilerServices;

namespace FastDfs.Storage;

/// <summary>
/// fdfs-storaged runs socket completions inline on the runtime's socket event threads (one per core), so a
/// download served from the page cache costs no thread-pool hop. Work that may wait for the disk (a cold read,
/// an ext4 journal handle for a create, link, unlink or write) must not stall the other connections of an event
/// thread: it first moves to the thread pool with <c>await EventThread.Leave()</c>. On a pool thread, which is
/// where everything runs when inline completions are off, leaving costs nothing.
/// </summary>
internal static class EventThread
{
    /// <summary>True on a socket event thread (or any other non-pool thread), where waiting for the disk is not allowed.</summary>
    public static bool IsCurrent => !Thread.CurrentThread.IsThreadPoolThread;

    public static LeaveAwaitable Leave() => default;

    /// <summary>Completes at once on a pool thread; elsewhere continues on the thread pool.</summary>
    public readonly struct LeaveAwaitable : ICriticalNotifyCompletion
    {
        public bool IsCompleted => Thread.CurrentThread.IsThreadPoolThread;

        public LeaveAwaitable GetAwaiter() => this;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation) =>
            ThreadPool.QueueUserWorkItem(static run => run(), continuation, preferLocal: false);

        public void UnsafeOnCompleted(Action continuation) =>
            ThreadPool.UnsafeQueueUserWorkItem(static run => run(), continuation, preferLocal: false);
    }
}
