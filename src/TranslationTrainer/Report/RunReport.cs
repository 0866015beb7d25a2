using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ScottPlot;
using TranslationTrainer.Decoding;
using TranslationTrainer.Evaluation;
using TranslationTrainer.Training;
using static TorchSharp.torch;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Report;

/// <summary>What `report` was asked for; the test set is optional, the run directory is not.</summary>
public sealed record ReportRequest
{
    public required string RunDir { get; init; }
    /// <summary>Checkpoint file; default: the run's best (else last).</summary>
    public string? Checkpoint { get; init; }
    public string? Vocab { get; init; }
    public string? TestSrc { get; init; }
    public string? TestRef { get; init; }
    /// <summary>Output directory; default: RUN/report.</summary>
    public string? Output { get; init; }
    /// <summary>Score only the first N test sentences; 0 = all.</summary>
    public int MaxSentences { get; init; }
    /// <summary>Test sentences drawn as attention heat maps.</summary>
    public int AttentionSentences { get; init; } = 3;
    public DecodingOptions Decoding { get; init; } = new();
    public Device Device { get; init; } = CPU;
    public Model.Precision? Precision { get; init; }
}

/// <summary>A PNG of the report, written next to the page under File and embedded in it.</summary>
public sealed record ReportImage(string File, string Caption, byte[] Png);

/// <summary>One test sentence's heat maps: the average over heads first, then each head.</summary>
public sealed record AttentionExample(int Line, string Source, string Translation, string Reference, ReportImage Average, IReadOnlyList<ReportImage> Heads);

/// <summary>The test-set part of a report: scores with signatures, scores by length, attention examples.</summary>
public sealed record TestSection(string SourcePath, string ReferencePath, int Sentences, int LinesInFile, IReadOnlyList<MetricResult> Scores,
    IReadOnlyList<BucketScore> Buckets, ReportImage BucketChart, IReadOnlyList<AttentionExample> Attention, string? AttentionOmitted = null);

/// <summary>Everything the page shows, computed before any file is written.</summary>
public sealed record ReportContent(string RunDir, string CheckpointPath, CheckpointHeader Checkpoint, long Parameters,
    int SourceVocabSize, int TargetVocabSize, bool JointVocab, JsonNode? Config, IReadOnlyList<JsonObject> Metrics,
    DecodingOptions Decoding, IReadOnlyList<ReportImage?> TrainingCharts, ReportImage? ValidationChart, TestSection? Test);

/// <summary>
/// `report`: reads a run directory (and optionally translates a test set), then writes one self-contained HTML
/// page with its PNGs next to it. All input is checked and all work done first; each file is then written whole.
/// </summary>
public static class RunReport
{
    public const string DefaultDirectory = "report", PageFile = "report.html";

    /// <summary>The names of the PNGs a report writes, and no others.</summary>
    private static readonly Regex OwnPng = new(@"^(loss|learning-rate|throughput|valid-scores|length-buckets|attention-\d+-(average|head-\d+))\.png$");

    /// <summary>Writes the report and returns the page's path.</summary>
    public static string Write(ReportRequest request)
    {
        var content = Build(request);
        var output = request.Output ?? Path.Combine(request.RunDir, DefaultDirectory);
        PrepareOutput(output);
        var page = Path.Combine(output, PageFile);
        WriteImagesAndPage(output, Images(content).ToList(), OwnPng, page, ReportPage.Html(content));
        return page;
    }

    public static IEnumerable<ReportImage> Images(ReportContent content)
    {
        var images = content.TrainingCharts.Append(content.ValidationChart).OfType<ReportImage>();
        if (content.Test is { } test)
            images = images.Append(test.BucketChart).Concat(test.Attention.SelectMany(a => a.Heads.Prepend(a.Average)));
        return images;
    }

