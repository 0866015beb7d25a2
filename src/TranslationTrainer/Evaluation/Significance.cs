using System.Runtime.CompilerServices;

namespace TranslationTrainer.Evaluation;

/// <summary>A bootstrap estimate: mean of the resampled scores and half the width of their central 95%.</summary>
public sealed record ConfidenceInterval(double Mean, double HalfWidth);

/// <summary>One system's line in a paired test; the baseline has no p-value.</summary>
public sealed record PairedResult(MetricScore Score, double? PValue, ConfidenceInterval? Confidence);

public enum PairedTestKind { Bootstrap, ApproximateRandomization }

/// <summary>
/// sacreBLEU's significance module over segment statistics: bootstrap confidence intervals, the paired
/// bootstrap test (Koehn 2004, as Moses' bootstrap-hypothesis-difference-significance.pl) and paired
/// approximate randomization (as MultEval). Every system is resampled with the same seeded index
/// draws, as sacreBLEU reseeds per system; our generator is .NET's seeded Random, not numpy's PCG64, so
/// p-values and intervals match sacreBLEU's statistically, not digit for digit.
/// </summary>
public static class Significance
{
    public const int DefaultSeed = 12345;
    public const int DefaultBootstrapSamples = 1000;
    public const int DefaultRandomizationTrials = 10000;

    /// <summary>Resampled segment indices: <paramref name="samples"/> draws of n indices with replacement.</summary>
    public static int[][] BootstrapIndices(int segments, int samples, int seed)
    {
        var rng = new Random(seed);
        var indices = new int[samples][];
        for (int s = 0; s < samples; s++)
        {
            var row = indices[s] = new int[segments];
            for (int i = 0; i < segments; i++) row[i] = rng.Next(segments);
        }
        return indices;
    }

    /// <summary>Scores of the bootstrap resamples of one system.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // hot loop: skip tier-0 code in a short-lived process
    public static double[] ResampledScores(IMetric metric, double[][] stats, int[][] indices)
    {
        int width = stats.Length == 0 ? 0 : stats[0].Length;
        var scores = new double[indices.Length];
        var sum = new double[width];
        for (int s = 0; s < indices.Length; s++)
        {
            Array.Clear(sum);
            foreach (var i in indices[s])
            {
                var row = stats[i];
                for (int k = 0; k < width; k++) sum[k] += row[k];
            }
            scores[s] = metric.Compute(sum).Score;
        }
        return scores;
    }

    /// <summary>sacreBLEU's <c>estimate_ci</c>: mean, and half the distance between the 2.5% and 97.5% order statistics.</summary>
    public static ConfidenceInterval EstimateInterval(IReadOnlyList<double> scores)
    {
        var sorted = scores.Order().ToArray();
        int n = sorted.Length;
        int lower = n / 40, upper = n - lower - 1;
        return new ConfidenceInterval(sorted.Average(), 0.5 * (sorted[upper] - sorted[lower]));
    }

    /// <summary>95% confidence interval of one system's score by bootstrap resampling.</summary>
    public static ConfidenceInterval Bootstrap(IMetric metric, double[][] stats, int samples = DefaultBootstrapSamples, int seed = DefaultSeed) =>
        EstimateInterval(ResampledScores(metric, stats, BootstrapIndices(stats.Length, samples, seed)));

    /// <summary>
    /// Paired bootstrap: p = (1 + #{resamples whose centred |sys - base| difference exceeds the real one}) / (1 + n),
    /// with a confidence interval for every system from the same resamples.
    /// </summary>
    public static IReadOnlyList<PairedResult> PairedBootstrap(IMetric metric, double[][] baseline, IReadOnlyList<double[][]> systems,
        int samples = DefaultBootstrapSamples, int seed = DefaultSeed)
    {
        var indices = BootstrapIndices(baseline.Length, samples, seed);
        var baseScore = metric.Compute(MetricExtensions.Sum(baseline, Width(baseline)));
        var baseScores = ResampledScores(metric, baseline, indices);
        var results = new List<PairedResult> { new(baseScore, null, EstimateInterval(baseScores)) };
        foreach (var system in systems)
        {
            var score = metric.Compute(MetricExtensions.Sum(system, Width(system)));
            var scores = ResampledScores(metric, system, indices);
            var diffs = scores.Select((s, k) => Math.Abs(s - baseScores[k])).ToArray();
            double meanDiff = diffs.Average();
            var centred = diffs.Select(d => d - meanDiff).ToArray();
            results.Add(new(score, PValue(centred, Math.Abs(baseScore.Score - score.Score)), EstimateInterval(scores)));
        }
        return results;
    }

    /// <summary>
    /// Paired approximate randomization: each trial swaps each segment's baseline/system statistics with
    /// probability 1/2; p = (1 + #{trials with |a - b| above the real difference}) / (1 + trials).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // hot loop: skip tier-0 code in a short-lived process
    public static IReadOnlyList<PairedResult> PairedRandomization(IMetric metric, double[][] baseline, IReadOnlyList<double[][]> systems,
        int trials = DefaultRandomizationTrials, int seed = DefaultSeed)
    {
        int width = Width(baseline);
        var baseTotal = MetricExtensions.Sum(baseline, width);
        var baseScore = metric.Compute(baseTotal);
        var results = new List<PairedResult> { new(baseScore, null, null) };
        foreach (var system in systems)
        {
            var sysTotal = MetricExtensions.Sum(system, width);
            var score = metric.Compute(sysTotal);
            // a = system totals with the swapped segments' statistics replaced by the baseline's; a + b is constant
            var delta = baseline.Select((row, i) => row.Zip(system[i], (x, y) => x - y).ToArray()).ToArray();
            var rng = new Random(seed);  // same swaps for every system, as sacreBLEU reseeds per comparison
            var a = new double[width];
            var b = new double[width];
            var differences = new double[trials];
            for (int t = 0; t < trials; t++)
            {
                sysTotal.CopyTo(a, 0);
                ulong bits = 0;
                for (int i = 0; i < delta.Length; i++)
                {
                    if (i % 62 == 0) bits = (ulong)rng.NextInt64();  // 62 fair coin flips per draw
                    if ((bits & 1) == 1)
                    {
                        var row = delta[i];
                        for (int k = 0; k < width; k++) a[k] += row[k];
                    }
                    bits >>= 1;
                }
                for (int k = 0; k < width; k++) b[k] = baseTotal[k] + sysTotal[k] - a[k];
                differences[t] = Math.Abs(metric.Compute(a).Score - metric.Compute(b).Score);
            }
            results.Add(new(score, PValue(differences, Math.Abs(baseScore.Score - score.Score)), null));
        }
        return results;
    }

    /// <summary>MultEval's rule: strictly greater counts, and +1 on both sides so p is never 0.</summary>
    private static double PValue(double[] sampleStatistics, double realDifference) =>
        (sampleStatistics.Count(s => s > realDifference) + 1.0) / (sampleStatistics.Length + 1.0);

    private static int Width(double[][] stats) => stats.Length == 0 ? 0 : stats[0].Length;
}
