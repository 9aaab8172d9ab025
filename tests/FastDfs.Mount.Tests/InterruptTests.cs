using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using FastDfs.Integration.Tests.TestKit;
using Xunit;
using Xunit.Abstractions;

namespace FastDfs.Mount.Tests;

/// <summary>
/// FUSE interrupts: a process blocked on the mount while its storage is frozen (SIGSTOP) gets out as soon as it is
/// signalled, long before the mount's 60 s timeout, the mount goes on serving, and once the storage runs again
/// (SIGCONT) nothing was lost. In <see cref="MountFaultTests"/>'s collection: alone, never beside other mount tests.
/// </summary>
[Collection(nameof(MountFaultTests))]
public sealed partial class InterruptTests(ITestOutputHelper output)
{
    private const int SIGINT = 2;
    private const int SIGKILL = 9;
    private const int SIGUSR1 = 10;

    /// <summary>How long a signalled process may take to go: well under the mount's timeout, so only an interrupt explains it.</summary>
    private static readonly TimeSpan PromptExit = TimeSpan.FromSeconds(15);

    private static readonly string Options =
        NamedMountFixture.MountOptions.Replace("timeout=15", "timeout=60", StringComparison.Ordinal);

    [Fact]
    public async Task A_signal_ends_a_lookup_and_a_read_waiting_for_a_frozen_storage()
    {
        await using var cluster = await Cluster.StartAsync("namespace_orphan_delay = 0", new StorageSpec());
        await using var client = cluster.CreateClient();
        await using var names = NamedMountFixture.CreateNamespaceClient(cluster.TrackerEndpoint);
        var root = await names.GetRootAsync("group1");
        var dir = await names.MkDirAsync(root.Inode, "interrupts", NamedMountFixture.DirectoryMode, 0, 0);
        byte[] big = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);
        var bigId = await client.UploadAsync(big, "bin");
        await names.CreateAsync(dir.Inode, "big.bin", NamedMountFixture.FileMode, 0, 0, bigId.ToString(), big.Length);
        byte[] other = RandomNumberGenerator.GetBytes(64 * 1024);
        var otherId = await client.UploadAsync(other, "bin");
        await names.CreateAsync(dir.Inode, "other.bin", NamedMountFixture.FileMode, 0, 0, otherId.ToString(), other.Length);

        await using var mount = await MountProcess.StartAsync(cluster.TrackerEndpoint, Options);
        string bigPath = mount.PathOf("group1/interrupts/big.bin");
        var storage = cluster.Storages[0].Process!;
        storage.Freeze(true);
        try
        {
            // A lookup of a file-ID path asks the frozen storage (QUERY_FILE_INFO): stat waits in LOOKUP.
            await using (var stat = Victim.Start("stat", mount.PathOf(bigId.ToString())))
            {
                await stat.WaitBlockedAsync();
                stat.Signal(SIGKILL);
                var gone = await stat.WaitExitAsync(PromptExit);
                output.WriteLine($"stat (lookup) after SIGKILL: {Describe(gone)}");
                Assert.True(gone is not null, "stat stayed blocked in LOOKUP after SIGKILL");
            }

            // dd handles SIGINT itself (it prints its statistics), so that signal is not fatal: only an EINTR answer to
            // the READ it waits in lets it go; SIGKILL is fatal but the kernel still waits for the answer. O_DIRECT,
            // because then the reader itself waits for READ (page-cache read-ahead is sent in the background).
            foreach (int signal in new[] { SIGINT, SIGKILL })
            {
                await using var dd = Victim.Start("dd", $"if={bigPath}", "iflag=direct", "of=/dev/null", "bs=1M");
                await dd.WaitBlockedAsync();
                dd.Signal(signal);
                var gone = await dd.WaitExitAsync(PromptExit);
                output.WriteLine($"dd O_DIRECT read after signal {signal}: {Describe(gone)} ({dd.Wchan})");
                Assert.True(gone is not null, $"dd stayed blocked in READ after signal {signal}");
            }

            // A buffered reader waits for the kernel's read-ahead on a page lock, which a fatal signal always breaks.
            await using (var cat = Victim.Start("cat", bigPath))
            {
                await cat.WaitBlockedAsync();
                cat.Signal(SIGKILL);
                var gone = await cat.WaitExitAsync(PromptExit);
                output.WriteLine($"cat after SIGKILL: {Describe(gone)} ({cat.Wchan})");
                Assert.True(gone is not null, "cat stayed blocked after SIGKILL");
            }

            // The mount still answers: names come from the tracker.
            Assert.Equal(["big.bin", "other.bin"], Directory.GetFiles(mount.PathOf("group1/interrupts")).Select(Path.GetFileName).Order());
            Assert.Equal(big.Length, new FileInfo(bigPath).Length);
        }
        finally
        {
            storage.Freeze(false);
        }

