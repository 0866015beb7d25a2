using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TranslationTrainer.Speech;

/// <summary>
/// The speech encoder's front end, fairseq S2T's Conv1dSubsampler: log-mel frames (B, T, bins) → (B, T', dModel),
/// each layer a 1-D convolution over time (kernel 5, stride 2, padding 2) to twice its channels and a GLU, so two
/// layers shorten the input 4× (10 ms frames → 40 ms). Chosen over ESPnet's Conv2dSubsampling because it keeps the
/// frequency axis as channels (no flatten of a (channels × bins/4) map) and needs no extra projection.
/// Padding changes nothing: padded frames are zeroed before every layer, so a short utterance alone and in a padded
/// batch give the same outputs on its own frames.
/// </summary>
public sealed class ConvSubsampler : nn.Module
{
    public const int KernelSize = 5;
    public const int Stride = 2;

    private readonly ModuleList<Conv1d> layers = new();

    public ConvSubsampler(long inputBins, long dModel, long channels, int layerCount = 2) : base(nameof(ConvSubsampler))
    {
        if (layerCount < 1) throw new ArgumentOutOfRangeException(nameof(layerCount), "at least one layer");
        for (int i = 0; i < layerCount; i++)
        {
            long input = i == 0 ? inputBins : channels / 2;
            long output = i == layerCount - 1 ? dModel * 2 : channels; // GLU halves the channels
            layers.Add(nn.Conv1d(input, output, KernelSize, stride: Stride, padding: KernelSize / 2));
        }
        RegisterComponents();
    }

    public int LayerCount => layers.Count;

    /// <summary>Frames left after one layer: ⌊(T + 2·2 − 5) / 2⌋ + 1 = ⌊(T − 1) / 2⌋ + 1 (0 stays 0).</summary>
    public static long OneLayerLength(long frames) => frames <= 0 ? 0 : (frames - 1) / Stride + 1;

    /// <summary>Frames left after every layer.</summary>
    public long OutputLength(long frames)
    {
        for (int i = 0; i < layers.Count; i++) frames = OneLayerLength(frames);
        return frames;
    }

    /// <summary>features (B, T, bins), lengths[b] the real frames of row b → (B, T', dModel) and each row's T'.</summary>
    public (Tensor Output, long[] Lengths) forward(Tensor features, long[] lengths)
    {
        if (features.dim() != 3 || features.shape[0] != lengths.Length)
            throw new ArgumentException($"features must be (batch, frames, bins) with one length per row, got {string.Join("×", features.shape)} and {lengths.Length} lengths");
        using var scope = NewDisposeScope();
        var x = features.transpose(1, 2); // (B, bins, T): channels first, as Conv1d reads
        long[] current = lengths;
        foreach (var conv in layers)
        {
            x = Masked(x, current);
            x = nn.functional.glu(conv.forward(x), dim: 1);
            current = [.. current.Select(OneLayerLength)];
        }
        x = Masked(x, current);
        return (x.transpose(1, 2).MoveToOuterDisposeScope(), current);
    }

    /// <summary>x (B, C, T) with frames at and past lengths[b] set to 0.</summary>
    private static Tensor Masked(Tensor x, long[] lengths)
    {
        var positions = arange(x.shape[2], device: x.device).unsqueeze(0);
        var real = positions < tensor(lengths, device: x.device).unsqueeze(1); // (B, T)
        return x * real.unsqueeze(1).to(x.dtype);
    }
}
