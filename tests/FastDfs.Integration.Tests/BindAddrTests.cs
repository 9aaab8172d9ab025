using System.Diagnostics;
using FastDfs.Integration.Tests.TestKit;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>
/// A <c>bind_addr</c> that is not an IP address stops the daemon with a message: skipped, it would have made the
/// daemon listen on every interface instead of the one the operator named.
/// </summary>
public sealed class BindAddrTests
{
    [Theory]
    [InlineData("fdfs-trackerd", "")]
    [InlineData("fdfs-storaged", "group_name = group1\nstore_path0 = {0}\ntracker_server = 127.0.0.2:22122\n")]
    public async Task A_bind_addr_that_is_not_an_IP_address_is_refused(string daemon, string extra)
    {
        string dir = Directory.CreateTempSubdirectory("fdfs-bind-addr-").FullName;
        try
        {
            string conf = Path.Combine(dir, "daemon.conf");
            await File.WriteAllTextAsync(conf, $"bind_addr = tracker.invalid\nport = 0\nbase_path = {dir}\n" + string.Format(System.Globalization.CultureInfo.InvariantCulture, extra, dir));
            var (fileName, prefix) = Binaries.Resolve(daemon);
            var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string arg in prefix.Append(conf))
            {
                info.ArgumentList.Add(arg);
            }

            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEndAsync();
            string error = await process.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(cts.Token);
            Assert.NotEqual(0, process.ExitCode);
            Assert.Contains("bind_addr: 'tracker.invalid' is not an IP address", error + await output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
