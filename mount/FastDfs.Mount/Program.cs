using System.Diagnostics;
using System.Runtime.InteropServices;
using FastDfs.Client;
using FastDfs.Mount;
using FastDfs.Mount.Core;
using FastDfs.Mount.Fuse;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.Messages;
using Microsoft.Extensions.Logging;

const string DetachedVariable = "FDFS_MOUNT_DETACHED";
const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

// Socket completions run inline on the event threads: a small file's close waits for two answers in a row (the
// storage's, then the tracker's), and each thread-pool hop cost a wake-up (cp -r of 4 KiB files: about 20% less mount
// CPU, 1 to 13% more files/s, docs/benchmarks.md). The continuations only parse, reply to the kernel and send the next
// request; nothing on them waits for a disk. Read once, before the first socket exists; an explicit setting (0) wins.
if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
{
    Environment.SetEnvironmentVariable(InlineCompletions, "1");
}

MountCommandLine command;
try
{
    if (args is ["--print-layouts"])
    {
        // Undocumented: the binding's C layouts for scripts/check-layouts.sh, which compiles them against the headers.
        foreach (string line in FuseMount.DescribeNativeLayouts())
        {
            Console.Out.WriteLine(line);
        }

        return 0;
    }

    if (args.Length == 0 || args.Contains("-h") || args.Contains("--help"))
    {
        Console.Out.WriteLine(MountCommandLine.Usage);
        return args.Length == 0 ? 2 : 0;
    }

    command = MountCommandLine.Parse(args, Libc.GetUid(), Libc.GetGid());
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"fdfs-mount: {e.Message}");
    Console.Error.WriteLine(MountCommandLine.Usage);
    return 2;
}

if (command.Detach && Environment.GetEnvironmentVariable(DetachedVariable) != "1")
{
    return Detacher.Run(args, command.MountPoint, DetachedVariable);
}

if (Environment.GetEnvironmentVariable(DetachedVariable) == "1")
{
    _ = Libc.SetSid(); // leave the terminal's session: its Ctrl-C and hang-up are not ours any more
}

using var loggerFactory = LoggerFactory.Create(b =>
{
    b.AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
    });
    b.SetMinimumLevel(command.Verbose ? LogLevel.Debug : LogLevel.Information);
});
var logger = loggerFactory.CreateLogger("fdfs-mount");

FastDfsClientOptions clientOptions;
try
{
    clientOptions = ClientOptions(command);
}
catch (Exception e) when (e is FdfsConfigException or FormatException or ArgumentException or IOException)
{
    Console.Error.WriteLine($"fdfs-mount: {e.Message}");
    return 2;
}

if (!Directory.Exists(command.MountPoint))
{
    Console.Error.WriteLine($"fdfs-mount: mount point {command.MountPoint} is not a directory");
    return 2;
}

await using var client = new FastDfsClient(clientOptions, loggerFactory);
var backend = new FastDfsBackend(client, loggerFactory.CreateLogger<FastDfsBackend>(), command.Options.ChoiceTimeout);
await using var namespaceClient = new NamespaceClient(clientOptions, loggerFactory);
bool namesAvailable = command.Names ?? false;
string? firstGroup = null;
using (var probe = new OperationDeadline(command.Options.OperationTimeout))
{
    var groups = await backend.ListGroupsAsync(probe);

    // With names=auto the mode is chosen once, at start: a cluster that is still starting gets a few seconds to answer
    // before the mount settles for file-ID paths only.
    var settle = Stopwatch.StartNew();
    while (!groups.IsOk && command.Names is null && settle.Elapsed < TimeSpan.FromSeconds(Math.Min(10, command.Options.OperationTimeout.TotalSeconds)))
    {
        await Task.Delay(500);
        groups = await backend.ListGroupsAsync(probe);
    }

    if (groups.IsOk)
    {
        ProgramLog.ClusterFound(logger, string.Join(", ", clientOptions.TrackerServers), string.Join(", ", groups.Value.Select(g => g.Name)));
        firstGroup = groups.Value.Count > 0 ? groups.Value[0].Name : null;
        if (command.Names is null && groups.Value.Count > 0)
        {
            // A FastDFS tracker answers the directory service's commands with EINVAL: then only file-ID paths exist.
            try
            {
                namesAvailable = await namespaceClient.IsAvailableAsync(groups.Value[0].Name, probe.Token);
            }
            catch (Exception e) when (e is FdfsException or OperationCanceledException)
            {
                ProgramLog.NamesProbeFailed(logger, e.Message);
            }
        }
    }
    else
    {
        ProgramLog.ClusterUnreachable(logger, string.Join(", ", clientOptions.TrackerServers));
    }
}

