using FastDfs.Hosting;
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

    public static Task<int> Main(string[] args) => DaemonHost.RunAsync(
        new DaemonDefinition<StorageOptions>(
            Name: "fdfs-storaged",
            Usage: Usage,
            LoadOptions: StorageOptions.FromConfig,
            IsDisabled: o => o.Disabled,
            LogLevel: o => o.LogLevel,
            Check: o => o.GroupName is null ? "group_name is required (taking it from the tracker is not supported)" : null,
            BannerCategory: "FastDfs.Storage",
            AddServices: (services, _) =>
            {
                services.AddSingleton<StorageService>();
                services.AddHostedService(sp => sp.GetRequiredService<StorageService>());
            }),
        args);
}
