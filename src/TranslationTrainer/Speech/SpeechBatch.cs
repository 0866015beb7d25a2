using static TorchSharp.torch;

namespace TranslationTrainer.Speech;

/// <summary>
/// How a batch of utterances travels through the model seam, which takes one source tensor: (B, frames, bins + 1),
/// the log-mel features right-padded with zeros and a last channel that is 1 on real frames and 0 on padding, so the
/// tensor carries its own lengths as a token batch does with its padding id.
/// </summary>
public static class SpeechBatch
{
    /// <summary>Pads utterances (each [frames × bins] row-major, `bins` values a frame) into one source tensor on the device.</summary>
    public static Tensor Pad(IReadOnlyList<float[]> utterances, int bins, Device device)
    {
        int width = utterances.Max(u => u.Length / bins), channels = bins + 1;
        var data = new float[utterances.Count * width * channels];
        for (int r = 0; r < utterances.Count; r++)
        {
            var frames = utterances[r];
            for (int t = 0; t < frames.Length / bins; t++)
            {
                int at = (r * width + t) * channels;
                Array.Copy(frames, t * bins, data, at, bins);
                data[at + bins] = 1;
            }
        }
        return tensor(data, [utterances.Count, width, channels]).to(device);
    }

    /// <summary>The features (B, frames, bins) and each row's real frame count, from a tensor made by <see cref="Pad"/>.</summary>
    public static (Tensor Features, long[] Lengths) Split(Tensor source)
    {
        long bins = source.shape[2] - 1;
        var lengths = source.select(2, bins).sum(1).to(int64).cpu().data<long>().ToArray();
        return (source.narrow(2, 0, bins), lengths);
    }
}
