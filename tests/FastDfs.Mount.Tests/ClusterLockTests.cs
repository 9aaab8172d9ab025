using System.Diagnostics;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Mount.Core;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastDfs.Mount.Tests;

/// <summary>One cluster with the directory service and two fdfs-mounts of it (two "hosts"), with a short lock lease.</summary>
public class TwoMountsFixture : IAsyncLifetime
{
    public const int LeaseSeconds = 3;

    public const string Options = NamedMountFixture.MountOptions + ",lock_lease=3";

    private readonly string _options;

    public TwoMountsFixture()
        : this(Options)
    {
    }

    /// <summary>The same cluster and mounts, mounted with other options.</summary>
    protected TwoMountsFixture(string options) => _options = options;

    public Cluster Cluster { get; private set; } = null!;

    public NamespaceClient Names { get; private set; } = null!;

    internal MountProcess First { get; private set; } = null!;

    internal MountProcess Second { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await Cluster.StartAsync("namespace_orphan_delay = 0", new StorageSpec());
        Names = NamedMountFixture.CreateNamespaceClient(Cluster.TrackerEndpoint);
        First = await MountProcess.StartAsync(Cluster.TrackerEndpoint, _options);
        Second = await MountProcess.StartAsync(Cluster.TrackerEndpoint, _options);
    }

    /// <summary>A new file, made through the directory service, as a path on each mount.</summary>
    internal async Task<(string OnFirst, string OnSecond)> NewFileAsync(string purpose)
    {
        var root = await Names.GetRootAsync("group1");
        string name = purpose + "-" + Guid.NewGuid().ToString("N")[..8];
        await Names.CreateAsync(root.Inode, name, NamedMountFixture.FileMode, 0, 0);
        return (First.PathOf(Path.Combine("group1", name)), Second.PathOf(Path.Combine("group1", name)));
    }

    public async Task DisposeAsync()
    {
        if (Second is not null)
        {
            await Second.DisposeAsync();
        }

        if (First is not null)
        {
            await First.DisposeAsync();
        }

        if (Names is not null)
        {
            await Names.DisposeAsync();
        }

        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }
    }
}

/// <summary>
/// flock and fcntl locks across two mounts of one cluster, taken by real processes (perl, whose fcntl and flock are
/// the system calls) and util-linux flock(1).
/// </summary>
public sealed class ClusterLockTests(TwoMountsFixture fixture) : IClassFixture<TwoMountsFixture>
{
    private const int EAGAIN = 11;
    private const int EINTR = 4;
    private const int EDEADLK = 35;
    private const int SIGUSR1 = 10;
    private const int SIGKILL = 9;

    [Fact]
    public async Task Flock_excludes_across_mounts_until_released_and_shared_flocks_coexist()
    {
        var (first, second) = await fixture.NewFileAsync("flock");
        await using var holder = await LockProcess.StartAsync();
        await holder.MustAsync($"open f {first}");
        await holder.MustAsync("flock f ex nb");

        // flock(1) on the other mount: LOCK_NB fails (EWOULDBLOCK gives exit status 1), shared or exclusive alike.
        Assert.Equal(1, (await FlockToolAsync(second, "-x")).ExitCode);
        Assert.Equal(1, (await FlockToolAsync(second, "-s")).ExitCode);

        // Released by the last close of the open file description: the other mount gets it.
        await holder.MustAsync("close f");
        await EventuallyAsync(async () => (await FlockToolAsync(second, "-x")).ExitCode == 0, "flock -n after the holder closed");

        // Shared locks coexist across mounts; an exclusive one waits for both to go.
        await holder.MustAsync($"open f {first}");
        await holder.MustAsync("flock f sh nb");
        Assert.Equal(0, (await FlockToolAsync(second, "-s")).ExitCode);
        Assert.Equal(1, (await FlockToolAsync(second, "-x")).ExitCode);
        await holder.MustAsync("flock f un");
        Assert.Equal(0, (await FlockToolAsync(second, "-x")).ExitCode);

        // flock and fcntl locks do not conflict with each other (as on local file systems).
        await holder.MustAsync("flock f ex nb");
        await using var other = await LockProcess.StartAsync();
        await other.MustAsync($"open f {second}");
        await other.MustAsync("lock f w 0 0");
    }

