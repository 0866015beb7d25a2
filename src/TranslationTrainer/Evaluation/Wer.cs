using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace TranslationTrainer.Evaluation;

/// <summary>The optional normalisation of WER and CER, applied to hypotheses and references alike.</summary>
/// <param name="Lowercase">Lowercase both sides first (<see cref="PyText.Lower"/>).</param>
/// <param name="RemovePunctuation">Delete every character of a Unicode punctuation category (P*), as jiwer's RemovePunctuation does.</param>
public sealed record WerOptions(bool Lowercase = false, bool RemovePunctuation = false);

/// <summary>What an error rate counts: words (WER) or characters (CER).</summary>
public enum ErrorRateUnit
{
    Word,
    Character,
}

/// <summary>
/// A WER or CER: <c>100 · (S + D + I) / N</c> with N the reference length, and the counts of the alignment,
/// printed after the score as Kaldi's compute-wer does: <c>[ 567 / 4,596, 12 ins, 89 del, 466 sub ]</c>.
/// </summary>
public sealed record ErrorRateScore(string Name, double Score, double Errors, double RefLength,
    double Insertions, double Deletions, double Substitutions) : MetricScore(Name, Score)
{
    public override string Verbose => string.Create(CultureInfo.InvariantCulture,
        $"[ {Errors:N0} / {RefLength:N0}, {Insertions:N0} ins, {Deletions:N0} del, {Substitutions:N0} sub ]");
}

/// <summary>
/// Word and character error rate as jiwer and Kaldi's compute-wer define them. Each segment is aligned to its
/// reference by Levenshtein distance (unit costs); the corpus score is the sum of the edits over the sum of the
/// reference lengths (not a mean of segment rates), so it can exceed 100.
/// <list type="bullet">
/// <item>WER units: words split on whitespace (Python's <c>str.split()</c>, which is jiwer's default after its
/// RemoveMultipleSpaces and Strip).</item>
/// <item>CER units: code points of the line with whitespace runs collapsed to one space and the ends stripped
/// (jiwer's <c>cer</c>): spaces between words count as characters.</item>
/// <item>Among the alignments of least cost the one with the most substitutions is counted (Kaldi's
/// <c>LevenshteinEditDistance</c>), which fixes the ins/del/sub split; the total, and so the score, is jiwer's.</item>
/// <item>An empty reference line counts every hypothesis unit as an insertion. A corpus whose references are all
/// empty scores 100 when there is any edit and 0 otherwise (TER's convention; the true rate is undefined).</item>
/// </list>
/// Statistics per segment: [errors, reference length, insertions, deletions, substitutions]. One reference only:
/// neither jiwer nor compute-wer defines WER against several.
/// </summary>
public sealed class ErrorRate : IMetric
{
    private readonly WerOptions _options;
    private readonly ErrorRateUnit _unit;
    private readonly int[][] _references;

    /// <summary>The reference words as ids, so that the alignment compares integers (characters are their code points).</summary>
    private readonly Dictionary<string, int> _words = [];

    public ErrorRate(WerOptions options, IReadOnlyList<IReadOnlyList<string>> references, ErrorRateUnit unit)
    {
        _options = options;
        _unit = unit;
        MetricExtensions.CheckStreams(references);
        Name = unit == ErrorRateUnit.Word ? "WER" : "CER";
        if (references.Count > 1)
            throw new UserError($"{Name} takes one reference, not {references.Count}");
        _references = [.. references[0].Select(r => Units(r, addWords: true))];
        var fields = new List<KeyValuePair<string, string>>
        {
            new("case", options.Lowercase ? "lc" : "mixed"),
            new("punct", options.RemovePunctuation ? "no" : "yes"),
        };
        if (unit == ErrorRateUnit.Character) fields.Add(new("space", "yes"));
        Signature = new Signature(1, fields);
    }

    /// <summary>Word error rate.</summary>
    public static ErrorRate Wer(WerOptions options, IReadOnlyList<IReadOnlyList<string>> references) => new(options, references, ErrorRateUnit.Word);

    /// <summary>Character error rate.</summary>
    public static ErrorRate Cer(WerOptions options, IReadOnlyList<IReadOnlyList<string>> references) => new(options, references, ErrorRateUnit.Character);

    public string Name { get; }

    public bool HigherIsBetter => false;

    public Signature Signature { get; }


