using TranslationTrainer.Decoding;
using TranslationTrainer.Model;
using TranslationTrainer.Speech;
using TranslationTrainer.Text;
using static TorchSharp.torch;

namespace TranslationTrainer.Tests.Speech;

/// <summary>speech-transformer: log-mel frames through the convolutional front end into the usual encoder-decoder.</summary>
[Collection(TorchCollection.Name)]
public class SpeechTransformerTests
{
    private const int Bins = 8;
    private static readonly DecodingOptions Greedy = new() { Beam = 1, MaxLenA = 0, MaxLenB = 10 };

    private static Transformer Create(int seed = 7)
    {
        manual_seed(seed);
        var config = TinyModels.Config() with { Arch = ModelConfig.SpeechArch, TieEmbeddings = "decoder", FeatureBins = Bins, ConvChannels = 16 };
        var model = new Transformer(config, 0, TinyModels.Vocab);
        model.eval();
        return model;
    }

    /// <summary>An utterance of `frames` random frames, [frames × bins] row-major.</summary>
    private static float[] Frames(int seed, int frames)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, frames * Bins).Select(_ => (float)(random.NextDouble() * 2 - 1))];
    }

    private static Tensor Batch(params float[][] utterances) => SpeechBatch.Pad(utterances, Bins, CPU);

    [Fact]
    public void ABatchCarriesItsLengthsInTheLastChannelAndSplitsBack()
    {
        using var scope = NewDisposeScope();
        float[] shorter = Frames(1, 3), longer = Frames(2, 5);
        var batch = Batch(shorter, longer);
        Assert.Equal(new long[] { 2, 5, Bins + 1 }, batch.shape);
        var (features, lengths) = SpeechBatch.Split(batch);
        Assert.Equal(new long[] { 3, 5 }, lengths);
        Assert.Equal(shorter, features[0, ..3].flatten().data<float>().ToArray());
        Assert.Equal(longer, features[1].flatten().data<float>().ToArray());
        Assert.Equal(0f, features[0, 3..].abs().sum().item<float>());
    }

    [Fact]
    public void TheEncoderSeesAQuarterOfTheFramesAndPaddingChangesNothing()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = Create();
        float[] utterance = Frames(3, 13), other = Frames(4, 30);
        var alone = model.Encode(Batch(utterance));
        Assert.Equal(4, alone.Memory.shape[1]); // 13 → 7 → 4
        var together = model.Encode(Batch(utterance, other));
        Assert.Equal(8, together.Memory.shape[1]); // 30 → 15 → 8
        Assert.Equal(4, together.SourceKeep[0].sum().item<long>());
        Assert.True(alone.Memory[0].allclose(together.Memory[0, ..4], rtol: 0, atol: 1e-5));

        var target = cat([full(1, 1, (long)Vocabulary.BosId), TinyModels.RandomTokens(5, 1, 5)], 1);
        var aloneLogits = model.forward(Batch(utterance), target);
        var batchLogits = model.forward(Batch(utterance, other), cat([target, TinyModels.RandomTokens(6, 1, 6)], 0));
        Assert.True(aloneLogits[0].allclose(batchLogits[0], rtol: 0, atol: 1e-5));
        foreach (int beam in new[] { 1, 4 })
        {
            var options = Greedy with { Beam = beam };
            var aloneDecoded = Search.Decode(model, Batch(utterance), [10], options)[0][0];
            var inBatch = Search.Decode(model, Batch(utterance, other), [10, 10], options)[0][0];
            Assert.Equal(aloneDecoded.Tokens, inBatch.Tokens);
            Assert.Equal(aloneDecoded.Score, inBatch.Score, 4);
        }
    }

    [Fact]
    public void CachedAndUncachedStepsGiveTheFullPassAndBeamOfOneIsGreedy()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = Create(seed: 11);
        var source = Batch(Frames(7, 21), Frames(8, 9));
        var target = cat([full(2, 1, (long)Vocabulary.BosId), TinyModels.RandomTokens(9, 2, 6)], 1);
        var fullPass = model.forward(source, target);
        foreach (bool cached in new[] { true, false })
        {
            using var state = model.StartDecoding(model.Encode(source), cached);
            for (int t = 0; t < target.shape[1]; t++)
                Assert.True(state.Step(target[.., t]).allclose(fullPass[.., t], rtol: 0, atol: 1e-4), $"{(cached ? "cached" : "uncached")} step {t} differs");
        }
        var greedy = Search.Greedy(model, source, [10, 10], Greedy);
        var beamOfOne = Search.Beam(model, source, [10, 10], Greedy);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(greedy[i][0].Tokens, beamOfOne[i][0].Tokens);
            Assert.Equal(greedy[i][0].LogProbability, beamOfOne[i][0].LogProbability, 4);
        }
    }

    [Fact]
    public void TheCtcLossOfABatchIsTheSumOfItsUtterancesAndAnImpossibleTargetAddsNothing()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = Create(seed: 13);
        float[] first = Frames(10, 17), second = Frames(11, 33);
        long[] firstTarget = [5, 6, 7], secondTarget = [8, 9, 9, 10];
        double Ctc(float[][] utterances, long[][] targets)
        {
            int width = targets.Max(t => t.Length);
            var padded = tensor(targets.SelectMany(t => t.Concat(Enumerable.Repeat(0L, width - t.Length))).ToArray(), [targets.Length, width]);
            var input = cat([full(targets.Length, 1, (long)Vocabulary.BosId), padded], 1);
            var (_, ctc) = model.ForwardWithCtc(Batch(utterances), input, padded, tensor(targets.Select(t => (long)t.Length).ToArray()));
            return ctc.item<float>();
        }
        double alone1 = Ctc([first], [firstTarget]), alone2 = Ctc([second], [secondTarget]);
        Assert.True(alone1 > 0 && double.IsFinite(alone1));
        Assert.Equal(alone1 + alone2, Ctc([first, second], [firstTarget, secondTarget]), 3);
        // 17 frames are 5 encoder positions: 6 distinct tokens cannot be emitted in them.
        Assert.Equal(alone2, Ctc([first, second], [[4, 5, 6, 7, 8, 9], secondTarget]), 3);
    }

    [Fact]
    public void TheCtcBestPathMergesRepeatsDropsBlanksAndStopsAtTheUtterancesEnd()
    {
        const long blank = Vocabulary.PadId, bos = Vocabulary.BosId, eos = Vocabulary.EosId;
        // Row 0: a a _ a b b _ (then a padded position that says c); row 1: <s> d </s> d d (then padding).
        long[] labels = [5, 5, blank, 5, 6, 6, blank, 7, bos, 8, eos, 8, 8, 9, 9, 9];
        float[] logProbs = [.. Enumerable.Range(0, labels.Length).Select(i => -0.5f * (i % 8 + 1) / 8)];
        var paths = CtcSearch.BestPaths(labels, logProbs, lengths: [7, 5], positions: 8);
        Assert.Equal(new[] { 5, 5, 6 }, paths[0][0].Tokens);
        Assert.Equal(new[] { 8, 8 }, paths[1][0].Tokens);
        Assert.Equal(logProbs.Take(7).Sum(), paths[0][0].LogProbability, 5);
        Assert.Equal(logProbs.Skip(8).Take(5).Sum(), paths[1][0].LogProbability, 5);
    }

    [Fact]
    public void CtcDecodingIsTheArgmaxOfTheHeadAndPaddingChangesNothing()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = Create(seed: 17);
        float[] utterance = Frames(20, 41), other = Frames(21, 90);
        var alone = CtcSearch.Greedy(model, Batch(utterance))[0][0];
        var inBatch = CtcSearch.Greedy(model, Batch(other, utterance))[1][0];
        Assert.Equal(alone.Tokens, inBatch.Tokens);
        Assert.Equal(alone.LogProbability, inBatch.LogProbability, 4);

        // The same path read off the head's log-probabilities by hand: 41 frames → 21 → 11 positions.
        var logProbs = model.CtcLogProbs(model.Encode(Batch(utterance)))!;
        Assert.Equal(11, logProbs.shape[1]);
        long[] argmax = logProbs[0].argmax(-1).data<long>().ToArray();
        var expected = argmax.Where((label, t) => (t == 0 || argmax[t - 1] != label) && label is not (Vocabulary.PadId or Vocabulary.BosId or Vocabulary.EosId)).Select(l => (int)l);
        Assert.Equal(expected, alone.Tokens);
        Assert.Equal(logProbs[0].max(-1).values.sum().item<float>(), alone.LogProbability, 4);
    }

    [Fact]
    public void AnEnsembleOfOneOrOfTwoCopiesDecodesCtcAsTheModelAndATextModelHasNoHead()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = Create(seed: 19);
        var batch = Batch(Frames(30, 37), Frames(31, 64));
        var single = CtcSearch.Greedy(model, batch);
        foreach (var ensemble in new[] { new EnsembleModel([model]), new EnsembleModel([model, model]) })
        {
            var decoded = CtcSearch.Greedy(ensemble, batch);
            for (int i = 0; i < 2; i++)
            {
                Assert.Equal(single[i][0].Tokens, decoded[i][0].Tokens);
                Assert.Equal(single[i][0].LogProbability, decoded[i][0].LogProbability, 4);
            }
        }
        manual_seed(1);
        var text = new Transformer(TinyModels.Config(), TinyModels.Vocab, TinyModels.Vocab);
        text.eval();
        Assert.Null(text.CtcLogProbs(text.Encode(TinyModels.RandomTokens(3, 2, 5))));
        var error = Assert.Throws<UserError>(() => CtcSearch.Greedy(text, TinyModels.RandomTokens(3, 2, 5)));
        Assert.Contains("CTC head", error.Message);
        Assert.Contains("nbest", Assert.Throws<UserError>(() => new DecodingOptions { Ctc = true, NBest = 2 }.Validate()).Message);
    }

    [Fact]
    public void TheStoredParameterBoundIsALowerBoundAndASharedSourceTableIsRefused()
    {
        var model = Create();
        long parameters = model.parameters().Sum(p => p.numel());
        Assert.True(Transformer.FitsStoredParameters(model.Config, 0, TinyModels.Vocab, parameters));
        Assert.False(Transformer.FitsStoredParameters(model.Config, 0, TinyModels.Vocab, parameters / 4));
        var error = Assert.Throws<UserError>(() => (model.Config with { TieEmbeddings = "all" }).Validate());
        Assert.Contains("tie-embeddings", error.Message);
        Assert.Contains("feature-bins", Assert.Throws<UserError>(() => (TinyModels.Config() with { FeatureBins = 80 }).Validate()).Message);
    }
}
