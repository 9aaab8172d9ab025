using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using FastDfs.Integration.Tests.TestKit;

namespace FastDfs.Mount.Tests;

/// <summary>
/// A real <c>fdfs-mount</c> process on a fresh temp directory. Dispose always unmounts (<c>fusermount3 -u</c>, then
/// lazily), stops the process and removes the directory, also when the test failed.
/// </summary>
internal sealed partial class MountProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    // The pending-upload journal directory made for this mount (not one the test chose), removed with it.
    private readonly string? _journal;

    private MountProcess(Process process, string mountPoint, string? journal)
    {
        _process = process;
        MountPoint = mountPoint;
        _journal = journal;
    }

    public string MountPoint { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public static Task<MountProcess> StartAsync(string tracker, string options = "", bool verbose = false) => StartAsync([tracker], options, verbose);

    /// <summary>A mount knowing several trackers (one <c>--tracker</c> each), for failover tests.</summary>
    /// <param name="verbose">Debug logging (-v) into <see cref="Log"/>.</param>
    public static async Task<MountProcess> StartAsync(IReadOnlyList<string> trackers, string options = "", bool verbose = false)
    {
        string mountPoint = Path.Combine(Path.GetTempPath(), "fdfs-mnt-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(mountPoint);
        var (fileName, prefix) = Binaries.Resolve("fdfs-mount");
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in prefix)
        {
            info.ArgumentList.Add(a);
        }

        foreach (string tracker in trackers)
        {
            info.ArgumentList.Add("--tracker");
            info.ArgumentList.Add(tracker);
        }

        info.ArgumentList.Add(mountPoint);

        // Not the default state directory: a killed test mount must not leave its journal there.
        string? journal = null;
        if (!options.Contains("pending_journal=", StringComparison.Ordinal))
        {
            journal = mountPoint + ".journal";
            options = options.Length > 0 ? $"{options},pending_journal={journal}" : $"pending_journal={journal}";
        }

        if (options.Length > 0)
        {
            info.ArgumentList.Add("-o");
            info.ArgumentList.Add(options);
        }

        if (verbose)
        {
            info.ArgumentList.Add("-v");
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var mount = new MountProcess(process, mountPoint, journal);
        process.OutputDataReceived += (_, e) => mount.Append(e.Data);
        process.ErrorDataReceived += (_, e) => mount.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await WaitUntilAsync(() => mount.IsMounted || process.HasExited, TimeSpan.FromSeconds(30), "mount to appear");
            if (!mount.IsMounted)
            {
                throw new InvalidOperationException($"fdfs-mount exited ({process.ExitCode}) without mounting:\n{mount.Log}");
            }
        }
        catch
        {
            await mount.DisposeAsync();
            throw;
        }

        return mount;
    }

    public bool IsMounted => IsMountPoint(MountPoint);

    public static bool IsMountPoint(string path) =>
        File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ') is { Length: > 4 } f && f[4] == path);

    public string PathOf(string relative) => Path.Combine(MountPoint, relative);

    public void Signal(int signal) => _ = Kill(_process.Id, signal);

    /// <summary>kill(2) of another process the test started.</summary>
    public static void SendSignal(int pid, int signal) => _ = Kill(pid, signal);

    /// <summary>
    /// Waits for the process itself, not for its output pipes: with auto_unmount the fusermount3 watchdog inherits
    /// them and keeps them open until it has unmounted.
    /// </summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (!_process.HasExited)
        {
            if (watch.Elapsed > timeout)
            {
                return false;
            }

            await Task.Delay(25);
        }

        return true;
    }

    public async ValueTask DisposeAsync()
    {
        if (IsMounted)
        {
            await Tools.RunAsync("fusermount3", "-u", MountPoint);
            if (IsMounted)
            {
                await Tools.RunAsync("fusermount3", "-u", "-z", MountPoint);
            }
        }

        if (!_process.HasExited && !await WaitForExitAsync(TimeSpan.FromSeconds(15)))
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        if (_journal is not null && Directory.Exists(_journal))
        {
            Directory.Delete(_journal, recursive: true);
        }

        try
        {
            Directory.Delete(MountPoint);
        }
        catch (IOException)
        {
            // Still busy after a lazy unmount; the OS temp cleaner gets it.
        }
    }

    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds} s waiting for {what}");
            }

            await Task.Delay(25);
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

/// <summary>Runs system tools (cmp, dd, getfattr, df, ...) and the xattr syscalls with flags.</summary>
internal static partial class Tools
{
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(string tool, params string[] args)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await output, await error);
    }

    /// <summary>setxattr(2); returns 0 or the errno.</summary>
    public static int SetXattr(string path, string name, byte[] value, int flags) =>
        SetXattrNative(path, name, value, (nuint)value.Length, flags) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>getxattr(2) with a buffer of <paramref name="size"/> bytes; returns the length or -errno.</summary>
    public static long GetXattr(string path, string name, int size)
    {
        byte[] buffer = new byte[Math.Max(size, 1)];
        long n = (long)GetXattrNative(path, name, size == 0 ? null : buffer, (nuint)size);
        return n >= 0 ? n : -Marshal.GetLastPInvokeError();
    }

    /// <summary>The file ID a named file's content has on the mount (its system.fdfs.file_id xattr).</summary>
    public static string FileIdOf(string path)
    {
        byte[] buffer = new byte[256];
        long n = (long)GetXattrNative(path, "system.fdfs.file_id", buffer, (nuint)buffer.Length);
        Xunit.Assert.True(n > 0, $"getxattr system.fdfs.file_id of {path}: errno {Marshal.GetLastPInvokeError()}");
        return Encoding.UTF8.GetString(buffer, 0, (int)n);
    }

    [LibraryImport("libc", EntryPoint = "setxattr", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int SetXattrNative(string path, string name, byte[] value, nuint size, int flags);

    [LibraryImport("libc", EntryPoint = "getxattr", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial nint GetXattrNative(string path, string name, byte[]? value, nuint size);
}
