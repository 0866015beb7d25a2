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
    private readonly List<List<Dictionary<Ngram, int>[]>> _references = [];

    public Chrf(ChrfOptions options, IReadOnlyList<IReadOnlyList<string>> references)
    {
        if (options.CharOrder < 0 || options.WordOrder < 0 || options.CharOrder + options.WordOrder == 0)
            throw new UserError($"chrF needs a positive n-gram order (char {options.CharOrder}, word {options.WordOrder})");
        _options = options;
        MetricExtensions.CheckStreams(references);
        for (int i = 0; i < references[0].Count; i++)
            _references.Add([.. references.Select(stream => Ngrams(Preprocess(stream[i])))]);
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

    public double[][] SegmentStatistics(IReadOnlyList<string> hypotheses)
    {
        MetricExtensions.CheckHypotheses(hypotheses, _references.Count);
        var result = new double[hypotheses.Count][];
        for (int s = 0; s < hypotheses.Count; s++)
        {
            var hyp = Ngrams(Preprocess(hypotheses[s]));
            double[]? best = null;
            double bestF = -1.0;
            foreach (var reference in _references[s])
            {
                var stats = new double[3 * Orders];
                for (int o = 0; o < Orders; o++)
                {
                    var (h, r) = (hyp[o], reference[o]);
                    double hypCount = 0, match = 0, refCount = 0;
                    foreach (var (ngram, count) in h)
                    {
                        hypCount += count;
                        if (r.TryGetValue(ngram, out var rc)) match += Math.Min(count, rc);
                    }
                    foreach (var count in r.Values) refCount += count;
                    stats[3 * o] = r.Count > 0 ? hypCount : 0;  // sacreBLEU: no hypothesis count without reference n-grams
                    stats[3 * o + 1] = refCount;
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

    /// <summary>Counts of character n-grams (orders 1..CharOrder) then word n-grams (1..WordOrder).</summary>
    private Dictionary<Ngram, int>[] Ngrams(string sentence)
    {
        var all = new Dictionary<Ngram, int>[Orders];
        var chars = _options.Whitespace ? sentence : PyText.RemoveSpaces(sentence);
        var starts = CodePointStarts(chars);
        int length = starts.Length - 1;
        for (int n = 1; n <= _options.CharOrder; n++)
        {
            var counts = all[n - 1] = new Dictionary<Ngram, int>(Math.Max(0, length - n + 1));
            for (int i = 0; i + n <= length; i++)
            {
                var key = new Ngram(chars, starts[i], starts[i + n] - starts[i]);
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
        }
        if (_options.WordOrder > 0)
        {
            var words = SplitPunctuation(sentence);
            for (int n = 1; n <= _options.WordOrder; n++)
            {
                var counts = all[_options.CharOrder + n - 1] = new Dictionary<Ngram, int>();
                for (int i = 0; i + n <= words.Count; i++)
                {
                    var joined = string.Join(' ', words.Skip(i).Take(n));
                    var key = new Ngram(joined, 0, joined.Length);
                    counts[key] = counts.GetValueOrDefault(key) + 1;
                }
            }
        }
        return all;
    }

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

        public bool Equals(Ngram other) => Span.SequenceEqual(other.Span);

        public override bool Equals(object? obj) => obj is Ngram other && Equals(other);

        public override int GetHashCode() => string.GetHashCode(Span);
    }
}
