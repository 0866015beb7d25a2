namespace TranslationTrainer.Evaluation;

/// <summary>A range of source lengths in words; Max null means no upper bound.</summary>
public sealed record LengthBucket(int Min, int? Max)
{
    public string Label => Max is { } max ? $"{Min}–{max}" : $"{Min}+";

    public bool Contains(int words) => words >= Min && (Max is null || words <= Max);
}

/// <summary>Corpus BLEU and chrF of one bucket's sentences; both null when the bucket is empty.</summary>
public sealed record BucketScore(LengthBucket Bucket, int Sentences, double? Bleu, double? Chrf);

/// <summary>
/// Scores by source length: sentences are grouped by their source's word count and each group is scored as a
/// corpus of its own with the default BLEU and chrF, so long sentences' weakness is not hidden by the many short ones.
/// </summary>
public static class LengthBuckets
{
    public static readonly IReadOnlyList<LengthBucket> Default = [new(1, 10), new(11, 20), new(21, 40), new(41, null)];

    /// <summary>Whitespace-separated words, as a reader would count them.</summary>
    public static int WordCount(string source) =>
        source.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    /// <summary>The index of the bucket holding a sentence of this many words; an empty source counts with the shortest.</summary>
    public static int IndexOf(int words, IReadOnlyList<LengthBucket> buckets)
    {
        for (int i = 0; i < buckets.Count; i++)
            if (buckets[i].Contains(Math.Max(words, buckets[0].Min))) return i;
        throw new ArgumentOutOfRangeException(nameof(words), words, "no bucket holds this length");
    }

    public static IReadOnlyList<BucketScore> Score(IReadOnlyList<string> sources, IReadOnlyList<string> hypotheses, IReadOnlyList<string> references,
        IReadOnlyList<LengthBucket>? buckets = null)
    {
        buckets ??= Default;
        if (hypotheses.Count != sources.Count || references.Count != sources.Count)
            throw new UserError($"{sources.Count} sources, {hypotheses.Count} hypotheses and {references.Count} references: expected as many of each");
        var members = sources.Select((s, i) => (Bucket: IndexOf(WordCount(s), buckets), Line: i)).ToLookup(m => m.Bucket, m => m.Line);
        return buckets.Select((bucket, b) =>
        {
            var lines = members[b].ToList();
            if (lines.Count == 0) return new BucketScore(bucket, 0, null, null);
            IReadOnlyList<string> hyps = [.. lines.Select(i => hypotheses[i])];
            IReadOnlyList<IReadOnlyList<string>> refs = [[.. lines.Select(i => references[i])]];
            return new BucketScore(bucket, lines.Count, new Bleu(new BleuOptions(), refs).CorpusScore(hyps).Score,
                new Chrf(new ChrfOptions(), refs).CorpusScore(hyps).Score);
        }).ToList();
    }
}
