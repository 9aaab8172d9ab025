using System.Runtime.InteropServices;
using FastDfs.Mount.Fuse;
using Xunit;

namespace FastDfs.Mount.Tests;

/// <summary>Golden sizes and offsets of the libfuse 3.14 / glibc x86-64 structs (fuse-binding notes 2.5).</summary>
public class LayoutTests
{
    [Fact]
    public void Struct_sizes_match_the_C_headers()
    {
        Assert.True(RuntimeInformation.ProcessArchitecture == Architecture.X64, "layouts are for x86-64");
        Assert.Equal(144, Marshal.SizeOf<Stat>());
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
    public void Stat_offsets_match_glibc()
    {
        Assert.Equal(8, Offset<Stat>("Ino"));
        Assert.Equal(16, Offset<Stat>("Nlink"));
        Assert.Equal(24, Offset<Stat>("Mode"));
        Assert.Equal(28, Offset<Stat>("Uid"));
        Assert.Equal(32, Offset<Stat>("Gid"));
        Assert.Equal(48, Offset<Stat>("Size"));
        Assert.Equal(56, Offset<Stat>("BlockSize"));
        Assert.Equal(64, Offset<Stat>("Blocks"));
        Assert.Equal(72, Offset<Stat>("Atime"));
        Assert.Equal(88, Offset<Stat>("Mtime"));
        Assert.Equal(104, Offset<Stat>("Ctime"));
    }

    [Fact]
    public void Entry_file_info_and_conn_offsets_match_libfuse()
    {
        Assert.Equal(16, Offset<EntryParam>("Attr"));
        Assert.Equal(160, Offset<EntryParam>("AttrTimeout"));
        Assert.Equal(168, Offset<EntryParam>("EntryTimeout"));
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
        Assert.Equal(7ul, *(ulong*)(p + 8));
        Assert.Equal(1ul, *(ulong*)(p + 16));
        Assert.Equal(0x81A4u, *(uint*)(p + 24));
        Assert.Equal(1000u, *(uint*)(p + 28));
        Assert.Equal(100u, *(uint*)(p + 32));
        Assert.Equal(3000L, *(long*)(p + 48));
        Assert.Equal(6L, *(long*)(p + 64)); // 512-byte blocks, rounded up
        Assert.Equal(1_600_000_000L, *(long*)(p + 72));
        Assert.Equal(1L, *(long*)(p + 80));
        Assert.Equal(1_700_000_000L, *(long*)(p + 88));
        Assert.Equal(5L, *(long*)(p + 96));
        Assert.Equal(1_800_000_000L, *(long*)(p + 104));
        Assert.Equal(9L, *(long*)(p + 112));
    }

    private static int Offset<T>(string field) => (int)Marshal.OffsetOf<T>(field);
}
