using static TorchSharp.torch;
using TranslationTrainer.Model;
using TranslationTrainer.Text;

namespace TranslationTrainer.Decoding;

/// <summary>
/// Subword alignments of finished translations: a second, teacher-forced decoder pass over each chosen hypothesis
/// reads the last decoder layer's cross-attention (averaged over heads); target subword t is aligned to the source
/// subword it attended to most when it was predicted. The source's &lt;/s&gt; and padding are never chosen.
/// </summary>
public static class Alignment
{
    /// <summary>
    /// The teacher-forced pass both alignments and attention maps read: the last decoder layer's cross-attention
    /// over each chosen hypothesis, every head, on the CPU: (B, H, T+1, S). source: the padded batch (B,S) that was
    /// decoded; targets[b]: the chosen hypothesis' tokens.
    /// </summary>
    public static Tensor CrossAttention(IDecodingModel model, Tensor source, int[][] targets)
    {
        using var scope = NewDisposeScope();
        var input = Data.Batching.Pad(targets.Select(t => (int[])[Vocabulary.BosId, .. t]).ToArray(), source.device);
        var weights = model.CrossAttention(model.Encode(source), input)
            ?? throw new UserError($"a {model.Architecture} model has no cross-attention to align with or draw");
        return weights.cpu().MoveToOuterDisposeScope();
    }

    /// <summary>Whether the model has cross-attention to align with or draw (rnn-bottleneck has none): one tiny pass.</summary>
    public static bool HasCrossAttention(IDecodingModel model, Device device)
    {
        using var scope = NewDisposeScope();
        var source = tensor(new long[] { Vocabulary.EosId }, device: device).reshape(1, 1);
        var input = tensor(new long[] { Vocabulary.BosId }, device: device).reshape(1, 1);
        return model.CrossAttention(model.Encode(source), input) is not null;
    }

    /// <summary>sourceLengths[b]: real subwords of row b without &lt;/s&gt;. Returns (target index, source index) pairs, one per target token.</summary>
    public static (int Target, int Source)[][] Compute(IDecodingModel model, Tensor source, int[] sourceLengths, int[][] targets)
    {
        using var scope = NewDisposeScope();
        return FromAttention(CrossAttention(model, source, targets), sourceLengths, targets);
    }

    /// <summary>Alignments from the per-head weights of <see cref="CrossAttention"/>, averaged over heads.</summary>
    public static (int Target, int Source)[][] FromAttention(Tensor perHead, int[] sourceLengths, int[][] targets)
    {
        using var scope = NewDisposeScope();
        var weights = perHead.mean([1]); // (B, T+1, S)
        return targets.Select((target, b) =>
        {
            if (target.Length == 0 || sourceLengths[b] == 0) return [];
            var best = weights[b].narrow(0, 0, target.Length).narrow(1, 0, sourceLengths[b]).argmax(-1).data<long>().ToArray();
            return best.Select((s, t) => (t, (int)s)).ToArray();
        }).ToArray();
    }
}
