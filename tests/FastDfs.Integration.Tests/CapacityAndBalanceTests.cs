using System.Globalization;
using System.Text.Json;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>
/// Group capacity in listings, and the tracker's choice of group (protocol notes 8.5): store_lookup 0/1/2 and the
/// reserved space. The free space differs deterministically: both groups' store paths are on the temp file system,
/// group1 has one store path and group2 two, so group2 reports twice the free (and total) space. A reserve between
/// the two (1.5 x the file system's free space) makes group1 full and leaves group2 room; 3 x fills both.
/// </summary>
public sealed class CapacityAndBalanceTests
{
    private static readonly StorageSpec[] TwoGroups = [new("group1", StorePaths: 1), new("group2", StorePaths: 2)];

    /// <summary>Free MB of the file system the test clusters live on, as the storages report it.</summary>
    private static long TempFreeMb() => new DriveInfo(Path.GetTempPath()).AvailableFreeSpace >> 20;

    private static string Config(int storeLookup, string reserve = "1%", string? storeGroup = null) =>
        $"store_lookup = {storeLookup}\nreserved_storage_space = {reserve}\n" + (storeGroup is null ? string.Empty : $"store_group = {storeGroup}\n");

    /// <summary>A reserve (in MB) that only a group with two store paths' worth of free space clears.</summary>
    private static string ReserveBetweenGroups() => (TempFreeMb() * 3 / 2).ToString(CultureInfo.InvariantCulture) + "M";