    [Fact]
    public async Task Record_locks_conflict_by_range_across_mounts_and_getlk_reports_the_holder()
    {
        var (first, second) = await fixture.NewFileAsync("ranges");
        await using var a = await LockProcess.StartAsync();
        await using var b = await LockProcess.StartAsync();
        await a.MustAsync($"open f {first}");
        await b.MustAsync($"open f {second}");
        await a.MustAsync("lock f w 0 100");
        await b.MustAsync("lock f w 200 100"); // beside it: both hold
        Assert.Equal($"err {EAGAIN}", await b.SendAsync("lock f w 50 10"));
        Assert.Equal($"err {EAGAIN}", await b.SendAsync("lock f r 99 1"));

        // F_GETLK on the other mount: the holder's type and range; pid 0, a remote process has none here.
        Assert.Equal("ok w 0 100 0", await b.SendAsync("getlk f r 0 0"));
        Assert.Equal("ok w 200 100 0", await a.SendAsync("getlk f w 150 100"));
        Assert.Equal("ok u", (await b.SendAsync("getlk f w 300 0"))[..4]);

        // Readers share across mounts; a downgrade lets the other mount read, not write.
        await a.MustAsync("lock f r 0 100");
        await b.MustAsync("lock f r 0 50");
        Assert.Equal($"err {EAGAIN}", await b.SendAsync("lock f w 0 50"));
        await a.MustAsync("lock f u 0 0");
        await b.MustAsync("lock f w 0 50"); // an upgrade once the other reader left
    }

