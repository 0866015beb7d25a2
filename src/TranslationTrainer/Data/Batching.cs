using TranslationTrainer.Speech;
using TranslationTrainer.Text;
using static TorchSharp.torch;

namespace TranslationTrainer.Data;

/// <summary>A training batch on the device: padded source, decoder input (&lt;s&gt; y) and expected output (y &lt;/s&gt;).</summary>
public sealed record TrainingBatch(Tensor Source, Tensor TargetInput, Tensor TargetOutput, int TargetTokens);

public static class Batching
{
    /// <summary>
    /// One epoch's batches of sentence indices, a pure function of the lengths, the token budget, the seed
    /// and the epoch: sentences are shuffled, stably sorted by length (so equal lengths stay in random
    /// order), cut into batches of at most maxTokens padded source + target tokens, and the batches shuffled.
    /// Resume relies on this: the same (seed, epoch) always gives the same list.
    /// </summary>
    public static List<int[]> ForEpoch(ParallelCorpus corpus, int maxTokens, int seed, int epoch)
    {
        var random = new Random(unchecked(seed * 1_000_003 + epoch));
        var order = Enumerable.Range(0, corpus.Count).ToArray();
        random.Shuffle(order);
        var sorted = order.OrderBy(i => corpus.Target[i].Length).ThenBy(corpus.SourceLength).ToArray();

        var batches = new List<int[]>();
        var current = new List<int>();
        int longestSource = 0, longestTarget = 0;
        foreach (var i in sorted)
        {
            int source = corpus.SourceLength(i), target = corpus.Target[i].Length + 1;
            int grownSource = Math.Max(longestSource, source), grownTarget = Math.Max(longestTarget, target);
            if (current.Count > 0 && (current.Count + 1) * (grownSource + grownTarget) > maxTokens)
            {
                batches.Add([.. current]);
                current.Clear();
                (grownSource, grownTarget) = (source, target);
            }
            current.Add(i);
            (longestSource, longestTarget) = (grownSource, grownTarget);
        }
        if (current.Count > 0) batches.Add([.. current]);
        random.Shuffle(CollectionsMarshalList(batches));
        return batches;
    }

    private static Span<int[]> CollectionsMarshalList(List<int[]> list) =>
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list);

    /// <summary>
    /// The batch of those pairs on the device. A speech source is a <see cref="SpeechBatch"/>; `augment`, given in
    /// training only, draws each utterance's SpecAugment masks from a seed of its own (index and `augmentSeed`), so an
    /// utterance gets the same masks on whatever rank trains it.
    /// </summary>
    public static TrainingBatch ToTensors(ParallelCorpus corpus, int[] indices, Device device, SpecAugmentOptions? augment = null, long augmentSeed = 0)
    {
        var inputs = indices.Select(i => (int[])[Vocabulary.BosId, .. corpus.Target[i]]).ToArray();
        var outputs = indices.Select(i => (int[])[.. corpus.Target[i], Vocabulary.EosId]).ToArray();
        var source = corpus.IsSpeech
            ? SpeechBatch.Pad([.. indices.Select(i => augment is null ? corpus.SourceFrames[i]
                : SpecAugment.Apply(corpus.SourceFrames[i], corpus.FeatureBins, augment, new Random(unchecked((int)(augmentSeed * 1_000_003 + i)))))], corpus.FeatureBins, device)
            : Pad([.. indices.Select(i => corpus.Source[i])], device);
        return new TrainingBatch(source, Pad(inputs, device), Pad(outputs, device), outputs.Sum(o => o.Length));
    }

    /// <summary>Right-pads rows of ids with <see cref="Vocabulary.PadId"/> into a (rows, longest) int64 tensor on the device.</summary>
    public static Tensor Pad(IReadOnlyList<int[]> rows, Device device)
    {
        int width = rows.Max(r => r.Length);
        var data = new long[rows.Count * width]; // zeros: Vocabulary.PadId is 0
        for (int r = 0; r < rows.Count; r++)
            for (int c = 0; c < rows[r].Length; c++)
                data[r * width + c] = rows[r][c];
        return tensor(data, [rows.Count, width], dtype: int64).to(device);
    }
}
