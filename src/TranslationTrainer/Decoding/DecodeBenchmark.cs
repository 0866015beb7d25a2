using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TorchSharp;
using TranslationTrainer.Checkpoints;
using TranslationTrainer.Model;
using TranslationTrainer.Text;
using static TorchSharp.torch;
using Transformer = TranslationTrainer.Model.Transformer;

namespace TranslationTrainer.Decoding;

/// <summary>One timed decoding run: sentences, output tokens (with &lt;/s&gt;) and seconds, where the time went, and the backend it ran on.</summary>
public sealed record DecodeMeasurement(int Sentences, long TargetTokens, double Seconds, IReadOnlyDictionary<string, double> Stages, string Backend)
{
    public double SentencesPerSecond => Sentences / Seconds;
    public double TokensPerSecond => TargetTokens / Seconds;
}

/// <summary>
/// What `benchmark decode` runs: the test set's lines, a trained model (else random weights of the benchmark shape,
/// outputs as long as their sources) and the settings of its runs; `Threads` is reported as given.
/// </summary>
public sealed record DecodeBenchmarkRequest(IReadOnlyList<string> Lines, int Threads)
{
    public string? Checkpoint { get; init; }
    public string? VocabDirectory { get; init; }
    /// <summary>The first lines, for the (slow) uncached runs.</summary>
    public int UncachedLines { get; init; } = 200;
    public int Beam { get; init; } = 5;
    public int BatchSize { get; init; } = new DecodingOptions().BatchSize;
    /// <summary>Test-set batches decoded at once (0 = auto, as `translate`).</summary>
    public int Workers { get; init; }
    public bool SkipReferenceShapes { get; init; }
    public bool ReferenceShapesOnly { get; init; }
}