INameService names = namesAvailable
    ? new TrackerNameService(namespaceClient, loggerFactory.CreateLogger<TrackerNameService>())
    : NoNameService.Instance;
// Locks go through the directory service when there is one (and locks=cluster); without it the kernel keeps them local.
await using var locks = namesAvailable && command.Options.ClusterLocks
    ? new ClusterLocks(namespaceClient, command.Options.LockLease, command.Options.OperationTimeout, loggerFactory.CreateLogger<ClusterLocks>())
    : null;
if (locks is not null)
{
    using var opening = new CancellationTokenSource(command.Options.OperationTimeout);
    await locks.StartAsync(opening.Token);
}

HugePages.Enabled &= command.HugePages;
using var journal = await OpenPendingJournalAsync();
await using var fs = new FileSystem(backend, names, command.Options, loggerFactory.CreateLogger<FileSystem>()) { PendingJournal = journal, Locks = locks };

using var mount = new FuseMount(fs, command.MountPoint, command.FuseOptions, command.ReceiveThreads, loggerFactory.CreateLogger<FuseMount>())
{
    ReadAheadKilobytes = command.ReadAheadKilobytes,
    InterruptGrace = command.InterruptGrace,
};
try
{
    mount.Start();
}
catch (Exception e) when (e is IOException or DllNotFoundException or EntryPointNotFoundException or InvalidOperationException or PlatformNotSupportedException)
{
    Console.Error.WriteLine($"fdfs-mount: {e.Message}");
    return 1;
}

void OnSignal(PosixSignalContext context)
{
    context.Cancel = true; // we exit once unmounted, not now
    ProgramLog.Signal(logger, context.Signal.ToString());
    _ = Task.Run(mount.RequestUnmount);
}

using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal);

await mount.Ended;
return 0;