    public static ReportContent Build(ReportRequest request)
    {
        var runDir = request.RunDir;
        if (!Directory.Exists(runDir)) throw new UserError($"{runDir}: run directory not found");
        var metricsPath = Path.Combine(runDir, RunDirectory.Metrics);
        TextFile.RequireFile(metricsPath, "metrics file");
        var metrics = MetricsFile.Read(metricsPath);
        if (metrics.Count == 0) throw new UserError($"{metricsPath}: no metrics logged yet (see `log-every`)");
        var test = ReadTestSet(request.TestSrc, request.TestRef, request.MaxSentences);
        if (request.AttentionSentences < 0) throw new UserError("`attention-sentences` must not be negative");
        request.Decoding.Validate();
        var checkpointPath = Checkpoint.ResolvePath(request.Checkpoint ?? runDir);
        var header = Checkpoint.ReadHeader(checkpointPath);
        var (model, vocab) = ModelLoader.LoadModel(checkpointPath, request.Vocab ?? Path.Combine(runDir, RunDirectory.Vocab), request.Device, request.Precision);
        using var _ = model;
        long parameters = model.Parameters;

        TestSection? testSection = null;
        if (test is not null && model.Architecture == Model.ModelConfig.SpeechArch)
            throw new UserError($"{checkpointPath}: a speech model; report scores text test sets only (score audio with translate and eval --metrics wer)");
        if (test is { } t)
        {
            var translator = new Translator(model, vocab, request.Decoding with { AttentionMaps = false }, request.Device);
            var hypotheses = translator.TranslateAll(t.Sources).Select(r => r.Best).ToList();
            var scores = Evaluator.Score(hypotheses, [t.References], new EvalOptions { Metrics = ["bleu", "chrf"] }).Results;
            var buckets = LengthBuckets.Score(t.Sources, hypotheses, t.References);
            var chart = new ReportImage("length-buckets.png", "Test BLEU and chrF by source length", ReportCharts.LengthBuckets(buckets));
            bool hasAttention = Decoding.Alignment.HasCrossAttention(model, request.Device);
            var examples = hasAttention
                ? AttentionExamples(new Translator(model, vocab, request.Decoding with { AttentionMaps = true }, request.Device), t, request.AttentionSentences)
                : [];
            testSection = new TestSection(t.SourcePath, t.ReferencePath, t.Sources.Count, t.LinesInFile, scores, buckets, chart, examples,
                hasAttention ? null : $"Omitted: a {model.Architecture} model has no encoder-decoder attention to draw.");
        }

        return new ReportContent(runDir, checkpointPath, header, parameters, vocab.Source.Size, vocab.Target.Size, vocab.Joint,
            ReadConfig(runDir), metrics, request.Decoding, TrainingCharts(metrics), ValidationChart(metrics), testSection);
    }

    internal sealed record TestSet(string SourcePath, string ReferencePath, List<string> Sources, List<string> References, int LinesInFile);

    /// <summary>The test set of `report` and `compare`: none, or both files, line by line, cut to the first maxSentences (0 = all).</summary>
    internal static TestSet? ReadTestSet(string? testSrc, string? testRef, int maxSentences)
    {
        if (testSrc is null && testRef is null) return null;
        if (testSrc is null || testRef is null) throw new UserError("`test-src` and `test-ref` go together: give both or neither");
        if (maxSentences < 0) throw new UserError("`max-sentences` must not be negative");
        TextFile.RequireFile(testSrc, "test source file");
        TextFile.RequireFile(testRef, "test reference file");
        var sources = TextFile.ReadLines(testSrc).ToList();
        var references = TextFile.ReadLines(testRef).ToList();
        if (sources.Count != references.Count)
            throw new UserError($"`test-src` {testSrc} has {sources.Count} lines but `test-ref` {testRef} has {references.Count}");
        if (sources.Count == 0) throw new UserError($"`test-src` {testSrc}: no sentences");
        int kept = maxSentences == 0 ? sources.Count : Math.Min(maxSentences, sources.Count);
        return new TestSet(testSrc, testRef, sources[..kept], references[..kept], sources.Count);
    }

    /// <summary>The output directory a page goes to: not a file, its parent there; created.</summary>
    internal static void PrepareOutput(string output)
    {
        if (File.Exists(output)) throw new UserError($"`output` {output}: is a file, expected a directory");
        var parent = Path.GetDirectoryName(Path.GetFullPath(output))!;
        if (!Directory.Exists(parent)) throw new UserError($"`output` {output}: directory {parent} does not exist");
        Directory.CreateDirectory(output);
    }

