using System.Diagnostics;

namespace FastDfs.Integration.Tests.TestKit;

/// <summary>Runs the real `fdfs` executable against a tracker and captures its output.</summary>
public static class FdfsCli
{
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string trackerEndpoint, params string[] args)
    {
        var (fileName, prefix) = Binaries.Resolve("fdfs");
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in prefix.Concat(args))
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["FDFS_TRACKERS"] = trackerEndpoint;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, (await stdout).TrimEnd(), (await stderr).Trim());
    }
}
