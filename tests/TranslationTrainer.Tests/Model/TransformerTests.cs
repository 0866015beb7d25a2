using TranslationTrainer.Model;
using static TorchSharp.torch;

namespace TranslationTrainer.Tests.Model;

[Collection(TorchCollection.Name)]
public class TransformerTests
{
    [Fact]
    public void LibtorchLoadsAndComputes()
    {
        using var x = ones(2, 3);
        Assert.Equal(6f, x.sum().item<float>());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ChangingAFutureTargetTokenChangesNoEarlierOutput(bool preNorm)
    {
        using var scope = NewDisposeScope();
        var model = TinyModels.Create(preNorm: preNorm);
        var source = TinyModels.RandomTokens(1, 2, 9);
        var target = TinyModels.RandomTokens(2, 2, 8);
        var before = model.forward(source, target);
        for (int changed = 1; changed < 8; changed++)
        {
            var altered = target.clone();
            altered[.., changed] = (altered[.., changed] - 4 + 1) % (TinyModels.Vocab - 4) + 4;
            var after = model.forward(source, altered);
            Assert.True(before[.., ..changed].allclose(after[.., ..changed], rtol: 0, atol: 1e-6), $"position before {changed} changed");
            Assert.False(before[.., changed].allclose(after[.., changed], rtol: 0, atol: 1e-6), $"position {changed} did not change");
        }
    }

    [Fact]
    public void PaddingChangesNoRealPositionsOutput()
    {
        using var scope = NewDisposeScope();
        var model = TinyModels.Create();
        var source = TinyModels.RandomTokens(3, 1, 5);
        var target = TinyModels.RandomTokens(4, 1, 4);
        var alone = model.forward(source, target);

        // The same pair padded to fit a batch with a longer pair.
        var paddedSource = cat([source, zeros(1, 6, dtype: int64)], 1);
        var paddedTarget = cat([target, zeros(1, 3, dtype: int64)], 1);
        var batch = model.forward(cat([paddedSource, TinyModels.RandomTokens(5, 1, 11)], 0), cat([paddedTarget, TinyModels.RandomTokens(6, 1, 7)], 0));
        Assert.True(alone[0].allclose(batch[0, ..4], rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void EveryLayerHasItsOwnParameters()
    {
        var model = TinyModels.Create();
        var names = model.named_parameters().Select(p => p.name).ToList();
        Assert.Contains(names, n => n.StartsWith("encoderLayers.0."));
        Assert.Contains(names, n => n.StartsWith("encoderLayers.1."));
        Assert.Contains(names, n => n.StartsWith("decoderLayers.1.crossAttention."));
        var handles = model.parameters().Select(p => p.Handle).ToList();
        Assert.Equal(handles.Count, handles.Distinct().Count());
    }

    [Theory]
    [InlineData(0, 4, "--d-model (30) must be divisible by --heads (4)")]
    [InlineData(-1, 2, "--encoder-layers must be at least 1")]
    public void ImpossibleShapesAreUserErrors(int encoderLayersDelta, int heads, string message)
    {
        var config = TinyModels.Config() with { DModel = encoderLayersDelta == 0 ? 30 : 32, Heads = heads, EncoderLayers = encoderLayersDelta == 0 ? 2 : 0 };
        var error = Assert.Throws<UserError>(() => new Transformer(config, 10, 10));
        Assert.Equal(message, error.CommandLineMessage);
    }
}
