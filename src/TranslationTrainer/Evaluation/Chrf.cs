using System.Runtime.CompilerServices;

namespace TranslationTrainer.Evaluation;

/// <summary>chrF settings as in sacreBLEU's <c>CHRF(...)</c>; WordOrder 2 gives chrF++.</summary>
public sealed record ChrfOptions(
    int CharOrder = 6,
    int WordOrder = 0,
    int Beta = 2,
    bool Lowercase = false,
    bool Whitespace = false,
    bool EpsSmoothing = false);

/// <summary>
/// chrF (Popović 2015) and chrF++ (Popović 2017) as sacreBLEU computes them. Statistics per segment:
/// [hyp, ref, match] counts for each character order then each word order, taken from the reference
/// with the best sentence-level F-score when there are several.
/// </summary>
public sealed class Chrf : IMetric
{
    private const string Punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    private readonly ChrfOptions _options;
    private readonly List<ReferenceNgrams[]> _references = [];

    public Chrf(ChrfOptions options, IReadOnlyList<IReadOnlyList<string>> references)
    {
        if (options.CharOrder < 0 || options.WordOrder < 0 || options.CharOrder + options.WordOrder == 0)
            throw new UserError($"chrF needs a positive n-gram order (char {options.CharOrder}, word {options.WordOrder})");
        _options = options;
        MetricExtensions.CheckStreams(references);
        for (int i = 0; i < references[0].Count; i++)
            _references.Add([.. references.Select(stream => Count(Preprocess(stream[i])))]);
        Name = $"chrF{options.Beta}" + new string('+', options.WordOrder);
        Signature = new Signature(references.Count, [
            new("case", options.Lowercase ? "lc" : "mixed"),
            new("eff", options.EpsSmoothing ? "no" : "yes"),
            new("nc", options.CharOrder.ToString()),
            new("nw", options.WordOrder.ToString()),
            new("space", options.Whitespace ? "yes" : "no"),
        ]);
    }

    public string Name { get; }

    public bool HigherIsBetter => true;

    public Signature Signature { get; }

    private int Orders => _options.CharOrder + _options.WordOrder;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // hot loop: skip tier-0 code in a short-lived process
    public double[][] SegmentStatistics(IReadOnlyList<string> hypotheses)
    {
        MetricExtensions.CheckHypotheses(hypotheses, _references.Count);
        var result = new double[hypotheses.Count][];
        var used = new CountTable<Ngram>(256);  // scratch: hypothesis occurrences already matched, per order
        for (int s = 0; s < hypotheses.Count; s++)
        {
            var hyp = Sequences(Preprocess(hypotheses[s]));
            double[]? best = null;
            double bestF = -1.0;
            foreach (var reference in _references[s])
            {
                var stats = new double[3 * Orders];
                for (int o = 0; o < Orders; o++)
                {
                    var (text, starts, n) = hyp[o];
                    var refCounts = reference.Counts[o];
                    int hypCount = Math.Max(0, starts.Length - n);
                    int match = 0;
                    used.Clear();
                    for (int i = 0; i + n < starts.Length; i++)
                    {
                        var key = new Ngram(text, starts[i], starts[i + n] - starts[i] - (o < _options.CharOrder ? 0 : 1));
                        int available = refCounts.Get(key);
                        if (available == 0) continue;
                        ref int taken = ref used.Slot(key);
                        if (taken < available)  // sum over n-grams of min(hyp count, ref count)
                        {
                            taken++;
                            match++;
                        }
                    }
                    stats[3 * o] = refCounts.Count > 0 ? hypCount : 0;  // sacreBLEU: no hypothesis count without reference n-grams
                    stats[3 * o + 1] = reference.Totals[o];
                    stats[3 * o + 2] = match;
                }
                var f = FScore(stats);
                if (f > bestF)
                {
                    bestF = f;
                    best = stats;
                }
            }
            result[s] = best!;
        }
        return result;
    }

    public MetricScore Compute(ReadOnlySpan<double> totals) => new(Name, FScore(totals));

