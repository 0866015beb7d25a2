using System.Text;
using System.Text.Json.Nodes;
using TranslationTrainer.Checkpoints;
using TranslationTrainer.Data;
using TranslationTrainer.Decoding;
using TranslationTrainer.Model;
using TranslationTrainer.Tests.Cli;
using TranslationTrainer.Tests.Training;
using TranslationTrainer.Text;
using TranslationTrainer.Training;
using static TorchSharp.torch;

namespace TranslationTrainer.Tests.Model;

/// <summary>The decoder-only prefix LM: its mask, its cached decoding, and everything a Transformer does, on it.</summary>
[Collection(TorchCollection.Name)]
public class DecoderOnlyTests
{
    private static readonly DecodingOptions Greedy = new() { Beam = 1, MaxLenA = 0, MaxLenB = 12 };
    private const string NoKernel = "the bf16 kernel is built only with a C compiler on x86-64 Linux and runs only with AVX512_BF16";

    /// <summary>TinyRun's training config for a decoder-only model: the same data, joint vocabulary and schedule.</summary>
    internal static TrainConfig RunConfig() => TinyRun.Config() with
    {
        Model = TinyRun.Config().Model with { Arch = DecoderOnlyTransformer.ArchitectureName, DecoderLayers = 2 },
    };

    /// <summary>A finished 12-update decoder-only run, shared by tests that only read it.</summary>
    private static readonly Lazy<string> trained = new(() =>
    {
        var runDir = TinyRun.NewRunDirectory();
        TinyRun.Train(RunConfig() with { ValidateEvery = 6, ValidBleu = true }, runDir);
        return runDir;
    });

    /// <summary>Padded sources of different real lengths (3 rows, the longest 9), each ending in &lt;/s&gt; as a batch's do.</summary>
    private static Tensor PaddedSources(int seed)
    {
        var tokens = TinyModels.RandomTokens(seed, 3, 9);
        int[] lengths = [9, 5, 7];
        var rows = Enumerable.Range(0, 3).Select(r => (int[])[.. tokens[r].data<long>().Take(lengths[r] - 1).Select(t => (int)t), Vocabulary.EosId]).ToArray();
        return Batching.Pad(rows, CPU);
    }

    private static Tensor TargetInput(int seed, long rows, long length) =>
        cat([full(rows, 1, (long)Vocabulary.BosId), TinyModels.RandomTokens(seed, rows, length - 1)], 1);

