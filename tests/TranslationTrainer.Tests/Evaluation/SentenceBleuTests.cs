using TranslationTrainer.Evaluation;

namespace TranslationTrainer.Tests.Evaluation;

// Expected values: sacreBLEU test/test_sentence_bleu.py, test_api_sentence_bleu (example from
// sacreBLEU issue #98) and test_api_sentence_bleu_zero (issue #141), EPSILON 1e-3 as there.
public class SentenceBleuTests
{
    private const string Ref = "producţia de zahăr brut se exprimă în zahăr alb;";
    private const string Sys = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;";

    private static double SentenceBleu(string hyp, string reference, string smooth, double? value, bool lowercase, string tok)
    {
        var options = new EvalOptions
        {
            Bleu = new BleuOptions(Tokenize: tok, Lowercase: lowercase, SmoothMethod: smooth, SmoothValue: value),
        };
        return Evaluator.ScoreSentences([hyp], [[reference]], options)[0].Score.Score;
    }

    [Theory]
    [InlineData("exp", null, false, "13a", 8.493)]
    [InlineData("none", null, false, "13a", 0.0)]
    [InlineData("floor", null, false, "13a", 4.51688)]
    [InlineData("floor", 0.1, false, "13a", 4.51688)]
    [InlineData("floor", 0.5, false, "13a", 10.10)]
    [InlineData("add-k", null, false, "13a", 14.882)]
    [InlineData("add-k", 1.0, false, "13a", 14.882)]
    [InlineData("add-k", 2.0, false, "13a", 21.389)]
    [InlineData("exp", null, false, "none", 7.347)]
    [InlineData("exp", null, false, "intl", 8.493)]
    [InlineData("exp", null, false, "char", 40.8759)]
    [InlineData("exp", null, true, "char", 42.0267)]
    public void SentenceBleu98(string smooth, double? value, bool lowercase, string tok, double expected) =>
        Assert.Equal(expected, SentenceBleu(Sys, Ref, smooth, value, lowercase, tok), 1e-3);

    [Theory]
    [InlineData("exp", null)]
    [InlineData("none", null)]
    [InlineData("floor", null)]
    [InlineData("floor", 0.1)]
    [InlineData("add-k", null)]
    [InlineData("add-k", 1.0)]
    public void NoMatchesScoreZero(string smooth, double? value) =>
        Assert.Equal(0.0, SentenceBleu("this is a cat", "okay thanks", smooth, value, false, "13a"), 1e-3);

    [Fact]
    public void SentenceLevelSignatureSaysEffectiveOrder() =>
        Assert.Contains("|eff:yes|", Evaluator.ScoreSentences([Sys], [[Ref]], new EvalOptions())[0].Signature.ToString());
}
