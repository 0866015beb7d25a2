using TranslationTrainer.Decoding;
using static TorchSharp.torch;

namespace TranslationTrainer.Tests.Model;

[Collection(TorchCollection.Name)]
public class OverfitTests
{
    [Fact]
    public void ATinyModelLearnsEightPairsAndTranslatesThemBack()
    {
        using var scope = NewDisposeScope();
        var model = TinyModels.Create(seed: 21);
        var (sources, targets) = TinyModels.Memorize(model, pairs: 8);

        model.eval();
        using var inference = inference_mode();
        var outputs = Search.Greedy(model, sources, Enumerable.Repeat(10, 8).ToArray(), new DecodingOptions { Beam = 1 });
        for (int i = 0; i < 8; i++)
            Assert.Equal(targets[i], outputs[i][0].Tokens);
    }
}
