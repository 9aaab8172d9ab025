using System.Collections.Concurrent;
using System.Security.Cryptography;
using FastDfs.Client;
using FastDfs.Mount.Core;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;
using Xunit;

namespace FastDfs.Mount.Tests;

/// <summary>
/// The core's write path on the in-memory backend: order of storage operations, the memory bound, sticky errors.
/// The same paths run through FUSE against real daemons in <see cref="DataTests"/>.
/// </summary>
public class WriterTests
{
    private const int Chunk = 64 * 1024;
    private readonly MemoryBackend _backend = new();
    private readonly MemoryNames _names = new();

    private FileSystem NewFs() => new(_backend, _names, new MountOptions { WriteChunkSize = Chunk, WriteChunks = 2, OperationTimeout = TimeSpan.FromSeconds(5) });

    private static async Task<(ulong Handle, ulong Ino)> CreateAsync(FileSystem fs, string name)
    {
        var group = await fs.LookupAsync(InodeTable.RootIno, "group1");
        Assert.True(group.IsOk, $"errno {group.Errno}");
        var created = await fs.CreateAsync(group.Value.Ino, name, NodeAttributes.S_IFREG | 0x1A4, 1000, 1000, 0x41);
        Assert.True(created.IsOk, $"errno {created.Errno}");
        return (created.Value.Open.Handle, created.Value.Entry.Ino);
    }

    [Fact]
    public async Task Sequential_writes_become_one_upload_then_appends_and_one_bind_at_flush()
    {
        await using var fs = NewFs();
        var (handle, _) = await CreateAsync(fs, "seq");
        byte[] data = RandomNumberGenerator.GetBytes((5 * Chunk) + 100);
        for (int at = 0; at < data.Length; at += 10_000)
        {
            var written = await fs.WriteAsync(handle, at, data.AsMemory(at, Math.Min(10_000, data.Length - at)));
            Assert.True(written.IsOk);
        }

        Assert.Equal(0, await fs.FlushAsync(handle));
        var file = Assert.Single(_names.Files.Values);
        Assert.Equal(data.Length, file.Size);
        Assert.Equal(data, _backend.Files[file.FileId!]);
        Assert.Equal(["upload 65536", "append 65536", "append 65536", "append 65536", "append 65536", "append 100"], _backend.Changes);
        Assert.Equal(1, _names.SetContents);
        fs.Release(handle);
    }

    [Fact]
    public async Task Inline_writes_fill_the_tail_and_leave_full_chunks_and_the_rest_to_the_async_path()
    {
        await using var fs = NewFs();
        var (handle, _) = await CreateAsync(fs, "inline");
        byte[] data = RandomNumberGenerator.GetBytes((3 * Chunk) + 100);
        int inline = 0;
        for (int at = 0; at < data.Length; at += 10_000)
        {
            var piece = data.AsMemory(at, Math.Min(10_000, data.Length - at));
            if (fs.TryWriteInline(handle, at, piece.Span, out var result))
            {
                Assert.Equal(piece.Length, result.Value);
                inline++;
            }
            else
            {
                Assert.True((await fs.WriteAsync(handle, at, piece)).IsOk);
            }
        }

        // Writes that do not end at the current size (here: inside the tail) are not taken inline.
        Assert.False(fs.TryWriteInline(handle, 5, data.AsSpan(5, 10), out _));
        Assert.InRange(inline, 17, 20);
        Assert.Equal(0, await fs.FlushAsync(handle));
        var file = Assert.Single(_names.Files.Values);
        Assert.Equal(data, _backend.Files[file.FileId!]);
        Assert.Equal(["upload 65536", "append 65536", "append 65536", "append 100"], _backend.Changes);
        fs.Release(handle);
    }

