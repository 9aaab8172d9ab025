using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastDfs.Mount.Core;

/// <summary>
/// Transparent huge pages for the mount's 4 MiB data chunks (Linux, where THP is "madvise", as on Debian): the kernel
/// copies a FUSE READ's reply out of the chunk one 4 KiB page at a time, pinning each page as it goes, and the socket
/// receive fills it page by page; on 2 MiB pages both walk far fewer page tables. Measured on O_DIRECT 1 MiB reads:
/// 13% faster on less of the mount's CPU (docs/benchmarks.md, "Huge pages").
/// </summary>
public static partial class HugePages
{
    private const nuint HugePage = 2 * 1024 * 1024;

    // MADV_HUGEPAGE (asm-generic/mman-common.h, every architecture Linux runs .NET on).
    private const int MadvHugePage = 14;

    // MADV_COLLAPSE, Linux 6.1+: huge pages now, for pages already touched (else they wait for khugepaged).
    private const int MadvCollapse = 25;

    private static readonly ConditionalWeakTable<byte[], object> s_advised = [];

    /// <summary>Whether buffers are advised (<c>huge_pages</c>, on by default on Linux); set once by the host at start.</summary>
    public static bool Enabled { get; set; } = OperatingSystem.IsLinux();

    /// <summary>A pooled buffer of at least <paramref name="length"/> bytes, on huge pages where the kernel allows.</summary>
    public static byte[] Rent(int length)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        if (Enabled && buffer.Length >= (int)HugePage && s_advised.TryAdd(buffer, s_advised))
        {
            // Large arrays stay where they are (the large object heap is not compacted), so the advice holds for
            // the array's life; it is only a hint, also for the neighbouring heap memory the rounding covers.
            unsafe
            {
                fixed (byte* start = buffer)
                {
                    Advise((nint)start, (nuint)buffer.Length);
                }
            }
        }

        return buffer;
    }

    /// <summary>Advises the 2 MiB pages that cover [start, start + length); best effort, errors are ignored.</summary>
    private static void Advise(nint start, nuint length)
    {
        nuint from = (nuint)start & ~(HugePage - 1);
        nuint to = ((nuint)start + length + HugePage - 1) & ~(HugePage - 1);
        if (Madvise((nint)from, to - from, MadvHugePage) == 0)
        {
            _ = Madvise((nint)from, to - from, MadvCollapse);
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
