using TranslationTrainer.Decoding;
using TranslationTrainer.Training;
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
        var generator = new Generator(5);
        var sources = Enumerable.Range(0, 8).Select(i => randint(4, TinyModels.Vocab, [3 + i % 4], generator: generator).data<long>().ToArray()).ToArray();
        var targets = Enumerable.Range(0, 8).Select(i => randint(4, TinyModels.Vocab, [2 + (i * 3) % 5], generator: generator).data<long>().ToArray()).ToArray();
        var source = PadRows(sources);
        var targetInput = PadRows(targets.Select(t => (long[])[2, .. t]).ToArray());
        var targetOutput = PadRows(targets.Select(t => (long[])[.. t, 3]).ToArray());
        int tokens = targets.Sum(t => t.Length + 1);

        var optimizer = optim.Adam(model.parameters(), 3e-3, 0.9, 0.98, 1e-9);
        model.train();
        double loss = double.MaxValue;
        for (int update = 0; update < 300 && loss > 0.01; update++)
        {
            using var step = NewDisposeScope();
            optimizer.zero_grad();
            var batchLoss = Loss.SummedCrossEntropy(model.forward(source, targetInput), targetOutput, 0.0, 0) / tokens;
            batchLoss.backward();
            optimizer.step();
            loss = batchLoss.item<float>();
        }
        Assert.True(loss < 0.05, $"loss stayed at {loss}");

        model.eval();
        using var inference = inference_mode();
        var outputs = Search.Greedy(model, source, Enumerable.Repeat(10, 8).ToArray(), new DecodingOptions { Beam = 1 });
        for (int i = 0; i < 8; i++)
            Assert.Equal(targets[i].Select(t => (int)t).ToArray(), outputs[i][0].Tokens);
    }

    private static Tensor PadRows(long[][] rows) =>
        TranslationTrainer.Data.Batching.Pad(rows.Select(r => r.Select(x => (int)x).ToArray()).ToArray(), CPU);
}
