using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Protocol.Tests;

/// <summary>Lock-session and lock messages (commands 223-227): golden bytes written by hand from the layouts.</summary>
public class LockMessagesTests
{
    private const string RequestGolden =
        "0000000000000005" + //  0 session 5
        "0000000000000102" + //  8 inode 258
        "ffff8880deadbeef" + // 16 owner (the kernel's lock_owner, any 64 bits)
        "01" + //               24 kind POSIX
        "01" + //               25 type F_WRLCK
        "0000000000000064" + // 26 start 100
        "7fffffffffffffff" + // 34 end: to the end of the file (OFFSET_MAX)
        "000004d2"; //          42 pid 1234

    private static readonly NsLockRequest Request =
        new(5, 258, unchecked((long)0xffff8880deadbeef), NsLockKind.Posix, NsLockType.Write, 100, long.MaxValue, 1234);

    [Fact]
    public void Lock_requests_encode_and_decode()
    {
        var buffer = new byte[NsLockRequest.Size];
        Assert.Equal(46, Request.Write(buffer));
        Assert.Equal(RequestGolden, Hex.Of(buffer));
        Assert.Equal(Request, NsLockRequest.Read(Hex.Bytes(RequestGolden)));
        Assert.Equal(NsLockKind.Flock, NsLockRequest.Read(Hex.Bytes(RequestGolden[..48] + "02" + RequestGolden[50..])).Kind);
    }

    [Fact]
    public void A_waiting_request_carries_the_wait_byte_and_an_old_mount_s_request_still_reads()
    {
        // A waiting F_SETLKW attempt: the 46 bytes an older mount sends, then wait 1 (Wait); giving up is 2.
        var waiting = Request with { Wait = NsLockWait.Wait };
        var buffer = new byte[NsLockRequest.MaxSize];
        Assert.Equal(47, waiting.Write(buffer));
        Assert.Equal(RequestGolden + "01", Hex.Of(buffer));
        Assert.Equal(waiting, NsLockRequest.Read(buffer));
        Assert.Equal(NsLockWait.GiveUp, NsLockRequest.Read(Hex.Bytes(RequestGolden + "02")).Wait);

        // Without the byte (what every older mount sends, and a new one when not waiting): None, and 46 bytes written.
        Assert.Equal(NsLockWait.None, NsLockRequest.Read(Hex.Bytes(RequestGolden)).Wait);
        Assert.Equal(46, (Request with { Wait = NsLockWait.None }).Write(buffer));

        // An unknown wait value, or more than one byte after the pid, is refused.
        Assert.Throws<FdfsProtocolException>(() => NsLockRequest.Read(Hex.Bytes(RequestGolden + "03")));
        Assert.Throws<FdfsProtocolException>(() => NsLockRequest.Read(Hex.Bytes(RequestGolden + "0100")));
        Assert.Equal(("EDEADLK", 35), (NamespaceErrno.Name(35), (int)NamespaceErrno.EDEADLK));
    }

    [Theory]
    [InlineData("03", "01", "")] //                       unknown kind
    [InlineData("01", "05", "")] //                       unknown type
    [InlineData("01", "01", "ffffffffffffffff")] //       negative start
    [InlineData("01", "01", "7fffffffffffffff0000")] //   two bytes too many (one is the wait byte)
    public void Bad_lock_requests_are_refused(string kind, string type, string start)
    {
        string hex = RequestGolden[..48] + kind + type + (start.Length == 16 ? start + RequestGolden[68..] : RequestGolden[52..] + (start.Length > 16 ? start[16..] : ""));
        Assert.Throws<FdfsProtocolException>(() => NsLockRequest.Read(Hex.Bytes(hex)));
    }

    [Fact]
    public void An_empty_range_is_refused()
    {
        var inverted = Request with { Start = 10, End = 9 };
        var buffer = new byte[NsLockRequest.Size];
        inverted.Write(buffer);
        Assert.Throws<FdfsProtocolException>(() => NsLockRequest.Read(buffer));
    }

