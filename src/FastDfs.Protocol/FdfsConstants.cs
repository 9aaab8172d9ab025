namespace FastDfs.Protocol;

/// <summary>Field sizes and fixed values of the FastDFS 6.x wire protocol (protocol notes section 2).</summary>
public static class FdfsConstants
{
    public const int HeaderSize = 10;
    public const byte ResponseCommand = 100;

    public const int GroupNameMaxLength = 16;
    public const int StorageIdMaxSize = 16;
    public const int VersionSize = 8;
    public const int IPv4AddressSize = 16;
    public const int IPv6AddressSize = 46;

    /// <summary>IP fields in tracker query responses are one byte shorter than the address buffer.</summary>
    public const int QueryIpSize = IPv4AddressSize - 1;

    /// <summary>Query response IP field in IPv6 response mode (<c>response_ip_addr_size = IPv6</c>, 6.15).</summary>
    public const int QueryIpSizeV6 = IPv6AddressSize - 1;

    /// <summary>Internal IP size used in storage &lt;-&gt; tracker structures with current libfastcommon.</summary>
    public const int InternalIpSize = IPv6AddressSize;

    public const int FileExtMaxLength = 6;
    public const int FilePrefixMaxLength = 16;
    public const int MetaNameMaxLength = 64;
    public const int MetaValueMaxLength = 256;
    public const byte MetaRecordSeparator = 0x01;
    public const byte MetaFieldSeparator = 0x02;

    public const int MaxServersPerGroup = 32;
    public const int MaxGroups = 512;
    public const int MaxTrackers = 16;

    public const int LogicPathLength = 10;
    public const int FileNameCoreLength = 27;
    public const int FileNameExtPartLength = 7;
    public const int NormalLogicFileNameLength = LogicPathLength + FileNameCoreLength + FileNameExtPartLength;
    public const int TrunkLogicFileNameLength = NormalLogicFileNameLength + 16;

    /// <summary>Longest remote filename a tracker accepts in fetch/update queries (body &lt; 16 + 128).</summary>
    public const int RemoteFileNameMaxLength = 127;
    public const int RemoteFileNameMinLength = 22;

    public const int DefaultTrackerPort = 22122;
    public const int DefaultStoragePort = 23000;

    /// <summary>Version string we report where FastDFS reports its own.</summary>
    public const string ServerVersion = "6.16.1";

    /// <summary>Store path index meaning "storage chooses".</summary>
    public const byte AnyStorePath = 0xFF;
}
