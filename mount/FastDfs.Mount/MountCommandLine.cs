using System.Globalization;
using FastDfs.Mount.Core;
using FastDfs.Mount.Fuse;

namespace FastDfs.Mount;

/// <summary>
/// <c>fdfs-mount [-c client.conf | --tracker host:port ...] MOUNTPOINT [-o opt,...] [-d] [-v]</c>. Options the mount
/// understands itself are taken out of <c>-o</c>; the rest (allow_other, default_permissions, auto_unmount, ro,
/// nosuid, ...) go to libfuse, which refuses unknown ones.
/// </summary>
internal sealed record MountCommandLine
{
    public const string Usage = """
        usage: fdfs-mount [-c client.conf | --tracker host:port ...] MOUNTPOINT [-o option,...] [-d] [-v]
          -c FILE            FastDFS client.conf (tracker_server, connect_timeout, network_timeout, ...)
          --tracker H:P      tracker address, repeatable (default: env FDFS_TRACKERS, a comma list)
          -d                 detach: run in the background once mounted
          -v                 debug logging
          -o options         comma list; libfuse's: allow_other, default_permissions, auto_unmount, ro, nosuid, ...
                             fdfs-mount's: timeout=S (default 30), attr_timeout=S, entry_timeout=S,
                             negative_timeout=S, xattr_timeout=S, readahead_chunk=BYTES, readahead_chunks=N, read_streams=N,
                             readahead_kb=KIB (kernel read-ahead, default 1024), threads=N (receive threads, default 2),
                             huge_pages=on|off (data chunks on transparent huge pages, default on),
                             interrupt_grace=S (an interrupted change keeps its real answer this long, default 2),
                             write_chunk=BYTES (default 4 MiB), write_chunks=N (default 2), pending_lease=S (600),
                             max_buffers=MIB (queued write and read-ahead chunks of the whole mount; default a
                             quarter of memory, 64..512),
                             direct_writes=on|off (write-only opens bypass the page cache, default on),
                             stream_writes=on|off (large writes go from the receive buffer onto the storage's socket,
                             one request each, default on), splice_writes=on|off (the same from the kernel's pipe,
                             uncopied, 512 KiB writes; default off),
                             pending_journal=DIR|none (uploads not yet named, for the collector after a crash;
                             default /var/lib/fdfs-mount as root, else ~/.local/state/fdfs-mount),
                             choice_timeout=S (reuse of the tracker's upload/update choice, default 1),
                             uid=N, gid=N, names=auto|on|off (directory service: auto = use it when the
                             trackers serve it; off = file-ID paths only),
                             locks=cluster|local (flock and fcntl locks across mounts through the directory
                             service, default cluster; local = this mount only), lock_lease=S (how long a dead
                             mount's locks outlive it, default 30)
        """;

    public string? ConfigPath { get; init; }

    public List<string> Trackers { get; init; } = [];

    public string MountPoint { get; init; } = string.Empty;

    public bool Detach { get; init; }

    public bool Verbose { get; init; }

    public MountOptions Options { get; init; } = new();

    public List<string> FuseOptions { get; init; } = [];

    public int ReceiveThreads { get; init; } = 2;

    public int ReadAheadKilobytes { get; init; } = 1024;

    /// <summary>Data chunks advised onto transparent huge pages (<c>huge_pages</c>).</summary>
    public bool HugePages { get; init; } = true;

    public TimeSpan InterruptGrace { get; init; } = FuseMount.DefaultInterruptGrace;

    /// <summary><c>pending_journal=</c>: the directory of <see cref="PendingJournal"/>s; null = none.</summary>
    public string? PendingJournalDirectory { get; init; }

    /// <summary><c>names=</c>: null = auto (probe the trackers), true = require the directory service, false = file-ID paths only.</summary>
    public bool? Names { get; init; }

