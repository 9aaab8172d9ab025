using System.Diagnostics;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Mount.Tests;

/// <summary>
/// Two mounts whose lock requests time out fast (3 s) and whose lock sessions outlive a tracker frozen for a few seconds
/// (lease 60 s), so a request answered EIO can still be applied by the tracker once it goes on.
/// </summary>
public sealed class SlowTrackerMountsFixture() : TwoMountsFixture(MountOptions)
{
    public static readonly string MountOptions = NamedMountFixture.MountOptions.Replace("timeout=15", "timeout=3", StringComparison.Ordinal) + ",lock_lease=60";
}

/// <summary>
/// A lock request the tracker does not answer within the mount's timeout is answered EIO, while the tracker (frozen with
/// SIGSTOP, as a hung machine) still holds it in its socket and applies it when it goes on. The mount awaits that late
/// answer and undoes it: a wait it recorded is withdrawn (or another process would be refused EDEADLK for a cycle through
/// a process that no longer waits, until the lease ends), a grant is given back (the process was told it got nothing).
/// The process's next lock call on the file waits for that, so the test uses one as its sync point. Runs with the fault
/// tests (it freezes the tracker).
/// </summary>
[Collection(nameof(MountFaultTests))]
public sealed class ClusterLockTimeoutTests(SlowTrackerMountsFixture fixture) : IClassFixture<SlowTrackerMountsFixture>
{
    private const int EIO = 5;
    private const int EAGAIN = 11;

    [Fact]
    public async Task A_setlkw_answered_eio_withdraws_its_wait_so_no_other_process_is_refused_edeadlk()
    {
        // b waits for a's range (its wait is recorded); then the tracker stalls and b's next attempt gets no answer.
        await using var a = await LockProcess.StartAsync();
        await using var b = await LockProcess.StartAsync();
        var waiting = await BWaitsForAAsync("eio-wait", a, b);
        await WhileFrozenAsync(async () => Assert.Equal($"err {EIO}", await waiting.WaitAsync(TimeSpan.FromSeconds(20))));

        // The stalled attempt is applied late (a conflict: recorded as waiting) and withdrawn; b's next call follows that.
        await b.MustAsync("lock f u 100 1");

        // a waiting for b's range closes no cycle: it waits (without the withdrawal: EDEADLK, for the 60 s lease), and
        // is granted when b lets go.
        var aWaits = a.BeginAsync("lockw f w 10 10");
        await Task.Delay(1500);
        if (aWaits.IsCompleted)
        {
            Assert.Fail($"a's F_SETLKW answered '{await aWaits}' while b held the range");
        }

        await b.MustAsync("lock f u 0 0");
        Assert.Equal("ok", await aWaits.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("(answered EIO) was still waiting late: wait withdrawn", fixture.Second.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_setlkw_answered_eio_but_granted_late_is_given_back_so_the_process_holds_what_it_held()
    {
        var (first, second) = await fixture.NewFileAsync("eio-grant");
        var root = await fixture.Names.GetRootAsync("group1");
        long inode = (await fixture.Names.LookupAsync(root.Inode, Path.GetFileName(second))).Inode;

        // The holder is a session of the test's own that nobody renews: its lock lapses while the tracker is frozen, so
        // the attempt the tracker applies when it goes on is granted, with no other request racing it.
        long session = await fixture.Names.OpenLockSessionAsync(TimeSpan.FromSeconds(3));
        var leased = Stopwatch.StartNew();
        await fixture.Names.SetLockAsync(new NsLockRequest(session, inode, 1, NsLockKind.Posix, NsLockType.Write, 0, 9, 1));

        // b holds a read lock beside it and waits to write over both ranges (an upgrade and more).
        await using var b = await LockProcess.StartAsync();
        await b.MustAsync($"open f {second}");
        await b.MustAsync("lock f r 20 10");
        var waiting = b.BeginAsync("lockw f w 0 30");
        await Task.Delay(500);
        Assert.False(waiting.IsCompleted, "F_SETLKW returned while the holder's lock was live");
        await WhileFrozenAsync(async () =>
        {
            Assert.Equal($"err {EIO}", await waiting.WaitAsync(TimeSpan.FromSeconds(20)));
            while (leased.Elapsed < TimeSpan.FromSeconds(4.5))
            {
                await Task.Delay(100);
            }
        });

        // Granted late, given back: b holds its read lock again and nothing else (without the give-back: a write lock
        // on 0..29 that b does not know of, until it closes the file).
        await b.MustAsync("lock f u 100 1");
        await using var a = await LockProcess.StartAsync();
        await a.MustAsync($"open f {first}");
        Assert.Equal("ok r 20 10 0", await a.SendAsync("getlk f w 0 0"));
        await a.MustAsync("lock f w 0 20");
        await a.MustAsync("lock f r 20 10");
        Assert.Equal($"err {EAGAIN}", await a.SendAsync("lock f w 25 1"));
        Assert.Contains("(answered EIO) was granted late: given back", fixture.Second.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_close_while_the_tracker_stalls_returns_in_time_and_its_unlock_follows_the_late_answer()
    {
        await using var a = await LockProcess.StartAsync();
        await using var b = await LockProcess.StartAsync();
        var waiting = await BWaitsForAAsync("eio-close", a, b);

        await WhileFrozenAsync(async () =>
        {
            Assert.Equal($"err {EIO}", await waiting.WaitAsync(TimeSpan.FromSeconds(20)));

            // The close's unlock cannot go before the late answer is settled, and does not wait longer than the timeout.
            var closing = Stopwatch.StartNew();
            await b.MustAsync("close f");
            Assert.InRange(closing.Elapsed.TotalSeconds, 0, 8);
        });

        // Once the tracker answers, the unlock follows: b's record lock goes, as a close must drop it.
        var watch = Stopwatch.StartNew();
        string answer;
        while ((answer = await a.SendAsync("lock f w 10 10")) != "ok" && watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(200);
        }

        Assert.Equal("ok", answer);
    }

    /// <summary>
    /// A new file open in <paramref name="a"/> (first mount) and <paramref name="b"/> (second mount); a holds 0..9 and b
    /// 10..19, and b's F_SETLKW of 0..9 is waiting (recorded as a wait by the tracker): the returned answer.
    /// </summary>
    private async Task<Task<string>> BWaitsForAAsync(string name, LockProcess a, LockProcess b)
    {
        var (first, second) = await fixture.NewFileAsync(name);
        await a.MustAsync($"open f {first}");
        await b.MustAsync($"open f {second}");
        await a.MustAsync("lock f w 0 10");
        await b.MustAsync("lock f w 10 10");
        var waiting = b.BeginAsync("lockw f w 0 10");
        await Task.Delay(1000);
        Assert.False(waiting.IsCompleted, "F_SETLKW returned while the other mount held the lock");
        return waiting;
    }

    /// <summary>Runs <paramref name="body"/> with the tracker stopped, and always lets it go on.</summary>
    private async Task WhileFrozenAsync(Func<Task> body)
    {
        fixture.Cluster.Tracker!.Freeze(true);
        try
        {
            await body();
        }
        finally
        {
            fixture.Cluster.Tracker!.Freeze(false);
        }
    }
}
