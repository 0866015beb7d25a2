using System.CommandLine;
using System.Diagnostics;
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
                // The reference's shapes run on this thread, the test set on the workers: their backends may differ.
                result[name.StartsWith("ref_shapes", StringComparison.Ordinal) ? "ref_shapes_backend" : "backend"] = m.Backend;
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
                result["backend"] = result["ref_shapes_backend"]?.DeepClone();
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

    /// <summary>
    /// `benchmark serve`: load on a running `serve` (scripts/bench-serve) against the same model translated in this
    /// process, the file way and one sentence at a time; one JSON line.
    /// </summary>
    private static Command CreateServe(CliContext context)
    {
        var url = new Option<string>("--url") { Description = "the running server, e.g. http://127.0.0.1:8080/", Required = true };
        var checkpoint = new Option<string>("--checkpoint") { Description = "the model the server runs (for the in-process figures)", Required = true };
        var input = new Option<string>("--input") { Description = "sentences to send, one per line", DefaultValueFactory = _ => "data/bible-es-en/test.es" };
        var clients = new Option<int>("--clients") { Description = "concurrent clients of the throughput phase", DefaultValueFactory = _ => 32 };
        var latencyRequests = new Option<int>("--latency-requests") { Description = "sentences sent one at a time (and translated alone in-process)", DefaultValueFactory = _ => 200 };
        var requests = new Option<int>("--requests") { Description = "requests of the throughput phase", DefaultValueFactory = _ => 3000 };
        var soak = new Option<int>("--soak-requests") { Description = "requests of the memory phase (RSS at 10% of them and at the end); 0 = none", DefaultValueFactory = _ => 20000 };
        var maxMinutes = new Option<double>("--max-minutes") { Description = "no phase starts requests after this many minutes", DefaultValueFactory = _ => 10 };
        var decoding = new TranslateCommand.DecodingOptionSet();
        var command = new Command("serve", "Time a running server under 1 and N concurrent clients against in-process translation of the same sentences.")
            { url, checkpoint, input, clients, latencyRequests, requests, soak, maxMinutes };
        decoding.AddTo(command);
        command.SetAction(parse => context.Guard(() =>
        {
            var inputPath = parse.GetValue(input)!;
            TextFile.RequireFile(inputPath, "--input");
            var lines = TextFile.ReadLines(inputPath).ToList();
            if (lines.Count == 0) throw new UserError($"--input {inputPath} is empty");
            if (parse.GetValue(clients) < 1 || parse.GetValue(latencyRequests) < 1 || parse.GetValue(requests) < 1 || parse.GetValue(soak) < 0)
                throw new UserError("--clients, --latency-requests and --requests must be at least 1, --soak-requests at least 0");
            var limit = TimeSpan.FromMinutes(parse.GetValue(maxMinutes));
            var (translator, device, precision) = decoding.Load(parse, parse.GetValue(checkpoint)!, decoding.Read(parse), _ => { });
            var backend = translator.WorkerBackend(Workers.Resolve(translator.Options.Workers, device));
            var result = new JsonObject { ["impl"] = "translation-trainer", ["precision"] = precision.Name, ["backend"] = backend, ["beam"] = translator.Options.Beam, ["lines"] = lines.Count };

            // In-process, while the server idles: the whole file as `translate` does it, then sentence by sentence.
            translator.TranslateAll(lines[..Math.Min(64, lines.Count)]); // warm-up
            var clock = Stopwatch.StartNew();
            translator.TranslateAll(lines);
            double fileRate = lines.Count / clock.Elapsed.TotalSeconds;
            var single = lines.Take(parse.GetValue(latencyRequests)).Select(line =>
            {
                var start = Stopwatch.GetTimestamp();
                translator.TranslateAll([line]);
                return Stopwatch.GetElapsedTime(start).TotalSeconds;
            }).ToArray();
            var alone = new LoadResult(single.Length, single.Sum(), single, 0);
            result["file_sent_per_s"] = Math.Round(fileRate, 2);
            result["inprocess_single_p50_ms"] = Math.Round(alone.PercentileMs(0.5), 2);
            context.Error.WriteLine($"in-process: file {fileRate:F1} sentences/s; one sentence at a time p50 {alone.PercentileMs(0.5):F1} ms");

            using var load = new LoadGenerator(new Uri(parse.GetValue(url)!), "auto", TargetLanguage(parse.GetValue(url)!));
            load.Run(lines, 1, 8, limit).GetAwaiter().GetResult(); // warm-up
            void Phase(string name, int clientCount, IReadOnlyList<string> sentences, int count)
            {
                var before = load.Metrics().GetAwaiter().GetResult();
                var run = load.Run(sentences, clientCount, count, limit).GetAwaiter().GetResult();
                var after = load.Metrics().GetAwaiter().GetResult();
                double batches = after["tt_batch_sentences_count"] - before["tt_batch_sentences_count"];
                double meanBatch = batches == 0 ? 0 : (after["tt_batch_sentences_sum"] - before["tt_batch_sentences_sum"]) / batches;
                result[$"{name}_requests"] = run.Requests;
                result[$"{name}_failures"] = run.Failures;
                result[$"{name}_sent_per_s"] = Math.Round(run.RequestsPerSecond, 2);
                foreach (var q in new[] { 50, 95, 99 }) result[$"{name}_p{q}_ms"] = Math.Round(run.PercentileMs(q / 100.0), 2);
                result[$"{name}_mean_batch"] = Math.Round(meanBatch, 2);
                context.Error.WriteLine($"{name}: {clientCount} client(s), {run.Requests} requests ({run.Failures} failed) in {run.Seconds:F1} s = {run.RequestsPerSecond:F1} sentences/s; "
                    + $"latency p50 {run.PercentileMs(0.5):F1} / p95 {run.PercentileMs(0.95):F1} / p99 {run.PercentileMs(0.99):F1} ms; mean batch {meanBatch:F1}");
            }
            Phase("c1", 1, lines[..single.Length], single.Length);
            result["c1_p50_ratio"] = Math.Round((double)result["c1_p50_ms"]! / alone.PercentileMs(0.5), 3);
            int many = parse.GetValue(clients);
            Phase($"c{many}", many, lines, parse.GetValue(requests));
            result[$"c{many}_throughput_ratio"] = Math.Round((double)result[$"c{many}_sent_per_s"]! / fileRate, 3);

            if (parse.GetValue(soak) is > 0 and var soakCount)
            {
                // RSS once the server is warm (10% of the requests), then at the end.
                int warm = Math.Max(1, soakCount / 10);
                load.Run(lines, many, warm, limit).GetAwaiter().GetResult();
                double warmRss = load.Metrics().GetAwaiter().GetResult()["process_resident_memory_bytes"] / (1 << 20);
                var rest = load.Run(lines, many, soakCount - warm, limit).GetAwaiter().GetResult();
                double endRss = load.Metrics().GetAwaiter().GetResult()["process_resident_memory_bytes"] / (1 << 20);
                result["soak_requests"] = warm + rest.Requests;
                result["soak_failures"] = rest.Failures;
                result["server_rss_mb_warm"] = Math.Round(warmRss, 1);
                result["server_rss_mb_end"] = Math.Round(endRss, 1);
                result["server_rss_growth_pct"] = Math.Round(100 * (endRss / warmRss - 1), 2);
                context.Error.WriteLine($"soak: {warm + rest.Requests} requests; server RSS {warmRss:F0} MB after {warm}, {endRss:F0} MB at the end");
            }
            context.Out.WriteLine(result.ToJsonString());
            return 0;
        }));
        return command;
    }

    /// <summary>The target language the server names on /health, which LibreTranslate requests must give.</summary>
    private static string TargetLanguage(string url)
    {
        using var client = new HttpClient { BaseAddress = new Uri(url) };
        try
        {
            var health = JsonNode.Parse(client.GetStringAsync("health").GetAwaiter().GetResult())!;
            return health["target"]!.GetValue<string>();
        }
        catch (HttpRequestException e)
        {
            throw new UserError($"--url {url}: the server is not ready ({e.Message})");
        }
    }
}
