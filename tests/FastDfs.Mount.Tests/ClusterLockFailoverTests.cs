using System.Diagnostics;
using FastDfs.Integration.Tests.TestKit;
using Xunit;

namespace FastDfs.Mount.Tests;

/// <summary>
/// Cluster-wide locks with two trackers sharing one PostgreSQL directory service: each mount knows both trackers,
/// in opposite orders, so each asks its own tracker first; a lock taken through one tracker blocks a process on the
/// other mount, and when the holder's tracker dies the holder's mount renews its session through the other one, so
/// the lock outlives several leases. Runs with the fault tests (it kills a tracker).
/// </summary>
[Collection(nameof(MountFaultTests))]
public sealed class ClusterLockFailoverTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    private const int EAGAIN = 11;
    private const int LeaseSeconds = 3;

    [Fact]
    public async Task Two_trackers_on_one_postgresql_share_locks_and_a_holder_keeps_its_lock_when_its_tracker_dies()
    {
        string store = await postgres.CreateSchemaAsync();
        await using var cluster = await Cluster.StartSharedNamespaceAsync(store);
        var second = cluster.ExtraTrackers[0];

        string options = NamedMountFixture.MountOptions.Replace("timeout=15", "timeout=5", StringComparison.Ordinal) + $",lock_lease={LeaseSeconds}";
        await using var holderMount = await MountProcess.StartAsync([cluster.TrackerEndpoint, second.Endpoint], options);
        await using var otherMount = await MountProcess.StartAsync([second.Endpoint, cluster.TrackerEndpoint], options);
        await using var names = NamedMountFixture.CreateNamespaceClient(second.Endpoint);
        var root = await names.GetRootAsync("group1");
        await names.CreateAsync(root.Inode, "shared-lock", NamedMountFixture.FileMode, 0, 0);

        await using var holder = await LockProcess.StartAsync();
        await using var waiter = await LockProcess.StartAsync();
        await holder.MustAsync($"open f {holderMount.PathOf("group1/shared-lock")}");
        await waiter.MustAsync($"open f {otherMount.PathOf("group1/shared-lock")}");
        await holder.MustAsync("lock f w 0 100");
        await holder.MustAsync("flock f ex nb");

        // Granted through the first tracker, seen through the second: only the range conflicts.
        Assert.Equal($"err {EAGAIN}", await waiter.SendAsync("lock f w 50 1"));
        Assert.Equal("ok w 0 100 0", await waiter.SendAsync("getlk f r 0 0"));
        await waiter.MustAsync("lock f w 100 10");
        Assert.Equal(1, (await Tools.RunAsync("flock", "-x", "-n", otherMount.PathOf("group1/shared-lock"), "true")).ExitCode);

        // The holder's tracker dies. Its mount renews through the other tracker: after three leases the lock still holds.
        await cluster.Tracker!.KillHardAsync();
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(3 * LeaseSeconds))
        {
            Assert.Equal($"err {EAGAIN}", await waiter.SendAsync("lock f w 0 1"));
            await Task.Delay(500);
        }

        Assert.Equal(1, (await Tools.RunAsync("flock", "-x", "-n", otherMount.PathOf("group1/shared-lock"), "true")).ExitCode);

        // The holder, still on the mount whose first tracker is gone, unlocks and locks again through the second.
        await holder.MustAsync("lock f u 0 0");
        await waiter.MustAsync("lock f w 0 1");
        Assert.Equal($"err {EAGAIN}", await holder.SendAsync("lock f w 0 1"));
        await holder.MustAsync("lock f w 500 10");
        Assert.Equal("ok w 500 10 0", await waiter.SendAsync("getlk f w 400 0"));
    }
}