    [Fact]
    public void ATinyModelLearnsEightPairsAndTranslatesThemBack()
    {
        using var scope = NewDisposeScope();
        var model = TinyModels.CreateDecoderOnly(seed: 21);
        var (sources, targets) = TinyModels.Memorize(model, pairs: 8);

        model.eval();
        using var inference = inference_mode();
        var maxLengths = Enumerable.Repeat(10, 8).ToArray();
        var greedy = Search.Greedy(model, sources, maxLengths, new DecodingOptions { Beam = 1 });
        var beam = Search.Beam(model, sources, maxLengths, new DecodingOptions { Beam = 3 });
        var prepared = model.ForInference(InferenceBackend.Fp32);
        var fp32 = Search.Beam(prepared, sources, maxLengths, new DecodingOptions { Beam = 3 });
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(targets[i], greedy[i][0].Tokens);
            Assert.Equal(targets[i], beam[i][0].Tokens);
            Assert.Equal(targets[i], fp32[i][0].Tokens);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ChangingAFutureTargetTokenChangesNoEarlierOutput(bool preNorm)
    {
        using var scope = NewDisposeScope();
        var model = TinyModels.CreateDecoderOnly(preNorm: preNorm);
        var source = PaddedSources(1);
        var target = TinyModels.RandomTokens(2, 3, 8);
        var before = model.forward(source, target);
        Assert.Equal(new long[] { 3, 8, TinyModels.Vocab }, before.shape);
        for (int changed = 1; changed < 8; changed++)
        {
            var altered = target.clone();
            altered[.., changed] = (altered[.., changed] - 4 + 1) % (TinyModels.Vocab - 4) + 4;
            var after = model.forward(source, altered);
            Assert.True(before[.., ..changed].allclose(after[.., ..changed], rtol: 0, atol: 1e-6), $"position before {changed} changed");
            Assert.False(before[.., changed].allclose(after[.., changed], rtol: 0, atol: 1e-6), $"position {changed} did not change");
        }
    }

    /// <summary>
    /// The source part is bidirectional: a later source token changes the prefill's states of every earlier source
    /// position (a causal stack would leave them alone), and every target position's logits.
    /// </summary>
    [Fact]
    public void TheSourceAttendsBothWays()
    {
        using var scope = NewDisposeScope();
        var model = TinyModels.CreateDecoderOnly();
        var source = TinyModels.RandomTokens(3, 2, 6);
        var target = TinyModels.RandomTokens(4, 2, 5);
        var altered = source.clone();
        altered[.., 5] = (altered[.., 5] - 4 + 1) % (TinyModels.Vocab - 4) + 4;

        var (states, alteredStates) = (model.Encode(source).Memory, model.Encode(altered).Memory);
        for (int position = 0; position < 5; position++)
            Assert.False(states[.., position].allclose(alteredStates[.., position], rtol: 0, atol: 1e-6), $"source position {position} did not see the last one");
        var (logits, alteredLogits) = (model.forward(source, target), model.forward(altered, target));
        for (int position = 0; position < 5; position++)
            Assert.False(logits[.., position].allclose(alteredLogits[.., position], rtol: 0, atol: 1e-6), $"target position {position} did not see the source");
    }

    [Fact]
    public void ASentenceAloneEqualsItInAPaddedBatch()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.CreateDecoderOnly(seed: 5);
        var source = TinyModels.RandomTokens(3, 1, 5);
        var target = TinyModels.RandomTokens(4, 1, 4);
        var alone = model.forward(source, target);

        // The same pair padded to fit a batch with a longer pair.
        var paddedSource = cat([source, zeros(1, 6, dtype: int64)], 1);
        var paddedTarget = cat([target, zeros(1, 3, dtype: int64)], 1);
        var batchSource = cat([paddedSource, TinyModels.RandomTokens(5, 1, 11)], 0);
        var batch = model.forward(batchSource, cat([paddedTarget, TinyModels.RandomTokens(6, 1, 7)], 0));
        Assert.True(alone[0].allclose(batch[0, ..4], rtol: 0, atol: 1e-5));

        foreach (var options in new[] { Greedy, Greedy with { Beam = 3 } })
        {
            var aloneHypothesis = Search.Decode(model, source, [12], options)[0][0];
            var inBatch = Search.Decode(model, batchSource, [12, 12], options)[0][0];
            Assert.Equal(aloneHypothesis.Tokens, inBatch.Tokens);
            Assert.Equal(aloneHypothesis.LogProbability, inBatch.LogProbability, 4);
        }
    }

