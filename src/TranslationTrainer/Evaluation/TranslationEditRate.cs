namespace TranslationTrainer.Evaluation;

/// <summary>
/// The edit count behind TER, following sacreBLEU's lib_ter (a Tercom reimplementation): greedily
/// apply the block shift that lowers a beam-limited Levenshtein distance most, until none does or
/// 1,000 shift candidates have been tried; edits = shifts + remaining distance.
/// </summary>
public static class TranslationEditRate
{
    private const int MaxShiftSize = 10;
    private const int MaxShiftDistance = 50;
    private const int MaxShiftCandidates = 1000;

    /// <summary>(number of edits, reference length) for one hypothesis against one reference.</summary>
    public static (long Edits, int RefLength) Compute(string[] hyp, string[] reference)
    {
        if (reference.Length == 0) return (hyp.Length, 0);
        var distance = new BeamEditDistance(reference);
        int shifts = 0, checkedCandidates = 0;
        var words = hyp;
        while (true)
        {
            var (delta, shifted) = Shift(words, reference, distance, ref checkedCandidates);
            if (checkedCandidates >= MaxShiftCandidates) break;  // budget spent: even the best shift found is dropped, as in sacreBLEU
            if (delta <= 0) break;
            shifts++;
            words = shifted;
        }
        return (shifts + distance.Distance(words).Cost, reference.Length);
    }

    private static (long Delta, string[] Words) Shift(string[] h, string[] r, BeamEditDistance distance, ref int checkedCandidates)
    {
        var (preScore, trace) = distance.Distance(h);
        var (align, refErr, hypErr) = Alignment(trace);

        (long Score, int Length, int StartH, int Idx)? best = null;
        string[]? bestWords = null;
        foreach (var (startH, startR, length) in ShiftedPairs(h, r))
        {
            if (Sum(hypErr, startH, length) == 0) continue;  // hypothesis already right there
            if (Sum(refErr, startR, length) == 0) continue;  // reference already matched there
            if (startH <= align[startR] && align[startR] < startH + length) continue;  // no shift within itself

            int prevIdx = -1;
            for (int offset = -1; offset < length; offset++)
            {
                int idx;
                if (startR + offset == -1) idx = 0;
                else if (startR + offset < r.Length) idx = align[startR + offset] + 1;  // insert before, unlike Tercom's after
                else break;
                if (idx == prevIdx) continue;
                prevIdx = idx;

                var shifted = PerformShift(h, startH, length, idx);
                var candidate = (preScore - distance.Distance(shifted).Cost, length, -startH, -idx);
                checkedCandidates++;
                if (best is null || candidate.CompareTo(best.Value) > 0)  // best gain, then longest, earliest, earliest target
                {
                    best = candidate;
                    bestWords = shifted;
                }
            }
            if (checkedCandidates >= MaxShiftCandidates) break;
        }
        return best is null ? (0, h) : (best.Value.Score, bestWords!);
    }

    private static int Sum(int[] values, int start, int length)
    {
        int sum = 0;
        for (int i = start; i < Math.Min(values.Length, start + length); i++) sum += values[i];
        return sum;
    }

    /// <summary>Moves words[start..start+length) so it begins before position <paramref name="target"/>.</summary>
    private static string[] PerformShift(string[] words, int start, int length, int target)
    {
        var result = new List<string>(words.Length);
        if (target < start)
        {
            result.AddRange(Slice(words, 0, target));
            result.AddRange(Slice(words, start, start + length));
            result.AddRange(Slice(words, target, start));
            result.AddRange(Slice(words, start + length, words.Length));
        }
        else if (target > start + length)
        {
            result.AddRange(Slice(words, 0, start));
            result.AddRange(Slice(words, start + length, target));
            result.AddRange(Slice(words, start, start + length));
            result.AddRange(Slice(words, target, words.Length));
        }
        else
        {
            result.AddRange(Slice(words, 0, start));
            result.AddRange(Slice(words, start + length, length + target));
            result.AddRange(Slice(words, start, start + length));
            result.AddRange(Slice(words, length + target, words.Length));
        }
        return [.. result];
    }

    /// <summary>Python's words[from:to], bounds clamped.</summary>
    private static ArraySegment<string> Slice(string[] words, int from, int to)
    {
        from = Math.Clamp(from, 0, words.Length);
        to = Math.Clamp(to, from, words.Length);
        return new ArraySegment<string>(words, from, to - from);
    }

    /// <summary>Matching word runs (start in hyp, start in ref, length) at different positions, lengths up to 10.</summary>
    private static IEnumerable<(int StartH, int StartR, int Length)> ShiftedPairs(string[] h, string[] r)
    {
        for (int startH = 0; startH < h.Length; startH++)
        {
            for (int startR = 0; startR < r.Length; startR++)
            {
                if (Math.Abs(startR - startH) > MaxShiftDistance) continue;
                int length = 0;
                while (h[startH + length] == r[startR + length] && length < MaxShiftSize)
                {
                    length++;
                    yield return (startH, startR, length);
                    if (h.Length == startH + length || r.Length == startR + length) break;
                }
            }
        }
    }

    /// <summary>Reads an edit trace (rewriting the reference into the hypothesis) into an alignment and error flags.</summary>
    private static (int[] Align, int[] RefErr, int[] HypErr) Alignment(string trace)
    {
        int posHyp = -1, posRef = -1;
        var hypErr = new List<int>();
        var refErr = new List<int>();
        var align = new List<int>();
        foreach (var op in trace)
        {
            // the distance's trace rewrites the hypothesis into the reference: flip insertions and deletions
            switch (op)
            {
                case BeamEditDistance.Nop or BeamEditDistance.Sub:
                    posHyp++;
                    posRef++;
                    align.Add(posHyp);
                    int err = op == BeamEditDistance.Sub ? 1 : 0;
                    hypErr.Add(err);
                    refErr.Add(err);
                    break;
                case BeamEditDistance.Del:  // flipped: an insertion
                    posHyp++;
                    hypErr.Add(1);
                    break;
                case BeamEditDistance.Ins:  // flipped: a deletion
                    posRef++;
                    align.Add(posHyp);
                    refErr.Add(1);
                    break;
                default:
                    throw new InvalidOperationException($"unknown edit operation '{op}'");
            }
        }
        return ([.. align], [.. refErr], [.. hypErr]);
    }
}