    /// <summary>Writes the images, removes the PNGs of an earlier page (matched by `own`) that this one no longer has, and writes the page.</summary>
    internal static void WriteImagesAndPage(string output, IReadOnlyList<ReportImage> images, Regex own, string pagePath, string html)
    {
        foreach (var image in images) AtomicFile.Write(Path.Combine(output, image.File), stream => stream.Write(image.Png));
        // A page written here before may have drawn more: its leftover PNGs would not match the page.
        foreach (var stale in Directory.GetFiles(output, "*.png").Where(f => own.IsMatch(Path.GetFileName(f)) && images.All(i => i.File != Path.GetFileName(f))))
            File.Delete(stale);
        AtomicFile.Write(pagePath, stream =>
        {
            using var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(false), leaveOpen: true);
            writer.Write(html);
        });
    }

    private static JsonNode? ReadConfig(string runDir)
    {
        var path = Path.Combine(runDir, RunDirectory.Config);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonNode.Parse(string.Join("\n", TextFile.ReadLines(path)));
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new UserError($"{path}: not valid JSON ({e.Message})");
        }
    }

    private static IReadOnlyList<ReportImage?> TrainingCharts(IReadOnlyList<JsonObject> metrics)
    {
        ReportImage? Chart(string file, string caption, byte[]? png) => png is null ? null : new ReportImage(file, caption, png);
        return
        [
            Chart("loss.png", "Training and validation loss", ReportCharts.Lines(metrics, "Loss", "nats per target token",
                [new("loss", "training (label-smoothed)", Colors.SteelBlue), new("valid_loss", "validation", Colors.DarkOrange)])),
            Chart("learning-rate.png", "Learning rate", ReportCharts.Lines(metrics, "Learning rate", "learning rate",
                [new("lr", "learning rate", Colors.SeaGreen)], fromZero: true, legend: ScottPlot.Alignment.LowerRight, half: true)),
            Chart("throughput.png", "Training speed", ReportCharts.Lines(metrics, "Training speed", "target tokens per second",
                [new("tgt_tok_per_s", "target tokens/s", Colors.Purple)], fromZero: true, legend: ScottPlot.Alignment.LowerRight, half: true)),
        ];
    }

    private static ReportImage? ValidationChart(IReadOnlyList<JsonObject> metrics)
    {
        var png = ReportCharts.Lines(metrics, "Validation scores", "score",
            [new("valid_bleu", "BLEU", Colors.SteelBlue), new("valid_chrf", "chrF", Colors.DarkOrange)], fromZero: true, legend: ScottPlot.Alignment.LowerRight);
        return png is null ? null : new ReportImage("valid-scores.png", "Validation BLEU and chrF", png);
    }

    /// <summary>
    /// The first test sentences of 6 to 16 words (short enough for readable labels, long enough to show reordering),
    /// else the first non-empty ones.
    /// </summary>
    private static List<AttentionExample> AttentionExamples(Translator translator, TestSet test, int count)
    {
        if (count == 0) return [];
        var candidates = Enumerable.Range(0, test.Sources.Count).Where(i => LengthBuckets.WordCount(test.Sources[i]) is >= 6 and <= 16)
            .Concat(Enumerable.Range(0, test.Sources.Count).Where(i => LengthBuckets.WordCount(test.Sources[i]) > 0))
            .Distinct().Take(count).ToList();
        var results = translator.TranslateAll([.. candidates.Select(i => test.Sources[i])]);
        return candidates.Select((line, k) =>
        {
            var map = results[k].Attention!;
            int heads = map.Heads.Count, n = k + 1;
            var average = new ReportImage($"attention-{n}-average.png", $"Sentence {n}: average of the {heads} heads",
                AttentionHeatmap.Png(map.Average(), map.SourceTokens, map.TargetTokens, $"Test line {line + 1}: average of {heads} heads, last decoder layer"));
            var perHead = map.Heads.Select((head, h) => new ReportImage($"attention-{n}-head-{h + 1}.png", $"Sentence {n}: head {h + 1}",
                AttentionHeatmap.Png(head, map.SourceTokens, map.TargetTokens, $"Head {h + 1} of {heads}"))).ToList();
            return new AttentionExample(line + 1, test.Sources[line], results[k].Best, test.References[line], average, perHead);
        }).ToList();
    }
}
