using TranslationTrainer.Tests.Training;

namespace TranslationTrainer.Tests.Cli;

/// <summary>Bad input gives one line on stderr naming what is wrong, exit code 1, and writes nothing.</summary>
[Collection(TorchCollection.Name)]
public class BadInputTests
{
    private static string Data(string name) => Path.Combine(TinyRun.Directory, name);

    private static void AssertOneLineError(CliRunner.Result result, string expected, string? mustNotExist = null)
    {
        Assert.Equal(1, result.ExitCode);
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got: {result.Error}");
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotContain("   at ", result.Error);
        if (mustNotExist is not null) Assert.False(Path.Exists(mustNotExist), $"{mustNotExist} was created");
    }

    /// <summary>A valid tiny `train` call with some options replaced.</summary>
    private static CliRunner.Result Train(string runDir, params string[] replaced)
    {
        var options = new Dictionary<string, string>
        {
            ["--run-dir"] = runDir, ["--train-src"] = Data("train.es"), ["--train-tgt"] = Data("train.en"), ["--vocab"] = Data("vocab"),
            ["--max-updates"] = "1", ["--d-model"] = "32", ["--heads"] = "2", ["--ffn-size"] = "64", ["--threads"] = "1",
        };
        for (int i = 0; i < replaced.Length; i += 2) options[replaced[i]] = replaced[i + 1];
        return CliRunner.Run(["train", .. options.SelectMany(o => new[] { o.Key, o.Value })]);
    }

    [Fact]
    public void MissingTrainingFile()
    {
        var run = TinyRun.NewRunDirectory();
        AssertOneLineError(Train(run, "--train-src", Data("nope.es")), "nope.es: file not found", run);
    }

    [Fact]
    public void DirectoryInsteadOfFile()
    {
        var run = TinyRun.NewRunDirectory();
        AssertOneLineError(Train(run, "--train-tgt", TinyRun.Directory), "is a directory", run);
    }

    [Fact]
    public void LineCountsDiffer()
    {
        var run = TinyRun.NewRunDirectory();
        var shorter = Data("three.en");
        File.WriteAllLines(shorter, ["a", "b", "c"]);
        AssertOneLineError(Train(run, "--train-tgt", shorter), $"{Data("train.es")} has 64 lines but {shorter} has 3", run);
    }

    [Fact]
    public void EmptyCorpus()
    {
        var run = TinyRun.NewRunDirectory();
        File.WriteAllText(Data("empty.es"), "");
        File.WriteAllText(Data("empty.en"), "");
        AssertOneLineError(Train(run, "--train-src", Data("empty.es"), "--train-tgt", Data("empty.en")), "empty corpus", run);
    }

    [Fact]
    public void UnknownConfigKey()
    {
        var run = TinyRun.NewRunDirectory();
        var config = Data("unknown-key.json");
        File.WriteAllText(config, "{ \"maxTokens\": 500, \"learningRat\": 0.1 }");
        AssertOneLineError(Train(run, "--config", config), "unknown config key 'learningRat'", run);
    }

    [Fact]
    public void MalformedConfigNamesLineAndColumn()
    {
        var config = Data("malformed.json");
        File.WriteAllText(config, "{\n  \"maxTokens\": 500,\n  \"seed\" 3\n}");
        AssertOneLineError(Train(TinyRun.NewRunDirectory(), "--config", config), $"{config}:3:");
    }

    [Theory]
    [InlineData("--encoder-layers", "-1", "--encoder-layers must be at least 1")]
    [InlineData("--heads", "3", "--d-model (32) must be divisible by --heads (3)")]
    [InlineData("--dropout", "-0.1", "--dropout must be in [0, 1)")]
    [InlineData("--max-tokens", "lots", "--max-tokens: 'lots' is not an integer")]
    [InlineData("--valid-src", "", "--valid-src: an empty path")]
    [InlineData("--train-src", " ", "--train-src: an empty path")]
    [InlineData("--distributed", "nccl", "--distributed must be auto, mpi or none, got 'nccl'")]
    [InlineData("--distributed-timeout", "0", "--distributed-timeout must be positive")]
    public void InvalidValues(string option, string value, string message)
    {
        var run = TinyRun.NewRunDirectory();
        AssertOneLineError(Train(run, option, value), message, run);
    }

    [Fact]
    public void TranslateWithAMissingCheckpoint()
    {
        var output = Data("never-written.txt");
        AssertOneLineError(CliRunner.Run("translate", "--checkpoint", Data("missing-run"), "--input", Data("valid.es"), "--output", output), "missing-run: checkpoint not found", output);
    }

    [Fact]
    public void AverageAMissingRunDirectory()
    {
        var run = Data("no-such-run");
        AssertOneLineError(CliRunner.Run("average", "--run-dir", run), $"{run}: run directory not found", run);
    }

    [Fact]
    public void AverageARunDirectoryWithoutIntervalCheckpoints()
    {
        var run = Directory.CreateTempSubdirectory("tt-empty-run").FullName;
        AssertOneLineError(CliRunner.Run("average", "--run-dir", run), "no interval checkpoints", Path.Combine(run, "checkpoint_avg.pt"));
    }

    [Fact]
    public void AverageMoreCheckpointsThanTheRunHolds()
    {
        var output = Data("never-averaged.pt");
        AssertOneLineError(CliRunner.Run("average", "--run-dir", TinyRun.TrainedRunDirectory, "--last", "9", "--output", output),
            "--last 9, but", output);
    }

    [Fact]
    public void AverageIntoAMissingDirectory()
    {
        var output = Data(Path.Combine("no-such-dir", "averaged.pt"));
        AssertOneLineError(CliRunner.Run("average", "--checkpoints", Path.Combine(TinyRun.TrainedRunDirectory, "checkpoint_12.pt"), "--output", output),
            "directory", output);
    }

    [Fact]
    public void AverageNeedsARunDirectoryOrCheckpoints() =>
        AssertOneLineError(CliRunner.Run("average", "--output", Data("never-averaged.pt")), "give either --run-dir or --checkpoints", Data("never-averaged.pt"));

    [Fact]
    public void PlotARunWithoutMetrics()
    {
        var run = Directory.CreateTempSubdirectory("tt-no-metrics").FullName;
        AssertOneLineError(CliRunner.Run("plot", "--run-dir", run), $"{Path.Combine(run, "metrics.jsonl")}: metrics file not found", Path.Combine(run, "metrics.png"));
    }

    [Fact]
    public void PlotAMissingRunDirectory()
    {
        var run = Data("no-such-run");
        AssertOneLineError(CliRunner.Run("plot", "--run-dir", run), $"{run}: run directory not found", run);
    }

    [Fact]
    public void PlotIntoAMissingDirectory()
    {
        var output = Data(Path.Combine("no-such-dir", "curves.png"));
        AssertOneLineError(CliRunner.Run("plot", "--run-dir", TinyRun.TrainedRunDirectory, "--output", output), "directory", output);
    }
}
