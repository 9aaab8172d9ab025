using FastDfs.Protocol.Config;
using Xunit;

namespace FastDfs.Protocol.Tests.Config;

public class FdfsConfigFileTests
{
    [Fact]
    public void Parses_keys_values_comments_and_blank_lines()
    {
        var cfg = FdfsConfigFile.Parse("# comment\n\n  port = 22122  \nbind_addr=\n   # indented comment\nname = a = b\n");

        Assert.Equal("22122", cfg.GetString("port"));
        Assert.Equal("", cfg.GetString("bind_addr"));
        Assert.Equal("a = b", cfg.GetString("name"));
        Assert.Null(cfg.GetString("missing"));
        Assert.Equal("dflt", cfg.GetString("missing", "dflt"));
        Assert.Equal(3, cfg.Entries.Count);
        Assert.Equal(3, cfg.Entries[0].Line);
    }

    [Fact]
    public void Handles_crlf_tabs_and_bom()
    {
        var cfg = FdfsConfigFile.Parse("\uFEFFport\t=\t23000\r\nbase_path = /data\r\n");
        Assert.Equal("23000", cfg.GetString("port"));
        Assert.Equal("/data", cfg.GetString("base_path"));
    }

    [Fact]
    public void Paths_a_config_names_resolve_against_its_directory_unless_absolute()
    {
        Assert.Equal(Path.Combine("/etc/fdfs", "storage_ids.conf"), FdfsConfigFile.ResolvePath("storage_ids.conf", "/etc/fdfs"));
        Assert.Equal(Path.Combine("/etc/fdfs", "conf.d/ids.conf"), FdfsConfigFile.ResolvePath("conf.d/ids.conf", "/etc/fdfs"));
        Assert.Equal("/srv/ids.conf", FdfsConfigFile.ResolvePath("/srv/ids.conf", "/etc/fdfs"));
        Assert.Equal("ids.conf", FdfsConfigFile.ResolvePath("ids.conf", null)); // parsed from text: as written
        Assert.Equal("ids.conf", FdfsConfigFile.ResolvePath("ids.conf", "")); // a bare file name: the working directory

        Assert.Equal("/etc/fdfs", FdfsConfigFile.Parse("", "/etc/fdfs/client.conf").ConfigDirectory);
        Assert.Null(FdfsConfigFile.Parse("").ConfigDirectory);
    }

    [Fact]
    public void Keys_are_case_sensitive_like_libfastcommon()
    {
        var cfg = FdfsConfigFile.Parse("Port = 1\n");
        Assert.Null(cfg.GetString("port"));
        Assert.Equal("1", cfg.GetString("Port"));
    }

    [Fact]
    public void Repeated_keys_keep_all_values_in_order_and_last_wins()
    {
        var cfg = FdfsConfigFile.Parse("tracker_server = a:1\nport=1\ntracker_server = b:2\ntracker_server = c:3\n");

        Assert.Equal(["a:1", "b:2", "c:3"], cfg.GetAll("tracker_server"));
        Assert.Equal("c:3", cfg.GetString("tracker_server"));
        Assert.Empty(cfg.GetAll("nothing"));
        Assert.Equal(4, cfg.GetEntries("tracker_server")[2].Line);
    }

    [Fact]
    public void Sections_prefix_keys_and_empty_section_returns_to_global()
    {
        var cfg = FdfsConfigFile.Parse("""
            port = 1
            [access-log]
            enabled = true
            [ slow-log ]
            enabled = false
            []
            after = 2
            """);

        Assert.True(cfg.GetBool("access-log.enabled", false));
        Assert.False(cfg.GetBool("slow-log.enabled", true));
        Assert.Null(cfg.GetString("enabled"));
        Assert.Equal("2", cfg.GetString("after"));
        Assert.Equal(["access-log", "slow-log"], cfg.Sections);
        var entry = cfg.GetEntry("access-log.enabled")!;
        Assert.Equal("access-log", entry.Section);
        Assert.Equal("enabled", entry.Name);
    }

