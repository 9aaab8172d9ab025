using System.Text;
using System.Text.RegularExpressions;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol.Tests.Config;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>
/// The daemons start from FastDFS's own sample tracker.conf / storage.conf with only addresses, ports and
/// paths changed: every other key, including ones we do not act on, is left as FastDFS ships it.
/// </summary>
public sealed class ShippedConfigTests
{
    private static string Set(string conf, string key, string value)
    {
        var line = new Regex($@"(?m)^\s*{Regex.Escape(key)}\s*=.*$");
        return line.IsMatch(conf) ? line.Replace(conf, $"{key} = {value}", 1) : conf + $"\n{key} = {value}\n";
    }

    /// <summary>Keeps the first line of a repeatable key (set to <paramref name="value"/>), drops the others.</summary>
    private static string SetSingle(string conf, string key, string value)
    {
        bool first = true;
        return new Regex($@"(?m)^\s*{Regex.Escape(key)}\s*=.*$").Replace(conf, _ =>
        {
            string replacement = first ? $"{key} = {value}" : string.Empty;
            first = false;
            return replacement;
        });
    }

    [Theory]
    [InlineData(SampleConfigs.Tracker616, SampleConfigs.Storage616)]
    [InlineData(SampleConfigs.TrackerLegacy, SampleConfigs.StorageLegacy)]
    public async Task Daemons_run_from_FastDFS_sample_configs(string trackerSample, string storageSample)
    {
        string root = Path.Combine(Path.GetTempPath(), "fdfs-conf-" + Guid.NewGuid().ToString("N")[..8]);
        string trackerIp = Loopback.Next(), storageIp = Loopback.Next();
        Directory.CreateDirectory(Path.Combine(root, "tracker"));
        Directory.CreateDirectory(Path.Combine(root, "storage", "store0"));
        DaemonProcess? tracker = null, storage = null;
        try
        {
            string trackerConf = Path.Combine(root, "tracker", "tracker.conf");
            string t = trackerSample;
            t = Set(t, "bind_addr", trackerIp);
            t = Set(t, "port", "0");
            t = Set(t, "base_path", Path.Combine(root, "tracker"));
            File.WriteAllText(trackerConf, t);
            tracker = await DaemonProcess.StartAsync("fdfs-trackerd", trackerConf, "tracker");

            string storageConf = Path.Combine(root, "storage", "storage.conf");
            string s = storageSample;
            s = Set(s, "bind_addr", storageIp);
            s = Set(s, "port", "0");
            s = Set(s, "base_path", Path.Combine(root, "storage"));
            s = Set(s, "store_path0", Path.Combine(root, "storage", "store0"));
            s = SetSingle(s, "tracker_server", tracker.Endpoint);
            File.WriteAllText(storageConf, s);
            storage = await DaemonProcess.StartAsync("fdfs-storaged", storageConf, "storage");

            await using var client = new FastDfsClient(FastDfsClientOptions.FromTrackers(tracker.Endpoint));
            var deadline = DateTime.UtcNow.AddSeconds(90);
            Exception? last = null;
            while (DateTime.UtcNow < deadline)
            {
                try
                {
                    var id = await client.UploadAsync(Encoding.UTF8.GetBytes("sample config"), "txt");
                    Assert.Equal("sample config", Encoding.UTF8.GetString(await client.DownloadBytesAsync(id)));
                    return;
                }
                catch (FdfsServerException e)
                {
                    // The sample's heartbeat interval is 30 s: until the first beat the storage is not ACTIVE.
                    last = e;
                    await Task.Delay(500);
                }
            }

            throw new TimeoutException($"no upload through the sample-config cluster: {last?.Message}\n{tracker.LogTail}\n{storage.LogTail}");
        }
        finally
        {
            if (storage is not null)
            {
                await storage.DisposeAsync();
            }

            if (tracker is not null)
            {
                await tracker.DisposeAsync();
            }

            Directory.Delete(root, recursive: true);
        }
    }
}
