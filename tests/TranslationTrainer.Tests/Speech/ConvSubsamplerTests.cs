using TranslationTrainer.Speech;
using static TorchSharp.torch;

namespace TranslationTrainer.Tests.Speech;

[Collection(TorchCollection.Name)]
public class ConvSubsamplerTests
{
    private static ConvSubsampler Create(int layers = 2)
    {
        manual_seed(7);
        var subsampler = new ConvSubsampler(inputBins: 80, dModel: 16, channels: 24, layers);
        subsampler.eval();
        return subsampler;
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 1, 1)]
    [InlineData(3, 2, 1)]
    [InlineData(8, 4, 2)]
    [InlineData(9, 5, 3)]
    [InlineData(100, 50, 25)]
    [InlineData(101, 51, 26)]
    public void FramesShrinkTwofoldPerLayerRoundingUp(int frames, int afterOne, int afterTwo)
    {
        Assert.Equal(afterOne, ConvSubsampler.OneLayerLength(frames));
        using var subsampler = Create();
        Assert.Equal(afterTwo, subsampler.OutputLength(frames));
        using var scope = NewDisposeScope();
        var (output, lengths) = subsampler.forward(randn(1, frames, 80), [frames]);
        Assert.Equal(new long[] { 1, afterTwo, 16 }, output.shape);
        Assert.Equal(afterTwo, lengths[0]);
    }

    [Fact]
    public void AShortUtteranceAloneEqualsItselfInAPaddedBatch()
    {
        using var subsampler = Create();
        using var scope = NewDisposeScope();
        manual_seed(11);
        var longUtterance = randn(1, 37, 80);
        var shortUtterance = randn(1, 20, 80);
        // Padding frames of garbage, not zeros: the subsampler must ignore them, whatever they hold.
        var padded = cat([shortUtterance, randn(1, 17, 80) * 100], dim: 1);
        var (batch, lengths) = subsampler.forward(cat([longUtterance, padded], dim: 0), [37, 20]);
        var (alone, aloneLengths) = subsampler.forward(shortUtterance, [20]);

        Assert.Equal(new long[] { 10, 5 }, lengths);
        Assert.Equal(5, aloneLengths[0]);
        Assert.True(allclose(batch[1, ..5], alone[0], rtol: 1e-5, atol: 1e-6), "the short utterance's frames changed in the padded batch");
        Assert.Equal(0f, batch[1, 5..].abs().max().item<float>());
        var (longAlone, _) = subsampler.forward(longUtterance, [37]);
        Assert.True(allclose(batch[0], longAlone[0], rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void AFrameReachesOnlyTheOutputsItsReceptiveFieldCovers()
    {
        // Two layers of kernel 5, stride 2: output t reads input frames 4t − 6 … 4t + 6, so changing frame 30 moves
        // outputs 6 … 9 only (a streaming-minded check that nothing global, like a normalisation, slipped in).
        using var subsampler = Create();
        using var scope = NewDisposeScope();
        manual_seed(3);
        var features = randn(1, 64, 80);
        var changed = features.clone();
        changed[0, 30] += 5;
        var (before, _) = subsampler.forward(features, [64]);
        var (after, _) = subsampler.forward(changed, [64]);
        var moved = (after - before).abs().amax([0, 2]).data<float>().ToArray();
        var movedOutputs = Enumerable.Range(0, moved.Length).Where(t => moved[t] > 0).ToArray();
        Assert.Equal([6, 7, 8, 9], movedOutputs);
    }

    [Fact]
    public void EveryParameterGetsAGradient()
    {
        using var subsampler = Create(layers: 3);
        subsampler.train();
        using var scope = NewDisposeScope();
        var (output, _) = subsampler.forward(randn(2, 40, 80), [40, 25]);
        output.square().sum().backward();
        Assert.Equal(6, subsampler.parameters().Count());
        Assert.All(subsampler.parameters(), p => Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0));
    }
}
