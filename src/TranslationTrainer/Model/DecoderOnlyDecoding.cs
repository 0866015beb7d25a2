using static TorchSharp.torch;

namespace TranslationTrainer.Model;

/// <summary>
/// A decoder-only model prepared for inference, decoding with one backend's matrix multiplies (`path`); made by
/// <see cref="DecoderOnlyTransformer.ForInference"/>.
/// </summary>
public sealed class DecoderOnlyInference : IDecodingModel
{
    private readonly DecoderOnlyTransformer model;

    internal DecoderOnlyInference(DecoderOnlyTransformer model, IMatmulPath path)
    {
        this.model = model;
        Path = path;
    }

    public IMatmulPath Path { get; }
    public string Architecture => model.Architecture;
    public int MaxPositions => model.MaxPositions;
    public string Backend => Path.Backend;

    public EncodedSource Encode(Tensor source) => model.Encode(source, Path);
    public IDecodingState StartDecoding(EncodedSource encoded, bool cached) => model.StartDecoding(encoded, cached, Path);
    public Tensor? CrossAttention(EncodedSource encoded, Tensor targetInput) => model.CrossAttention(encoded, targetInput, Path);

    /// <summary>Teacher-forced logits (B,T,V) of a whole target prefix, the whole sequence in one pass.</summary>
    public Tensor Decode(Tensor source, Tensor targetInput) => model.Decode(source, targetInput, Path);
}

/// <summary>
/// The decoder-only's incremental step: the prefill's keys and values are the encoder side of a <see cref="DecoderCache"/>
/// (one row per source, moved when sentences leave), the target's keys and values its self-attention caches (one row
/// per hypothesis). The real source lengths, which place each row's next token, follow the sources.
/// </summary>
internal sealed class CachedDecoderOnlyDecoding(DecoderOnlyTransformer model, DecoderCache cache, long[] sourceLengths, IMatmulPath path) : IDecodingState
{
    public Tensor Step(Tensor lastTokens) => model.DecodeStep(lastTokens, cache, sourceLengths, path);

    public void Reorder(long[] rows, long[]? sources)
    {
        cache.Reorder(rows, sources);
        if (sources is not null) sourceLengths = [.. sources.Select(s => sourceLengths[s])];
    }

    public void Dispose() => cache.Dispose();
}

/// <summary>
/// The decoder-only without a cache: re-runs the whole sequence, source and target prefix, at every step (for the
/// speed comparison in `benchmark decode` and for tests).
/// </summary>
internal sealed class RecomputingDecoderOnlyDecoding : IDecodingState
{
    private readonly DecoderOnlyTransformer model;
    private readonly IMatmulPath path;
    private Tensor source;
    private Tensor? prefix;

    public RecomputingDecoderOnlyDecoding(DecoderOnlyTransformer model, Tensor source, IMatmulPath path)
    {
        this.model = model;
        this.path = path;
        this.source = source.alias().DetachFromDisposeScope(); // the encoded source keeps its own
    }

    public Tensor Step(Tensor lastTokens)
    {
        var next = lastTokens.unsqueeze(1);
        Replace(ref prefix!, prefix is null ? next.clone() : cat([prefix, next], 1));
        long beams = prefix.shape[0] / source.shape[0];
        return model.DecodeLast(beams == 1 ? source : source.repeat_interleave(beams, 0), prefix, path);
    }

    public void Reorder(long[] rows, long[]? sources)
    {
        using var scope = NewDisposeScope();
        if (prefix is not null) Replace(ref prefix, prefix.index_select(0, tensor(rows, device: source.device)));
        if (sources is not null) Replace(ref source, source.index_select(0, tensor(sources, device: source.device)));
    }

    private static void Replace(ref Tensor field, Tensor value)
    {
        field?.Dispose();
        field = value.DetachFromDisposeScope();
    }

    public void Dispose()
    {
        prefix?.Dispose();
        source.Dispose();
    }
}
