using TranslationTrainer.Text;

namespace TranslationTrainer.Tests.Text;

public class BpeLearnerTests
{
    [Fact]
    public void ReproducesTheTextbookExampleOfSennrichEtAl2016()
    {
        // Algorithm 1 of "Neural Machine Translation of Rare Words with Subword Units": {low: 5, lower: 2, newest: 6, widest: 3}.
        (IReadOnlyList<string>, long) Word(string spaced, long count) => (spaced.Split(' '), count);
        var words = new[] { Word("l o w </w>", 5), Word("l o w e r </w>", 2), Word("n e w e s t </w>", 6), Word("w i d e s t </w>", 3) };

        var merges = BpeLearner.LearnMerges(words, maxNewPieces: 10, minFrequency: 1);

        Assert.Equal(new[]
        {
            ("e", "s"), ("es", "t"), ("est", "</w>"), ("l", "o"), ("lo", "w"),
            ("n", "e"), ("ne", "w"), ("new", "est</w>"), ("low", "</w>"), ("w", "i"),
        }, merges);
    }

    [Fact]
    public void StopsWhenNoPairReachesTheMinimumFrequency()
    {
        var words = new[] { ((IReadOnlyList<string>)["a", "b", "c"], 3L), (["x", "y"], 1L) };

        var merges = BpeLearner.LearnMerges(words, maxNewPieces: 100, minFrequency: 2);

        Assert.Equal(new[] { ("a", "b"), ("ab", "c") }, merges);
    }

    [Fact]
    public void LearningIsDeterministic()
    {
        var lines = Corpus.Lines("valid.es").Concat(Corpus.Lines("valid.en")).ToList();
        var options = new VocabularyOptions(VocabSize: 1500);

        var first = BpeLearner.Learn(lines, options);
        var second = BpeLearner.Learn(lines, options);

        Assert.Equal(first.Pieces, second.Pieces);
        Assert.Equal(first.Merges, second.Merges);
        Assert.Equal(1500, first.Pieces.Count);
        Assert.Equal(BpeModel.SpecialPieces, first.Pieces.Take(4));
    }

    [Fact]
    public void EveryPieceIsUniqueAndEveryMergeResultIsAPiece()
    {
        var model = BpeLearner.Learn(Corpus.Lines("valid.en"), new VocabularyOptions(VocabSize: 1000));

        Assert.Equal(model.Pieces.Count, model.Pieces.Distinct().Count());
        var pieces = model.Pieces.ToHashSet();
        Assert.All(model.Merges, m => Assert.Contains(m.Left + m.Right, pieces));
        Assert.All(model.Pieces, p => Assert.DoesNotContain(' ', p));
    }
}
