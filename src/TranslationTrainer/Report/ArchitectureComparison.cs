using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using TranslationTrainer.Checkpoints;
using TranslationTrainer.Decoding;
using TranslationTrainer.Evaluation;
using TranslationTrainer.Model;
using TranslationTrainer.Training;
using static TorchSharp.torch;

namespace TranslationTrainer.Report;

/// <summary>What `compare` was asked for: the runs, optionally a test set, where the page goes, how to decode and time.</summary>
public sealed record CompareRequest
{
    public required IReadOnlyList<string> Runs { get; init; }
    public string? TestSrc { get; init; }
    public string? TestRef { get; init; }
    /// <summary>Output directory; default: compare/ next to the first run.</summary>
    public string? Output { get; init; }
    /// <summary>Score only the first N test sentences; 0 = all.</summary>
    public int MaxSentences { get; init; }
    /// <summary>How the test set is translated for its scores; the speeds are measured at beam 1 and 5 with the same other options.</summary>
    public DecodingOptions Decoding { get; init; } = new();
    public Device Device { get; init; } = CPU;
    /// <summary>Decoding precision (default fp32); the parallelism timing uses each run's training precision.</summary>
    public Model.Precision? Precision { get; init; }
    /// <summary>The parallelism timing's settings; null leaves it out.</summary>
    public ParallelismOptions? Parallelism { get; init; } = new();
    /// <summary>Where progress lines go (a comparison takes minutes), if anywhere.</summary>
    public Action<string>? Progress { get; init; }
}

/// <summary>One validation of a run: its update, the wall time of training when it ran, and its BLEU.</summary>
public sealed record ValidationPoint(long Update, double ElapsedSeconds, double Bleu);

/// <summary>A run's test scores: BLEU and chrF with their signatures, and both by source length (the report's buckets).</summary>
public sealed record RunTestScores(IReadOnlyList<MetricResult> Scores, IReadOnlyList<BucketScore> Buckets)
{
    public double Bleu => Scores.First(s => s.Score.Name == "BLEU").Score.Score;
    public double Chrf => Scores.First(s => s.Score.Name.StartsWith("chrF", StringComparison.Ordinal)).Score.Score;
}

/// <summary>Sentences per second translating the test set greedily and with beam 5, and the backend the workers decoded on.</summary>
public sealed record DecodingSpeed(double GreedySentencesPerSecond, double Beam5SentencesPerSecond, string Backend);

/// <summary>Everything the comparison shows of one run.</summary>
public sealed record ComparedRun(
    string Name, string RunDir, string CheckpointPath, string CheckpointKind, CheckpointHeader Checkpoint, long Parameters,
    int SourceVocabSize, int TargetVocabSize, bool JointVocab, long Updates, double? TrainingSeconds, double? TargetTokensPerSecond,
    string TrainingPrecision, IReadOnlyList<ValidationPoint> Validation, RunTestScores? Test, DecodingSpeed? Speed,
    IReadOnlyList<ParallelismRow>? Parallelism)
{
    public string Architecture => Checkpoint.Architecture;

    /// <summary>The first validation with the run's highest BLEU; null when none logged BLEU.</summary>
    public ValidationPoint? BestValidation => Validation.Count == 0 ? null : Validation.MaxBy(v => v.Bleu);
}

/// <summary>The test set every run translated.</summary>
public sealed record ComparisonTestSet(string SourcePath, string ReferencePath, int Sentences, int LinesInFile);

/// <summary>Everything the comparison page and compare.json show, computed before any file is written.</summary>
public sealed record ComparisonContent(IReadOnlyList<ComparedRun> Runs, ComparisonTestSet? Test, DecodingOptions Decoding, string DecodingPrecision,
    ParallelismOptions? Parallelism, string Device, int Threads, DateTime WrittenUtc)
{
    public IReadOnlyList<ReportImage> Images { get; init; } = [];
}

/// <summary>
/// `compare`: several runs side by side (issue 18's comparison of architectures): size, training speed, validation BLEU
/// over wall time, test BLEU/chrF overall and by source length (Bahdanau et al. 2015's figure 2, one line per run),
/// decoding speed, and the parallelism timing (Vaswani et al. 2017's table 1, "sequential operations"). Every run is
/// read through ModelArchitecture, ITranslationModel and IDecodingModel only, so any architecture compares. Each run
/// is represented by checkpoint_avg.pt when it has one (scripts/train-bible and scripts/compare-architectures write
/// it), else by its best checkpoint (<see cref="Checkpoint.ResolvePath"/>). All input is checked before any work.
/// </summary>
public static class ArchitectureComparison
{
    public const string DefaultDirectory = "compare", PageFile = "compare.html", JsonFile = "compare.json";

