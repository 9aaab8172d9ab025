using System.Globalization;

namespace FastDfs.Protocol.Config;

/// <summary>
/// <c>reserved_storage_space</c>: space that must stay free on a storage, either a percentage of each
/// store path (<c>20%</c>) or an absolute size (<c>10G</c>; compared in whole MB like FastDFS).
/// </summary>
public readonly struct ReservedSpace : IEquatable<ReservedSpace>
{
    private const long OneMb = 1024 * 1024;

    private ReservedSpace(bool isPercent, double percent, long bytes)
    {
        IsPercent = isPercent;
        Percent = percent;
        Bytes = bytes;
    }

    /// <summary>True for a percentage, false for an absolute size.</summary>
    public bool IsPercent { get; }

    /// <summary>The percentage (0..100 exclusive) when <see cref="IsPercent"/>, else 0.</summary>
    public double Percent { get; }

    /// <summary>The absolute size in bytes when not <see cref="IsPercent"/>, else 0.</summary>
    public long Bytes { get; }

    /// <summary><see cref="Bytes"/> in whole MB (rounded down), as FastDFS stores it.</summary>
    public long Megabytes => Bytes / OneMb;

    /// <summary>A percentage; must be greater than 0 and less than 100.</summary>
    public static ReservedSpace FromPercent(double percent)
    {
        if (!(percent > 0 && percent < 100))
        {
            throw new ArgumentOutOfRangeException(nameof(percent), percent, "reserved percentage must be > 0 and < 100");
        }

        return new ReservedSpace(true, percent, 0);
    }

    /// <summary>An absolute size in bytes (&gt;= 0).</summary>
    public static ReservedSpace FromBytes(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        return new ReservedSpace(false, 0, bytes);
    }

    /// <summary>The reserved amount in MB for a path (or storage) of <paramref name="totalMb"/>.</summary>
    public long GetReservedMb(long totalMb) =>
        IsPercent ? (long)(totalMb * (Percent / 100.0)) : Megabytes;

    /// <summary>
    /// True when a path/storage with <paramref name="totalMb"/> capacity and <paramref name="freeMb"/> free has hit
    /// the reserve (free at or below it), i.e. must not take new uploads. A percentage reserve is always reached
    /// when the total is unknown (0), as in FastDFS.
    /// </summary>
    public bool IsReached(long totalMb, long freeMb)
    {
        if (IsPercent)
        {
            return totalMb <= 0 || (double)freeMb / totalMb <= Percent / 100.0;
        }

        return freeMb <= Megabytes;
    }

    /// <summary>Parses <c>20%</c>, <c>12.5%</c>, <c>10G</c>, <c>512MB</c>, <c>1048576</c>. Throws <see cref="FormatException"/>.</summary>
    public static ReservedSpace Parse(string text) =>
        TryParse(text, out var value, out string? error) ? value : throw new FormatException(error);

    public static bool TryParse(string text, out ReservedSpace value) => TryParse(text, out value, out _);

    public static bool TryParse(string text, out ReservedSpace value, out string? error)
    {
        value = default;
        string s = text.Trim();
        if (s.Length == 0)
        {
            error = "reserved space is empty";
            return false;
        }

        if (s[^1] == '%')
        {
            if (!double.TryParse(s[..^1].Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double percent))
            {
                error = "expected a percentage such as 20% or a size such as 10G";
                return false;
            }

            if (!(percent > 0 && percent < 100))
            {
                error = "percentage must be greater than 0% and less than 100%";
                return false;
            }

            value = new ReservedSpace(true, percent, 0);
            error = null;
            return true;
        }

        if (!FdfsConfigFile.TryParseSize(s, out long bytes))
        {
            error = "expected a percentage such as 20% or a size such as 10G";
            return false;
        }

        value = new ReservedSpace(false, 0, bytes);
        error = null;
        return true;
    }

    /// <summary><c>20%</c> or the size with the largest exact unit (<c>10G</c>, <c>512M</c>, <c>100</c>).</summary>
    public override string ToString()
    {
        if (IsPercent)
        {
            return Percent.ToString("0.##", CultureInfo.InvariantCulture) + "%";
        }

        foreach (var (unit, suffix) in new[] { (1L << 40, "T"), (1L << 30, "G"), (1L << 20, "M"), (1L << 10, "K") })
        {
            if (Bytes != 0 && Bytes % unit == 0)
            {
                return (Bytes / unit).ToString(CultureInfo.InvariantCulture) + suffix;
            }
        }

        return Bytes.ToString(CultureInfo.InvariantCulture);
    }

    public bool Equals(ReservedSpace other) =>
        IsPercent == other.IsPercent && Percent.Equals(other.Percent) && Bytes == other.Bytes;

    public override bool Equals(object? obj) => obj is ReservedSpace other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(IsPercent, Percent, Bytes);

    public static bool operator ==(ReservedSpace left, ReservedSpace right) => left.Equals(right);

    public static bool operator !=(ReservedSpace left, ReservedSpace right) => !left.Equals(right);
}