    [Fact]
    public void Dotted_global_keys_stay_plain_keys()
    {
        var cfg = FdfsConfigFile.Parse("http.server_port = 8888\n");
        Assert.Equal(8888, cfg.GetInt("http.server_port", 0));
        Assert.Null(cfg.GetEntry("http.server_port")!.Section);
    }

    [Fact]
    public void Lines_without_equals_and_unsupported_directives_are_warned_not_fatal()
    {
        var cfg = FdfsConfigFile.Parse("garbage line\n#@function LOCAL_IP_GET\nbind_addr = inner\n= novalue\n", "x.conf");

        Assert.Equal("inner", cfg.GetString("bind_addr"));
        Assert.Equal(3, cfg.Warnings.Count);
        Assert.Contains("x.conf:1", cfg.Warnings[0], StringComparison.Ordinal);
        Assert.Contains("#@function", cfg.Warnings[1], StringComparison.Ordinal);
        Assert.Contains("x.conf:4", cfg.Warnings[2], StringComparison.Ordinal);
    }

    [Fact]
    public void Include_is_resolved_through_the_loader_relative_to_the_source()
    {
        var requested = new List<string>();
        string Loader(string path)
        {
            requested.Add(path);
            return path.EndsWith("fdht_servers.conf", StringComparison.Ordinal)
                ? "group_count = 2\ngroup0 = 10.0.0.1:11411\n"
                : throw new FileNotFoundException("no such file", path);
        }

        var cfg = FdfsConfigFile.Parse(
            "[sec]\na = 1\n#include fdht_servers.conf\nb = 2\n##include not_this.conf\n",
            "/etc/fdfs/storage.conf",
            Loader);

        Assert.Equal([Path.Combine("/etc/fdfs", "fdht_servers.conf")], requested);
        Assert.Equal("1", cfg.GetString("sec.a"));
        Assert.Equal(2, cfg.GetInt("group_count", 0));

        // After an include the parser is back in the global section, as libfastcommon does.
        Assert.Equal("2", cfg.GetString("b"));
        var included = cfg.GetEntry("group0")!;
        Assert.Equal(Path.Combine("/etc/fdfs", "fdht_servers.conf"), included.FilePath);
        Assert.Equal(2, included.Line);
    }

    [Fact]
    public void Include_keeps_entry_order()
    {
        var cfg = FdfsConfigFile.Parse(
            "tracker_server = a:1\n#include more.conf\ntracker_server = c:3\n",
            null,
            _ => "tracker_server = b:2\n");
        Assert.Equal(["a:1", "b:2", "c:3"], cfg.GetAll("tracker_server"));
    }

    [Fact]
    public void Include_absolute_path_is_used_as_is()
    {
        string? asked = null;
        FdfsConfigFile.Parse("#include /abs/other.conf\n", "/etc/fdfs/a.conf", p =>
        {
            asked = p;
            return "";
        });
        Assert.Equal("/abs/other.conf", asked);
    }

