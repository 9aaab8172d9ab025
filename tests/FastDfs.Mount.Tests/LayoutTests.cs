using System.Runtime.InteropServices;
using FastDfs.Mount.Fuse;
using Xunit;

namespace FastDfs.Mount.Tests;

/// <summary>
/// Golden sizes and offsets of the libfuse 3.14 / glibc structs on x86-64 and aarch64 (fuse-binding notes 2.5);
/// scripts/check-layouts.sh proves the same numbers against both architectures' headers.
/// </summary>
public class LayoutTests
{
    [Fact]
    public void Struct_sizes_match_the_C_headers()
    {
        Assert.Equal(144, Marshal.SizeOf<StatX64>());
        Assert.Equal(128, Marshal.SizeOf<StatArm64>());
        Assert.Equal(144, Marshal.SizeOf<Stat>());
        Assert.Equal(176, Marshal.SizeOf<EntryParamX64>());
        Assert.Equal(160, Marshal.SizeOf<EntryParamArm64>());
        Assert.Equal(176, Marshal.SizeOf<EntryParam>());
        Assert.Equal(40, Marshal.SizeOf<FuseFileInfo>());
        Assert.Equal(112, Marshal.SizeOf<StatVfs>());
        Assert.Equal(128, Marshal.SizeOf<ConnInfo>());
        Assert.Equal(16, Marshal.SizeOf<FuseCtx>());
        Assert.Equal(40, Marshal.SizeOf<FuseBuf>());
        Assert.Equal(24, Marshal.SizeOf<FuseArgs>());
        Assert.Equal(16, Marshal.SizeOf<ForgetData>());
        Assert.Equal(16, Marshal.SizeOf<IoVec>());
        Assert.Equal(44, (int)OpSlot.Count);
    }

    [Fact]
    public void This_architecture_passes_the_start_up_check()
    {
        Assert.Contains(RuntimeInformation.ProcessArchitecture, new[] { Architecture.X64, Architecture.Arm64 });
        NativeLayout.EnsureSupported();
    }

    [Fact]
    public void Stat_offsets_match_glibc()
    {
        Assert.Equal(8, Offset<StatX64>("Ino"));
        Assert.Equal(16, Offset<StatX64>("Nlink"));
        Assert.Equal(24, Offset<StatX64>("Mode"));
        Assert.Equal(28, Offset<StatX64>("Uid"));
        Assert.Equal(32, Offset<StatX64>("Gid"));
        Assert.Equal(40, Offset<StatX64>("Rdev"));
        Assert.Equal(48, Offset<StatX64>("Size"));
        Assert.Equal(56, Offset<StatX64>("BlockSize"));
        Assert.Equal(64, Offset<StatX64>("Blocks"));
        Assert.Equal(72, Offset<StatX64>("Atime"));
        Assert.Equal(88, Offset<StatX64>("Mtime"));
        Assert.Equal(104, Offset<StatX64>("Ctime"));

        // aarch64: the generic layout, st_mode before a 32-bit st_nlink.
        Assert.Equal(8, Offset<StatArm64>("Ino"));
        Assert.Equal(16, Offset<StatArm64>("Mode"));
        Assert.Equal(20, Offset<StatArm64>("Nlink"));
        Assert.Equal(24, Offset<StatArm64>("Uid"));
        Assert.Equal(28, Offset<StatArm64>("Gid"));
        Assert.Equal(32, Offset<StatArm64>("Rdev"));
        Assert.Equal(48, Offset<StatArm64>("Size"));
        Assert.Equal(56, Offset<StatArm64>("BlockSize"));
        Assert.Equal(64, Offset<StatArm64>("Blocks"));
        Assert.Equal(72, Offset<StatArm64>("Atime"));
        Assert.Equal(88, Offset<StatArm64>("Mtime"));
        Assert.Equal(104, Offset<StatArm64>("Ctime"));
        Assert.Equal(4, Marshal.SizeOf(typeof(StatArm64).GetField("Nlink")!.FieldType));
        Assert.Equal(4, Marshal.SizeOf(typeof(StatArm64).GetField("BlockSize")!.FieldType));
    }

