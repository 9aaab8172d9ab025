namespace FastDfs.Storage.Tests;

/// <summary>sync_start_time / sync_end_time (protocol notes 9.3) on a clock the test moves.</summary>
public class SyncWindowTests
{
    /// <summary>A clock in UTC that only moves when the test says so.</summary>
    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        private long _ticks = start.UtcTicks;

        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

        public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

        public void Set(DateTimeOffset time) => Interlocked.Exchange(ref _ticks, time.UtcTicks);
    }

    private static DateTimeOffset At(int hour, int minute, int second = 0) => new(2026, 3, 1, hour, minute, second, TimeSpan.Zero);

    [Theory]
    [InlineData("00:59", false)]
    [InlineData("01:00", true)]
    [InlineData("03:00", true)]
    [InlineData("05:30", true)]
    [InlineData("05:31", false)]
    [InlineData("23:00", false)]
    public void A_window_within_one_day_includes_both_end_minutes(string now, bool open) =>
        Assert.Equal(open, new SyncWindow(new TimeOnly(1, 0), new TimeOnly(5, 30)).Contains(TimeOnly.Parse(now, System.Globalization.CultureInfo.InvariantCulture)));

    [Theory]
    [InlineData("21:59", false)]
    [InlineData("22:00", true)]
    [InlineData("23:59", true)]
    [InlineData("00:00", true)]
    [InlineData("02:00", true)]
    [InlineData("02:01", false)]
    [InlineData("12:00", false)]
    public void A_window_with_the_end_before_the_start_wraps_past_midnight(string now, bool open) =>
        Assert.Equal(open, new SyncWindow(new TimeOnly(22, 0), new TimeOnly(2, 0)).Contains(TimeOnly.Parse(now, System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public void The_default_window_is_always_open()
    {
        var window = new SyncWindow(new TimeOnly(0, 0), new TimeOnly(23, 59));
        Assert.True(window.IsAlwaysOpen);
        Assert.True(window.Contains(new TimeOnly(23, 59, 59)));
        Assert.Equal(TimeSpan.Zero, window.UntilOpen(new TimeOnly(12, 0)));
    }

    [Fact]
    public void Until_open_counts_to_the_next_start_today_or_tomorrow()
    {
        var window = new SyncWindow(new TimeOnly(1, 0), new TimeOnly(5, 30));
        Assert.Equal(TimeSpan.FromMinutes(30), window.UntilOpen(new TimeOnly(0, 30)));
        Assert.Equal(TimeSpan.FromHours(19), window.UntilOpen(new TimeOnly(6, 0)));
        Assert.Equal(TimeSpan.Zero, window.UntilOpen(new TimeOnly(2, 0)));
    }

    [Fact]
    public async Task A_worker_outside_the_window_waits_and_resumes_when_the_clock_reaches_the_start()
    {
        var clock = new ManualClock(At(0, 59, 30));
        var window = new SyncWindow(new TimeOnly(1, 0), new TimeOnly(2, 0));
        TimeSpan? told = null;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var wait = window.WaitUntilOpenAsync(clock, left => told = left, cts.Token);

        // The clock stands still: the wait goes on, however long real time passes.
        await Task.Delay(SyncWindow.PollStep * 1.5);
        Assert.False(wait.IsCompleted);
        Assert.Equal(TimeSpan.FromSeconds(30), told);

        clock.Set(At(1, 0, 5));
        await wait.WaitAsync(SyncWindow.PollStep * 5);
        Assert.True(window.Contains(SyncWindow.Now(clock)));

        // Past the end the window is closed again until the next day's start.
        clock.Set(At(2, 1));
        Assert.False(window.Contains(SyncWindow.Now(clock)));
        Assert.Equal(TimeSpan.FromHours(23) - TimeSpan.FromMinutes(1), window.UntilOpen(SyncWindow.Now(clock)));
    }

    [Fact]
    public async Task An_open_window_does_not_wait()
    {
        var clock = new ManualClock(At(1, 30));
        bool told = false;
        var wait = new SyncWindow(new TimeOnly(1, 0), new TimeOnly(2, 0)).WaitUntilOpenAsync(clock, _ => told = true, CancellationToken.None);
        Assert.True(wait.IsCompletedSuccessfully);
        await wait;
        Assert.False(told);
    }
}
