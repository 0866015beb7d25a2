using TranslationTrainer.Training;
using static TorchSharp.torch;

namespace TranslationTrainer.Tests.Training;

public class ScheduleAndLossTests
{
    [Theory]
    [InlineData(1, 0.00025)]
    [InlineData(200, 0.05)]
    [InlineData(4000, 1.0)]
    [InlineData(16000, 0.5)]
    public void InverseSqrtWarmsUpLinearlyThenDecays(long update, double fractionOfPeak)
    {
        var config = new TrainConfig { LearningRate = 1e-3, WarmupUpdates = 4000 };
        Assert.Equal(1e-3 * fractionOfPeak, Schedule.LearningRate(config, update), 12);
    }

    [Fact]
    public void NoamIsTheFactorTimesDModelAndWarmupTerms()
    {
        var config = new TrainConfig { Schedule = "noam", LearningRate = 2, WarmupUpdates = 4000 };
        Assert.Equal(2 * Math.Pow(256, -0.5) * 100 * Math.Pow(4000, -1.5), Schedule.LearningRate(config, 100), 12);
        Assert.Equal(2 * Math.Pow(256, -0.5) * Math.Pow(9000, -0.5), Schedule.LearningRate(config, 9000), 12);
    }

    [Fact]
    public void LabelSmoothedLossMatchesAHandComputationAndIgnoresPadding()
    {
        // Two positions over a vocabulary of 4; the second target is padding (id 0) and must not count.
        var logits = tensor(new float[] { 1, 2, 0.5f, -1, 3, 0, 0, 0 }, [1, 2, 4]);
        var target = tensor(new long[] { 1, 0 }, [1, 2]);
        double epsilon = 0.1;
        var logp = new[] { 1.0, 2, 0.5, -1 }.Select(x => x - Math.Log(new[] { 1.0, 2, 0.5, -1 }.Sum(Math.Exp))).ToArray();
        double expected = -(1 - epsilon) * logp[1] - epsilon / 4 * logp.Sum();
        Assert.Equal(expected, Loss.SummedCrossEntropy(logits, target, epsilon, padId: 0).item<float>(), 5);
    }
}