    [Fact]
    public void Entry_file_info_and_conn_offsets_match_libfuse()
    {
        Assert.Equal(16, Offset<EntryParamX64>("Attr"));
        Assert.Equal(160, Offset<EntryParamX64>("AttrTimeout"));
        Assert.Equal(168, Offset<EntryParamX64>("EntryTimeout"));
        Assert.Equal(16, Offset<EntryParamArm64>("Attr"));
        Assert.Equal(144, Offset<EntryParamArm64>("AttrTimeout"));
        Assert.Equal(152, Offset<EntryParamArm64>("EntryTimeout"));

        // The union's own fields sit where both views have them.
        Assert.Equal(Offset<EntryParamX64>("Ino"), Offset<EntryParam>("Ino"));
        Assert.Equal(Offset<EntryParamArm64>("Ino"), Offset<EntryParam>("Ino"));
        Assert.Equal(Offset<EntryParamX64>("Generation"), Offset<EntryParam>("Generation"));
        Assert.Equal(Offset<EntryParamArm64>("Generation"), Offset<EntryParam>("Generation"));
        Assert.Equal(Offset<EntryParamX64>("Attr"), Offset<EntryParam>("Attr"));
        Assert.Equal(Offset<EntryParamArm64>("Attr"), Offset<EntryParam>("Attr"));

        Assert.Equal(4, Offset<FuseFileInfo>("Bits"));
        Assert.Equal(16, Offset<FuseFileInfo>("Fh"));
        Assert.Equal(24, Offset<FuseFileInfo>("LockOwner"));
        Assert.Equal(4u, FuseFileInfo.KeepCache); // Tmds.Fuse had 3 here, which sets writepage|direct_io
        Assert.Equal(28, Offset<ConnInfo>("MaxBackground"));
        Assert.Equal(32, Offset<ConnInfo>("CongestionThreshold"));
        Assert.Equal(80, Offset<StatVfs>("NameMax"));
        Assert.Equal(16, Offset<FuseBuf>("Mem"));
        Assert.Equal(8, Offset<FuseArgs>("Argv"));
    }

    [Fact]
    public unsafe void Stat_is_filled_field_by_field()
    {
        var stat = default(Stat);
        FuseMount.Fill(ref stat, new Core.NodeAttributes(7, 0x81A4, 1, 1000, 100, 3000, 1_600_000_000_000_000_001, 1_700_000_000_000_000_005, 1_800_000_000_000_000_009));
        byte* p = (byte*)&stat;
        bool arm = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;
        Assert.Equal(7ul, *(ulong*)(p + 8));
        Assert.Equal(1ul, arm ? *(uint*)(p + 20) : *(ulong*)(p + 16));
        Assert.Equal(0x81A4u, *(uint*)(p + (arm ? 16 : 24)));
        Assert.Equal(1000u, *(uint*)(p + (arm ? 24 : 28)));
        Assert.Equal(100u, *(uint*)(p + (arm ? 28 : 32)));
        Assert.Equal(3000L, *(long*)(p + 48));
        Assert.Equal(1024 * 1024, *(int*)(p + 56));
        Assert.Equal(6L, *(long*)(p + 64)); // 512-byte blocks, rounded up
        Assert.Equal(1_600_000_000L, *(long*)(p + 72));
        Assert.Equal(1L, *(long*)(p + 80));
        Assert.Equal(1_700_000_000L, *(long*)(p + 88));
        Assert.Equal(5L, *(long*)(p + 96));
        Assert.Equal(1_800_000_000L, *(long*)(p + 104));
        Assert.Equal(9L, *(long*)(p + 112));
    }

    [Fact]
    public unsafe void Entry_timeouts_land_after_this_architectures_stat()
    {
        var entry = default(EntryParam);
        entry.Attr.Ino = 5;
        entry.AttrTimeout = 1.5;
        entry.EntryTimeout = 2.5;
        byte* p = (byte*)&entry;
        int statSize = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 128 : 144;
        Assert.Equal(5ul, *(ulong*)(p + 16 + 8));
        Assert.Equal(1.5, *(double*)(p + 16 + statSize));
        Assert.Equal(2.5, *(double*)(p + 16 + statSize + 8));
    }

    [Fact]
    public void Every_mirrored_struct_is_described_for_both_architectures()
    {
        string[] lines = [.. FuseMount.DescribeNativeLayouts()];
        foreach (string arch in new[] { "x86_64", "aarch64" })
        {
            Assert.Contains($"{arch}\tsizeof\tstruct stat\t{(arch == "x86_64" ? 144 : 128)}", lines);
            Assert.Contains($"{arch}\tfield\tstruct stat\tst_mode\t{(arch == "x86_64" ? 24 : 16)}\t4", lines);
            Assert.Contains($"{arch}\tfield\tstruct fuse_entry_param\tattr_timeout\t{(arch == "x86_64" ? 160 : 144)}\t8", lines);
            Assert.Contains($"{arch}\tsizeof\tstruct fuse_lowlevel_ops\t352", lines);
            Assert.Contains($"{arch}\tbit\tstruct fuse_file_info\tkeep_cache\t4\t4", lines);
            Assert.Contains($"{arch}\tconst\tFUSE_CAP_ASYNC_DIO\t32768", lines);
        }
    }

    private static int Offset<T>(string field) => (int)Marshal.OffsetOf<T>(field);
}
