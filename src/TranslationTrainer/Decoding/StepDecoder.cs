using static TorchSharp.torch;
using DecoderCache = TranslationTrainer.Model.DecoderCache;
using Transformer = TranslationTrainer.Model.Transformer;

namespace TranslationTrainer.Decoding;

/// <summary>
/// The model's incremental step as search sees it: feed one token per row, get that row's next-token logits;
/// reorder rows as hypotheses are re-ranked or leave. Cached (the default) keeps keys/values in a
/// <see cref="DecoderCache"/>; uncached re-runs the decoder over the whole prefix each step, as a plain
/// nn.Transformer user would (for the speed comparison in `benchmark decode` and for tests).
/// </summary>
public abstract class StepDecoder : IDisposable
{
    public static StepDecoder Start(Transformer model, Tensor memory, Tensor sourceKeep, bool cached) =>
        cached ? new Cached(model, model.StartDecoding(memory, sourceKeep)) : new Recomputing(model, memory, sourceKeep);

    /// <summary>Next-token logits (rows, V) after feeding lastTokens (rows).</summary>
    public abstract Tensor Step(Tensor lastTokens);

    /// <summary>Keeps hypothesis rows `rows` in that order and encoder rows `sources` (one per sentence; null when
    /// no sentence left, as when beams are only re-ranked).</summary>
    public abstract void Reorder(long[] rows, long[]? sources);

    public abstract void Dispose();

    private sealed class Cached(Transformer model, DecoderCache cache) : StepDecoder
    {
        public override Tensor Step(Tensor lastTokens) => model.DecodeStep(lastTokens, cache);
        public override void Reorder(long[] rows, long[]? sources) => cache.Reorder(rows, sources);
        public override void Dispose() => cache.Dispose();
    }

    private sealed class Recomputing : StepDecoder
    {
        private readonly Transformer model;
        private Tensor memory, sourceKeep;
        private Tensor? prefix;

        public Recomputing(Transformer model, Tensor memory, Tensor sourceKeep)
        {
            this.model = model;
            this.memory = memory.DetachFromDisposeScope();
            this.sourceKeep = sourceKeep.DetachFromDisposeScope();
        }

        public override Tensor Step(Tensor lastTokens)
        {
            var next = lastTokens.unsqueeze(1);
            Replace(ref prefix!, prefix is null ? next.clone() : cat([prefix, next], 1));
            return model.DecodeLast(prefix, memory, sourceKeep); // like the reference: m.out(h[:, -1])
        }

        public override void Reorder(long[] rows, long[]? sources)
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

        public override void Dispose()
        {
            prefix?.Dispose();
            memory.Dispose();
            sourceKeep.Dispose();
        }
    }
}
