using FastDfs.Protocol;
using FastDfs.Protocol.Messages;

namespace FastDfs.Client;

/// <summary>QUERY_FILE_INFO answer plus what the file name itself says.</summary>
public sealed record StorageFileInfo(FileId FileId, FileInfoResponse Response, FileNameInfo? NameInfo)
{
    public long Size => Response.FileSize;

    public uint Crc32 => Response.Crc32;

    public DateTimeOffset CreateTime => DateTimeOffset.FromUnixTimeSeconds(Response.CreateTimestamp);

    public string SourceIp => Response.SourceIp;

    public bool IsAppender => NameInfo?.IsAppender ?? false;

    public bool IsSlave => NameInfo?.IsSlave ?? false;

    public bool IsTrunk => NameInfo?.IsTrunk ?? false;
}
