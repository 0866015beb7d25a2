using System.CommandLine;
using System.Text.Json.Nodes;
using TranslationTrainer.Model;
using TranslationTrainer.Training;

namespace TranslationTrainer.Cli;

/// <summary>`benchmark train`: synthetic training speed on the reference's shapes; one JSON line (scripts/bench-train).</summary>
public static class BenchmarkCommand
{
    public static Command Create(CliContext context)
    {
        var threads = new Option<int>("--threads") { Description = "CPU threads (0 = all cores)", DefaultValueFactory = _ => 2 };
        var device = new Option<string>("--device") { Description = "auto, cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var steps = new Option<int>("--steps") { Description = "timed updates", DefaultValueFactory = _ => 20 };
        var train = new Command("train", "Time training updates of the benchmark model (d 256, 4 heads, ffn 1024, 3+3 layers, vocab 8000, batch 64×30).") { threads, device, steps };
        train.SetAction(parse => context.Guard(() =>
        {
            TorchRuntime.SetThreads(parse.GetValue(threads));
            var result = TrainBenchmark.Run(new ModelConfig(), new BenchmarkShape(Steps: parse.GetValue(steps)), TorchRuntime.ResolveDevice(parse.GetValue(device)!));
            context.Out.WriteLine(new JsonObject
            {
                ["impl"] = "translation-trainer", ["threads"] = parse.GetValue(threads), ["params"] = result.Parameters,
                ["train_step_s"] = Math.Round(result.StepSeconds, 4), ["train_tgt_tok_per_s"] = Math.Round(result.TargetTokensPerSecond, 1),
                ["train_model_gflops"] = Math.Round(result.ModelGflops, 2), ["matmul_peak_gflops"] = Math.Round(result.MatmulPeakGflops, 1),
                ["mfu"] = Math.Round(result.Mfu, 3),
            }.ToJsonString());
            return 0;
        }));
        return new Command("benchmark", "Speed measurements (the scripts/bench-* scripts call these).") { train };
    }
}
