using FastDfs.Protocol.Config;
using FastDfs.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FastDfs.Storaged;

internal static partial class Program
{
    private const string Usage = """
        usage: fdfs-storaged <storage.conf>

        Runs a FastDFS-compatible storage server configured by a FastDFS storage.conf.
        Logs go to the console (journald under systemd). Stop with SIGTERM or Ctrl-C;
        in-flight requests get a few seconds, then files are closed and the binlog flushed.

        options:
          -h, --help    show this help
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 1 && args[0] is "-h" or "--help")
        {
            Console.Out.WriteLine(Usage);
            return 0;
        }

        if (args.Length != 1 || args[0].StartsWith('-'))
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        FdfsConfigFile config;
        StorageOptions options;
        try
        {
            if (!File.Exists(args[0]))
            {
                Console.Error.WriteLine($"fdfs-storaged: config file '{args[0]}' not found");
                return 1;
            }

            config = FdfsConfigFile.Load(args[0]);
            options = StorageOptions.FromConfig(config);
        }
        catch (FdfsConfigException e)
        {
            Console.Error.WriteLine($"fdfs-storaged: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"fdfs-storaged: cannot read '{args[0]}': {e.Message}");
            return 1;
        }

        if (options.Disabled)
        {
            Console.Error.WriteLine($"fdfs-storaged: {config.SourcePath}: disabled = true, not starting");
            return 1;
        }

        if (options.GroupName is null)
        {
            Console.Error.WriteLine($"fdfs-storaged: {config.SourcePath}: group_name is required (taking it from the tracker is not supported)");
            return 1;
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
        });
        var minLevel = ToLogLevel(options.LogLevel);
        builder.Logging.SetMinimumLevel(minLevel);

        // The banner and the "storage listening on" line are always shown (scripts and tests wait for it).
        builder.Logging.AddFilter("FastDfs.Storage", minLevel < LogLevel.Information ? minLevel : LogLevel.Information);
        builder.Services.AddSystemd();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<StorageService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StorageService>());

        using var host = builder.Build();
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("fdfs-storaged");
        foreach (var warning in config.Warnings)
        {
            LogConfigWarning(logger, warning);
        }

        foreach (var entry in config.UnusedKeys())
        {
            LogUnknownKey(logger, entry.Key, entry.Location);
        }

        try
        {
            await host.RunAsync();
            return 0;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            Console.Error.WriteLine($"fdfs-storaged: cannot start: {e.Message}");
            return 1;
        }
    }

    private static LogLevel ToLogLevel(FdfsLogLevel level) => level switch
    {
        FdfsLogLevel.Debug => LogLevel.Debug,
        FdfsLogLevel.Info or FdfsLogLevel.Notice => LogLevel.Information,
        FdfsLogLevel.Warn => LogLevel.Warning,
        FdfsLogLevel.Error => LogLevel.Error,
        _ => LogLevel.Critical,
    };

    [LoggerMessage(EventId = 3900, Level = LogLevel.Warning, Message = "unknown config key '{Key}' at {Location} ignored")]
    private static partial void LogUnknownKey(ILogger logger, string key, string location);

    [LoggerMessage(EventId = 3901, Level = LogLevel.Warning, Message = "config: {Warning}")]
    private static partial void LogConfigWarning(ILogger logger, string warning);
}
