using TranslationTrainer.Evaluation;

namespace TranslationTrainer.Tests.Evaluation;

public class LengthBucketsTests
{
    private static string Words(int count) => string.Join(" ", Enumerable.Range(1, count).Select(i => $"w{i}"));

    [Theory]
    [InlineData(1, 0)]
    [InlineData(10, 0)]
    [InlineData(11, 1)]
    [InlineData(20, 1)]
    [InlineData(21, 2)]
    [InlineData(40, 2)]
    [InlineData(41, 3)]
    [InlineData(500, 3)]
    public void EachLengthFallsInItsBucket(int words, int bucket)
    {
        Assert.Equal(words, LengthBuckets.WordCount(Words(words)));
        Assert.Equal(bucket, LengthBuckets.IndexOf(words, LengthBuckets.Default));
    }

    [Fact]
    public void WordsAreCountedAtAnyWhitespaceAndAnEmptySourceCountsWithTheShortest()
    {
        Assert.Equal(3, LengthBuckets.WordCount("  uno\tdos  tres \n"));
        Assert.Equal(0, LengthBuckets.WordCount("   "));
        Assert.Equal(0, LengthBuckets.IndexOf(0, LengthBuckets.Default));
    }

    [Fact]
    public void LabelsNameTheBounds()
    {
        Assert.Equal(["1–10", "11–20", "21–40", "41+"], LengthBuckets.Default.Select(b => b.Label));
    }

    [Fact]
    public void EachBucketIsScoredAsACorpusOfItsOwnSentences()
    {
        string[] sources = [Words(3), Words(15), Words(5), Words(25)];
        string[] references = ["the cat sat on the mat", "a b c d e f", "he went home today again", "x y z w v u"];
        string[] hypotheses = ["the cat sat on the mat", "q r s t u v", "he went home today again", "x y z w v u"];
        var scores = LengthBuckets.Score(sources, hypotheses, references);

        Assert.Equal([2, 1, 1, 0], scores.Select(s => s.Sentences));
        // The short bucket holds lines 0 and 2: exactly the corpus scores of those two lines.
        string[] shortRefs = [references[0], references[2]], shortHyps = [hypotheses[0], hypotheses[2]];
        Assert.Equal(new Bleu(new BleuOptions(), [shortRefs]).CorpusScore(shortHyps).Score, scores[0].Bleu);
        Assert.Equal(new Chrf(new ChrfOptions(), [shortRefs]).CorpusScore(shortHyps).Score, scores[0].Chrf);
        Assert.Equal(100.0, scores[0].Bleu!.Value, 6);
        Assert.Equal(0.0, scores[1].Bleu!.Value, 6);
        Assert.Equal(100.0, scores[2].Bleu!.Value, 6);
    }

    [Fact]
    public void AnEmptyBucketHasNoScoreRatherThanZero()
    {
        var scores = LengthBuckets.Score([Words(2)], ["a b c"], ["a b c"]);
        Assert.Equal([1, 0, 0, 0], scores.Select(s => s.Sentences));
        Assert.All(scores.Skip(1), s => Assert.Null(s.Bleu));
        Assert.All(scores.Skip(1), s => Assert.Null(s.Chrf));
        Assert.DoesNotContain(LengthBuckets.Score([], [], []), s => s.Sentences > 0);
    }

    [Fact]
    public void MismatchedCountsAreAUserError()
    {
        var error = Assert.Throws<UserError>(() => LengthBuckets.Score([Words(2), Words(3)], ["a"], ["a", "b"]));
        Assert.Contains("2 sources, 1 hypotheses and 2 references", error.Message);
    }
}