    [Fact]
    public void Include_without_loader_is_an_error_with_location()
    {
        var ex = Assert.Throws<FdfsConfigException>(() => FdfsConfigFile.Parse("a=1\n#include http.conf\n", "client.conf"));
        Assert.Equal("client.conf", ex.FilePath);
        Assert.Equal(2, ex.Line);
        Assert.StartsWith("client.conf:2:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_include_file_is_an_error_with_location()
    {
        var ex = Assert.Throws<FdfsConfigException>(() =>
            FdfsConfigFile.Parse("\n#include nope.conf\n", "/etc/a.conf", p => throw new FileNotFoundException("missing", p)));
        Assert.Equal(2, ex.Line);
        Assert.IsType<FileNotFoundException>(ex.InnerException);
        Assert.Contains("nope.conf", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Include_cycle_is_detected()
    {
        var files = new Dictionary<string, string>
        {
            ["/c/a.conf"] = "#include b.conf\n",
            ["/c/b.conf"] = "#include a.conf\n",
        };
        var ex = Assert.Throws<FdfsConfigException>(() => FdfsConfigFile.Parse(files["/c/a.conf"], "/c/a.conf", p => files[p]));
        Assert.Contains("cycle", ex.Message, StringComparison.Ordinal);
        Assert.Equal("/c/b.conf", ex.FilePath);
    }

    [Fact]
    public void Include_of_url_is_rejected()
    {
        var ex = Assert.Throws<FdfsConfigException>(() => FdfsConfigFile.Parse("#include http://x/y.conf\n", null, _ => ""));
        Assert.Contains("URL", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_reads_file_and_relative_includes_from_disk()
    {
        string dir = Path.Combine(Path.GetTempPath(), "fdfs-conf-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        try
        {
            File.WriteAllText(Path.Combine(dir, "client.conf"), "connect_timeout = 2\n#include sub/http.conf\n");
            File.WriteAllText(Path.Combine(dir, "sub", "http.conf"), "http.anti_steal.token_ttl = 900\n");

            var cfg = FdfsConfigFile.Load(Path.Combine(dir, "client.conf"));

            Assert.Equal(2, cfg.GetInt("connect_timeout", 0));
            Assert.Equal(900, cfg.GetInt("http.anti_steal.token_ttl", 0));
            Assert.Equal(Path.Combine(dir, "client.conf"), cfg.SourcePath);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Load_of_missing_file_throws_config_exception()
    {
        string path = Path.Combine(Path.GetTempPath(), "fdfs-missing-" + Guid.NewGuid().ToString("N") + ".conf");
        var ex = Assert.Throws<FdfsConfigException>(() => FdfsConfigFile.Load(path));
        Assert.Equal(path, ex.FilePath);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("TRUE", true)]
    [InlineData("yes", true)]
    [InlineData("On", true)]
    [InlineData("1", true)]
    [InlineData("false", false)]
    [InlineData("No", false)]
    [InlineData("off", false)]
    [InlineData("0", false)]
    public void GetBool_accepts_all_fastdfs_spellings(string text, bool expected)
    {
        var cfg = FdfsConfigFile.Parse($"flag = {text}\n");
        Assert.Equal(expected, cfg.GetBool("flag", !expected));
    }

    [Fact]
    public void GetBool_rejects_other_words_with_line_and_key()
    {
        var cfg = FdfsConfigFile.Parse("a = 1\n\nuse_trunk_file = maybe\n", "/etc/fdfs/tracker.conf");
        var ex = Assert.Throws<FdfsConfigException>(() => cfg.GetBool("use_trunk_file", false));
        Assert.Equal("/etc/fdfs/tracker.conf", ex.FilePath);
        Assert.Equal(3, ex.Line);
        Assert.Equal("use_trunk_file", ex.Key);
        Assert.StartsWith("/etc/fdfs/tracker.conf:3: 'use_trunk_file': invalid value 'maybe'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Typed_getters_use_default_for_absent_or_empty_values()
    {
        var cfg = FdfsConfigFile.Parse("port =\nflag=\n");
        Assert.Equal(7, cfg.GetInt("port", 7));
        Assert.True(cfg.GetBool("flag", true));
        Assert.Equal(5, cfg.GetSize("nothing", 5));
        Assert.Equal(new TimeOnly(1, 2), cfg.GetTimeOfDay("nothing", new TimeOnly(1, 2)));
    }

    [Fact]
    public void GetInt_parses_and_checks_range()
    {
        var cfg = FdfsConfigFile.Parse("port = 22122\nneg = -5\nbad = 12a\nbig = 99999999999\n");
        Assert.Equal(22122, cfg.GetInt("port", 0, 1, 65535));
        Assert.Equal(-5, cfg.GetInt("neg", 0));
        Assert.Equal(99999999999L, cfg.GetLong("big", 0));

        var bad = Assert.Throws<FdfsConfigException>(() => cfg.GetInt("bad", 0));
        Assert.Equal(3, bad.Line);
        var range = Assert.Throws<FdfsConfigException>(() => cfg.GetInt("neg", 0, 0, 10));
        Assert.Contains("between 0 and 10", range.Message, StringComparison.Ordinal);
        Assert.Throws<FdfsConfigException>(() => cfg.GetInt("big", 0));
    }

    [Fact]
    public void GetSeconds_returns_timespan()
    {
        var cfg = FdfsConfigFile.Parse("network_timeout = 60\n");
        Assert.Equal(TimeSpan.FromMinutes(1), cfg.GetSeconds("network_timeout", TimeSpan.Zero));
        Assert.Equal(TimeSpan.FromSeconds(3), cfg.GetSeconds("other", TimeSpan.FromSeconds(3)));
    }

    [Theory]
    [InlineData("4096", 4096L)]
    [InlineData("256KB", 256L * 1024)]
    [InlineData("256kb", 256L * 1024)]
    [InlineData("256K", 256L * 1024)]
    [InlineData("64MB", 64L * 1024 * 1024)]
    [InlineData("64m", 64L * 1024 * 1024)]
    [InlineData("20G", 20L * 1024 * 1024 * 1024)]
    [InlineData("1gb", 1L * 1024 * 1024 * 1024)]
    [InlineData("2T", 2L * 1024 * 1024 * 1024 * 1024)]
    [InlineData("2TB", 2L * 1024 * 1024 * 1024 * 1024)]
    [InlineData("100B", 100L)]
    [InlineData("8 KB", 8L * 1024)]
    [InlineData("0", 0L)]
    public void GetSize_accepts_units(string text, long expected)
    {
        var cfg = FdfsConfigFile.Parse($"buff_size = {text}\n");
        Assert.Equal(expected, cfg.GetSize("buff_size", -1));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("12X")]
    [InlineData("12KBB")]
    [InlineData("-1K")]
    [InlineData("1.5G")]
    [InlineData("KB")]
    [InlineData("99999999999T")]
    public void GetSize_rejects_bad_values(string text)
    {
        var cfg = FdfsConfigFile.Parse($"\nbuff_size = {text}\n", "storage.conf");
        var ex = Assert.Throws<FdfsConfigException>(() => cfg.GetSize("buff_size", 0));
        Assert.Equal(2, ex.Line);
        Assert.Equal("buff_size", ex.Key);
    }

    [Fact]
    public void GetSize_uses_default_unit_for_plain_numbers()
    {
        var cfg = FdfsConfigFile.Parse("x = 3\ny = 3K\n");
        Assert.Equal(3L * 1024 * 1024, cfg.GetSize("x", 0, defaultUnit: 1024 * 1024));
        Assert.Equal(3L * 1024, cfg.GetSize("y", 0, defaultUnit: 1024 * 1024));
    }

    [Fact]
    public void GetPercentOrSize_reads_percent_and_bytes()
    {
        var cfg = FdfsConfigFile.Parse("a = 20%\nb = 10G\nc = 12.5 %\nd = 100%\ne = x%\n");

        var a = cfg.GetPercentOrSize("a", default);
        Assert.True(a.IsPercent);
        Assert.Equal(20, a.Percent);

        var b = cfg.GetPercentOrSize("b", default);
        Assert.False(b.IsPercent);
        Assert.Equal(10L << 30, b.Bytes);
        Assert.Equal(10240, b.Megabytes);

        Assert.Equal(12.5, cfg.GetPercentOrSize("c", default).Percent);
        Assert.Equal(4, Assert.Throws<FdfsConfigException>(() => cfg.GetPercentOrSize("d", default)).Line);
        Assert.Equal(5, Assert.Throws<FdfsConfigException>(() => cfg.GetPercentOrSize("e", default)).Line);
        Assert.Equal(ReservedSpace.FromPercent(7), cfg.GetPercentOrSize("zz", ReservedSpace.FromPercent(7)));
    }

    [Theory]
    [InlineData("00:00", 0, 0, 0)]
    [InlineData("23:59", 23, 59, 0)]
    [InlineData("1:30", 1, 30, 0)]
    [InlineData("02:00:15", 2, 0, 15)]
    public void GetTimeOfDay_parses(string text, int h, int m, int s)
    {
        var cfg = FdfsConfigFile.Parse($"t = {text}\n");
        Assert.Equal(new TimeOnly(h, m, s), cfg.GetTimeOfDay("t", default));
    }

    [Theory]
    [InlineData("24:00")]
    [InlineData("12:60")]
    [InlineData("12")]
    [InlineData("ab:cd")]
    [InlineData("1:2:3:4")]
    public void GetTimeOfDay_rejects_bad_values(string text)
    {
        var cfg = FdfsConfigFile.Parse($"sync_start_time = {text}\n");
        var ex = Assert.Throws<FdfsConfigException>(() => cfg.GetTimeOfDay("sync_start_time", default));
        Assert.Equal(1, ex.Line);
    }

    [Fact]
    public void GetChoice_is_case_insensitive_and_returns_canonical_spelling()
    {
        var cfg = FdfsConfigFile.Parse("m = MD5\nbad = sha\n");
        Assert.Equal("md5", cfg.GetChoice("m", "hash", "hash", "md5"));
        var ex = Assert.Throws<FdfsConfigException>(() => cfg.GetChoice("bad", "hash", "hash", "md5"));
        Assert.Contains("hash, md5", ex.Message, StringComparison.Ordinal);
    }

    private enum Sample
    {
        Zero = 0,
        Two = 2,
    }

    [Fact]
    public void GetIntEnum_accepts_defined_values_only()
    {
        var cfg = FdfsConfigFile.Parse("a = 2\nb = 1\nc = x\n");
        Assert.Equal(Sample.Two, cfg.GetIntEnum("a", Sample.Zero));
        var ex = Assert.Throws<FdfsConfigException>(() => cfg.GetIntEnum("b", Sample.Zero));
        Assert.Contains("0 (Zero), 2 (Two)", ex.Message, StringComparison.Ordinal);
        Assert.Throws<FdfsConfigException>(() => cfg.GetIntEnum("c", Sample.Zero));
    }

    [Fact]
    public void GetParsed_wraps_parser_errors_with_location()
    {
        var cfg = FdfsConfigFile.Parse("a = 1\ntracker_server = ::1:22122\n", "storage.conf");
        var ex = Assert.Throws<FdfsConfigException>(() => cfg.GetAllParsed("tracker_server", v => TrackerEndpoint.Parse(v)));
        Assert.Equal(2, ex.Line);
        Assert.Equal("tracker_server", ex.Key);
        Assert.IsType<FormatException>(ex.InnerException);
    }

    [Fact]
    public void UnusedKeys_lists_keys_nobody_read_in_file_order()
    {
        var cfg = FdfsConfigFile.Parse("port = 1\nfoo = 2\n[s]\nbar = 3\nfoo = 4\nknown = 5\n");
        _ = cfg.GetInt("port", 0);
        _ = cfg.GetString("absent");
        cfg.MarkUsed("s.known");

        var unused = cfg.UnusedKeys();
        Assert.Equal(["foo", "s.bar", "s.foo"], unused.Select(e => e.Key));
        Assert.Equal(2, unused[0].Line);
        Assert.Equal("line 2: foo = 2", unused[0].ToString());
    }

    [Fact]
    public void Error_points_at_the_last_occurrence_or_the_file()
    {
        var cfg = FdfsConfigFile.Parse("a = 1\na = 2\n", "t.conf");
        var located = cfg.Error("a", "bad");
        Assert.Equal(2, located.Line);
        Assert.Equal("t.conf:2: 'a': bad", located.Message);
        var fileOnly = cfg.Error("b", "b is required");
        Assert.Null(fileOnly.Line);
        Assert.Equal("t.conf: 'b': b is required", fileOnly.Message);
    }

    [Theory]
    [InlineData(nameof(SampleConfigs.Tracker616))]
    [InlineData(nameof(SampleConfigs.TrackerLegacy))]
    [InlineData(nameof(SampleConfigs.Storage616))]
    [InlineData(nameof(SampleConfigs.StorageLegacy))]
    [InlineData(nameof(SampleConfigs.Client616))]
    public void Shipped_samples_parse_without_warnings(string name)
    {
        string text = (string)typeof(SampleConfigs).GetField(name)!.GetValue(null)!;
        var cfg = FdfsConfigFile.Parse(text, name);
        Assert.Empty(cfg.Warnings);
        Assert.NotEmpty(cfg.Entries);
    }
}