    /// <summary>The names of the PNGs a comparison writes, and no others.</summary>
    private static readonly Regex OwnPng = new(@"^(parameters|train-speed|time-to-best|valid-bleu-time|test-scores|length-bleu|length-chrf|decode-speed|parallelism-train|parallelism-encode)\.png$");

    /// <summary>Writes the page, its PNGs and compare.json; returns the page's path.</summary>
    public static string Write(CompareRequest request)
    {
        var output = request.Output ?? DefaultOutput(request.Runs);
        // Checked before the minutes of work, so that a bad --output fails at once.
        CheckOutput(output);
        var content = Build(request);
        RunReport.PrepareOutput(output);
        var page = Path.Combine(output, PageFile);
        RunReport.WriteImagesAndPage(output, content.Images, OwnPng, page, ComparisonPage.Html(content));
        var json = Json(content).ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        TextFile.WriteLinesAtomically(Path.Combine(output, JsonFile), [json]);
        return page;
    }

    /// <summary>compare/ beside the first run: runs/arch/compare for runs/arch/transformer ...</summary>
    public static string DefaultOutput(IReadOnlyList<string> runs) =>
        runs.Count == 0 ? DefaultDirectory : Path.Combine(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(runs[0])))!, DefaultDirectory);

    private static void CheckOutput(string output)
    {
        if (File.Exists(output)) throw new UserError($"`output` {output}: is a file, expected a directory");
        var parent = Path.GetDirectoryName(Path.GetFullPath(output))!;
        if (!Directory.Exists(parent)) throw new UserError($"`output` {output}: directory {parent} does not exist");
    }

    public static ComparisonContent Build(CompareRequest request)
    {
        // Every run and the test set are checked first: a typo in the last run must not cost the minutes of the first ones.
        var inputs = OpenRuns(request.Runs);
        var test = RunReport.ReadTestSet(request.TestSrc, request.TestRef, request.MaxSentences);
        request.Decoding.Validate();
        request.Parallelism?.Validate();
        var precision = request.Precision ?? Model.Precision.Float32;

        var runs = new List<ComparedRun>();
        foreach (var input in inputs)
        {
            request.Progress?.Invoke($"{input.Name}: {input.Header.Architecture}, {Path.GetFileName(input.CheckpointPath)} (update {input.Header.Progress.Update})");
            runs.Add(Compare(input, test, request, precision));
        }
        var content = new ComparisonContent(runs,
            test is null ? null : new ComparisonTestSet(test.SourcePath, test.ReferencePath, test.Sources.Count, test.LinesInFile),
            request.Decoding, precision.Name, request.Parallelism, request.Device.type.ToString().ToLowerInvariant(), get_num_threads(), DateTime.UtcNow);
        return content with { Images = ComparisonCharts.All(content) };
    }

    /// <summary>A run directory as the comparison reads it; nothing heavy is loaded yet.</summary>
    private sealed record RunInput(string Name, string Dir, List<JsonObject> Metrics, JsonNode? Config, string CheckpointPath, string CheckpointKind, CheckpointHeader Header,
        CheckpointHeader? Last);

    private static List<RunInput> OpenRuns(IReadOnlyList<string> runs)
    {
        if (runs.Count == 0) throw new UserError("`runs`: give at least one run directory");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var run in runs)
            if (!seen.Add(Path.TrimEndingDirectorySeparator(Path.GetFullPath(run))))
                throw new UserError($"`runs` {run}: given twice");
        var names = UniqueNames(runs);
        return runs.Select((dir, i) =>
        {
            if (File.Exists(dir)) throw new UserError($"`runs` {dir}: is a file, expected a run directory");
            if (!Directory.Exists(dir)) throw new UserError($"`runs` {dir}: run directory not found");
            var metricsPath = Path.Combine(dir, RunDirectory.Metrics);
            if (!File.Exists(metricsPath)) throw new UserError($"`runs` {dir}: not a run directory (no {RunDirectory.Metrics}; train into it first)");
            var metrics = MetricsFile.Read(metricsPath);
            if (metrics.Count == 0) throw new UserError($"`runs` {dir}: {RunDirectory.Metrics} holds no metrics yet (see `log-every`)");
            var averaged = Path.Combine(dir, RunDirectory.AveragedCheckpoint);
            string path;
            try
            {
                path = File.Exists(averaged) ? averaged : Checkpoint.ResolvePath(dir);
            }
            catch (UserError)
            {
                throw new UserError($"`runs` {dir}: no checkpoint in this run directory");
            }
            var kind = Path.GetFileName(path) switch
            {
                RunDirectory.AveragedCheckpoint => "averaged",
                RunDirectory.BestCheckpoint => "best",
                _ => "last",
            };
            // The checkpoint's vocabulary is the run's copy; both are checked against each other here, before any work.
            ModelLoader.Open(path, Path.Combine(dir, RunDirectory.Vocab));
            var header = Checkpoint.ReadHeader(path);
            var lastPath = Path.Combine(dir, RunDirectory.LastCheckpoint);
            var last = File.Exists(lastPath) ? Checkpoint.ReadHeader(lastPath) : null;
            return new RunInput(names[i], dir, metrics, ReadConfig(dir), path, kind, header, last);
        }).ToList();
    }

    /// <summary>Each run's directory name; where two share one, the path as given tells them apart.</summary>
    private static List<string> UniqueNames(IReadOnlyList<string> runs)
    {
        var names = runs.Select(r => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(r)))).ToList();
        return names.Select((name, i) => names.Count(n => n == name) > 1 ? Path.TrimEndingDirectorySeparator(runs[i]) : name).ToList();
    }

    private static JsonNode? ReadConfig(string runDir)
    {
        var path = Path.Combine(runDir, RunDirectory.Config);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonNode.Parse(string.Join("\n", TextFile.ReadLines(path)));
        }
        catch (JsonException e)
        {
            throw new UserError($"`runs` {runDir}: {path} is not valid JSON ({e.Message})");
        }
    }

    private static ComparedRun Compare(RunInput input, RunReport.TestSet? test, CompareRequest request, Model.Precision precision)
    {
        var (model, vocab) = ModelLoader.LoadModel(input.CheckpointPath, Path.Combine(input.Dir, RunDirectory.Vocab), request.Device, precision);
        RunTestScores? scores = null;
        DecodingSpeed? speed = null;
        using (model)
        {
            if (test is not null)
            {
                var options = request.Decoding with { AttentionMaps = false, Alignment = false, NBest = 1 };
                var warmUp = new Translator(model, vocab, options with { Beam = 5 }, request.Device);
                warmUp.TranslateAll(test.Sources.Take(8).ToList());
                var (hypotheses, seconds) = Translate(new Translator(model, vocab, options, request.Device), test.Sources);
                scores = new RunTestScores(Evaluator.Score(hypotheses, [test.References], new EvalOptions { Metrics = ["bleu", "chrf"] }).Results,
                    LengthBuckets.Score(test.Sources, hypotheses, test.References));
                request.Progress?.Invoke($"{input.Name}: test BLEU {scores.Bleu:F1}, chrF {scores.Chrf:F1} (beam {options.Beam}, {test.Sources.Count / seconds:F1} sentences/s)");
                double SecondsAt(int beam) => options.Beam == beam ? seconds : Translate(new Translator(model, vocab, options with { Beam = beam }, request.Device), test.Sources).Seconds;
                double greedy = SecondsAt(1), beam5 = SecondsAt(5);
                var translator = new Translator(model, vocab, options, request.Device);
                speed = new DecodingSpeed(test.Sources.Count / greedy, test.Sources.Count / beam5, translator.WorkerBackend(Workers.Resolve(options.Workers, request.Device)));
                request.Progress?.Invoke($"{input.Name}: decoding {speed.GreedySentencesPerSecond:F1} sentences/s greedy, {speed.Beam5SentencesPerSecond:F1} with beam 5 ({speed.Backend})");
            }
            var trainingPrecision = TrainingPrecision(input.Config, request.Device);
            IReadOnlyList<ParallelismRow>? parallelism = null;
            if (request.Parallelism is { } timing)
            {
                var architecture = ModelArchitecture.Find(input.Header.Architecture)!; // the header was read, so it is known
                parallelism = ParallelismTiming.Measure(architecture, input.Header.Model, input.Header.SourceVocabSize, input.Header.TargetVocabSize,
                    trainingPrecision, request.Device, timing);
                request.Progress?.Invoke($"{input.Name}: parallelism timed at {string.Join(", ", parallelism.Select(r => r.Length))} tokens");
            }
            var training = input.Metrics.Where(r => r["loss"] is JsonValue).ToList();
            var speeds = training.Where(r => r["tgt_tok_per_s"] is JsonValue).Select(r => r["tgt_tok_per_s"]!.GetValue<double>()).ToList();
            var clock = WallClock(input);
            double? trainingSeconds = clock.Count > 1 ? clock[^1].Elapsed : null;
            var validation = input.Metrics.Where(r => r["valid_bleu"] is JsonValue).Select(r =>
            {
                long update = r["update"]!.GetValue<long>();
                return new ValidationPoint(update, ElapsedAt(update, clock), r["valid_bleu"]!.GetValue<double>());
            }).ToList();
            return new ComparedRun(input.Name, input.Dir, input.CheckpointPath, input.CheckpointKind, input.Header, model.Parameters,
                vocab.Source.Size, vocab.Target.Size, vocab.Joint, input.Metrics.Max(r => r["update"]!.GetValue<long>()), trainingSeconds,
                speeds.Count == 0 ? null : Median(speeds), trainingPrecision.Name, validation, scores, speed, parallelism);
        }
    }

    private static (List<string> Hypotheses, double Seconds) Translate(Translator translator, IReadOnlyList<string> sources)
    {
        var clock = Stopwatch.StartNew();
        var hypotheses = translator.TranslateAll(sources).Select(r => r.Best).ToList();
        return (hypotheses, clock.Elapsed.TotalSeconds);
    }

    /// <summary>The precision the run trained in (its config.json's, bf16 read as auto where this machine has none; fp32 without a config).</summary>
    private static Model.Precision TrainingPrecision(JsonNode? config, Device device)
    {
        var name = config?["precision"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : "fp32";
        return Model.Precision.Resolve(name == "bf16" ? "auto" : name, device);
    }

    /// <summary>
    /// (update, seconds of training) pairs, from update 0: the progress lines' elapsed_s, and checkpoint_last's time.
    /// A validation runs right after its update's progress line, so its wall time is that line's, or lies between two.
    /// </summary>
    private static List<(long Update, double Elapsed)> WallClock(RunInput input)
    {
        var points = input.Metrics.Where(r => r["elapsed_s"] is JsonValue).Select(r => (Update: r["update"]!.GetValue<long>(), Elapsed: r["elapsed_s"]!.GetValue<double>())).ToList();
        points.Add((0, 0));
        if (input.Last is { } last && last.Progress.Update > 0) points.Add((last.Progress.Update, last.Progress.ElapsedSeconds));
        return points.GroupBy(p => p.Update).Select(g => (g.Key, g.Min(p => p.Elapsed))).OrderBy(p => p.Key).ToList();
    }

    /// <summary>The wall time at an update, interpolated between the clock's points (extrapolated past the last at its last pace).</summary>
    internal static double ElapsedAt(long update, IReadOnlyList<(long Update, double Elapsed)> clock)
    {
        int after = 0;
        while (after < clock.Count && clock[after].Update < update) after++;
        if (after < clock.Count && clock[after].Update == update) return clock[after].Elapsed;
        if (clock.Count == 1) return clock[0].Elapsed;
        var (a, b) = after == 0 ? (clock[0], clock[1]) : after == clock.Count ? (clock[^2], clock[^1]) : (clock[after - 1], clock[after]);
        return a.Elapsed + (b.Elapsed - a.Elapsed) * (update - a.Update) / Math.Max(1, b.Update - a.Update);
    }

    private static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static readonly JsonSerializerOptions ModelJson = new(JsonFiles.Options) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>The settings of a model shape, not the values derived from them (HeadSize, Cell, ...).</summary>
    private static readonly HashSet<string> ModelSettings = typeof(ModelConfig).GetProperties().Where(p => p.CanWrite)
        .Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)).ToHashSet(StringComparer.Ordinal);

    /// <summary>A run's model shape as its checkpoint header stores it (options that do not apply to its architecture left out).</summary>
    public static JsonObject ModelShape(ComparedRun run)
    {
        var shape = JsonSerializer.SerializeToNode(run.Checkpoint.Model, ModelJson)!.AsObject();
        foreach (var derived in shape.Select(p => p.Key).Where(k => !ModelSettings.Contains(k)).ToList()) shape.Remove(derived);
        return shape;
    }

    /// <summary>compare.json: the table behind the page, for docs; times in seconds, speeds per second, scores as computed.</summary>
    public static JsonObject Json(ComparisonContent c)
    {
        static JsonNode? Number(double? x, int digits) => x is { } v ? JsonValue.Create(Math.Round(v, digits)) : null;
        var runs = new JsonArray();
        foreach (var r in c.Runs)
        {
            var best = r.BestValidation;
            runs.Add(new JsonObject
            {
                ["name"] = r.Name,
                ["run_dir"] = r.RunDir,
                ["architecture"] = r.Architecture,
                ["checkpoint"] = r.CheckpointPath,
                ["checkpoint_kind"] = r.CheckpointKind,
                ["checkpoint_update"] = r.Checkpoint.Progress.Update,
                ["parameters"] = r.Parameters,
                ["source_vocab"] = r.SourceVocabSize,
                ["target_vocab"] = r.TargetVocabSize,
                ["joint_vocab"] = r.JointVocab,
                ["updates"] = r.Updates,
                ["training_s"] = Number(r.TrainingSeconds, 1),
                ["train_tgt_tok_per_s"] = Number(r.TargetTokensPerSecond, 1),
                ["training_precision"] = r.TrainingPrecision,
                ["best_valid_bleu"] = best is null ? null : new JsonObject
                {
                    ["bleu"] = best.Bleu, ["update"] = best.Update, ["elapsed_s"] = Number(best.ElapsedSeconds, 1),
                },
                ["valid_bleu"] = new JsonArray([.. r.Validation.Select(v => (JsonNode)new JsonObject
                {
                    ["update"] = v.Update, ["elapsed_s"] = Number(v.ElapsedSeconds, 1), ["bleu"] = v.Bleu,
                })]),
                ["test"] = r.Test is not { } t ? null : new JsonObject
                {
                    ["bleu"] = t.Bleu,
                    ["chrf"] = t.Chrf,
                    ["signatures"] = new JsonObject(t.Scores.Select(s => KeyValuePair.Create(s.Score.Name, (JsonNode?)s.Signature.ToString()))),
                    ["buckets"] = new JsonArray([.. t.Buckets.Select(b => (JsonNode)new JsonObject
                    {
                        ["words"] = b.Bucket.Label, ["min_words"] = b.Bucket.Min, ["max_words"] = b.Bucket.Max, ["sentences"] = b.Sentences,
                        ["bleu"] = b.Bleu, ["chrf"] = b.Chrf,
                    })]),
                },
                ["decoding"] = r.Speed is not { } s ? null : new JsonObject
                {
                    ["backend"] = s.Backend,
                    ["greedy_sent_per_s"] = Number(s.GreedySentencesPerSecond, 2),
                    ["beam5_sent_per_s"] = Number(s.Beam5SentencesPerSecond, 2),
                },
                ["parallelism"] = r.Parallelism is not { } p ? null : new JsonArray([.. p.Select(row => (JsonNode)new JsonObject
                {
                    ["length"] = row.Length, ["sentences"] = row.Sentences, ["tokens"] = row.Tokens,
                    ["train_ms_per_1k_tok"] = Number(row.TrainMsPerThousandTokens, 3), ["encode_ms_per_1k_tok"] = Number(row.EncodeMsPerThousandTokens, 3),
                    ["skipped"] = row.Skipped,
                })]),
                ["model"] = ModelShape(r),
            });
        }
        return new JsonObject
        {
            ["written_utc"] = c.WrittenUtc.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
            ["device"] = c.Device,
            ["threads"] = c.Threads,
            ["decoding_precision"] = c.DecodingPrecision,
            ["test"] = c.Test is not { } test ? null : new JsonObject
            {
                ["src"] = test.SourcePath, ["ref"] = test.ReferencePath, ["sentences"] = test.Sentences, ["lines_in_file"] = test.LinesInFile,
                ["beam"] = c.Decoding.Beam, ["length_penalty"] = c.Decoding.LengthPenalty, ["length_penalty_style"] = c.Decoding.LengthPenaltyStyle,
                ["batch_size"] = c.Decoding.BatchSize,
            },
            ["parallelism"] = c.Parallelism is not { } options ? null : new JsonObject
            {
                ["lengths"] = new JsonArray([.. options.Lengths.Select(n => (JsonNode)n)]),
                ["tokens_per_batch"] = options.TokensPerBatch, ["repetitions"] = options.Repetitions, ["warmup"] = options.Warmup,
            },
            ["runs"] = runs,
        };
    }
}
