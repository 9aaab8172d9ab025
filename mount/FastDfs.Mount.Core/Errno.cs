namespace FastDfs.Mount.Core;

/// <summary>Linux errno values the core answers with; adapters map them to their platform's codes.</summary>
public static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int E2BIG = 7;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int EACCES = 13;
    public const int EEXIST = 17;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int EFBIG = 27;
    public const int ENOSPC = 28;
    public const int EROFS = 30;
    public const int ERANGE = 34;
    public const int EDEADLK = 35;
    public const int ENAMETOOLONG = 36;
    public const int ENOLCK = 37;
    public const int ENOSYS = 38;
    public const int ENODATA = 61;
    public const int EOPNOTSUPP = 95;
    public const int ETIMEDOUT = 110;
}

/// <summary>The outcome of an operation: a value, or an errno (never both).</summary>
public readonly record struct FsResult<T>(int Errno, T Value)
{
    public bool IsOk => Errno == 0;

    public static implicit operator FsResult<T>(T value) => new(0, value);

    public static FsResult<T> Ok(T value) => new(0, value);

    public static FsResult<T> Fail(int errno) => new(errno, default!);
}