    /// <summary>
    /// Cached and recomputing steps give the full pass's logits: one row per sentence, then several beams per
    /// sentence (hypothesis row r reads source r / beams), through a reorder that drops a sentence from both the
    /// hypothesis rows and the source cache, past the cache's first buffer of 16 positions.
    /// </summary>
    [Theory]
    [InlineData(true, 1)]
    [InlineData(true, 2)]
    [InlineData(false, 2)]
    public void StepsGiveTheSameLogitsAsTheFullPass(bool cached, int beams)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.CreateDecoderOnly(seed: 9);
        var source = PaddedSources(11);
        var target = TargetInput(12, 3, 20);
        var full = model.forward(source, target);
        var rows = target.repeat_interleave(beams, 0);
        var expected = full.repeat_interleave(beams, 0);
        using var state = model.StartDecoding(model.Encode(source), cached);
        for (int t = 0; t < target.shape[1]; t++)
        {
            if (t == 6)
            {
                // Sentence 1 leaves: its rows and its source go, sentence 2 takes its place.
                long[] kept = [.. new long[] { 0, 2 }.SelectMany(s => Enumerable.Range(0, beams).Select(b => s * beams + b))];
                state.Reorder(kept, [0, 2]);
                var index = tensor(kept);
                (rows, expected) = (rows.index_select(0, index), expected.index_select(0, index));
            }
            var step = state.Step(rows[.., t]);
            Assert.True(step.allclose(expected[.., t], rtol: 0, atol: 1e-4), $"step {t} differs by {(step - expected[.., t]).abs().max().item<float>()}");
        }
    }

    [Fact]
    public void BeamOfOneEqualsGreedy()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.CreateDecoderOnly();
        var source = Batching.Pad([.. Enumerable.Range(0, 6).Select(i => (int[])[.. TinyModels.RandomTokens(14 + i, 3 + i).data<long>().Select(t => (int)t), Vocabulary.EosId])], CPU);
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
    public void NBestListsAreSortedAndDistinct()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.CreateDecoderOnly(seed: 5);
        var results = Search.Beam(model, PaddedSources(16), [10, 10, 10], Greedy with { Beam = 4, NBest = 4 });
        foreach (var nbest in results)
        {
            Assert.Equal(4, nbest.Count);
            Assert.Equal(nbest.OrderByDescending(h => h.Score).Select(h => h.Score), nbest.Select(h => h.Score));
            Assert.Equal(4, nbest.Select(h => string.Join(' ', h.Tokens)).Distinct().Count());
        }
    }

    /// <summary>The alignment weights: target over source, per head, a distribution over the real source positions only.</summary>
    [Fact]
    public void CrossAttentionIsTheLastLayersAttentionToTheSourceRenormalised()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.CreateDecoderOnly();
        var source = PaddedSources(17);
        var target = TargetInput(18, 3, 6);
        var weights = model.CrossAttention(model.Encode(source), target)!;
        Assert.Equal(new long[] { 3, 4, 6, 9 }, weights.shape);
        Assert.True(weights.sum(-1).allclose(ones(3, 4, 6), rtol: 0, atol: 1e-5));
        Assert.Equal(0f, weights[1, .., .., TensorIndex.Slice(5, null)].abs().max().item<float>()); // row 1's padding
        var aligned = Alignment.Compute(model, source, [8, 4, 6], [[5, 6, 7, 8, 9], [5, 6], [4, 4, 4]]);
        Assert.Equal([5, 2, 3], aligned.Select(a => a.Length));
        Assert.All(aligned[1], a => Assert.InRange(a.Source, 0, 3));
    }

    /// <summary>fp32 and bf16 decoding backends: the cached step matches the full pass of the model prepared for them.</summary>
    [SkippableTheory]
    [InlineData("fp32", 2)]
    [InlineData("bf16-libtorch", 2)]
    [InlineData("bf16-mkl", 2)]
    [InlineData("bf16-libtorch", 1)] // one thread: bf16-packed where the kernel runs
    public void PreparedModelsStepLikeTheirFullPass(string backendName, int threads)
    {
        var backend = new[] { InferenceBackend.Fp32, InferenceBackend.BFloat16Libtorch, InferenceBackend.BFloat16Mkl }.Single(b => b.Name == backendName);
        Skip.If(backend == InferenceBackend.BFloat16Mkl && !MklBFloat16.Available, "MKL's bf16 gemm is only in x86-64 Linux builds of libtorch");
        Skip.If(threads == 1 && !PackedBFloat16.Available, NoKernel);
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.CreateDecoderOnly(seed: 9, heads: 2);
        var source = PaddedSources(1);
        var target = TargetInput(2, 3, 20);
        var exact = model.forward(source, target);
        var decoder = Assert.IsType<DecoderOnlyInference>(model.ForInference(backend).ForWorker(threads));
        Assert.Equal(threads == 1 && backend.Precision.IsBFloat16 ? "bf16-packed" : backend.Name, decoder.Backend);
        int before = get_num_threads();
        try
        {
            set_num_threads(threads);
            var full = decoder.Decode(source, target);
            double scale = exact.abs().max().item<float>();
            double tolerance = backend.Precision.IsBFloat16 ? 0.03 * scale : 1e-4;
            Assert.True((full - exact).abs().max().item<float>() < tolerance, "the prepared model's full pass is far from the trained model's");
            using var state = decoder.StartDecoding(decoder.Encode(source), cached: true);
            for (int t = 0; t < target.shape[1]; t++)
            {
                var step = state.Step(target[.., t]);
                Assert.True(step.allclose(full[.., t], rtol: 0, atol: backend.Precision.IsBFloat16 ? 0.01 * scale : 1e-4), $"step {t} differs");
            }
        }
        finally
        {
            set_num_threads(before);
        }
        if (decoder.Path is PackedPath packed) Assert.True(packed.Packed.KernelMultiplies > 0, "no linear ran through the packed kernel");
        Assert.Throws<InvalidOperationException>(() => model.Module);
        Assert.Throws<InvalidOperationException>(() => model.train());
    }

    [Fact]
    public void TheStoredParameterBoundHoldsForARealModelAndRefusesAHeaderClaimingMore()
    {
        var config = TinyModels.Config() with { Arch = DecoderOnlyTransformer.ArchitectureName };
        using var model = new DecoderOnlyTransformer(config, TinyModels.Vocab, TinyModels.Vocab);
        long stored = model.parameters().Sum(p => p.numel());
        var architecture = ModelArchitecture.Find("decoder-only")!;
        Assert.True(architecture.FitsStoredParameters(config, TinyModels.Vocab, TinyModels.Vocab, stored));
        Assert.False(architecture.FitsStoredParameters(config with { DecoderLayers = 6 }, TinyModels.Vocab, TinyModels.Vocab, stored));
        Assert.False(architecture.FitsStoredParameters(config with { MaxPositions = 1 << 26 }, TinyModels.Vocab, TinyModels.Vocab, stored));
        // Only decoder-layers make layers: encoder-layers is not used.
        Assert.Equal(model.parameters().Sum(p => p.numel()),
            new DecoderOnlyTransformer(config with { EncoderLayers = 6 }, TinyModels.Vocab, TinyModels.Vocab).parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void SeparateVocabulariesAndUntiedEmbeddingsAreOneLineErrorsNamingTheOption()
    {
        var config = TinyModels.Config() with { Arch = DecoderOnlyTransformer.ArchitectureName };
        var separate = Assert.Throws<UserError>(() => new DecoderOnlyTransformer(config, 24, 30));
        Assert.Equal("--arch decoder-only shares one embedding matrix (--tie-embeddings all) between source and target and needs a joint --vocab; "
            + "the source vocabulary has 24 pieces and the target 30", separate.CommandLineMessage);
        var untied = Assert.Throws<UserError>(() => new DecoderOnlyTransformer(config with { TieEmbeddings = "decoder" }, 24, 24));
        Assert.Equal("--arch decoder-only has one embedding matrix for the source, the target and the output: --tie-embeddings must be all, got 'decoder'", untied.CommandLineMessage);
    }

    /// <summary>`train --arch decoder-only` with a separate vocabulary stops with one line naming the option, before training.</summary>
    [Fact]
    public void TrainingWithASeparateVocabularyIsOneLineNamingTheVocabulary()
    {
        var dir = Directory.CreateTempSubdirectory("tt-decoder-only").FullName;
        var vocab = Path.Combine(dir, "separate-vocab");
        VocabularyBuilder.Build(new VocabularyRequest([Path.Combine(TinyRun.Directory, "train.es")], [Path.Combine(TinyRun.Directory, "train.en")], vocab,
            new VocabularyOptions(VocabSize: 450)));
        var runDir = Path.Combine(dir, "run");
        var result = CliRunner.Run(ReliabilityTests.Train(runDir, "--arch", "decoder-only", "--vocab", vocab));
        Assert.Equal(1, result.ExitCode);
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got: {result.Error}");
        Assert.StartsWith("error: --arch decoder-only reads source and target as one sequence and needs a joint --vocab;", lines[0]);
        Assert.False(File.Exists(Path.Combine(runDir, RunDirectory.LastCheckpoint)));

        // Refused with the config, before the run directory is made.
        var untiedRun = Path.Combine(dir, "run2");
        var untied = CliRunner.Run(ReliabilityTests.Train(untiedRun, "--arch", "decoder-only", "--tie-embeddings", "none"));
        Assert.Equal(1, untied.ExitCode);
        Assert.Equal("error: --arch decoder-only has one embedding matrix for the source, the target and the output: --tie-embeddings must be all, got 'none'",
            untied.Error.Trim());
        Assert.False(Directory.Exists(untiedRun));
    }

    [Fact]
    public void ResumingReproducesTheUninterruptedRunBitForBit()
    {
        var config = RunConfig() with { LogEvery = 4 };
        string straight = TinyRun.NewRunDirectory(), split = TinyRun.NewRunDirectory();
        TinyRun.Train(config, straight);
        TinyRun.Train(config with { MaxUpdates = 6 }, split);
        var resumed = TinyRun.Train(config, split);

        Assert.Equal(12, resumed.Updates);
        Assert.Equal(DecoderOnlyTransformer.ArchitectureName, Checkpoint.ReadHeader(Path.Combine(split, RunDirectory.LastCheckpoint)).Architecture);
        var expected = TinyRun.Parameters(Path.Combine(straight, RunDirectory.LastCheckpoint));
        var actual = TinyRun.Parameters(Path.Combine(split, RunDirectory.LastCheckpoint));
        Assert.Equal(expected.Keys, actual.Keys);
        Assert.Contains("layers.1.selfAttention.inputProjection.weight", expected.Keys);
        foreach (var (name, value) in expected)
            Assert.True(value.eq(actual[name]).all().item<bool>(), $"{name} differs after resume");
    }

    [Fact]
    public void ADecoderOnlyCheckpointRefusesToLoadAsATransformer()
    {
        var checkpoint = Path.Combine(trained.Value, RunDirectory.LastCheckpoint);
        var header = Checkpoint.ReadHeader(checkpoint);
        using var transformer = new Transformer(header.Model with { Arch = Transformer.ArchitectureName }, header.SourceVocabSize, header.TargetVocabSize);
        var error = Assert.Throws<UserError>(() => Checkpoint.LoadInto(checkpoint, transformer, optimizer: null));
        Assert.Equal($"{checkpoint}: a checkpoint of a decoder-only model, not of a transformer", error.Message);

        // A header rewritten to claim a Transformer: the parameters do not fit one.
        var crafted = WithHeader(checkpoint, h => { h["architecture"] = "transformer"; h["model"]!["arch"] = "transformer"; });
        var craftedError = Assert.Throws<UserError>(() => Checkpoint.LoadModel(crafted, CPU));
        Assert.DoesNotContain('\n', craftedError.Message);
        Assert.StartsWith($"{crafted}: the ", craftedError.Message);
    }

    [Fact]
    public void AveragingTwoDecoderOnlyCheckpointsGivesTheirMeanAndTranslates()
    {
        var dir = Directory.CreateTempSubdirectory("tt-decoder-only-average").FullName;
        var config = TinyModels.Config() with { Arch = DecoderOnlyTransformer.ArchitectureName };
        string Save(string name, int seed, long update)
        {
            var path = Path.Combine(dir, name);
            using var model = TinyModels.CreateDecoderOnly(seed);
            var header = new CheckpointHeader
            {
                Model = config, SourceVocabSize = TinyModels.Vocab, TargetVocabSize = TinyModels.Vocab, VocabFingerprint = "vocab-1",
                Progress = new TrainingProgress { Update = update },
            };
            Checkpoint.Save(path, header, model, optim.Adam(model.parameters(), 1e-3));
            return path;
        }
        string first = Save("checkpoint_10.pt", 1, 10), second = Save("checkpoint_20.pt", 2, 20);
        var output = Path.Combine(dir, "averaged.pt");

        var written = CheckpointAveraging.Average([first, second], output);

        Assert.Equal(DecoderOnlyTransformer.ArchitectureName, written.Architecture);
        var (p1, p2, average) = (TinyRun.Parameters(first), TinyRun.Parameters(second), TinyRun.Parameters(output));
        Assert.Equal(p1.Keys, average.Keys);
        foreach (var (name, value) in average)
            Assert.True(value.allclose((p1[name] + p2[name]) / 2, rtol: 1e-6, atol: 1e-7), $"{name} is not the mean");
        var (_, loaded) = Checkpoint.LoadModel(output, CPU);
        using (loaded)
        {
            Assert.IsType<DecoderOnlyTransformer>(loaded);
            using var inference = inference_mode();
            Assert.Equal(3, Search.Decode(loaded, PaddedSources(4), [5, 5, 5], Greedy with { Beam = 2 }).Length);
        }
    }

    [Fact]
    public void TranslateWritesAlignmentsAndHeatMaps()
    {
        var dir = Directory.CreateTempSubdirectory("tt-decoder-only-translate").FullName;
        var maps = Path.Combine(dir, "maps");
        var result = CliRunner.RunWithInput("Y dijo Dios\nSea la luz\n", "translate", "--checkpoint", trained.Value, "--output-format", "json",
            "--alignment", "--nbest", "2", "--beam", "2", "--threads", "1", "--attention-png", maps);
        Assert.True(result.ExitCode == 0, result.Error);
        var lines = result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(2, lines.Length);
        foreach (var line in lines)
        {
            var alignment = line["alignment"]!.AsArray();
            Assert.Equal(Enumerable.Range(0, alignment.Count), alignment.Select(pair => pair![0]!.GetValue<int>()));
            Assert.All(alignment, pair => Assert.InRange(pair![1]!.GetValue<int>(), 0, 10));
            Assert.Equal(2, line["nbest"]!.AsArray().Count);
        }
        Assert.Equal(["0001.png", "0002.png"], Directory.GetFiles(maps).Select(Path.GetFileName).Order());
    }

    /// <summary>A copy of a checkpoint with its JSON header changed by `edit`; the parameters are the same bytes.</summary>
    private static string WithHeader(string checkpoint, Action<JsonObject> edit)
    {
        var bytes = File.ReadAllBytes(checkpoint);
        int length = BitConverter.ToInt32(bytes, 8);
        var header = JsonNode.Parse(bytes.AsSpan(12, length))!.AsObject();
        edit(header);
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var path = Path.Combine(Directory.CreateTempSubdirectory("tt-header").FullName, "checkpoint.pt");
        File.WriteAllBytes(path, [.. bytes[..8], .. BitConverter.GetBytes(json.Length), .. json, .. bytes[(12 + length)..]]);
        return path;
    }
}
