using TranslationTrainer.Decoding;
using TranslationTrainer.Text;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace TranslationTrainer.Tests.Decoding;

[Collection(TorchCollection.Name)]
public class SearchTests
{
    private static readonly DecodingOptions Greedy = new() { Beam = 1, MaxLenA = 0, MaxLenB = 12 };

    [Fact]
    public void CachedStepsGiveTheSameLogitsAsTheFullPass()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.Create();
        var source = TinyModels.RandomTokens(11, 3, 7);
        var target = cat([full(3, 1, (long)Vocabulary.BosId), TinyModels.RandomTokens(12, 3, 20)], 1); // longer than the cache's first buffer
        var (memory, keep) = model.Encode(source);
        var full_ = model.Decode(target, memory, keep);
        using var cache = model.StartDecoding(memory, keep);
        for (int t = 0; t < target.shape[1]; t++)
        {
            var step = model.DecodeStep(target[.., t], cache);
            Assert.True(step.allclose(full_[.., t], rtol: 0, atol: 1e-4), $"step {t} differs");
        }
    }

    [Fact]
    public void GreedyOutputEqualsArgmaxOfTheUncachedModel()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.Create();
        var source = TinyModels.RandomTokens(13, 1, 6);
        var cached = Search.Greedy(model, source, [12], Greedy)[0][0].Tokens;

        var prefix = new List<long> { 2 };
        var (memory, keep) = model.Encode(source);
        for (int step = 1; step <= 12; step++)
        {
            var logp = F.log_softmax(model.Decode(tensor(prefix.ToArray()).unsqueeze(0), memory, keep)[0, -1], -1);
            logp = logp.index_fill(0, tensor(new long[] { 0, 1, 2 }), double.NegativeInfinity);
            if (step == 12) break;
            long next = logp.argmax().item<long>();
            if (next == 3) break;
            prefix.Add(next);
        }
        Assert.Equal(prefix.Skip(1).Select(t => (int)t).ToArray(), cached);
    }

    [Fact]
    public void BeamOfOneEqualsGreedy()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.Create();
        var source = TinyModels.RandomTokens(14, 6, 8);
        var maxLengths = Enumerable.Repeat(12, 6).ToArray();
        var greedy = Search.Greedy(model, source, maxLengths, Greedy);
        var beam = Search.Beam(model, source, maxLengths, Greedy);
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(greedy[i][0].Tokens, beam[i][0].Tokens);
            Assert.Equal(greedy[i][0].LogProbability, beam[i][0].LogProbability, 4);
        }
    }

    [Fact]
    public void BeamFindsHypothesesAtLeastAsLikelyAsGreedy()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.Create(seed: 3);
        var source = TinyModels.RandomTokens(15, 16, 8);
        var maxLengths = Enumerable.Repeat(10, 16).ToArray();
        var options = Greedy with { LengthPenalty = 0 };
        var greedy = Search.Greedy(model, source, maxLengths, options);
        var beam = Search.Beam(model, source, maxLengths, options with { Beam = 5 });
        int atLeast = Enumerable.Range(0, 16).Count(i => beam[i][0].Score >= greedy[i][0].Score - 1e-4);
        Assert.True(atLeast >= 14, $"beam was at least as good on only {atLeast} of 16 sentences");
        Assert.True(beam.Average(b => b[0].Score) >= greedy.Average(g => g[0].Score));
    }

    [Fact]
    public void NBestListsAreSortedAndDistinct()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.Create(seed: 5);
        var source = TinyModels.RandomTokens(16, 4, 6);
        var results = Search.Beam(model, source, [10, 10, 10, 10], Greedy with { Beam = 4, NBest = 4 });
        foreach (var nbest in results)
        {
            Assert.Equal(4, nbest.Count);
            Assert.Equal(nbest.OrderByDescending(h => h.Score).Select(h => h.Score), nbest.Select(h => h.Score));
            Assert.Equal(4, nbest.Select(h => string.Join(' ', h.Tokens)).Distinct().Count());
        }
    }

    [Theory]
    [InlineData(8000, 10)]  // blocks of 64 / chunks of 100
    [InlineData(1237, 6)]   // a prime: a tail after the last whole block, no chunk size near 100 (plain topk)
    [InlineData(120, 3)]    // one block and a tail; chunks of 120: one chunk, plain topk
    [InlineData(6000, 12)]  // the best tokens crowded into few blocks and chunks below
    [InlineData(500, 10)]   // fewer blocks than wanted tokens: every value offered
    public void TopKEqualsLibtorchsTopK(int vocab, int count)
    {
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator(7);
        var logits = randn([5, vocab], generator: generator);
        logits[0, TensorIndex.Slice(0, 50)] += 10;                        // row 0's best tokens all sit in its first block
        logits[1, TensorIndex.Slice(3, null)] = double.NegativeInfinity; // row 1 as at its length limit: few finite values
        var (expectedValues, expectedIndices) = logits.topk(count, dim: 1);
        foreach (var (values, indices) in new[] { Search.TopK(logits, count), Search.ChunkedTopK(logits, count) })
        {
            Assert.True(values.equal(expectedValues).all().item<bool>());
            // Where the values run out (−∞ ties) any index will do: search stops at a −∞ score.
            Assert.True(indices.masked_select(expectedValues.isfinite()).equal(expectedIndices.masked_select(expectedValues.isfinite())).all().item<bool>());
        }
    }

    [Fact]
    public void TopKRanksEqualValuesByLowerIndex()
    {
        using var scope = NewDisposeScope();
        var logits = full(2, 300, -1f);
        foreach (long i in new long[] { 250, 7, 130, 64 }) logits[0, i] = 2f; // equal values in several blocks
        logits[1, 299] = 5f;
        var (values, indices) = Search.TopK(logits, 5);
        Assert.Equal(new long[] { 7, 64, 130, 250, 0 }, indices[0].data<long>().ToArray());
        Assert.Equal(new float[] { 2, 2, 2, 2, -1 }, values[0].data<float>().ToArray());
        Assert.Equal(new long[] { 299, 0, 1, 2, 3 }, indices[1].data<long>().ToArray());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void ASentenceDecodesTheSameAloneAndInAPaddedBatch(int beam)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.Create(seed: 9);
        var options = Greedy with { Beam = beam };
        var shortSource = TinyModels.RandomTokens(17, 1, 4);
        var alone = Search.Decode(model, shortSource, [12], options)[0][0];
        var batch = cat([cat([shortSource, zeros(1, 5, dtype: int64)], 1), TinyModels.RandomTokens(18, 2, 9)], 0);
        var inBatch = Search.Decode(model, batch, [12, 12, 12], options)[0][0];
        Assert.Equal(alone.Tokens, inBatch.Tokens);
        Assert.Equal(alone.Score, inBatch.Score, 4);
    }

    [Fact]
    public void OutputsRespectTheMaximumLength()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.Create(seed: 2);
        var source = TinyModels.RandomTokens(19, 3, 5);
        foreach (var beam in new[] { 1, 3 })
        {
            var results = Search.Decode(model, source, [1, 2, 3], Greedy with { Beam = beam });
            for (int i = 0; i < 3; i++) Assert.True(results[i][0].Tokens.Length <= i, $"beam {beam} sentence {i}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void UncachedDecodingGivesTheSameResults(int beam)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.Create(seed: 4);
        var source = cat([TinyModels.RandomTokens(20, 3, 7), cat([TinyModels.RandomTokens(21, 2, 4), zeros(2, 3, dtype: int64)], 1)], 0);
        int[] maxLengths = [12, 3, 12, 8, 12];
        var options = Greedy with { Beam = beam, NBest = beam };
        var cached = Search.Decode(model, source, maxLengths, options);
        var uncached = Search.Decode(model, source, maxLengths, options with { Uncached = true });
        for (int i = 0; i < maxLengths.Length; i++)
        {
            Assert.Equal(cached[i].Select(h => h.Tokens), uncached[i].Select(h => h.Tokens));
            Assert.Equal(cached[i][0].Score, uncached[i][0].Score, 3);
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 2)]
    [InlineData(4, 2)]
    [InlineData(3, 3)]
    public void NoRepeatNgramKeepsEveryNgramOfThatSizeUnique(int beam, int n)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        // An untrained model with few tokens repeats itself readily; long outputs make repeats likely.
        var model = TinyModels.Create(seed: 6);
        var source = TinyModels.RandomTokens(22, 6, 5);
        var maxLengths = Enumerable.Repeat(16, 6).ToArray();
        var options = Greedy with { Beam = beam, NBest = beam, MinLen = 12, MaxLenB = 16 };
        var without = Search.Decode(model, source, maxLengths, options).SelectMany(r => r).ToList();
        Assert.Contains(without, h => Ngrams(h.Tokens, n).Count() != Ngrams(h.Tokens, n).Distinct().Count());
        var with = Search.Decode(model, source, maxLengths, options with { NoRepeatNgram = n }).SelectMany(r => r).ToList();
        foreach (var hypothesis in with)
        {
            Assert.True(hypothesis.Tokens.Length >= 12);
            var ngrams = Ngrams(hypothesis.Tokens, n).ToList();
            Assert.Equal(ngrams.Count, ngrams.Distinct().Count());
        }
    }

    private static IEnumerable<string> Ngrams(int[] tokens, int n) =>
        Enumerable.Range(0, Math.Max(0, tokens.Length - n + 1)).Select(i => string.Join(' ', tokens.Skip(i).Take(n)));
}
