using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace FastDfs.Integration.Tests.TestKit;

/// <summary>
/// A daemon started as a real process. Waits for its "listening on ip:port" line, keeps a tail of its
/// output for failure messages, and stops it with SIGTERM (then SIGKILL) or kills it hard on request.
/// </summary>
public sealed partial class DaemonProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly TaskCompletionSource<string> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private DaemonProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    public string Endpoint { get; private set; } = string.Empty;

    public int Port => int.Parse(Endpoint[(Endpoint.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);

    public bool HasExited => _process.HasExited;

    /// <summary>Everything the daemon wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public string LogTail
    {
        get
        {
            lock (_log)
            {
                string text = _log.ToString();
                return text.Length > 6000 ? text[^6000..] : text;
            }
        }
    }

    /// <summary>
    /// Starts <paramref name="program"/>; a <paramref name="launcher"/> (e.g. <c>prlimit --fsize=N --</c>) runs it and must
    /// exec it, so <see cref="Pid"/> stays the daemon's.
    /// </summary>
    public static async Task<DaemonProcess> StartAsync(string program, string configPath, string role, TimeSpan? timeout = null, IReadOnlyList<string>? launcher = null)
    {
        var (fileName, prefixArgs) = Binaries.Resolve(program);
        var info = new ProcessStartInfo(launcher is { Count: > 0 } ? launcher[0] : fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in launcher is { Count: > 0 } ? [.. launcher.Skip(1), fileName, .. prefixArgs] : prefixArgs)
        {
            info.ArgumentList.Add(arg);
        }

        info.ArgumentList.Add(configPath);
        info.Environment["DOTNET_gcServer"] = "0";
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var daemon = new DaemonProcess(process);
        var listening = ListeningLine();
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (daemon._log)
            {
                daemon._log.AppendLine(e.Data);
            }

            var match = listening.Match(e.Data);
            if (match.Success && match.Groups["role"].Value == role)
            {
                daemon._listening.TrySetResult(match.Groups["ep"].Value);
            }
        };
        process.OutputDataReceived += onLine;
        process.ErrorDataReceived += onLine;
        process.Exited += (_, _) => daemon._listening.TrySetException(new InvalidOperationException($"{program} exited with {process.ExitCode}"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            daemon.Endpoint = await daemon._listening.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(60));
        }
        catch (Exception e)
        {
            string tail = daemon.LogTail;
            await daemon.DisposeAsync();
            throw new InvalidOperationException($"{program} did not start ({e.Message}). Output:\n{tail}", e);
        }

        return daemon;
    }

    /// <summary>kill -9: no chance to clean up, as in a crash.</summary>
    public async Task KillHardAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
    }

    /// <summary>
    /// SIGSTOP / SIGCONT: a server that accepts nothing and answers nothing, as a hung machine. Returns once every thread
    /// has stopped: the kernel wakes one thread to start the group stop, and until it runs, another thread woken by a
    /// request can still answer it (a read against a "frozen" storage once succeeded in 0 ms on a loaded CI machine).
    /// </summary>
    public void Freeze(bool frozen)
    {
        _ = Kill(_process.Id, frozen ? 19 : 18);
        if (!frozen)
        {
            return;
        }

        var deadline = Stopwatch.StartNew();
        while (!AllThreadsStopped(_process.Id))
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(10))
            {
                throw new TimeoutException($"pid {_process.Id} did not stop within 10 s of SIGSTOP");
            }

            Thread.Sleep(1);
        }
    }

    /// <summary>Whether every thread of <paramref name="pid"/> is in the stopped state ('T' in /proc/PID/task/TID/stat).</summary>
    private static bool AllThreadsStopped(int pid)
    {
        foreach (string task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                continue; // the thread ended
            }

            // "tid (comm) S ...": comm may hold spaces and parentheses, so the state follows the last ')'.
            int close = stat.LastIndexOf(')');
            if (close < 0 || close + 2 >= stat.Length || stat[close + 2] is not ('T' or 't'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>SIGTERM, as systemd and Ctrl-C stop daemons; returns the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan? grace = null)
    {
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, 15);
            using var cts = new CancellationTokenSource(grace ?? TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }

        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }

        _process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [GeneratedRegex(@"(?<role>tracker|storage) listening on (?<ep>(?:[0-9.]+|\[[0-9a-fA-F:.]+\]):\d+)")]
    private static partial Regex ListeningLine();
}
