using TranslationTrainer.Evaluation;

namespace TranslationTrainer.Tests.Evaluation;

// Where the expected values come from: sacreBLEU test/test_significance.py (github.com/mjpost/sacrebleu).
// - MOSES_P_VALS: p-values of Moses' bootstrap-hypothesis-difference-significance.pl (2,000 samples,
//   mean of 3 runs) for WMT17 en-de systems against the baseline LIUM-NMT.4900 (the first system in
//   test/wmt17_en_de_systems.pkl.bz2, which PairedTest takes as baseline); test_paired_bootstrap runs
//   BLEU with tokenize='none' and n_samples=2000 and accepts 1e-2. Our random draws differ from
//   numpy's, so we accept 0.02.
// - MULTEVAL_P_VALS: MultEval's approximate randomization p-values (10,000 trials, BLEU column);
//   sacreBLEU's test_paired_approximate_randomization accepts 1e-2; we accept 0.02.
public class SignificanceTests
{
    private const string Baseline = "LIUM-NMT.4900";
    private static readonly string[] Systems = ["FBK.4870", "online-B.0", "uedin-nmt.4722"];
    private static readonly double[] MosesPValues = [0.01267, 0.38100, 0.00000];

    private static Bleu Metric() => Wmt17.BleuNone;

    [Fact]
    public void PairedBootstrapMatchesMoses()
    {
        var metric = Metric();
        var baseline = metric.SegmentStatistics(Wmt17.System(Baseline));
        var others = Systems.Select(s => metric.SegmentStatistics(Wmt17.System(s))).ToList();
        var results = Significance.PairedBootstrap(metric, baseline, others, samples: 2000);
        Assert.Null(results[0].PValue);
        for (int i = 0; i < Systems.Length; i++)
            Assert.True(Math.Abs(results[i + 1].PValue!.Value - MosesPValues[i]) < 0.02,
                $"{Systems[i]}: p = {results[i + 1].PValue} vs Moses {MosesPValues[i]}");
    }

    [Fact]
    public void PairedRandomizationMatchesMultEval()
    {
        var metric = Metric();
        var baseline = metric.SegmentStatistics(Wmt17.System(Baseline));
        string[] systems = ["FBK.4870", "online-B.0"];
        double[] multEval = [0.0218, 0.94111];
        var others = systems.Select(s => metric.SegmentStatistics(Wmt17.System(s))).ToList();
        var results = Significance.PairedRandomization(metric, baseline, others, trials: 10000);
        for (int i = 0; i < systems.Length; i++)
            Assert.True(Math.Abs(results[i + 1].PValue!.Value - multEval[i]) < 0.02,
                $"{systems[i]}: p = {results[i + 1].PValue} vs MultEval {multEval[i]}");
    }

    [Fact]
    public void ConfidenceIntervalIsDeterministicAndAroundTheScore()
    {
        var metric = Metric();
        var stats = metric.SegmentStatistics(Wmt17.System("uedin-nmt.4722"));
        var score = metric.Compute(MetricExtensions.Sum(stats, stats[0].Length)).Score;
        var a = Significance.Bootstrap(metric, stats, 200, seed: 7);
        var b = Significance.Bootstrap(metric, stats, 200, seed: 7);
        Assert.Equal(a, b);
        Assert.InRange(a.Mean, score - 1, score + 1);
        Assert.InRange(a.HalfWidth, 0.1, 2.0);
    }

    [Fact]
    public void EstimateIntervalUsesTheOrderStatisticsSacreBleuUses()
    {
        // estimate_ci: 95% bounds at sorted[n // 40] and sorted[n - n // 40 - 1].
        var scores = Enumerable.Range(0, 80).Select(i => (double)i).Reverse().ToList();
        var ci = Significance.EstimateInterval(scores);
        Assert.Equal(39.5, ci.Mean);
        Assert.Equal(0.5 * (77 - 2), ci.HalfWidth);
    }
}
