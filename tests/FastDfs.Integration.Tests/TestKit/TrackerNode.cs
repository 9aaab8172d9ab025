using System.Net;
using System.Net.Sockets;

namespace FastDfs.Integration.Tests.TestKit;

/// <summary>
/// An additional tracker of a multi-tracker test cluster. Its port is chosen up front (free on its own 127.x
/// address) so storages can list it before it runs; it can be started, killed and restarted on the same port.
/// </summary>
public sealed class TrackerNode : IAsyncDisposable
{
    public TrackerNode(string root, string extraConfig)
    {
        Ip = Loopback.Next();
        Dir = Path.Combine(root, "tracker-" + Ip);
        Directory.CreateDirectory(Dir);
        using (var probe = new TcpListener(IPAddress.Parse(Ip), 0))
        {
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        ConfigPath = Path.Combine(Dir, "tracker.conf");
        File.WriteAllText(ConfigPath, $"""
            disabled = false
            bind_addr = {Ip}
            port = {Port}
            base_path = {Dir}
            check_active_interval = 5
            store_lookup = 0
            store_server = 0
            store_path = 0
            download_server = 0
            reserved_storage_space = 1%
            {extraConfig}
            """);
    }

    public string Ip { get; }

    public int Port { get; }

    public string Dir { get; }

    public string ConfigPath { get; }

    public string Endpoint => $"{Ip}:{Port}";

    public DaemonProcess? Process { get; private set; }

    public bool IsRunning => Process is { HasExited: false };

    public async Task StartAsync() => Process = await DaemonProcess.StartAsync("fdfs-trackerd", ConfigPath, "tracker");

    public async Task KillHardAsync() => await Process!.KillHardAsync();

    public async Task RestartAsync(bool hard = false)
    {
        if (Process is not null)
        {
            if (hard)
            {
                await Process.KillHardAsync();
            }

            await Process.DisposeAsync();
        }

        await StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (Process is not null)
        {
            await Process.DisposeAsync();
        }
    }
}
