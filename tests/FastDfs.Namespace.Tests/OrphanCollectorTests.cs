using System.Collections.Concurrent;
using System.Text;

namespace FastDfs.Namespace.Tests;

/// <summary>The collector over a real SQLite store: deletes what is due, retries failures, leaves named content alone.</summary>
public sealed class OrphanCollectorTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fdfs-ns-gc-" + Guid.NewGuid().ToString("N")[..8]);
    private SqliteNamespaceStore _store = null!;

    public async Task InitializeAsync()
    {
        _store = new SqliteNamespaceStore(Path.Combine(_dir, NamespaceSettings.SqliteFileName), TimeSpan.Zero);
        await _store.InitializeAsync(default);
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Failed_deletes_are_retried_and_completed_ones_leave_the_queue()
    {
        var root = await _store.RootAsync("group1", default);
        const string Flaky = "group1/M00/00/00/flaky.bin", Fine = "group1/M00/00/00/fine.bin", Named = "group1/M00/00/00/named.bin";
        foreach (string id in new[] { Flaky, Fine })
        {
            await _store.CreateAsync(root.Inode, Encoding.UTF8.GetBytes(Path.GetFileName(id)), 0x1A4, 0, 0, id, 1, 0, default);
            await _store.UnlinkAsync(root.Inode, Encoding.UTF8.GetBytes(Path.GetFileName(id)), default);
        }

        await _store.CreateAsync(root.Inode, "kept"u8.ToArray(), 0x1A4, 0, 0, Named, 1, 0, default);
        await _store.RegisterPendingAsync(Named, TimeSpan.Zero, default); // committed already: never deleted

        var calls = new ConcurrentQueue<string>();
        int flakyFailures = 0;
        var collector = new OrphanCollector(_store, (id, _) =>
        {
            calls.Enqueue(id);
            if (id == Flaky && Interlocked.Increment(ref flakyFailures) == 1)
            {
                throw new IOException("storage unreachable");
            }

            return ValueTask.FromResult(true);
        }, TimeSpan.FromMilliseconds(50));

        Assert.Equal(2, await collector.CollectOnceAsync(default));
        Assert.Equal(1, collector.Deleted);
        Assert.Equal(1, (await _store.StatFsAsync("group1", default)).QueuedOrphans); // the flaky one, due again in 1 s

        Assert.Equal(0, await collector.CollectOnceAsync(default)); // not due yet
        await _store.RetryOrphanAsync(Flaky, TimeSpan.Zero, "test: due now", default);
        Assert.Equal(1, await collector.CollectOnceAsync(default));
        Assert.Equal(2, collector.Deleted);
        Assert.Equal(0, (await _store.StatFsAsync("group1", default)).QueuedOrphans);
        Assert.Equal([Fine, Flaky, Flaky], calls.Order().ToArray());
        Assert.DoesNotContain(Named, calls);
    }

    [Fact]
    public async Task The_background_loop_collects_and_stops_on_cancel()
    {
        await _store.RegisterPendingAsync("group1/M00/00/00/lost.bin", TimeSpan.Zero, default);
        var deleted = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var collector = new OrphanCollector(_store, (id, _) =>
        {
            deleted.TrySetResult(id);
            return ValueTask.FromResult(true);
        }, TimeSpan.FromMilliseconds(20));
        using var cts = new CancellationTokenSource();
        var loop = collector.RunAsync(cts.Token);
        Assert.Equal("group1/M00/00/00/lost.bin", await deleted.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await cts.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
