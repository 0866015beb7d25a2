using System.CommandLine;
using System.Text.Json.Nodes;
using TranslationTrainer.Decoding;
using TranslationTrainer.Distributed;
using TranslationTrainer.Model;
using TranslationTrainer.Serving;
using TranslationTrainer.Text;
using TranslationTrainer.Training;
using static TorchSharp.torch;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Cli;

/// <summary>`benchmark train`: synthetic training speed on the reference's shapes; one JSON line (scripts/bench-train).</summary>
public static class BenchmarkCommand
{
    public static Command Create(CliContext context)
    {
        var threads = new Option<int>("--threads") { Description = "CPU threads (0 = all cores)", DefaultValueFactory = _ => 2 };
        var device = new Option<string>("--device") { Description = "auto, cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var steps = new Option<int>("--steps") { Description = "timed updates", DefaultValueFactory = _ => 20 };
        var precision = new Option<string>("--precision") { Description = "fp32, bf16 or auto", DefaultValueFactory = _ => "fp32" };
        var train = new Command("train", "Time training updates of the benchmark model (d 256, 4 heads, ffn 1024, 3+3 layers, vocab 8000, batch 64×30); "
            + "under mpiexec, the ranks share the batch (scripts/bench-distributed).") { threads, device, steps, precision };
        train.SetAction(parse => context.Guard(() =>
        {
            using var world = World.Start("auto", timeoutMinutes: 30, context.Error);
            TorchRuntime.SetThreads(parse.GetValue(threads));
            var dev = world.LocalDevice(TorchRuntime.ResolveDevice(parse.GetValue(device)!));
            var mode = Precision.Resolve(parse.GetValue(precision)!, dev);
            var result = TrainBenchmark.Run(new ModelConfig(), new BenchmarkShape(Steps: parse.GetValue(steps)), dev, mode, world);
            if (!world.IsMain) return 0;
            context.Out.WriteLine(new JsonObject
            {
                ["impl"] = "translation-trainer", ["threads"] = parse.GetValue(threads), ["ranks"] = result.Ranks, ["precision"] = mode.Name, ["backend"] = mode.Backend, ["mkl_kernels"] = TorchRuntime.MklKernels(), ["params"] = result.Parameters,
                ["train_step_s"] = Math.Round(result.StepSeconds, 4), ["train_tgt_tok_per_s"] = Math.Round(result.TargetTokensPerSecond, 1),
                ["train_model_gflops"] = Math.Round(result.ModelGflops, 2), ["matmul_peak_gflops"] = Math.Round(result.MatmulPeakGflops, 1),
                ["mfu"] = Math.Round(result.Mfu, 3), ["allreduce_ms"] = Math.Round(result.AllreduceSeconds * 1000, 2),
                ["stages_s"] = new JsonObject(result.StageSeconds.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)Math.Round(p.Value, 4)))),
            }.ToJsonString());
            return 0;
        }));
        return new Command("benchmark", "Speed measurements (the scripts/bench-* scripts call these).") { train, CreateDecode(context), CreateServe(context) };
    }

    /// <summary>`benchmark decode`: greedy and beam speed with and without the cache; one JSON line (scripts/bench-decode).</summary>
    private static Command CreateDecode(CliContext context)
    {
        var threads = new Option<int>("--threads") { Description = "CPU threads (0 = all cores)", DefaultValueFactory = _ => 2 };
        var device = new Option<string>("--device") { Description = "auto, cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "trained model (file or run directory); default: random weights of the benchmark shape, outputs as long as their sources" };
        var vocab = new Option<string?>("--vocab") { Description = "vocabulary directory (default: the run directory's copy)" };
        var input = new Option<string>("--input") { Description = "source sentences, one per line", DefaultValueFactory = _ => "data/bible-es-en/test.es" };
        var uncachedLines = new Option<int>("--nocache-lines") { Description = "first N lines for the (slow) uncached runs", DefaultValueFactory = _ => 200 };
        var beam = new Option<int>("--beam") { Description = "beam size of the beam runs", DefaultValueFactory = _ => 5 };
        var batchSize = new Option<int>("--batch-size") { Description = "sentences per batch", DefaultValueFactory = _ => new DecodingOptions().BatchSize };
        var skipReferenceShapes = new Option<bool>("--skip-reference-shapes") { Description = "only the test-set runs" };
        var referenceShapesOnly = new Option<bool>("--reference-shapes-only") { Description = "only the runs on the reference's shapes" };
        var precision = new Option<string>("--precision") { Description = "fp32, bf16 or auto", DefaultValueFactory = _ => "fp32" };
        var workers = new Option<int>("--workers") { Description = "test-set batches decoded at once (0 = auto, as translate)", DefaultValueFactory = _ => 0 };
        var command = new Command("decode", "Time greedy and beam decoding, cached and uncached: on the PyTorch reference's shapes (64×30 random tokens, 30 steps) and on a test set.")
            { threads, device, checkpoint, vocab, input, uncachedLines, beam, batchSize, skipReferenceShapes, referenceShapesOnly, precision, workers };
        command.SetAction(parse => context.Guard(() =>
        {
            TorchRuntime.SetThreads(parse.GetValue(threads));
            var dev = TorchRuntime.ResolveDevice(parse.GetValue(device)!);
            var mode = Precision.Resolve(parse.GetValue(precision)!, dev);
            var inputPath = parse.GetValue(input)!;
            TextFile.RequireFile(inputPath, "--input");
            var lines = TextFile.ReadLines(inputPath).ToList();
            int subset = Math.Min(lines.Count, parse.GetValue(uncachedLines));
            if (subset < 1) throw new UserError("--nocache-lines must be at least 1");
            var result = new JsonObject { ["impl"] = "translation-trainer", ["threads"] = parse.GetValue(threads), ["precision"] = mode.Name, ["mkl_kernels"] = TorchRuntime.MklKernels() };
            void Report(string name, DecodeMeasurement m)
            {
                // Each run says its backend: the reference's shapes run on this thread, the test set on the workers, and a
                // subset of one batch on this thread with all its threads.
                result[$"{name}_backend"] = m.Backend;
                result[$"{name}_sent_per_s"] = Math.Round(m.SentencesPerSecond, 2);
                result[$"{name}_tok_per_s"] = Math.Round(m.TokensPerSecond, 1);
                result[$"{name}_stages_s"] = new JsonObject(m.Stages.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)Math.Round(p.Value, 3))));
                context.Error.WriteLine($"{name}: {m.Sentences} sentences, {m.TargetTokens} target tokens in {m.Seconds:F2} s = {m.SentencesPerSecond:F1} sentences/s, "
                    + string.Join(", ", m.Stages.Select(p => $"{p.Key} {p.Value:F2} s")));
            }

            if (!parse.GetValue(skipReferenceShapes))
            {
                var cachedGreedy = DecodeBenchmark.ReferenceShapes(dev, mode, cached: true);
                Report("ref_shapes_greedy", cachedGreedy);
                // The reference times its decoder loop only (the encoder runs before its clock starts): the same region.
                result["ref_shapes_greedy_decode_only_sent_per_s"] = Math.Round(cachedGreedy.Sentences / (cachedGreedy.Seconds - cachedGreedy.Stages.GetValueOrDefault("encode")), 2);
                Report("ref_shapes_greedy_nocache", DecodeBenchmark.ReferenceShapes(dev, mode, cached: false));
            }

            if (parse.GetValue(referenceShapesOnly))
            {
                result["backend"] = result["ref_shapes_greedy_backend"]?.DeepClone();
                context.Out.WriteLine(result.ToJsonString());
                return 0;
            }

            InferenceModel model;
            int[][] sources;
            Func<int, int> maxLength;
            var options = new DecodingOptions { BatchSize = parse.GetValue(batchSize), Workers = parse.GetValue(workers) };
            options.Validate();
            result["workers"] = Workers.Resolve(options.Workers, dev);
            if (parse.GetValue(checkpoint) is { } path)
            {
                var (loaded, vocabulary) = ModelLoader.LoadModel(path, parse.GetValue(vocab), dev, mode);
                model = loaded;
                sources = lines.Select(l => vocabulary.Source.Encode(l)).ToArray();
                maxLength = length => options.MaxLength(length, model.MaxPositions);
                result["model"] = path;
            }
            else
            {
                manual_seed(0);
                model = DecodeBenchmark.NewRandomModel(8000, dev).ForInference(InferenceBackend.Choose(mode, dev));
                sources = lines.Select(l => DecodeBenchmark.HashedIds(l, 8000)).ToArray();
                options = options with { MinLen = int.MaxValue }; // every output exactly as long as its source
                maxLength = length => Math.Max(1, length);
                result["model"] = "random weights, outputs as long as their sources";
            }
            result["params"] = model.Parameters;
            result["lines"] = sources.Length;
            result["nocache_lines"] = subset;
            var greedy = options with { Beam = 1 };
            var beamOptions = options with { Beam = parse.GetValue(beam) };
            DecodeBenchmark.TestSet(model, sources[..Math.Min(8, sources.Length)], beamOptions, maxLength, dev); // warm-up
            Report("greedy", DecodeBenchmark.TestSet(model, sources, greedy, maxLength, dev));
            result["backend"] = result["greedy_backend"]?.DeepClone(); // the whole test set, on the workers' backend
            result["backend"] = result["greedy_backend"]?.DeepClone(); // the whole test set, on the workers
            Report("beam5", DecodeBenchmark.TestSet(model, sources, beamOptions, maxLength, dev));
            Report("subset_greedy", DecodeBenchmark.TestSet(model, sources[..subset], greedy, maxLength, dev));
            Report("greedy_nocache", DecodeBenchmark.TestSet(model, sources[..subset], greedy with { Uncached = true }, maxLength, dev));
            var subsetBeam = DecodeBenchmark.TestSet(model, sources[..subset], beamOptions, maxLength, dev);
            var uncachedBeam = DecodeBenchmark.TestSet(model, sources[..subset], beamOptions with { Uncached = true }, maxLength, dev);
            Report("subset_beam5", subsetBeam);
            Report("beam5_nocache", uncachedBeam);
            result["cache_speedup"] = Math.Round(subsetBeam.SentencesPerSecond / uncachedBeam.SentencesPerSecond, 2);
            result["peak_rss_mb"] = Math.Round(TorchRuntime.PeakRssMegabytes(), 1);
            context.Out.WriteLine(result.ToJsonString());
            return 0;
        }));
        return command;
    }

    /// <summary>`benchmark serve`: load on a running `serve` against in-process translation; one JSON line (scripts/bench-serve).</summary>
    private static Command CreateServe(CliContext context)
    {
        var defaults = new ServeLoad();
        var url = new Option<string>("--url") { Description = "the running server, e.g. http://127.0.0.1:8080/", Required = true };
        var checkpoint = new Option<string>("--checkpoint") { Description = "the model the server runs (for the in-process figures)", Required = true };
        var input = new Option<string>("--input") { Description = "sentences to send, one per line", DefaultValueFactory = _ => "data/bible-es-en/test.es" };
        var clients = new Option<int>("--clients") { Description = "concurrent clients of the throughput phase", DefaultValueFactory = _ => defaults.Clients };
        var latencyRequests = new Option<int>("--latency-requests") { Description = "sentences sent one at a time (and translated alone in-process)", DefaultValueFactory = _ => defaults.LatencyRequests };
        var requests = new Option<int>("--requests") { Description = "requests of the throughput phase", DefaultValueFactory = _ => defaults.Requests };
        var soak = new Option<int>("--soak-requests") { Description = "requests of the memory phase (RSS at 10% of them and at the end); 0 = none", DefaultValueFactory = _ => defaults.SoakRequests };
        var maxMinutes = new Option<double>("--max-minutes") { Description = "no phase starts requests after this many minutes", DefaultValueFactory = _ => defaults.MaxMinutes };
        var decoding = new TranslateCommand.DecodingOptionSet();
        var command = new Command("serve", "Time a running server under 1 and N concurrent clients against in-process translation of the same sentences.")
            { url, checkpoint, input, clients, latencyRequests, requests, soak, maxMinutes };
        decoding.AddTo(command);
        command.SetAction(parse => context.Guard(() =>
        {
            var inputPath = parse.GetValue(input)!;
            TextFile.RequireFile(inputPath, "--input");
            if (!Uri.TryCreate(parse.GetValue(url), UriKind.Absolute, out var server)) throw new UserError($"--url must be an absolute URL, got '{parse.GetValue(url)}'");
            var load = new ServeLoad(parse.GetValue(clients), parse.GetValue(latencyRequests), parse.GetValue(requests), parse.GetValue(soak), parse.GetValue(maxMinutes));
            load.Validate();
            var (translator, device, precision) = decoding.Load(parse, parse.GetValue(checkpoint)!, decoding.Read(parse), _ => { });
            var result = ServeBenchmark.Run(server, translator, [.. TextFile.ReadLines(inputPath)], load, context.Error);
            result["precision"] = precision.Name;
            result["backend"] = translator.WorkerBackend(Workers.Resolve(translator.Options.Workers, device));
            context.Out.WriteLine(result.ToJsonString());
            return 0;
        }));
        return command;
    }
}
