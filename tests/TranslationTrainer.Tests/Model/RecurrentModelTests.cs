using System.Text.Json;
using TranslationTrainer.Decoding;
using TranslationTrainer.Model;
using TranslationTrainer.Text;
using static TorchSharp.torch;

namespace TranslationTrainer.Tests.Model;

/// <summary>rnn-attention and rnn-bottleneck: what every architecture must do, and what the recurrent ones add.</summary>
[Collection(TorchCollection.Name)]
public class RecurrentModelTests
{
    private static readonly DecodingOptions Greedy = new() { Beam = 1, MaxLenA = 0, MaxLenB = 12 };

    public static TheoryData<string, string> ArchitecturesAndCells => new()
    {
        { RecurrentModel.AttentionName, "lstm" },
        { RecurrentModel.AttentionName, "gru" },
        { RecurrentModel.BottleneckName, "lstm" },
        { RecurrentModel.BottleneckName, "gru" },
    };

    public static TheoryData<string, string> EveryCell => new()
    {
        { RecurrentModel.AttentionName, "lstm" },
        { RecurrentModel.AttentionName, "gru" },
        { RecurrentModel.AttentionName, "rnn" },
        { RecurrentModel.BottleneckName, "lstm" },
        { RecurrentModel.BottleneckName, "gru" },
        { RecurrentModel.BottleneckName, "rnn" },
    };

    [Theory]
    [MemberData(nameof(ArchitecturesAndCells))]
    public void ATinyModelLearnsEightPairsAndTranslatesThemBack(string arch, string cell)
    {
        using var scope = NewDisposeScope();
        var model = TinyModels.CreateRecurrent(arch, cell, seed: 21);
        var (sources, targets) = TinyModels.Memorize(model, pairs: 8, learningRate: 1e-2);

        model.eval();
        using var inference = inference_mode();
        var outputs = Search.Greedy(model, sources, Enumerable.Repeat(10, 8).ToArray(), new DecodingOptions { Beam = 1 });
        for (int i = 0; i < 8; i++)
            Assert.Equal(targets[i], outputs[i][0].Tokens);
    }

