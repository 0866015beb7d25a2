using static TorchSharp.torch;

namespace TranslationTrainer.Speech;

/// <summary>
/// SpecAugment's masks (Park et al., 2019; no time warping), for training only. Defaults: two frequency masks of
/// up to 27 of the 80 bins and two time masks of up to 40 frames and at most a fifth of the utterance (the paper's
/// LibriSpeech "LD" policy with the time masks shortened for short synthetic utterances).
/// </summary>
public sealed record SpecAugmentOptions(
    int FrequencyMasks = 2,
    int MaxFrequencyWidth = 27,
    int TimeMasks = 2,
    int MaxTimeWidth = 40,
    double MaxTimeFraction = 0.2);

/// <summary>One mask: <see cref="Width"/> consecutive frames (<see cref="Time"/>) or mel bins from <see cref="Start"/>.</summary>
public readonly record struct SpecMask(bool Time, int Start, int Width);

public static class SpecAugment
{
    /// <summary>
    /// The masks of one utterance of [frames, bins], drawn from <paramref name="random"/>: each frequency mask's width
    /// uniform in [0, MaxFrequencyWidth] (at most the bins), each time mask's in [0, min(MaxTimeWidth,
    /// ⌊MaxTimeFraction · frames⌋)], and each start uniform over the positions where the mask fits. Masks may overlap.
    /// </summary>
    public static IReadOnlyList<SpecMask> Draw(int frames, int bins, SpecAugmentOptions options, Random random)
    {
        if (options.FrequencyMasks < 0 || options.TimeMasks < 0 || options.MaxFrequencyWidth < 0 || options.MaxTimeWidth < 0
            || options.MaxTimeFraction is < 0 or > 1 || double.IsNaN(options.MaxTimeFraction))
            throw new UserError($"SpecAugment settings must not be negative (and the time fraction at most 1): {options}");
        var masks = new List<SpecMask>();
        int maxFrequency = Math.Min(options.MaxFrequencyWidth, bins);
        for (int i = 0; i < options.FrequencyMasks; i++)
        {
            int width = random.Next(maxFrequency + 1);
            masks.Add(new SpecMask(false, random.Next(bins - width + 1), width));
        }
        int maxTime = Math.Min(options.MaxTimeWidth, (int)(options.MaxTimeFraction * frames));
        for (int i = 0; i < options.TimeMasks; i++)
        {
            int width = random.Next(maxTime + 1);
            masks.Add(new SpecMask(true, random.Next(frames - width + 1), width));
        }
        return masks;
    }

    /// <summary>A copy of <paramref name="features"/> [frames, bins] with the masked cells set to 0 (the mean of normalised features).</summary>
    public static Tensor Apply(Tensor features, IReadOnlyList<SpecMask> masks)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var result = features.clone();
        foreach (var mask in masks)
            if (mask.Width > 0) result.narrow(mask.Time ? 0 : 1, mask.Start, mask.Width).zero_();
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>A masked copy of one utterance's features held as [frames × bins] row-major values, as training batches read them.</summary>
    public static float[] Apply(float[] features, int bins, SpecAugmentOptions options, Random random)
    {
        int frames = features.Length / bins;
        var result = (float[])features.Clone();
        foreach (var mask in Draw(frames, bins, options, random))
            for (int i = mask.Start; i < mask.Start + mask.Width; i++)
            {
                if (mask.Time) Array.Clear(result, i * bins, bins);
                else for (int t = 0; t < frames; t++) result[t * bins + i] = 0;
            }
        return result;
    }

    /// <summary>Draws the masks for <paramref name="features"/> and applies them.</summary>
    public static Tensor Apply(Tensor features, SpecAugmentOptions options, Random random) =>
        Apply(features, Draw((int)features.shape[0], (int)features.shape[1], options, random));
}
