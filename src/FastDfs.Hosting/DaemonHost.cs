using FastDfs.Protocol.Config;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FastDfs.Hosting;

/// <summary>What differs between our daemons: name, usage text, options record and the services to run.</summary>
/// <param name="Name">Executable name, used as the prefix of every error line.</param>
/// <param name="Usage">Help text.</param>
/// <param name="LoadOptions">Builds the role's options record from its FastDFS config file.</param>
/// <param name="IsDisabled">The config's <c>disabled</c> key.</param>
/// <param name="LogLevel">The config's <c>log_level</c> key.</param>
/// <param name="Check">Role-specific start-up check; returns an error message or null.</param>
/// <param name="BannerCategory">Logger category (prefix) whose information lines are always shown.</param>
/// <param name="AddServices">Registers the role's hosted service.</param>
public sealed record DaemonDefinition<TOptions>(
    string Name,
    string Usage,
    Func<FdfsConfigFile, TOptions> LoadOptions,
    Func<TOptions, bool> IsDisabled,
    Func<TOptions, FdfsLogLevel> LogLevel,
    Func<TOptions, string?> Check,
    string BannerCategory,
    Action<IServiceCollection, TOptions> AddServices)
    where TOptions : class;

/// <summary>
/// Runs a daemon in the foreground under the Generic Host: parses the command line and config, logs to the
/// console (journald under systemd), stops on SIGTERM/Ctrl-C, and turns every start-up failure into one
/// line on stderr and a non-zero exit code.
/// </summary>
public static partial class DaemonHost
{
    public static async Task<int> RunAsync<TOptions>(DaemonDefinition<TOptions> daemon, string[] args)
        where TOptions : class
    {
        if (args.Length == 1 && args[0] is "-h" or "--help")
        {
            Console.Out.WriteLine(daemon.Usage);
            return 0;
        }

        if (args.Length != 1 || args[0].StartsWith('-'))
        {
            Console.Error.WriteLine(daemon.Usage);
            return 2;
        }

        FdfsConfigFile config;
        TOptions options;
        try
        {
            if (!File.Exists(args[0]))
            {
                return Fail(daemon, $"config file '{args[0]}' not found");
            }

            config = FdfsConfigFile.Load(args[0]);
            options = daemon.LoadOptions(config);
        }
        catch (FdfsConfigException e)
        {
            return Fail(daemon, e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(daemon, $"cannot read '{args[0]}': {e.Message}");
        }

        if (daemon.IsDisabled(options))
        {
            return Fail(daemon, $"{config.SourcePath}: disabled = true, not starting");
        }

        if (daemon.Check(options) is { } problem)
        {
            return Fail(daemon, $"{config.SourcePath}: {problem}");
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
        });
        var minLevel = ToLogLevel(daemon.LogLevel(options));
        builder.Logging.SetMinimumLevel(minLevel);

        // The banner and the "<role> listening on" line are always shown: scripts and tests wait for it.
        builder.Logging.AddFilter(daemon.BannerCategory, minLevel < LogLevel.Information ? minLevel : LogLevel.Information);
        builder.Services.AddSystemd();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.Services.AddSingleton(options);
        daemon.AddServices(builder.Services, options);

        using var host = builder.Build();
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger(daemon.Name);
        foreach (string warning in config.Warnings)
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
            return Fail(daemon, $"cannot start: {e.Message}");
        }
    }

    private static int Fail<TOptions>(DaemonDefinition<TOptions> daemon, string message)
        where TOptions : class
    {
        Console.Error.WriteLine($"{daemon.Name}: {message}");
        return 1;
    }

    internal static LogLevel ToLogLevel(FdfsLogLevel level) => level switch
    {
        FdfsLogLevel.Debug => LogLevel.Debug,
        FdfsLogLevel.Info or FdfsLogLevel.Notice => LogLevel.Information,
        FdfsLogLevel.Warn => LogLevel.Warning,
        FdfsLogLevel.Error => LogLevel.Error,
        _ => LogLevel.Critical,
    };

    [LoggerMessage(EventId = 1100, Level = LogLevel.Warning, Message = "unknown config key '{Key}' at {Location} ignored")]
    private static partial void LogUnknownKey(ILogger logger, string key, string location);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "config: {Warning}")]
    private static partial void LogConfigWarning(ILogger logger, string warning);
}
