namespace TranslationTrainer.Evaluation;

/// <summary>A corpus-level score; <see cref="Verbose"/> is what sacreBLEU prints after the number.</summary>
public record MetricScore(string Name, double Score)
{
    public virtual string Verbose => "";
}

/// <summary>
/// A metric over sufficient statistics, as sacreBLEU structures them: references are prepared once,
/// each hypothesis yields a vector of statistics, and any subset of segments is scored by summing
/// their vectors (which is what makes bootstrap and randomization tests cheap).
/// </summary>
public interface IMetric
{
    /// <summary>The display name ("BLEU", "chrF2", "chrF2++", "TER").</summary>
    string Name { get; }

    /// <summary>False for error rates (TER), where a lower score is better.</summary>
    bool HigherIsBetter { get; }

    Signature Signature { get; }

    /// <summary>One statistics vector per hypothesis, against the references given at construction.</summary>
    double[][] SegmentStatistics(IReadOnlyList<string> hypotheses);

    /// <summary>The score of the segments whose statistics were summed into <paramref name="totals"/>.</summary>
    MetricScore Compute(ReadOnlySpan<double> totals);
}

public static class MetricExtensions
{
    /// <summary>Element-wise sum of segment statistics (sacreBLEU's <c>sum_of_lists</c>).</summary>
    public static double[] Sum(IReadOnlyList<double[]> stats, int width)
    {
        var total = new double[width];
        foreach (var row in stats)
            for (int k = 0; k < width; k++) total[k] += row[k];
        return total;
    }

    /// <summary>Corpus score of a system: statistics summed over all segments.</summary>
    public static MetricScore CorpusScore(this IMetric metric, IReadOnlyList<string> hypotheses)
    {
        var stats = metric.SegmentStatistics(hypotheses);
        return metric.Compute(Sum(stats, stats.Length == 0 ? 0 : stats[0].Length));
    }

    /// <summary>Checks that every reference stream is as long as the hypotheses (callers name files themselves).</summary>
    internal static void CheckStreams(IReadOnlyList<IReadOnlyList<string>> references)
    {
        if (references.Count == 0) throw new UserError("at least one reference is needed");
        foreach (var stream in references)
            if (stream.Count != references[0].Count)
                throw new UserError($"reference streams differ in length ({references[0].Count} and {stream.Count} lines)");
    }

    internal static void CheckHypotheses(IReadOnlyList<string> hypotheses, int expected)
    {
        if (hypotheses.Count != expected)
            throw new UserError($"{hypotheses.Count} hypotheses but {expected} references");
    }
}
