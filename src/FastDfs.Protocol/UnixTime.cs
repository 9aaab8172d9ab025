namespace FastDfs.Protocol;

/// <summary>The wall clock as the directory service's inode times count it (<see cref="Messages.NsAttributes"/>).</summary>
public static class UnixTime
{
    /// <summary>Nanoseconds since the Unix epoch, UTC, at the clock's 100 ns resolution.</summary>
    public static long NowNanoseconds() => (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
}
