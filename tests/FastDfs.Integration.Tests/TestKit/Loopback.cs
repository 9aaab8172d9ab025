namespace FastDfs.Integration.Tests.TestKit;

/// <summary>
/// Hands out distinct 127.x.y.z addresses. FastDFS identifies a storage by its IP, so every storage of a
/// test needs its own; the second octet comes from the process id so parallel test runs do not meet.
/// </summary>
public static class Loopback
{
    private static int s_next = 1;
    private static readonly int s_octet2 = 16 + Environment.ProcessId % 200;

    public static string Next()
    {
        int n = Interlocked.Increment(ref s_next);
        return $"127.{s_octet2}.{n / 250 % 250}.{n % 250 + 2}";
    }
}