    [Theory]
    [MemberData(nameof(EveryCell))]
    public void CachedAndUncachedStepsGiveTheSameLogitsAsTheFullPass(string arch, string cell)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.CreateRecurrent(arch, cell, encoderLayers: 3, decoderLayers: 2); // depths differ: the top layers pair up
        var source = cat([TinyModels.RandomTokens(11, 3, 7), cat([TinyModels.RandomTokens(12, 1, 4), zeros(1, 3, dtype: int64)], 1)], 0);
        var target = cat([full(4, 1, (long)Vocabulary.BosId), TinyModels.RandomTokens(13, 4, 9)], 1);
        var full_ = model.forward(source, target);
        foreach (bool cached in new[] { true, false })
        {
            using var state = model.StartDecoding(model.Encode(source), cached);
            for (int t = 0; t < target.shape[1]; t++)
            {
                var step = state.Step(target[.., t]);
                Assert.True(step.allclose(full_[.., t], rtol: 0, atol: 1e-4), $"{(cached ? "cached" : "uncached")} step {t} differs");
            }
        }
    }

    [Theory]
    [MemberData(nameof(ArchitecturesAndCells))]
    public void BeamOfOneEqualsGreedyAndUncachedDecodingGivesTheSameResults(string arch, string cell)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.CreateRecurrent(arch, cell, seed: 4);
        var source = cat([TinyModels.RandomTokens(20, 3, 7), cat([TinyModels.RandomTokens(21, 2, 4), zeros(2, 3, dtype: int64)], 1)], 0);
        int[] maxLengths = [12, 3, 12, 8, 12];
        var greedy = Search.Greedy(model, source, maxLengths, Greedy);
        var beamOfOne = Search.Beam(model, source, maxLengths, Greedy);
        for (int i = 0; i < maxLengths.Length; i++)
        {
            Assert.Equal(greedy[i][0].Tokens, beamOfOne[i][0].Tokens);
            Assert.Equal(greedy[i][0].LogProbability, beamOfOne[i][0].LogProbability, 4);
        }
        foreach (int beam in new[] { 1, 4 })
        {
            var options = Greedy with { Beam = beam, NBest = beam };
            var cached = Search.Decode(model, source, maxLengths, options);
            var uncached = Search.Decode(model, source, maxLengths, options with { Uncached = true });
            for (int i = 0; i < maxLengths.Length; i++)
            {
                Assert.Equal(cached[i].Select(h => h.Tokens), uncached[i].Select(h => h.Tokens));
                Assert.Equal(cached[i][0].Score, uncached[i][0].Score, 3);
            }
        }
    }

    [Theory]
    [MemberData(nameof(ArchitecturesAndCells))]
    public void PaddingChangesNothingInTheEncoderOrTheDecoder(string arch, string cell)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.CreateRecurrent(arch, cell, seed: 9);
        var source = TinyModels.RandomTokens(3, 1, 5);
        var target = TinyModels.RandomTokens(4, 1, 4);
        var alone = model.forward(source, target);
        var paddedSource = cat([source, zeros(1, 6, dtype: int64)], 1);
        var paddedTarget = cat([target, zeros(1, 3, dtype: int64)], 1);
        var batch = model.forward(cat([paddedSource, TinyModels.RandomTokens(5, 1, 11)], 0), cat([paddedTarget, TinyModels.RandomTokens(6, 1, 7)], 0));
        Assert.True(alone[0].allclose(batch[0, ..4], rtol: 0, atol: 1e-5));

        foreach (int beam in new[] { 1, 4 })
        {
            var options = Greedy with { Beam = beam };
            var aloneDecoded = Search.Decode(model, source, [12], options)[0][0];
            var inBatch = Search.Decode(model, cat([paddedSource, TinyModels.RandomTokens(18, 2, 11)], 0), [12, 12, 12], options)[0][0];
            Assert.Equal(aloneDecoded.Tokens, inBatch.Tokens);
            Assert.Equal(aloneDecoded.Score, inBatch.Score, 4);
        }
    }

    [Fact]
    public void AttentionWeightsAreOneMapPerTargetPositionOverTheRealSourcePositions()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.CreateRecurrent(RecurrentModel.AttentionName);
        var source = cat([TinyModels.RandomTokens(1, 1, 8), cat([TinyModels.RandomTokens(2, 1, 5), zeros(1, 3, dtype: int64)], 1)], 0);
        var target = cat([full(2, 1, (long)Vocabulary.BosId), TinyModels.RandomTokens(3, 2, 5)], 1);
        var weights = model.CrossAttention(model.Encode(source), target)!;
        Assert.Equal(new long[] { 2, 1, 6, 8 }, weights.shape);
        Assert.True(weights.sum(-1).allclose(ones(2, 1, 6), rtol: 0, atol: 1e-5));
        Assert.Equal(0f, weights[1, .., .., 5..].abs().max().item<float>());

        var bottleneck = TinyModels.CreateRecurrent(RecurrentModel.BottleneckName);
        Assert.Null(bottleneck.CrossAttention(bottleneck.Encode(source), target));
    }

    [Fact]
    public void ABottleneckModelHasNoCrossAttentionToAlignWith()
    {
        using var scope = NewDisposeScope();
        var model = TinyModels.CreateRecurrent(RecurrentModel.BottleneckName);
        var error = Assert.Throws<UserError>(() => Alignment.Compute(model, TinyModels.RandomTokens(1, 1, 4), [3], [[5, 6]]));
        Assert.Equal("a rnn-bottleneck model has no cross-attention to align with or draw", error.Message);
    }

    /// <summary>
    /// Every backend's fused cells and prepared weights decode as the training model does (bf16 within its precision), for
    /// a batch that bf16 encodes in float32 and one it encodes in bfloat16.
    /// </summary>
    [Theory]
    [MemberData(nameof(EveryCell))]
    public void EveryInferenceBackendGivesTheTrainingModelsLogits(string arch, string cell)
    {
        foreach (int sentences in new[] { 4, RecurrentModel.BFloat16EncoderBatch })
            InferenceBackendsGiveTheTrainingModelsLogits(arch, cell, sentences);
    }

    private static void InferenceBackendsGiveTheTrainingModelsLogits(string arch, string cell, int sentences)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var source = cat([TinyModels.RandomTokens(11, sentences - 1, 7), cat([TinyModels.RandomTokens(12, 1, 4), zeros(1, 3, dtype: int64)], 1)], 0);
        var target = cat([full(sentences, 1, (long)Vocabulary.BosId), TinyModels.RandomTokens(13, sentences, 6)], 1);
        var expected = TinyModels.CreateRecurrent(arch, cell).forward(source, target);
        var backends = new List<InferenceBackend> { InferenceBackend.Fp32 };
        if (Precision.BFloat16Supported(CPU)) backends.Add(InferenceBackend.BFloat16Libtorch);
        if (Precision.BFloat16Supported(CPU) && MklBFloat16.Available) backends.Add(InferenceBackend.BFloat16Mkl);
        foreach (var backend in backends)
        {
            using var prepared = TinyModels.CreateRecurrent(arch, cell).ForInference(backend);
            var decoders = new List<IDecodingModel> { prepared.ForWorker(2) };
            if (prepared.ForWorker(1) != prepared.ForWorker(2)) decoders.Add(prepared.ForWorker(1)); // bf16-packed
            foreach (var decoder in decoders)
            {
                double tolerance = decoder.Backend == "fp32" ? 1e-4 : 0.1;
                var teacherForced = ((RecurrentInference)decoder).Decode(target, decoder.Encode(source));
                Assert.True(teacherForced.allclose(expected, rtol: 0, atol: tolerance), $"{decoder.Backend}: teacher-forced logits differ by {(teacherForced - expected).abs().max().item<float>()}");
                using var state = decoder.StartDecoding(decoder.Encode(source), cached: true);
                for (int t = 0; t < target.shape[1]; t++)
                {
                    var step = state.Step(target[.., t]);
                    Assert.True(step.allclose(expected[.., t], rtol: 0, atol: tolerance), $"{decoder.Backend}: step {t} differs by {(step - expected[.., t]).abs().max().item<float>()}");
                }
            }
        }
    }

    [Theory]
    [InlineData(RecurrentModel.AttentionName)]
    [InlineData(RecurrentModel.BottleneckName)]
    public void DropoutActsInTrainingOnlyAndAModelPreparedForInferenceCannotTrain(string arch)
    {
        using var scope = NewDisposeScope();
        var model = TinyModels.CreateRecurrent(arch, dropout: 0.3);
        var source = TinyModels.RandomTokens(1, 2, 6);
        var target = TinyModels.RandomTokens(2, 2, 5);
        Assert.True(model.forward(source, target).eq(model.forward(source, target)).all().item<bool>());
        model.train();
        Assert.False(model.forward(source, target).allclose(model.forward(source, target)));
        using var prepared = model.ForInference(InferenceBackend.Fp32);
        Assert.Throws<InvalidOperationException>(() => model.Module);
        Assert.Throws<InvalidOperationException>(() => model.train());
    }

    [Theory]
    [InlineData(RecurrentModel.AttentionName, "lstm", "all", 40)]
    [InlineData(RecurrentModel.AttentionName, "gru", "decoder", 32)]
    [InlineData(RecurrentModel.AttentionName, "rnn", "none", 48)]
    [InlineData(RecurrentModel.BottleneckName, "lstm", "none", 40)]
    [InlineData(RecurrentModel.BottleneckName, "gru", "all", 32)]
    public void TheStoredParameterBoundIsALowerBoundOfTheParameters(string arch, string cell, string tie, int hidden)
    {
        var config = TinyModels.RecurrentConfig(arch, cell, tie: tie, hidden: hidden, encoderLayers: 3);
        using var model = new RecurrentModel(config, TinyModels.Vocab, TinyModels.Vocab);
        long count = model.parameters().Sum(p => p.numel());
        Assert.True(RecurrentModel.FitsStoredParameters(config, TinyModels.Vocab, TinyModels.Vocab, count));
        // The bound leaves out only biases, the second and third vocabulary matrices and the output projection.
        long leftOut = model.named_parameters()
            .Where(p => p.name.Contains("bias") || p.name.StartsWith("targetEmbedding") || p.name.StartsWith("outputLayer") || p.name.StartsWith("outputProjection"))
            .Sum(p => p.parameter.numel());
        Assert.False(RecurrentModel.FitsStoredParameters(config, TinyModels.Vocab, TinyModels.Vocab, count - leftOut - 1));
    }

    [Fact]
    public void AnOddHiddenSizeIsAUserErrorNamingTheOption()
    {
        var error = Assert.Throws<UserError>(() => new RecurrentModel(TinyModels.RecurrentConfig(RecurrentModel.AttentionName, hidden: 41), 10, 10));
        Assert.Equal("--rnn-hidden-size (41) must be even: each direction of the bidirectional encoder gets half", error.CommandLineMessage);
    }

    /// <summary>The comparison's configs (configs/arch-rnn-*.json) with the joint 8k vocabulary: near the Transformer's 7,578,624.</summary>
    [Theory]
    [InlineData("arch-rnn-attention.json", 7_692_288)]
    [InlineData("arch-rnn-bottleneck.json", 7_519_232)]
    public void TheComparisonsConfigsHaveTheParametersTheyClaim(string file, long expected)
    {
        var path = Path.Combine(Text.Corpus.Directory, "..", "..", "configs", file);
        var model = TranslationTrainer.Training.ConfigLoader.ReadObject(path)["model"]!.Deserialize<ModelConfig>(TranslationTrainer.Training.ConfigLoader.Json)!;
        using var recurrent = new RecurrentModel(model, 8000, 8000);
        Assert.Equal(expected, recurrent.parameters().Sum(p => p.numel()));
    }
}
