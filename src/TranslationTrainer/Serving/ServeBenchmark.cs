using System.Diagnostics;
using System.Text.Json.Nodes;
using TranslationTrainer.Decoding;

namespace TranslationTrainer.Serving;

/// <summary>How much load `benchmark serve` puts on the server.</summary>
public sealed record ServeLoad(int Clients = 32, int LatencyRequests = 200, int Requests = 3000, int SoakRequests = 20000, double MaxMinutes = 10)
{
    public void Validate()
    {
        if (Clients < 1 || LatencyRequests < 1 || Requests < 1 || SoakRequests < 0)
            throw new UserError("`clients`, `latency-requests` and `requests` must be at least 1, `soak-requests` at least 0");
        if (MaxMinutes <= 0) throw new UserError("`max-minutes` must be positive");
    }
}

/// <summary>
/// `benchmark serve` (scripts/bench-serve): a running server under 1 and N concurrent clients, against the same model
/// translated in this process, the file way and one sentence at a time; then the server's memory over a soak.
/// </summary>
public static class ServeBenchmark
{
    /// <summary>The figures as one JSON object; a line per phase goes to `progress`.</summary>
    public static JsonObject Run(Uri server, Translator translator, IReadOnlyList<string> lines, ServeLoad load, TextWriter progress)
    {
        load.Validate();
        if (lines.Count == 0) throw new UserError("the benchmark input has no lines");
        var limit = TimeSpan.FromMinutes(load.MaxMinutes);
        var result = new JsonObject { ["impl"] = "translation-trainer", ["beam"] = translator.Options.Beam, ["lines"] = lines.Count };

        // In-process, while the server idles: the whole file as `translate` does it, then sentence by sentence.
        translator.TranslateAll([.. lines.Take(64)]); // warm-up
        var clock = Stopwatch.StartNew();
        translator.TranslateAll(lines);
        double fileRate = lines.Count / clock.Elapsed.TotalSeconds;
        var single = lines.Take(load.LatencyRequests).Select(line =>
        {
            var start = Stopwatch.GetTimestamp();
            translator.TranslateAll([line]);
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        }).ToArray();
        var alone = new LoadResult(single.Length, single.Sum(), single, 0);
        result["file_sent_per_s"] = Math.Round(fileRate, 2);
        result["inprocess_single_p50_ms"] = Math.Round(alone.PercentileMs(0.5), 2);
        progress.WriteLine($"in-process: file {fileRate:F1} sentences/s; one sentence at a time p50 {alone.PercentileMs(0.5):F1} ms");

        using var clients = new LoadGenerator(server, "auto", Wait(LoadGenerator.TargetLanguage(server)));
        Wait(clients.Run(lines, 1, 8, limit)); // warm-up
        var c1 = Phase(clients, "c1", 1, [.. lines.Take(single.Length)], single.Length, limit, result, progress);
        result["c1_p50_ratio"] = Math.Round(c1.PercentileMs(0.5) / alone.PercentileMs(0.5), 3);
        var many = Phase(clients, $"c{load.Clients}", load.Clients, lines, load.Requests, limit, result, progress);
        result[$"c{load.Clients}_throughput_ratio"] = Math.Round(many.RequestsPerSecond / fileRate, 3);

        if (load.SoakRequests > 0)
        {
            // RSS once the server is warm (10% of the requests), then at the end.
            int warm = Math.Max(1, load.SoakRequests / 10);
            var first = Wait(clients.Run(lines, load.Clients, warm, limit));
            double warmRss = Wait(clients.Metrics())["process_resident_memory_bytes"] / (1 << 20);
            var rest = Wait(clients.Run(lines, load.Clients, load.SoakRequests - warm, limit));
            double endRss = Wait(clients.Metrics())["process_resident_memory_bytes"] / (1 << 20);
            result["soak_requests"] = first.Requests + rest.Requests;
            result["soak_failures"] = first.Failures + rest.Failures;
            result["server_rss_mb_warm"] = Math.Round(warmRss, 1);
            result["server_rss_mb_end"] = Math.Round(endRss, 1);
            result["server_rss_growth_pct"] = Math.Round(100 * (endRss / warmRss - 1), 2);
            progress.WriteLine($"soak: {first.Requests + rest.Requests} requests; server RSS {warmRss:F0} MB after {first.Requests}, {endRss:F0} MB at the end");
        }
        return result;
    }

    /// <summary>One load phase: its figures under `name_` in the result, the mean batch from the server's /metrics.</summary>
    private static LoadResult Phase(LoadGenerator clients, string name, int clientCount, IReadOnlyList<string> sentences, int count, TimeSpan limit, JsonObject result, TextWriter progress)
    {
        var before = Wait(clients.Metrics());
        var run = Wait(clients.Run(sentences, clientCount, count, limit));
        var after = Wait(clients.Metrics());
        double batches = after["tt_batch_sentences_count"] - before["tt_batch_sentences_count"];
        double meanBatch = batches == 0 ? 0 : (after["tt_batch_sentences_sum"] - before["tt_batch_sentences_sum"]) / batches;
        result[$"{name}_requests"] = run.Requests;
        result[$"{name}_failures"] = run.Failures;
        result[$"{name}_sent_per_s"] = Math.Round(run.RequestsPerSecond, 2);
        foreach (var q in new[] { 50, 95, 99 }) result[$"{name}_p{q}_ms"] = Math.Round(run.PercentileMs(q / 100.0), 2);
        result[$"{name}_mean_batch"] = Math.Round(meanBatch, 2);
        progress.WriteLine($"{name}: {clientCount} client(s), {run.Requests} requests ({run.Failures} failed) in {run.Seconds:F1} s = {run.RequestsPerSecond:F1} sentences/s; "
            + $"latency p50 {run.PercentileMs(0.5):F1} / p95 {run.PercentileMs(0.95):F1} / p99 {run.PercentileMs(0.99):F1} ms; mean batch {meanBatch:F1}");
        return run;
    }

    private static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();
}
