using System.Text.Json.Nodes;
using TranslationTrainer.Checkpoints;
using TranslationTrainer.Tests.Training;

namespace TranslationTrainer.Tests.Cli;

/// <summary>The recurrent architectures through the CLI: train, average, translate with alignments, and the options' errors.</summary>
[Collection(TorchCollection.Name)]
public class RecurrentCliTests
{
    private static string Data(string name) => Path.Combine(TinyRun.Directory, name);

    private static CliRunner.Result Train(string runDir, params string[] options) => CliRunner.Run([
        "train", "--run-dir", runDir, "--train-src", Data("train.es"), "--train-tgt", Data("train.en"), "--vocab", Data("vocab"),
        "--valid-src", Data("valid.es"), "--valid-tgt", Data("valid.en"), "--max-updates", "4", "--validate-every", "2", "--d-model", "32",
        "--encoder-layers", "1", "--decoder-layers", "1", "--max-tokens", "700", "--warmup-updates", "2", "--threads", "1", "--device", "cpu",
        .. options]);

    private static void AssertOneLineError(CliRunner.Result result, string expected, string mustNotExist)
    {
        Assert.Equal(1, result.ExitCode);
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got: {result.Error}");
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotContain("   at ", result.Error);
        Assert.False(Path.Exists(mustNotExist), $"{mustNotExist} was created");
    }

    [Fact]
    public void AnRnnCellGivenToATransformerIsAOneLineErrorNamingTheOption()
    {
        var run = TinyRun.NewRunDirectory();
        AssertOneLineError(Train(run, "--rnn-cell", "gru"), "--rnn-cell is an option of rnn-attention and rnn-bottleneck, not of --arch transformer", run);
        AssertOneLineError(Train(run, "--rnn-hidden-size", "64"), "--rnn-hidden-size is an option of rnn-attention and rnn-bottleneck, not of --arch transformer", run);
    }

    [Fact]
    public void AnUnknownArchOrCellIsAOneLineError()
    {
        var run = TinyRun.NewRunDirectory();
        AssertOneLineError(Train(run, "--arch", "rnn-transformer"), "--arch must be one of transformer, decoder-only, rnn-attention, rnn-bottleneck", run);
        AssertOneLineError(Train(run, "--arch", "rnn-attention", "--rnn-cell", "lstmish"), "--rnn-cell must be lstm, gru or rnn, got 'lstmish'", run);
        AssertOneLineError(Train(run, "--arch", "rnn-attention", "--rnn-hidden-size", "33"), "--rnn-hidden-size (33) must be even", run);
    }

    [Theory]
    [InlineData("rnn-attention")]
    [InlineData("rnn-bottleneck")]
    public void ARecurrentRunTrainsAveragesAndTranslates(string arch)
    {
        var run = TinyRun.NewRunDirectory();
        var trained = Train(run, "--arch", arch, "--rnn-cell", "gru", "--rnn-hidden-size", "48");
        Assert.True(trained.ExitCode == 0, trained.Error);
        Assert.Equal(arch, Checkpoint.ReadHeader(Path.Combine(run, RunDirectory.LastCheckpoint)).Architecture);

        var averaged = CliRunner.Run("average", "--run-dir", run, "--last", "2");
        Assert.True(averaged.ExitCode == 0, averaged.Error);
        var checkpoint = Path.Combine(run, RunDirectory.AveragedCheckpoint);
        Assert.Equal(arch, Checkpoint.ReadHeader(checkpoint).Architecture);

        // The report draws attention where there is some, and says so where there is none.
        var reportDir = Path.Combine(run, "report");
        var reported = CliRunner.Run("report", "--run-dir", run, "--test-src", Data("valid.es"), "--test-ref", Data("valid.en"), "--max-sentences", "3",
            "--attention-sentences", "1", "--beam", "2", "--threads", "1", "--device", "cpu", "--output", reportDir);
        Assert.True(reported.ExitCode == 0, reported.Error);
        Assert.Equal(arch == "rnn-attention", File.Exists(Path.Combine(reportDir, "attention-1-average.png")));
        Assert.Equal(arch == "rnn-bottleneck", File.ReadAllText(Path.Combine(reportDir, "report.html")).Contains("has no encoder-decoder attention"));

        var translated = CliRunner.RunWithInput("Y dijo Dios\nSea la luz\n", "translate", "--checkpoint", checkpoint, "--beam", "3", "--threads", "1",
            "--output-format", "json", "--alignment");
        if (arch == "rnn-bottleneck")
        {
            AssertOneLineError(translated, "a rnn-bottleneck model has no cross-attention to align with or draw", Path.Combine(run, "never"));
            translated = CliRunner.RunWithInput("Y dijo Dios\nSea la luz\n", "translate", "--checkpoint", checkpoint, "--beam", "3", "--threads", "1");
            Assert.True(translated.ExitCode == 0, translated.Error);
            Assert.Equal(2, translated.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
            return;
        }
        Assert.True(translated.ExitCode == 0, translated.Error);
        var lines = translated.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(2, lines.Length);
        foreach (var line in lines)
        {
            var alignment = line["alignment"]!.AsArray();
            // One (target, source) pair per output subword, each source index within "Y dijo Dios" / "Sea la luz"'s subwords.
            Assert.All(alignment, pair => Assert.InRange(pair![1]!.GetValue<int>(), 0, 20));
            Assert.Equal(Enumerable.Range(0, alignment.Count), alignment.Select(pair => pair![0]!.GetValue<int>()));
        }
    }
}