    public double[][] SegmentStatistics(IReadOnlyList<string> hypotheses)
    {
        MetricExtensions.CheckHypotheses(hypotheses, _references.Length);
        var result = new double[hypotheses.Count][];
        for (int s = 0; s < hypotheses.Count; s++)
        {
            var counts = Align(_references[s], Units(hypotheses[s], addWords: false));
            result[s] = [counts.Errors, _references[s].Length, counts.Insertions, counts.Deletions, counts.Substitutions];
        }
        return result;
    }

    public MetricScore Compute(ReadOnlySpan<double> totals)
    {
        double errors = totals[0], refLength = totals[1];
        double score = refLength > 0 ? errors / refLength : errors > 0 ? 1.0 : 0.0;
        return new ErrorRateScore(Name, 100 * score, errors, refLength, totals[2], totals[3], totals[4]);
    }

    /// <summary>The text after the options' normalisation and jiwer's space handling.</summary>
    public string Normalize(string sentence)
    {
        if (_options.Lowercase) sentence = PyText.Lower(sentence);
        if (_options.RemovePunctuation) sentence = RemovePunctuation(sentence);
        return PyText.NormalizeSpaces(sentence);
    }

    /// <summary>The units as integers; a hypothesis word no reference has is -1, which matches nothing.</summary>
    private int[] Units(string sentence, bool addWords)
    {
        var text = Normalize(sentence);
        if (_unit == ErrorRateUnit.Character)
        {
            var runes = new List<int>(text.Length);
            foreach (var rune in text.EnumerateRunes()) runes.Add(rune.Value);
            return [.. runes];
        }
        var words = PyText.Split(text);
        var ids = new int[words.Count];
        for (int i = 0; i < ids.Length; i++)
        {
            if (!addWords)
            {
                ids[i] = _words.GetValueOrDefault(words[i], -1);
                continue;
            }
            ref int id = ref CollectionsMarshal.GetValueRefOrAddDefault(_words, words[i], out bool exists);
            if (!exists) id = _words.Count - 1;
            ids[i] = id;
        }
        return ids;
    }

    private static string RemovePunctuation(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var rune in s.EnumerateRunes())
            if (!IsPunctuation(Rune.GetUnicodeCategory(rune))) sb.Append(rune.ToString());
        return sb.ToString();
    }

    private static bool IsPunctuation(UnicodeCategory category) => category is UnicodeCategory.ConnectorPunctuation
        or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation
        or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;

    /// <summary>The counts of one alignment.</summary>
    public readonly record struct EditCounts(int Insertions, int Deletions, int Substitutions)
    {
        public int Errors => Insertions + Deletions + Substitutions;
    }

    /// <summary>
    /// Levenshtein alignment of <paramref name="hypothesis"/> to <paramref name="reference"/> with unit costs; of the
    /// alignments of least cost, the one with the most substitutions (Kaldi's compute-wer). Two rows of the table.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // hot loop: skip tier-0 code in a short-lived process
    public static EditCounts Align(ReadOnlySpan<int> reference, ReadOnlySpan<int> hypothesis)
    {
        int n = reference.Length;
        // Cell j of a row: the best alignment of the hypothesis prefix so far with reference[..j].
        var previous = new Cell[n + 1];
        var current = new Cell[n + 1];
        for (int j = 0; j <= n; j++) previous[j] = new Cell(j, 0, j, 0);  // j deletions
        foreach (int word in hypothesis)
        {
            current[0] = previous[0] with { Cost = previous[0].Cost + 1, Ins = previous[0].Ins + 1 };
            for (int j = 1; j <= n; j++)
            {
                var diagonal = previous[j - 1];
                var best = word == reference[j - 1] ? diagonal : diagonal with { Cost = diagonal.Cost + 1, Sub = diagonal.Sub + 1 };
                var insertion = previous[j] with { Cost = previous[j].Cost + 1, Ins = previous[j].Ins + 1 };
                var deletion = current[j - 1] with { Cost = current[j - 1].Cost + 1, Del = current[j - 1].Del + 1 };
                if (deletion.IsBetterThan(best)) best = deletion;
                if (insertion.IsBetterThan(best)) best = insertion;
                current[j] = best;
            }
            (previous, current) = (current, previous);
        }
        var end = previous[n];
        return new EditCounts(end.Ins, end.Del, end.Sub);
    }

    private readonly record struct Cell(int Cost, int Ins, int Del, int Sub)
    {
        public bool IsBetterThan(Cell other) => Cost < other.Cost || (Cost == other.Cost && Sub > other.Sub);
    }
}