    /// <summary>Parses; throws <see cref="ArgumentException"/> with a message for the user.</summary>
    public static MountCommandLine Parse(IReadOnlyList<string> args, uint uid, uint gid)
    {
        string? config = null;
        var trackers = new List<string>();
        string? mountPoint = null;
        bool detach = false, verbose = false;
        var rawOptions = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            string Next() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{a} needs a value");
            switch (a)
            {
                case "-c" or "--config":
                    config = Next();
                    break;
                case "-t" or "--tracker":
                    trackers.Add(Next());
                    break;
                case "-o":
                    rawOptions.AddRange(Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                    break;
                case "-d" or "--detach":
                    detach = true;
                    break;
                case "-f" or "--foreground":
                    detach = false;
                    break;
                case "-v" or "--verbose":
                    verbose = true;
                    break;
                default:
                    if (a.StartsWith("-o", StringComparison.Ordinal) && a.Length > 2)
                    {
                        rawOptions.AddRange(a[2..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                    }
                    else if (a.StartsWith('-'))
                    {
                        throw new ArgumentException($"unknown option {a}");
                    }
                    else if (mountPoint is null)
                    {
                        mountPoint = a;
                    }
                    else
                    {
                        throw new ArgumentException($"unexpected argument {a}");
                    }

                    break;
            }
        }

        if (mountPoint is null)
        {
            throw new ArgumentException("MOUNTPOINT is required");
        }

        var options = new MountOptions { Uid = uid, Gid = gid };
        var fuse = new List<string>();
        int threads = 2, readAheadKb = 1024;
        bool hugePages = true;
        var interruptGrace = FuseMount.DefaultInterruptGrace;
        bool? names = null;
        string? journal = DefaultJournalDirectory(uid);
        foreach (string option in rawOptions)
        {
            int eq = option.IndexOf('=', StringComparison.Ordinal);
            string key = eq < 0 ? option : option[..eq];
            string value = eq < 0 ? string.Empty : option[(eq + 1)..];
            switch (key)
            {
                case "timeout":
                    options = options with { OperationTimeout = Seconds(key, value) };
                    break;
                case "attr_timeout":
                    options = options with { AttrTimeout = Seconds(key, value) };
                    break;
                case "entry_timeout":
                    options = options with { EntryTimeout = Seconds(key, value) };
                    break;
                case "negative_timeout":
                    options = options with { NegativeTimeout = Seconds(key, value) };
                    break;
                case "xattr_timeout":
                    options = options with { XattrTimeout = Seconds(key, value) };
                    break;
                case "readahead_chunk":
                    options = options with { ReadAheadChunkSize = Integer(key, value) };
                    break;
                case "readahead_chunks":
                    options = options with { ReadAheadChunks = Integer(key, value) };
                    break;
                case "read_streams":
                    options = options with { ReadStreams = Integer(key, value) };
                    break;
                case "write_chunk":
                    options = options with { WriteChunkSize = Integer(key, value) };
                    break;
                case "write_chunks":
                    options = options with { WriteChunks = Integer(key, value) };
                    break;
                case "max_buffers":
                    options = options with { MaxBuffers = (long)Integer(key, value) * 1024 * 1024 };
                    break;
                case "choice_timeout":
                    options = options with { ChoiceTimeout = Seconds(key, value) };
                    break;
                case "direct_writes":
                    options = options with { DirectWrites = OnOff(key, value) };
                    break;
                case "stream_writes":
                    options = options with { StreamedWrites = OnOff(key, value) };
                    break;
                case "splice_writes":
                    options = options with { SplicedWrites = OnOff(key, value) };
                    break;
                case "locks":
                    options = options with
                    {
                        ClusterLocks = value switch
                        {
                            "cluster" => true,
                            "local" => false,
                            _ => throw new ArgumentException($"locks must be cluster or local (got '{value}')"),
                        },
                    };
                    break;
                case "lock_lease":
                    options = options with { LockLease = Seconds(key, value) };
                    break;
                case "pending_lease":
                    options = options with { PendingLease = Seconds(key, value) };
                    break;
                case "pending_journal":
                    journal = value is "none" ? null : value.Length > 0 ? value : throw new ArgumentException("pending_journal needs a directory or none");
                    break;
                case "huge_pages":
                    hugePages = OnOff(key, value);
                    break;
                case "readahead_kb":
                    readAheadKb = Integer(key, value);
                    break;
                case "interrupt_grace":
                    interruptGrace = Seconds(key, value);
                    break;
                case "threads":
                    threads = Integer(key, value);
                    break;
                case "uid":
                    options = options with { Uid = (uint)Integer(key, value) };
                    break;
                case "gid":
                    options = options with { Gid = (uint)Integer(key, value) };
                    break;
                case "names":
                    names = value switch
                    {
                        "auto" => null,
                        "on" => true,
                        "off" => false,
                        _ => throw new ArgumentException($"names must be auto, on or off (got '{value}')"),
                    };
                    break;
                case "ro":
                    options = options with { ReadOnly = true };
                    fuse.Add(option);
                    break;
                default:
                    fuse.Add(option);
                    break;
            }
        }

        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException(e.Message, e);
        }

        if (threads is < 1 or > 16)
        {
            throw new ArgumentException($"threads must be 1..16 (got {threads})");
        }

        return new MountCommandLine
        {
            ConfigPath = config,
            Trackers = trackers,
            MountPoint = mountPoint,
            Detach = detach,
            Verbose = verbose,
            Options = options,
            FuseOptions = fuse,
            ReceiveThreads = threads,
            ReadAheadKilobytes = readAheadKb,
            HugePages = hugePages,
            InterruptGrace = interruptGrace,
            Names = names,
            PendingJournalDirectory = journal,
        };
    }

    /// <summary>Where a crashed mount's journal is found by the next one: a state directory that survives reboots.</summary>
    private static string DefaultJournalDirectory(uint uid)
    {
        if (uid == 0)
        {
            return "/var/lib/fdfs-mount";
        }

        string? state = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        return Path.Combine(
            string.IsNullOrEmpty(state) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state") : state,
            "fdfs-mount");
    }

    private static TimeSpan Seconds(string key, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s >= 0 && s <= 86400
            ? TimeSpan.FromSeconds(s)
            : throw new ArgumentException($"{key} needs a number of seconds (got '{value}')");

    private static int Integer(string key, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= 0
            ? n
            : throw new ArgumentException($"{key} needs a non-negative integer (got '{value}')");

    private static bool OnOff(string key, string value) => value switch
    {
        "on" => true,
        "off" => false,
        _ => throw new ArgumentException($"{key} must be on or off (got '{value}')"),
    };
}