        // Nothing stuck: the interrupted file and another one read correctly once the storage runs again.
        Assert.Equal(big, await File.ReadAllBytesAsync(bigPath));
        Assert.Equal(other, await File.ReadAllBytesAsync(mount.PathOf("group1/interrupts/other.bin")));
        Assert.False(mount.HasExited, mount.Log);
    }

    [Theory]
    [InlineData(SIGINT)]
    [InlineData(SIGKILL)]
    public async Task A_signal_ends_a_close_waiting_for_a_frozen_storage_and_the_data_is_still_stored(int signal)
    {
        await using var cluster = await Cluster.StartAsync("namespace_orphan_delay = 0", new StorageSpec());
        await using var names = NamedMountFixture.CreateNamespaceClient(cluster.TrackerEndpoint);
        await using var mount = await MountProcess.StartAsync(cluster.TrackerEndpoint, Options);
        using var local = new LocalDirectory("interrupt");
        byte[] data = RandomNumberGenerator.GetBytes(300_000);
        await File.WriteAllBytesAsync(local.PathOf("source.bin"), data);
        Directory.CreateDirectory(mount.PathOf("group1/written"));
        string target = mount.PathOf("group1/written/new.bin");

        var storage = cluster.Storages[0].Process!;
        storage.Freeze(true);
        try
        {
            // create and write answer at once (the tracker names it, the bytes stay in the write buffer); close(2)
            // sends FLUSH, which waits for the upload to the frozen storage.
            await using var dd = Victim.Start("dd", $"if={local.PathOf("source.bin")}", $"of={target}", "bs=64k");
            await dd.WaitBlockedAsync();
            dd.Signal(signal);
            var gone = await dd.WaitExitAsync(PromptExit);
            output.WriteLine($"dd close after signal {signal}: {Describe(gone)} ({dd.Wchan})");
            Assert.True(gone is not null, $"dd stayed blocked in FLUSH after signal {signal}");

            // The mount goes on answering while the storage is still frozen.
            Assert.Equal(["new.bin"], Directory.GetFiles(mount.PathOf("group1/written")).Select(Path.GetFileName));
        }
        finally
        {
            storage.Freeze(false);
        }

        // The interrupted flush did not drop the buffered bytes: they are stored and named once the storage runs.
        await MountProcess.WaitUntilAsync(() => TryRead(target) is { } stored && stored.AsSpan().SequenceEqual(data), TimeSpan.FromSeconds(90), "the interrupted file to be committed");
        var root = await names.GetRootAsync("group1");
        var written = await names.LookupAsync(root.Inode, "written");
        var file = await names.LookupAsync(written.Inode, "new.bin");
        Assert.Equal(data.Length, file.Size);
        Assert.False(mount.HasExited, mount.Log);
    }

    [Fact]
    public async Task An_interrupted_O_APPEND_write_that_completes_within_the_grace_keeps_its_real_answer_and_is_not_repeated()
    {
        await using var cluster = await Cluster.StartAsync("namespace_orphan_delay = 0", new StorageSpec());
        // Small chunks, so a few writes fill the queue and the next one waits for the frozen storage; a long grace,
        // so the thaw below lands inside it however slow the machine is.
        await using var mount = await MountProcess.StartAsync(cluster.TrackerEndpoint, Options + ",write_chunk=1048576,interrupt_grace=30");
        using var local = new LocalDirectory("interrupt-append");
        Directory.CreateDirectory(mount.PathOf("group1/appended"));
        string target = mount.PathOf("group1/appended/log.bin");
        await File.WriteAllBytesAsync(target, []);

        // Python retries a write that fails with EINTR when the handler returns (PEP 475), as most programs do: an
        // EINTR for a write that in fact went through would append that block twice.
        const int Blocks = 64, BlockSize = 65536;
        string script = local.PathOf("append.py");
        await File.WriteAllTextAsync(script, $$"""
            import os, signal, sys
            signal.signal(signal.SIGUSR1, lambda *_: None)
            fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
            for i in range({{Blocks}}):
                if os.write(fd, bytes([i]) * {{BlockSize}}) != {{BlockSize}}:
                    sys.exit(3)
            os.close(fd)
            """);

        var storage = cluster.Storages[0].Process!;
        storage.Freeze(true);
        await using var writer = Victim.Start("python3", script, target);
        try
        {
            await writer.WaitBlockedAsync();
            writer.Signal(SIGUSR1);
            await Task.Delay(500); // the interrupt reaches the mount; its grace has begun
        }
        finally
        {
            storage.Freeze(false);
        }

        var gone = await writer.WaitExitAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"writer after SIGUSR1 and thaw: {Describe(gone)} ({writer.Wchan})");
        Assert.True(gone is not null, "the writer did not finish after the storage thawed");
        Assert.Equal(0, writer.ExitCode);

        byte[] expected = new byte[Blocks * BlockSize];
        for (int i = 0; i < Blocks; i++)
        {
            expected.AsSpan(i * BlockSize, BlockSize).Fill((byte)i);
        }

        byte[] stored = await File.ReadAllBytesAsync(target);
        Assert.Equal(expected.Length, stored.Length);
        Assert.True(expected.AsSpan().SequenceEqual(stored), "the appended blocks differ from what was written once each");
    }

    private static string Describe(TimeSpan? gone) => gone is { } t ? $"exited after {t.TotalMilliseconds:F0} ms" : "still blocked";

    private static byte[]? TryRead(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>A tool started on the mount, to be signalled while it waits there; disposing kills what is left of it.</summary>
    private sealed partial class Victim : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly Stopwatch _signalled = new();

        private Victim(Process process) => _process = process;

        public int ExitCode => _process.ExitCode;

        /// <summary>What the process waited in when it was signalled (/proc/PID/wchan).</summary>
        public string Wchan { get; private set; } = "";

        public static Victim Start(string tool, params string[] args)
        {
            var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in args)
            {
                info.ArgumentList.Add(a);
            }

            var process = Process.Start(info)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return new Victim(process);
        }

        /// <summary>Until the process has been asleep in the kernel for a while (not a timing assertion: a settle).</summary>
        public async Task WaitBlockedAsync()
        {
            int asleep = 0;
            await MountProcess.WaitUntilAsync(
                () =>
                {
                    asleep = IsAsleep() ? asleep + 1 : 0;
                    return asleep >= 20 || _process.HasExited;
                },
                TimeSpan.FromSeconds(30),
                "the process to block on the mount");
            Assert.False(_process.HasExited, "the process finished instead of blocking on the frozen storage");
        }

        public void Signal(int signal)
        {
            Wchan = ReadProc("wchan");
            _signalled.Start();
            _ = Kill(_process.Id, signal);
        }

        /// <summary>How long after the signal the process ended, or null if it is still there after <paramref name="limit"/>.</summary>
        public async Task<TimeSpan?> WaitExitAsync(TimeSpan limit)
        {
            while (!_process.HasExited)
            {
                if (_signalled.Elapsed > limit)
                {
                    return null;
                }

                await Task.Delay(20);
            }

            return _signalled.Elapsed;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _ = Kill(_process.Id, SIGKILL);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
                await _process.WaitForExitAsync(cts.Token);
            }

            _process.Dispose();
        }

        private bool IsAsleep()
        {
            // Field 3 of /proc/PID/stat (after the parenthesised name): S or D while waiting in the kernel.
            string stat = ReadProc("stat");
            int end = stat.LastIndexOf(')');
            return end > 0 && end + 2 < stat.Length && stat[end + 2] is 'S' or 'D';
        }

        private string ReadProc(string entry)
        {
            try
            {
                return File.ReadAllText($"/proc/{_process.Id}/{entry}").Trim();
            }
            catch (IOException)
            {
                return "";
            }
        }

        [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
        private static partial int Kill(int pid, int signal);
    }
}
