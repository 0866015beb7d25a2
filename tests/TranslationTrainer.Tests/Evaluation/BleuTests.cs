using TranslationTrainer.Evaluation;

namespace TranslationTrainer.Tests.Evaluation;

// Where the expected values come from (sacreBLEU repository, github.com/mjpost/sacrebleu):
// - test/test_bleu.py: test_raw_bleu, test_corpus_bleu (multi-reference README example, tokenizers
//   none/13a/intl, smooth none, empty hypotheses), test_effective_order, test_statistics,
//   test_scoring, test_offset, test_degenerate_statistics, test_max_ngram_order.
// - test.sh (last present at commit 77ca43d, removed in dc301a5): the MTEVAL table (mteval-v13a.pl
//   BLEU of the WMT17 en-de systems, checked by sacreBLEU to 0.01 with `-w 2`) and MTEVAL14
//   (mteval-v14.pl --international-tokenization, LIUM-NMT.4900 en-de 26.89).
public class BleuTests
{
    private const double Epsilon = 1e-8;

    private static readonly string[][] Refs =
    [
        ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
        ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
    ];

    private static readonly string[] Hyps = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."];

    private static BleuScore Corpus(IReadOnlyList<string> hyps, string[][] refs, BleuOptions options) =>
        (BleuScore)new Bleu(options, refs).CorpusScore(hyps);

    /// <summary>sacreBLEU's compat.raw_corpus_bleu: no tokenization, floor smoothing, effective order.</summary>
    private static BleuScore Raw(string[] hyps, string[][] refs, double? smoothValue = 0.01) =>
        Corpus(hyps, refs, new BleuOptions(Tokenize: "none", SmoothMethod: "floor", SmoothValue: smoothValue, EffectiveOrder: true, Force: true));

    [Theory]
    [InlineData(new[] { "this is a test", "another test" }, new[] { "ref1", "ref2" }, 0.0)]
    [InlineData(new[] { "this is a test" }, new[] { "this is a test" }, 1.0)]
    [InlineData(new[] { "this is a fest" }, new[] { "this is a test" }, 0.223606797749979)]
    public void RawBleu(string[] hyps, string[] refs, double expected) =>
        Assert.Equal(expected, Raw(hyps, [refs]).Score / 100, Epsilon);

    [Theory]
    [InlineData("13a", "exp", 48.530827)]
    [InlineData("none", "exp", 49.1919566)]
    [InlineData("intl", "exp", 43.91623493)]
    [InlineData("13a", "none", 48.530827)]
    public void MultiReferenceCorpusBleu(string tokenize, string smooth, double expected) =>
        Assert.Equal(expected, Corpus(Hyps, Refs, new BleuOptions(Tokenize: tokenize, SmoothMethod: smooth)).Score, Epsilon);

    [Fact]
    public void EmptyHypothesesAreKeptAndScoreZero() =>
        Assert.Equal(0.0, Corpus(["", "", ""], Refs, new BleuOptions()).Score, Epsilon);

    [Theory]
    [InlineData("test", "a test", 0.3678794411714425)]
    [InlineData("a test", "a test", 1.0)]
    [InlineData("a little test", "a test", 0.03218297948685433)]
    public void EffectiveOrder(string hyp, string reference, double expected) =>
        Assert.Equal(expected, Raw([hyp], [[reference]]).Score / 100, Epsilon);

    [Fact]
    public void Statistics()
    {
        var score = Raw(["am I am a character sequence"], [["I am a symbol string sequence a a"]]);
        Assert.Equal([4.0, 2, 1, 0], score.Counts);
        Assert.Equal([6.0, 5, 4, 3], score.Totals);
    }

    [Fact]
    public void ScoringFromStatistics() =>
        Assert.Equal(0.8375922397, Bleu.ComputeBleu([9, 7, 5, 3], [10, 8, 6, 4], 11, 11).Score / 100, Epsilon);

    [Fact]
    public void FloorSmoothingOffset()
    {
        string[] hyp = ["am I am a character sequence"];
        string[][] reference = [["I am a symbol string sequence a a"]];
        Assert.Equal(0.0, Raw(hyp, reference, 0.0).Score / 100, Epsilon);
        Assert.Equal(0.1555722182, Raw(hyp, reference, null).Score / 100, Epsilon);
        Assert.Equal(0.1555722182, Raw(hyp, reference, 0.1).Score / 100, Epsilon);
    }

    [Theory]
    [InlineData(new double[] { 0, 0, 0, 0 }, new double[] { 4, 4, 2, 1 }, 0, 1, 0.0)]
    [InlineData(new double[] { 0, 0, 0, 0 }, new double[] { 10, 11, 12, 0 }, 14, 10, 0.0)]
    [InlineData(new double[] { 0, 0, 0, 0 }, new double[] { 0, 0, 0, 0 }, 0, 0, 0.0)]
    [InlineData(new double[] { 6, 5, 4, 0 }, new double[] { 6, 5, 4, 3 }, 6, 6, 0.0)]
    [InlineData(new double[] { 0, 0, 0, 0 }, new double[] { 0, 0, 0, 0 }, 0, 0, 0.1)]
    [InlineData(new double[] { 0, 0, 0, 0 }, new double[] { 0, 0, 0, 0 }, 1, 5, 0.01)]
    public void DegenerateStatistics(double[] correct, double[] total, int sysLen, int refLen, double offset) =>
        Assert.Equal(0.0, Bleu.ComputeBleu(correct, total, sysLen, refLen, "floor", offset).Score);

    [Theory]
    [InlineData(1, "77.65")]
    [InlineData(2, "60.50")]
    [InlineData(3, "53.93")]
    [InlineData(4, "48.53")]
    [InlineData(5, "46.14")]
    [InlineData(6, "43.28")]
    public void MaxNgramOrder(int order, string expected) =>
        Assert.Equal(expected, PyText.Fixed(Corpus(Hyps, Refs, new BleuOptions(MaxNgramOrder: order)).Score, 2));

    [Theory]
    [InlineData("uedin-nmt.4722", 28.30)]
    [InlineData("online-F.0", 15.45)]
    [InlineData("online-B.0", 26.65)]
    [InlineData("C-3MA.4959", 22.67)]
    [InlineData("FBK.4870", 26.33)]
    [InlineData("LIUM-NMT.4900", 26.60)]
    public void Wmt17Mteval13a(string system, double expected) =>
        Assert.Equal(expected, Wmt17.Bleu13a.CorpusScore(Wmt17.System(system)).Score, 0.01);

    [Fact]
    public void Wmt17Mteval14International() =>
        Assert.Equal(26.89, new Bleu(new BleuOptions(Tokenize: "intl"), Wmt17.References).CorpusScore(Wmt17.System("LIUM-NMT.4900")).Score, 0.01);

    [Fact]
    public void SignatureHasSacreBleuFieldsInOrder()
    {
        Assert.Equal($"nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:{Signature.Version}", new Bleu(new BleuOptions(), Refs).Signature.ToString());
        Assert.Equal($"nrefs:1|case:lc|eff:yes|tok:intl|smooth:floor[0.10]|version:{Signature.Version}",
            new Bleu(new BleuOptions(Tokenize: "intl", Lowercase: true, SmoothMethod: "floor", EffectiveOrder: true), [Refs[0]]).Signature.ToString());
    }
}
