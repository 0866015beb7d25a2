using TranslationTrainer.Speech;
using static TorchSharp.torch;

namespace TranslationTrainer.Tests.Speech;

public class SpecAugmentTests
{
    /// <summary>[frames, 80] of distinct non-zero values, so that a zero can only be a mask.</summary>
    private static Tensor Features(int frames) => arange(1, frames * 80 + 1, dtype: ScalarType.Float32).reshape(frames, 80);

    private static bool[,] Zeros(Tensor t)
    {
        var data = t.data<float>().ToArray();
        int rows = (int)t.shape[0], cols = (int)t.shape[1];
        var zeros = new bool[rows, cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) zeros[i, j] = data[i * cols + j] == 0;
        return zeros;
    }

    [Fact]
    public void MasksExactlyTheStatedWidths()
    {
        using var features = Features(100);
        using var masked = SpecAugment.Apply(features, [new SpecMask(false, 10, 5), new SpecMask(true, 30, 7)]);
        var zeros = Zeros(masked);
        for (int t = 0; t < 100; t++)
            for (int m = 0; m < 80; m++)
                Assert.Equal((m >= 10 && m < 15) || (t >= 30 && t < 37), zeros[t, m]);
        // 5 whole bins and 7 whole frames: 5·100 + 7·80 − 5·7 cells
        Assert.Equal(5 * 100 + 7 * 80 - 5 * 7, masked.eq(0).sum().item<long>());
        Assert.Equal(0, features.eq(0).sum().item<long>());  // the input is left as it was
    }

    [Fact]
    public void DrawnMasksStayWithinTheirLimitsAndAreSeeded()
    {
        var options = new SpecAugmentOptions(FrequencyMasks: 2, MaxFrequencyWidth: 27, TimeMasks: 2, MaxTimeWidth: 40, MaxTimeFraction: 0.2);
        for (int seed = 0; seed < 200; seed++)
        {
            var masks = SpecAugment.Draw(150, 80, options, new Random(seed));
            Assert.Equal(masks, SpecAugment.Draw(150, 80, options, new Random(seed)));
            Assert.Equal(2, masks.Count(m => !m.Time));
            Assert.Equal(2, masks.Count(m => m.Time));
            foreach (var mask in masks)
            {
                Assert.InRange(mask.Width, 0, mask.Time ? 30 : 27);  // time: min(40, 0.2 · 150)
                Assert.InRange(mask.Start, 0, (mask.Time ? 150 : 80) - mask.Width);
            }
        }
        // and the widths do reach their limits
        var all = Enumerable.Range(0, 500).SelectMany(s => SpecAugment.Draw(150, 80, options, new Random(s))).ToList();
        Assert.Equal(27, all.Where(m => !m.Time).Max(m => m.Width));
        Assert.Equal(30, all.Where(m => m.Time).Max(m => m.Width));
    }

    [Fact]
    public void AppliedMasksAreTheDrawnOnes()
    {
        using var features = Features(120);
        var masks = SpecAugment.Draw(120, 80, new SpecAugmentOptions(), new Random(5));
        using var masked = SpecAugment.Apply(features, new SpecAugmentOptions(), new Random(5));
        var zeros = Zeros(masked);
        for (int t = 0; t < 120; t++)
            for (int m = 0; m < 80; m++)
                Assert.Equal(masks.Any(k => k.Time ? t >= k.Start && t < k.Start + k.Width : m >= k.Start && m < k.Start + k.Width), zeros[t, m]);
    }

    [Fact]
    public void ZeroWidthsChangeNothing()
    {
        using var features = Features(50);
        var none = new SpecAugmentOptions(MaxFrequencyWidth: 0, MaxTimeWidth: 0);
        using var masked = SpecAugment.Apply(features, none, new Random(1));
        Assert.True(masked.eq(features).all().item<bool>());
        using var noMasks = SpecAugment.Apply(features, new SpecAugmentOptions(FrequencyMasks: 0, TimeMasks: 0), new Random(1));
        Assert.True(noMasks.eq(features).all().item<bool>());
        using var tiny = SpecAugment.Apply(Features(3), new SpecAugmentOptions(), new Random(1));  // 0.2 · 3 frames: no time mask
        Assert.Equal(0, tiny.narrow(1, 0, 80).eq(0).all(1).sum().item<long>());
    }

    [Fact]
    public void NegativeSettingsAreRefused() =>
        Assert.Throws<UserError>(() => SpecAugment.Draw(10, 80, new SpecAugmentOptions(MaxTimeWidth: -1), new Random(1)));
}
