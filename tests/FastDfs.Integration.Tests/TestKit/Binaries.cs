namespace FastDfs.Integration.Tests.TestKit;

/// <summary>Finds our executables: FDFS_BIN_DIR (scripts/test.sh points it at artifacts/bin), else the build outputs.</summary>
public static class Binaries
{
    public static string RepoRoot { get; } = FindRepoRoot();

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FastDfs.Mount.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("repository root (FastDfs.Mount.sln) not found");
    }

    /// <summary>Returns the program to start and the arguments that come before the program's own.</summary>
    public static (string FileName, string[] PrefixArgs) Resolve(string program)
    {
        string? binDir = Environment.GetEnvironmentVariable("FDFS_BIN_DIR");
        if (!string.IsNullOrEmpty(binDir) && File.Exists(Path.Combine(binDir, program + ".dll")))
        {
            return ("dotnet", [Path.Combine(binDir, program + ".dll")]);
        }

        string project = program switch
        {
            "fdfs-trackerd" => "FastDfs.Trackerd",
            "fdfs-storaged" => "FastDfs.Storaged",
            "fdfs" => "FastDfs.Cli",
            "fdfs-mount" => "FastDfs.Mount",
            _ => throw new ArgumentException($"unknown program {program}", nameof(program)),
        };
        string bin = Path.Combine(RepoRoot, program == "fdfs-mount" ? "mount" : "src", project, "bin");
        var dll = Directory.Exists(bin)
            ? Directory.EnumerateFiles(bin, program + ".dll", SearchOption.AllDirectories)
                .Select(p => new FileInfo(p)).OrderByDescending(f => f.LastWriteTimeUtc).FirstOrDefault()
            : null;
        return dll is null
            ? throw new FileNotFoundException($"{program}.dll not built; run scripts/build.sh or dotnet build")
            : ("dotnet", [dll.FullName]);
    }
}
