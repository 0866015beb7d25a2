using static TorchSharp.torch;

namespace TranslationTrainer.Model;

/// <summary>
/// A Transformer prepared for inference, decoding with one backend's matrix multiplies (`path`); made by
/// <see cref="Transformer.ForInference"/>. Its Transformer-only methods are for `benchmark decode` and the tests.
/// </summary>
public sealed class TransformerInference : IDecodingModel
{
    private readonly Transformer model;

    internal TransformerInference(Transformer model, IMatmulPath path)
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
    public Tensor? CrossAttention(EncodedSource encoded, Tensor targetInput) =>
        model.LastCrossAttentionPerHead(targetInput, encoded.Memory, encoded.SourceKeep, Path);
    public Tensor? CtcLogProbs(EncodedSource encoded) => model.CtcLogProbs(encoded);

    /// <summary>Teacher-forced logits (B,T,V) of a whole target prefix.</summary>
    public Tensor Decode(Tensor targetInput, EncodedSource encoded) => model.Decode(targetInput, encoded.Memory, encoded.SourceKeep, Path);

    /// <summary>The cache incremental decoding keeps, and one step over it (the cached decoding state, opened up).</summary>
    public DecoderCache StartCache(EncodedSource encoded) => model.StartDecoding(encoded.Memory, encoded.SourceKeep, Path);
    public Tensor DecodeStep(Tensor lastTokens, DecoderCache cache) => model.DecodeStep(lastTokens, cache, Path);
}

/// <summary>The Transformer's incremental step with its keys and values kept in a <see cref="DecoderCache"/>.</summary>
internal sealed class CachedTransformerDecoding(Transformer model, DecoderCache cache, IMatmulPath path) : IDecodingState
{
    public Tensor Step(Tensor lastTokens) => model.DecodeStep(lastTokens, cache, path);
    public void Reorder(long[] rows, long[]? sources) => cache.Reorder(rows, sources);
    public void Dispose() => cache.Dispose();
}

/// <summary>
/// The Transformer without a cache: re-runs the decoder over the whole prefix each step, as a plain nn.Transformer
/// user would (for the speed comparison in `benchmark decode` and for tests).
/// </summary>
internal sealed class RecomputingTransformerDecoding : IDecodingState
{
    private readonly Transformer model;
    private readonly IMatmulPath path;
    private Tensor memory, sourceKeep;
    private Tensor? prefix;

    public RecomputingTransformerDecoding(Transformer model, Tensor memory, Tensor sourceKeep, IMatmulPath path)
    {
        this.model = model;
        this.path = path;
        this.memory = memory.DetachFromDisposeScope();
        this.sourceKeep = sourceKeep.DetachFromDisposeScope();
    }

    public Tensor Step(Tensor lastTokens)
    {
        var next = lastTokens.unsqueeze(1);
        Replace(ref prefix!, prefix is null ? next.clone() : cat([prefix, next], 1));
        return model.DecodeLast(prefix, memory, sourceKeep, path); // like the reference: m.out(h[:, -1])
    }

    public void Reorder(long[] rows, long[]? sources)
    {
        using var scope = NewDisposeScope();
        if (prefix is not null) Replace(ref prefix, prefix.index_select(0, tensor(rows, device: memory.device)));
        if (sources is null) return;
        var sourceIndex = tensor(sources, device: memory.device);
        Replace(ref memory, memory.index_select(0, sourceIndex));
        Replace(ref sourceKeep, sourceKeep.index_select(0, sourceIndex));
    }

    private static void Replace(ref Tensor field, Tensor value)
    {
        field?.Dispose();
        field = value.DetachFromDisposeScope();
    }

    public void Dispose()
    {
        prefix?.Dispose();
        memory.Dispose();
        sourceKeep.Dispose();
    }
}
