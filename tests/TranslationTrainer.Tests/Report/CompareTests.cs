using System.Diagnostics;
using System.Text.Json.Nodes;
using TranslationTrainer.Checkpoints;
using TranslationTrainer.Decoding;
using TranslationTrainer.Model;
using TranslationTrainer.Report;
using TranslationTrainer.Tests.Cli;
using TranslationTrainer.Tests.Training;
using TranslationTrainer.Training;
using static TorchSharp.torch;

namespace TranslationTrainer.Tests.Report;

[Collection(TorchCollection.Name)]
public class CompareTests
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
    private static readonly string[] Lengths = ["10", "40"];

    private static string Data(string name) => Path.Combine(TinyRun.Directory, name);

    /// <summary>
    /// Two tiny runs of their own (other tests add files to the shared one): one compared by its best checkpoint, a
    /// smaller one by its averaged checkpoint.
    /// </summary>
    private static readonly Lazy<(string Best, string Averaged)> Runs = new(() =>
    {
        var first = TinyRun.NewRunDirectory();
        TinyRun.Train(TinyRun.Config() with { ValidateEvery = 3, ValidBleu = true }, first);
        var second = TinyRun.NewRunDirectory();
        TinyRun.Train(TinyRun.Config() with
        {
            Model = TinyRun.Config().Model with { DModel = 16, FfnSize = 32 }, ValidateEvery = 3, ValidBleu = true, Seed = 11,
        }, second);
        CheckpointAveraging.Average(CheckpointAveraging.LastIntervalCheckpoints(second, 2), Path.Combine(second, RunDirectory.AveragedCheckpoint));
        return (first, second);
    });

    private static string NewOutput() => Path.Combine(Directory.CreateTempSubdirectory("tt-compare").FullName, "compare");

    private static string[] Timing => ["--parallelism-lengths", string.Join(",", Lengths), "--parallelism-tokens", "120", "--parallelism-repeats", "1", "--parallelism-warmup", "0"];

    [Fact]
    public void TwoRunsSideBySideMatchWhatEvalAndReportComputeForEachRun()
    {
        var (best, averaged) = Runs.Value;
        var output = NewOutput();
        string src = Data("valid.es"), reference = Data("valid.en");
        var result = CliRunner.Run(["compare", "--runs", best, averaged, "--test-src", src, "--test-ref", reference, "--output", output, "--threads", "1", "--precision", "fp32", .. Timing]);
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains(Path.Combine(output, ArchitectureComparison.PageFile), result.Out);

        string[] pngs = ["parameters.png", "train-speed.png", "time-to-best.png", "valid-bleu-time.png", "test-scores.png", "length-bleu.png", "length-chrf.png",
            "decode-speed.png", "parallelism-train.png", "parallelism-encode.png"];
        Assert.Equal(pngs.Append(ArchitectureComparison.PageFile).Append(ArchitectureComparison.JsonFile).Order(), Directory.GetFiles(output).Select(Path.GetFileName).Order());
        foreach (var png in pngs) Assert.Equal(PngSignature, File.ReadAllBytes(Path.Combine(output, png))[..8]);
        var html = File.ReadAllText(Path.Combine(output, ArchitectureComparison.PageFile));
        foreach (var heading in ComparisonPage.Headings) Assert.Contains($"<h2>{heading}</h2>", html);
        Assert.Equal(pngs.Length, html.Split("data:image/png;base64,").Length - 1);
        Assert.Contains("checkpoint_best.pt (best, update", html);
        Assert.Contains("checkpoint_avg.pt (averaged, update", html);

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(output, ArchitectureComparison.JsonFile)))!;
        var runs = json["runs"]!.AsArray();
        Assert.Equal(2, runs.Count);
        Assert.Equal([Path.GetFileName(best), Path.GetFileName(averaged)], runs.Select(r => r!["name"]!.GetValue<string>()));
        Assert.Equal(["best", "averaged"], runs.Select(r => r!["checkpoint_kind"]!.GetValue<string>()));
        Assert.Equal(12, json["test"]!["sentences"]!.GetValue<int>());
        foreach (var (run, dir) in runs.Zip([best, averaged]))
        {
            var checkpoint = run!["checkpoint"]!.GetValue<string>();
            Assert.Equal("transformer", run["architecture"]!.GetValue<string>());
            var model = run["model"]!.AsObject();
            Assert.Equal(Checkpoint.ReadHeader(checkpoint).Model.DModel, model["dModel"]!.GetValue<int>());
            Assert.False(model.ContainsKey("headSize") || model.ContainsKey("rnnCell"), model.ToJsonString()); // derived values and other architectures' options left out

            // report on the same checkpoint and test set (fp32, as above): the same parameters, scores and buckets.
            var report = RunReport.Build(new ReportRequest { RunDir = dir, Checkpoint = checkpoint, TestSrc = src, TestRef = reference, AttentionSentences = 0 });
            Assert.Equal(report.Parameters, run["parameters"]!.GetValue<long>());
            var test = run["test"]!;
            Assert.Equal(report.Test!.Scores.Single(s => s.Score.Name == "BLEU").Score.Score, test["bleu"]!.GetValue<double>(), 9);
            Assert.Equal(report.Test.Scores.Single(s => s.Score.Name.StartsWith("chrF")).Score.Score, test["chrf"]!.GetValue<double>(), 9);
            var buckets = test["buckets"]!.AsArray();
            Assert.Equal(report.Test.Buckets.Count, buckets.Count);
            foreach (var (expected, actual) in report.Test.Buckets.Zip(buckets))
            {
                Assert.Equal(expected.Bucket.Label, actual!["words"]!.GetValue<string>());
                Assert.Equal(expected.Sentences, actual["sentences"]!.GetValue<int>());
                Assert.Equal(expected.Bleu, actual["bleu"]?.GetValue<double>());
                Assert.Equal(expected.Chrf, actual["chrf"]?.GetValue<double>());
            }

            // eval --checkpoint translates and scores the same way.
            var eval = CliRunner.Run("eval", "--checkpoint", checkpoint, "--src", src, "--ref", reference, "--metrics", "bleu,chrf", "--format", "json", "--width", "6", "--threads", "1", "--precision", "fp32");
            Assert.True(eval.ExitCode == 0, eval.Error);
            var scores = JsonNode.Parse(eval.Out)!.AsArray();
            Assert.Equal(scores[0]!["score"]!.GetValue<double>(), test["bleu"]!.GetValue<double>(), 5);
            Assert.Equal(scores[1]!["score"]!.GetValue<double>(), test["chrf"]!.GetValue<double>(), 5);

            // Training speed: the median of the progress lines' tgt_tok_per_s; the best validation: the first of the highest BLEU.
            var metrics = MetricsFile.Read(Path.Combine(dir, RunDirectory.Metrics));
            var speeds = metrics.Where(r => r["tgt_tok_per_s"] is not null).Select(r => r["tgt_tok_per_s"]!.GetValue<double>()).Order().ToList();
            double median = speeds.Count % 2 == 1 ? speeds[speeds.Count / 2] : (speeds[speeds.Count / 2 - 1] + speeds[speeds.Count / 2]) / 2;
            Assert.Equal(Math.Round(median, 1), run["train_tgt_tok_per_s"]!.GetValue<double>());
            var bestValid = metrics.Where(r => r["valid_bleu"] is not null).MaxBy(r => r["valid_bleu"]!.GetValue<double>())!;
            Assert.Equal(bestValid["update"]!.GetValue<long>(), run["best_valid_bleu"]!["update"]!.GetValue<long>());
            Assert.Equal(bestValid["valid_bleu"]!.GetValue<double>(), run["best_valid_bleu"]!["bleu"]!.GetValue<double>());
            Assert.True(run["best_valid_bleu"]!["elapsed_s"]!.GetValue<double>() >= 0);
            Assert.Equal(metrics.Count(r => r["valid_bleu"] is not null), run["valid_bleu"]!.AsArray().Count);

            Assert.True(run["decoding"]!["greedy_sent_per_s"]!.GetValue<double>() > 0);
            Assert.True(run["decoding"]!["beam5_sent_per_s"]!.GetValue<double>() > 0);
            Assert.Equal(Lengths.Select(int.Parse), run["parallelism"]!.AsArray().Select(row => row!["length"]!.GetValue<int>()));
        }
    }

    [Fact]
    public void TheParallelismTimingGivesOneRowPerLengthAtTheSameTokensPerBatch()
    {
        var header = Checkpoint.ReadHeader(Checkpoint.ResolvePath(TinyRun.TrainedRunDirectory));
        var options = new ParallelismOptions { Lengths = [10, 50, 200, 300], TokensPerBatch = 400, Repetitions = 3, Warmup = 1 };
        var rows = ParallelismTiming.Measure(ModelArchitecture.Find(header.Architecture)!, header.Model, header.SourceVocabSize, header.TargetVocabSize,
            Precision.Float32, CPU, options);
        Assert.Equal([10, 50, 200, 300], rows.Select(r => r.Length));
        Assert.Equal([40, 8, 2, 1], rows.Select(r => r.Sentences));
        foreach (var row in rows.Take(3))
        {
            Assert.Null(row.Skipped);
            Assert.True(row.TrainMsPerThousandTokens > 0 && row.EncodeMsPerThousandTokens > 0, row.ToString());
            // Encoding alone is part of a forward pass, which backward follows.
            Assert.True(row.EncodeMsPerThousandTokens < row.TrainMsPerThousandTokens, row.ToString());
        }
        // The tiny run's model takes 256 positions: a longer sentence is a row that says why it has no figures.
        Assert.Null(rows[3].TrainMsPerThousandTokens);
        Assert.Contains("256 positions", rows[3].Skipped);

        Assert.Contains("parallelism-tokens", Assert.Throws<UserError>(() => (options with { TokensPerBatch = 0 }).Validate()).Message);
    }

    [Fact]
    public void OneRunWithoutATestSetIsFineAndLeavesTheTestSectionsOut()
    {
        var output = NewOutput();
        var result = CliRunner.Run("compare", "--runs", TinyRun.TrainedRunDirectory, "--output", output, "--threads", "1", "--parallelism-lengths", "none");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal(["compare.html", "compare.json", "parameters.png", "time-to-best.png", "train-speed.png", "valid-bleu-time.png"],
            Directory.GetFiles(output).Select(Path.GetFileName).Order());
        var html = File.ReadAllText(Path.Combine(output, ArchitectureComparison.PageFile));
        foreach (var heading in ComparisonPage.Headings) Assert.Contains($"<h2>{heading}</h2>", html);
        Assert.Contains("Omitted: no test set was given", html);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(output, ArchitectureComparison.JsonFile)))!;
        Assert.Null(json["test"]);
        Assert.Null(json["runs"]![0]!["test"]);
        Assert.Null(json["runs"]![0]!["parallelism"]);
    }

    [Fact]
    public void TheDefaultOutputIsCompareBesideTheFirstRun()
    {
        var runs = Path.Combine(Directory.CreateTempSubdirectory("tt-compare-runs").FullName, "arch");
        Assert.Equal(Path.Combine(runs, "compare"), ArchitectureComparison.DefaultOutput([Path.Combine(runs, "transformer"), Path.Combine(runs, "rnn-attention") + "/"]));
    }

    private static void AssertOneLineError(CliRunner.Result result, string expected, string output) => RunReportTests.AssertOneLineError(result, expected, output);

    [Fact]
    public void BadInputIsOneLineNamingTheRunOrOptionAndWritesNothing()
    {
        var run = TinyRun.TrainedRunDirectory;
        var output = NewOutput();
        CliRunner.Result Compare(params string[] args) => CliRunner.Run(["compare", .. args, "--output", output, "--threads", "1", "--parallelism-lengths", "none"]);

        var bare = Directory.CreateTempSubdirectory("tt-compare-bare").FullName;
        AssertOneLineError(Compare("--runs", run, bare), $"--runs {bare}: not a run directory (no metrics.jsonl", output);
        AssertOneLineError(Compare("--runs", run, Data("no-such-run")), "no-such-run: run directory not found", output);
        File.WriteAllText(Path.Combine(bare, "metrics.jsonl"), "");
        AssertOneLineError(Compare("--runs", bare), $"--runs {bare}: metrics.jsonl holds no metrics yet", output);
        var noCheckpoint = Directory.CreateTempSubdirectory("tt-compare-nockpt").FullName;
        File.Copy(Path.Combine(run, RunDirectory.Metrics), Path.Combine(noCheckpoint, RunDirectory.Metrics));
        AssertOneLineError(Compare("--runs", noCheckpoint), $"--runs {noCheckpoint}: no checkpoint in this run directory", output);
        AssertOneLineError(Compare("--runs", run, run + "/"), "given twice", output);

        AssertOneLineError(Compare("--runs", run, "--test-src", Data("valid.es")), "--test-src and --test-ref go together", output);
        AssertOneLineError(Compare("--runs", run, "--test-src", Data("valid.es"), "--test-ref", Data("nope.en")), "nope.en: test reference file not found", output);
        AssertOneLineError(CliRunner.Run("compare", "--runs", run, "--output", output, "--parallelism-lengths", "10,x"), "--parallelism-lengths: 'x' is not a length", output);
        AssertOneLineError(CliRunner.Run("compare", "--runs", run, "--output", output, "--parallelism-repeats", "0"), "--parallelism-repeats must be at least 1", output);
        AssertOneLineError(CliRunner.Run("compare", "--output", output), "--runs", output);

        var file = Path.Combine(Directory.CreateTempSubdirectory("tt-compare-file").FullName, "out");
        File.WriteAllText(file, "");
        var asFile = CliRunner.Run("compare", "--runs", run, "--output", file, "--parallelism-lengths", "none");
        Assert.Equal(1, asFile.ExitCode);
        Assert.Contains("is a file, expected a directory", asFile.Error);
    }

    /// <summary>The averaging rule counts the checkpoints a run made, not the ones keepLast kept (a 90-minute run kept 5 of 18).</summary>
    [Theory]
    [InlineData("200 400 600", 1)]
    [InlineData("1200 1600", 2)]
    [InlineData("400 800 1200 1600", 2)]
    [InlineData("5600 6000 6400 6800 7200", 5)]
    [InlineData("400 800 1200 1600 2000 2400", 3)]
    [InlineData("400", 0)]
    public void TheAveragingScriptAveragesTheLastHalfOfAShortRunAndFiveOfALongOne(string updates, int expected)
    {
        var run = TinyRun.NewRunDirectory();
        Directory.CreateDirectory(run);
        foreach (var update in updates.Split(' ')) File.WriteAllText(Path.Combine(run, $"checkpoint_{update}.pt"), "");
        var script = Path.GetFullPath(Path.Combine(Text.Corpus.Directory, "..", "..", "scripts", "average-run"));
        var start = new ProcessStartInfo("bash", [script, "--count", run]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var bash = Process.Start(start)!;
        var output = bash.StandardOutput.ReadToEnd();
        var error = bash.StandardError.ReadToEnd();
        bash.WaitForExit();

        Assert.True(bash.ExitCode == 0, error);
        Assert.Equal(expected.ToString(), output.Trim());
    }

    [Fact]
    public void TheComparisonScriptsAreValidBash()
    {
        var scripts = Path.GetFullPath(Path.Combine(Text.Corpus.Directory, "..", "..", "scripts"));
        foreach (var name in new[] { "compare-architectures", "average-run", "train-bible", "translation-trainer" })
        {
            var start = new ProcessStartInfo("bash", ["-n", Path.Combine(scripts, name)]) { RedirectStandardError = true };
            using var bash = Process.Start(start)!;
            var error = bash.StandardError.ReadToEnd();
            bash.WaitForExit();
            Assert.True(bash.ExitCode == 0, $"{name}: {error}");
        }
    }
}
