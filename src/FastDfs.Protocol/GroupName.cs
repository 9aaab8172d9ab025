namespace FastDfs.Protocol;

/// <summary>Group names are 1..16 characters of [A-Za-z0-9].</summary>
public static class GroupName
{
    public static bool IsValid(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty || name.Length > FdfsConstants.GroupNameMaxLength)
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    public static string Validate(string name) =>
        IsValid(name) ? name : throw new FdfsProtocolException($"invalid group name '{name}'");
}