    [Fact]
    public async Task Setlkw_waits_for_the_holder_and_a_signal_ends_the_wait_with_eintr()
    {
        var (first, second) = await fixture.NewFileAsync("wait");
        await using var a = await LockProcess.StartAsync();
        await using var b = await LockProcess.StartAsync();
        await a.MustAsync($"open f {first}");
        await b.MustAsync($"open f {second}");
        await a.MustAsync("lock f w 0 100");

        var waiting = b.BeginAsync("lockw f w 50 10");
        await Task.Delay(1500);
        Assert.False(waiting.IsCompleted, "F_SETLKW returned while the other mount held the lock");
        var released = Stopwatch.StartNew();
        await a.MustAsync("lock f u 0 0");
        Assert.Equal("ok", await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(released.Elapsed < TimeSpan.FromSeconds(3), $"granted {released.Elapsed.TotalSeconds:F1} s after the release");

        // Now a waits; SIGUSR1 (a handler without SA_RESTART) ends its wait with EINTR, and it holds nothing after.
        var interrupted = a.BeginAsync("lockw f w 0 100");
        await Task.Delay(1000);
        Assert.False(interrupted.IsCompleted);
        MountProcess.SendSignal(a.Pid, SIGUSR1);
        Assert.Equal($"err {EINTR}", await interrupted.WaitAsync(TimeSpan.FromSeconds(10)));
        await b.MustAsync("lock f u 0 0");
        await Task.Delay(1000);
        Assert.Equal("ok u", (await b.SendAsync("getlk f w 0 0"))[..4]);
    }

    [Theory]
    [InlineData(false)] // two mounts: the cycle is only visible to the directory service
    [InlineData(true)] //  two processes on one mount (the kernel leaves FUSE locks to the mount, so no local check either)
    public async Task Setlkw_that_would_close_a_cycle_answers_edeadlk_and_the_other_wait_is_granted_later(bool oneMount)
    {
        var (first, second) = await fixture.NewFileAsync("deadlock");
        await using var a = await LockProcess.StartAsync();
        await using var b = await LockProcess.StartAsync();
        await a.MustAsync($"open f {first}");
        await b.MustAsync($"open f {(oneMount ? first : second)}");
        await a.MustAsync("lock f w 0 10");
        await b.MustAsync("lock f w 10 10");

        // a waits for b's range; b waiting for a's would wait forever: EDEADLK, at once, and b keeps its lock.
        var waiting = a.BeginAsync("lockw f w 10 10");
        await Task.Delay(1000);
        Assert.False(waiting.IsCompleted, "F_SETLKW returned while the other process held the lock");
        var refused = Stopwatch.StartNew();
        Assert.Equal($"err {EDEADLK}", await b.SendAsync("lockw f w 0 10"));
        Assert.True(refused.Elapsed < TimeSpan.FromSeconds(2), $"EDEADLK after {refused.Elapsed.TotalSeconds:F1} s");
        Assert.Equal($"err {EAGAIN}", await b.SendAsync("lock f w 0 10")); // F_SETLK: a plain conflict, never EDEADLK
        Assert.False(waiting.IsCompleted, "a's wait ended when b was refused");

        // b gives in: a's wait is granted.
        await b.MustAsync("lock f u 10 10");
        Assert.Equal("ok", await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.StartsWith("ok w 0 20 ", await b.SendAsync("getlk f w 0 0"), StringComparison.Ordinal); // a holds both ranges now

        // An interrupted wait is withdrawn at once (not left to lapse with the 3 s lease): b waits for a, a signal ends
        // it, and a waiting for b's other range just waits; it is granted when b lets go.
        await b.MustAsync("lock f w 30 10");
        var interrupted = b.BeginAsync("lockw f w 0 10");
        await Task.Delay(1000);
        MountProcess.SendSignal(b.Pid, SIGUSR1);
        Assert.Equal($"err {EINTR}", await interrupted.WaitAsync(TimeSpan.FromSeconds(10)));
        await Task.Delay(300); // the EINTR is answered first, the withdrawal follows; the recorded wait would last over 2 s
        var waitingAgain = a.BeginAsync("lockw f w 30 10");
        await Task.Delay(1000);
        Assert.False(waitingAgain.IsCompleted, "a's F_SETLKW returned while b held the range");
        await b.MustAsync("lock f u 0 0");
        Assert.Equal("ok", await waitingAgain.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Closing_any_descriptor_releases_the_process_s_record_locks()
    {
        var (first, second) = await fixture.NewFileAsync("close");
        await using var a = await LockProcess.StartAsync();
        await using var b = await LockProcess.StartAsync();
        await a.MustAsync($"open f {first}");
        await a.MustAsync($"open g {first}");
        await b.MustAsync($"open f {second}");
        await a.MustAsync("lock f w 0 10");
        Assert.Equal($"err {EAGAIN}", await b.SendAsync("lock f w 0 10"));

        // POSIX: closing another descriptor of the same file drops the lock taken through the first.
        await a.MustAsync("close g");
        await b.MustAsync("lock f w 0 10");
    }

    [Fact]
    public async Task A_killed_mount_s_locks_go_when_its_lease_lapses()
    {
        var (_, second) = await fixture.NewFileAsync("killed");
        string name = Path.GetFileName(second);
        await using var doomed = await MountProcess.StartAsync(fixture.Cluster.TrackerEndpoint, TwoMountsFixture.Options);
        await using var holder = await LockProcess.StartAsync();
        await using var waiter = await LockProcess.StartAsync();
        await holder.MustAsync($"open f {doomed.PathOf(Path.Combine("group1", name))}");
        await holder.MustAsync("lock f w 0 0");
        await holder.MustAsync("flock f ex nb");
        await waiter.MustAsync($"open f {second}");
        Assert.Equal($"err {EAGAIN}", await waiter.SendAsync("lock f w 0 0"));

        // kill -9: nothing is released by the mount; the lease (3 s, renewed every second) runs out instead.
        doomed.Signal(SIGKILL);
        Assert.True(await doomed.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        var killed = Stopwatch.StartNew();
        await EventuallyAsync(async () => await waiter.SendAsync("lock f w 0 0") == "ok", "the record lock after the lease", TimeSpan.FromSeconds(20));
        Assert.InRange(killed.Elapsed.TotalSeconds, 0, TwoMountsFixture.LeaseSeconds + 5);
        Assert.Equal(0, (await FlockToolAsync(second, "-x")).ExitCode);
    }

    [Fact]
    public async Task Closing_a_lock_session_releases_its_locks_at_once()
    {
        // What a clean unmount does after the kernel let go (Program disposes the mount's ClusterLocks): with a lease
        // of ten minutes, only the close can free the locks this soon.
        var (_, second) = await fixture.NewFileAsync("unmount");
        var root = await fixture.Names.GetRootAsync("group1");
        long inode = (await fixture.Names.LookupAsync(root.Inode, Path.GetFileName(second))).Inode;
        await using var client = NamedMountFixture.CreateNamespaceClient(fixture.Cluster.TrackerEndpoint);
        var leaving = new ClusterLocks(client, TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(15), NullLogger.Instance);
        await leaving.StartAsync(CancellationToken.None);
        Assert.NotEqual(0, leaving.Session);
        Assert.Equal(0, await leaving.SetAsync(inode, 1, NsLockKind.Posix, NsLockType.Write, 0, long.MaxValue, 1, wait: false, CancellationToken.None));
        Assert.Equal(0, await leaving.SetAsync(inode, 1, NsLockKind.Flock, NsLockType.Write, 0, long.MaxValue, 1, wait: false, CancellationToken.None));

        await using var waiter = await LockProcess.StartAsync();
        await waiter.MustAsync($"open f {second}");
        Assert.Equal($"err {EAGAIN}", await waiter.SendAsync("lock f w 0 0"));
        Assert.Equal(1, (await FlockToolAsync(second, "-x")).ExitCode);

        await leaving.DisposeAsync();
        Assert.Equal("ok", await waiter.SendAsync("lock f w 0 0"));
        Assert.Equal(0, (await FlockToolAsync(second, "-x")).ExitCode);
    }

    [Fact]
    public async Task Giving_back_an_interrupted_upgrade_leaves_the_owner_s_earlier_locks_as_they_were()
    {
        // What the mount does when F_SETLKW is granted just after its caller was answered EINTR, driven through a
        // ClusterLocks of its own (the race itself cannot be timed from outside): the upgrade is granted, then given back.
        var (_, second) = await fixture.NewFileAsync("giveback");
        var root = await fixture.Names.GetRootAsync("group1");
        long inode = (await fixture.Names.LookupAsync(root.Inode, Path.GetFileName(second))).Inode;
        await using var client = NamedMountFixture.CreateNamespaceClient(fixture.Cluster.TrackerEndpoint);
        await using var locks = new ClusterLocks(client, TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(15), NullLogger.Instance);
        await locks.StartAsync(CancellationToken.None);
        Assert.Equal(0, await locks.SetAsync(inode, 1, NsLockKind.Posix, NsLockType.Read, 0, 99, 1, wait: false, CancellationToken.None));
        Assert.Equal(0, await locks.SetAsync(inode, 1, NsLockKind.Posix, NsLockType.Read, 200, 299, 1, wait: false, CancellationToken.None));

        var grant = await locks.LockAsync(inode, 1, NsLockKind.Posix, NsLockType.Write, 0, long.MaxValue, 1, wait: true, CancellationToken.None);
        Assert.Equal(0, grant.Errno);
        Assert.Equal([new NsLockRange(NsLockType.Read, 0, 99, 1), new NsLockRange(NsLockType.Read, 200, 299, 1)], grant.Replaced);
        await using var other = await LockProcess.StartAsync();
        await other.MustAsync($"open f {second}");
        Assert.Equal($"err {EAGAIN}", await other.SendAsync("lock f r 0 1")); // the upgrade holds everything now

        await locks.GiveBackAsync(inode, 1, NsLockKind.Posix, 0, long.MaxValue, grant.Replaced);

        // The read locks are back (the other mount reads beside them, cannot write), the rest is free.
        await other.MustAsync("lock f r 0 100");
        Assert.Equal($"err {EAGAIN}", await other.SendAsync("lock f w 50 10"));
        Assert.Equal($"err {EAGAIN}", await other.SendAsync("lock f w 250 1"));
        Assert.Equal("ok r 200 100 0", await other.SendAsync("getlk f w 100 0"));
        await other.MustAsync("lock f w 100 100");
        await other.MustAsync("lock f w 300 0");
    }

    [Fact]
    public async Task With_locks_local_the_kernel_keeps_locks_to_one_mount()
    {
        var (onFirst, _) = await fixture.NewFileAsync("local");
        string name = Path.GetFileName(onFirst);
        string options = NamedMountFixture.MountOptions + ",locks=local";
        await using var one = await MountProcess.StartAsync(fixture.Cluster.TrackerEndpoint, options);
        await using var two = await MountProcess.StartAsync(fixture.Cluster.TrackerEndpoint, options);
        string onOne = one.PathOf(Path.Combine("group1", name)), onTwo = two.PathOf(Path.Combine("group1", name));
        await using var holder = await LockProcess.StartAsync();
        await holder.MustAsync($"open f {onOne}");
        await holder.MustAsync("lock f w 0 0");
        await holder.MustAsync("flock f ex nb");

        // The same mount: the kernel's own locks exclude, as on any local file system.
        await using var neighbour = await LockProcess.StartAsync();
        await neighbour.MustAsync($"open f {onOne}");
        Assert.Equal($"err {EAGAIN}", await neighbour.SendAsync("lock f w 0 0"));
        Assert.Equal(1, (await FlockToolAsync(onOne, "-x")).ExitCode);

        // Another mount does not see them; nor does a cluster-locking mount (its locks live in the directory service).
        await using var stranger = await LockProcess.StartAsync();
        await stranger.MustAsync($"open f {onTwo}");
        await stranger.MustAsync("lock f w 0 0");
        Assert.Equal(0, (await FlockToolAsync(onTwo, "-x")).ExitCode);
        Assert.Equal(0, (await FlockToolAsync(fixture.First.PathOf(Path.Combine("group1", name)), "-x")).ExitCode);
    }

    [Theory]
    [InlineData("lock_lease=0", "lock_lease must be 1 s..1 day")]
    [InlineData("lock_lease=0.5", "lock_lease must be 1 s..1 day")]
    [InlineData("lock_lease=86401", "lock_lease needs a number of seconds (got '86401')")]
    [InlineData("lock_lease=-3", "lock_lease needs a number of seconds (got '-3')")]
    [InlineData("lock_lease=soon", "lock_lease needs a number of seconds (got 'soon')")]
    [InlineData("locks=maybe", "locks must be cluster or local (got 'maybe')")]
    [InlineData("locks=", "locks must be cluster or local (got '')")]
    public async Task Bad_lock_options_are_refused_with_a_clear_error_before_mounting(string option, string message)
    {
        string mountPoint = Directory.CreateTempSubdirectory("fdfs-badopt-").FullName;
        try
        {
            var (fileName, prefix) = Binaries.Resolve("fdfs-mount");
            var (exitCode, _, error) = await Tools.RunAsync(fileName, [.. prefix, "--tracker", fixture.Cluster.TrackerEndpoint, mountPoint, "-o", option]);
            Assert.Equal(2, exitCode);
            Assert.Contains($"fdfs-mount: {message}", error, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(mountPoint)); // nothing was mounted there
        }
        finally
        {
            Directory.Delete(mountPoint);
        }
    }

    private static Task<(int ExitCode, string Output, string Error)> FlockToolAsync(string path, string mode) =>
        Tools.RunAsync("flock", mode, "-n", path, "true");

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            if (watch.Elapsed > (timeout ?? TimeSpan.FromSeconds(5)))
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(100);
        }
    }
}

/// <summary>
/// A perl process that opens files and takes fcntl and flock locks on command, one line in, one line out ("ok ..."
/// or "err ERRNO"), so a test drives several lock owners (processes) at once. SIGUSR1 has an empty handler installed
/// without SA_RESTART, so it interrupts a waiting F_SETLKW. Disposed: killed (its descriptors close with it).
/// </summary>
internal sealed class LockProcess : IAsyncDisposable
{
    // struct flock on x86-64 and aarch64 alike: short l_type, short l_whence, 4 pad, off_t l_start, off_t l_len, pid_t l_pid, 4 pad.
    private const string Script = """
        use strict; use warnings;
        use Fcntl qw(O_RDWR :flock F_GETLK F_SETLK F_SETLKW F_RDLCK F_WRLCK F_UNLCK SEEK_SET);
        $| = 1;
        $SIG{USR1} = sub { };
        my %fh;
        while (my $line = <STDIN>) {
            chomp $line;
            my ($cmd, @a) = split / /, $line;
            if ($cmd eq 'open') {
                if (sysopen(my $h, $a[1], O_RDWR)) { $fh{$a[0]} = $h; print "ok\n"; } else { print "err ", $! + 0, "\n"; }
            } elsif ($cmd eq 'close') {
                close(delete $fh{$a[0]}); print "ok\n";
            } elsif ($cmd eq 'lock' || $cmd eq 'lockw' || $cmd eq 'getlk') {
                my ($name, $type, $start, $len) = @a;
                my $t = $type eq 'r' ? F_RDLCK : $type eq 'w' ? F_WRLCK : F_UNLCK;
                my $fl = pack('s s x4 q q i x4', $t, SEEK_SET, $start, $len, 0);
                my $op = $cmd eq 'lock' ? F_SETLK : $cmd eq 'lockw' ? F_SETLKW : F_GETLK;
                if (fcntl($fh{$name}, $op, $fl)) {
                    if ($cmd eq 'getlk') {
                        my ($rt, $rw, $rs, $rl, $rp) = unpack('s s x4 q q i x4', $fl);
                        print "ok ", ($rt == F_UNLCK ? 'u' : $rt == F_WRLCK ? 'w' : 'r'), " $rs $rl $rp\n";
                    } else { print "ok\n"; }
                } else { print "err ", $! + 0, "\n"; }
            } elsif ($cmd eq 'flock') {
                my ($name, $mode, $nb) = @a;
                my $op = $mode eq 'sh' ? LOCK_SH : $mode eq 'ex' ? LOCK_EX : LOCK_UN;
                $op |= LOCK_NB if defined $nb && $nb eq 'nb';
                if (flock($fh{$name}, $op)) { print "ok\n"; } else { print "err ", $! + 0, "\n"; }
            } else { print "err 22\n"; }
        }
        """;

    private readonly Process _process;

    private LockProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    public static Task<LockProcess> StartAsync()
    {
        var info = new ProcessStartInfo("perl") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add("-e");
        info.ArgumentList.Add(Script);
        return Task.FromResult(new LockProcess(Process.Start(info)!));
    }

    /// <summary>Sends a command; its answer is awaited (use for commands that may block).</summary>
    public Task<string> BeginAsync(string command)
    {
        _process.StandardInput.WriteLine(command);
        _process.StandardInput.Flush();
        return ReadAnswerAsync(command);
    }

    public async Task<string> SendAsync(string command) => await BeginAsync(command).WaitAsync(TimeSpan.FromSeconds(30));

    public async Task MustAsync(string command) => Assert.Equal("ok", await SendAsync(command));

    private async Task<string> ReadAnswerAsync(string command) =>
        await _process.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException($"lock helper ended during '{command}'");

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