// The journal is per namespace (the directory service's id), so a journal is only ever replayed against the
// cluster whose storages hold its uploads. Journals of dead mounts are replayed in the background.
async Task<PendingJournal?> OpenPendingJournalAsync()
{
    if (!namesAvailable || command.Options.ReadOnly || command.PendingJournalDirectory is not { } directory)
    {
        return null;
    }

    try
    {
        using var deadline = new OperationDeadline(command.Options.OperationTimeout);
        var stats = firstGroup is null ? FsResult<NsStatFs>.Fail(Errno.EIO) : await names.StatFsAsync(firstGroup, deadline);
        if (!stats.IsOk)
        {
            ProgramLog.NoPendingJournal(logger, directory, "the directory service did not answer");
            return null;
        }

        var journalLogger = loggerFactory.CreateLogger<PendingJournal>();
        var created = PendingJournal.Create(directory, stats.Value.NamespaceId, journalLogger);
        _ = Task.Run(async () =>
        {
            try
            {
                await PendingJournal.RecoverAsync(directory, stats.Value.NamespaceId, names, command.Options.PendingLease, journalLogger, OperationDeadline.None);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                ProgramLog.NoPendingJournal(logger, directory, e.Message);
            }
        });
        return created;
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
    {
        ProgramLog.NoPendingJournal(logger, directory, e.Message);
        return null;
    }
}

static FastDfsClientOptions ClientOptions(MountCommandLine command)
{
    FastDfsClientOptions options;
    if (command.Trackers.Count > 0)
    {
        options = FastDfsClientOptions.FromTrackers([.. command.Trackers]);
    }
    else if (command.ConfigPath is not null)
    {
        options = FastDfsClientOptions.FromConfig(FdfsConfigFile.Load(command.ConfigPath));
    }
    else if (Environment.GetEnvironmentVariable("FDFS_TRACKERS") is { Length: > 0 } env)
    {
        options = FastDfsClientOptions.FromTrackers(env.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }
    else
    {
        throw new ArgumentException("no tracker: use --tracker host:port, -c client.conf or FDFS_TRACKERS");
    }

    // Nothing may wait longer than the mount's operation timeout: a dead server must give EIO, not a hang.
    var limit = command.Options.OperationTimeout;
    return options with
    {
        NetworkTimeout = options.NetworkTimeout < limit ? options.NetworkTimeout : limit,
        ConnectTimeout = options.ConnectTimeout < limit ? options.ConnectTimeout : limit,
        TrackerRetryDelay = TimeSpan.FromSeconds(2),
    };
}

/// <summary>
/// -d: start a copy of ourselves in its own session with its log going to a file, wait until it has mounted,
/// then leave. The copy must not write into our pipes: nobody reads them once we are gone.
/// </summary>
internal static class Detacher
{
    public static int Run(string[] args, string mountPoint, string variable)
    {
        string self = Environment.ProcessPath ?? "fdfs-mount";
        string log = Environment.GetEnvironmentVariable("FDFS_MOUNT_LOG") is { Length: > 0 } chosen
            ? chosen
            : Path.Combine(Path.GetTempPath(), $"fdfs-mount.{Environment.ProcessId}.log");
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec \"$0\" \"$@\" >>\"$FDFS_MOUNT_LOG\" 2>&1 </dev/null");
        start.ArgumentList.Add(self);
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(Environment.GetCommandLineArgs()[0]);
        }

        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment[variable] = "1";
        start.Environment["FDFS_MOUNT_LOG"] = log;
        using var child = Process.Start(start)!;
        string full = Path.GetFullPath(mountPoint);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (child.HasExited)
            {
                Console.Error.Write(File.Exists(log) ? File.ReadAllText(log) : string.Empty);
                return child.ExitCode == 0 ? 1 : child.ExitCode;
            }

            if (File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ') is { Length: > 4 } f && f[4] == full))
            {
                Console.Out.WriteLine($"fdfs-mount: mounted {full} (pid {child.Id}, log {log})");
                return 0;
            }

            Thread.Sleep(50);
        }

        Console.Error.WriteLine($"fdfs-mount: {full} not mounted after 60 s; see {log} (pid {child.Id})");
        return 1;
    }
}

internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "getuid")]
    public static partial uint GetUid();

    [LibraryImport("libc", EntryPoint = "getgid")]
    public static partial uint GetGid();

    [LibraryImport("libc", EntryPoint = "setsid")]
    public static partial int SetSid();
}

/// <summary>fdfs-mount log events (6200-6299).</summary>
internal static partial class ProgramLog
{
    [LoggerMessage(EventId = 6201, Level = LogLevel.Information, Message = "trackers {Trackers}: groups {Groups}")]
    public static partial void ClusterFound(ILogger logger, string trackers, string groups);

    [LoggerMessage(EventId = 6202, Level = LogLevel.Warning, Message = "trackers {Trackers} do not answer now; mounting anyway, operations fail with EIO until they do")]
    public static partial void ClusterUnreachable(ILogger logger, string trackers);

    [LoggerMessage(EventId = 6203, Level = LogLevel.Information, Message = "{Signal} received: unmounting")]
    public static partial void Signal(ILogger logger, string signal);

    [LoggerMessage(EventId = 6205, Level = LogLevel.Warning, Message = "no pending journal in {Directory} ({Reason}): uploads of a mount killed before close are not collected")]
    public static partial void NoPendingJournal(ILogger logger, string directory, string reason);

    [LoggerMessage(EventId = 6204, Level = LogLevel.Warning, Message = "could not ask the trackers for a directory service ({Reason}); serving file-ID paths only (-o names=on forces names)")]
    public static partial void NamesProbeFailed(ILogger logger, string reason);
}
