using System.Security.Cryptography;
using FastDfs.Mount.Core;
using Xunit;

namespace FastDfs.Mount.Tests;

/// <summary>
/// The mount-wide budget of data buffers (max_buffers): the accounting type itself, then the writer and read-ahead
/// under a budget of a few chunks on the in-memory backend. Through FUSE against real daemons in
/// <see cref="BufferBudgetMountTests"/>.
/// </summary>
public class BufferBudgetTests
{
    private const int Chunk = 64 * 1024;
    private const string FileKey = "group1/M00/00/00/fwAAA2sFwIKAdS55AAAD6Peho3g674.txt";
    private readonly MemoryBackend _backend = new();
    private readonly MemoryNames _names = new();

    // ------------------------------------------------------------------ the accounting type

    [Fact]
    public void Reservations_add_up_to_the_capacity_and_releases_give_them_back()
    {
        var budget = new BufferBudget(3 * Chunk);
        Assert.True(budget.TryReserve(Chunk));
        Assert.True(budget.TryReserve(2 * Chunk));
        Assert.False(budget.TryReserve(1));
        Assert.Equal(3 * Chunk, budget.Reserved);

        budget.Release(Chunk);
        Assert.Equal(2 * Chunk, budget.Reserved);
        Assert.False(budget.TryReserve(Chunk, keepFree: 1)); // would leave nothing free
        Assert.True(budget.TryReserve(Chunk));
        budget.Release(3 * Chunk);
        Assert.Equal(0, budget.Reserved);
        Assert.Equal(3 * Chunk, budget.Peak);
    }

    [Fact]
    public void Giving_back_more_than_is_reserved_is_refused()
    {
        var budget = new BufferBudget(Chunk);
        Assert.True(budget.TryReserve(Chunk));
        budget.Release(Chunk);
        Assert.Throws<InvalidOperationException>(() => budget.Release(Chunk));
        Assert.Equal(0, budget.Reserved);
    }

    [Fact]
    public async Task A_waiting_reservation_is_granted_by_a_release_and_comes_before_later_tries()
    {
        var budget = new BufferBudget(2 * Chunk);
        await budget.ReserveAsync(2 * Chunk, CancellationToken.None); // fits: no wait
        var waiting = budget.ReserveAsync(Chunk, CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, budget.Waiting);

        budget.Release(Chunk);
        Assert.Equal(2 * Chunk, budget.Reserved); // granted at once, to the one waiting
        await waiting;
        Assert.Equal(0, budget.Waiting);

        // Room again, but whoever waits comes first: a try neither overtakes nor waits.
        var second = budget.ReserveAsync(Chunk, CancellationToken.None).AsTask();
        budget.Release(Chunk);
        Assert.False(budget.TryReserve(Chunk));
        await second;
        budget.Release(2 * Chunk);
        Assert.Equal(0, budget.Reserved);
    }

    [Fact]
    public async Task Waiters_are_served_in_order_and_a_large_one_holds_smaller_ones_back()
    {
        var budget = new BufferBudget(4 * Chunk);
        Assert.True(budget.TryReserve(4 * Chunk));
        var large = budget.ReserveAsync(3 * Chunk, CancellationToken.None).AsTask();
        var small = budget.ReserveAsync(Chunk, CancellationToken.None).AsTask();

        budget.Release(2 * Chunk); // 2 free: the small one would fit, but the large one is first
        Assert.False(large.IsCompleted);
        Assert.False(small.IsCompleted);
        Assert.Equal(2 * Chunk, budget.Reserved);

        budget.Release(2 * Chunk);
        await large;
        await small;
        Assert.Equal(4 * Chunk, budget.Reserved);
        budget.Release(4 * Chunk);
        Assert.Equal(0, budget.Reserved);
    }