    [Fact]
    public async Task An_inline_write_that_fills_the_tail_ships_it_while_the_chain_has_room_and_otherwise_leaves_it_to_the_async_path()
    {
        await using var fs = NewFs();
        var (handle, _) = await CreateAsync(fs, "fill");
        const int Quarter = Chunk / 4;
        byte[] data = RandomNumberGenerator.GetBytes(4 * Chunk);

        // The first chunk: four inline writes, the fourth ships it (nothing waits for room).
        for (int at = 0; at < Chunk; at += Quarter)
        {
            Assert.True(fs.TryWriteInline(handle, at, data.AsSpan(at, Quarter), out var written));
            Assert.Equal(Quarter, written.Value);
        }

        await WaitForAsync(() => _backend.Changes.Count == 1);
        Assert.Equal(["upload 65536"], _backend.Changes);

        // A frozen storage: two chunks fill the chain's two slots inline; the write that fills the third finds no
        // room and is left to WriteAsync, which waits.
        _backend.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int last = 4 * Chunk - Quarter;
        for (int at = Chunk; at < last; at += Quarter)
        {
            Assert.True(fs.TryWriteInline(handle, at, data.AsSpan(at, Quarter), out var written), $"at {at}");
            Assert.True(written.IsOk);
        }

        Assert.False(fs.TryWriteInline(handle, last, data.AsSpan(last, Quarter), out _));
        var waiting = fs.WriteAsync(handle, last, data.AsMemory(last, Quarter));
        await Task.Delay(100);
        Assert.False(waiting.IsCompleted);
        _backend.Gate.SetResult();
        Assert.Equal(Quarter, (await waiting).Value);

        Assert.Equal(0, await fs.FlushAsync(handle));
        var file = Assert.Single(_names.Files.Values);
        Assert.Equal(data, _backend.Files[file.FileId!]);
        Assert.Equal(["upload 65536", "append 65536", "append 65536", "append 65536"], _backend.Changes);
        fs.Release(handle);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (int i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }

    [Fact]
    public async Task Random_writes_and_reads_before_flush_match_a_reference()
    {
        await using var fs = NewFs();
        var (handle, _) = await CreateAsync(fs, "random");
        var reference = new List<byte>();
        var random = new Random(7);
        for (int i = 0; i < 200; i++)
        {
            long offset = random.Next(0, (6 * Chunk) + 5000);
            byte[] piece = RandomNumberGenerator.GetBytes(random.Next(1, 3 * Chunk));
            Assert.True((await fs.WriteAsync(handle, offset, piece)).IsOk);
            while (reference.Count < offset + piece.Length)
            {
                reference.Add(0);
            }

            for (int j = 0; j < piece.Length; j++)
            {
                reference[(int)offset + j] = piece[j];
            }

            if (i % 20 == 0)
            {
                byte[] buffer = new byte[100_000];
                long at = random.Next(0, reference.Count);
                var read = await fs.ReadAsync(handle, at, buffer);
                Assert.True(read.IsOk);
                Assert.Equal(reference.Skip((int)at).Take(read.Value), buffer[..read.Value]);
            }
        }

        Assert.Equal(0, await fs.FSyncAsync(handle));
        Assert.Equal([.. reference], _backend.Files[Assert.Single(_names.Files.Values).FileId!]);
        fs.Release(handle);
    }

    [Fact]
    public async Task A_frozen_storage_holds_writers_back_after_write_chunks_plus_one_chunks()
    {
        await using var fs = NewFs();
        var (handle, _) = await CreateAsync(fs, "bounded");
        _backend.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        byte[] chunk = new byte[Chunk];

        // write_chunks (2) full chunks go to the queue; the third one, full, must wait for the storage.
        for (int i = 0; i < 2; i++)
        {
            var accepted = fs.WriteAsync(handle, (long)i * Chunk, chunk);
            Assert.True(accepted.IsCompleted, $"chunk {i} should be queued");
        }

        var held = fs.WriteAsync(handle, 2L * Chunk, chunk).AsTask();
        await Task.Delay(100);
        Assert.False(held.IsCompleted);

        _backend.Gate.SetResult();
        Assert.True((await held).IsOk);
        Assert.Equal(0, await fs.FlushAsync(handle));
        Assert.Equal(3 * Chunk, Assert.Single(_names.Files.Values).Size);
        fs.Release(handle);
    }

    [Fact]
    public async Task A_failed_chunk_is_reported_at_flush_and_sticks_for_later_writes()
    {
        await using var fs = NewFs();
        var (handle, _) = await CreateAsync(fs, "failing");
        _backend.ChangeErrno = Errno.ENOSPC;
        _backend.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True((await fs.WriteAsync(handle, 0, new byte[Chunk])).IsOk); // queued; the storage answers later
        _backend.Gate.SetResult();

        Assert.Equal(Errno.ENOSPC, await fs.FlushAsync(handle));
        Assert.Equal(Errno.ENOSPC, (await fs.WriteAsync(handle, Chunk, new byte[100])).Errno);
        Assert.Equal(Errno.ENOSPC, await fs.FSyncAsync(handle));
        Assert.Null(Assert.Single(_names.Files.Values).FileId); // nothing was bound
        fs.Release(handle);
    }

    [Fact]
    public async Task A_size_the_storage_refuses_is_answered_at_once_and_does_not_stick()
    {
        // stress-ng's fsize: fallocate and ftruncate up to the file-size limit, then ftruncate to 0 on the same descriptor.
        await using var fs = NewFs();
        var (handle, ino) = await CreateAsync(fs, "limits");
        var node = fs.Inodes.Find(ino)!;
        _backend.MaxFileSize = 4 * Chunk;
        Assert.Equal(Errno.EFBIG, await fs.FallocateAsync(handle, 0, 0, 5 * Chunk)); // no content yet: an empty appender first
        Assert.Equal(0, (await fs.GetAttrAsync(ino)).Value.Attributes.Size);

        byte[] data = RandomNumberGenerator.GetBytes(Chunk + 10);
        Assert.True((await fs.WriteAsync(handle, 0, data)).IsOk);
        Assert.Equal(0, await fs.FlushAsync(handle));
        Assert.Equal(Errno.EFBIG, await fs.ResizeNamedAsync(node, 8 * Chunk, CancellationToken.None));
        Assert.Equal(data.Length, (await fs.GetAttrAsync(ino)).Value.Attributes.Size);

        // The refusal changed nothing and is not answered again: the descriptor writes, grows and shrinks as before.
        Assert.True((await fs.WriteAsync(handle, data.Length, data)).IsOk);
        Assert.Equal(0, await fs.FallocateAsync(handle, 0, 0, 3 * Chunk));
        Assert.Equal(0, await fs.ResizeNamedAsync(node, 0, CancellationToken.None));
        Assert.True((await fs.WriteAsync(handle, 0, data)).IsOk);
        Assert.Equal(0, await fs.FSyncAsync(handle));
        fs.Release(handle);
        var file = Assert.Single(_names.Files.Values);
        Assert.Equal(data, _backend.Files[file.FileId!]);
        Assert.Equal(data.Length, file.Size);
    }

    [Fact]
    public async Task A_chunk_past_the_size_limit_is_stored_up_to_it_fsync_answers_once_and_later_writes_are_cut_there()
    {
        await using var fs = NewFs();
        var (handle, ino) = await CreateAsync(fs, "limit");
        long limit = (3 * Chunk) + 100;
        _backend.MaxFileSize = limit;
        byte[] data = RandomNumberGenerator.GetBytes(4 * Chunk);

        // The fourth chunk crosses the limit: the write was answered before the storage refused it.
        Assert.Equal(2 * Chunk, (await fs.WriteAsync(handle, 0, data.AsMemory(0, 2 * Chunk))).Value);
        Assert.Equal(2 * Chunk, (await fs.WriteAsync(handle, 2 * Chunk, data.AsMemory(2 * Chunk))).Value);

        // The writer goes on from what the storage holds: the refusal is fsync's to answer, once (a write could not:
        // the kernel turns the errno of a later part of a large write into a short count).
        Assert.Equal(5, (await fs.WriteAsync(handle, 0, "hello"u8.ToArray())).Value);
        Assert.Equal(limit, (await fs.GetAttrAsync(ino)).Value.Attributes.Size);

        // The limit is known now: as on ext4, a write across it is cut short and one from it on is refused at once.
        Assert.Equal(50, (await fs.WriteAsync(handle, limit - 50, new byte[80])).Value);
        Assert.Equal(Errno.EFBIG, (await fs.WriteAsync(handle, limit, new byte[1])).Errno);
        int changes = _backend.Changes.Count;
        Assert.Equal(Errno.EFBIG, await fs.ResizeNamedAsync(fs.Inodes.Find(ino)!, limit + 1, CancellationToken.None));
        Assert.Equal(Errno.EFBIG, await fs.FSyncAsync(handle));
        Assert.Equal(0, await fs.FSyncAsync(handle));
        Assert.Equal(0, await fs.FlushAsync(handle));
        fs.Release(handle);

        byte[] expected = data[..(int)limit];
        "hello"u8.CopyTo(expected);
        expected.AsSpan((int)limit - 50).Clear();
        var file = Assert.Single(_names.Files.Values);
        Assert.Equal(limit, file.Size);
        Assert.Equal(expected, _backend.Files[file.FileId!]);
        Assert.DoesNotContain(_backend.Changes.Skip(changes), c => c.StartsWith("truncate", StringComparison.Ordinal)); // refused at once
    }

    [Fact]
    public async Task A_write_past_the_end_that_the_storage_refuses_leaves_the_size_as_it_was()
    {
        await using var fs = NewFs();
        var (handle, ino) = await CreateAsync(fs, "sparse");
        long limit = 4 * Chunk;
        _backend.MaxFileSize = limit;
        byte[] head = RandomNumberGenerator.GetBytes(1000);
        Assert.True((await fs.WriteAsync(handle, 0, head)).IsOk);
        Assert.Equal(0, await fs.FlushAsync(handle));

        // Past the limit: the file cannot grow to the offset. At it: it can, but not one byte is written there. Both
        // are EFBIG on ext4 with the size unchanged; here flush answers them.
        Assert.True((await fs.WriteAsync(handle, limit + Chunk, new byte[10])).IsOk);
        Assert.Equal(Errno.EFBIG, await fs.FlushAsync(handle));
        Assert.Equal(1000, (await fs.GetAttrAsync(ino)).Value.Attributes.Size);
        Assert.True((await fs.WriteAsync(handle, limit, new byte[10])).IsOk);
        Assert.Equal(Errno.EFBIG, await fs.FlushAsync(handle));
        Assert.Equal(0, await fs.FlushAsync(handle)); // answered once
        Assert.Equal(1000, (await fs.GetAttrAsync(ino)).Value.Attributes.Size);
        Assert.Equal(head, _backend.Files[Assert.Single(_names.Files.Values).FileId!]);

        // Now known: across the limit a write is cut short at once, and the file grows to it.
        Assert.Equal(5, (await fs.WriteAsync(handle, limit - 5, "12345678"u8.ToArray())).Value);
        Assert.Equal(0, await fs.FSyncAsync(handle));
        fs.Release(handle);
        byte[] expected = new byte[limit];
        head.CopyTo(expected, 0);
        "12345"u8.CopyTo(expected.AsSpan((int)limit - 5));
        var file = Assert.Single(_names.Files.Values);
        Assert.Equal(limit, file.Size);
        Assert.Equal(expected, _backend.Files[file.FileId!]);
    }

    [Fact]
    public async Task Overwrites_queued_behind_a_refused_chunk_are_stored()
    {
        await using var fs = NewFs();
        var (handle, _) = await CreateAsync(fs, "behind");
        _backend.MaxFileSize = 2 * Chunk;
        byte[] data = RandomNumberGenerator.GetBytes(2 * Chunk);
        Assert.True((await fs.WriteAsync(handle, 0, data)).IsOk);
        Assert.Equal(0, await fs.FlushAsync(handle));

        // A full chunk past the limit, then an overwrite inside the stored bytes, both queued before the storage answers.
        _backend.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True((await fs.WriteAsync(handle, 2 * Chunk, new byte[Chunk])).IsOk);
        Assert.True((await fs.WriteAsync(handle, 10, "overwritten"u8.ToArray())).IsOk);
        _backend.Gate.SetResult();

        Assert.Equal(Errno.EFBIG, await fs.FSyncAsync(handle));
        Assert.Equal(0, await fs.FSyncAsync(handle));
        fs.Release(handle);
        "overwritten"u8.CopyTo(data.AsSpan(10));
        var file = Assert.Single(_names.Files.Values);
        Assert.Equal(2 * Chunk, file.Size);
        Assert.Equal(data, _backend.Files[file.FileId!]);
    }

    [Fact]
    public async Task A_full_disk_refusing_an_append_is_answered_once_and_the_file_goes_on()
    {
        await using var fs = NewFs();
        var (handle, _) = await CreateAsync(fs, "full");
        byte[] data = RandomNumberGenerator.GetBytes(2 * Chunk);
        Assert.True((await fs.WriteAsync(handle, 0, data)).IsOk);
        Assert.Equal(0, await fs.FlushAsync(handle));

        _backend.ChangeErrno = Errno.ENOSPC;
        Assert.True((await fs.WriteAsync(handle, 2 * Chunk, new byte[Chunk])).IsOk);
        Assert.Equal(Errno.ENOSPC, await fs.FlushAsync(handle));
        _backend.ChangeErrno = 0;

        // Space again: the bytes the storage refused are gone (it held the file as before), the file takes new ones.
        Assert.Equal(0, await fs.FlushAsync(handle));
        Assert.True((await fs.WriteAsync(handle, 2 * Chunk, "more"u8.ToArray())).IsOk);
        Assert.Equal(0, await fs.FSyncAsync(handle));
        fs.Release(handle);
        var file = Assert.Single(_names.Files.Values);
        Assert.Equal((2 * Chunk) + 4, file.Size);
        Assert.Equal([.. data, .. "more"u8.ToArray()], _backend.Files[file.FileId!]);
    }

    [Fact]
    public async Task Truncate_and_extend_of_a_closed_file_change_the_appender_in_place()
    {
        await using var fs = NewFs();
        var (handle, ino) = await CreateAsync(fs, "resize");
        byte[] data = RandomNumberGenerator.GetBytes(3 * Chunk);
        Assert.True((await fs.WriteAsync(handle, 0, data)).IsOk);
        Assert.Equal(0, await fs.FlushAsync(handle));
        fs.Release(handle);
        string fileId = Assert.Single(_names.Files.Values).FileId!;

        var node = fs.Inodes.Find(ino)!;
        Assert.Equal(0, await fs.ResizeNamedAsync(node, 1000, CancellationToken.None));
        Assert.Equal(0, await fs.ResizeNamedAsync(node, 5000, CancellationToken.None));

        var file = Assert.Single(_names.Files.Values);
        Assert.Equal(fileId, file.FileId);
        Assert.Equal(5000, file.Size);
        Assert.Equal([.. data[..1000], .. new byte[4000]], _backend.Files[fileId]);
    }

    [Fact]
    public async Task Metadata_on_a_file_without_content_creates_an_empty_appender_first()
    {
        await using var fs = NewFs();
        var (handle, ino) = await CreateAsync(fs, "meta");
        Assert.Equal(0, await fs.FlushAsync(handle));
        fs.Release(handle);
        Assert.Null(Assert.Single(_names.Files.Values).FileId);

        var ensured = await fs.EnsureContentAsync(fs.Inodes.Find(ino)!, CancellationToken.None);

        Assert.True(ensured.IsOk);
        Assert.Equal(ensured.Value.ToString(), Assert.Single(_names.Files.Values).FileId);
        Assert.Empty(_backend.Files[ensured.Value.ToString()]);
    }

    [Fact]
    public async Task O_TRUNC_replaces_the_content_and_copies_its_metadata()
    {
        await using var fs = NewFs();
        var (handle, ino) = await CreateAsync(fs, "replace");
        Assert.True((await fs.WriteAsync(handle, 0, "old content"u8.ToArray())).IsOk);
        Assert.Equal(0, await fs.FlushAsync(handle));
        fs.Release(handle);
        string oldId = Assert.Single(_names.Files.Values).FileId!;
        _backend.Metadata[oldId] = new Dictionary<string, string> { ["k"] = "v" };

        const int WriteOnlyTruncate = 0x201;
        var opened = await fs.OpenAsync(ino, WriteOnlyTruncate);
        Assert.True(opened.IsOk);
        Assert.True((await fs.WriteAsync(opened.Value.Handle, 0, "new"u8.ToArray())).IsOk);
        Assert.Equal(0, await fs.FlushAsync(opened.Value.Handle));
        fs.Release(opened.Value.Handle);

        string newId = Assert.Single(_names.Files.Values).FileId!;
        Assert.NotEqual(oldId, newId);
        Assert.Equal("new"u8.ToArray(), _backend.Files[newId]);
        Assert.Equal("v", _backend.Metadata[newId]["k"]);
    }
}

/// <summary>A directory service in memory: one group root and the files created in it (what the write path needs).</summary>
internal sealed class MemoryNames : INameService
{
    private const long RootInode = 1;
    private long _next = RootInode;

