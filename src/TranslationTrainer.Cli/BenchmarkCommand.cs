using System.CommandLine;
using TranslationTrainer.Decoding;
using TranslationTrainer.Distributed;
using TranslationTrainer.Model;
using TranslationTrainer.Serving;
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
            context.Out.WriteLine(TrainBenchmark.Json(result, parse.GetValue(threads), mode).ToJsonString());
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
            var request = new DecodeBenchmarkRequest([.. TextFile.ReadLines(inputPath)], parse.GetValue(threads))
            {
                Checkpoint = parse.GetValue(checkpoint), VocabDirectory = parse.GetValue(vocab), UncachedLines = parse.GetValue(uncachedLines),
                Beam = parse.GetValue(beam), BatchSize = parse.GetValue(batchSize), Workers = parse.GetValue(workers),
                SkipReferenceShapes = parse.GetValue(skipReferenceShapes), ReferenceShapesOnly = parse.GetValue(referenceShapesOnly),
            };
            var result = DecodeBenchmark.Run(request, dev, mode, context.Error);
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
