using System.Diagnostics;
using System.Text.Json.Nodes;
using TorchSharp;
using TranslationTrainer.Distributed;
using TranslationTrainer.Model;
using TranslationTrainer.Text;
using static TorchSharp.torch;
using Transformer = TranslationTrainer.Model.Transformer;

namespace TranslationTrainer.Training;

/// <summary>Shapes of a synthetic benchmark: the same as shared/bench/pytorch_reference.py's defaults.</summary>
public sealed record BenchmarkShape(int Vocab = 8000, int Batch = 64, int SourceLength = 30, int TargetLength = 30, int Steps = 20, int Warmup = 3);

/// <summary>With several ranks: tokens of the whole batch over all ranks, and the time each update spent in the gradient Allreduce.</summary>
public sealed record TrainBenchmarkResult(long Parameters, double StepSeconds, double TargetTokensPerSecond, double ModelGflops, double MatmulPeakGflops,
    IReadOnlyDictionary<string, double> StageSeconds, int Ranks = 1, double AllreduceSeconds = 0)
{
    /// <summary>Each rank measured its own peak, at the same time as the others: the ranks' peaks add up.</summary>
    public double Mfu => ModelGflops / (MatmulPeakGflops * Ranks);
}

/// <summary>
/// Times full training updates (forward, label-smoothed loss, backward, clipping, Adam) on random tokens,
/// exactly what the PyTorch reference times, plus the float32 matmul peak that model FLOP utilisation
/// is measured against. With several ranks (under mpiexec) each rank takes its share of the same batch and
/// the gradients are summed as in training.
/// </summary>
public static class TrainBenchmark
{
    public static TrainBenchmarkResult Run(ModelConfig modelConfig, BenchmarkShape shape, Device device, Precision precision, IWorld? world = null)
    {
        world ??= new SingleProcess();
        manual_seed(0);
        using var model = new Transformer(modelConfig, shape.Vocab, shape.Vocab);
        model.to(device);
        model.Precision = precision;
        model.train();
        var parameters = model.parameters().ToArray();
        using var optimizer = optim.Adam(parameters, 5e-4, 0.9, 0.98, 1e-9);
        using var source = randint(4, shape.Vocab, [shape.Batch, shape.SourceLength], device: device);
        using var target = randint(4, shape.Vocab, [shape.Batch, shape.TargetLength + 1], device: device);
        using var targetInput = target[.., ..^1];
        using var targetOutput = target[.., 1..];
        // Every rank draws the same batch (same seed) and keeps its rows of it.
        using var rows = tensor(world.Share(Enumerable.Range(0, shape.Batch).ToArray()).Select(i => (long)i).ToArray(), device: device);
        using var sourceShare = source.index_select(0, rows);
        using var inputShare = targetInput.index_select(0, rows);
        using var outputShare = targetOutput.index_select(0, rows);
        using var reducer = world.Size > 1 ? new GradientReducer(world, parameters, extraValues: 1) : null;
        var allreduce = TimeSpan.Zero;

        // Per-stage times (CPU ops are synchronous, so a stopwatch between stages is exact there; on CUDA it is not).
        var stages = new Dictionary<string, double> { ["forward"] = 0, ["loss"] = 0, ["backward"] = 0, ["clip+adam"] = 0 };
        if (reducer is not null) stages["gradient sum"] = 0; // copies to and from the buffer, and the Allreduce
        var stageClock = new Stopwatch();
        void Lap(string stage)
        {
            stages[stage] += stageClock.Elapsed.TotalSeconds;
            stageClock.Restart();
        }
        void Step()
        {
            using var scope = NewDisposeScope();
            stageClock.Restart();
            optimizer.zero_grad();
            var logits = model.forward(sourceShare, inputShare);
            Lap("forward");
            var loss = Loss.SummedCrossEntropy(logits, outputShare, 0.1, Vocabulary.PadId) / (shape.Batch * shape.TargetLength);
            Lap("loss");
            loss.backward();
            Lap("backward");
            if (reducer is not null)
            {
                reducer.Sum(loss.item<float>());
                allreduce += reducer.LastAllreduce;
                Lap("gradient sum");
            }
            nn.utils.clip_grad_norm_(parameters, 1.0);
            optimizer.step();
            Lap("clip+adam");
        }

        for (int i = 0; i < shape.Warmup; i++) Step();
        foreach (var stage in stages.Keys) stages[stage] = 0;
        allreduce = TimeSpan.Zero;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < shape.Steps; i++) Step();
        double stepSeconds = clock.Elapsed.TotalSeconds / shape.Steps;
        foreach (var stage in stages.Keys) stages[stage] /= shape.Steps;
        long parameterCount = parameters.Sum(p => p.numel());
        double tokensPerSecond = shape.Batch * shape.TargetLength / stepSeconds;
        // ~6 FLOPs per parameter per target token (source as long as target), as the reference counts.
        double gflops = 6.0 * parameterCount * tokensPerSecond / 1e9;
        return new TrainBenchmarkResult(parameterCount, stepSeconds, tokensPerSecond, gflops, MatmulPeakGflops(device, precision.MatmulType), stages,
            world.Size, allreduce.TotalSeconds / shape.Steps);
    }

    /// <summary>`benchmark train`'s one JSON line (scripts/bench-train reads it): the settings it ran with, then the figures.</summary>
    public static JsonObject Json(TrainBenchmarkResult result, int threads, Precision precision) => new()
    {
        ["impl"] = "translation-trainer", ["threads"] = threads, ["ranks"] = result.Ranks, ["precision"] = precision.Name, ["backend"] = precision.Backend, ["mkl_kernels"] = TorchRuntime.MklKernels(), ["params"] = result.Parameters,
        ["train_step_s"] = Math.Round(result.StepSeconds, 4), ["train_tgt_tok_per_s"] = Math.Round(result.TargetTokensPerSecond, 1),
        ["train_model_gflops"] = Math.Round(result.ModelGflops, 2), ["matmul_peak_gflops"] = Math.Round(result.MatmulPeakGflops, 1),
        ["mfu"] = Math.Round(result.Mfu, 3), ["allreduce_ms"] = Math.Round(result.AllreduceSeconds * 1000, 2),
        ["stages_s"] = new JsonObject(result.StageSeconds.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)Math.Round(p.Value, 4)))),
    };

    /// <summary>The best matrix-multiply rate libtorch reaches here (n = 1024 and 2048) in the type the model's matmuls use.</summary>
    public static double MatmulPeakGflops(Device device, ScalarType type = ScalarType.Float32)
    {
        double peak = 0;
        foreach (int n in new[] { 1024, 2048 })
        {
            using var scope = NewDisposeScope();
            var x = randn(n, n, device: device).to(type);
            var y = randn(n, n, device: device).to(type);
            for (int i = 0; i < 2; i++) x.matmul(y);
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < 5; i++) x.matmul(y).cpu();
            peak = Math.Max(peak, 2.0 * n * n * n * 5 / clock.Elapsed.TotalSeconds / 1e9);
        }
        return peak;
    }
}
