namespace FastDfs.Protocol.Config;

/// <summary>
/// One <c>key = value</c> line of a config file.
/// </summary>
/// <param name="Key">Lookup key: <see cref="Name"/> for global items, <c>section.name</c> inside a section.</param>
/// <param name="Value">The value, trimmed; may be empty.</param>
/// <param name="Section">The <c>[section]</c> the line is in, or null for the global part.</param>
/// <param name="Name">The item name as written (trimmed), without the section.</param>
/// <param name="FilePath">The file the line came from (an included file for lines read via <c>#include</c>).</param>
/// <param name="Line">1-based line number within <paramref name="FilePath"/>.</param>
public sealed record FdfsConfigEntry(string Key, string Value, string? Section, string Name, string? FilePath, int Line)
{
    /// <summary><c>file:line</c> (or <c>line N</c> when the text had no file name).</summary>
    public string Location => FilePath is null ? $"line {Line}" : $"{FilePath}:{Line}";

    public override string ToString() => $"{Location}: {Key} = {Value}";
}
