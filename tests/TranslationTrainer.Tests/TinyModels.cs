using TranslationTrainer.Model;
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

    public static Transformer Create(int seed = 7, bool preNorm = true, double dropout = 0.0, string tie = "all")
    {
        manual_seed(seed);
        var model = new Transformer(Config(preNorm, dropout) with { TieEmbeddings = tie }, Vocab, Vocab);
        model.eval();
        return model;
    }

    /// <summary>Ids of ordinary tokens (4 and up: 0-3 are pad, unk, bos, eos).</summary>
    public static Tensor RandomTokens(int seed, params long[] shape)
    {
        var generator = new TorchSharp.torch.Generator((ulong)seed);
        return randint(4, Vocab, shape, generator: generator, dtype: int64);
    }
}
