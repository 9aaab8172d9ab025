using FastDfs.Protocol;
using FastDfs.Protocol.Config;
using FastDfs.Protocol.Messages;

namespace FastDfs.Client;

/// <summary><c>load_fdfs_parameters_from_tracker</c>: the cluster-wide settings come from a tracker, not client.conf.</summary>
public sealed partial class FastDfsClient
{
    private readonly SemaphoreSlim _parametersGate = new(1, 1);
    private StorageIdMap? _storageIds;
    private bool _parametersPending;

    /// <summary>
    /// The storage IDs the client knows: <see cref="FastDfsClientOptions.StorageIds"/>, or with
    /// <see cref="FastDfsClientOptions.LoadFdfsParametersFromTracker"/> the tracker's list once the first request has
    /// fetched it (null while unknown or when the cluster does not use IDs).
    /// </summary>
    public StorageIdMap? StorageIds => Volatile.Read(ref _storageIds);

    /// <summary>
    /// Before the first tracker request, as the C client does at init: use_storage_id from the tracker's
    /// STORAGE_PARAMETER_REQ (75) and, when set, the IDs from STORAGE_FETCH_STORAGE_IDS (69). No tracker reachable:
    /// the error is the request's own and the next request tries again. A refusal or a garbled answer is logged and
    /// the client goes on without IDs: they only serve the dual-IP fallback (the request itself needs none).
    /// </summary>
    private async ValueTask LoadTrackerParametersAsync(CancellationToken cancellationToken)
    {
        await _parametersGate.WaitAsync(cancellationToken);
        try
        {
            if (!_parametersPending)
            {
                return;
            }

            var (status, body) = await RawTrackerRequestAsync(TrackerCommand.StorageParameterReq, [], cancellationToken);
            if (status != 0)
            {
                ClientLog.TrackerParametersUnavailable(_logger, "STORAGE_PARAMETER_REQ answered " + FdfsErrno.Name(status));
            }
            else if (TrackerParameters.Read(body).GetBool("use_storage_id") == true)
            {
                var reader = new StorageIdListReader();
                while (true)
                {
                    (status, body) = await RawTrackerRequestAsync(TrackerCommand.StorageFetchStorageIds, reader.NextRequest.ToArray(), cancellationToken);
                    var page = reader.Accept(status, body);
                    if (page == StorageIdPage.Complete)
                    {
                        var ids = reader.ToMap("the tracker's storage IDs");
                        Volatile.Write(ref _storageIds, ids);
                        ClientLog.StorageIdsLoaded(_logger, ids.Count);
                        break;
                    }

                    if (page == StorageIdPage.Refused)
                    {
                        ClientLog.TrackerParametersUnavailable(_logger, "STORAGE_FETCH_STORAGE_IDS answered " + FdfsErrno.Name(status));
                        break;
                    }
                }
            }

            Volatile.Write(ref _parametersPending, false);
        }
        catch (Exception e) when (e is FdfsProtocolException or FdfsConfigException)
        {
            ClientLog.TrackerParametersUnavailable(_logger, e.Message);
            Volatile.Write(ref _parametersPending, false);
        }
        finally
        {
            _parametersGate.Release();
        }
    }

    /// <summary>One tracker request made while loading the parameters: a status is returned, not thrown.</summary>
    private async ValueTask<(byte Status, byte[] Body)> RawTrackerRequestAsync(TrackerCommand command, byte[] body, CancellationToken cancellationToken)
    {
        byte[] packet = RentPacket((byte)command, body.Length);
        body.CopyTo(packet, FdfsConstants.HeaderSize);
        try
        {
            return (0, await TrackerRequestAsync(
                new SimpleRequest(packet, FdfsConstants.HeaderSize + body.Length, (byte)command, true, SmallResponse * 16),
                cancellationToken, loadParameters: false));
        }
        catch (FdfsServerException e)
        {
            return ((byte)e.Errno, []);
        }
    }
}
