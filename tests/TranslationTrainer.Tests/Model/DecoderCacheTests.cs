using TranslationTrainer.Model;
using static TorchSharp.torch;

namespace TranslationTrainer.Tests.Model;

[Collection(TorchCollection.Name)]
public class DecoderCacheTests
{
    /// <summary>
    /// Reorder copies only the rows that move when few do, and falls back to gathering every row when many do: both
    /// must leave exactly what index_select would, for the self-attention cache and the encoder side.
    /// </summary>
    [Theory]
    [InlineData(new long[] { 0, 1, 2, 3, 4, 5, 6, 7 }, null)]                  // nothing moves
    [InlineData(new long[] { 0, 0, 2, 3, 4, 5, 7, 7 }, null)]                  // beams re-ranked: two rows copied
    [InlineData(new long[] { 0, 1, 6, 7, 4, 5 }, new long[] { 0, 3, 2 })]      // sentence 1 (rows 2, 3) left, 3 took its place
    [InlineData(new long[] { 7, 6, 5, 4, 3, 2, 1, 0 }, null)]                  // most rows move: gathered
    [InlineData(new long[] { 2, 3 }, new long[] { 1 })]                       // one sentence left of four
    public void ReorderEqualsIndexSelect(long[] rows, long[]? sources)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        int rowCount = 8, sourceCount = 4;
        var memoryKeys = randn(sourceCount, 2, 5, 3);
        var memoryValues = randn(sourceCount, 2, 5, 3);
        var sourceKeep = rand(sourceCount, 1, 1, 5).gt(0.3);
        using var cache = new DecoderCache([memoryKeys.clone()], [memoryValues.clone()], sourceKeep.clone());
        var keys = new List<Tensor>();
        var values = new List<Tensor>();
        for (int step = 0; step < 3; step++)
        {
            keys.Add(randn(rowCount, 2, 1, 3));
            values.Add(randn(rowCount, 2, 1, 3));
            cache.Layers[0].Append(keys[^1], values[^1]);
        }

        cache.Reorder(rows, sources);

        var rowIndex = tensor(rows);
        Assert.True(cache.Layers[0].Keys!.equal(cat(keys, 2).index_select(0, rowIndex)).all().item<bool>());
        Assert.True(cache.Layers[0].Values!.equal(cat(values, 2).index_select(0, rowIndex)).all().item<bool>());
        var sourceIndex = tensor(sources ?? [0, 1, 2, 3]);
        Assert.True(cache.MemoryKeys[0].equal(memoryKeys.index_select(0, sourceIndex)).all().item<bool>());
        Assert.True(cache.MemoryValues[0].equal(memoryValues.index_select(0, sourceIndex)).all().item<bool>());
        Assert.True(cache.SourcePadding.equal(sourceKeep.logical_not().index_select(0, sourceIndex)).all().item<bool>());

        // The cache goes on working after the reorder: the next position lands after the kept ones.
        var next = randn(rows.Length, 2, 1, 3);
        cache.Layers[0].Append(next, next);
        Assert.Equal(4, cache.Layers[0].Count);
        Assert.True(cache.Layers[0].Keys!.select(2, 3).equal(next.select(2, 0)).all().item<bool>());
    }
}
