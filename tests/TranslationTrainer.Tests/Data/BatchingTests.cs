using TranslationTrainer.Data;

namespace TranslationTrainer.Tests.Data;

public class BatchingTests
{
    private static ParallelCorpus Corpus()
    {
        var corpus = new ParallelCorpus();
        var random = new Random(4);
        for (int i = 0; i < 500; i++)
        {
            corpus.Source.Add(Enumerable.Repeat(5, random.Next(2, 40)).ToArray());
            corpus.Target.Add(Enumerable.Repeat(6, random.Next(1, 40)).ToArray());
        }
        return corpus;
    }

    [Fact]
    public void EachEpochUsesEverySentenceOnceWithinTheTokenBudget()
    {
        var corpus = Corpus();
        var batches = Batching.ForEpoch(corpus, maxTokens: 600, seed: 1, epoch: 1);
        Assert.Equal(Enumerable.Range(0, 500), batches.SelectMany(b => b).Order());
        foreach (var batch in batches.Where(b => b.Length > 1))
        {
            int padded = batch.Length * (batch.Max(i => corpus.Source[i].Length) + batch.Max(i => corpus.Target[i].Length + 1));
            Assert.True(padded <= 600, $"batch of {padded} padded tokens");
        }
    }

    [Fact]
    public void BatchesAreAFunctionOfSeedAndEpoch()
    {
        var corpus = Corpus();
        string Key(int seed, int epoch) => string.Join('|', Batching.ForEpoch(corpus, 600, seed, epoch).Select(b => string.Join(',', b)));
        Assert.Equal(Key(1, 1), Key(1, 1));
        Assert.NotEqual(Key(1, 1), Key(1, 2));
        Assert.NotEqual(Key(1, 1), Key(2, 1));
    }

    [Fact]
    public void LengthBucketingKeepsPaddingLow()
    {
        var corpus = Corpus();
        var batches = Batching.ForEpoch(corpus, 2000, seed: 1, epoch: 1);
        long real = batches.Sum(b => b.Sum(i => corpus.Target[i].Length + 1));
        long padded = batches.Sum(b => (long)b.Length * b.Max(i => corpus.Target[i].Length + 1));
        Assert.True(real > 0.9 * padded, $"only {real} of {padded} target positions are real");
    }
}
