namespace FastDfs.Storage;

/// <summary>
/// CRC-32 (the zlib / IEEE 802.3 one System.IO.Hashing.Crc32 computes) arithmetic that needs no data: extending a CRC
/// by a run of zero bytes, and joining the CRCs of two pieces, both in O(log n) for an n-byte run. A hole of a sparse
/// appender file (terabytes of zeros) is folded in without reading it.
/// </summary>
/// <remarks>
/// The CRC register is a polynomial over GF(2) modulo the generator P; feeding one zero bit multiplies it by x, so n
/// zero bytes multiply it by x^(8n) mod P. In the reflected form used here bit 31 holds the x^0 coefficient and bit 0
/// the x^31 one. A finished CRC is the register inverted, so extending one inverts around the multiplication; joining
/// two CRCs needs none (the inversions of the two pieces cancel): crc(AB) = crc(A) * x^(8 |B|) + crc(B).
/// </remarks>
internal static class Crc32Zeros
{
    /// <summary>P without its x^32 term, reflected.</summary>
    private const uint Polynomial = 0xEDB88320;

    /// <summary>The polynomial 1 in the reflected form.</summary>
    private const uint One = 0x80000000;

    /// <summary>x^(2^k) mod P for k = 0..66: enough for 8 * 2^63 bits.</summary>
    private static readonly uint[] s_xPow2k = BuildPowers();

    /// <summary>The CRC of the bytes behind <paramref name="crc"/> followed by <paramref name="count"/> zero bytes.</summary>
    public static uint Extend(uint crc, long count) => ~Shift(~crc, count);

    /// <summary>The CRC of <c>A</c> then <c>B</c> from CRC(A), CRC(B) and B's length.</summary>
    public static uint Combine(uint crcA, uint crcB, long lengthB) => Shift(crcA, lengthB) ^ crcB;

    /// <summary>The CRC of <paramref name="count"/> zero bytes.</summary>
    public static uint OfZeros(long count) => Extend(0, count);

    /// <summary>The register after <paramref name="count"/> zero bytes: register * x^(8 count) mod P.</summary>
    private static uint Shift(uint register, long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return count == 0 ? register : Multiply(register, XPow8n(count));
    }

    /// <summary>a * b mod P: one shift-and-add pass over the 32 coefficients of a.</summary>
    private static uint Multiply(uint a, uint b)
    {
        uint product = 0;
        for (uint bit = One; bit != 0 && a != 0; bit >>= 1)
        {
            if ((a & bit) != 0)
            {
                product ^= b;
                a ^= bit;
            }

            b = TimesX(b);
        }

        return product;
    }

    /// <summary>b * x mod P: the shift one zero bit makes in the CRC register.</summary>
    private static uint TimesX(uint b) => (b & 1) != 0 ? (b >> 1) ^ Polynomial : b >> 1;

    /// <summary>x^(8n) mod P, from the binary digits of n: x^(8 * 2^j) = x^(2^(j + 3)).</summary>
    private static uint XPow8n(long n)
    {
        uint result = One;
        for (int j = 0; n != 0; j++, n >>= 1)
        {
            if ((n & 1) != 0)
            {
                result = Multiply(result, s_xPow2k[j + 3]);
            }
        }

        return result;
    }

    private static uint[] BuildPowers()
    {
        var powers = new uint[67];
        powers[0] = One >> 1; // x^1
        for (int k = 1; k < powers.Length; k++)
        {
            powers[k] = Multiply(powers[k - 1], powers[k - 1]);
        }

        return powers;
    }
}