    public ConcurrentDictionary<long, NsAttributes> Files { get; } = new();

    public int SetContents;

    public bool NamesAvailable => true;

    private static NsAttributes Directory(long inode) => new(inode, 1, NodeAttributes.S_IFDIR | 0x1ED, 0, 0, 2, 4096, 0, 0, 0, null);

    private static ValueTask<FsResult<T>> Ok<T>(T value) => ValueTask.FromResult(FsResult<T>.Ok(value));

    private static ValueTask<FsResult<T>> Fail<T>(int errno) => ValueTask.FromResult(FsResult<T>.Fail(errno));

    public ValueTask<FsResult<NsAttributes>> RootAsync(string group, OperationDeadline deadline) => Ok(Directory(RootInode));

    public ValueTask<FsResult<NsAttributes>> LookupAsync(long parent, string name, OperationDeadline deadline) =>
        _names.TryGetValue(name, out long inode) ? Ok(Files[inode]) : Fail<NsAttributes>(Errno.ENOENT);

    private readonly ConcurrentDictionary<string, long> _names = new();

    public ValueTask<FsResult<NsAttributes>> GetAttrAsync(long inode, OperationDeadline deadline) =>
        inode == RootInode ? Ok(Directory(RootInode)) : Files.TryGetValue(inode, out var a) ? Ok(a) : Fail<NsAttributes>(Errno.ENOENT);

