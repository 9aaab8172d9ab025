using System.IO.Hashing;

namespace FastDfs.Storage.Tests;

public class Crc32ZerosTests
{
    private const long TiB = 1L << 40;

    /// <summary>ext4's largest file with 4 KiB blocks: what a mount's write near 16 TiB makes.</summary>
    private const long Ext4MaxFile = (16 * TiB) - 4096;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(31)]
    [InlineData(64)]
    [InlineData(255)]
    [InlineData(4096)]
    [InlineData(65_537)]
    [InlineData((1 << 20) + 13)]
    [InlineData(3 << 22)]
    public void Crc_of_zeros_matches_hashing_real_zero_buffers(int count)
    {
        Assert.Equal(Crc32.HashToUInt32(new byte[count]), Crc32Zeros.OfZeros(count));
        Assert.Equal(MatrixOracle.Extend(0, count), Crc32Zeros.OfZeros(count));
    }

    [Fact]
    public void Golden_values()
    {
        // Known CRC-32 (zlib) values: one zero byte, four zero bytes, "123456789".
        Assert.Equal(0xD202EF8Du, Crc32Zeros.OfZeros(1));
        Assert.Equal(0x2144DF1Cu, Crc32Zeros.OfZeros(4));
        Assert.Equal(0xCBF43926u, Crc32Zeros.Combine(Crc32.HashToUInt32("1234"u8), Crc32.HashToUInt32("56789"u8), 5));
    }

    [Fact]
    public void Extending_and_combining_match_real_buffers()
    {
        var random = new Random(7);
        foreach (var (head, zeros, tail) in new[] { (1, 1, 1), (5, 1000, 3), (4096, 4096, 4096), (17, 1 << 20, 100_003), (0, 12345, 0) })
        {
            var data = new byte[head + zeros + tail];
            random.NextBytes(data.AsSpan(0, head));
            random.NextBytes(data.AsSpan(head + zeros));
            uint whole = Crc32.HashToUInt32(data);
            uint headCrc = Crc32.HashToUInt32(data.AsSpan(0, head));
            uint tailCrc = Crc32.HashToUInt32(data.AsSpan(head + zeros));

            Assert.Equal(Crc32.HashToUInt32(data.AsSpan(0, head + zeros)), Crc32Zeros.Extend(headCrc, zeros));
            Assert.Equal(whole, Crc32Zeros.Combine(Crc32Zeros.Extend(headCrc, zeros), tailCrc, tail));
            Assert.Equal(whole, Crc32Zeros.Combine(headCrc, Crc32.HashToUInt32(data.AsSpan(head)), zeros + tail));
        }
    }

    [Theory]
    [InlineData(1L << 32)]
    [InlineData((1L << 32) + 1)]
    [InlineData(TiB)]
    [InlineData(Ext4MaxFile)]
    [InlineData(16 * TiB)]
    [InlineData((1L << 62) + 12345)]
    [InlineData(long.MaxValue)]
    public void Large_runs_agree_with_an_independent_matrix_power_and_the_combine_laws(long count)
    {
        const uint seed = 0x12345678;
        uint direct = Crc32Zeros.Extend(seed, count);
        Assert.Equal(MatrixOracle.Extend(seed, count), direct);

        // Two runs back to back are one run; so are zeros(a) ++ zeros(b) combined from their own CRCs.
        long a = count / 3, b = count - a;
        Assert.Equal(direct, Crc32Zeros.Extend(Crc32Zeros.Extend(seed, a), b));
        Assert.Equal(Crc32Zeros.OfZeros(count), Crc32Zeros.Combine(Crc32Zeros.OfZeros(a), Crc32Zeros.OfZeros(b), b));

        // Extending is affine in the starting CRC: ext(s) ^ ext(t) ^ ext(0) = ext(s ^ t).
        Assert.Equal(
            Crc32Zeros.Extend(seed ^ 0xCAFEF00D, count),
            Crc32Zeros.Extend(seed, count) ^ Crc32Zeros.Extend(0xCAFEF00D, count) ^ Crc32Zeros.OfZeros(count));
    }

    [Fact]
    public void Negative_length_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Crc32Zeros.Extend(0, -1));

    /// <summary>
    /// A second way to the same numbers, for lengths no buffer can hold: the zero-byte step as a 32x32 GF(2) matrix
    /// (one column per register bit, built from the bitwise CRC shift), raised to the n-th power by squaring, applied
    /// to the register (the finished CRC inverted).
    /// </summary>
    private static class MatrixOracle
    {
        public static uint Extend(uint crc, long count)
        {
            uint register = ~crc;
            var step = new uint[32];
            for (int i = 0; i < 32; i++)
            {
                uint v = 1u << i;
                for (int bit = 0; bit < 8; bit++)
                {
                    v = (v & 1) != 0 ? (v >> 1) ^ 0xEDB88320 : v >> 1;
                }

                step[i] = v;
            }

            for (; count != 0; count >>= 1)
            {
                if ((count & 1) != 0)
                {
                    register = Apply(step, register);
                }

                step = Square(step);
            }

            return ~register;
        }

        private static uint Apply(uint[] matrix, uint vector)
        {
            uint sum = 0;
            for (int i = 0; vector != 0; i++, vector >>= 1)
            {
                if ((vector & 1) != 0)
                {
                    sum ^= matrix[i];
                }
            }

            return sum;
        }

        private static uint[] Square(uint[] matrix) => [.. matrix.Select(column => Apply(matrix, column))];
    }
}
