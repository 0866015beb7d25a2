using TranslationTrainer.Data;
using TranslationTrainer.Text;
using static TorchSharp.torch;
using Transformer = TranslationTrainer.Model.Transformer;

namespace TranslationTrainer.Decoding;

/// <summary>
/// One input line's translation: the n-best outputs as text with their scores, and, when asked for, the best
/// output's subword alignment: (target subword index, source subword index) pairs, one per target subword,
/// and its cross-attention maps.
/// </summary>
public sealed record TranslationResult(string Source, IReadOnlyList<(string Text, double Score)> NBest, IReadOnlyList<(int Target, int Source)>? Alignment = null)
{
    public AttentionMap? Attention { get; init; }

    public string Best => NBest.Count == 0 ? "" : NBest[0].Text;
}

/// <summary>
/// Vocabulary + model + search: text in, text out. Lines are sorted by length into batches (less padding), which
/// <see cref="Workers"/> decode several at a time, and the results are returned in input order.
/// </summary>
public sealed class Translator(Transformer model, VocabularyPair vocab, DecodingOptions options, Device device, Action<string>? warn = null)
{
    public DecodingOptions Options => options;

    /// <summary>Translates a stream of lines chunk by chunk, yielding each chunk's results in order.</summary>
    public IEnumerable<TranslationResult> Translate(IEnumerable<string> lines, int chunkSize)
    {
        var chunk = new List<string>(chunkSize);
        foreach (var line in lines)
        {
            chunk.Add(line);
            if (chunk.Count < chunkSize) continue;
            foreach (var result in TranslateAll(chunk)) yield return result;
            chunk.Clear();
        }
        foreach (var result in TranslateAll(chunk)) yield return result;
    }

    public List<TranslationResult> TranslateAll(IReadOnlyList<string> lines)
    {
        options.Validate();
        var results = new TranslationResult[lines.Count];
        var encoded = new int[lines.Count][];
        int limit = model.Config.MaxPositions - 1;
        for (int i = 0; i < lines.Count; i++)
        {
            var ids = vocab.Source.Encode(lines[i]);
            if (ids.Length > limit)
            {
                warn?.Invoke($"input line {i + 1} has {ids.Length} subwords; translating its first {limit} (the model's --max-positions)");
                ids = ids[..limit];
            }
            encoded[i] = [.. ids, Vocabulary.EosId];
            if (ids.Length == 0)
                results[i] = new TranslationResult(lines[i], [("", 0.0)], options.Alignment ? [] : null) { Attention = options.AttentionMaps ? AttentionMap.Empty : null };
        }
        var order = Enumerable.Range(0, lines.Count).Where(i => results[i] is null).OrderBy(i => encoded[i].Length).ToArray();
        var batches = order.Chunk(options.BatchSize).ToArray();
        model.eval();
        Workers.Run(batches.Length, Workers.Resolve(options.Workers, device), b =>
        {
            var batch = batches[b];
            using var scope = NewDisposeScope();
            var source = Batching.Pad(batch.Select(i => encoded[i]).ToArray(), device);
            var maxLengths = batch.Select(i => options.MaxLength(encoded[i].Length - 1, model.Config.MaxPositions)).ToArray();
            var hypotheses = Search.Decode(model, source, maxLengths, options);
            var best = hypotheses.Select(h => h[0].Tokens).ToArray();
            // One teacher-forced pass serves both the alignments and the heat maps.
            var weights = options.Alignment || options.AttentionMaps ? Alignment.CrossAttention(model, source, best) : null;
            var alignments = options.Alignment ? Alignment.FromAttention(weights!, batch.Select(i => encoded[i].Length - 1).ToArray(), best) : null;
            var attention = options.AttentionMaps ? AttentionMap.FromAttention(weights!, vocab, batch.Select(i => encoded[i]).ToArray(), best) : null;
            for (int j = 0; j < batch.Length; j++)
                results[batch[j]] = new TranslationResult(lines[batch[j]], hypotheses[j].Select(h => (vocab.Target.Decode(h.Tokens), h.Score)).ToList(), alignments?[j])
                    { Attention = attention?[j] };
        });
        return [.. results];
    }
}
