namespace TranslationTrainer.Evaluation;

/// <summary>What to score and how; the defaults are sacreBLEU's.</summary>
public sealed record EvalOptions
{
    /// <summary>The metric names in the order their scores are printed: sacreBLEU's, then the error rates of speech recognition.</summary>
    public static readonly IReadOnlyList<string> MetricNames = ["bleu", "chrf", "ter", "wer", "cer"];

    /// <summary>Any of <see cref="MetricNames"/>.</summary>
    public IReadOnlyList<string> Metrics { get; init; } = ["bleu"];

    public BleuOptions Bleu { get; init; } = new();

    public ChrfOptions Chrf { get; init; } = new();

    /// <summary>The normalisation of WER and CER.</summary>
    public WerOptions Wer { get; init; } = new();

    /// <summary>Bootstrap resamples for a 95% confidence interval; 0 for none.</summary>
    public int ConfidenceSamples { get; init; }

    public int Seed { get; init; } = Significance.DefaultSeed;
}

/// <summary>One metric's result: score, signature, and the bootstrap interval when asked for.</summary>
public sealed record MetricResult(MetricScore Score, Signature Signature, ConfidenceInterval? Confidence = null);

/// <summary>Corpus results for one system, plus warnings sacreBLEU would log (e.g. tokenized input).</summary>
public sealed record EvalReport(IReadOnlyList<MetricResult> Results, IReadOnlyList<string> Warnings);

/// <summary>A paired test's table: per metric, one row per system (baseline first).</summary>
public sealed record PairedReport(
    IReadOnlyList<string> Systems, IReadOnlyList<(Signature Signature, IReadOnlyList<PairedResult> Rows)> Metrics);

/// <summary>
/// The scoring entry points: hypotheses are lines, references are streams (one list of lines per
/// reference set, each as long as the hypotheses), exactly like sacreBLEU's corpus_score API.
/// </summary>
public static class Evaluator
{
    /// <summary>The metrics asked for, in the order of <see cref="EvalOptions.MetricNames"/>, with references prepared once.</summary>
    public static IReadOnlyList<IMetric> CreateMetrics(EvalOptions options, IReadOnlyList<IReadOnlyList<string>> references)
    {
        var unknown = options.Metrics.Where(m => !EvalOptions.MetricNames.Contains(m)).ToList();
        if (unknown.Count > 0)
            throw new UserError($"unknown metric '{unknown[0]}' (expected one of: {string.Join(", ", EvalOptions.MetricNames)})");
        if (options.Metrics.Count == 0) throw new UserError("no metric given");
        var metrics = new List<IMetric>();
        foreach (var name in EvalOptions.MetricNames.Where(options.Metrics.Contains))
        {
            metrics.Add(name switch
            {
                "bleu" => new Bleu(options.Bleu, references),
                "chrf" => new Chrf(options.Chrf, references),
                "ter" => new Ter(references),
                "wer" => ErrorRate.Wer(options.Wer, references),
                _ => ErrorRate.Cer(options.Wer, references),
            });
        }
        return metrics;
    }

    /// <summary>Corpus-level scores of one system.</summary>
    public static EvalReport Score(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references, EvalOptions options)
    {
        var results = new List<MetricResult>();
        var warnings = new List<string>();
        foreach (var metric in CreateMetrics(options, references))
        {
            var stats = metric.SegmentStatistics(hypotheses);
            var score = metric.Compute(MetricExtensions.Sum(stats, stats.Length == 0 ? 0 : stats[0].Length));
            var signature = metric.Signature;
            ConfidenceInterval? confidence = null;
            if (options.ConfidenceSamples > 1)
            {
                confidence = Significance.Bootstrap(metric, stats, options.ConfidenceSamples, options.Seed);
                signature = new Signature(signature.NumRefs, MetricFields(signature)) { Bootstrap = options.ConfidenceSamples, Seed = options.Seed };
            }
            if (metric is Bleu bleu && bleu.TokenizedPeriodLines(hypotheses) >= Bleu.TokenizedPeriodWarningLines)
                warnings.Add("That's 100 lines that end in a tokenized period ('.'); it looks like you forgot to detokenize "
                    + "your test data, which may hurt your score (use `force` if it is detokenized)");
            results.Add(new MetricResult(score, signature, confidence));
        }
        return new EvalReport(results, warnings);
    }

    /// <summary>One result per hypothesis; BLEU uses effective order, as sacreBLEU's sentence-level mode does.</summary>
    public static IReadOnlyList<MetricResult> ScoreSentences(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references, EvalOptions options)
    {
        if (options.Metrics.Count != 1) throw new UserError("only one metric can be used in sentence-level mode");
        options = options with { Bleu = options.Bleu with { EffectiveOrder = true } };
        var metric = CreateMetrics(options, references)[0];
        return [.. metric.SegmentStatistics(hypotheses).Select(s => new MetricResult(metric.Compute(s), metric.Signature))];
    }

    /// <summary>Paired significance of each system against the first (the baseline), per metric.</summary>
    public static PairedReport PairedTest(IReadOnlyList<(string Name, IReadOnlyList<string> Hypotheses)> systems,
        IReadOnlyList<IReadOnlyList<string>> references, EvalOptions options, PairedTestKind kind, int samples)
    {
        if (systems.Count < 2) throw new UserError("paired tests need a baseline and at least one more system");
        var rows = new List<(Signature, IReadOnlyList<PairedResult>)>();
        foreach (var metric in CreateMetrics(options, references))
        {
            var baseline = metric.SegmentStatistics(systems[0].Hypotheses);
            var others = systems.Skip(1).Select(s => metric.SegmentStatistics(s.Hypotheses)).ToList();
            var results = kind == PairedTestKind.Bootstrap
                ? Significance.PairedBootstrap(metric, baseline, others, samples, options.Seed)
                : Significance.PairedRandomization(metric, baseline, others, samples, options.Seed);
            var sig = metric.Signature;
            var signature = kind == PairedTestKind.Bootstrap
                ? new Signature(sig.NumRefs, MetricFields(sig)) { Bootstrap = samples, Seed = options.Seed }
                : new Signature(sig.NumRefs, MetricFields(sig)) { Randomization = samples, Seed = options.Seed };
            rows.Add((signature, results));
        }
        return new PairedReport([.. systems.Select(s => s.Name)], rows);
    }

    /// <summary>Several systems without a test: each system's corpus scores.</summary>
    public static PairedReport ScoreTable(IReadOnlyList<(string Name, IReadOnlyList<string> Hypotheses)> systems,
        IReadOnlyList<IReadOnlyList<string>> references, EvalOptions options)
    {
        var metrics = CreateMetrics(options, references);
        return new PairedReport([.. systems.Select(s => s.Name)],
            [.. metrics.Select(m => (m.Signature, (IReadOnlyList<PairedResult>)[.. systems.Select(s => new PairedResult(m.CorpusScore(s.Hypotheses), null, null))]))]);
    }

    /// <summary>The metric's own signature fields (those between nrefs/bs/ar/seed and version).</summary>
    private static IEnumerable<KeyValuePair<string, string>> MetricFields(Signature signature) =>
        signature.Fields.Where(f => f.Key is not ("nrefs" or "bs" or "ar" or "seed" or "version"));
}
