namespace TranslationTrainer.Evaluation;

public sealed record TerScore(double Score, double NumEdits, double RefLength) : MetricScore("TER", Score);

/// <summary>
/// TER (Snover et al., 2006) with sacreBLEU's default options (case-insensitive, no normalization,
/// punctuation kept, no Asian support): words are the lowercased text split on whitespace.
/// Statistics per segment: [fewest edits over references, average reference length].
/// </summary>
public sealed class Ter : IMetric
{
    private readonly List<string[][]> _references = [];

    public Ter(IReadOnlyList<IReadOnlyList<string>> references)
    {
        MetricExtensions.CheckStreams(references);
        for (int i = 0; i < references[0].Count; i++)
            _references.Add([.. references.Select(stream => Words(stream[i]))]);
        Signature = new Signature(references.Count, [
            new("case", "lc"),
            new("tok", "tercom"),
            new("norm", "no"),
            new("punct", "yes"),
            new("asian", "no"),
        ]);
    }

    public string Name => "TER";

    public bool HigherIsBetter => false;

    public Signature Signature { get; }

    public double[][] SegmentStatistics(IReadOnlyList<string> hypotheses)
    {
        MetricExtensions.CheckHypotheses(hypotheses, _references.Count);
        var result = new double[hypotheses.Count][];
        for (int s = 0; s < hypotheses.Count; s++)
        {
            var hyp = Words(hypotheses[s]);
            double refLengths = 0;
            long bestEdits = long.MaxValue;
            foreach (var reference in _references[s])
            {
                var (edits, refLength) = TranslationEditRate.Compute(hyp, reference);
                refLengths += refLength;
                bestEdits = Math.Min(bestEdits, edits);
            }
            result[s] = [bestEdits, refLengths / _references[s].Length];
        }
        return result;
    }

    public MetricScore Compute(ReadOnlySpan<double> totals)
    {
        double edits = totals[0], refLength = totals[1];
        double score = refLength > 0 ? edits / refLength
            : edits > 0 ? 1.0  // empty references, non-empty hypothesis
            : 0.0;
        return new TerScore(100 * score, edits, refLength);
    }

    /// <summary>sacreBLEU's TercomTokenizer with default options: lowercase, whitespace split.</summary>
    private static string[] Words(string sentence) => [.. PyText.Split(PyText.Lower(PyText.RStrip(sentence)))];
}