    private static async Task<Cluster> StartAsync(string trackerConfig)
    {
        var cluster = await Cluster.StartAsync(trackerConfig, TwoGroups);
        try
        {
            await WaitCapacityAsync(cluster);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    /// <summary>Waits until both groups have a writable storage and a disk report (the tracker decides on both).</summary>
    private static async Task<IReadOnlyList<GroupStat>> WaitCapacityAsync(Cluster cluster)
    {
        await using var client = cluster.CreateClient(TimeSpan.FromSeconds(5));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        IReadOnlyList<GroupStat> groups = [];
        while (DateTime.UtcNow < deadline)
        {
            groups = await client.ListGroupsAsync();
            if (groups.Count == 2 && groups.All(g => g.TotalMb > 0 && g.WritableServerCount == 1))
            {
                return groups;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("groups without capacity: " + string.Join(", ", groups.Select(g => $"{g.Name} total={g.TotalMb} writable={g.WritableServerCount}")));
    }

    /// <summary>Uploads <paramref name="count"/> small files without naming a group; returns the chosen groups in order.</summary>
    private static async Task<List<string>> UploadAsync(FastDfsClient client, int count)
    {
        var groups = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            var id = await client.UploadAsync("balance"u8.ToArray(), "txt");
            groups.Add(id.Group);
        }

        return groups;
    }

    [Fact]
    public async Task Groups_report_their_capacity_and_load_balance_picks_the_group_with_most_free_space()
    {
        await using var cluster = await StartAsync(Config(storeLookup: 2));
        var groups = await WaitCapacityAsync(cluster);
        var g1 = groups.Single(g => g.Name == "group1");
        var g2 = groups.Single(g => g.Name == "group2");

        // Same file system: two paths count it twice (allow for other writers on the machine in between reports).
        Assert.InRange(g2.TotalMb, g1.TotalMb * 2 - 2, g1.TotalMb * 2 + 2);
        Assert.InRange(g2.FreeMb, g1.FreeMb * 19 / 10, g1.FreeMb * 21 / 10);
        Assert.Equal(g1.TotalMb / 100, g1.ReservedMb); // 1% of the total
        Assert.Equal(2, g2.StorePathCount);

        // group1 sorts first by name but has less space: every upload goes to group2.
        await using var client = cluster.CreateClient();
        Assert.All(await UploadAsync(client, 8), g => Assert.Equal("group2", g));

        // fdfs groups: one row per group and a total row with the sums.
        var (code, text, err) = await FdfsCli.RunAsync(cluster.TrackerEndpoint, "groups");
        Assert.True(code == 0, err);
        var rows = text.Split('\n').Where(l => l.StartsWith("group", StringComparison.Ordinal) && !l.StartsWith("group ", StringComparison.Ordinal)).ToList();
        Assert.Equal(["group1", "group2"], rows.Select(r => r.Split(' ')[0]));
        string totalRow = Assert.Single(text.Split('\n'), l => l.StartsWith("total (2)", StringComparison.Ordinal));
        long Column(string row, int index) => long.Parse(row[17..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[index], NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
        Assert.Equal(rows.Sum(r => Column(r, 2)), Column(totalRow, 1)); // total MB (the total row has no r/w column)
        Assert.Equal(rows.Sum(r => Column(r, 3)), Column(totalRow, 2)); // free MB
        Assert.All(text.Split('\n'), l => Assert.True(l.Length <= 80, $"line longer than 80 columns: '{l}'"));

        (code, text, err) = await FdfsCli.RunAsync(cluster.TrackerEndpoint, "groups", "--json");
        Assert.True(code == 0, err);
        using var json = JsonDocument.Parse(text);
        var listed = json.RootElement.GetProperty("groups").EnumerateArray().ToList();
        Assert.Equal(["group1", "group2"], listed.Select(g => g.GetProperty("name").GetString()));
        var total = json.RootElement.GetProperty("total");
        Assert.Equal(listed.Sum(g => g.GetProperty("total_mb").GetInt64()), total.GetProperty("total_mb").GetInt64());
        Assert.Equal(listed.Sum(g => g.GetProperty("free_mb").GetInt64()), total.GetProperty("free_mb").GetInt64());
        Assert.Equal(2, total.GetProperty("storage_count").GetInt64());
    }

    [Fact]
    public async Task Round_robin_alternates_between_groups()
    {
        await using var cluster = await StartAsync(Config(storeLookup: 0));
        await using var client = cluster.CreateClient();
        var chosen = await UploadAsync(client, 10);
        Assert.Equal(5, chosen.Count(g => g == "group1"));
        Assert.Equal(5, chosen.Count(g => g == "group2"));
        for (int i = 1; i < chosen.Count; i++)
        {
            Assert.NotEqual(chosen[i - 1], chosen[i]);
        }
    }

    [Fact]
    public async Task Store_group_takes_every_upload_even_with_less_space()
    {
        await using var cluster = await StartAsync(Config(storeLookup: 1, storeGroup: "group1"));
        await using var client = cluster.CreateClient();
        Assert.All(await UploadAsync(client, 6), g => Assert.Equal("group1", g));

        // A client naming a group bypasses store_lookup.
        var id = await client.UploadAsync("named"u8.ToArray(), "txt", group: "group2");
        Assert.Equal("group2", id.Group);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public async Task Uploads_skip_a_group_at_its_reserve(int storeLookup)
    {
        await using var cluster = await StartAsync(Config(storeLookup, ReserveBetweenGroups()));
        await using var client = cluster.CreateClient();
        var groups = await client.ListGroupsAsync();
        var g1 = groups.Single(g => g.Name == "group1");
        var g2 = groups.Single(g => g.Name == "group2");
        Assert.True(g1.FreeMb <= g1.ReservedMb, $"group1 free {g1.FreeMb} MB, reserved {g1.ReservedMb} MB");
        Assert.True(g2.FreeMb > g2.ReservedMb, $"group2 free {g2.FreeMb} MB, reserved {g2.ReservedMb} MB");

        Assert.All(await UploadAsync(client, 6), g => Assert.Equal("group2", g));

        var e = await Assert.ThrowsAsync<FdfsServerException>(() => client.UploadAsync("full"u8.ToArray(), "txt", group: "group1"));
        Assert.Equal(FdfsErrno.ENOSPC, e.Errno);
    }

    [Fact]
    public async Task Round_robin_skipping_a_full_group_still_spreads_evenly()
    {
        // group1 is full; FastDFS continues the rotation after the group that took the upload, so group2 and group3
        // alternate instead of group2 also taking group1's turn.
        await using var cluster = await Cluster.StartAsync(
            Config(storeLookup: 0, ReserveBetweenGroups()), new("group1", StorePaths: 1), new("group2", StorePaths: 2), new("group3", StorePaths: 2));
        await using var client = cluster.CreateClient();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((await client.ListGroupsAsync()).Count(g => g.TotalMb > 0) < 3)
        {
            Assert.True(DateTime.UtcNow < deadline, "no disk report from every group");
            await Task.Delay(100);
        }

        var chosen = await UploadAsync(client, 12);
        Assert.DoesNotContain("group1", chosen);
        Assert.Equal(6, chosen.Count(g => g == "group2"));
        for (int i = 1; i < chosen.Count; i++)
        {
            Assert.NotEqual(chosen[i - 1], chosen[i]);
        }
    }

    [Fact]
    public async Task Round_robin_over_store_paths_skips_a_full_path_and_stays_even()
    {
        // Store path 1 on /dev/shm (tmpfs) when it has clearly less free space than the temp file system, with a
        // reserve per path between the two: path 1 is full, paths 0 and 2 must alternate. Without such a second
        // file system all three paths have room and must simply rotate.
        long tempFree = TempFreeMb();
        string shmDir = Path.Combine("/dev/shm", "fdfs-it-" + Guid.NewGuid().ToString("N")[..10]);
        long shmFree = Directory.Exists("/dev/shm") ? new DriveInfo("/dev/shm").AvailableFreeSpace >> 20 : long.MaxValue;
        bool fullPath = shmFree < tempFree * 3 / 4;
        string reserve = fullPath ? (3 * (shmFree + (tempFree - shmFree) / 4)).ToString(CultureInfo.InvariantCulture) + "M" : "1%";
        if (fullPath)
        {
            Directory.CreateDirectory(shmDir);
        }

        try
        {
            await using var cluster = await Cluster.StartAsync(
                $"store_lookup = 0\nstore_path = 0\nreserved_storage_space = {reserve}\n",
                new StorageSpec("group1", StorePaths: 3, Extra: fullPath ? $"store_path1 = {shmDir}" : string.Empty));
            await using var client = cluster.CreateClient();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while ((await client.ListGroupsAsync()).Single().TotalMb == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "no disk report");
                await Task.Delay(100);
            }

            var paths = new List<string>();
            for (int i = 0; i < 12; i++)
            {
                paths.Add((await client.UploadAsync("path"u8.ToArray(), "txt")).RemoteFileName[..3]);
            }

            if (fullPath)
            {
                Assert.Equal(6, paths.Count(p => p == "M00"));
                Assert.Equal(6, paths.Count(p => p == "M02"));
            }
            else
            {
                Assert.All(new[] { "M00", "M01", "M02" }, m => Assert.Equal(4, paths.Count(p => p == m)));
            }

            for (int i = 1; i < paths.Count; i++)
            {
                Assert.NotEqual(paths[i - 1], paths[i]);
            }
        }
        finally
        {
            if (Directory.Exists(shmDir))
            {
                Directory.Delete(shmDir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Store_group_at_its_reserve_gives_ENOSPC()
    {
        await using var cluster = await StartAsync(Config(storeLookup: 1, ReserveBetweenGroups(), storeGroup: "group1"));
        await using var client = cluster.CreateClient();
        var e = await Assert.ThrowsAsync<FdfsServerException>(() => client.UploadAsync("full"u8.ToArray(), "txt"));
        Assert.Equal(FdfsErrno.ENOSPC, e.Errno);
        Assert.Equal("group2", (await client.UploadAsync("named"u8.ToArray(), "txt", group: "group2")).Group);
    }

    [Fact]
    public async Task Every_group_at_its_reserve_gives_ENOSPC()
    {
        string reserve = (TempFreeMb() * 3).ToString(CultureInfo.InvariantCulture) + "M";
        await using var cluster = await StartAsync(Config(storeLookup: 2, reserve));
        await using var client = cluster.CreateClient();
        foreach (string? group in (string?[])[null, "group1", "group2"])
        {
            var e = await Assert.ThrowsAsync<FdfsServerException>(() => client.UploadAsync("full"u8.ToArray(), "txt", group: group));
            Assert.Equal(FdfsErrno.ENOSPC, e.Errno);
        }

        // The same through the command line: errno 28 named, exit code 1, no file stored.
        string file = Path.Combine(cluster.Root, "full.txt");
        await File.WriteAllTextAsync(file, "full");
        var (code, stdout, err) = await FdfsCli.RunAsync(cluster.TrackerEndpoint, "upload", file);
        Assert.Equal(1, code);
        Assert.Contains("ENOSPC", err, StringComparison.Ordinal);
        Assert.Equal(string.Empty, stdout);
        Assert.All(cluster.Storages, s => Assert.Empty(s.DataFiles()));
    }
}
