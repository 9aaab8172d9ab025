using System.Globalization;

namespace FastDfs.Protocol.Config;

/// <summary>
/// A parsed FastDFS / libfastcommon style ini file (tracker.conf, storage.conf, client.conf, ...).
/// </summary>
/// <remarks>
/// <para>Syntax, as libfastcommon reads it:</para>
/// <list type="bullet">
/// <item><c>key = value</c>; name and value are trimmed, the first <c>=</c> splits. Keys are case-sensitive.</item>
/// <item>Blank lines and lines whose first non-blank character is <c>#</c> are comments.</item>
/// <item><c>#include path</c> (at the very start of the line, one space or tab after <c>include</c>) reads
///   another file in place. Relative paths are resolved against the directory of the top-level file
///   (like libfastcommon, also for includes inside included files). After an include the current
///   section is the global one again. <c>##include x</c> is a comment.</item>
/// <item><c>[name]</c> starts a section; its keys are looked up as <c>name.key</c>. <c>[]</c> returns to
///   the global part.</item>
/// <item>A key may repeat (<c>tracker_server</c>, <c>allow_hosts</c>): <see cref="GetAll"/> returns every
///   value in file order, the single-value getters use the last one.</item>
/// <item>Lines without <c>=</c> and libfastcommon's <c>#@function</c>/<c>#@if</c>/<c>#@for</c>/<c>#@set</c>
///   directives are ignored and reported in <see cref="Warnings"/>.</item>
/// </list>
/// <para>Typed getters return the default when the key is absent <em>or its value is empty</em>, and throw
/// <see cref="FdfsConfigException"/> (with <c>file:line</c> and key) when the value is malformed or out of
/// range. Every getter marks the key as used, so <see cref="UnusedKeys"/> lists keys nobody asked for.
/// Instances are not thread-safe (reading records usage).</para>
/// </remarks>
public sealed class FdfsConfigFile
{
    private const int MaxIncludeDepth = 16;
    private const string IncludeDirective = "#include";

    private static readonly string[] UnsupportedDirectives = ["#@function", "#@if", "#@else", "#@endif", "#@for", "#@endfor", "#@set"];

    private readonly List<FdfsConfigEntry> _entries = [];
    private readonly Dictionary<string, List<FdfsConfigEntry>> _byKey = new(StringComparer.Ordinal);
    private readonly List<string> _sections = [];
    private readonly List<string> _warnings = [];
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    private FdfsConfigFile(string? sourcePath) => SourcePath = sourcePath;

    /// <summary>The path given to <see cref="Parse"/> / <see cref="Load"/>, used in messages.</summary>
    public string? SourcePath { get; }

    /// <summary>The directory of <see cref="SourcePath"/>, against which the file's relative paths resolve; null when parsed from text alone.</summary>
    public string? ConfigDirectory => SourcePath is null ? null : Path.GetDirectoryName(SourcePath);

    /// <summary>All items in file order (included files spliced in at the <c>#include</c> line).</summary>
    public IReadOnlyList<FdfsConfigEntry> Entries => _entries;

    /// <summary>Section names in order of first appearance.</summary>
    public IReadOnlyList<string> Sections => _sections;

    /// <summary>Lines that were ignored, with their location.</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>Distinct keys in order of first appearance.</summary>
    public IEnumerable<string> Keys => _entries.Select(e => e.Key).Distinct(StringComparer.Ordinal);

    /// <summary>Parses config text. No I/O happens unless <paramref name="includeLoader"/> does some.</summary>
    /// <param name="text">The file content.</param>
    /// <param name="sourcePath">Name of the file (for messages and to resolve relative includes), or null.</param>
    /// <param name="includeLoader">Returns the content of an included file given its resolved path; when null,
    /// an <c>#include</c> line is an error.</param>
    public static FdfsConfigFile Parse(string text, string? sourcePath = null, Func<string, string>? includeLoader = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var file = new FdfsConfigFile(sourcePath);
        var state = new ParseState(file.ConfigDirectory, includeLoader);
        if (sourcePath is not null)
        {
            state.IncludeStack.Add(sourcePath);
        }

        file.ParseText(text, sourcePath, state, depth: 0);
        return file;
    }

