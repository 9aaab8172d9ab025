namespace FastDfs.Mount.Core;

/// <summary>Settings of one mount (the mount role's options record). Parsed from <c>-o key=value</c> by the executable.</summary>
public sealed record MountOptions
{
    /// <summary>How long the kernel and the core trust attributes (<c>attr_timeout</c>).</summary>
    public TimeSpan AttrTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the kernel trusts a name → node binding (<c>entry_timeout</c>).</summary>
    public TimeSpan EntryTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the kernel remembers that a name does not exist (<c>negative_timeout</c>).</summary>
    public TimeSpan NegativeTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long metadata read for xattrs is reused (probe-then-get pairs cost one round trip).</summary>
    public TimeSpan XattrTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the group list and cluster space are reused.</summary>
    public TimeSpan ClusterInfoTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Upper bound for any operation that goes to the cluster (<c>timeout</c>); it then fails with EIO.</summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long the tracker's upload choice for a group, and its update choice for a content file, are reused
    /// (<c>choice_timeout</c>; 0 asks the tracker every time). Writes still go where the tracker said; a failed
    /// storage operation drops the remembered choice.
    /// </summary>
    public TimeSpan ChoiceTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Size of one read-ahead chunk (<c>readahead_chunk</c>, bytes).</summary>
    /// <remarks>4 MiB: each chunk is one storage round trip, and fewer, larger ones read faster (docs/benchmarks.md).</remarks>
    public int ReadAheadChunkSize { get; init; } = 4 * 1024 * 1024;

    /// <summary>Chunks fetched ahead of a sequential reader (<c>readahead_chunks</c>); memory per handle is (this + 2) chunks.</summary>
    public int ReadAheadChunks { get; init; } = 2;

    /// <summary>
    /// Sequential readers (open handles, whole mount) whose read-ahead comes from one streamed DOWNLOAD_FILE to the end of
    /// the file instead of one request per chunk (<c>read_streams</c>). Each holds a storage connection while its handle
    /// is open; past this many, read-ahead falls back to one request per chunk.
    /// </summary>
    /// <remarks>
    /// 16 by default: a stream reads faster and on less CPU than one request per chunk, with the storage's cache warm and,
    /// since the storage renews its read-ahead on long reads from disk, cold too (docs/benchmarks.md, "Sequential read").
    /// </remarks>
    public int ReadStreams { get; init; } = 16;

    /// <summary>Bytes a writer buffers before sending them to the storage (<c>write_chunk</c>).</summary>
    public int WriteChunkSize { get; init; } = 4 * 1024 * 1024;

    /// <summary>Chunks of one file queued or in flight to the storage (<c>write_chunks</c>); memory per written file is (this + 1) chunks.</summary>
    public int WriteChunks { get; init; } = 2;

    /// <summary>
    /// Bytes of data buffers the whole mount may hold beyond each file's minimum (<c>max_buffers</c>, MiB on the
    /// command line): write chunks queued to the storage and read-ahead chunks. Each writer's chunk being filled and
    /// each read's current chunk are outside it, so every file always makes progress; past it, writes wait for queued
    /// chunks to be stored and read-ahead pauses.
    /// </summary>
    /// <remarks>
    /// A quarter of the memory the process may use, at least 64 MiB (the largest chunk) and at most 512 MiB: 64 files
    /// written, or 48 read, at full speed with the default chunks, without one `cp` of many files taking gigabytes.
    /// </remarks>
    public long MaxBuffers { get; init; } = s_defaultMaxBuffers;

    private static readonly long s_defaultMaxBuffers =
        Math.Clamp(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4, 64L * 1024 * 1024, 512L * 1024 * 1024);

    /// <summary>
    /// What read-ahead leaves of <see cref="MaxBuffers"/> to writers (a quarter, at least one write chunk): writers
    /// wait for the budget, and idle readers' chunks ahead would otherwise hold it until their handles close.
    /// </summary>
    internal long ReadAheadKeepFree => Math.Max(WriteChunkSize, MaxBuffers / 4);

