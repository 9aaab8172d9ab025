using System.Net;
using System.Net.Sockets;
using System.Text;
using FastDfs.Client;
using FastDfs.Protocol.Config;
using FastDfs.Storage;
using FastDfs.Tracker;
using Xunit;

namespace FastDfs.Protocol.Tests.Config;

/// <summary>
/// Seeded fuzzing of the config parsers. A daemon reports <see cref="FdfsConfigException"/> as "bad config at
/// file:line" and exits cleanly; any other exception is a crash with a stack trace. The storage also parses
/// storage_ids.conf text fetched from the tracker, so that parser sees input from the network. The value parsers
/// document <see cref="FormatException"/> (Parse) or no exception at all (TryParse).
/// </summary>
public class ConfigFuzzTests
{
    private static readonly string[] HostileValues =
    [
        "", " ", "0", "1", "-1", "2147483647", "2147483648", "-2147483649", "9223372036854775807", "99999999999999999999",
        "1%", "0%", "100%", "-5%", "%", "1.5.5%", "10G", "10GB", "8TB", "9999999999T", "1K", "KB", "B", "12:30", "24:00",
        "23:59:60", "::", "true", "yes", "maybe", "[", "]", "[::1", "[::1]x", "[::1]:", ":", "a:b", "host:0", "host:65536",
        "1.2.3.4:99999", "10.1", "256.1.1.1", "h[0-2147483647]", "h[2147483647]", "h[5-1]", "h[1-2][3-4]", "10.0.0.0/33",
        "10.0.0.0/-1", "::/129", "fe80::1%eth0", "*", "a,,b", ",", "[a,b]:1", "\u00e9", "\0", "#", "=", "x=y", "..", "/",
        "/tmp/../..", "relative/path", new string('9', 400), new string('a', 300),
    ];

    private static string RandomText(Random random, string[] tokens, int maxTokens)
    {
        var sb = new StringBuilder();
        for (int i = random.Next(maxTokens); i > 0; i--)
        {
            sb.Append(tokens[random.Next(tokens.Length)]);
        }

        return sb.ToString();
    }