    /// <summary>Reads and parses a file, resolving <c>#include</c> relative to the file's directory.</summary>
    public static FdfsConfigFile Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = Path.GetFullPath(path);
        string text;
        try
        {
            text = File.ReadAllText(fullPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new FdfsConfigException($"cannot read config file: {ex.Message}", fullPath, null, null, ex);
        }

        return Parse(text, fullPath, File.ReadAllText);
    }

    /// <summary>
    /// A file a config file names (<c>#include</c>, <c>storage_ids_filename</c>): an absolute path as written, a relative
    /// one under <paramref name="configDirectory"/>, as libfastcommon resolves them; as written when there is no directory.
    /// </summary>
    public static string ResolvePath(string path, string? configDirectory) =>
        Path.IsPathRooted(path) || configDirectory is null ? path : Path.Combine(configDirectory, path);

    /// <summary>True when the key occurs at least once. Does not mark it as used.</summary>
    public bool Contains(string key) => _byKey.ContainsKey(key);

    /// <summary>The last occurrence of the key, or null.</summary>
    public FdfsConfigEntry? GetEntry(string key)
    {
        _used.Add(key);
        return _byKey.TryGetValue(key, out var list) ? list[^1] : null;
    }

    /// <summary>Every occurrence of the key in file order (empty when absent).</summary>
    public IReadOnlyList<FdfsConfigEntry> GetEntries(string key)
    {
        _used.Add(key);
        return _byKey.TryGetValue(key, out var list) ? list : [];
    }

    /// <summary>The value of the last occurrence (possibly empty), or null when the key is absent.</summary>
    public string? GetString(string key) => GetEntry(key)?.Value;

    /// <summary>The value of the last occurrence (possibly empty), or <paramref name="defaultValue"/>.</summary>
    public string GetString(string key, string defaultValue) => GetEntry(key)?.Value ?? defaultValue;

    /// <summary>All values of a repeatable key, in file order.</summary>
    public IReadOnlyList<string> GetAll(string key)
    {
        var entries = GetEntries(key);
        var values = new string[entries.Count];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = entries[i].Value;
        }

