using System.CommandLine;
using System.Globalization;
using FastDfs.Client;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Spectre.Console;

namespace FastDfs.Cli;

internal static class Commands
{
    /// <summary>Transfers at least this big get a progress bar (when stderr is a terminal).</summary>
    private const long ProgressThreshold = 8L << 20;

    public static IEnumerable<Command> All() =>
    [
        Upload(), UploadSlave(), Download(), Delete(), Info(), Meta(), Append(), Modify(), Truncate(), MonitorCommands.Groups(), MonitorCommands.Storages(),
        DeleteStorage(), Bench.Command(),
    ];

    /// <summary>fdfs_monitor's "delete GROUP STORAGE": the tracker forgets a storage that is not in service (EBUSY otherwise).</summary>
    private static Command DeleteStorage()
    {
        var group = new Argument<string>("GROUP") { Description = "the storage's group" };
        var storage = new Argument<string>("STORAGE") { Description = "storage ID (its IP without storage IDs)" };
        var cmd = new Command("delete-storage", "remove a stopped storage from its group (fdfs_monitor delete)") { group, storage };
        cmd.SetAction((pr, ct) => Program.RunAsync(pr, "delete-storage", ct, async client =>
        {
            await client.DeleteStorageAsync(pr.GetValue(group)!, pr.GetValue(storage)!, ct);
            Console.Out.WriteLine($"deleted storage {pr.GetValue(storage)} of group {pr.GetValue(group)}");
            return 0;
        }));
        return cmd;
    }

    private static Command Upload()
    {
        var file = new Argument<string>("FILE") { Description = "local file, or - for stdin" };
        var ext = new Option<string?>("--ext") { Description = "extension to store (default: the file's own)" };
        var group = new Option<string?>("--group", "-g") { Description = "group to upload to (default: tracker's choice)" };
        var meta = new Option<string[]>("--meta", "-m") { Description = "metadata name=value (repeatable)", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = true };
        var appender = new Option<bool>("--appender") { Description = "upload as an appender file" };
        var cmd = new Command("upload", "upload a file; prints the file ID") { file, ext, group, meta, appender };
        cmd.SetAction((pr, ct) =>
        {
            string path = pr.GetValue(file)!;
            return Program.RunAsync(pr, "upload " + path, ct, async client =>
            {
                var metadata = Program.ParseMeta(pr.GetValue(meta) ?? []);
                bool isAppender = pr.GetValue(appender);
                string? extension = pr.GetValue(ext) ?? (path == "-" ? null : FastDfsClient.ExtensionOf(path));
                await using var input = await OpenInputAsync(path, ct);
                var id = await WithProgress("upload", input.Length, progress => isAppender
                    ? client.UploadAppenderAsync(input, input.Length, extension, metadata, pr.GetValue(group), progress, ct)
                    : client.UploadAsync(input, input.Length, extension, metadata, pr.GetValue(group), progress, ct));
                Console.Out.WriteLine(id.ToString());
                return 0;
            });
        });
        return cmd;
    }

    private static Command UploadSlave()
    {
        var master = new Argument<string>("MASTER_ID");
        var file = new Argument<string>("FILE") { Description = "local file, or - for stdin" };
        var prefix = new Option<string>("--prefix", "-p") { Description = "slave name prefix, e.g. _150x150", Required = true };
        var ext = new Option<string?>("--ext") { Description = "extension (default: the file's, else the master's)" };
        var cmd = new Command("upload-slave", "upload a slave file of MASTER_ID; prints its file ID") { master, file, prefix, ext };
        cmd.SetAction((pr, ct) =>
        {
            string path = pr.GetValue(file)!;
            return Program.RunAsync(pr, "upload-slave " + path, ct, async client =>
            {
                var masterId = Program.ParseId(pr.GetValue(master)!);
                string? extension = pr.GetValue(ext) ?? (path == "-" ? null : FastDfsClient.ExtensionOf(path));
                await using var input = await OpenInputAsync(path, ct);
                var id = await WithProgress("upload", input.Length, progress =>
                    client.UploadSlaveAsync(masterId, pr.GetValue(prefix)!, extension, input, input.Length, null, progress, ct));
                Console.Out.WriteLine(id.ToString());
                return 0;
            });
        });
        return cmd;
    }

