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

    /// <summary>Size of one read-ahead chunk (<c>readahead_chunk</c>, bytes).</summary>
    public int ReadAheadChunkSize { get; init; } = 1024 * 1024;

    /// <summary>Chunks fetched ahead of a sequential reader (<c>readahead_chunks</c>); memory per handle is (this + 2) chunks.</summary>
    public int ReadAheadChunks { get; init; } = 4;

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

        if (OperationTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("timeout must be greater than 0");
        }
    }
}
