using System.Runtime.CompilerServices;

namespace TranslationTrainer.Evaluation;

/// <summary>BLEU settings, named and defaulted as in sacreBLEU's <c>BLEU(...)</c>.</summary>
public sealed record BleuOptions(
    string Tokenize = "13a",
    bool Lowercase = false,
    string SmoothMethod = "exp",
    double? SmoothValue = null,
    bool EffectiveOrder = false,
    bool Force = false,
    int MaxNgramOrder = 4)
{
    public static readonly IReadOnlyList<string> SmoothMethods = ["exp", "floor", "add-k", "none"];

    /// <summary>sacreBLEU's defaults for methods that take a value (Chen and Cherry, 2014).</summary>
    public static double? DefaultSmoothValue(string method) => method switch
    {
        "floor" => 0.1,
        "add-k" => 1,
        _ => null,
    };
}

public sealed record BleuScore(
    double Score, double[] Counts, double[] Totals, double[] Precisions, double Bp, int SysLen, int RefLen)
    : MetricScore("BLEU", Score)
{
    public double Ratio => RefLen != 0 ? (double)SysLen / RefLen : 0;

    public override string Verbose =>
        string.Join("/", Precisions.Select(p => PyText.Fixed(p, 1)))
        + $" (BP = {PyText.Fixed(Bp, 3)} ratio = {PyText.Fixed(Ratio, 3)} hyp_len = {SysLen} ref_len = {RefLen})";
}

/// <summary>
/// Corpus BLEU (Papineni et al., 2002) as sacreBLEU computes it: clipped n-gram counts against the
/// per-n-gram maximum over references, brevity penalty from the closest reference length.
/// Statistics per segment: [hyp_len, ref_len, correct_1..N, total_1..N].
/// </summary>
public sealed class Bleu : IMetric
{
    private const int IdBits = 21;  // n-grams are packed into a UInt128, 21 bits per token id, up to 6 tokens
    private readonly BleuOptions _options;
    private readonly Func<string, string> _tokenizer;
    private readonly double? _smoothValue;
    private readonly Dictionary<string, int> _vocabulary = new(StringComparer.Ordinal);
    private readonly List<(CountTable<NgramKey> Ngrams, int[] Lengths)> _references = [];

    public Bleu(BleuOptions options, IReadOnlyList<IReadOnlyList<string>> references)
    {
        if (!BleuOptions.SmoothMethods.Contains(options.SmoothMethod))
            throw new UserError($"unknown smoothing method '{options.SmoothMethod}' (expected one of: {string.Join(", ", BleuOptions.SmoothMethods)})");
        if (options.MaxNgramOrder is < 1 or > 6)
            throw new UserError($"BLEU n-gram order must be between 1 and 6, not {options.MaxNgramOrder}");
        _options = options;
        _tokenizer = Tokenizers.Get(options.Tokenize);
        _smoothValue = options.SmoothValue ?? BleuOptions.DefaultSmoothValue(options.SmoothMethod);
        MetricExtensions.CheckStreams(references);
        for (int i = 0; i < references[0].Count; i++)
            _references.Add(ReferenceInfo(references.Select(stream => stream[i])));

        var smooth = options.SmoothMethod;
        if (BleuOptions.DefaultSmoothValue(smooth) is not null)
            smooth += $"[{PyText.Fixed(_smoothValue!.Value, 2)}]";
        Signature = new Signature(references.Count, [
            new("case", options.Lowercase ? "lc" : "mixed"),
            new("eff", options.EffectiveOrder ? "yes" : "no"),
            new("tok", options.Tokenize),
            new("smooth", smooth),
        ]);
    }

    public string Name => "BLEU";

    public bool HigherIsBetter => true;

    public Signature Signature { get; }

    private int Order => _options.MaxNgramOrder;

    /// <summary>sacreBLEU warns when this many hypotheses or more end in " ." (probably tokenized) and --force is off.</summary>
    public const int TokenizedPeriodWarningLines = 100;

    /// <summary>How many hypotheses end in a tokenized period, unless --force says that is intended.</summary>
    public int TokenizedPeriodLines(IEnumerable<string> hypotheses) =>
        _options.Force ? 0 : hypotheses.Count(h => h.EndsWith(" .", StringComparison.Ordinal));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // hot loop: skip tier-0 code in a short-lived process
    public double[][] SegmentStatistics(IReadOnlyList<string> hypotheses)
    {
        MetricExtensions.CheckHypotheses(hypotheses, _references.Count);
        var result = new double[hypotheses.Count][];
        var counts = new CountTable<NgramKey>(256);
        for (int s = 0; s < hypotheses.Count; s++)
        {
            var tokens = PyText.Split(Preprocess(hypotheses[s]));
            var ids = new int[tokens.Count];
            for (int t = 0; t < tokens.Count; t++)
                ids[t] = _vocabulary.TryGetValue(tokens[t], out var id) ? id : -1;  // unseen in any reference: never matches

            var (refNgrams, refLengths) = _references[s];
            var stats = new double[2 + 2 * Order];
            stats[0] = tokens.Count;
            stats[1] = ClosestReferenceLength(tokens.Count, refLengths);
            counts.Clear();
            for (int n = 1; n <= Order; n++)
            {
                stats[2 + Order + n - 1] = Math.Max(0, tokens.Count - n + 1);
                for (int i = 0; i + n <= ids.Length; i++)
                    if (TryKey(ids, i, n, out var key))
                        counts.Slot(key)++;
            }
            foreach (var (key, count) in counts.Entries())
                stats[2 + OrderOf(key.Value) - 1] += Math.Min(count, refNgrams.Get(key));
            result[s] = stats;
        }
        return result;
    }

