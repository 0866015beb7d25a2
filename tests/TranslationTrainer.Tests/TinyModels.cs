using TranslationTrainer.Data;
using TranslationTrainer.Training;
using TranslationTrainer.Model;
using TranslationTrainer.Text;
using static TorchSharp.torch;

namespace TranslationTrainer.Tests;

/// <summary>Small seeded models and inputs, so tests take milliseconds and give the same numbers every run.</summary>
public static class TinyModels
{
    public const int Vocab = 24;

    public static ModelConfig Config(bool preNorm = true, double dropout = 0.0) => new()
    {
        DModel = 32, Heads = 4, FfnSize = 64, EncoderLayers = 2, DecoderLayers = 2, Dropout = dropout, PreNorm = preNorm, MaxPositions = 64,
    };

    public static Transformer Create(int seed = 7, bool preNorm = true, double dropout = 0.0, string tie = "all", int heads = 4)
    {
        manual_seed(seed);
        var model = new Transformer(Config(preNorm, dropout) with { TieEmbeddings = tie, Heads = heads }, Vocab, Vocab);
        model.eval();
        return model;
    }

    /// <summary>A seeded decoder-only model of the same size: its one stack has `decoder-layers` (2) layers.</summary>
    public static DecoderOnlyTransformer CreateDecoderOnly(int seed = 7, bool preNorm = true, double dropout = 0.0, int heads = 4)
    {
        manual_seed(seed);
        var model = new DecoderOnlyTransformer(Config(preNorm, dropout) with { Arch = DecoderOnlyTransformer.ArchitectureName, Heads = heads }, Vocab, Vocab);
        model.eval();
        return model;
    }

    /// <summary>A seeded rnn-attention or rnn-bottleneck of the same size (hidden 40 ≠ d-model 32 by default, so the tied output projects).</summary>
    public static RecurrentModel CreateRecurrent(string arch, string cell = "lstm", int seed = 7, double dropout = 0.0, string tie = "all",
        int hidden = 40, int encoderLayers = 2, int decoderLayers = 2)
    {
        manual_seed(seed);
        var model = new RecurrentModel(RecurrentConfig(arch, cell, dropout, tie, hidden, encoderLayers, decoderLayers), Vocab, Vocab);
        model.eval();
        return model;
    }

    public static ModelConfig RecurrentConfig(string arch, string cell = "lstm", double dropout = 0.0, string tie = "all", int hidden = 40,
        int encoderLayers = 2, int decoderLayers = 2) =>
        Config(dropout: dropout) with
        {
            Arch = arch, RnnCell = cell, RnnHiddenSize = hidden, TieEmbeddings = tie, EncoderLayers = encoderLayers, DecoderLayers = decoderLayers,
        };

    /// <summary>Ids of ordinary tokens (4 and up: 0-3 are pad, unk, bos, eos).</summary>
    public static Tensor RandomTokens(int seed, params long[] shape)
    {
        var generator = new TorchSharp.torch.Generator((ulong)seed);
        return randint(4, Vocab, shape, generator: generator, dtype: int64);
    }

    /// <summary>Trains the model until it reproduces `pairs` random pairs; returns the padded sources and target tokens.</summary>
    public static (Tensor Sources, int[][] Targets) Memorize(ITranslationModel model, int pairs, double learningRate = 3e-3)
    {
        var generator = new Generator(5);
        var sources = Enumerable.Range(0, pairs).Select(i => randint(4, TinyModels.Vocab, [3 + i % 4], generator: generator).data<long>().Select(x => (int)x).ToArray()).ToArray();
        var targets = Enumerable.Range(0, pairs).Select(i => randint(4, TinyModels.Vocab, [2 + (i * 3) % 5], generator: generator).data<long>().Select(x => (int)x).ToArray()).ToArray();
        var source = Batching.Pad(sources, CPU);
        var targetInput = Batching.Pad(targets.Select(t => (int[])[Vocabulary.BosId, .. t]).ToArray(), CPU);
        var targetOutput = Batching.Pad(targets.Select(t => (int[])[.. t, Vocabulary.EosId]).ToArray(), CPU);
        int tokens = targets.Sum(t => t.Length + 1);
        var optimizer = optim.Adam(model.Module.parameters(), learningRate, 0.9, 0.98, 1e-9);
        model.Module.train();
        double loss = double.MaxValue;
        for (int update = 0; update < 400 && loss > 0.01; update++)
        {
            using var step = NewDisposeScope();
            optimizer.zero_grad();
            var batchLoss = Loss.SummedCrossEntropy(model.forward(source, targetInput), targetOutput, 0.0, 0) / tokens;
            batchLoss.backward();
            optimizer.step();
            loss = batchLoss.item<float>();
        }
        Assert.True(loss < 0.05, $"loss stayed at {loss}");
        return (source.DetachFromDisposeScope(), targets);
    }
}
