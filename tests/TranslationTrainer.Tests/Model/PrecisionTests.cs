using TranslationTrainer.Data;
using TranslationTrainer.Decoding;
using TranslationTrainer.Model;
using TranslationTrainer.Tests.Training;
using TranslationTrainer.Training;
using static TorchSharp.torch;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Tests.Model;

/// <summary>
/// bf16 mixed precision: the same model within bfloat16's accuracy. Model-level tests set the policy directly, so
/// they run on any CPU (libtorch emulates bf16 where the hardware lacks it); `train --precision bf16` is refused there.
/// </summary>
[Collection(TorchCollection.Name)]
public class PrecisionTests
{
    private const string NoMkl = "MKL's bf16 gemm is only in x86-64 Linux builds of libtorch";
    private const string NoKernel = "the bf16 kernel is built only with a C compiler on x86-64 Linux and runs only with AVX512_BF16";

    [Fact]
    public void Bf16LogitsMatchFp32WithinBfloat16Accuracy()
    {
        using var scope = NewDisposeScope();
        var model = TinyModels.Create(seed: 4);
        var source = TinyModels.RandomTokens(1, 3, 9);
        var target = TinyModels.RandomTokens(2, 3, 7);
        var exact = model.forward(source, target);
        model.Precision = Precision.BFloat16;
        var mixed = model.forward(source, target);

        Assert.Equal(ScalarType.Float32, mixed.dtype);
        double scale = exact.abs().max().item<float>();
        double worst = (mixed - exact).abs().max().item<float>();
        // bfloat16 keeps 8 significant bits (relative error 2^-9 per rounding); a few roundings deep stays within 3%.
        Assert.True(worst < 0.03 * scale, $"largest difference {worst} for logits up to {scale}");
        Assert.True(worst > 0, "bf16 changed nothing: the policy is not applied");
    }

