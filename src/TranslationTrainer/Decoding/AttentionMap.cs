using TranslationTrainer.Text;
using static TorchSharp.torch;
using Transformer = TranslationTrainer.Model.Transformer;

namespace TranslationTrainer.Decoding;

/// <summary>
/// Where each output subword looked in the source: the last decoder layer's cross-attention, one map per head,
/// Heads[h][t, s] for output token t (the last one is &lt;/s&gt;) and source token s (the last one is &lt;/s&gt;).
/// An empty input has no tokens and no maps.
/// </summary>
public sealed record AttentionMap(IReadOnlyList<string> SourceTokens, IReadOnlyList<string> TargetTokens, IReadOnlyList<float[,]> Heads)
{
    public static readonly AttentionMap Empty = new([], [], []);

    /// <summary>The mean of the heads, which is what --alignment reads.</summary>
    public float[,] Average()
    {
        var average = new float[TargetTokens.Count, SourceTokens.Count];
        foreach (var head in Heads)
            for (int t = 0; t < TargetTokens.Count; t++)
                for (int s = 0; s < SourceTokens.Count; s++) average[t, s] += head[t, s] / Heads.Count;
        return average;
    }

    private const string Eos = "</s>";

    /// <summary>
    /// The maps of a batch from the per-head weights of <see cref="Alignment.CrossAttention"/> (B, H, T+1, S).
    /// sourceIds[b]: the decoded row's ids, ending in &lt;/s&gt;; targets[b]: the hypothesis' tokens.
    /// </summary>
    public static AttentionMap[] FromAttention(Tensor weights, VocabularyPair vocab, int[][] sourceIds, int[][] targets)
    {
        using var scope = NewDisposeScope();
        return targets.Select((target, b) =>
        {
            int rows = target.Length + 1, columns = sourceIds[b].Length; // + </s> on both sides
            var heads = Enumerable.Range(0, (int)weights.shape[1]).Select(h =>
            {
                var values = weights[b, h].narrow(0, 0, rows).narrow(1, 0, columns).contiguous().data<float>().ToArray();
                var map = new float[rows, columns];
                Buffer.BlockCopy(values, 0, map, 0, values.Length * sizeof(float));
                return map;
            }).ToArray();
            var sourceTokens = sourceIds[b].Select(id => id == Vocabulary.EosId ? Eos : vocab.Source.IdToPiece(id)).ToArray();
            var targetTokens = target.Select(vocab.Target.IdToPiece).Append(Eos).ToArray();
            return new AttentionMap(sourceTokens, targetTokens, heads);
        }).ToArray();
    }
}
