using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using FastDfs.Client;
using FastDfs.Protocol;

namespace FastDfs.Cli;

/// <summary>
/// <c>fdfs bench</c>: C workers sharing one client, each running its own sequential loop over a shared op index.
/// Per-op work is only the client call and one timestamp pair; latencies go into a preallocated array.
/// </summary>
internal static class Bench
{
    /// <summary>
    /// Warm-up ops per phase: enough for the JIT to finish tiering up the hot paths (methods are recompiled after
    /// 30 calls and a quiet 100 ms) and for every worker to open its connections, so that the timed phases measure
    /// the steady state; bounded to about 64 MiB of data for large files.
    /// </summary>
    private static int WarmupOps(long size) => (int)Math.Clamp(64L * 1024 * 1024 / Math.Max(size, 1), 8, 2000);

    public static Command Command()
    {
        var op = new Option<string>("--op") { Description = "upload | download | delete | all", DefaultValueFactory = _ => "all" };
        op.AcceptOnlyFromAmong("upload", "download", "delete", "all");
        var count = new Option<int>("-n", "--count") { Description = "operations per phase", DefaultValueFactory = _ => 1000 };
        var size = new Option<string>("-s", "--size") { Description = "file size: 4K, 64K, 64M...", DefaultValueFactory = _ => "4K" };
        var concurrency = new Option<int>("-c", "--concurrency") { Description = "concurrent workers (and connections)", DefaultValueFactory = _ => 4 };
        var group = new Option<string?>("--group", "-g") { Description = "group to upload to" };
        var json = new Option<bool>("--json") { Description = "also print one JSON line per phase" };
        var pause = new Option<double>("--pause")
        {
            Description = "seconds to wait between uploading and downloading (the FastDFS C baseline waited 2 s)",
            DefaultValueFactory = _ => 0,
        };
        var cmd = new Command("bench", "measure upload/download/delete throughput and latency") { op, count, size, concurrency, group, json, pause };
        cmd.SetAction((pr, ct) =>
        {
            int c = pr.GetValue(concurrency);
            var wait = TimeSpan.FromSeconds(Math.Max(0, pr.GetValue(pause)));
            return Program.RunAsync(pr, "bench", ct, client => RunAsync(
                client, pr.GetValue(op)!, pr.GetValue(count), Program.ParseSize(pr.GetValue(size)!), c, pr.GetValue(group), pr.GetValue(json), wait, ct), c);
        });
        return cmd;
    }

    private sealed record PhaseResult(string Op, int Count, int Concurrency, long Size, double Seconds, long[] Latencies, int Errors, string? FirstError);