    [Fact]
    public void Lock_holders_encode_and_decode()
    {
        const string Golden = "00" + "0000000000000000" + "0000000000000063" + "00000007" + "0000000000000009";
        var holder = new NsLockHolder(NsLockType.Read, 0, 99, 7, 9);
        var buffer = new byte[NsLockHolder.Size];
        Assert.Equal(29, holder.Write(buffer));
        Assert.Equal(Golden, Hex.Of(buffer));
        Assert.Equal(holder, NsLockHolder.Read(buffer));
        Assert.Equal(NsLockHolder.None, NsLockHolder.Read(Hex.Bytes("02" + Hex.Zeros(28))));
        Assert.Throws<FdfsProtocolException>(() => NsLockHolder.Read(Hex.Bytes("07" + Hex.Zeros(28))));
        Assert.Throws<FdfsProtocolException>(() => NsLockHolder.Read(Hex.Bytes("02" + Hex.Zeros(27))));
    }

    [Fact]
    public void Set_lock_answers_list_the_replaced_ranges()
    {
        const string Golden =
            "00" + "0000000000000000" + "0000000000000063" + "00000007" + // read 0..99, pid 7
            "01" + "00000000000000c8" + "7fffffffffffffff" + "00000008"; //  write 200..end, pid 8
        NsLockRange[] ranges = [new(NsLockType.Read, 0, 99, 7), new(NsLockType.Write, 200, long.MaxValue, 8)];
        var buffer = new byte[2 * NsLockRange.Size];
        Assert.Equal(42, NsLockRange.WriteAll(buffer, ranges));
        Assert.Equal(Golden, Hex.Of(buffer));
        Assert.Equal(ranges, NsLockRange.ReadAll(buffer));
        Assert.Empty(NsLockRange.ReadAll([])); // the owner held nothing there (the old, empty answer)

        Assert.Throws<FdfsProtocolException>(() => NsLockRange.ReadAll(Hex.Bytes(Golden[..40]))); // not whole ranges
        Assert.Throws<FdfsProtocolException>(() => NsLockRange.ReadAll(Hex.Bytes("02" + Golden[2..42]))); // an unlock is not held
        Assert.Throws<FdfsProtocolException>(() => NsLockRange.ReadAll(Hex.Bytes("00" + "0000000000000064" + "0000000000000063" + "00000007"))); // inverted
    }

    [Fact]
    public void Session_messages_encode_and_decode()
    {
        var buffer = new byte[16];
        Assert.Equal(4, LockMessages.WriteOpenSession(buffer, 30));
        Assert.Equal("0000001e", Hex.Of(buffer.AsSpan(0, 4)));
        Assert.Equal(30, LockMessages.ReadOpenSession(buffer.AsSpan(0, 4)));
        Assert.Equal(12, LockMessages.WriteRenewSession(buffer, 0x0102030405060708, 30));
        Assert.Equal("01020304050607080000001e", Hex.Of(buffer.AsSpan(0, 12)));
        Assert.Equal(0x0102030405060708, LockMessages.ReadRenewSession(buffer.AsSpan(0, 12), out int lease));
        Assert.Equal(30, lease);
        Assert.Equal(8, LockMessages.WriteSession(buffer, 77));
        Assert.Equal("000000000000004d", Hex.Of(buffer.AsSpan(0, 8)));
        Assert.Equal(77, LockMessages.ReadSession(buffer.AsSpan(0, 8)));
        Assert.Throws<FdfsProtocolException>(() => LockMessages.ReadSession(buffer.AsSpan(0, 7)));
        Assert.Throws<FdfsProtocolException>(() => LockMessages.ReadRenewSession(buffer.AsSpan(0, 8), out _));
        Assert.Throws<FdfsProtocolException>(() => LockMessages.ReadOpenSession(buffer.AsSpan(0, 5)));
        Assert.Equal(("ENOLCK", "locked by another owner"), (NamespaceErrno.Name(37), NamespaceErrno.Describe(FdfsErrno.EAGAIN)));
    }
}
