using static TorchSharp.torch;

namespace TranslationTrainer.Model;

/// <summary>The Transformer's incremental step with its keys and values kept in a <see cref="DecoderCache"/>.</summary>
internal sealed class CachedTransformerDecoding(Transformer model, DecoderCache cache) : IDecodingState
{
    public Tensor Step(Tensor lastTokens) => model.DecodeStep(lastTokens, cache);
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
    private Tensor memory, sourceKeep;
    private Tensor? prefix;

    public RecomputingTransformerDecoding(Transformer model, Tensor memory, Tensor sourceKeep)
    {
        this.model = model;
        this.memory = memory.DetachFromDisposeScope();
        this.sourceKeep = sourceKeep.DetachFromDisposeScope();
    }

    public Tensor Step(Tensor lastTokens)
    {
        var next = lastTokens.unsqueeze(1);
        Replace(ref prefix!, prefix is null ? next.clone() : cat([prefix, next], 1));
        return model.DecodeLast(prefix, memory, sourceKeep); // like the reference: m.out(h[:, -1])
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
