using System.Text.Json.Nodes;
using TranslationTrainer.Data;
using TranslationTrainer.Training;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Tests.Training;

[Collection(TorchCollection.Name)]
public class TrainerTests
{
    [Fact]
    public void ResumingReproducesTheUninterruptedRunBitForBit()
    {
        // Split at a validation (a stop also validates) but inside a progress-log window, which must carry over.
        var config = TinyRun.Config() with { LogEvery = 4 };
        string straight = TinyRun.NewRunDirectory(), split = TinyRun.NewRunDirectory();
        TinyRun.Train(config, straight);
        TinyRun.Train(config with { MaxUpdates = 6 }, split);
        var resumed = TinyRun.Train(config, split);

        Assert.Equal(12, resumed.Updates);
        var expected = TinyRun.Parameters(Path.Combine(straight, RunDirectory.LastCheckpoint));
        var actual = TinyRun.Parameters(Path.Combine(split, RunDirectory.LastCheckpoint));
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (name, value) in expected)
            Assert.True(value.eq(actual[name]).all().item<bool>(), $"{name} differs after resume");
        Assert.Equal(MetricsWithoutTimings(straight), MetricsWithoutTimings(split));
    }

    [Fact]
    public void AFinishedRunTrainedAgainDoesNoFurtherUpdate()
    {
        string runDir = TinyRun.NewRunDirectory();
        TinyRun.Train(TinyRun.Config() with { MaxUpdates = 3 }, runDir);
        var before = File.ReadAllBytes(Path.Combine(runDir, RunDirectory.LastCheckpoint));
        var again = TinyRun.Train(TinyRun.Config() with { MaxUpdates = 3 }, runDir);
        Assert.Equal(3, again.Updates);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(runDir, RunDirectory.LastCheckpoint)));
    }

    [Fact]
    public void CancellationSavesCheckpointLastAndTheRunContinues()
    {
        string runDir = TinyRun.NewRunDirectory();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var result = TinyRun.Train(TinyRun.Config(), runDir, cancelled.Token);
        Assert.True(result.Interrupted);
        Assert.Equal(1, result.Updates);
        Assert.Equal(1, Checkpoint.ReadHeader(Path.Combine(runDir, RunDirectory.LastCheckpoint)).Progress.Update);
        Assert.Equal(12, TinyRun.Train(TinyRun.Config(), runDir).Updates);
    }

    [Fact]
    public void ARunWritesItsDirectoryAndKeepsTheLastIntervalCheckpoints()
    {
        string runDir = TinyRun.NewRunDirectory();
        var result = TinyRun.Train(TinyRun.Config() with { ValidateEvery = 3, KeepLast = 2 }, runDir);
        Assert.Equal("reached --max-updates 12", result.StopReason);
        foreach (var name in new[] { RunDirectory.Config, RunDirectory.LastCheckpoint, RunDirectory.BestCheckpoint, RunDirectory.Metrics })
            Assert.True(File.Exists(Path.Combine(runDir, name)), name);
        Assert.True(File.Exists(Path.Combine(runDir, RunDirectory.Vocab, "manifest.json")));
        Assert.Equal([9L, 12L], Trainer.IntervalCheckpoints(runDir).Select(c => c.Update));
        var validations = MetricsFile.Read(Path.Combine(runDir, RunDirectory.Metrics)).Where(m => m.ContainsKey("valid_loss")).ToList();
        Assert.Equal([3L, 6L, 9L, 12L], validations.Select(v => v["update"]!.GetValue<long>()));
        var losses = MetricsFile.Read(Path.Combine(runDir, RunDirectory.Metrics)).Where(m => m.ContainsKey("loss")).Select(m => m["loss"]!.GetValue<double>()).ToList();
        Assert.True(losses[^1] < losses[0], "training loss did not fall");
    }

    [Fact]
    public void ValidationBleuIsLoggedWhenAsked()
    {
        string runDir = TinyRun.NewRunDirectory();
        TinyRun.Train(TinyRun.Config() with { MaxUpdates = 2, ValidateEvery = 2, ValidBleu = true, BestMetric = "bleu" }, runDir);
        var validation = MetricsFile.Read(Path.Combine(runDir, RunDirectory.Metrics)).Single(m => m.ContainsKey("valid_bleu"));
        Assert.InRange(validation["valid_bleu"]!.GetValue<double>(), 0, 100);
        Assert.InRange(validation["valid_chrf"]!.GetValue<double>(), 0, 100);
    }

    [Fact]
    public void ADifferentConfigIsRefusedInAnExistingRunDirectory()
    {
        string runDir = TinyRun.NewRunDirectory();
        TinyRun.Train(TinyRun.Config() with { MaxUpdates = 1 }, runDir);
        var error = Assert.Throws<UserError>(() => TinyRun.Train(TinyRun.Config() with { Model = TinyRun.Config().Model with { DModel = 64 } }, runDir));
        Assert.Contains("--d-model was 32 and is now 64", error.Message);
    }

    [Fact]
    public void MismatchedLineCountsFailBeforeAnythingIsWritten()
    {
        string runDir = TinyRun.NewRunDirectory();
        var shorter = Path.Combine(TinyRun.Directory, "short.en");
        File.WriteAllLines(shorter, File.ReadLines(TinyRun.Config().TrainTgt).Take(60));
        var error = Assert.Throws<UserError>(() => TinyRun.Train(TinyRun.Config() with { TrainTgt = shorter }, runDir));
        Assert.Equal($"{TinyRun.Config().TrainSrc} has 64 lines but {shorter} has 60", error.Message);
        Assert.False(Directory.Exists(runDir));
    }



    private static List<string> MetricsWithoutTimings(string runDir) =>
        MetricsFile.Read(Path.Combine(runDir, RunDirectory.Metrics)).Select(m =>
        {
            m.Remove("tgt_tok_per_s");
            m.Remove("elapsed_s");
            m.Remove("rss_mb");
            m.Remove("peak_rss_mb");
            return m.ToJsonString();
        }).ToList();
}