    /// <summary>
    /// How long an uploaded but not yet named content file is kept (<c>pending_lease</c>): if the mount dies before
    /// close, the directory service's collector deletes it after this. Renewed while the file is being written.
    /// </summary>
    public TimeSpan PendingLease { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Write-only opens bypass the kernel's page cache (<c>direct_writes</c>): cp, dd, tar and shell redirections write
    /// with less CPU and faster (docs/benchmarks.md, "Write-only opens"); read-write opens keep it, as mmap needs it.
    /// </summary>
    public bool DirectWrites { get; init; } = true;

    /// <summary>
    /// Large writes that extend a file or overwrite stored bytes are sent from the adapter's receive buffer straight
    /// onto the file's appender stream (<c>stream_writes</c>): one request per write, sent without waiting for each
    /// answer, instead of a copy into write_chunk pieces queued one at a time. On by default: O_DIRECT 1 MiB writes went
    /// from 0.70 to 0.94 of the direct client's upload speed, on a third less of the mount's CPU (docs/benchmarks.md, "Streamed
    /// writes"). The cost: bytes the storage refuses at its size limit are not kept for a retry below it.
    /// </summary>
    public bool StreamedWrites { get; init; } = true;

    /// <summary>
    /// Large writes that extend a file or overwrite stored bytes go from the kernel's pipe straight to the storage's
    /// socket (<c>splice_writes</c>, Linux): no copy of the data in the mount at all. Off by default: the pipe limits
    /// FUSE writes to 512 KiB, and the storage's cost per request ate the gain for write-only opens (cp, dd)
    /// (docs/benchmarks.md, "spliced writes").
    /// </summary>
    public bool SplicedWrites { get; init; }

    /// <summary>The smallest write sent through the append stream; smaller ones gather into write_chunk pieces.</summary>
    public int StreamedWriteMin { get; init; } = 256 * 1024;

    /// <summary>
    /// flock and fcntl locks are held in the directory service, so processes on other mounts see them (<c>locks=cluster</c>,
    /// the default when the trackers serve names); <c>locks=local</c> leaves them to the kernel, within this mount only.
    /// </summary>
    public bool ClusterLocks { get; init; } = true;

    /// <summary>
    /// How long this mount's locks outlive its last renewal (<c>lock_lease</c>): a mount killed or cut off frees its
    /// locks for the others after this; renewed every third of it.
    /// </summary>
    public TimeSpan LockLease { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Refuse every change (<c>ro</c>).</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Owner shown for every node (<c>uid</c>), by default the mounting user.</summary>
    public uint Uid { get; init; }

    /// <summary>Group shown for every node (<c>gid</c>).</summary>
    public uint Gid { get; init; }

    public void Validate()
    {
        if (ReadAheadChunkSize is < 4096 or > 64 * 1024 * 1024)
        {
            throw new ArgumentException($"readahead_chunk must be 4 KiB..64 MiB (got {ReadAheadChunkSize})");
        }

        if (ReadAheadChunks is < 0 or > 64)
        {
            throw new ArgumentException($"readahead_chunks must be 0..64 (got {ReadAheadChunks})");
        }

        if (ReadStreams is < 0 or > 1024)
        {
            throw new ArgumentException($"read_streams must be 0..1024 (got {ReadStreams})");
        }

        if (WriteChunkSize is < 4096 or > 64 * 1024 * 1024)
        {
            throw new ArgumentException($"write_chunk must be 4 KiB..64 MiB (got {WriteChunkSize})");
        }

        if (WriteChunks is < 1 or > 64)
        {
            throw new ArgumentException($"write_chunks must be 1..64 (got {WriteChunks})");
        }

        if (MaxBuffers < WriteChunkSize)
        {
            throw new ArgumentException($"max_buffers must hold at least one write_chunk ({WriteChunkSize} bytes; got {MaxBuffers} bytes)");
        }

        if (PendingLease < TimeSpan.FromSeconds(10))
        {
            throw new ArgumentException("pending_lease must be at least 10 s");
        }

        if (ChoiceTimeout < TimeSpan.Zero)
        {
            throw new ArgumentException("choice_timeout must not be negative");
        }

        if (LockLease < TimeSpan.FromSeconds(1) || LockLease > TimeSpan.FromDays(1))
        {
            throw new ArgumentException("lock_lease must be 1 s..1 day");
        }

        if (OperationTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("timeout must be greater than 0");
        }
    }
}