        return values;
    }

    /// <summary>A decimal integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public int GetInt(string key, int defaultValue, int min = int.MinValue, int max = int.MaxValue) =>
        (int)GetLong(key, defaultValue, min, max);

    /// <summary>A decimal 64-bit integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public long GetLong(string key, long defaultValue, long min = long.MinValue, long max = long.MaxValue)
    {
        var entry = GetValueEntry(key);
        if (entry is null)
        {
            return defaultValue;
        }

        if (!long.TryParse(entry.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
        {
            throw Invalid(entry, "expected an integer");
        }

        CheckRange(entry, value, min, max);
        return value;
    }

    /// <summary>A whole number of seconds, returned as a <see cref="TimeSpan"/>.</summary>
    public TimeSpan GetSeconds(string key, TimeSpan defaultValue, int minSeconds = 0, int maxSeconds = int.MaxValue)
    {
        var entry = GetValueEntry(key);
        return entry is null
            ? defaultValue
            : TimeSpan.FromSeconds(GetInt(key, 0, minSeconds, maxSeconds));
    }

    /// <summary>A boolean: true/false, yes/no, on/off, 1/0 (case-insensitive).</summary>
    public bool GetBool(string key, bool defaultValue)
    {
        var entry = GetValueEntry(key);
        if (entry is null)
        {
            return defaultValue;
        }

        return TryParseBool(entry.Value, out bool value)
            ? value
            : throw Invalid(entry, "expected a boolean (true/false, yes/no, on/off, 1/0)");
    }

    /// <summary>
    /// A byte count: digits with an optional unit K/KB, M/MB, G/GB, T/TB or B (1024-based, case-insensitive),
    /// e.g. <c>256KB</c>, <c>64MB</c>, <c>20G</c>. A plain number is multiplied by <paramref name="defaultUnit"/>.
    /// </summary>
    public long GetSize(string key, long defaultValue, long defaultUnit = 1, long min = 0, long max = long.MaxValue)
    {
        var entry = GetValueEntry(key);
        if (entry is null)
        {
            return defaultValue;
        }

        if (!TryParseSize(entry.Value, out long value, defaultUnit))
        {
            throw Invalid(entry, "expected a size such as 4096, 256KB, 64MB or 10G");
        }

        CheckRange(entry, value, min, max);
        return value;
    }

    /// <summary>
    /// A percentage (<c>20%</c>, <c>10.5%</c>; 0 &lt; p &lt; 100) or a size (<c>10G</c>, see <see cref="GetSize"/>),
    /// as used by <c>reserved_storage_space</c>.
    /// </summary>
    public ReservedSpace GetPercentOrSize(string key, ReservedSpace defaultValue)
    {
        var entry = GetValueEntry(key);
        if (entry is null)
        {
            return defaultValue;
        }

        return ReservedSpace.TryParse(entry.Value, out var value, out string? error)
            ? value
            : throw Invalid(entry, error!);
    }

    /// <summary>A time of day <c>HH:MM</c> or <c>HH:MM:SS</c> (hour 0-23).</summary>
    public TimeOnly GetTimeOfDay(string key, TimeOnly defaultValue)
    {
        var entry = GetValueEntry(key);
        if (entry is null)
        {
            return defaultValue;
        }

        return TryParseTimeOfDay(entry.Value, out var value)
            ? value
            : throw Invalid(entry, "expected a time of day HH:MM");
    }

    /// <summary>
    /// One of a fixed set of words (case-insensitive); returns the matching element of <paramref name="allowed"/>.
    /// </summary>
    public string GetChoice(string key, string defaultValue, params string[] allowed)
    {
        var entry = GetValueEntry(key);
        if (entry is null)
        {
            return defaultValue;
        }

        foreach (string candidate in allowed)
        {
            if (string.Equals(candidate, entry.Value, StringComparison.OrdinalIgnoreCase))
            {
                return candidate;
            }
        }

        throw Invalid(entry, $"expected one of: {string.Join(", ", allowed)}");
    }

    /// <summary>
    /// An integer that must be a defined value of <typeparamref name="TEnum"/> (e.g. <c>store_lookup = 2</c>).
    /// </summary>
    public TEnum GetIntEnum<TEnum>(string key, TEnum defaultValue)
        where TEnum : struct, Enum
    {
        var entry = GetValueEntry(key);
        if (entry is null)
        {
            return defaultValue;
        }

        if (int.TryParse(entry.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int number))
        {
            var value = (TEnum)Enum.ToObject(typeof(TEnum), number);
            if (Enum.IsDefined(value))
            {
                return value;
            }
        }

        var names = new List<string>();
        foreach (var v in Enum.GetValues<TEnum>())
        {
            names.Add($"{Convert.ToInt64(v, CultureInfo.InvariantCulture)} ({v})");
        }

        throw Invalid(entry, $"expected one of {string.Join(", ", names)}");
    }

    /// <summary>
    /// The last value converted by <paramref name="parse"/>. A <see cref="FormatException"/>,
    /// <see cref="ArgumentException"/>, <see cref="OverflowException"/> or location-less
    /// <see cref="FdfsConfigException"/> thrown by the parser is re-thrown with the entry's location.
    /// </summary>
    public T GetParsed<T>(string key, T defaultValue, Func<string, T> parse)
    {
        var entry = GetValueEntry(key);
        return entry is null ? defaultValue : ParseEntry(entry, parse);
    }

    /// <summary>Every non-empty value converted by <paramref name="parse"/>, errors located as in <see cref="GetParsed{T}"/>.</summary>
    public IReadOnlyList<T> GetAllParsed<T>(string key, Func<string, T> parse)
    {
        var result = new List<T>();
        foreach (var entry in GetEntries(key))
        {
            if (entry.Value.Length > 0)
            {
                result.Add(ParseEntry(entry, parse));
            }
        }

        return result;
    }

    /// <summary>Marks keys as known without reading them (settings accepted but not implemented).</summary>
    public void MarkUsed(params IEnumerable<string> keys)
    {
        foreach (string key in keys)
        {
            _used.Add(key);
        }
    }

    /// <summary>
    /// The first occurrence of every key no getter has asked for (and no <see cref="MarkUsed"/> covered),
    /// in file order. Daemons log these as warnings.
    /// </summary>
    public IReadOnlyList<FdfsConfigEntry> UnusedKeys()
    {
        var result = new List<FdfsConfigEntry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in _entries)
        {
            if (!_used.Contains(entry.Key) && seen.Add(entry.Key))
            {
                result.Add(entry);
            }
        }

        return result;
    }

    /// <summary>
    /// An exception about <paramref name="key"/>, located at its last occurrence (or at the file when the key is
    /// absent). For validation that spans several keys.
    /// </summary>
    public FdfsConfigException Error(string key, string message)
    {
        if (_byKey.TryGetValue(key, out var list))
        {
            var entry = list[^1];
            return new FdfsConfigException(message, entry.FilePath, entry.Line, key);
        }

        return new FdfsConfigException(message, SourcePath, null, key);
    }

    /// <summary>Parses a boolean the way <see cref="GetBool"/> does.</summary>
    public static bool TryParseBool(string text, out bool value)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "true" or "yes" or "on" or "1":
                value = true;
                return true;
            case "false" or "no" or "off" or "0":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    /// <summary>Parses a size the way <see cref="GetSize"/> does.</summary>
    public static bool TryParseSize(string text, out long bytes, long defaultUnit = 1)
    {
        bytes = 0;
        ReadOnlySpan<char> s = text.AsSpan().Trim();
        int digits = 0;
        while (digits < s.Length && char.IsAsciiDigit(s[digits]))
        {
            digits++;
        }

        if (digits == 0
            || !long.TryParse(s[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out long number))
        {
            return false;
        }

        ReadOnlySpan<char> unitText = s[digits..].TrimStart();
        long unit;
        if (unitText.IsEmpty)
        {
            unit = defaultUnit;
        }
        else
        {
            char prefix = char.ToUpperInvariant(unitText[0]);
            ReadOnlySpan<char> rest = unitText[1..];
            unit = prefix switch
            {
                'B' when rest.IsEmpty => 1,
                'K' => 1L << 10,
                'M' => 1L << 20,
                'G' => 1L << 30,
                'T' => 1L << 40,
                _ => 0,
            };
            if (unit == 0 || !(rest.IsEmpty || prefix == 'B' || rest is "B" or "b"))
            {
                return false;
            }
        }

        try
        {
            bytes = checked(number * unit);
            return true;
        }
        catch (OverflowException)
        {
            return false;
        }
    }

    /// <summary>Parses <c>HH:MM</c> or <c>HH:MM:SS</c>.</summary>
    public static bool TryParseTimeOfDay(string text, out TimeOnly value)
    {
        value = default;
        string[] parts = text.Trim().Split(':');
        if (parts.Length is < 2 or > 3)
        {
            return false;
        }

        Span<int> numbers = stackalloc int[3];
        for (int i = 0; i < parts.Length; i++)
        {
            string p = parts[i].Trim();
            if (p.Length is 0 or > 2
                || !int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out numbers[i]))
            {
                return false;
            }
        }

        if (numbers[0] > 23 || numbers[1] > 59 || numbers[2] > 59)
        {
            return false;
        }

        value = new TimeOnly(numbers[0], numbers[1], numbers[2]);
        return true;
    }

    private FdfsConfigEntry? GetValueEntry(string key)
    {
        var entry = GetEntry(key);
        return entry is null || entry.Value.Length == 0 ? null : entry;
    }

    private static T ParseEntry<T>(FdfsConfigEntry entry, Func<string, T> parse)
    {
        try
        {
            return parse(entry.Value);
        }
        catch (FdfsConfigException ex) when (ex.Line is null && ex.FilePath is null)
        {
            throw new FdfsConfigException(ex.Reason ?? ex.Message, entry.FilePath, entry.Line, entry.Key, ex);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or OverflowException)
        {
            throw new FdfsConfigException(ex.Message, entry.FilePath, entry.Line, entry.Key, ex);
        }
    }

    private static void CheckRange(FdfsConfigEntry entry, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            string range = (min, max) switch
            {
                (long.MinValue or int.MinValue, _) => $"at most {max}",
                (_, long.MaxValue or int.MaxValue) => $"at least {min}",
                _ => $"between {min} and {max}",
            };
            throw Invalid(entry, $"must be {range}");
        }
    }

    private static FdfsConfigException Invalid(FdfsConfigEntry entry, string expectation) =>
        new($"invalid value '{entry.Value}': {expectation}", entry.FilePath, entry.Line, entry.Key);

    private void ParseText(string text, string? filePath, ParseState state, int depth)
    {
        string? section = null;
        int lineNo = 0;
        int pos = 0;
        if (text.Length > 0 && text[0] == '\uFEFF')
        {
            pos = 1;
        }

        while (pos <= text.Length)
        {
            int nl = text.IndexOf('\n', pos);
            int end = nl < 0 ? text.Length : nl;
            string raw = text[pos..end].TrimEnd('\r');
            pos = end + 1;
            lineNo++;
            if (nl < 0 && raw.Length == 0)
            {
                break;
            }

            if (IsInclude(raw))
            {
                Include(raw[(IncludeDirective.Length + 1)..].Trim(), filePath, lineNo, state, depth);
                section = null;
                continue;
            }

            string line = raw.Trim();
            if (line.Length == 0)
            {
                continue;
            }

            if (line[0] == '#')
            {
                foreach (string directive in UnsupportedDirectives)
                {
                    if (raw.StartsWith(directive, StringComparison.OrdinalIgnoreCase))
                    {
                        _warnings.Add($"{Where(filePath, lineNo)}: directive '{directive}' is not supported, line ignored");
                        break;
                    }
                }

                continue;
            }

            if (line[0] == '[' && line[^1] == ']')
            {
                string name = line[1..^1].Trim();
                section = name.Length == 0 ? null : name;
                if (section is not null && !_sections.Contains(section))
                {
                    _sections.Add(section);
                }

                continue;
            }

            int eq = line.IndexOf('=');
            if (eq < 0)
            {
                _warnings.Add($"{Where(filePath, lineNo)}: no '=' in line, ignored: {line}");
                continue;
            }

            string itemName = line[..eq].Trim();
            if (itemName.Length == 0)
            {
                _warnings.Add($"{Where(filePath, lineNo)}: empty key, line ignored: {line}");
                continue;
            }

            string value = line[(eq + 1)..].Trim();
            string key = section is null ? itemName : section + "." + itemName;
            var entry = new FdfsConfigEntry(key, value, section, itemName, filePath, lineNo);
            _entries.Add(entry);
            if (!_byKey.TryGetValue(key, out var list))
            {
                list = [];
                _byKey.Add(key, list);
            }

            list.Add(entry);
        }
    }

    private static bool IsInclude(string raw) =>
        raw.Length > IncludeDirective.Length + 1
        && raw.StartsWith(IncludeDirective, StringComparison.OrdinalIgnoreCase)
        && raw[IncludeDirective.Length] is ' ' or '\t';

    private void Include(string target, string? filePath, int lineNo, ParseState state, int depth)
    {
        if (target.Length == 0)
        {
            throw new FdfsConfigException("#include without a file name", filePath, lineNo, null);
        }

        if (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
            || target.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            throw new FdfsConfigException($"#include of a URL is not supported: {target}", filePath, lineNo, null);
        }

        if (state.Loader is null)
        {
            throw new FdfsConfigException($"#include {target}: includes are not available here", filePath, lineNo, null);
        }

        if (depth + 1 > MaxIncludeDepth)
        {
            throw new FdfsConfigException($"#include {target}: includes nested deeper than {MaxIncludeDepth}", filePath, lineNo, null);
        }

        string resolved = ResolvePath(target, state.BaseDir);
        if (state.IncludeStack.Contains(resolved))
        {
            throw new FdfsConfigException($"#include {target}: include cycle", filePath, lineNo, null);
        }

        string content;
        try
        {
            content = state.Loader(resolved);
        }
        catch (Exception ex) when (ex is not FdfsConfigException)
        {
            throw new FdfsConfigException($"#include {target}: cannot read '{resolved}': {ex.Message}", filePath, lineNo, null, ex);
        }

        state.IncludeStack.Add(resolved);
        ParseText(content, resolved, state, depth + 1);
        state.IncludeStack.RemoveAt(state.IncludeStack.Count - 1);
    }

    private static string Where(string? filePath, int line) => filePath is null ? $"line {line}" : $"{filePath}:{line}";

    private sealed class ParseState(string? baseDir, Func<string, string>? loader)
    {
        public string? BaseDir { get; } = baseDir;

        public Func<string, string>? Loader { get; } = loader;

        public List<string> IncludeStack { get; } = [];
    }
}