    /// <summary>sacreBLEU's <c>_compute_f_score</c>: averaged precision/recall over orders with both sides present, or eps smoothing.</summary>
    private double FScore(ReadOnlySpan<double> stats)
    {
        const double eps = 1e-16;
        double score = 0.0, avgPrec = 0.0, avgRec = 0.0;
        int effectiveOrder = 0;
        double factor = _options.Beta * _options.Beta;
        for (int i = 0; i < Orders; i++)
        {
            double nHyp = stats[3 * i], nRef = stats[3 * i + 1], nMatch = stats[3 * i + 2];
            double prec = nHyp > 0 ? nMatch / nHyp : eps;
            double rec = nRef > 0 ? nMatch / nRef : eps;
            double denom = factor * prec + rec;
            score += denom > 0 ? (1 + factor) * prec * rec / denom : eps;
            if (nHyp > 0 && nRef > 0)
            {
                avgPrec += prec;
                avgRec += rec;
                effectiveOrder++;
            }
        }
        if (_options.EpsSmoothing) return 100 * score / Orders;
        if (effectiveOrder == 0) avgPrec = avgRec = 0.0;
        else
        {
            avgPrec /= effectiveOrder;
            avgRec /= effectiveOrder;
        }
        if (avgPrec + avgRec == 0) return 0.0;
        return 100 * (1 + factor) * avgPrec * avgRec / (factor * avgPrec + avgRec);
    }

    private string Preprocess(string sentence) => _options.Lowercase ? PyText.Lower(sentence) : sentence;

    /// <summary>
    /// Per order, the text and the offsets where its units start (code points without whitespace for
    /// character orders; words joined by single spaces, offsets one past each space, for word orders),
    /// so that the n-gram at i spans starts[i]..starts[i+n] (less the trailing space for words).
    /// </summary>
    private (string Text, int[] Starts, int N)[] Sequences(string sentence)
    {
        var all = new (string, int[], int)[Orders];
        var chars = _options.Whitespace ? sentence : PyText.RemoveSpaces(sentence);
        var starts = CodePointStarts(chars);
        for (int n = 1; n <= _options.CharOrder; n++) all[n - 1] = (chars, starts, n);
        if (_options.WordOrder > 0)
        {
            var words = SplitPunctuation(sentence);
            var joined = string.Join(' ', words) + " ";
            var wordStarts = new int[words.Count + 1];
            for (int w = 0, offset = 0; w < words.Count; w++)
            {
                wordStarts[w] = offset;
                offset += words[w].Length + 1;
                wordStarts[w + 1] = offset;
            }
            for (int n = 1; n <= _options.WordOrder; n++) all[_options.CharOrder + n - 1] = (joined, wordStarts, n);
        }
        return all;
    }

    /// <summary>Counts of every order's n-grams of a reference, and their totals.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // hot loop: skip tier-0 code in a short-lived process
    private ReferenceNgrams Count(string sentence)
    {
        var sequences = Sequences(sentence);
        var counts = new CountTable<Ngram>[Orders];
        var totals = new int[Orders];
        for (int o = 0; o < Orders; o++)
        {
            var (text, starts, n) = sequences[o];
            totals[o] = Math.Max(0, starts.Length - n);
            var table = counts[o] = new CountTable<Ngram>(totals[o]);
            for (int i = 0; i + n < starts.Length; i++)
            {
                var key = new Ngram(text, starts[i], starts[i + n] - starts[i] - (o < _options.CharOrder ? 0 : 1));
                table.Slot(key)++;
            }
        }
        return new ReferenceNgrams(counts, totals);
    }

    private sealed record ReferenceNgrams(CountTable<Ngram>[] Counts, int[] Totals);

    /// <summary>chrF++'s word split: one leading or trailing ASCII punctuation mark becomes its own word (sacreBLEU #124 kept).</summary>
    private static List<string> SplitPunctuation(string sentence)
    {
        var words = new List<string>();
        foreach (var w in PyText.Split(sentence))
        {
            if (CodePointLength(w) == 1) words.Add(w);
            else if (Punctuation.Contains(w[^1]))
            {
                words.Add(w[..^1]);
                words.Add(w[^1..]);
            }
            else if (Punctuation.Contains(w[0]))
            {
                words.Add(w[..1]);
                words.Add(w[1..]);
            }
            else words.Add(w);
        }
        return words;
    }

    private static int CodePointLength(string s)
    {
        int n = 0;
        for (int i = 0; i < s.Length; i++, n++)
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
        return n;
    }

    /// <summary>UTF-16 offsets of each code point plus the end, since Python counts n-grams in code points.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // hot loop: skip tier-0 code in a short-lived process
    private static int[] CodePointStarts(string s)
    {
        var starts = new List<int>(s.Length + 1);
        for (int i = 0; i < s.Length; i++)
        {
            starts.Add(i);
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
        }
        starts.Add(s.Length);
        return [.. starts];
    }

    /// <summary>A slice of a string used as a dictionary key without allocating the substring.</summary>
    private readonly struct Ngram(string text, int start, int length) : IEquatable<Ngram>
    {
        private ReadOnlySpan<char> Span => text.AsSpan(start, length);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public bool Equals(Ngram other) => Span.SequenceEqual(other.Span);

        public override bool Equals(object? obj) => obj is Ngram other && Equals(other);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override int GetHashCode() => string.GetHashCode(Span);
    }
}