/// <summary>
/// Decoding speed for `benchmark decode` (scripts/bench-decode): the PyTorch reference's shapes (64 random
/// sentences of 30 tokens, exactly 30 greedy steps), and a real test set sorted into batches as `translate`
/// does, with a trained model or a random one whose outputs are as long as their sources.
/// </summary>
public static class DecodeBenchmark
{
    /// <summary>
    /// `benchmark decode`'s runs and its one JSON line (scripts/bench-decode reads it): the reference's shapes, then
    /// greedy and beam on the test set, cached and uncached; each run's figures are also written to `progress`.
    /// </summary>
    public static JsonObject Run(DecodeBenchmarkRequest request, Device device, Precision precision, TextWriter progress)
    {
        var lines = request.Lines;
        int subset = Math.Min(lines.Count, request.UncachedLines);
        if (subset < 1) throw new UserError("`nocache-lines` must be at least 1");
        var result = new JsonObject { ["impl"] = "translation-trainer", ["threads"] = request.Threads, ["precision"] = precision.Name, ["mkl_kernels"] = TorchRuntime.MklKernels() };
        void Report(string name, DecodeMeasurement m)
        {
            // Each run says its backend: the reference's shapes run on this thread, the test set on the workers, and a
            // subset of one batch on this thread with all its threads.
            result[$"{name}_backend"] = m.Backend;
            result[$"{name}_sent_per_s"] = Math.Round(m.SentencesPerSecond, 2);
            result[$"{name}_tok_per_s"] = Math.Round(m.TokensPerSecond, 1);
            result[$"{name}_stages_s"] = new JsonObject(m.Stages.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)Math.Round(p.Value, 3))));
            progress.WriteLine($"{name}: {m.Sentences} sentences, {m.TargetTokens} target tokens in {m.Seconds:F2} s = {m.SentencesPerSecond:F1} sentences/s, "
                + string.Join(", ", m.Stages.Select(p => $"{p.Key} {p.Value:F2} s")));
        }

        if (!request.SkipReferenceShapes)
        {
            var cachedGreedy = ReferenceShapes(device, precision, cached: true);
            Report("ref_shapes_greedy", cachedGreedy);
            // The reference times its decoder loop only (the encoder runs before its clock starts): the same region.
            result["ref_shapes_greedy_decode_only_sent_per_s"] = Math.Round(cachedGreedy.Sentences / (cachedGreedy.Seconds - cachedGreedy.Stages.GetValueOrDefault("encode")), 2);
            Report("ref_shapes_greedy_nocache", ReferenceShapes(device, precision, cached: false));
        }

        if (request.ReferenceShapesOnly)
        {
            result["backend"] = result["ref_shapes_greedy_backend"]?.DeepClone();
            return result;
        }

        InferenceModel model;
        int[][] sources;
        Func<int, int> maxLength;
        var options = new DecodingOptions { BatchSize = request.BatchSize, Workers = request.Workers };
        options.Validate();
        result["workers"] = Workers.Resolve(options.Workers, device);
        if (request.Checkpoint is { } path)
        {
            var (loaded, vocabulary) = ModelLoader.LoadModel(path, request.VocabDirectory, device, precision);
            model = loaded;
            sources = lines.Select(l => vocabulary.Source.Encode(l)).ToArray();
            maxLength = length => options.MaxLength(length, model.MaxPositions);
            result["model"] = path;
        }
        else
        {
            manual_seed(0);
            model = NewRandomModel(8000, device).ForInference(InferenceBackend.Choose(precision, device));
            sources = lines.Select(l => HashedIds(l, 8000)).ToArray();
            options = options with { MinLen = int.MaxValue }; // every output exactly as long as its source
            maxLength = length => Math.Max(1, length);
            result["model"] = "random weights, outputs as long as their sources";
        }
        result["params"] = model.Parameters;
        result["lines"] = sources.Length;
        result["nocache_lines"] = subset;
        var greedy = options with { Beam = 1 };
        var beamOptions = options with { Beam = request.Beam };
        TestSet(model, sources[..Math.Min(8, sources.Length)], beamOptions, maxLength, device); // warm-up
        Report("greedy", TestSet(model, sources, greedy, maxLength, device));
        result["backend"] = result["greedy_backend"]?.DeepClone(); // the whole test set, on the workers' backend
        Report("beam5", TestSet(model, sources, beamOptions, maxLength, device));
        Report("subset_greedy", TestSet(model, sources[..subset], greedy, maxLength, device));
        Report("greedy_nocache", TestSet(model, sources[..subset], greedy with { Uncached = true }, maxLength, device));
        var subsetBeam = TestSet(model, sources[..subset], beamOptions, maxLength, device);
        var uncachedBeam = TestSet(model, sources[..subset], beamOptions with { Uncached = true }, maxLength, device);
        Report("subset_beam5", subsetBeam);
        Report("beam5_nocache", uncachedBeam);
        result["cache_speedup"] = Math.Round(subsetBeam.SentencesPerSecond / uncachedBeam.SentencesPerSecond, 2);
        result["peak_rss_mb"] = Math.Round(TorchRuntime.PeakRssMegabytes(), 1);
        return result;
    }

    /// <summary>The reference's greedy run: random weights of the benchmark shape, no early stop (median of 3).</summary>
    public static DecodeMeasurement ReferenceShapes(Device device, Precision precision, bool cached, BenchmarkShapeForDecoding? shape = null)
    {
        shape ??= new BenchmarkShapeForDecoding();
        manual_seed(0);
        using var model = NewRandomModel(shape.Vocab, device).ForInference(InferenceBackend.Choose(precision, device));
        using var source = randint(4, shape.Vocab, [shape.Sentences, shape.SourceLength], device: device);
        // MinLen above the limit: </s> only at step Steps, so every sentence takes exactly Steps decoder steps.
        var options = new DecodingOptions { Beam = 1, MinLen = int.MaxValue, Uncached = !cached };
        var maxLengths = Enumerable.Repeat(shape.Steps, shape.Sentences).ToArray();
        using var inference = inference_mode();
        var decoder = model.ForWorker(get_num_threads()); // this thread, with the command's --threads
        Search.Greedy(decoder, source.narrow(0, 0, 4), [.. maxLengths.Take(4)], options); // warm-up
        // A few seconds at most: the median of three runs, as the machine may be shared.
        return Enumerable.Range(0, 3).Select(_ => Time(decoder.Backend, profile => Search.Greedy(decoder, source, maxLengths, options, profile).Select(h => h[0]).ToArray()))
            .OrderBy(m => m.Seconds).ElementAt(1);
    }

    public static Transformer NewRandomModel(int vocab, Device device)
    {
        var model = new Transformer(new ModelConfig(), vocab, vocab);
        model.to(device);
        model.eval();
        return model;
    }

    /// <summary>
    /// Source ids for a random-weight model without a vocabulary: words and punctuation hashed into the ordinary ids
    /// (an 8k BPE gives ~1.2 subwords per word, so these batches are slightly shorter than real ones).
    /// </summary>
    public static int[] HashedIds(string line, int vocab) =>
        Regex.Matches(line, @"\w+|[^\w\s]").Select(m => 4 + (int)(Fnv1a(m.Value) % (uint)(vocab - 4))).ToArray();

    private static uint Fnv1a(string text)
    {
        uint hash = 2166136261;
        foreach (char c in text) hash = (hash ^ c) * 16777619;
        return hash;
    }

    /// <summary>
    /// Decodes `sources` (ids without &lt;/s&gt;) as `translate` does, through the same <see cref="LengthSortedBatches"/>:
    /// sorted by length, batches of options.BatchSize, options.Workers of them at a time; the clock runs while the batches are padded and searched.
    /// maxLength(sourceLength) bounds each output.
    /// </summary>
    public static DecodeMeasurement TestSet(IDecodingModel model, IReadOnlyList<int[]> sources, DecodingOptions options, Func<int, int> maxLength, Device device)
    {
        var batches = new LengthSortedBatches([.. sources.Select(ids => (int[])[.. ids, Vocabulary.EosId])], options.BatchSize);
        int workers = Workers.Resolve(options.Workers, device);
        return Time(batches.Backend(model, workers), profile =>
        {
            var best = new Hypothesis?[sources.Count];
            batches.Decode(model, options, maxLength, device, workers, batch =>
            {
                for (int j = 0; j < batch.Inputs.Length; j++) best[batch.Inputs[j]] = batch.Hypotheses[j][0];
            }, profile);
            return [.. best.OfType<Hypothesis>()];
        });
    }

    /// <summary>Times one decoding run, which fills in a fresh profile of its stages.</summary>
    private static DecodeMeasurement Time(string backend, Func<DecodeProfile, Hypothesis[]> decode)
    {
        var profile = new DecodeProfile();
        var clock = Stopwatch.StartNew();
        var outputs = decode(profile);
        double seconds = clock.Elapsed.TotalSeconds;
        return new DecodeMeasurement(outputs.Length, outputs.Sum(h => (long)h.Tokens.Length + 1), seconds, profile.Seconds(), backend);
    }
}

/// <summary>The decoding shapes of shared/bench/pytorch_reference.py: --decode-sents 64, --src-len 30, --tgt-len 30.</summary>
public sealed record BenchmarkShapeForDecoding(int Vocab = 8000, int Sentences = 64, int SourceLength = 30, int Steps = 30);
