using System.CommandLine;
using System.Globalization;
using FastDfs.Client;
using FastDfs.Protocol;
using FastDfs.Protocol.Config;

namespace FastDfs.Cli;

/// <summary>Thrown for bad command-line input found after parsing; exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

internal static partial class Program
{
    private static readonly Option<string?> ConfigOption = new("--config", "-c")
    {
        Description = "client.conf to read tracker_server and timeouts from",
        Recursive = true,
    };

    private static readonly Option<string[]> TrackerOption = new("--tracker", "-t")
    {
        Description = "tracker host:port (repeatable; default: env FDFS_TRACKERS, a comma list)",
        Recursive = true,
        Arity = ArgumentArity.OneOrMore,
    };

    private static readonly Option<double?> TimeoutOption = new("--timeout")
    {
        Description = "network timeout in seconds (overrides network_timeout)",
        Recursive = true,
    };

    private static readonly Option<bool> VerboseOption = new("--verbose", "-v")
    {
        Description = "show stack traces and server details on errors",
        Recursive = true,
    };

    public static async Task<int> Main(string[] args)
    {
        var root = new RootCommand("fdfs: FastDFS command-line client (upload, download, metadata, admin, bench)");
        root.Options.Add(ConfigOption);
        root.Options.Add(TrackerOption);
        root.Options.Add(TimeoutOption);
        root.Options.Add(VerboseOption);
        foreach (var command in Commands.All())
        {
            root.Subcommands.Add(command);
        }

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                await Console.Error.WriteLineAsync("fdfs: " + error.Message);
            }

            await Console.Error.WriteLineAsync("Try 'fdfs --help'.");
            return 2;
        }

        return await parse.InvokeAsync();
    }

    /// <summary>FDFS_TRACKERS: a comma list; commas inside brackets belong to one IPv6 tracker (<c>[v6a,v6b]:port</c>).</summary>
    internal static string[] SplitTrackerList(string text)
    {
        var parts = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i <= text.Length; i++)
        {
            char c = i < text.Length ? text[i] : ',';
            depth += c == '[' ? 1 : c == ']' && depth > 0 ? -1 : 0;
            if (c == ',' && depth == 0)
            {
                if (text.AsSpan(start, i - start).Trim().Length > 0)
                {
                    parts.Add(text[start..i].Trim());
                }

                start = i + 1;
            }
        }

        return [.. parts];
    }

    /// <summary>Builds client options from -c, -t, FDFS_TRACKERS or /etc/fdfs/client.conf, in that order.</summary>
    internal static FastDfsClientOptions BuildOptions(ParseResult pr, int minConnections = 0)
    {
        string? config = pr.GetValue(ConfigOption);
        string[] trackers = pr.GetValue(TrackerOption) ?? [];
        FastDfsClientOptions options;
        if (trackers.Length > 0)
        {
            options = FastDfsClientOptions.FromTrackers(trackers);
            if (config is not null)
            {
                var fromFile = FastDfsClientOptions.FromConfig(FdfsConfigFile.Load(config));
                options = fromFile with { TrackerServers = options.TrackerServers };
            }
        }
        else if (config is not null)
        {
            options = FastDfsClientOptions.FromConfig(FdfsConfigFile.Load(config));
        }
        else if (Environment.GetEnvironmentVariable("FDFS_TRACKERS") is { Length: > 0 } env)
        {
            options = FastDfsClientOptions.FromTrackers(SplitTrackerList(env));
        }
        else if (File.Exists("/etc/fdfs/client.conf"))
        {
            options = FastDfsClientOptions.FromConfig(FdfsConfigFile.Load("/etc/fdfs/client.conf"));
        }
        else
        {
            throw new UsageException("no tracker: use -t host:port, -c client.conf or FDFS_TRACKERS");
        }

        if (pr.GetValue(TimeoutOption) is { } seconds)
        {
            if (seconds <= 0)
            {
                throw new UsageException("--timeout must be positive");
            }

            options = options with { NetworkTimeout = TimeSpan.FromSeconds(seconds) };
        }

        if (minConnections > options.MaxConnectionsPerServer)
        {
            options = options with { MaxConnectionsPerServer = minConnections };
        }

        return options;
    }

    /// <summary>
    /// Runs a command body with a client and turns failures into one stderr line and an exit code:
    /// 2 for usage errors, 1 for failed operations, 130 when interrupted.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1068", Justification = "the body lambda reads better last")]
    internal static async Task<int> RunAsync(
        ParseResult pr, string what, CancellationToken ct, Func<FastDfsClient, Task<int>> body, int minConnections = 0)
    {
        bool verbose = pr.GetValue(VerboseOption);
        try
        {
            await using var client = new FastDfsClient(BuildOptions(pr, minConnections));
            return await body(client);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"fdfs: {what}: interrupted");
            return 130;
        }
        catch (Exception e) when (e is UsageException or ArgumentException or FormatException or FdfsConfigException)
        {
            await Fail(what, e.Message, e, verbose);
            return 2;
        }
        catch (FdfsException e)
        {
            await Fail(what, verbose ? e.Message : e.Reason, e, verbose);
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await Fail(what, e.Message, e, verbose);
            return 1;
        }
    }

    private static async Task Fail(string what, string message, Exception e, bool verbose)
    {
        await Console.Error.WriteLineAsync($"fdfs: {what}: {message}");
        if (verbose)
        {
            await Console.Error.WriteLineAsync(e.ToString());
        }
    }

    internal static FileId ParseId(string text) =>
        FileId.TryParse(text, out var id, out string? error) ? id : throw new UsageException($"invalid file ID '{text}': {error}");

    /// <summary>Parses 4096, 4K, 64K, 64M, 1G (binary units).</summary>
    internal static long ParseSize(string text)
    {
        string t = text.Trim();
        long unit = 1;
        if (t.Length > 0 && char.IsAsciiLetter(t[^1]))
        {
            unit = char.ToUpperInvariant(t[^1]) switch
            {
                'K' => 1L << 10,
                'M' => 1L << 20,
                'G' => 1L << 30,
                'T' => 1L << 40,
                _ => throw new UsageException($"bad size '{text}': use a number with K, M or G"),
            };
            t = t[..^1];
            if (t.EndsWith("i", StringComparison.OrdinalIgnoreCase))
            {
                t = t[..^1];
            }
        }

        return long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n >= 0
            ? checked(n * unit)
            : throw new UsageException($"bad size '{text}'");
    }

    internal static Dictionary<string, string> ParseMeta(IEnumerable<string> pairs)
    {
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string pair in pairs)
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new UsageException($"bad metadata '{pair}': use name=value");
            }

            meta[pair[..eq]] = pair[(eq + 1)..];
        }

        return meta;
    }
}
