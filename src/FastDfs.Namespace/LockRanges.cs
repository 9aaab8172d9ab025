using FastDfs.Protocol.Messages;

namespace FastDfs.Namespace;

/// <summary>One owner's lock on an inclusive byte range.</summary>
public readonly record struct LockRange(NsLockType Type, long First, long Last, int Pid);

/// <summary>
/// POSIX's rules for one owner's locks on one file: a new lock (or an unlock) replaces whatever the owner held on its
/// range, splitting the ranges it cuts, and ranges of one type that touch or overlap become one. An upgrade or a
/// downgrade is the same replacement. Pure, so the store runs it inside its transaction and tests run it alone.
/// </summary>
public static class LockRanges
{
    /// <summary>The owner's ranges after setting <paramref name="type"/> on [<paramref name="first"/>, <paramref name="last"/>], sorted.</summary>
    public static List<LockRange> Apply(IEnumerable<LockRange> held, NsLockType type, long first, long last, int pid)
    {
        var result = new List<LockRange>();
        foreach (var r in held)
        {
            if (r.Last < first || r.First > last)
            {
                result.Add(r);
                continue;
            }

            // The part before and the part after the new range stay.
            if (r.First < first)
            {
                result.Add(r with { Last = first - 1 });
            }

            if (r.Last > last)
            {
                result.Add(r with { First = last + 1 });
            }
        }

        if (type != NsLockType.Unlock)
        {
            result.Add(new LockRange(type, first, last, pid));
        }

        result.Sort((a, b) => a.First.CompareTo(b.First));
        var merged = new List<LockRange>(result.Count);
        foreach (var r in result)
        {
            // Touching: the previous range ends right before this one (long.MaxValue never has a successor).
            if (merged.Count > 0 && merged[^1] is var previous && previous.Type == r.Type
                && (previous.Last == long.MaxValue || previous.Last + 1 >= r.First))
            {
                merged[^1] = previous with { Last = Math.Max(previous.Last, r.Last), Pid = r.Type == type ? pid : previous.Pid };
            }
            else
            {
                merged.Add(r);
            }
        }

        return merged;
    }

    /// <summary>The parts of <paramref name="held"/> inside [<paramref name="first"/>, <paramref name="last"/>], sorted: what a change of that range replaces.</summary>
    public static NsLockRange[] Clip(IEnumerable<LockRange> held, long first, long last) =>
        [.. held.Where(r => r.Last >= first && r.First <= last)
            .OrderBy(r => r.First)
            .Select(r => new NsLockRange(r.Type, Math.Max(r.First, first), Math.Min(r.Last, last), r.Pid))];

    /// <summary>True when a lock of <paramref name="type"/> cannot coexist with one of <paramref name="held"/> (one of them writes).</summary>
    public static bool Conflicts(NsLockType type, NsLockType held) => type == NsLockType.Write || held == NsLockType.Write;
}