    private static async Task<int> RunAsync(
        FastDfsClient client, string op, int n, long size, int concurrency, string? group, bool json, TimeSpan pause, CancellationToken ct)
    {
        if (n <= 0 || concurrency <= 0)
        {
            throw new UsageException("-n and -c must be positive");
        }

        if (size > Array.MaxLength)
        {
            throw new UsageException("bench sizes are limited to 2 GiB (the data is kept in memory)");
        }

        var data = new byte[size];
        Random.Shared.NextBytes(data);
        var ids = new FileId[n];
        int warmup = WarmupOps(size);
        var spare = new FileId[warmup];
        var results = new List<PhaseResult>();
        bool any = false;

        // Warm-up: uploads (kept aside, downloaded and deleted untimed) with the same concurrency as the timed phases.
        // The first one runs alone so that an unreachable cluster fails the command with its error.
        spare[0] = await client.UploadAsync(data, "bin", null, group, null, ct);
        await PhaseAsync("warm-up upload", warmup - 1, concurrency, size, ct, async (i, _) =>
            spare[i + 1] = await client.UploadAsync(data, "bin", null, group, null, ct));

        bool timedUpload = op is "upload" or "all";
        var upload = await PhaseAsync("upload", n, concurrency, size, ct, async (i, _) =>
            ids[i] = await client.UploadAsync(data, "bin", null, group, null, ct));
        if (timedUpload)
        {
            results.Add(upload);
            Print(upload, json);
            any = true;
        }

        if (op is "download" or "all")
        {
            await Task.Delay(pause, ct);
            await PhaseAsync("warm-up download", warmup, concurrency, size, ct, async (i, sink) =>
            {
                if (spare[i].Group is not null)
                {
                    await client.DownloadAsync(spare[i], sink, 0, 0, null, ct);
                }
            });

            var download = await PhaseAsync("download", n, concurrency, size, ct, async (i, sink) =>
            {
                if (ids[i].Group is not null)
                {
                    await client.DownloadAsync(ids[i], sink, 0, 0, null, ct);
                }
            });
            results.Add(download);
            Print(download, json);
            any = true;
        }

        await PhaseAsync("warm-up delete", warmup, concurrency, size, ct, async (i, _) =>
        {
            if (spare[i].Group is not null)
            {
                await client.DeleteAsync(spare[i], ct);
            }
        });

        var delete = await PhaseAsync("delete", n, concurrency, size, ct, async (i, _) =>
        {
            if (ids[i].Group is not null)
            {
                await client.DeleteAsync(ids[i], ct);
            }
        });
        if (op is "delete" or "all")
        {
            results.Add(delete);
            Print(delete, json);
            any = true;
        }

        return any && results.TrueForAll(r => r.Errors == 0) ? 0 : 1;
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1068", Justification = "the body lambda reads better last")]
    private static async Task<PhaseResult> PhaseAsync(
        string name, int n, int concurrency, long size, CancellationToken ct, Func<int, CountingStream, Task> operation)
    {
        var latencies = new long[n];
        int next = -1;
        int errors = 0;
        string? firstError = null;
        long start = Stopwatch.GetTimestamp();
        var workers = new Task[concurrency];
        for (int w = 0; w < concurrency; w++)
        {
            workers[w] = Task.Run(
                async () =>
                {
                    var sink = new CountingStream();
                    while (true)
                    {
                        int i = Interlocked.Increment(ref next);
                        if (i >= n || ct.IsCancellationRequested)
                        {
                            break;
                        }

                        long t0 = Stopwatch.GetTimestamp();
                        try
                        {
                            await operation(i, sink);
                        }
                        catch (Exception e) when (e is FdfsException or IOException)
                        {
                            Interlocked.Increment(ref errors);
                            Interlocked.CompareExchange(ref firstError, e is FdfsException f ? f.Reason : e.Message, null);
                        }

                        latencies[i] = Stopwatch.GetTimestamp() - t0;
                    }
                },
                ct);
        }

        await Task.WhenAll(workers);
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        ct.ThrowIfCancellationRequested();
        return new PhaseResult(name, n, concurrency, size, seconds, latencies, errors, firstError);
    }

    private static void Print(PhaseResult r, bool json)
    {
        Array.Sort(r.Latencies);
        double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        double p50 = Ms(r.Latencies[(int)(r.Latencies.Length * 0.50)]);
        double p99 = Ms(r.Latencies[Math.Min(r.Latencies.Length - 1, (int)(r.Latencies.Length * 0.99))]);
        double max = Ms(r.Latencies[^1]);
        int ok = r.Count - r.Errors;
        double opsPerSec = ok / r.Seconds;
        double mbPerSec = r.Op == "delete" ? 0 : ok * (double)r.Size / r.Seconds / 1e6;
        var inv = CultureInfo.InvariantCulture;
        Console.Out.WriteLine(string.Create(inv,
            $"{r.Op,-8} n={r.Count} c={r.Concurrency} size={r.Size}  {opsPerSec,10:F1} ops/s  {mbPerSec,9:F1} MB/s  " +
            $"p50={p50:F3} ms  p99={p99:F3} ms  max={max:F3} ms  errors={r.Errors}"));
        if (r.FirstError is not null)
        {
            Console.Error.WriteLine($"fdfs: bench {r.Op}: first error: {r.FirstError}");
        }

        if (json)
        {
            Console.Out.WriteLine(string.Create(inv,
                $"{{\"op\":\"{r.Op}\",\"count\":{r.Count},\"concurrency\":{r.Concurrency},\"size\":{r.Size},\"seconds\":{r.Seconds:F4}," +
                $"\"ops_per_sec\":{opsPerSec:F1},\"mb_per_sec\":{mbPerSec:F2},\"p50_ms\":{p50:F3},\"p99_ms\":{p99:F3},\"max_ms\":{max:F3},\"errors\":{r.Errors}}}"));
        }
    }

    /// <summary>Write-only sink that counts bytes (downloads are discarded).</summary>
    private sealed class CountingStream : Stream
    {
        public long Count;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Count;
        public override long Position { get => Count; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Count += count;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Count += buffer.Length;
            return ValueTask.CompletedTask;
        }
    }
}