    [Fact]
    public void Bf16TrainingKeepsFloat32WeightsAndGradientsAndLearns()
    {
        using var scope = NewDisposeScope();
        var model = TinyModels.Create(seed: 21);
        model.Precision = Precision.BFloat16;
        var (sources, targets) = TinyModels.Memorize(model, pairs: 8);

        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.grad!.dtype));
        model.eval();
        using var inference = inference_mode();
        var outputs = Search.Greedy(model, sources, Enumerable.Repeat(10, 8).ToArray(), new DecodingOptions { Beam = 1 });
        for (int i = 0; i < 8; i++) Assert.Equal(targets[i], outputs[i][0].Tokens);
    }

    /// <summary>
    /// Decoding in bf16 through libtorch's linear (oneDNN) and through MKL's bf16 gemm (what InferenceBackend.Choose picks
    /// on a CPU where MKL is fast; tests run without the shim that makes it fast on AMD, so it is chosen here by hand).
    /// </summary>
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void AModelCastToBf16ForDecodingTranslatesLikeFp32(bool mkl)
    {
        Skip.If(mkl && !MklBFloat16.Available, NoMkl);
        using var scope = NewDisposeScope();
        var model = TinyModels.Create(seed: 21);
        var (sources, _) = TinyModels.Memorize(model, pairs: 16);
        model.eval();
        using var inference = inference_mode();
        var maxLengths = Enumerable.Repeat(10, 16).ToArray();
        var fp32 = Search.Greedy(model, sources, maxLengths, new DecodingOptions { Beam = 1 }).Select(h => h[0].Tokens).ToArray();
        var backend = mkl ? InferenceBackend.BFloat16Mkl : InferenceBackend.BFloat16Libtorch;
        var decoding = model.ForInference(backend);
        Assert.Equal(backend.Name, decoding.Backend);
        // Only the matrices are bfloat16: LayerNorm, biases and embeddings stay float32, like the residual stream.
        var linearWeights = model.modules().OfType<TorchSharp.Modules.Linear>().Select(l => l.weight.Handle).ToHashSet();
        Assert.All(model.parameters(), p => Assert.Equal(linearWeights.Contains(p.Handle) ? ScalarType.BFloat16 : ScalarType.Float32, p.dtype));
        var bf16 = Search.Greedy(decoding, sources, maxLengths, new DecodingOptions { Beam = 1 }).Select(h => h[0].Tokens).ToArray();
        int same = Enumerable.Range(0, 16).Count(i => fp32[i].SequenceEqual(bf16[i]));
        Assert.True(same >= 14, $"only {same} of 16 greedy outputs agree");
    }

    /// <summary>The cached bf16 step (bfloat16 cache, MKL or oneDNN linears) gives the full pass's logits.</summary>
    [SkippableTheory]
    [InlineData(false, "all")]
    [InlineData(true, "all")]
    [InlineData(true, "none")]
    public void Bf16CachedStepsMatchTheBf16FullPassAndFp32(bool mkl, string tie)
    {
        Skip.If(mkl && !MklBFloat16.Available, NoMkl);
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.Create(seed: 9, tie: tie);
        var source = TinyModels.RandomTokens(1, 3, 9);
        var target = TinyModels.RandomTokens(2, 3, 20);
        var exact = model.forward(source, target);
        var decoder = Assert.IsType<TransformerInference>(model.ForInference(mkl ? InferenceBackend.BFloat16Mkl : InferenceBackend.BFloat16Libtorch).ForWorker(threads: 2));
        var encoded = decoder.Encode(source);
        var full = decoder.Decode(target, encoded);
        Assert.Equal(ScalarType.Float32, full.dtype);
        double scale = exact.abs().max().item<float>();
        Assert.True((full - exact).abs().max().item<float>() < 0.03 * scale, "bf16 full pass far from fp32");
        using var cache = decoder.StartCache(encoded);
        for (int t = 0; t < target.shape[1]; t++)
        {
            var step = decoder.DecodeStep(target[.., t], cache);
            // The same bf16 roundings in another order (one row at a time, cache buffers): far below bf16's own error.
            Assert.True(step.allclose(full[.., t], rtol: 0, atol: 0.01 * scale), $"step {t} differs");
        }
        Assert.Equal(ScalarType.BFloat16, cache.Layers[0].KeyBuffer!.dtype);
        Assert.Equal(ScalarType.BFloat16, cache.MemoryKeys[0].dtype);
    }

    /// <summary>
    /// The packed bf16 kernel: x·wᵀ + b in float32 for whole weights and 16-row blocks of them (the fused attention
    /// projection's query or key/value rows), row counts around its 12-row pass; refused for a weight it did not pack and
    /// for rows not starting at a 16-row block. The thread count is not its business: the caller's backend decides.
    /// </summary>
    [SkippableFact]
    public void PackedBf16KernelMatchesLibtorchsLinear()
    {
        Skip.IfNot(PackedBFloat16.Available, NoKernel);
        using var scope = NewDisposeScope();
        manual_seed(6);
        var weight = randn(96, 48).to(bfloat16);
        var bias = randn(96);
        using var packed = new PackedBFloat16();
        packed.Add(weight);
        OnThreads(1, () =>
        {
            foreach (int rows in new[] { 0, 1, 5, 12, 13, 25 })
            {
                var x = randn(rows, 48);
                foreach (var (w, b) in new[] { (weight, bias), (weight.narrow(0, 32, 64), bias.narrow(0, 32, 64)), (weight.narrow(0, 16, 16), (Tensor?)null) })
                {
                    var expected = TorchSharp.torch.nn.functional.linear(x.to(bfloat16).to(float64), w.to(float64), b?.to(float64));
                    Assert.True(packed.TryLinear(x, w, b, out var result), $"{rows} rows, {w.shape[0]} outputs");
                    Assert.Equal(ScalarType.Float32, result.dtype);
                    Assert.True(result.to(float64).allclose(expected, rtol: 1e-5, atol: 1e-4), $"{rows} rows, {w.shape[0]} outputs");
                    // With ReLU, written in bfloat16 (the feed-forward's inner layer): the same, rounded once.
                    Assert.True(packed.TryLinear(x, w, b, out var activated, relu: true, output: ScalarType.BFloat16));
                    Assert.Equal(ScalarType.BFloat16, activated.dtype);
                    Assert.True(activated.to(float64).allclose(expected.clamp_min(0), rtol: 1e-2, atol: 1e-2), $"{rows} rows, {w.shape[0]} outputs, ReLU");
                    Assert.True(activated.ge(0).all().item<bool>());
                }
            }
            Assert.False(packed.TryLinear(randn(3, 48), weight.narrow(0, 8, 16), null, out _));   // not a 16-row block
            Assert.False(packed.TryLinear(randn(3, 48), randn(96, 48).to(bfloat16), null, out _)); // not packed
            Assert.False(packed.TryLinear(randn(3, 48), weight, randn(80), out _));                // a bias of another size
        });
        OnThreads(2, () => Assert.True(packed.TryLinear(randn(3, 48), weight, null, out _)));
        // The native multiply ran for each accepted call with rows (5 row counts × 3 weights × with and without ReLU, and the
        // one on two threads), and only then.
        Assert.Equal(31, packed.KernelMultiplies);
    }

    /// <summary>
    /// The native attention step: each row (2 beams per source) against its source's first `positions` cached keys,
    /// padding left out, the buffers longer than what is filled; against the same in float64.
    /// </summary>
    [SkippableFact]
    public void NativeBf16AttentionStepMatchesSoftmaxAttention()
    {
        Skip.IfNot(BFloat16Kernels.Available, NoKernel);
        using var scope = NewDisposeScope();
        manual_seed(12);
        int sources = 3, beams = 2, heads = 2, headSize = 32, capacity = 24, positions = 19;
        var queries = randn(sources * beams, 1, 3 * heads * headSize).to(bfloat16);  // as the fused projection's rows: q, k, v
        var keys = randn(sources, heads, capacity, headSize).to(bfloat16);
        var values = randn(sources, heads, capacity, headSize).to(bfloat16);
        var padding = zeros(sources, 1, 1, positions, dtype: @bool);
        padding[1, 0, 0, TensorIndex.Slice(15, null)] = true;                          // source 1 has 15 real positions
        var context = OnThreads(1, () => BFloat16Kernels.AttendStep(queries, 3 * heads * headSize, keys, values, positions, padding, 0.25));
        Assert.NotNull(context);
        var q = queries.narrow(2, 0, heads * headSize).to(float64).view(sources, beams, heads, headSize).transpose(1, 2); // (S,H,beams,dh)
        var k = keys.narrow(2, 0, positions).to(float64);
        var scores = q.matmul(k.transpose(-2, -1)) * 0.25;                                                              // (S,H,beams,P)
        var weights = TorchSharp.torch.nn.functional.softmax(scores.masked_fill(padding, double.NegativeInfinity), -1);
        var expected = weights.matmul(values.narrow(2, 0, positions).to(float64)).transpose(1, 2).reshape(sources * beams, heads * headSize);
        Assert.True(context!.to(float64).allclose(expected, rtol: 1e-4, atol: 1e-4), $"largest difference {(context.to(float64) - expected).abs().max().item<double>()}");
        // The same on two threads: the kernel runs where it is called.
        Assert.True(OnThreads(2, () => BFloat16Kernels.AttendStep(queries, 3 * heads * headSize, keys, values, positions, padding, 0.25))!.equal(context).all().item<bool>());
    }

    /// <summary>
    /// A model prepared for bf16 decoding packs its weights where the kernel runs, and its one-thread worker's cached steps
    /// (both native kernels) match its full pass. Two heads of 16: the native attention step needs a head size that is a multiple of 16.
    /// </summary>
    [SkippableTheory]
    [InlineData("all")]
    [InlineData("none")]
    public void PackedBf16DecodingMatchesTheFullPassOnOneThread(string tie)
    {
        Skip.IfNot(PackedBFloat16.Available, NoKernel);
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.Create(seed: 9, tie: tie, heads: 2);
        var source = TinyModels.RandomTokens(1, 5, 9);
        var target = TinyModels.RandomTokens(2, 5, 20);
        var exact = model.forward(source, target);
        var decoder = Assert.IsType<TransformerInference>(model.ForInference(InferenceBackend.BFloat16Libtorch).ForWorker(threads: 1));
        Assert.Equal("bf16-packed", decoder.Backend);
        var packed = Assert.IsType<PackedPath>(decoder.Path).Packed;
        OnThreads(1, () =>
        {
            var encoded = decoder.Encode(source);
            var full = decoder.Decode(target, encoded);
            double scale = exact.abs().max().item<float>();
            Assert.True((full - exact).abs().max().item<float>() < 0.03 * scale, "bf16 full pass far from fp32");
            using var cache = decoder.StartCache(encoded);
            for (int t = 0; t < target.shape[1]; t++)
                Assert.True(decoder.DecodeStep(target[.., t], cache).allclose(full[.., t], rtol: 0, atol: 0.01 * scale), $"step {t} differs");
        });
        // Matching results alone would not show it: MKL and libtorch give the same within these tolerances.
        Assert.True(packed.KernelMultiplies > 0, "no linear ran through the packed kernel");
        Assert.True(packed.KernelAttentionSteps > 0, "no attention step ran through the native kernel");
    }

    /// <summary>Runs `action` with libtorch set to `count` threads on this thread (as in a decoding worker), then restores it.</summary>
    private static T OnThreads<T>(int count, Func<T> action)
    {
        int threads = get_num_threads();
        try
        {
            set_num_threads(count);
            return action();
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    private static void OnThreads(int count, Action action) => OnThreads(count, () => { action(); return 0; });

    /// <summary>MKL's bf16 gemm: x·wᵀ + b in float32 for either weight layout, with and without a bias, any leading shape.</summary>
    [SkippableFact]
    public void MklBf16LinearMatchesLibtorchsLinear()
    {
        Skip.IfNot(MklBFloat16.Available, NoMkl);
        using var scope = NewDisposeScope();
        manual_seed(5);
        var x = randn(2, 7, 48);
        var weight = randn(80, 48).to(bfloat16);
        var bias = randn(80);
        // The exact product of the same bfloat16 inputs, in float64.
        var expected = TorchSharp.torch.nn.functional.linear(x.to(bfloat16).to(float64), weight.to(float64), bias.to(float64));
        foreach (var w in new[] { weight, weight.t().contiguous().t() })
        {
            var withBias = MklBFloat16.Linear(x, w, bias);
            Assert.Equal(ScalarType.Float32, withBias.dtype);
            Assert.Equal(new long[] { 2, 7, 80 }, withBias.shape);
            Assert.True(withBias.to(float64).allclose(expected, rtol: 1e-5, atol: 1e-4), "with bias");
            Assert.True(MklBFloat16.Linear(x, w, null).to(float64).allclose(expected - bias.to(float64), rtol: 1e-5, atol: 1e-4), "without bias");
        }
        Assert.Equal(new long[] { 0, 80 }, MklBFloat16.Linear(zeros(0, 48), weight, bias).shape);
        // One row (a single sentence's greedy step): the result must not be written into the bias.
        var biasBefore = bias.clone();
        var oneRow = MklBFloat16.Linear(x[0, 0].unsqueeze(0), weight, bias);
        Assert.True(bias.equal(biasBefore).all().item<bool>(), "the bias was overwritten");
        Assert.True(oneRow.to(float64).allclose(expected[0, 0].unsqueeze(0), rtol: 1e-5, atol: 1e-4), "one row");
    }

    /// <summary>
    /// ForInference(fp32) only lays the linear weights out column-major (faster on few rows): the same values,
    /// the same logits up to float rounding, for a tied and an untied output layer.
    /// </summary>
    [Theory]
    [InlineData("all")]
    [InlineData("none")]
    public void CastingForFp32DecodingChangesTheLayoutNotTheResults(string tie)
    {
        using var scope = NewDisposeScope();
        var model = TinyModels.Create(seed: 8, tie: tie);
        using var inference = inference_mode();
        var source = TinyModels.RandomTokens(1, 3, 9);
        var target = TinyModels.RandomTokens(2, 3, 7);
        var before = model.forward(source, target);
        var weights = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.clone());

        var decoder = Assert.IsType<TransformerInference>(model.ForInference(InferenceBackend.Fp32).ForWorker(threads: 1));
        Assert.Equal("fp32", decoder.Backend);

        Assert.All(model.named_parameters(), p => Assert.True(p.parameter.equal(weights[p.name]).all().item<bool>(), p.name));
        Assert.Contains(model.modules().OfType<TorchSharp.Modules.Linear>(), linear => !linear.weight.is_contiguous());
        Assert.True(model.forward(source, target).allclose(before, rtol: 1e-5, atol: 1e-5));
        using var cache = decoder.StartCache(decoder.Encode(source));
        var step = decoder.DecodeStep(target[.., 0], cache);
        Assert.True(step.allclose(before[.., 0], rtol: 1e-5, atol: 1e-5));
        // Its weights are no longer the trainable float32 ones: training and saving are refused.
        Assert.Throws<InvalidOperationException>(() => model.Module);
        Assert.Throws<InvalidOperationException>(() => model.train());
    }

    [Fact]
    public void Bf16AndFp32RunsFromOneSeedEndWithCloseValidationLosses()
    {
        var fp32 = TinyRun.Train(TinyRun.Config() with { MaxUpdates = 30 }, TinyRun.NewRunDirectory());
        var bf16Dir = TinyRun.NewRunDirectory();
        if (!Precision.BFloat16Supported(CPU))
        {
            // This CPU cannot run bf16 fast: training must refuse it in one line rather than crawl.
            var error = Assert.Throws<UserError>(() => TinyRun.Train(TinyRun.Config() with { Precision = "bf16" }, bf16Dir));
            Assert.Contains("AVX512_BF16", error.Message);
            return;
        }
        var bf16 = TinyRun.Train(TinyRun.Config() with { MaxUpdates = 30, Precision = "bf16" }, bf16Dir);
        double relative = Math.Abs(bf16.ValidLoss!.Value - fp32.ValidLoss!.Value) / fp32.ValidLoss.Value;
        Assert.True(relative < 0.02, $"valid loss fp32 {fp32.ValidLoss} vs bf16 {bf16.ValidLoss}");
        Assert.NotEqual(fp32.ValidLoss, bf16.ValidLoss);
        // Checkpoints stay float32 whatever the precision, so a run can switch precision on resume.
        Assert.All(TinyRun.Parameters(Path.Combine(bf16Dir, RunDirectory.LastCheckpoint)).Values, p => Assert.Equal(ScalarType.Float32, p.dtype));
        var resumed = TinyRun.Train(TinyRun.Config() with { MaxUpdates = 33, Precision = "fp32" }, bf16Dir);
        Assert.Equal(33, resumed.Updates);
    }

    [Fact]
    public void Bf16IsRefusedOnACpuWithoutBf16InstructionsAndAutoFallsBackToFp32()
    {
        var plainCpu = new HashSet<string> { "avx2", "avx512f" };
        var error = Assert.Throws<UserError>(() => Precision.Resolve("bf16", CPU, plainCpu));
        Assert.StartsWith("precision bf16:", error.Message);
        Assert.StartsWith("--precision bf16:", error.CommandLineMessage);
        Assert.Same(Precision.Float32, Precision.Resolve("auto", CPU, plainCpu));
        Assert.Same(Precision.BFloat16, Precision.Resolve("auto", CPU, new HashSet<string> { "avx512_bf16" }));
        Assert.Same(Precision.BFloat16, Precision.Resolve("bf16", CPU, new HashSet<string> { "amx_bf16" }));
        Assert.Contains("fp32, bf16 or auto", Assert.Throws<UserError>(() => Precision.Resolve("fp16", CPU)).Message);
    }
}