    public MetricScore Compute(ReadOnlySpan<double> totals) => ComputeBleu(
        totals.Slice(2, Order).ToArray(), totals.Slice(2 + Order, Order).ToArray(),
        (int)totals[0], (int)totals[1], _options.SmoothMethod, _smoothValue, _options.EffectiveOrder);

    /// <summary>sacreBLEU's <c>BLEU.compute_bleu</c>: smoothed geometric mean of precisions times brevity penalty.</summary>
    public static BleuScore ComputeBleu(double[] correct, double[] total, int sysLen, int refLen,
        string smoothMethod = "none", double? smoothValue = null, bool effectiveOrder = false)
    {
        int order = correct.Length;
        smoothValue ??= BleuOptions.DefaultSmoothValue(smoothMethod);
        double bp = 1.0;
        if (sysLen < refLen)
            bp = sysLen > 0 ? Math.Exp(1 - (double)refLen / sysLen) : 0.0;

        var precisions = new double[order];
        if (correct.All(c => c == 0))  // no matches at all: 0, whatever the smoothing (sacreBLEU #141)
            return new BleuScore(0.0, correct, total, precisions, bp, sysLen, refLen);

        double smoothMteval = 1.0;
        int effOrder = order;
        for (int n = 1; n <= order; n++)
        {
            if (smoothMethod == "add-k" && n > 1)
            {
                correct[n - 1] += smoothValue!.Value;
                total[n - 1] += smoothValue!.Value;
            }
            if (total[n - 1] == 0) break;
            if (effectiveOrder) effOrder = n;

            if (correct[n - 1] == 0)
            {
                if (smoothMethod == "exp")
                {
                    smoothMteval *= 2;
                    precisions[n - 1] = 100.0 / (smoothMteval * total[n - 1]);
                }
                else if (smoothMethod == "floor")
                    precisions[n - 1] = 100.0 * smoothValue!.Value / total[n - 1];
            }
            else precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1];
        }

        double logSum = 0;
        for (int n = 0; n < effOrder; n++)
            logSum += precisions[n] == 0.0 ? -9999999999 : Math.Log(precisions[n]);  // sacreBLEU's my_log floor
        return new BleuScore(bp * Math.Exp(logSum / effOrder), correct, total, precisions, bp, sysLen, refLen);
    }

    private string Preprocess(string sentence)
    {
        if (_options.Lowercase) sentence = PyText.Lower(sentence);
        return _tokenizer(PyText.RStrip(sentence));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // hot loop: skip tier-0 code in a short-lived process
    private (CountTable<NgramKey>, int[]) ReferenceInfo(IEnumerable<string> references)
    {
        var merged = new CountTable<NgramKey>(64);
        var lengths = new List<int>();
        var counts = new CountTable<NgramKey>(64);
        foreach (var reference in references)
        {
            var tokens = PyText.Split(Preprocess(reference));
            lengths.Add(tokens.Count);
            var ids = tokens.Select(Intern).ToArray();
            counts.Clear();
            for (int n = 1; n <= Order; n++)
                for (int i = 0; i + n <= ids.Length; i++)
                    if (TryKey(ids, i, n, out var key))
                        counts.Slot(key)++;
            foreach (var (key, count) in counts.Entries())  // several references: keep the largest count of each n-gram
            {
                ref int slot = ref merged.Slot(key);
                slot = Math.Max(slot, count);
            }
        }
        return (merged, [.. lengths]);
    }

    private int Intern(string token)
    {
        if (!_vocabulary.TryGetValue(token, out var id))
        {
            id = _vocabulary.Count;
            if (id >= (1 << IdBits) - 1)
                throw new UserError($"references have more than {(1 << IdBits) - 2} distinct tokens; BLEU cannot index them");
            _vocabulary.Add(token, id);
        }
        return id;
    }

    private static bool TryKey(int[] ids, int start, int n, out NgramKey key)
    {
        UInt128 packed = 0;
        key = default;
        for (int k = start; k < start + n; k++)
        {
            if (ids[k] < 0) return false;
            packed = (packed << IdBits) | (UInt128)(uint)(ids[k] + 1);
        }
        key = new NgramKey(packed);
        return true;
    }

    /// <summary>Token ids packed 21 bits each; the number of non-zero groups is the order.</summary>
    private readonly record struct NgramKey(UInt128 Value)
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public bool Equals(NgramKey other) => Value == other.Value;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override int GetHashCode()
        {
            ulong lo = (ulong)Value, hi = (ulong)(Value >> 64);
            ulong h = (lo ^ (hi * 0x9E3779B97F4A7C15UL)) * 0xBF58476D1CE4E5B9UL;
            return (int)(h >> 32);
        }
    }

    private static int OrderOf(UInt128 key)
    {
        int n = 0;
        for (; key != 0; key >>= IdBits) n++;
        return n;
    }

    /// <summary>The reference length closest to the hypothesis length; ties go to the shorter reference.</summary>
    public static int ClosestReferenceLength(int hypLength, IReadOnlyList<int> refLengths)
    {
        int closestDiff = -1, closestLen = -1;
        foreach (var refLen in refLengths)
        {
            int diff = Math.Abs(hypLength - refLen);
            if (closestDiff == -1 || diff < closestDiff)
            {
                closestDiff = diff;
                closestLen = refLen;
            }
            else if (diff == closestDiff && refLen < closestLen)
                closestLen = refLen;
        }
        return closestLen;
    }
}
