using TranslationTrainer.Evaluation;

namespace TranslationTrainer.Tests.Evaluation;

// Where the expected values come from (sacreBLEU repository, github.com/mjpost/sacrebleu):
// - test/test_chrf.py: test_chrf (eps smoothing, beta 3), test_chrf_eff_order (sacreBLEU < 2.0 mode,
//   the default), test_chrf_keep_whitespace, test_chrf_sentence_level; EPSILON 1e-4 as there.
// - test.sh (last present at commit 77ca43d): the CHRF and CHRFPP tables, scores of the official
//   chrF++.py for WMT17 en-de C-3MA.4959 and FBK.4870, checked by sacreBLEU with
//   `--chrf-eps-smoothing -w 4` (and `--chrf-word-order 2` for chrF++).
public class ChrfTests
{
    private const double Epsilon = 1e-4;

    private static double Corpus(string[] hyps, string[] refs, ChrfOptions options) =>
        new Chrf(options, [refs]).CorpusScore(hyps).Score;

    public static TheoryData<string[], string[], double> EpsCases => new()
    {
        { ["abcdefg"], ["hijklmnop"], 0.0 },
        { ["a"], ["b"], 0.0 },
        { [""], ["b"], 0.0 },
        { [""], ["ref"], 0.0 },
        { [""], ["reference"], 0.0 },
        { ["aa"], ["ab"], 8.3333 },
        { ["a", "b"], ["a", "c"], 8.3333 },
        { ["a"], ["a"], 16.6667 },
        { ["a b c"], ["a b c"], 50.0 },
        { ["a b c"], ["abc"], 50.0 },
        { [" risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."],
          ["risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."], 63.361730 },
        { [" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "],
          ["Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."], 64.1302698 },
        { ["Niemand hat die Absicht, eine Mauer zu errichten"], ["Niemand hat die Absicht, eine Mauer zu errichten"], 100.0 },
    };

    [Theory]
    [MemberData(nameof(EpsCases))]
    public void EpsSmoothing(string[] hyps, string[] refs, double expected) =>
        Assert.Equal(expected, Corpus(hyps, refs, new ChrfOptions(Beta: 3, EpsSmoothing: true)), Epsilon);

    public static TheoryData<string[], string[], double> EffectiveOrderCases => new()
    {
        { ["a"], ["a"], 100.0 },
        { [""], ["reference"], 0.0 },
        { ["a b c"], ["a b c"], 100.0 },
        { ["a b c"], ["abc"], 100.0 },
        { [""], ["c"], 0.0 },
        { ["a", "b"], ["a", "c"], 50.0 },
        { ["aa"], ["ab"], 25.0 },
    };

    [Theory]
    [MemberData(nameof(EffectiveOrderCases))]
    public void EffectiveOrder(string[] hyps, string[] refs, double expected) =>
        Assert.Equal(expected, Corpus(hyps, refs, new ChrfOptions(Beta: 3)), Epsilon);

    [Theory]
    [InlineData("Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.",
        "Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.", 67.3481606)]
    [InlineData("risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .",
        "risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .", 65.2414427)]
    public void KeepWhitespace(string hyp, string reference, double expected) =>
        Assert.Equal(expected, Corpus([hyp], [reference], new ChrfOptions(Beta: 3, Whitespace: true)), Epsilon);

    [Theory]
    [InlineData("Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
        "Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.", 39.14078509)]
    [InlineData("Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.",
        "A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.", 31.22557079)]
    [InlineData("Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
        "Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.", 57.15704367)]
    public void SentenceLevel(string hyp, string reference, double expected) =>
        Assert.Equal(expected, Corpus([hyp], [reference], new ChrfOptions(EpsSmoothing: true)), Epsilon);

    [Theory]
    [InlineData("C-3MA.4959", 0, 51.9533)]
    [InlineData("FBK.4870", 0, 54.7152)]
    [InlineData("C-3MA.4959", 2, 49.1683)]
    [InlineData("FBK.4870", 2, 52.2330)]
    public void Wmt17OfficialChrfPlusPlusPy(string system, int wordOrder, double expected) =>
        Assert.Equal(expected, new Chrf(new ChrfOptions(WordOrder: wordOrder, EpsSmoothing: true), Wmt17.References)
            .CorpusScore(Wmt17.System(system)).Score, Epsilon);

    [Fact]
    public void NamesAndSignature()
    {
        var chrf = new Chrf(new ChrfOptions(), [["a"]]);
        var chrfpp = new Chrf(new ChrfOptions(WordOrder: 2), [["a"]]);
        Assert.Equal("chrF2", chrf.Name);
        Assert.Equal("chrF2++", chrfpp.Name);
        Assert.Equal($"nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:{Signature.Version}", chrfpp.Signature.ToString());
    }
}
