using TranslationTrainer.Checkpoints;
using TranslationTrainer.Decoding;
using TranslationTrainer.Model;
using TranslationTrainer.Tests.Cli;
using TranslationTrainer.Tests.Training;
using TranslationTrainer.Text;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace TranslationTrainer.Tests.Decoding;

[Collection(TorchCollection.Name)]
public class EnsembleTests
{
    private static readonly DecodingOptions Greedy = new() { Beam = 1, MaxLenA = 0, MaxLenB = 12 };
    private static readonly DecodingOptions Beam4 = Greedy with { Beam = 4, NBest = 4 };
    private static readonly int[] MaxLengths = Enumerable.Repeat(12, 6).ToArray();

    private static void AssertSameResults(List<Hypothesis>[] expected, List<Hypothesis>[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Select(h => h.Tokens), actual[i].Select(h => h.Tokens));
            for (int j = 0; j < expected[i].Count; j++)
            {
                Assert.True(Math.Abs(expected[i][j].Score - actual[i][j].Score) <= tolerance, $"sentence {i}, hypothesis {j}: {expected[i][j].Score} vs {actual[i][j].Score}");
                Assert.True(Math.Abs(expected[i][j].LogProbability - actual[i][j].LogProbability) <= tolerance, $"sentence {i}, hypothesis {j}: log-probability");
            }
        }
    }

    [Fact]
    public void AnEnsembleOfOneGivesExactlyTheModelsTranslationsAndScores()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.Create();
        var source = TinyModels.RandomTokens(14, 6, 8);
        var ensemble = new EnsembleModel([model]);
        foreach (var options in new[] { Greedy, Beam4 })
            AssertSameResults(Search.Decode(model, source, MaxLengths, options), Search.Decode(ensemble, source, MaxLengths, options), tolerance: 0);
    }

    [Fact]
    public void AnEnsembleOfTwoIdenticalModelsEqualsOne()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.Create();
        var source = TinyModels.RandomTokens(14, 6, 8);
        var ensemble = new EnsembleModel([model, model]);
        foreach (var options in new[] { Greedy, Beam4 })
            AssertSameResults(Search.Decode(model, source, MaxLengths, options), Search.Decode(ensemble, source, MaxLengths, options), tolerance: 1e-5);
    }

    [Fact]
    public void AStepIsTheLogOfTheMeanOfTheMembersProbabilities()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var (first, second) = (TinyModels.Create(seed: 7), TinyModels.Create(seed: 3));
        var source = TinyModels.RandomTokens(16, 3, 7);
        var prefix = cat([full(3, 1, (long)Vocabulary.BosId), TinyModels.RandomTokens(17, 3, 1)], 1); // <s> and one token
        var ensemble = new EnsembleModel([first, second]);
        using var state = ensemble.StartDecoding(ensemble.Encode(source), cached: true);
        state.Step(prefix[.., 0]);
        var step = state.Step(prefix[.., 1]);

        Tensor Probabilities(Transformer model)
        {
            var (memory, keep) = model.Encode(source);
            return F.softmax(model.Decode(prefix, memory, keep)[.., -1], -1);
        }
        var direct = ((Probabilities(first) + Probabilities(second)) / 2).log();
        Assert.True(step.allclose(direct, rtol: 0, atol: 1e-5), "the ensemble's step is not log(mean softmax)");
        Assert.True(step.logsumexp(-1).abs().max().item<float>() < 1e-5, "the step is not normalised");
        Assert.False(step.allclose(F.log_softmax(Probabilities(first).log(), -1), rtol: 0, atol: 1e-3), "the second model made no difference");
    }

    [Fact]
    public void TheCachedEnsembleEqualsTheUncachedOne()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var ensemble = new EnsembleModel([TinyModels.Create(seed: 7), TinyModels.Create(seed: 3)]);
        var source = TinyModels.RandomTokens(14, 6, 8);
        foreach (var options in new[] { Greedy, Beam4 })
            AssertSameResults(Search.Decode(ensemble, source, MaxLengths, options), Search.Decode(ensemble, source, MaxLengths, options with { Uncached = true }), tolerance: 1e-4);
    }

    [Fact]
    public void BeamOfOneEqualsGreedyForTheEnsemble()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var ensemble = new EnsembleModel([TinyModels.Create(seed: 7), TinyModels.Create(seed: 3)]);
        var source = TinyModels.RandomTokens(14, 6, 8);
        AssertSameResults(Search.Greedy(ensemble, source, MaxLengths, Greedy), Search.Beam(ensemble, source, MaxLengths, Greedy), tolerance: 1e-4);
    }

    [Fact]
    public void CrossAttentionIsTheMeanOfTheMembersMaps()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var (first, second) = (TinyModels.Create(seed: 7), TinyModels.Create(seed: 3, heads: 2));
        var source = TinyModels.RandomTokens(16, 3, 7);
        var target = cat([full(3, 1, (long)Vocabulary.BosId), TinyModels.RandomTokens(17, 3, 4)], 1);
        Assert.True(new EnsembleModel([first, first]).CrossAttention(new EnsembleModel([first, first]).Encode(source), target)!
            .allclose(first.CrossAttention(first.Encode(source), target)!, rtol: 0, atol: 1e-6));

        var mixed = new EnsembleModel([first, second]);
        var headMeans = (first.CrossAttention(first.Encode(source), target)!.mean([1], keepdim: true)
            + second.CrossAttention(second.Encode(source), target)!.mean([1], keepdim: true)) / 2;
        Assert.True(mixed.CrossAttention(mixed.Encode(source), target)!.allclose(headMeans, rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void ItTakesTheShortestPositionsAndNamesItsBackends()
    {
        using var first = TinyModels.Create();
        using var second = new Transformer(TinyModels.Config() with { MaxPositions = 16 }, TinyModels.Vocab, TinyModels.Vocab);
        var ensemble = new EnsembleModel([first, second]);
        Assert.Equal(16, ensemble.MaxPositions);
        Assert.Equal(first.Backend, ensemble.Backend);
        Assert.Equal(first.Architecture, ensemble.Architecture);
        Assert.Equal(2, ((EnsembleModel)ensemble.ForWorker(1)).Members.Count);
    }

    // The command line: several --checkpoint options on translate and eval.

    private static string Trained => TinyRun.TrainedRunDirectory;
    private static string Data(string name) => Path.Combine(TinyRun.Directory, name);

    private static string[] Translate(params string[] checkpoints) =>
        ["translate", .. checkpoints.SelectMany(c => new[] { "--checkpoint", c }), "--input", Data("valid.es"), "--beam", "2", "--threads", "1", "--device", "cpu"];

    [Fact]
    public void TranslateWithTheSameCheckpointTwiceEqualsTranslateWithIt()
    {
        var single = CliRunner.Run(Translate(Trained));
        var twice = CliRunner.Run(Translate(Trained, Trained));
        Assert.True(single.ExitCode == 0, single.Error);
        Assert.True(twice.ExitCode == 0, twice.Error);
        Assert.Equal(single.Out, twice.Out);
        Assert.Equal(12, twice.Out.Count(c => c == '\n')); // one line per input line, empty or not
    }

    [Fact]
    public void EvalTranslatesWithAnEnsemble()
    {
        var result = CliRunner.Run("eval", "--checkpoint", Path.Combine(Trained, "checkpoint_6.pt"), "--checkpoint", Path.Combine(Trained, "checkpoint_12.pt"),
            "--src", Data("valid.es"), "--ref", Data("valid.en"), "--beam", "2", "--threads", "1", "--device", "cpu");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("BLEU", result.Out);
    }

    [Fact]
    public void CheckpointsOfDifferentVocabulariesAreAOneLineError()
    {
        var dir = Directory.CreateTempSubdirectory("tt-ensemble").FullName;
        var checkpoint = Path.Combine(Trained, "checkpoint_12.pt");
        var (header, model) = Checkpoint.LoadModel(checkpoint, CPU);
        var foreign = Path.Combine(dir, "foreign.pt");
        using (model) Checkpoint.Save(foreign, header with { VocabFingerprint = "another vocabulary" }, model, optimizer: null);

        var result = CliRunner.Run(Translate(checkpoint, foreign));
        Assert.True(result.ExitCode != 0, $"exit code 0; stderr: {result.Error}");
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got: {result.Error}");
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains($"{foreign} was trained with another vocabulary than {checkpoint}", lines[0]);
        Assert.Equal("", result.Out);
    }
}
