using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using FastDfs.Mount.Core;

namespace FastDfs.Mount.Fuse;

/// <summary>The architectures whose C layouts the binding declares, by the names gcc and <c>uname -m</c> use.</summary>
internal static class NativeArchitecture
{
    public const string X64 = "x86_64";
    public const string Arm64 = "aarch64";
}

/// <summary>The C type a struct (or enum of pointer slots) mirrors; <c>Architecture</c> is null when it is the same on every supported one.</summary>
[AttributeUsage(AttributeTargets.Struct | AttributeTargets.Enum)]
internal sealed class NativeTypeAttribute(string name, string? architecture = null) : Attribute
{
    public string Name { get; } = name;

    public string? Architecture { get; } = architecture;
}

/// <summary>The C member a field (or pointer slot) mirrors.</summary>
[AttributeUsage(AttributeTargets.Field)]
internal sealed class NativeFieldAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>A mask constant for the one-bit C bitfield <c>Name</c>, which lives in the 32-bit word of the field <c>Word</c>.</summary>
[AttributeUsage(AttributeTargets.Field)]
internal sealed class NativeBitAttribute(string name, string word = "Bits") : Attribute
{
    public string Name { get; } = name;

    public string Word { get; } = word;
}

/// <summary>A constant that must equal the C macro <c>Name</c>.</summary>
[AttributeUsage(AttributeTargets.Field)]
internal sealed class NativeConstantAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>
/// Which C layouts this process uses, the start-up check of them, and their description for scripts/check-layouts.sh,
/// which compiles it into static asserts against the x86-64 and aarch64 headers.
/// </summary>
internal static unsafe class NativeLayout
{
    /// <summary>aarch64 has the generic struct stat (asm-generic/stat.h); x86-64 has its own. Constant after start-up.</summary>
    public static readonly bool IsArm64 = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;

    /// <summary>This process's architecture, or null when the binding has no layouts for it.</summary>
    public static string? Current => !OperatingSystem.IsLinux() ? null : RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => NativeArchitecture.X64,
        Architecture.Arm64 => NativeArchitecture.Arm64,
        _ => null,
    };

    /// <summary>
    /// Refuses to mount where a reply would be written with the wrong layout: another architecture, or a struct whose
    /// size is not the C one (the sizes are those of the headers, libfuse 3.14 and glibc 2.36; check-layouts.sh proves them).
    /// </summary>
    public static void EnsureSupported()
    {
        string arch = Current ?? throw new PlatformNotSupportedException(
            $"fdfs-mount knows libfuse's struct layouts for Linux x86-64 and aarch64 only, not {RuntimeInformation.OSDescription} on {RuntimeInformation.ProcessArchitecture}");
        bool arm = arch == NativeArchitecture.Arm64;
        (string Name, int Actual, int Expected)[] sizes =
        [
            ("struct stat", arm ? sizeof(StatArm64) : sizeof(StatX64), arm ? 128 : 144),
            ("struct fuse_entry_param", arm ? sizeof(EntryParamArm64) : sizeof(EntryParamX64), arm ? 160 : 176),
            ("struct fuse_file_info", sizeof(FuseFileInfo), 40),
            ("struct statvfs", sizeof(StatVfs), 112),
            ("struct fuse_conn_info", sizeof(ConnInfo), 128),
            ("struct fuse_buf", sizeof(FuseBuf), 40),
            ("struct fuse_args", sizeof(FuseArgs), 24),
            ("struct fuse_ctx", sizeof(FuseCtx), 16),
            ("struct fuse_forget_data", sizeof(ForgetData), 16),
            ("struct iovec", sizeof(IoVec), 16),
            ("struct timespec", sizeof(Timespec), 16),
            ("struct flock", sizeof(Flock), 32),
            ("struct fuse_lowlevel_ops", (int)OpSlot.Count * sizeof(nint), 352),
        ];
        foreach (var (name, actual, expected) in sizes)
        {
            if (actual != expected)
            {
                throw new PlatformNotSupportedException($"{name} is {actual} bytes in fdfs-mount, {expected} in C on {arch}: the binding is broken");
            }
        }
    }

    /// <summary>
    /// One line per fact, tab-separated: <c>arch sizeof type size</c>, <c>arch field type member offset size</c>,
    /// <c>arch bit type member word-offset mask</c>, <c>arch const NAME value</c>. Both architectures, whichever runs this.
    /// </summary>
    public static IEnumerable<string> Describe()
    {
        foreach (string arch in new[] { NativeArchitecture.X64, NativeArchitecture.Arm64 })
        {
            foreach (var type in typeof(NativeLayout).Assembly.GetTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
            {
                if (type.GetCustomAttribute<NativeTypeAttribute>() is not { } native || (native.Architecture ?? arch) != arch)
                {
                    continue;
                }

                foreach (string line in type.IsEnum ? DescribeSlots(arch, native.Name, type) : DescribeStruct(arch, native.Name, type))
                {
                    yield return line;
                }
            }

            const BindingFlags Constants = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var type in typeof(NativeLayout).Assembly.GetTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
            {
                foreach (var field in type.GetFields(Constants).Where(f => f.IsLiteral).OrderBy(f => f.Name, StringComparer.Ordinal))
                {
                    if (field.GetCustomAttribute<NativeConstantAttribute>() is { } constant)
                    {
                        yield return Line(arch, "const", constant.Name, Convert.ToInt64(field.GetRawConstantValue(), CultureInfo.InvariantCulture));
                    }
                }
            }

            // The core answers with these errno numbers verbatim.
            foreach (var field in typeof(Errno).GetFields(Constants).Where(f => f.IsLiteral).OrderBy(f => f.Name, StringComparer.Ordinal))
            {
                yield return Line(arch, "const", field.Name, (int)field.GetRawConstantValue()!);
            }
        }
    }

    private static IEnumerable<string> DescribeStruct(string arch, string name, Type type)
    {
        yield return Line(arch, "sizeof", name, Marshal.SizeOf(type));
        const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
        foreach (var field in type.GetFields(All | BindingFlags.Instance).OrderBy(f => Marshal.OffsetOf(type, f.Name)))
        {
            if (field.GetCustomAttribute<NativeFieldAttribute>() is { } member)
            {
                yield return Line(arch, "field", name, member.Name, (long)Marshal.OffsetOf(type, field.Name), Marshal.SizeOf(field.FieldType));
            }
        }

        foreach (var field in type.GetFields(All | BindingFlags.Static).Where(f => f.IsLiteral))
        {
            if (field.GetCustomAttribute<NativeBitAttribute>() is { } bit)
            {
                yield return Line(arch, "bit", name, bit.Name, (long)Marshal.OffsetOf(type, bit.Word), Convert.ToInt64(field.GetRawConstantValue(), CultureInfo.InvariantCulture));
            }
        }
    }

    private static IEnumerable<string> DescribeSlots(string arch, string name, Type type)
    {
        // Every slot is a function pointer; the enum's Count is the number of slots.
        foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            long slot = Convert.ToInt64(field.GetRawConstantValue(), CultureInfo.InvariantCulture);
            if (field.GetCustomAttribute<NativeFieldAttribute>() is { } member)
            {
                yield return Line(arch, "field", name, member.Name, slot * IntPtr.Size, IntPtr.Size);
            }
            else if (field.Name == "Count")
            {
                yield return Line(arch, "sizeof", name, slot * IntPtr.Size);
            }
        }
    }

    private static string Line(params object[] parts) => string.Join('\t', parts.Select(p => Convert.ToString(p, CultureInfo.InvariantCulture)));
}
