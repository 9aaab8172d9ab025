using System.Security.Cryptography;
using FastDfs.Protocol;
using Xunit;
using Xunit.Abstractions;

namespace FastDfs.Mount.Tests;

/// <summary>
/// The named-mode mount with a budget of 2 MiB for queued write chunks and read-ahead (max_buffers=2): two 1 MiB write
/// chunks for the whole mount, so files written side by side take turns; read-ahead (256 KiB chunks) may take half.
/// </summary>
public sealed class BufferBudgetMountFixture() : NamedMountFixture(MountOptions)
{
    public new const string MountOptions =
        "names=on,auto_unmount,attr_timeout=0.2,entry_timeout=0.2,negative_timeout=0,timeout=15,write_chunk=1048576,readahead_chunk=262144,max_buffers=2";
}

/// <summary>Many files written and read at once through a real FUSE mount under a tiny max_buffers.</summary>
public sealed class BufferBudgetMountTests(BufferBudgetMountFixture fixture, ITestOutputHelper output) : IClassFixture<BufferBudgetMountFixture>
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task Files_written_and_read_side_by_side_under_a_tiny_budget_arrive_whole()
    {
        const int Files = 8;
        var dir = await fixture.NewDirectoryAsync("budget");
        var data = Enumerable.Range(0, Files).Select(i => RandomNumberGenerator.GetBytes((3 * MiB) + (i * 4099))).ToArray();

        // Each writer in its own task, 128 KiB per write(2): together they want far more queued chunks than two.
        await Task.WhenAll(Enumerable.Range(0, Files).Select(i => Task.Run(async () =>
        {
            await using var stream = new FileStream(dir.PathOf($"f{i}.bin"), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1);
            for (int at = 0; at < data[i].Length; at += 128 * 1024)
            {
                await stream.WriteAsync(data[i].AsMemory(at, Math.Min(128 * 1024, data[i].Length - at)));
            }
        })));

        for (int i = 0; i < Files; i++)
        {
            var attributes = await fixture.Names.LookupAsync(dir.Inode, $"f{i}.bin");
            Assert.Equal(data[i].Length, attributes.Size);
            Assert.Equal(data[i], await fixture.Client.DownloadBytesAsync(FileId.Parse(attributes.FileId!)));
        }

        // Read back side by side, past the page cache: read-ahead shares the same budget.
        await Task.WhenAll(Enumerable.Range(0, Files).Select(i => Task.Run(async () =>
        {
            await using var stream = new FileStream(dir.PathOf($"f{i}.bin"), FileMode.Open, FileAccess.Read, FileShare.Read, 1, (FileOptions)0x4000 /* O_DIRECT */);
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, MiB);
            Assert.Equal(data[i], copy.ToArray());
        })));

        // Whether the budget ran out depends on how fast the storage stores; shown, not asserted.
        output.WriteLine(fixture.Mount.Log.Contains("max_buffers", StringComparison.Ordinal)
            ? "the budget ran out (event 6008 logged)"
            : "the budget never ran out");
    }
}
