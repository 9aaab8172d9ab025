using System.Text;
using FastDfs.Net;
using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Storage;

/// <summary>SET_METADATA and GET_METADATA (protocol notes section 7): a sorted <c>name-m</c> side file.</summary>
internal sealed partial class StorageRequestHandler
{
    private const string MetaSuffix = "-m";

    private async ValueTask<bool> SetMetadataAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        int length = await ReadSmallBodyAsync(connection, header, state, 17 + GroupField, cancellationToken);
        var request = SetMetadataRequest.Read(state.Buffer.AsSpan(0, length));
        if (!IsOurGroup(state.Buffer.AsSpan(17, GroupField)))
        {
            return await Invalid(connection, header, state, $"group '{request.Group}' is not ours ({_group})", cancellationToken);
        }

        if (!TryLocate(request.RemoteFileName, out var path, out string local, out string error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        Count(StatCounter.TotalSetMetaCount);
        if (!File.Exists(local))
        {
            return await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, $"{request.RemoteFileName} does not exist", cancellationToken);
        }

        var items = MetadataCodec.Decode(request.Metadata);
        string metaRemote = request.RemoteFileName + MetaSuffix;
        string metaLocal = local + MetaSuffix;
        var fileLock = LockFor(request.RemoteFileName);
        await fileLock.WaitAsync(cancellationToken);
        try
        {
            bool existed = File.Exists(metaLocal);
            long now = Now();
            if (request.Flag == MetadataFlag.Overwrite)
            {
                if (items.Count == 0)
                {
                    if (existed)
                    {
                        File.Delete(metaLocal);
                        await _binlog.AppendAsync(now, BinlogOp.Delete, metaRemote);
                    }
                }
                else
                {
                    WriteMetadata(path, metaLocal, MetadataCodec.Normalize(items));
                    await _binlog.AppendAsync(now, existed ? BinlogOp.Update : BinlogOp.Create, metaRemote);
                }
            }
            else if (items.Count > 0)
            {
                var current = existed ? MetadataCodec.Decode(File.ReadAllBytes(metaLocal)) : [];
                WriteMetadata(path, metaLocal, MetadataCodec.Merge(current, items));
                await _binlog.AppendAsync(now, existed ? BinlogOp.Update : BinlogOp.Create, metaRemote);
            }

            _stats[StatCounter.LastSourceUpdate] = now;
        }
        finally
        {
            fileLock.Release();
        }

        Count(StatCounter.SuccessSetMetaCount);
        await SendEmptyOkAsync(connection, state, cancellationToken);
        return true;
    }

    /// <summary>
    /// Writes the side file through a temp file and rename, so readers see the old or the new list, never half.
    /// Encodes without MetadataCodec's limits: the list was already cut to FastDFS's sizes when it was decoded.
    /// </summary>
    private static void WriteMetadata(StorePath path, string metaLocal, List<KeyValuePair<string, string>> items)
    {
        var bytes = new List<byte>(256);
        foreach (var (key, value) in items)
        {
            if (bytes.Count > 0)
            {
                bytes.Add(FdfsConstants.MetaRecordSeparator);
            }

            bytes.AddRange(Encoding.UTF8.GetBytes(key));
            bytes.Add(FdfsConstants.MetaFieldSeparator);
            bytes.AddRange(Encoding.UTF8.GetBytes(value));
        }

        string temp = string.Concat(path.TempDir, "/", s_tempTag, Interlocked.Increment(ref s_tempSequence).ToString(System.Globalization.CultureInfo.InvariantCulture), ".meta");
        try
        {
            File.WriteAllBytes(temp, bytes.ToArray());
            File.Move(temp, metaLocal, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private async ValueTask<bool> GetMetadataAsync(FdfsConnection connection, PacketHeader header, StorageConnectionState state, CancellationToken cancellationToken)
    {
        int length = await ReadSmallBodyAsync(connection, header, state, GroupField + 1, cancellationToken);
        if (!TryParseFileRequest(state, 0, length, out string remote, out _, out string local, out string error))
        {
            return await Invalid(connection, header, state, error, cancellationToken);
        }

        Count(StatCounter.TotalGetMetaCount);
        if (!File.Exists(local))
        {
            return await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, $"{remote} does not exist", cancellationToken);
        }

        byte[] meta;
        try
        {
            meta = await File.ReadAllBytesAsync(local + MetaSuffix, cancellationToken);
        }
        catch (FileNotFoundException)
        {
            return await RefuseAsync(connection, header, state, FdfsErrno.ENOENT, $"{remote} has no metadata", cancellationToken);
        }

        Count(StatCounter.SuccessGetMetaCount);
        await connection.SendResponseAsync(meta, cancellationToken);
        return true;
    }
}
