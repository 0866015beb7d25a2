using Serilog;
using TranslationTrainer.Text;

namespace TranslationTrainer.Data;

/// <summary>
/// Sentence pairs as subword ids (no strings kept). Source ids end with &lt;/s&gt;; target ids carry no
/// specials: batching adds &lt;s&gt; to the decoder input and &lt;/s&gt; to the expected output.
/// A speech corpus (<see cref="Speech.SpeechCorpus"/>) has log-mel frames as its source instead of ids.
/// </summary>
public sealed class ParallelCorpus
{
    public List<int[]> Source { get; } = [];
    /// <summary>Speech only: each utterance's normalised log-mel features, [frames × <see cref="FeatureBins"/>] row-major.</summary>
    public List<float[]> SourceFrames { get; } = [];
    public List<int[]> Target { get; } = [];
    public int FeatureBins { get; init; }
    public bool IsSpeech => FeatureBins > 0;
    public int Count => Target.Count;

    /// <summary>
    /// What a source costs in a batch: its ids, or for speech the encoder positions its frames become (4 frames, 40 ms,
    /// each), so that one `max-tokens` budget bounds the padded encoder length whatever the input.
    /// </summary>
    public int SourceLength(int i) => IsSpeech ? Speech.SpeechCorpus.EncoderPositions(SourceFrames[i].Length / FeatureBins) : Source[i].Length;

    public sealed record LoadOptions(int MaxLength = 256, double MaxLengthRatio = 0);

    /// <summary>Counts of what loading left out, logged so nothing is dropped silently.</summary>
    public sealed record Skipped(int Empty, int TooLong, int BadRatio);

    public static ParallelCorpus Load(string sourcePath, string targetPath, Func<string, int[]> encodeSource,
        Func<string, int[]> encodeTarget, LoadOptions options, out Skipped skipped)
    {
        var corpus = new ParallelCorpus();
        int empty = 0, tooLong = 0, badRatio = 0, lines = 0;
        using var sources = TextFile.ReadLines(sourcePath).GetEnumerator();
        using var targets = TextFile.ReadLines(targetPath).GetEnumerator();
        while (true)
        {
            bool hasSource = sources.MoveNext(), hasTarget = targets.MoveNext();
            if (!hasSource || !hasTarget)
            {
                if (hasSource || hasTarget)
                {
                    int sourceLines = lines + (hasSource ? 1 + Remaining(sources) : 0);
                    int targetLines = lines + (hasTarget ? 1 + Remaining(targets) : 0);
                    throw new UserError($"{sourcePath} has {sourceLines} lines but {targetPath} has {targetLines}");
                }
                break;
            }
            lines++;
            if (string.IsNullOrWhiteSpace(sources.Current) || string.IsNullOrWhiteSpace(targets.Current))
            {
                empty++;
                continue;
            }
            var source = encodeSource(sources.Current);
            var target = encodeTarget(targets.Current);
            if (source.Length + 1 > options.MaxLength || target.Length + 1 > options.MaxLength)
            {
                tooLong++;
                continue;
            }
            double ratio = (double)Math.Max(source.Length, target.Length) / Math.Max(1, Math.Min(source.Length, target.Length));
            if (options.MaxLengthRatio > 0 && ratio > options.MaxLengthRatio)
            {
                badRatio++;
                continue;
            }
            corpus.Source.Add([.. source, Vocabulary.EosId]);
            corpus.Target.Add(target);
        }
        if (lines == 0) throw new UserError($"{sourcePath}: empty corpus");
        if (corpus.Count == 0)
            throw new UserError($"{sourcePath}: no usable sentence pairs ({empty} empty, {tooLong} longer than `max-len` {options.MaxLength}, {badRatio} over the length ratio)");
        skipped = new Skipped(empty, tooLong, badRatio);
        return corpus;
    }

    /// <summary>Fails with both names and both counts when two sides differ in length, or when they hold no non-empty pair.</summary>
    public static void CheckLineCounts(string sourcePath, string targetPath)
    {
        int sourceLines = 0, targetLines = 0, usable = 0;
        using var sources = TextFile.ReadLines(sourcePath).GetEnumerator();
        using var targets = TextFile.ReadLines(targetPath).GetEnumerator();
        while (true)
        {
            bool hasSource = sources.MoveNext(), hasTarget = targets.MoveNext();
            if (!hasSource && !hasTarget) break;
            if (hasSource) sourceLines++;
            if (hasTarget) targetLines++;
            if (hasSource && hasTarget && !string.IsNullOrWhiteSpace(sources.Current) && !string.IsNullOrWhiteSpace(targets.Current)) usable++;
        }
        if (sourceLines != targetLines) throw new UserError($"{sourcePath} has {sourceLines} lines but {targetPath} has {targetLines}");
        if (sourceLines == 0) throw new UserError($"{sourcePath}: empty corpus");
        if (usable == 0) throw new UserError($"{sourcePath}: empty corpus (each of its {sourceLines} lines has an empty side)");
    }

    private static int Remaining(IEnumerator<string> lines)
    {
        int count = 0;
        while (lines.MoveNext()) count++;
        return count;
    }

    public void LogSummary(ILogger log, string name, Skipped skipped) =>
        log.Information("{Name}: {Pairs} sentence pairs; skipped {Empty} with an empty side, {TooLong} too long, {BadRatio} over the length ratio",
            name, Count, skipped.Empty, skipped.TooLong, skipped.BadRatio);
}
