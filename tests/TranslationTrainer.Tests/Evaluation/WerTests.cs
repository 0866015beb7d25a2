using System.Text;
using System.Text.Json;
using TranslationTrainer.Cli;
using TranslationTrainer.Evaluation;

namespace TranslationTrainer.Tests.Evaluation;

// Every expected count below is worked out by hand in the comment next to it: WER = (S + D + I) / N over the
// corpus, N the reference words (jiwer's wer, Kaldi's compute-wer); CER the same over characters, spaces included
// (jiwer's cer). Where several least-cost alignments exist, Kaldi's choice (the most substitutions) is expected.
public sealed class WerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tt-wer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ErrorRateScore Wer(string[] hyps, string[] refs, WerOptions? options = null) =>
        (ErrorRateScore)ErrorRate.Wer(options ?? new(), [refs]).CorpusScore(hyps);

    private static ErrorRateScore Cer(string[] hyps, string[] refs, WerOptions? options = null) =>
        (ErrorRateScore)ErrorRate.Cer(options ?? new(), [refs]).CorpusScore(hyps);

    private static void AssertCounts(ErrorRateScore score, int refLength, int ins, int del, int sub)
    {
        Assert.Equal((ins, del, sub, refLength), ((int)score.Insertions, (int)score.Deletions, (int)score.Substitutions, (int)score.RefLength));
        Assert.Equal(ins + del + sub, score.Errors);
        Assert.Equal(refLength == 0 ? (ins + del + sub > 0 ? 100.0 : 0.0) : 100.0 * (ins + del + sub) / refLength, score.Score, 1e-12);
    }

    [Fact]
    public void IdenticalIsZero() => AssertCounts(Wer(["the cat sat"], ["the cat sat"]), 3, 0, 0, 0);

    [Fact]
    public void EmptyHypothesisDeletesEveryWord() => AssertCounts(Wer([""], ["the cat sat"]), 3, 0, 3, 0);  // 3 del / 3 = 100

    [Fact]
    public void EmptyReferenceLineCountsInsertions() =>
        // line 1: perfect (2 words); line 2: "x y" against nothing, 2 ins → 2 / 2 = 100
        AssertCounts(Wer(["a b", "x y"], ["a b", ""]), 2, 2, 0, 0);

    [Fact]
    public void AllReferencesEmpty()
    {
        AssertCounts(Wer(["x"], [""]), 0, 1, 0, 0);  // undefined rate: 100, as TER
        AssertCounts(Wer([""], [""]), 0, 0, 0, 0);
    }

    [Fact]
    public void InsertionsOnly() =>
        // a [x] b c d [y]: 2 ins over 4 reference words = 50
        AssertCounts(Wer(["a x b c d y"], ["a b c d"]), 4, 2, 0, 0);

    [Fact]
    public void SubstitutionsOnly() =>
        // the cat sat→sit on the→a mat: 2 sub / 6 = 33.33
        AssertCounts(Wer(["the cat sit on a mat"], ["the cat sat on the mat"]), 6, 0, 0, 2);

    [Fact]
    public void Mix() =>
        // [the] quick brown fox→fax jumps [high]: 1 del, 1 sub, 1 ins over 5 = 60
        AssertCounts(Wer(["quick brown fax jumps high"], ["the quick brown fox jumps"]), 5, 1, 1, 1);

    [Fact]
    public void TiesPreferSubstitutions() =>
        // "a b" → "b c": cost 2 either as a→b, b→c (2 sub) or del a, keep b, ins c; Kaldi counts 2 sub
        AssertCounts(Wer(["b c"], ["a b"]), 2, 0, 0, 2);

    [Fact]
    public void CorpusScoreIsSumOverSum() =>
        // 1 sub over 1 word and 0 over 4: 1 / 5 = 20 (the mean of the line rates would be 50)
        AssertCounts(Wer(["b", "a b c d"], ["a", "a b c d"]), 5, 0, 0, 1);

    [Fact]
    public void WhitespaceRunsAreOneSeparator() => AssertCounts(Wer(["  the\tcat   sat "], ["the cat sat"]), 3, 0, 0, 0);

    [Fact]
    public void NormalizationLowercasesAndDeletesPunctuation()
    {
        string[] refs = ["The cat, sat.", "a father’s “instruction”"];
        string[] hyps = ["the cat sat", "a fathers instruction"];
        // as given: The→the, cat,→cat, sat.→sat, father’s→fathers, “instruction”→instruction: 5 sub / 6
        AssertCounts(Wer(hyps, refs), 6, 0, 0, 5);
        var options = new WerOptions(Lowercase: true, RemovePunctuation: true);
        AssertCounts(Wer(hyps, refs, options), 6, 0, 0, 0);
        // punctuation alone on a line, or as a word of its own, disappears: "hello , world" is two words
        AssertCounts(Wer(["hello world"], ["hello , world !"], options), 2, 0, 0, 0);
        Assert.Equal("a fathers instruction", ErrorRate.Wer(options, [[""]]).Normalize("A Father’s  “Instruction”"));
    }

    [Fact]
    public void Signatures()
    {
        var version = TranslationTrainer.Evaluation.Signature.Version;
        Assert.Equal($"nrefs:1|case:mixed|punct:yes|version:{version}", ErrorRate.Wer(new(), [["a"]]).Signature.ToString());
        Assert.Equal($"nrefs:1|case:lc|punct:no|version:{version}", ErrorRate.Wer(new(true, true), [["a"]]).Signature.ToString());
        Assert.Equal($"nrefs:1|case:mixed|punct:yes|space:yes|version:{version}", ErrorRate.Cer(new(), [["a"]]).Signature.ToString());
        Assert.Equal($"nrefs:1|case:lc|punct:no|space:yes|version:{version}", ErrorRate.Cer(new(true, true), [["a"]]).Signature.ToString());
    }

    [Fact]
    public void CerCountsCharactersAndSpaces()
    {
        AssertCounts(Cer(["abd de"], ["abc de"]), 6, 0, 0, 1);  // a b c ␠ d e: c→d, 1 / 6
        AssertCounts(Cer(["a b"], ["ab"]), 2, 1, 0, 0);  // the space is an inserted character: 1 / 2
        AssertCounts(Cer(["ab"], ["a b"]), 3, 0, 1, 0);  // and a deleted one: 1 / 3
        AssertCounts(Cer([" a   b "], ["a b"]), 3, 0, 0, 0);  // runs collapse, ends strip
        AssertCounts(Cer([""], ["abc"]), 3, 0, 3, 0);
        AssertCounts(Cer(["xy"], [""]), 0, 2, 0, 0);
        AssertCounts(Cer(["a"], ["a😀"]), 2, 0, 1, 0);  // code points, as Python: the emoji is one character
        AssertCounts(Cer(["the cat"], ["The cat."], new(true, true)), 7, 0, 0, 0);
    }

    [Fact]
    public void VerboseIsComputeWers()
    {
        var score = new ErrorRateScore("WER", 12.34, 567, 4596, 12, 89, 466);
        Assert.Equal("[ 567 / 4,596, 12 ins, 89 del, 466 sub ]", score.Verbose);
        var result = new MetricResult(Wer(["quick brown fax jumps high"], ["the quick brown fox jumps"]), ErrorRate.Wer(new(), [["a"]]).Signature);
        Assert.Equal($"WER|nrefs:1|case:mixed|punct:yes|version:{TranslationTrainer.Evaluation.Signature.Version} = 60.00 [ 3 / 5, 1 ins, 1 del, 1 sub ]",
            ScoreFormat.TextLine(result, 2));
    }

    [Fact]
    public void OneReferenceOnly() =>
        Assert.Equal("WER takes one reference, not 2", Assert.Throws<UserError>(() => ErrorRate.Wer(new(), [["a"], ["b"]])).Message);

    [Fact]
    public void AlignmentAgreesWithLevenshteinDistance()
    {
        // Random short sequences over a 3-symbol alphabet: the counted edits are the textbook distance, and the
        // counts are consistent with the lengths (ref = hits + sub + del, hyp = hits + sub + ins).
        var random = new Random(7);
        for (int trial = 0; trial < 2000; trial++)
        {
            var reference = Enumerable.Range(0, random.Next(8)).Select(_ => random.Next(3)).ToArray();
            var hypothesis = Enumerable.Range(0, random.Next(8)).Select(_ => random.Next(3)).ToArray();
            var counts = ErrorRate.Align(reference, hypothesis);
            Assert.Equal(Levenshtein(reference, hypothesis), counts.Errors);
            Assert.Equal(reference.Length - counts.Deletions, hypothesis.Length - counts.Insertions);
            Assert.True(counts.Substitutions <= Math.Min(reference.Length, hypothesis.Length));
        }
    }

    private static int Levenshtein(int[] a, int[] b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }

    private string File(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, string.Join("\n", lines) + "\n", new UTF8Encoding(false));
        return path;
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, new CliContext(new StringReader(""), output, error));
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void EvalPrintsWerAndCer()
    {
        var hyp = File("hyp.txt", "quick brown fax jumps high", "The cat sat");
        var reference = File("ref.txt", "the quick brown fox jumps", "the cat sat.");
        // WER: line 1 1 ins 1 del 1 sub; line 2 The→the and sat→sat. 2 sub: 5 / 8 = 62.50
        // CER: line 1 "the quick brown fox jumps" (25) → "quick brown fax jumps high": del "the " (4), o→a (1), ins " high" (5);
        //      line 2 (12) T→t (1), del "." (1): 12 / 37 = 32.43
        var (code, output, error) = Run("eval", "--hyp", hyp, "--ref", reference, "--metrics", "wer,cer", "--width", "2");
        Assert.Equal(0, code);
        Assert.Equal("", error);
        var version = TranslationTrainer.Evaluation.Signature.Version;
        // right-aligned on " = " as sacreBLEU prints several metrics
        Assert.Equal(
            $"          WER|nrefs:1|case:mixed|punct:yes|version:{version} = 62.50 [ 5 / 8, 1 ins, 1 del, 3 sub ]\n"
            + $"CER|nrefs:1|case:mixed|punct:yes|space:yes|version:{version} = 32.43 [ 12 / 37, 5 ins, 5 del, 2 sub ]\n",
            output.Replace("\r\n", "\n"));

        (code, output, _) = Run("eval", "--hyp", hyp, "--ref", reference, "--metrics", "wer", "--wer-normalize", "--format", "json", "--width", "2");
        Assert.Equal(0, code);
        var wer = JsonDocument.Parse(output).RootElement[0];
        // normalised, line 2 is perfect: 3 / 8 = 37.50
        Assert.Equal("WER", wer.GetProperty("name").GetString());
        Assert.Equal(37.5, wer.GetProperty("score").GetDouble());
        Assert.Equal($"nrefs:1|case:lc|punct:no|version:{version}", wer.GetProperty("signature").GetString());
        Assert.Equal("[ 3 / 8, 1 ins, 1 del, 1 sub ]", wer.GetProperty("verbose_score").GetString());
        Assert.Equal([3.0, 8, 1, 1, 1], new[] { "num_edits", "ref_length", "insertions", "deletions", "substitutions" }.Select(f => wer.GetProperty(f).GetDouble()));
        Assert.Equal("lc", wer.GetProperty("case").GetString());
    }

    [Fact]
    public void EvalSentenceLevelAndBootstrap()
    {
        var hyp = File("hyp.txt", "quick brown fax jumps high", "the cat sat");
        var reference = File("ref.txt", "the quick brown fox jumps", "the cat sat");
        var (code, output, _) = Run("eval", "--hyp", hyp, "--ref", reference, "--metrics", "wer", "--sentence-level", "--width", "2");
        Assert.Equal(0, code);
        var lines = output.Replace("\r\n", "\n").TrimEnd('\n').Split('\n');
        Assert.EndsWith(" = 60.00 [ 3 / 5, 1 ins, 1 del, 1 sub ]", lines[0]);
        Assert.EndsWith(" = 0.00 [ 0 / 3, 0 ins, 0 del, 0 sub ]", lines[1]);

        (code, output, _) = Run("eval", "--hyp", hyp, "--ref", reference, "--metrics", "wer", "--confidence", "--confidence-n", "20");
        Assert.Equal(0, code);
        Assert.Matches(@"^WER\|nrefs:1\|bs:20\|seed:12345\|case:mixed\|punct:yes\|version:\S+ = 37\.5 \(μ = [0-9.]+ ± [0-9.]+\) \[ 3 / 8, ", output);
    }

    [Fact]
    public void EvalRefusesSeveralReferencesForWer()
    {
        var hyp = File("hyp.txt", "a");
        var (code, _, error) = Run("eval", "--hyp", hyp, "--ref", File("r1.txt", "a"), File("r2.txt", "b"), "--metrics", "wer");
        Assert.NotEqual(0, code);
        Assert.Contains("WER takes one reference, not 2", error);
    }
}
