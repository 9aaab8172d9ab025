using FastDfs.Hosting;
using FastDfs.Net;
using FastDfs.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace FastDfs.Storaged;

internal static class Program
{
    private const string Usage = """
        usage: fdfs-storaged <storage.conf>

        Runs a FastDFS-compatible storage server configured by a FastDFS storage.conf.
        Logs go to the console (journald under systemd). Stop with SIGTERM or Ctrl-C;
        in-flight requests get a few seconds, then files are closed and the binlog flushed.

        options:
          -h, --help    show this help
        """;

    public static Task<int> Main(string[] args)
    {
        // Socket completions run inline on the event threads, so a download served from the page cache costs no
        // thread-pool hop; everything that may wait for the disk moves to the pool first (EventThread in the
        // storage library). Read once, before the first socket exists; an explicit setting (0) wins.
        if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
        {
            Environment.SetEnvironmentVariable(InlineCompletions, "1");
        }

        return Run(args);
    }

    private const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    private static Task<int> Run(string[] args) => DaemonHost.RunAsync(
        new DaemonDefinition<StorageOptions>(
            Name: "fdfs-storaged",
            Usage: Usage,
            LoadOptions: StorageOptions.FromConfig,
            IsDisabled: o => o.Disabled,
            LogLevel: o => o.LogLevel,
            Check: o => o.GroupName is null
                ? "group_name is required (taking it from the tracker is not supported)"
                : ListenAddress.Problem(o.BindAddresses),
            BannerCategory: "FastDfs.Storage",
            AddServices: (services, _) =>
            {
                services.AddSingleton<StorageService>();
                services.AddHostedService(sp => sp.GetRequiredService<StorageService>());
            }),
        args);
}
