using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using FastDfs.Client;
using FastDfs.Integration.Tests.TestKit;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Integration.Tests;

/// <summary>
/// A mount from before deadlock detection against the current tracker: its SET_LOCK is the 46-byte request without
/// the wait byte, and its F_SETLKW is that request asked again and again until granted.
/// </summary>
public sealed class OldLockClientTests(NamespaceCluster fixture) : IClassFixture<NamespaceCluster>
{
    private const uint File = 0x1A4;
    private const int OldRequestSize = 46;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_46_byte_set_lock_locks_conflicts_and_waits_as_before_and_never_gets_EDEADLK()
    {
        string endpoint = fixture.Cluster.TrackerEndpoint;
        await using var names = new NamespaceClient(FastDfsClientOptions.FromTrackers(endpoint) with { NetworkTimeout = Timeout });
        var root = await names.GetRootAsync("group1");
        long inode = (await names.CreateAsync(root.Inode, "old-client-" + Guid.NewGuid().ToString("N")[..8], File, 0, 0)).Inode;

        // The current mount's side (a) goes through NamespaceClient, whose waiting attempts carry the wait byte.
        long a = await names.OpenLockSessionAsync(TimeSpan.FromSeconds(30));
        NsLockRequest New(NsLockType type, long start, long end, NsLockWait wait = NsLockWait.None) =>
            new(a, inode, 1, NsLockKind.Posix, type, start, end, 100, wait);

        // The old mount's side (b): raw packets on one connection, laid out by hand as the old encoder did.
        int colon = endpoint.LastIndexOf(':');
        await using var old = await FdfsConnection.ConnectAsync(endpoint[..colon], int.Parse(endpoint[(colon + 1)..], CultureInfo.InvariantCulture), Timeout);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var (opened, sessionBody) = await old.RoundTripAsync((byte)NamespaceCommand.OpenLockSession, new byte[] { 0, 0, 0, 30 }, 1024, cts.Token);
        Assert.Equal((0, 8), (opened, sessionBody.Length));
        long b = BinaryPrimitives.ReadInt64BigEndian(sessionBody);
        byte[] Old(NsLockType type, long start, long end)
        {
            var body = new byte[OldRequestSize];
            BinaryPrimitives.WriteInt64BigEndian(body, b);
            BinaryPrimitives.WriteInt64BigEndian(body.AsSpan(8), inode);
            BinaryPrimitives.WriteInt64BigEndian(body.AsSpan(16), 7); // the kernel's lock owner
            body[24] = (byte)NsLockKind.Posix;
            body[25] = (byte)type;
            BinaryPrimitives.WriteInt64BigEndian(body.AsSpan(26), start);
            BinaryPrimitives.WriteInt64BigEndian(body.AsSpan(34), end);
            BinaryPrimitives.WriteInt32BigEndian(body.AsSpan(42), 200); // pid
            return body;
        }

        async Task<(byte Status, byte[] Body)> OldSetAsync(NsLockType type, long start, long end) =>
            await old.RoundTripAsync((byte)NamespaceCommand.SetLock, Old(type, start, end), 1024, cts.Token);

        // It locks, and conflicts both ways.
        Assert.Equal((0, 0), ShapeOf(await OldSetAsync(NsLockType.Write, 0, 9)));
        Assert.NotNull(await names.SetLockAsync(New(NsLockType.Write, 10, 19)));
        Assert.Equal((FdfsErrno.EAGAIN, 0), ShapeOf(await OldSetAsync(NsLockType.Write, 15, 15)));
        Assert.Null(await names.SetLockAsync(New(NsLockType.Read, 5, 5)));
        var (got, holder) = await old.RoundTripAsync((byte)NamespaceCommand.GetLock, Old(NsLockType.Read, 0, long.MaxValue), 1024, cts.Token);
        Assert.Equal(0, got);
        Assert.Equal(new NsLockHolder(NsLockType.Write, 10, 19, 100, a), NsLockHolder.Read(holder));

        // a waits for b's range (recorded by the tracker); b then waits for a's the old way, asking again and again:
        // a cycle, but b's waits are never recorded, so b is never told EDEADLK and neither is a. They wait, as two
        // old mounts did, until one gives in.
        Assert.Null(await names.SetLockAsync(New(NsLockType.Write, 0, 9, NsLockWait.Wait)));
        var answers = new List<byte>();
        var oldWait = Task.Run(async () =>
        {
            var pause = TimeSpan.FromMilliseconds(10);
            while (true)
            {
                var (status, body) = await OldSetAsync(NsLockType.Write, 10, 19);
                lock (answers)
                {
                    answers.Add(status);
                }

                if (status != FdfsErrno.EAGAIN)
                {
                    return (status, body.Length);
                }

                await Task.Delay(pause, cts.Token);
                pause = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMilliseconds(200).Ticks, pause.Ticks * 2));
            }
        });
        await Task.Delay(1000);
        Assert.False(oldWait.IsCompleted, "the old mount's wait ended while a held the range");
        Assert.Null(await names.SetLockAsync(New(NsLockType.Write, 0, 9, NsLockWait.Wait))); // a: still EAGAIN, not EDEADLK

        // a gives in (gives up its wait, unlocks): b's next attempt is granted, as before.
        Assert.Empty((await names.SetLockAsync(New(NsLockType.Write, 0, 9, NsLockWait.GiveUp)))!);
        var freed = Stopwatch.StartNew();
        Assert.Equal([new NsLockRange(NsLockType.Write, 10, 19, 100)], (await names.SetLockAsync(New(NsLockType.Unlock, 0, long.MaxValue)))!);
        Assert.Equal((0, 0), await oldWait.WaitAsync(Timeout));
        Assert.True(freed.Elapsed < TimeSpan.FromSeconds(2), $"granted {freed.Elapsed.TotalSeconds:F1} s after the unlock");
        lock (answers)
        {
            Assert.True(answers.Count > 3, $"only {answers.Count} attempts");
            Assert.All(answers[..^1], status => Assert.Equal(FdfsErrno.EAGAIN, status));
        }

        // b holds both ranges, merged: its unlock answers what it replaced, in the layout old mounts read; then a locks.
        var (unlocked, replaced) = await OldSetAsync(NsLockType.Unlock, 0, long.MaxValue);
        Assert.Equal(0, unlocked);
        Assert.Equal([new NsLockRange(NsLockType.Write, 0, 19, 200)], NsLockRange.ReadAll(replaced));
        Assert.NotNull(await names.SetLockAsync(New(NsLockType.Write, 0, 19)));
        Assert.Equal((FdfsErrno.EAGAIN, 0), ShapeOf(await OldSetAsync(NsLockType.Read, 0, 0)));

        await old.RoundTripAsync((byte)NamespaceCommand.CloseLockSession, sessionBody, 1024, cts.Token);
        await names.CloseLockSessionAsync(a);
    }

    private static (byte Status, int Length) ShapeOf((byte Status, byte[] Body) answer) => (answer.Status, answer.Body.Length);
}