    public ValueTask<FsResult<NsAttributes>> CreateAsync(
        long parent, string name, uint mode, uint uid, uint gid, string? fileId, long size, OperationDeadline deadline)
    {
        long inode = Interlocked.Increment(ref _next);
        if (!_names.TryAdd(name, inode))
        {
            return Fail<NsAttributes>(Errno.EEXIST);
        }

        var created = new NsAttributes(inode, 1, mode, uid, gid, 1, size, 1, 1, 1, fileId);
        Files[inode] = created;
        return Ok(created);
    }

    public ValueTask<FsResult<NsAttributes>> SetContentAsync(long inode, string fileId, long size, long mtimeNs, OperationDeadline deadline)
    {
        Interlocked.Increment(ref SetContents);
        var updated = Files[inode] with { FileId = fileId, Size = size, MtimeNs = mtimeNs };
        Files[inode] = updated;
        return Ok(updated);
    }

    public ValueTask<int> RegisterPendingAsync(string fileId, TimeSpan lease, OperationDeadline deadline) => ValueTask.FromResult(0);

    public ValueTask<int> ForgetPendingAsync(string fileId, OperationDeadline deadline) => ValueTask.FromResult(0);

    // Not used by the write path.
    public ValueTask<FsResult<NamespacePage<NsDirEntryPlus>>> ReadDirPlusAsync(long inode, long cookie, int maxEntries, OperationDeadline deadline) =>
        Fail<NamespacePage<NsDirEntryPlus>>(Errno.ENOSYS);

