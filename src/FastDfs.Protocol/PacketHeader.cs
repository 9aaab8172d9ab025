using System.Buffers.Binary;

namespace FastDfs.Protocol;

/// <summary>The 10-byte header before every FastDFS packet: body length (8, big-endian), command, status.</summary>
public readonly record struct PacketHeader(long BodyLength, byte Command, byte Status)
{
    public static PacketHeader Request(TrackerCommand command, long bodyLength) => new(bodyLength, (byte)command, 0);

    public static PacketHeader Request(StorageCommand command, long bodyLength) => new(bodyLength, (byte)command, 0);

    public static PacketHeader Response(long bodyLength, byte status = 0) =>
        new(bodyLength, FdfsConstants.ResponseCommand, status);

    public void Write(Span<byte> destination)
    {
        if (destination.Length < FdfsConstants.HeaderSize)
        {
            throw new ArgumentException("header needs 10 bytes", nameof(destination));
        }

        BinaryPrimitives.WriteInt64BigEndian(destination, BodyLength);
        destination[8] = Command;
        destination[9] = Status;
    }

    public byte[] ToArray()
    {
        var bytes = new byte[FdfsConstants.HeaderSize];
        Write(bytes);
        return bytes;
    }

    /// <summary>Decodes a header; rejects negative lengths, which FastDFS servers refuse.</summary>
    public static PacketHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < FdfsConstants.HeaderSize)
        {
            throw FdfsProtocolException.Truncated("header", FdfsConstants.HeaderSize, source.Length);
        }

        long length = BinaryPrimitives.ReadInt64BigEndian(source);
        if (length < 0)
        {
            throw new FdfsProtocolException($"negative packet length {length}");
        }

        return new PacketHeader(length, source[8], source[9]);
    }
}