    private static Command Download()
    {
        var fileId = new Argument<string>("FILE_ID");
        var dest = new Argument<string?>("DEST") { Description = "local path, or - for stdout (default: the name in the ID)", Arity = ArgumentArity.ZeroOrOne };
        var offset = new Option<string>("--offset") { Description = "start offset", DefaultValueFactory = _ => "0" };
        var length = new Option<string>("--length") { Description = "bytes to read (0 = to the end)", DefaultValueFactory = _ => "0" };
        var cmd = new Command("download", "download a file") { fileId, dest, offset, length };
        cmd.SetAction((pr, ct) =>
        {
            string idText = pr.GetValue(fileId)!;
            return Program.RunAsync(pr, "download " + idText, ct, async client =>
            {
                var id = Program.ParseId(idText);
                long off = Program.ParseSize(pr.GetValue(offset)!);
                long len = Program.ParseSize(pr.GetValue(length)!);
                string target = pr.GetValue(dest) ?? Path.GetFileName(id.RemoteFileName);
                if (target == "-")
                {
                    // stdout is the data: never draw progress there.
                    await using var stdout = Console.OpenStandardOutput();
                    await client.DownloadAsync(id, stdout, off, len, null, ct);
                    await stdout.FlushAsync(ct);
                    return 0;
                }

                if (Directory.Exists(target))
                {
                    target = Path.Combine(target, Path.GetFileName(id.RemoteFileName));
                }

                long expected = len;
                if (expected == 0 && !Console.IsErrorRedirected)
                {
                    // Size for the progress bar only; skipped when nobody sees it.
                    try
                    {
                        expected = (await client.GetFileInfoAsync(id, ct)).Size - off;
                    }
                    catch (FdfsServerException)
                    {
                        expected = 0; // no bar rather than no download; the download reports real errors
                    }
                }

                await WithProgress("download", expected, progress => client.DownloadToFileAsync(id, target, off, len, progress, ct));
                return 0;
            });
        });
        return cmd;
    }

    private static Command Delete()
    {
        var fileId = new Argument<string>("FILE_ID");
        var cmd = new Command("delete", "delete a file and its metadata") { fileId };
        cmd.SetAction((pr, ct) =>
        {
            string idText = pr.GetValue(fileId)!;
            return Program.RunAsync(pr, "delete " + idText, ct, async client =>
            {
                await client.DeleteAsync(Program.ParseId(idText), ct);
                return 0;
            });
        });
        return cmd;
    }

    private static Command Info()
    {
        var fileId = new Argument<string>("FILE_ID");
        var cmd = new Command("info", "show size, CRC32, create time, source and flags of a file") { fileId };
        cmd.SetAction((pr, ct) =>
        {
            string idText = pr.GetValue(fileId)!;
            return Program.RunAsync(pr, "info " + idText, ct, async client =>
            {
                var info = await client.GetFileInfoAsync(Program.ParseId(idText), ct);
                var o = Console.Out;
                o.WriteLine($"file id:     {info.FileId}");
                o.WriteLine($"size:        {info.Size}");
                o.WriteLine($"crc32:       {info.Crc32:X8} ({info.Crc32})");
                o.WriteLine($"created:     {info.CreateTime.ToLocalTime():yyyy-MM-dd HH:mm:ss zzz} ({info.Response.CreateTimestamp})");
                o.WriteLine($"source:      {info.SourceIp}");
                o.WriteLine($"appender:    {YesNo(info.IsAppender)}");
                o.WriteLine($"slave:       {YesNo(info.IsSlave)}");
                o.WriteLine($"trunk:       {YesNo(info.IsTrunk)}");
                await o.FlushAsync(ct);
                return 0;
            });
        });
        return cmd;
    }

    private static string YesNo(bool value) => value ? "yes" : "no";

    private static Command Meta()
    {
        var getId = new Argument<string>("FILE_ID");
        var get = new Command("get", "print the metadata as name=value lines") { getId };
        get.SetAction((pr, ct) =>
        {
            string idText = pr.GetValue(getId)!;
            return Program.RunAsync(pr, "meta get " + idText, ct, async client =>
            {
                var id = Program.ParseId(idText);
                IReadOnlyDictionary<string, string> meta;
                try
                {
                    meta = await client.GetMetadataAsync(id, ct);
                }
                catch (FdfsServerException e) when (e.Errno == FdfsErrno.ENOENT)
                {
                    // FastDFS answers ENOENT for both a missing file and a file without metadata.
                    await Console.Error.WriteLineAsync($"fdfs: meta get {idText}: ENOENT (2): file not found or no metadata");
                    return 1;
                }

                foreach (var (key, value) in meta.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    Console.Out.WriteLine($"{key}={value}");
                }

                return 0;
            });
        });

        var setId = new Argument<string>("FILE_ID");
        var pairs = new Argument<string[]>("NAME=VALUE") { Arity = ArgumentArity.ZeroOrMore };
        var merge = new Option<bool>("--merge") { Description = "merge into the existing metadata" };
        var overwrite = new Option<bool>("--overwrite") { Description = "replace all metadata (default)" };
        var set = new Command("set", "set metadata (overwrite by default; no pairs + --overwrite clears it)") { setId, pairs, merge, overwrite };
        set.SetAction((pr, ct) =>
        {
            string idText = pr.GetValue(setId)!;
            return Program.RunAsync(pr, "meta set " + idText, ct, async client =>
            {
                if (pr.GetValue(merge) && pr.GetValue(overwrite))
                {
                    throw new UsageException("--merge and --overwrite exclude each other");
                }

                var meta = Program.ParseMeta(pr.GetValue(pairs) ?? []);
                var flag = pr.GetValue(merge) ? MetadataFlag.Merge : MetadataFlag.Overwrite;
                await client.SetMetadataAsync(Program.ParseId(idText), meta, flag, ct);
                return 0;
            });
        });

        return new Command("meta", "get or set file metadata") { get, set };
    }

