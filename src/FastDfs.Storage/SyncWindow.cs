namespace FastDfs.Storage;

/// <summary>
/// <c>sync_start_time</c>..<c>sync_end_time</c> (protocol notes 9.3): the minutes of the local day in which a storage
/// replays its binlog to its peers. Both ends are inclusive to the minute; an end before the start wraps past
/// midnight. 00:00..23:59 (the default) means always, as in FastDFS.
/// </summary>
internal readonly record struct SyncWindow(TimeOnly Start, TimeOnly End)
{
    /// <summary>How often a worker outside the window looks at the clock again.</summary>
    public static readonly TimeSpan PollStep = TimeSpan.FromSeconds(1);

    public bool IsAlwaysOpen => Start == new TimeOnly(0, 0) && End == new TimeOnly(23, 59);

    public bool Contains(TimeOnly time)
    {
        if (IsAlwaysOpen)
        {
            return true;
        }

        int now = (time.Hour * 60) + time.Minute;
        int start = (Start.Hour * 60) + Start.Minute;
        int end = (End.Hour * 60) + End.Minute;
        return start <= end ? now >= start && now <= end : now >= start || now <= end;
    }

    /// <summary>Time until the window next opens; zero when it is open.</summary>
    public TimeSpan UntilOpen(TimeOnly time)
    {
        if (Contains(time))
        {
            return TimeSpan.Zero;
        }

        var delta = Start.ToTimeSpan() - time.ToTimeSpan();
        return delta > TimeSpan.Zero ? delta : delta + TimeSpan.FromDays(1);
    }

    /// <summary>Local time of day on <paramref name="clock"/> (FastDFS reads the window in local time).</summary>
    public static TimeOnly Now(TimeProvider clock) => TimeOnly.FromDateTime(clock.GetLocalNow().DateTime);

    /// <summary>
    /// Waits until the window is open, looking at the clock every <see cref="PollStep"/> at most (so a clock that
    /// jumps, or a test's clock, is followed). Calls <paramref name="waiting"/> once, with the time left, if it waits at all.
    /// </summary>
    public async Task WaitUntilOpenAsync(TimeProvider clock, Action<TimeSpan>? waiting, CancellationToken cancellationToken)
    {
        bool told = false;
        while (true)
        {
            var left = UntilOpen(Now(clock));
            if (left == TimeSpan.Zero)
            {
                return;
            }

            if (!told)
            {
                waiting?.Invoke(left);
                told = true;
            }

            await Task.Delay(left < PollStep ? left : PollStep, cancellationToken);
        }
    }
}