    /// <summary>Replaces the value of some key lines of a shipped config with hostile values, and appends a few lines.</summary>
    private static string Corrupt(Random random, string sample)
    {
        var lines = sample.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            int eq = lines[i].IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && !lines[i].TrimStart().StartsWith('#') && random.Next(6) == 0)
            {
                lines[i] = lines[i][..(eq + 1)] + " " + HostileValues[random.Next(HostileValues.Length)];
            }
        }

        return string.Join('\n', lines) + "\n" + RandomText(random, ["\n", "[s]\n", "[]\n", "k = ", "v", "#include x\n", "="], 6);
    }

    private static void OnlyConfigErrors(Action action, string input)
    {
        try
        {
            action();
        }
        catch (FdfsConfigException)
        {
        }
        catch (Exception e)
        {
            Assert.Fail($"{e.GetType().Name} instead of FdfsConfigException for:\n{input}\n{e}");
        }
    }

    private static void NeverThrows(Action action, string input)
    {
        try
        {
            action();
        }
        catch (Exception e)
        {
            Assert.Fail($"{e.GetType().Name} for '{input}': {e}");
        }
    }

    [Fact]
    public void Shipped_configs_with_hostile_values_load_or_raise_config_errors()
    {
        var random = new Random(616);
        for (int round = 0; round < 400; round++)
        {
            string tracker = Corrupt(random, SampleConfigs.Tracker616);
            OnlyConfigErrors(() => TrackerOptions.FromConfig(FdfsConfigFile.Parse(tracker, "/etc/fdfs/tracker.conf")), tracker);
            string storage = Corrupt(random, SampleConfigs.Storage616);
            OnlyConfigErrors(() => StorageOptions.FromConfig(FdfsConfigFile.Parse(storage, "/etc/fdfs/storage.conf")), storage);
            string client = Corrupt(random, SampleConfigs.Client616);
            OnlyConfigErrors(() => FastDfsClientOptions.FromConfig(FdfsConfigFile.Parse(client, "/etc/fdfs/client.conf")), client);
        }
    }

    [Fact]
    public void Random_config_text_parses_and_typed_getters_raise_only_config_errors()
    {
        string[] tokens =
        [
            "\n", "\r\n", "\uFEFF", " ", "\t", "=", "#", "[", "]", "[sec]", "#include ", "#include\t", "##include x", "#@if", "key",
            "port", "a.b", "x", "\u00e9", "\0", .. HostileValues,
        ];
        var random = new Random(1101);
        for (int round = 0; round < 1500; round++)
        {
            string text = RandomText(random, tokens, 40);

            // Included files: more random text, a missing file, or an include of itself (a cycle).
            string Loader(string path) => random.Next(3) switch
            {
                0 => throw new FileNotFoundException("no such file", path),
                1 => "#include " + Path.GetFileName(path) + "\n",
                _ => RandomText(random, tokens, 20),
            };

            OnlyConfigErrors(
                () =>
                {
                    var config = FdfsConfigFile.Parse(text, "/etc/fdfs/fuzz.conf", Loader);
                    foreach (string key in config.Keys.ToList())
                    {
                        OnlyConfigErrors(() => config.GetInt(key, 0), text);
                        OnlyConfigErrors(() => config.GetLong(key, 0, -10, 10), text);
                        OnlyConfigErrors(() => config.GetSeconds(key, TimeSpan.Zero, int.MinValue), text);
                        OnlyConfigErrors(() => config.GetBool(key, false), text);
                        OnlyConfigErrors(() => config.GetSize(key, 0, 1 << 20), text);
                        OnlyConfigErrors(() => config.GetPercentOrSize(key, ReservedSpace.FromPercent(10)), text);
                        OnlyConfigErrors(() => config.GetTimeOfDay(key, default), text);
                        OnlyConfigErrors(() => config.GetChoice(key, "a", "a", "b"), text);
                        OnlyConfigErrors(() => config.GetIntEnum(key, StoreLookup.LoadBalance), text);
                        OnlyConfigErrors(() => config.GetLogLevel(key, FdfsLogLevel.Info), text);
                        OnlyConfigErrors(() => config.GetAddressFamily(key, FdfsAddressFamily.Auto), text);
                        OnlyConfigErrors(() => config.GetTrackerEndpoints(key), text);
                        OnlyConfigErrors(() => config.GetAllowHosts(key), text);
                    }
                },
                text);
        }
    }

    [Fact]
    public void Storage_ids_text_parses_or_raises_config_errors()
    {
        string[] ids = ["1", "100001", "0", "-1", "16777215", "16777216", "00001", "abc", "999999999999999", "1.5"];
        string[] groups = ["group1", "g", "bad/group", "group12345678901234", "", "\u00e9"];
        string[] addresses =
        [
            "127.0.0.3", "127.0.0.3:23000", "127.0.0.3,127.0.0.4:1", "[::1]", "[fd00::3,fd00::4]:23000", "[::1", "[::1]x",
            "::1", "10.1", "host.example", "-host", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:", ":", "[]", "[]:1", ",",
            "a,,b", "1.2.3.4,1.2.3.5,1.2.3.6,1.2.3.7,1.2.3.8,1.2.3.9", "fe80::1%eth0", "[fe80::1%eth0]", "256.0.0.1",
        ];
        string[] options = ["rw=both", "rw=read", "rw=none", "rw=", "rw=x", "x", "#c"];

        // Names resolve to nothing, to addresses, or fail as DNS does.
        IPAddress[] Resolver(string host) => (host.Length % 3) switch
        {
            0 => [],
            1 => [IPAddress.Parse("10.9.8.7"), IPAddress.IPv6Loopback],
            _ => throw new SocketException((int)SocketError.HostNotFound),
        };

        var random = new Random(70);
        for (int round = 0; round < 2000; round++)
        {
            var text = new StringBuilder();
            for (int line = random.Next(0, 6); line > 0; line--)
            {
                string Pick(string[] from) => from[random.Next(from.Length)];
                string sep = random.Next(4) == 0 ? "\t" : "  ";
                text.Append(Pick(ids)).Append(sep).Append(Pick(groups)).Append(sep).Append(Pick(addresses));
                if (random.Next(3) == 0)
                {
                    text.Append(' ').Append(Pick(options));
                }

                text.Append(random.Next(5) == 0 ? "\r\n" : "\n");
            }

            string s = text.ToString();
            OnlyConfigErrors(() => StorageIdMap.Parse(s, "/etc/fdfs/storage_ids.conf", random.Next(2) == 0 ? null : Resolver), s);
        }
    }

    [Fact]
    public void Address_and_value_parsers_raise_only_their_documented_errors()
    {
        string[] tokens = ["[", "]", ":", ",", ".", "/", "-", "%", "1", "12", "255", "256", "65535", "99999", "::", "fd00", "a", "host", " ", "*", "G", "B", "K"];
        var random = new Random(22122);
        for (int round = 0; round < 5000; round++)
        {
            string text = random.Next(4) == 0 ? HostileValues[random.Next(HostileValues.Length)] : RandomText(random, tokens, 12);
            NeverThrows(() => TrackerEndpoint.TryParse(text, out _, out _), text);
            NeverThrows(() => ReservedSpace.TryParse(text, out _, out _), text);
            NeverThrows(() => FdfsConfigFile.TryParseSize(text, out _, 1 << 20), text);
            NeverThrows(() => FdfsConfigFile.TryParseTimeOfDay(text, out _), text);
            NeverThrows(() => FdfsConfigFile.TryParseBool(text, out _), text);
            OnlyFormatErrors(() => TrackerEndpoint.Parse(text), text);
            OnlyFormatErrors(() => ReservedSpace.Parse(text), text);
            OnlyFormatErrors(
                () =>
                {
                    var list = HostAccessList.Parse([text]);
                    _ = list.IsAllowed(IPAddress.Parse("10.0.0.1"));
                    _ = list.IsAllowed(IPAddress.Parse("::ffff:10.0.0.1"));
                    _ = list.IsAllowed(IPAddress.Parse("fd00::1"));
                    _ = list.WithResolvedHostNames(_ => [IPAddress.Loopback]).IsAllowed(IPAddress.Loopback);
                },
                text);
        }
    }

    private static void OnlyFormatErrors(Action action, string input)
    {
        try
        {
            action();
        }
        catch (FormatException)
        {
        }
        catch (Exception e)
        {
            Assert.Fail($"{e.GetType().Name} instead of FormatException for '{input}': {e}");
        }
    }

    [Fact]
    public void A_range_ending_at_int_max_expands_once_instead_of_looping_forever()
    {
        // The int counter of the expansion wrapped from int.MaxValue to int.MinValue and never passed the end.
        var list = HostAccessList.Parse(["h[2147483646-2147483647].example"]);
        Assert.Equal(["h2147483646.example", "h2147483647.example"], list.HostNames);
    }

    [Fact]
    public void A_range_of_two_billion_hosts_is_refused()
    {
        // end - start + 1 overflowed int to a negative count, which passed the expansion limit.
        var ex = Assert.Throws<FormatException>(() => HostAccessList.Parse(["h[0-2147483647]"]));
        Assert.Contains("more than", ex.Message, StringComparison.Ordinal);
    }
}