    [Fact]
    public async Task A_cancelled_wait_holds_nothing_and_lets_the_ones_behind_it_through()
    {
        var budget = new BufferBudget(4 * Chunk);
        Assert.True(budget.TryReserve(3 * Chunk));
        using var cancel = new CancellationTokenSource();
        var large = budget.ReserveAsync(2 * Chunk, cancel.Token).AsTask();
        var small = budget.ReserveAsync(Chunk, CancellationToken.None).AsTask();
        Assert.Equal(2, budget.Waiting);

        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => large);
        await small; // fitted all along, held back only by the large one
        Assert.Equal(0, budget.Waiting);
        Assert.Equal(4 * Chunk, budget.Reserved);

        // A token cancelled after the grant changes nothing: the bytes are the caller's until it gives them back.
        budget.Release(Chunk);
        using var late = new CancellationTokenSource();
        await budget.ReserveAsync(Chunk, late.Token);
        late.Cancel();
        Assert.Equal(4 * Chunk, budget.Reserved);
        budget.Release(4 * Chunk);
        Assert.Equal(0, budget.Reserved);

        // Already cancelled and no room: throws at once, queues nothing.
        Assert.True(budget.TryReserve(4 * Chunk));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => budget.ReserveAsync(Chunk, cancel.Token).AsTask());
        Assert.Equal(0, budget.Waiting);
        budget.Release(4 * Chunk);
        Assert.Equal(0, budget.Reserved);
    }

    [Fact]
    public async Task A_request_larger_than_the_budget_gets_it_all_once_nothing_else_is_reserved()
    {
        var budget = new BufferBudget(Chunk);
        Assert.True(budget.TryReserve(Chunk / 2));
        var oversized = budget.ReserveAsync(2 * Chunk, CancellationToken.None).AsTask();
        Assert.False(oversized.IsCompleted);

        budget.Release(Chunk / 2);
        await oversized;
        Assert.Equal(2 * Chunk, budget.Reserved);
        Assert.False(budget.TryReserve(2 * Chunk)); // never for a try
        budget.Release(2 * Chunk);
    }

    [Fact]
    public async Task Running_out_is_reported_once()
    {
        int reported = 0;
        var budget = new BufferBudget(Chunk, () => reported++);
        Assert.True(budget.TryReserve(Chunk));
        Assert.Equal(0, reported);

        Assert.False(budget.TryReserve(Chunk));
        var waiting = budget.ReserveAsync(Chunk, CancellationToken.None).AsTask();
        Assert.False(budget.TryReserve(1));
        budget.Release(Chunk);
        await waiting;
        budget.Release(Chunk);
        Assert.Equal(1, reported);
    }

    [Fact]
    public async Task Many_tasks_reserving_and_releasing_at_once_never_exceed_the_capacity()
    {
        var budget = new BufferBudget(3 * Chunk);
        var workers = Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            for (int i = 0; i < 500; i++)
            {
                long bytes = ((i + worker) % 3) + 1;
                if (i % 2 == 0)
                {
                    await budget.ReserveAsync(bytes * Chunk, CancellationToken.None);
                }
                else if (!budget.TryReserve(bytes * Chunk))
                {
                    continue;
                }

                Assert.InRange(budget.Reserved, bytes * Chunk, 3 * Chunk);
                budget.Release(bytes * Chunk);
            }
        }));

        await Task.WhenAll(workers);
        Assert.Equal(0, budget.Reserved);
        Assert.Equal(0, budget.Waiting);
        Assert.InRange(budget.Peak, Chunk, 3 * Chunk);
    }

    // ------------------------------------------------------------------ writers

    private FileSystem NewWriterFs(long maxBuffers) => new(_backend, _names, new MountOptions
    {
        WriteChunkSize = Chunk,
        WriteChunks = 2,
        MaxBuffers = maxBuffers,
        OperationTimeout = TimeSpan.FromSeconds(10),
    });

    private static async Task<ulong> CreateAsync(FileSystem fs, string name)
    {
        var group = await fs.LookupAsync(InodeTable.RootIno, "group1");
        Assert.True(group.IsOk, $"errno {group.Errno}");
        var created = await fs.CreateAsync(group.Value.Ino, name, NodeAttributes.S_IFREG | 0x1A4, 1000, 1000, 0x41);
        Assert.True(created.IsOk, $"errno {created.Errno}");
        return created.Value.Open.Handle;
    }

    private async Task<byte[]> StoredAsync(string name)
    {
        var attributes = await _names.LookupAsync(1, name, OperationDeadline.None);
        Assert.True(attributes.IsOk, $"{name}: errno {attributes.Errno}");
        return _backend.Files[attributes.Value.FileId!];
    }

    [Fact]
    public async Task Many_files_written_at_once_under_a_budget_of_two_chunks_wait_for_it_and_all_arrive_whole()
    {
        const int Files = 12;
        await using var fs = NewWriterFs(2 * Chunk);
        var handles = new ulong[Files];
        var data = new byte[Files][];
        for (int i = 0; i < Files; i++)
        {
            handles[i] = await CreateAsync(fs, $"f{i}");
            data[i] = RandomNumberGenerator.GetBytes((4 * Chunk) + (i * 1000) + 1);
        }

        // A frozen storage: the first two files' first chunks take the budget; the others wait for it, each with
        // its chunk still filled in memory (every writer has its chunk being filled outside the budget).
        _backend.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = new Task<FsResult<int>>[Files];
        for (int i = 0; i < Files; i++)
        {
            first[i] = fs.WriteAsync(handles[i], 0, data[i].AsMemory(0, Chunk)).AsTask();
        }

        Assert.True(first[0].IsCompleted && first[1].IsCompleted, "the first two chunks fit the budget");
        Assert.All(first[2..], t => Assert.False(t.IsCompleted));
        Assert.Equal(Files - 2, fs.Buffers.Waiting);
        Assert.Equal(2 * Chunk, fs.Buffers.Reserved);

        _backend.Gate.SetResult();
        await Task.WhenAll(Enumerable.Range(0, Files).Select(i => Task.Run(async () =>
        {
            Assert.True((await first[i]).IsOk);
            for (int at = Chunk; at < data[i].Length; at += 10_000)
            {
                var written = await fs.WriteAsync(handles[i], at, data[i].AsMemory(at, Math.Min(10_000, data[i].Length - at)));
                Assert.True(written.IsOk, $"file {i} at {at}: errno {written.Errno}");
            }

            Assert.Equal(0, await fs.FlushAsync(handles[i]));
        })));

        for (int i = 0; i < Files; i++)
        {
            Assert.Equal(data[i], await StoredAsync($"f{i}"));
            fs.Release(handles[i]);
        }

        Assert.Equal(2 * Chunk, fs.Buffers.Peak);
        Assert.Equal(0, fs.Buffers.Reserved);
        Assert.Equal(0, fs.Buffers.Waiting);
    }

    [Fact]
    public async Task A_write_that_gives_up_waiting_for_the_budget_keeps_its_bytes_and_releases_nothing_twice()
    {
        await using var fs = NewWriterFs(Chunk);
        ulong a = await CreateAsync(fs, "a");
        ulong b = await CreateAsync(fs, "b");
        byte[] dataA = RandomNumberGenerator.GetBytes(Chunk + 5);
        byte[] dataB = RandomNumberGenerator.GetBytes(Chunk);

        _backend.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True((await fs.WriteAsync(a, 0, dataA)).IsOk); // its full chunk holds the whole budget
        using (var cancel = new CancellationTokenSource())
        {
            var waiting = fs.WriteAsync(b, 0, dataB, cancel.Token).AsTask();
            Assert.False(waiting.IsCompleted);
            Assert.Equal(1, fs.Buffers.Waiting);
            cancel.Cancel(); // as an interrupt or the deadline
            Assert.Equal(Errno.EIO, (await waiting).Errno);
        }

        Assert.Equal(0, fs.Buffers.Waiting);
        Assert.Equal(Chunk, fs.Buffers.Reserved);

        // The bytes stayed in b's chunk: the flush ships them once the storage runs again.
        _backend.Gate.SetResult();
        Assert.Equal(0, await fs.FlushAsync(a));
        Assert.Equal(0, await fs.FlushAsync(b));
        Assert.Equal(dataA, await StoredAsync("a"));
        Assert.Equal(dataB, await StoredAsync("b"));
        fs.Release(a);
        fs.Release(b);
        Assert.Equal(0, fs.Buffers.Reserved);
        Assert.Equal(Chunk, fs.Buffers.Peak);
    }

    // ------------------------------------------------------------------ read-ahead

    [Fact]
    public async Task Read_ahead_pauses_while_the_budget_is_used_up_and_resumes_once_it_frees()
    {
        const int Piece = 16 * 1024;
        byte[] data = RandomNumberGenerator.GetBytes((20 * Chunk) + 333);
        _backend.Files[FileKey] = data;

        // Streams off: every fetch is one request of the in-memory backend, done before the read returns.
        var options = new MountOptions { ReadAheadChunkSize = Chunk, ReadAheadChunks = 3, ReadStreams = 0, WriteChunkSize = Chunk, MaxBuffers = 16 * Chunk };
        await using var fs = new FileSystem(_backend, NoNameService.Instance, options);
        var open = await fs.OpenAsync(await FileSystemTests.WalkAsync(fs, FileKey), 0);
        Assert.True(open.IsOk);
        ulong handle = open.Value.Handle;
        Assert.True(fs.Buffers.TryReserve(fs.Buffers.Capacity)); // the budget is taken (by writers, say)

        byte[] copy = new byte[data.Length];
        int offset = 0;
        for (; offset < 8 * Chunk; offset += Piece)
        {
            var n = await fs.ReadAsync(handle, offset, copy.AsMemory(offset, Piece));
            Assert.Equal(Piece, n.Value);

            // Only the chunk this read needed was fetched, nothing ahead of it.
            Assert.Equal(((offset / Chunk) + 1) * (long)Chunk, _backend.BytesRead);
        }

        Assert.Equal(fs.Buffers.Capacity, fs.Buffers.Reserved);
        fs.Buffers.Release(fs.Buffers.Capacity);

        var resumed = await fs.ReadAsync(handle, offset, copy.AsMemory(offset, Piece));
        Assert.Equal(Piece, resumed.Value);
        offset += Piece;
        Assert.Equal(3 * Chunk, fs.Buffers.Reserved); // three chunks ahead again
        Assert.Equal(12L * Chunk, _backend.BytesRead);

        for (; offset < data.Length; offset += Piece)
        {
            var n = await fs.ReadAsync(handle, offset, copy.AsMemory(offset, Math.Min(Piece, data.Length - offset)));
            Assert.True(n.IsOk);
            Assert.InRange(fs.Buffers.Reserved, 0, options.MaxBuffers - options.ReadAheadKeepFree);
        }

        Assert.Equal(data, copy);
        Assert.Equal(data.Length, _backend.BytesRead); // still every byte fetched once
        fs.Release(handle);
        Assert.Equal(0, fs.Buffers.Reserved);
    }

    [Fact]
    public async Task Read_ahead_leaves_writers_their_share_of_the_budget()
    {
        byte[] data = RandomNumberGenerator.GetBytes(40 * Chunk);
        _backend.Files[FileKey] = data;
        var options = new MountOptions { ReadAheadChunkSize = Chunk, ReadAheadChunks = 8, ReadStreams = 0, WriteChunkSize = Chunk, MaxBuffers = 8 * Chunk };
        await using var fs = new FileSystem(_backend, NoNameService.Instance, options);
        ulong ino = await FileSystemTests.WalkAsync(fs, FileKey);

        // Three sequential readers, each wanting 8 chunks ahead: together they stop at 3/4 of the budget, so a
        // writer's chunk finds room without waiting for readers that may never read on.
        var handles = new List<ulong>();
        for (int r = 0; r < 3; r++)
        {
            var open = await fs.OpenAsync(ino, 0);
            handles.Add(open.Value.Handle);
            byte[] buffer = new byte[Chunk];
            for (int offset = 0; offset < 4 * Chunk; offset += Chunk)
            {
                var n = await fs.ReadAsync(open.Value.Handle, offset, buffer);
                Assert.Equal(Chunk, n.Value);
                Assert.Equal(data.AsSpan(offset, Chunk).ToArray(), buffer);
            }
        }

        Assert.Equal(2 * Chunk, options.ReadAheadKeepFree);
        Assert.Equal(6 * Chunk, fs.Buffers.Peak);
        var writerChunk = fs.Buffers.ReserveAsync(Chunk, CancellationToken.None).AsTask();
        Assert.True(writerChunk.IsCompleted);
        await writerChunk;
        fs.Buffers.Release(Chunk);
        foreach (ulong handle in handles)
        {
            fs.Release(handle);
        }

        Assert.Equal(0, fs.Buffers.Reserved);
    }

    // ------------------------------------------------------------------ reads that outlive their window

    [Fact]
    public async Task A_read_still_running_when_its_handle_is_released_gives_back_every_chunk_it_fetches_after()
    {
        byte[] data = RandomNumberGenerator.GetBytes(12 * Chunk);
        _backend.Files[FileKey] = data;
        var options = new MountOptions { ReadAheadChunkSize = Chunk, ReadAheadChunks = 3, ReadStreams = 0, WriteChunkSize = Chunk, MaxBuffers = 16 * Chunk };
        await using var fs = new FileSystem(_backend, NoNameService.Instance, options);
        var open = await fs.OpenAsync(await FileSystemTests.WalkAsync(fs, FileKey), 0);
        Assert.True(open.IsOk);

        // A read of two chunks waits in the storage for its first one while its handle is released (the window
        // closes); then it goes on to its second chunk, on the closed window.
        var gate = _backend.ReadGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        byte[] copy = new byte[2 * Chunk];
        var read = fs.ReadAsync(open.Value.Handle, 0, copy).AsTask();
        Assert.True(await WaitUntilAsync(() => Volatile.Read(ref _backend.ReadsWaiting) == 1));
        fs.Release(open.Value.Handle);
        _backend.ReadGate = null;
        gate.SetResult();

        Assert.Equal(2 * Chunk, (await read).Value);
        Assert.Equal(data.AsSpan(0, 2 * Chunk).ToArray(), copy);
        Assert.Equal(0, fs.Buffers.Reserved);
        Assert.Equal(2L * Chunk, _backend.BytesRead); // nothing fetched ahead for a window nobody reads any more
    }

    [Fact]
    public async Task A_read_whose_window_a_write_replaced_gives_back_every_chunk_it_fetches_after()
    {
        var options = new MountOptions
        {
            ReadAheadChunkSize = Chunk,
            ReadAheadChunks = 3,
            ReadStreams = 0,
            WriteChunkSize = Chunk,
            MaxBuffers = 16 * Chunk,
            OperationTimeout = TimeSpan.FromSeconds(5),
        };
        await using var fs = new FileSystem(_backend, _names, options);
        ulong handle = await CreateNamedAsync(fs, "replaced");
        byte[] data = RandomNumberGenerator.GetBytes(12 * Chunk);
        Assert.Equal(data.Length, (await fs.WriteAsync(handle, 0, data)).Value);
        Assert.Equal(0, await fs.FlushAsync(handle));

        // A read of two chunks waits in the storage for its first one ...
        var gate = _backend.ReadGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        byte[] first = new byte[2 * Chunk];
        var firstRead = fs.ReadAsync(handle, 0, first).AsTask();
        Assert.True(await WaitUntilAsync(() => Volatile.Read(ref _backend.ReadsWaiting) == 1));

        // ... a write bumps the content version, so the next read replaces the handle's reader (closing the window
        // the first read still uses) ...
        byte[] more = RandomNumberGenerator.GetBytes(100);
        Assert.Equal(more.Length, (await fs.WriteAsync(handle, data.Length, more)).Value);
        byte[] second = new byte[Chunk];
        var secondRead = fs.ReadAsync(handle, 0, second).AsTask();
        Assert.True(await WaitUntilAsync(() => Volatile.Read(ref _backend.ReadsWaiting) == 5)); // its chunk and three ahead

        // ... and the first read goes on to its second chunk, on the closed window.
        _backend.ReadGate = null;
        gate.SetResult();
        Assert.Equal(2 * Chunk, (await firstRead).Value);
        Assert.Equal(data.AsSpan(0, 2 * Chunk).ToArray(), first);
        Assert.Equal(Chunk, (await secondRead).Value);
        Assert.Equal(data.AsSpan(0, Chunk).ToArray(), second);
        Assert.Equal(3L * Chunk, fs.Buffers.Reserved); // the current window's three chunks ahead, nothing more

        Assert.Equal(0, await fs.FlushAsync(handle));
        fs.Release(handle);
        Assert.True(await WaitUntilAsync(() => fs.Buffers.Reserved == 0), $"{fs.Buffers.Reserved} bytes still reserved");
    }

    [Fact]
    public async Task Readers_beside_a_writer_that_keeps_changing_the_file_give_back_the_whole_budget()
    {
        // Streams on: chunks are filled by pumps as well as single fetches, and windows close while they run.
        var options = new MountOptions
        {
            ReadAheadChunkSize = Chunk,
            ReadAheadChunks = 4,
            ReadStreams = 4,
            WriteChunkSize = Chunk,
            MaxBuffers = 32 * Chunk,
            OperationTimeout = TimeSpan.FromSeconds(5),
        };
        await using var fs = new FileSystem(_backend, _names, options);
        ulong handle = await CreateNamedAsync(fs, "churn");
        byte[] data = RandomNumberGenerator.GetBytes(16 * Chunk);
        Assert.Equal(data.Length, (await fs.WriteAsync(handle, 0, data)).Value);
        Assert.Equal(0, await fs.FlushAsync(handle));

        // Every write stores the same bytes again: the version changes (each read after it starts a new window,
        // closing the one other reads may still use), the content read back must not.
        var writer = Task.Run(async () =>
        {
            for (int i = 0; i < 300; i++)
            {
                int at = i * 7919 % (data.Length - 4096);
                Assert.Equal(4096, (await fs.WriteAsync(handle, at, data.AsMemory(at, 4096))).Value);
                await Task.Yield();
            }
        });
        var readers = Enumerable.Range(0, 3).Select(r => Task.Run(async () =>
        {
            byte[] copy = new byte[data.Length];
            int piece = (r + 1) * 12 * 1024;
            for (int pass = 0; pass < 2 || !writer.IsCompleted; pass++)
            {
                for (int offset = 0; offset < data.Length; offset += piece)
                {
                    int n = Math.Min(piece, data.Length - offset);
                    var read = await fs.ReadAsync(handle, offset, copy.AsMemory(offset, n));
                    Assert.True(read.IsOk, $"read at {offset}: errno {read.Errno}");
                    Assert.Equal(n, read.Value);
                }

                Assert.Equal(data, copy);
            }
        })).ToArray();
        await Task.WhenAll([writer, .. readers]);
        Assert.True(fs.Buffers.Peak > 0); // the budget was in use

        Assert.Equal(0, await fs.FlushAsync(handle));
        fs.Release(handle);
        Assert.True(await WaitUntilAsync(() => fs.Buffers.Reserved == 0), $"{fs.Buffers.Reserved} bytes still reserved");
    }

    private static async Task<ulong> CreateNamedAsync(FileSystem fs, string name)
    {
        var group = await fs.LookupAsync(InodeTable.RootIno, "group1");
        Assert.True(group.IsOk, $"errno {group.Errno}");
        const int ReadWriteCreate = 0x42; // O_RDWR | O_CREAT
        var created = await fs.CreateAsync(group.Value.Ino, name, NodeAttributes.S_IFREG | 0x1A4, 1000, 1000, ReadWriteCreate);
        Assert.True(created.IsOk, $"errno {created.Errno}");
        return created.Value.Open.Handle;
    }

    private static async Task<bool> WaitUntilAsync(Func<bool> condition)
    {
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); waited.Elapsed < TimeSpan.FromSeconds(5); await Task.Delay(10))
        {
            if (condition())
            {
                return true;
            }
        }

        return condition();
    }
}
