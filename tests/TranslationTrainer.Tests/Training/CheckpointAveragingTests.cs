using TranslationTrainer.Model;
using TranslationTrainer.Training;
using static TorchSharp.torch;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Tests.Training;

[Collection(TorchCollection.Name)]
public class CheckpointAveragingTests
{
    private static CheckpointHeader Header(ModelConfig model, long update, string fingerprint = "vocab-1") => new()
    {
        Model = model, SourceVocabSize = TinyModels.Vocab, TargetVocabSize = TinyModels.Vocab, VocabFingerprint = fingerprint,
        Progress = new TrainingProgress { Update = update },
    };

    /// <summary>A seeded model saved as a checkpoint, with optimiser state like the trainer's.</summary>
    private static string Save(string dir, string name, int seed, long update, string fingerprint = "vocab-1", ModelConfig? config = null)
    {
        var path = Path.Combine(dir, name);
        using var model = config is null ? TinyModels.Create(seed) : new Transformer(config, TinyModels.Vocab, TinyModels.Vocab);
        var optimizer = optim.Adam(model.parameters(), 1e-3);
        Checkpoint.Save(path, Header(config ?? TinyModels.Config(), update, fingerprint), model, optimizer);
        return path;
    }



    [Fact]
    public void TheAverageOfTwoCheckpointsIsTheirMeanForEveryParameter()
    {
        var dir = Directory.CreateTempSubdirectory("tt-average").FullName;
        string first = Save(dir, "checkpoint_10.pt", seed: 1, update: 10), second = Save(dir, "checkpoint_20.pt", seed: 2, update: 20);
        var output = Path.Combine(dir, "averaged.pt");

        var header = CheckpointAveraging.Average([second, first], output);

        var (p1, p2, average) = (TinyRun.Parameters(first), TinyRun.Parameters(second), TinyRun.Parameters(output));
        Assert.Equal(p1.Keys, average.Keys);
        Assert.Contains(p1.Keys, name => !p1[name].allclose(p2[name]));
        foreach (var (name, value) in average)
            Assert.True(value.allclose((p1[name] + p2[name]) / 2, rtol: 1e-6, atol: 1e-7), $"{name} is not the mean");
        var written = Checkpoint.ReadHeader(output);
        Assert.False(written.HasOptimizer);
        Assert.Equal(20, written.Progress.Update);
        Assert.Equal(header, written);
        Assert.Equal(["averaged.pt", "checkpoint_10.pt", "checkpoint_20.pt"], Directory.GetFiles(dir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void CheckpointsOfAnotherModelOrVocabularyAreRefusedByName()
    {
        var dir = Directory.CreateTempSubdirectory("tt-average").FullName;
        string good = Save(dir, "a.pt", seed: 1, update: 1);
        string wider = Save(dir, "wider.pt", seed: 2, update: 2, config: TinyModels.Config() with { FfnSize = 128 });
        string otherVocab = Save(dir, "other-vocab.pt", seed: 3, update: 3, fingerprint: "vocab-2");
        var output = Path.Combine(dir, "averaged.pt");

        Assert.Equal($"{wider}: model config differs from {good}; only checkpoints of one model can be averaged",
            Assert.Throws<UserError>(() => CheckpointAveraging.Average([good, wider], output)).Message);
        Assert.Equal($"{otherVocab}: trained with another vocabulary than {good}",
            Assert.Throws<UserError>(() => CheckpointAveraging.Average([good, otherVocab], output)).Message);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void TheLastIntervalCheckpointsAreChosenOldestFirstAndCounted()
    {
        var dir = Directory.CreateTempSubdirectory("tt-average").FullName;
        foreach (var update in new[] { 30, 10, 20 }) Save(dir, RunDirectory.IntervalCheckpoint(update), seed: update, update: update);
        Save(dir, RunDirectory.LastCheckpoint, seed: 5, update: 30);

        Assert.Equal(["checkpoint_20.pt", "checkpoint_30.pt"], CheckpointAveraging.LastIntervalCheckpoints(dir, 2).Select(Path.GetFileName));
        Assert.Contains("holds only 3 interval checkpoints (updates 10, 20, 30)",
            Assert.Throws<UserError>(() => CheckpointAveraging.LastIntervalCheckpoints(dir, 4)).Message);
    }
}
