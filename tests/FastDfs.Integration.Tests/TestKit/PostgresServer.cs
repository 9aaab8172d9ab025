using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace FastDfs.Integration.Tests.TestKit;

/// <summary>
/// A throwaway PostgreSQL server from Debian's package: initdb and pg_ctl in a temp dir, listening on a 127.x
/// address and an ephemeral port, run as the postgres user when the tests run as root (postgres refuses root).
/// Stopped and removed on dispose. Each test gets its own schema (<see cref="CreateSchemaAsync"/>).
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "fdfs-ns-pg-" + Guid.NewGuid().ToString("N")[..8]);
    private string _binDir = "";
    private int _schemas;

    public string Address { get; } = $"127.{Random.Shared.Next(100, 200)}.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(1, 250)}";

    public int Port { get; private set; }

    /// <summary>Npgsql keywords for the <c>postgres</c> database (its <c>public</c> schema).</summary>
    public string ConnectionString => $"Host={Address};Port={Port};Username=postgres;Database=postgres;Timeout=10";

    private static bool IsRoot => Environment.UserName == "root";

    public static string? FindBinDirectory()
    {
        const string Base = "/usr/lib/postgresql";
        if (!Directory.Exists(Base))
        {
            return null;
        }

        return Directory.GetDirectories(Base)
            .Select(d => Path.Combine(d, "bin"))
            .Where(d => File.Exists(Path.Combine(d, "initdb")))
            .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out int v) ? v : 0)
            .FirstOrDefault();
    }

    public async Task InitializeAsync()
    {
        _binDir = FindBinDirectory()
            ?? throw new InvalidOperationException("PostgreSQL is not installed (apt-get install postgresql; scripts/test.sh does it)");
        Directory.CreateDirectory(_root);
        if (IsRoot)
        {
            await RunAsync("chown", "postgres:postgres", _root);
        }

        Port = FreePort();
        string data = Path.Combine(_root, "data");
        await RunAsPostgresAsync(Path.Combine(_binDir, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8");
        string options = $"-c listen_addresses={Address} -p {Port} -k {_root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
        await RunAsPostgresAsync(Path.Combine(_binDir, "pg_ctl"), "-D", data, "-o", options, "-l", Path.Combine(_root, "log"), "-w", "-t", "60", "start");
    }

    /// <summary>A fresh schema; the returned connection string puts it first on the search path.</summary>
    public async Task<string> CreateSchemaAsync()
    {
        string schema = "t" + Interlocked.Increment(ref _schemas);
        await RunAsync(Path.Combine(_binDir, "psql"), "-h", Address, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", $"CREATE SCHEMA {schema}");
        return ConnectionString + $";Search Path={schema}";
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (Port != 0 && Directory.Exists(Path.Combine(_root, "data")))
            {
                await RunAsPostgresAsync(Path.Combine(_binDir, "pg_ctl"), "-D", Path.Combine(_root, "data"), "-m", "immediate", "-w", "stop");
            }
        }
        finally
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task RunAsPostgresAsync(string program, params string[] args)
    {
        if (!IsRoot)
        {
            await RunAsync(program, args);
            return;
        }

        if (await SucceedsAsync("test", "-c", "/dev/null"))
        {
            await RunAsync("runuser", ["-u", "postgres", "--", program, .. args]);
            return;
        }

        // Some sandboxes have a plain root-owned file at /dev/null, which initdb's shell redirections cannot open as
        // postgres. Give the server a private mount namespace with a real null device bound over it.
        string nullDevice = Path.Combine(_root, "null");
        if (!File.Exists(nullDevice))
        {
            await RunAsync("mknod", "-m", "666", nullDevice, "c", "1", "3");
        }

        await RunAsync("unshare", ["-m", "sh", "-c", "mount --bind \"$0\" /dev/null && exec runuser -u postgres -- \"$@\"", nullDevice, program, .. args]);
    }

    private static async Task<bool> SucceedsAsync(string program, params string[] args)
    {
        try
        {
            await RunAsync(program, args);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static async Task RunAsync(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {process.ExitCode}: {await stdout}{await stderr}");
        }
    }
}
