using System.Net;
using Microsoft.Extensions.Logging;

namespace FastDfs.Tracker;

/// <summary>Source-generated log messages of the tracker role (event ids 2000-2999).</summary>
internal static partial class TrackerLog
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Information,
        Message = "fdfs-trackerd {Version} starting: base_path={BasePath}, port={Port}, bind_addr={BindAddr}, store_lookup={StoreLookup}, "
            + "store_group={StoreGroup}, store_server={StoreServer}, store_path={StorePath}, download_server={DownloadServer}, "
            + "reserved_storage_space={Reserved}, check_active_interval={CheckActive}s, max_connections={MaxConnections}, allow_hosts={AllowHosts}")]
    public static partial void Banner(ILogger logger, string version, string basePath, int port, string bindAddr, int storeLookup,
        string storeGroup, int storeServer, int storePath, int downloadServer, string reserved, long checkActive, int maxConnections,
        string allowHosts);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "tracker listening on {Ip}:{Port}")]
    public static partial void Listening(ILogger logger, string ip, int port);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "tracker stopping")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information, Message = "tracker stopped, state saved to {Path}")]
    public static partial void Stopped(ILogger logger, string path);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Debug, Message = "request from {Remote} refused: cmd {Command}, {Errno}: {Reason}")]
    public static partial void RequestRefused(ILogger logger, IPEndPoint remote, byte command, string errno, string reason);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Information,
        Message = "storage {Ip}:{Port} joined group {Group}: status {Status}, sync source '{SyncSource}'")]
    public static partial void StorageJoined(ILogger logger, string ip, int port, string group, string status, string syncSource);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Warning, Message = "storage join from {Remote} refused: {Errno}: {Reason}")]
    public static partial void JoinRefused(ILogger logger, IPEndPoint remote, string errno, string reason);

    [LoggerMessage(EventId = 2013, Level = LogLevel.Information, Message = "storage {Ip} of group {Group} disconnected")]
    public static partial void StorageDisconnected(ILogger logger, string ip, string group);

    [LoggerMessage(EventId = 2014, Level = LogLevel.Warning, Message = "{Count} storage(s) without heartbeat for {Seconds}s marked OFFLINE")]
    public static partial void StoragesTimedOut(ILogger logger, int count, long seconds);

    [LoggerMessage(EventId = 2015, Level = LogLevel.Information, Message = "storage {Ip} of group {Group} deleted by {Remote}")]
    public static partial void StorageDeleted(ILogger logger, string ip, string group, IPEndPoint remote);

    [LoggerMessage(EventId = 2020, Level = LogLevel.Information, Message = "loaded {Groups} group(s), {Storages} storage(s) from {Path}")]
    public static partial void StateLoaded(ILogger logger, int groups, int storages, string path);

    [LoggerMessage(EventId = 2021, Level = LogLevel.Error, Message = "cannot load cluster state from {Path}, moved aside to {Aside}; starting empty")]
    public static partial void StateLoadFailed(ILogger logger, string path, string aside, Exception exception);

    [LoggerMessage(EventId = 2022, Level = LogLevel.Error, Message = "cannot save cluster state to {Path}")]
    public static partial void StateSaveFailed(ILogger logger, string path, Exception exception);

    [LoggerMessage(EventId = 2023, Level = LogLevel.Debug, Message = "cluster state saved to {Path}")]
    public static partial void StateSaved(ILogger logger, string path);

    [LoggerMessage(EventId = 2016, Level = LogLevel.Warning, Message = "{Remote} asked for the storage id of {Address} in group {Group}: not in storage_ids.conf")]
    public static partial void UnknownStorageAddress(ILogger logger, System.Net.IPEndPoint remote, string group, string address);

    [LoggerMessage(EventId = 2024, Level = LogLevel.Information, Message = "storage IDs: {Count} from {Path}, id_type_in_filename={IdType}")]
    public static partial void StorageIdsLoaded(ILogger logger, int count, string path, string idType);

    [LoggerMessage(EventId = 2025, Level = LogLevel.Information, Message = "migrating cluster state from {JsonPath}: {Groups} group(s), {Storages} storage(s); saved as FastDFS .dat files from now on")]
    public static partial void StateMigrated(ILogger logger, string jsonPath, int groups, int storages);

    [LoggerMessage(EventId = 2026, Level = LogLevel.Error, Message = "cannot append to the storage changelog {Path}")]
    public static partial void ChangelogWriteFailed(ILogger logger, string path, Exception exception);

    [LoggerMessage(EventId = 2027, Level = LogLevel.Information, Message = "storage {OldIp} of group {Group} changed its IP to {NewIp}")]
    public static partial void StorageIpChanged(ILogger logger, string group, string oldIp, string newIp);
}