    public ValueTask<FsResult<NsAttributes>> MkDirAsync(long parent, string name, uint mode, uint uid, uint gid, OperationDeadline deadline) =>
        Fail<NsAttributes>(Errno.ENOSYS);

    public ValueTask<FsResult<NsAttributes>> MkNodAsync(long parent, string name, uint mode, uint rdev, uint uid, uint gid, OperationDeadline deadline) =>
        Fail<NsAttributes>(Errno.ENOSYS);

    public ValueTask<FsResult<NsAttributes>> SymlinkAsync(long parent, string name, string target, uint uid, uint gid, OperationDeadline deadline) =>
        Fail<NsAttributes>(Errno.ENOSYS);

    public ValueTask<FsResult<string>> ReadLinkAsync(long inode, OperationDeadline deadline) => Fail<string>(Errno.ENOSYS);

    public ValueTask<FsResult<NsAttributes>> LinkAsync(long inode, long newParent, string newName, OperationDeadline deadline) =>
        Fail<NsAttributes>(Errno.ENOSYS);

    public ValueTask<int> UnlinkAsync(long parent, string name, OperationDeadline deadline) => ValueTask.FromResult(Errno.ENOSYS);

    public ValueTask<int> RmDirAsync(long parent, string name, OperationDeadline deadline) => ValueTask.FromResult(Errno.ENOSYS);

