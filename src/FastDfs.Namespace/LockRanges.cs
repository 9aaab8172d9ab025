using FastDfs.Protocol.Messages;

namespace FastDfs.Namespace;

/// <summary>
/// POSIX's rules for one owner's locks on one file: a new lock (or an unlock) replaces whatever the owner held on its
/// range, splitting the ranges it cuts, and ranges of one type that touch or overlap become one. An upgrade or a
/// downgrade is the same replacement. Pure, so the store runs it inside its transaction and tests run it alone.
/// </summary>
public static class LockRanges
{
    /// <summary>The owner's ranges after setting <paramref name="type"/> on [<paramref name="first"/>, <paramref name="last"/>], sorted.</summary>
    public static List<NsLockRange> Apply(IEnumerable<NsLockRange> held, NsLockType type, long first, long last, int pid)
    {
        var result = new List<NsLockRange>();
        foreach (var r in held)
        {
            if (r.End < first || r.Start > last)
            {
                result.Add(r);
                continue;
            }

            // The part before and the part after the new range stay.
            if (r.Start < first)
            {
                result.Add(r with { End = first - 1 });
            }

            if (r.End > last)
            {
                result.Add(r with { Start = last + 1 });
            }
        }

        if (type != NsLockType.Unlock)
        {
            result.Add(new NsLockRange(type, first, last, pid));
        }

        result.Sort((a, b) => a.Start.CompareTo(b.Start));
        var merged = new List<NsLockRange>(result.Count);
        foreach (var r in result)
        {
            // Touching: the previous range ends right before this one (long.MaxValue never has a successor).
            if (merged.Count > 0 && merged[^1] is var previous && previous.Type == r.Type
                && (previous.End == long.MaxValue || previous.End + 1 >= r.Start))
            {
                merged[^1] = previous with { End = Math.Max(previous.End, r.End), Pid = r.Type == type ? pid : previous.Pid };
            }
            else
            {
                merged.Add(r);
            }
        }

        return merged;
    }

    /// <summary>The parts of <paramref name="held"/> inside [<paramref name="first"/>, <paramref name="last"/>], sorted: what a change of that range replaces.</summary>
    public static NsLockRange[] Clip(IEnumerable<NsLockRange> held, long first, long last) =>
        [.. held.Where(r => r.End >= first && r.Start <= last)
            .OrderBy(r => r.Start)
            .Select(r => r with { Start = Math.Max(r.Start, first), End = Math.Min(r.End, last) })];
}
