namespace FastDfs.Protocol.Messages;

/// <summary>The 42 counters of a storage's statistics block, in wire order (protocol notes 3.2).</summary>
public enum StatCounter
{
    TotalUploadCount, SuccessUploadCount, TotalAppendCount, SuccessAppendCount,
    TotalModifyCount, SuccessModifyCount, TotalTruncateCount, SuccessTruncateCount,
    TotalSetMetaCount, SuccessSetMetaCount, TotalDeleteCount, SuccessDeleteCount,
    TotalDownloadCount, SuccessDownloadCount, TotalGetMetaCount, SuccessGetMetaCount,
    TotalCreateLinkCount, SuccessCreateLinkCount, TotalDeleteLinkCount, SuccessDeleteLinkCount,
    TotalUploadBytes, SuccessUploadBytes, TotalAppendBytes, SuccessAppendBytes,
    TotalModifyBytes, SuccessModifyBytes, TotalDownloadBytes, SuccessDownloadBytes,
    TotalSyncInBytes, SuccessSyncInBytes, TotalSyncOutBytes, SuccessSyncOutBytes,
    TotalFileOpenCount, SuccessFileOpenCount, TotalFileReadCount, SuccessFileReadCount,
    TotalFileWriteCount, SuccessFileWriteCount,
    LastSourceUpdate, LastSyncUpdate, LastSyncedTimestamp, LastHeartBeatTime,
}

/// <summary>
/// Storage statistics block (348 bytes): three 4-byte connection counters then 42 eight-byte counters.
/// Sent in BEAT and returned in LIST_STORAGE. Counters are updated with <see cref="Interlocked"/> through <see cref="Ref"/>.
/// </summary>
public sealed class StorageStats
{
    public const int CounterCount = 42;
    public const int Size = 3 * 4 + CounterCount * 8;

    private readonly long[] _counters = new long[CounterCount];

    public int ConnectionAllocCount;
    public int ConnectionCurrentCount;
    public int ConnectionMaxCount;

    public long this[StatCounter counter]
    {
        get => Volatile.Read(ref _counters[(int)counter]);
        set => Volatile.Write(ref _counters[(int)counter], value);
    }

    public ref long Ref(StatCounter counter) => ref _counters[(int)counter];

    public void Write(Span<byte> destination)
    {
        var w = new WireWriter(destination);
        w.WriteInt32(ConnectionAllocCount);
        w.WriteInt32(ConnectionCurrentCount);
        w.WriteInt32(ConnectionMaxCount);
        for (int i = 0; i < CounterCount; i++)
        {
            w.WriteInt64(Volatile.Read(ref _counters[i]));
        }
    }

    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        Write(bytes);
        return bytes;
    }

    public static StorageStats Read(ReadOnlySpan<byte> block)
    {
        var r = new WireReader(block);
        var stats = new StorageStats
        {
            ConnectionAllocCount = r.ReadInt32("stats"),
            ConnectionCurrentCount = r.ReadInt32("stats"),
            ConnectionMaxCount = r.ReadInt32("stats"),
        };
        for (int i = 0; i < CounterCount; i++)
        {
            stats._counters[i] = r.ReadInt64("stats");
        }

        return stats;
    }

    public StorageStats Clone() => Read(ToArray());
}