    public ValueTask<int> RenameAsync(long parent, string name, long newParent, string newName, NamespaceRenameFlags flags, OperationDeadline deadline) =>
        ValueTask.FromResult(Errno.ENOSYS);

    public ValueTask<FsResult<NsAttributes>> SetAttrAsync(SetAttrRequest request, OperationDeadline deadline) => Fail<NsAttributes>(Errno.ENOSYS);

    public ValueTask<int> SetXattrAsync(long inode, string name, ReadOnlyMemory<byte> value, NamespaceXattrFlags flags, OperationDeadline deadline) =>
        ValueTask.FromResult(Errno.ENOSYS);

    public ValueTask<FsResult<byte[]>> GetXattrAsync(long inode, string name, OperationDeadline deadline) => Fail<byte[]>(Errno.ENODATA);

    public ValueTask<FsResult<IReadOnlyList<string>>> ListXattrAsync(long inode, OperationDeadline deadline) =>
        Ok<IReadOnlyList<string>>([]);

    public ValueTask<int> RemoveXattrAsync(long inode, string name, OperationDeadline deadline) => ValueTask.FromResult(Errno.ENODATA);

    public ValueTask<FsResult<NsStatFs>> StatFsAsync(string group, OperationDeadline deadline) => Fail<NsStatFs>(Errno.ENOSYS);
}