    private static Command Append()
    {
        var fileId = new Argument<string>("FILE_ID");
        var file = new Argument<string>("FILE") { Description = "local file, or - for stdin" };
        var cmd = new Command("append", "append a local file to an appender file") { fileId, file };
        cmd.SetAction((pr, ct) =>
        {
            string idText = pr.GetValue(fileId)!;
            return Program.RunAsync(pr, "append " + idText, ct, async client =>
            {
                var id = Program.ParseId(idText);
                await using var input = await OpenInputAsync(pr.GetValue(file)!, ct);
                await WithProgress("append", input.Length, async progress =>
                {
                    await client.AppendAsync(id, input, input.Length, progress, ct);
                    return 0;
                });
                return 0;
            });
        });
        return cmd;
    }

    private static Command Modify()
    {
        var fileId = new Argument<string>("FILE_ID");
        var offset = new Argument<string>("OFFSET");
        var file = new Argument<string>("FILE") { Description = "local file, or - for stdin" };
        var cmd = new Command("modify", "overwrite an appender file from OFFSET with a local file") { fileId, offset, file };
        cmd.SetAction((pr, ct) =>
        {
            string idText = pr.GetValue(fileId)!;
            return Program.RunAsync(pr, "modify " + idText, ct, async client =>
            {
                var id = Program.ParseId(idText);
                long off = Program.ParseSize(pr.GetValue(offset)!);
                await using var input = await OpenInputAsync(pr.GetValue(file)!, ct);
                await WithProgress("modify", input.Length, async progress =>
                {
                    await client.ModifyAsync(id, off, input, input.Length, progress, ct);
                    return 0;
                });
                return 0;
            });
        });
        return cmd;
    }

    private static Command Truncate()
    {
        var fileId = new Argument<string>("FILE_ID");
        var size = new Argument<string>("SIZE");
        var cmd = new Command("truncate", "truncate (or extend) an appender file") { fileId, size };
        cmd.SetAction((pr, ct) =>
        {
            string idText = pr.GetValue(fileId)!;
            return Program.RunAsync(pr, "truncate " + idText, ct, async client =>
            {
                await client.TruncateAsync(Program.ParseId(idText), Program.ParseSize(pr.GetValue(size)!), ct);
                return 0;
            });
        });
        return cmd;
    }

    /// <summary>Progress goes to stderr so stdout stays clean for data and file IDs.</summary>
    private static readonly Lazy<IAnsiConsole> Err = new(() => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(Console.Error),
    }));

    /// <summary>A local file as a seekable stream with a known length; stdin is buffered (its length is needed up front).</summary>
    private static async Task<Stream> OpenInputAsync(string path, CancellationToken ct)
    {
        if (path == "-")
        {
            var buffer = new MemoryStream();
            await using var stdin = Console.OpenStandardInput();
            await stdin.CopyToAsync(buffer, ct);
            buffer.Position = 0;
            return buffer;
        }

        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
    }

    private static async Task<T> WithProgress<T>(string label, long total, Func<IProgress<long>?, Task<T>> action)
    {
        if (total < ProgressThreshold || Console.IsErrorRedirected)
        {
            return await action(null);
        }

        T result = default!;
        await Err.Value.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(label, maxValue: total);
                var progress = new SyncProgress(v => task.Value = v);
                result = await action(progress);
                task.Value = total;
            });
        return result;
    }

    /// <summary>Reports synchronously (Progress&lt;T&gt; would post to the thread pool for every chunk).</summary>
    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
