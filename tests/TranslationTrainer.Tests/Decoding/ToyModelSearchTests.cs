using TorchSharp;
using TranslationTrainer.Decoding;
using TranslationTrainer.Model;
using TranslationTrainer.Text;
using static TorchSharp.torch;

namespace TranslationTrainer.Tests.Decoding;

/// <summary>
/// A model whose next-token distribution depends only on the last token, fixed by hand, so that what greedy and
/// beam search must return can be worked out on paper. Tokens: a = 4, b = 5, c = 6 (0–3 are the specials).
/// </summary>
internal sealed class BigramToyModel : IDecodingModel
{
    public const int A = 4, B = 5, C = 6, Vocab = 8; // 7 is never likely: rows have room for a beam's 2K candidates

    /// <summary>p(next | last); every token not listed has probability 0.</summary>
    private static readonly Dictionary<int, (int Token, double P)[]> Next = new()
    {
        [Vocabulary.BosId] = [(A, 0.6), (B, 0.4)],
        [A] = [(Vocabulary.EosId, 0.5), (C, 0.3), (B, 0.2)],
        [B] = [(C, 0.9), (Vocabulary.EosId, 0.1)],
        [C] = [(Vocabulary.EosId, 0.8), (C, 0.2)],
    };

    public string Architecture => "bigram-toy";
    public int MaxPositions => 64;
    public string Backend => "fp32";

    public EncodedSource Encode(Tensor source) => new(source, source.ne(Vocabulary.PadId));
    public IDecodingState StartDecoding(EncodedSource encoded, bool cached) => new State();
    public Tensor? CrossAttention(EncodedSource encoded, Tensor targetInput) => null;

    /// <summary>log p(next | last) as the logits of one row: log-probabilities already, so search's normaliser is 0.</summary>
    private static float[] LogProbabilities(int last)
    {
        var row = Enumerable.Repeat(float.NegativeInfinity, Vocab).ToArray();
        foreach (var (token, p) in Next[last]) row[token] = (float)Math.Log(p);
        return row;
    }

    /// <summary>Keeps nothing between steps (the distribution needs only the token fed), so reordering is free.</summary>
    private sealed class State : IDecodingState
    {
        public Tensor Step(Tensor lastTokens)
        {
            var rows = lastTokens.data<long>().Select(t => LogProbabilities((int)t)).ToArray();
            return tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, Vocab]);
        }

        public void Reorder(long[] rows, long[]? sources) { }
        public void Dispose() { }
    }
}

/// <summary>
/// Beam search on <see cref="BigramToyModel"/>, worked out by hand. With beam 2 and at most 4 tokens:
/// step 1 keeps a (0.6) and b (0.4); step 2's best four are b c (0.36), a &lt;/s&gt; (0.30), a c (0.18), a b (0.12):
/// "a" finishes, b c and a c continue; step 3's best are b c &lt;/s&gt; (0.288) and a c &lt;/s&gt; (0.144), which
/// finish, and the sentence has its two. Greedy takes a (0.6), then &lt;/s&gt; (0.5): "a", 0.30.
/// </summary>
[Collection(TorchCollection.Name)]
public class ToyModelSearchTests
{
    private const int A = BigramToyModel.A, B = BigramToyModel.B, C = BigramToyModel.C;
    private static readonly DecodingOptions Options = new() { Beam = 2, NBest = 2, LengthPenalty = 0 };

    private static List<Hypothesis> Decode(DecodingOptions options, int sentences = 1)
    {
        using var scope = NewDisposeScope();
        var model = new BigramToyModel();
        var source = full(sentences, 3, (long)A); // the toy ignores its source
        return Search.Decode(model, source, Enumerable.Repeat(4, sentences).ToArray(), options)[0];
    }

    private static void AssertHypothesis(int[] tokens, double probability, double normaliser, Hypothesis actual)
    {
        Assert.Equal(tokens, actual.Tokens);
        Assert.Equal(Math.Log(probability), actual.LogProbability, 1e-5);
        Assert.Equal(Math.Log(probability) / normaliser, actual.Score, 1e-5);
    }

    [Fact]
    public void BeamSearchWithoutALengthPenaltyRanksByLogProbability()
    {
        var nbest = Decode(Options);
        Assert.Equal(2, nbest.Count);
        AssertHypothesis([A], 0.30, 1, nbest[0]);
        AssertHypothesis([B, C], 0.288, 1, nbest[1]); // a c (0.144) finished too, but n-best is 2
    }

    [Fact]
    public void TheLengthPenaltyPutsTheLongerHypothesisFirst()
    {
        // gnmt, α = 1: score / ((5 + |y|) / 6), |y| counting </s>: b c −1.2448·6/8 = −0.934 beats a −1.2040·6/7 = −1.032.
        var nbest = Decode(Options with { LengthPenalty = 1 });
        AssertHypothesis([B, C], 0.288, 8.0 / 6, nbest[0]);
        AssertHypothesis([A], 0.30, 7.0 / 6, nbest[1]);
    }

    [Fact]
    public void GreedyTakesTheLocallyBestTokenAndBeamOneEqualsIt()
    {
        var greedy = Decode(Options with { Beam = 1, NBest = 1 });
        AssertHypothesis([A], 0.30, 1, Assert.Single(greedy));
        using var scope = NewDisposeScope();
        var model = new BigramToyModel();
        var beamOne = Assert.Single(Search.Beam(model, full(1, 3, (long)A), [4], Options with { Beam = 1, NBest = 1 })[0]);
        Assert.Equal(greedy[0].Tokens, beamOne.Tokens);
        Assert.Equal(greedy[0].Score, beamOne.Score);
        Assert.Equal(greedy[0].LogProbability, beamOne.LogProbability);
    }

    [Fact]
    public void AWiderBeamFindsAllThreeInScoreOrder()
    {
        // Beam 3: after "a" finishes at step 2, b c, a c and a b continue; step 3 finishes b c (0.288) and a c (0.144),
        // and the three come out in the order of their log-probabilities.
        var nbest = Decode(Options with { Beam = 3, NBest = 3 });
        Assert.Equal([[A], [B, C], [A, C]], nbest.Select(h => h.Tokens));
    }

    [Fact]
    public void EverySentenceOfABatchGetsTheSameAnswer()
    {
        using var scope = NewDisposeScope();
        var model = new BigramToyModel();
        var results = Search.Decode(model, full(3, 3, (long)A), [4, 4, 4], Options);
        foreach (var nbest in results) Assert.Equal([[A], [B, C]], nbest.Select(h => h.Tokens));
    }

    [Fact]
    public void AtTheMaximumLengthOnlyEndOfSentenceIsLeft()
    {
        // Max length 2: the second step may only output </s>, with log-probability 0, so a and b end there.
        using var scope = NewDisposeScope();
        var model = new BigramToyModel();
        var nbest = Search.Decode(model, full(1, 3, (long)A), [2], Options)[0];
        AssertHypothesis([A], 0.6, 1, nbest[0]);
        AssertHypothesis([B], 0.4, 1, nbest[1]);
    }
}
