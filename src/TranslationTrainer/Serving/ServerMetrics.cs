using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace TranslationTrainer.Serving;

/// <summary>
/// What `GET /metrics` reports, in Prometheus' text format: requests by endpoint and status, errors, the queue,
/// batch sizes, request latency, sentences and subwords translated, and the process' resident memory.
/// </summary>
public sealed class ServerMetrics
{
    private static readonly double[] LatencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
    private static readonly double[] BatchBuckets = [1, 2, 4, 8, 16, 32, 64, 128];

    private readonly ConcurrentDictionary<(string Endpoint, int Status), long> requests = new();
    private readonly ConcurrentDictionary<string, Histogram> latency = new();
    private readonly Histogram batches = new(BatchBuckets);
    private long sentences, sourceSubwords, targetSubwords, queueLength;

    /// <summary>A finished HTTP request: its endpoint (route, or "other"), status and seconds taken.</summary>
    public void Request(string endpoint, int status, double seconds)
    {
        requests.AddOrUpdate((endpoint, status), 1, (_, count) => count + 1);
        latency.GetOrAdd(endpoint, _ => new Histogram(LatencyBuckets)).Observe(seconds);
    }

    /// <summary>A decoded batch: its sentences and their source and output subwords.</summary>
    public void Batch(int sentenceCount, long source, long target)
    {
        batches.Observe(sentenceCount);
        Interlocked.Add(ref sentences, sentenceCount);
        Interlocked.Add(ref sourceSubwords, source);
        Interlocked.Add(ref targetSubwords, target);
    }

    public void QueueLength(int length) => Interlocked.Exchange(ref queueLength, length);

    public long Sentences => Interlocked.Read(ref sentences);

    /// <summary>The mean sentences per decoded batch so far.</summary>
    public double MeanBatchSize => batches.Mean;

    public string Render()
    {
        var text = new StringBuilder();
        Header(text, "tt_http_requests_total", "counter", "HTTP requests answered, by endpoint and status code.");
        foreach (var ((endpoint, status), count) in requests.OrderBy(r => r.Key))
            text.Append($"tt_http_requests_total{{endpoint=\"{endpoint}\",code=\"{status}\"}} {count}\n");
        Header(text, "tt_http_request_errors_total", "counter", "HTTP requests answered with a status of 400 or more, by endpoint.");
        foreach (var group in requests.Where(r => r.Key.Status >= 400).GroupBy(r => r.Key.Endpoint).OrderBy(g => g.Key, StringComparer.Ordinal))
            text.Append($"tt_http_request_errors_total{{endpoint=\"{group.Key}\"}} {group.Sum(r => r.Value)}\n");
        Header(text, "tt_http_request_duration_seconds", "histogram", "Time from a request's arrival to its answer, by endpoint.");
        foreach (var (endpoint, histogram) in latency.OrderBy(l => l.Key, StringComparer.Ordinal))
            histogram.Render(text, "tt_http_request_duration_seconds", $"endpoint=\"{endpoint}\"");
        Header(text, "tt_queue_sentences", "gauge", "Sentences waiting for a decoding worker.");
        text.Append($"tt_queue_sentences {Interlocked.Read(ref queueLength)}\n");
        Header(text, "tt_batch_sentences", "histogram", "Sentences per decoded batch.");
        batches.Render(text, "tt_batch_sentences", null);
        Header(text, "tt_sentences_translated_total", "counter", "Sentences translated.");
        text.Append($"tt_sentences_translated_total {Sentences}\n");
        Header(text, "tt_source_subwords_total", "counter", "Source subwords translated, </s> included.");
        text.Append($"tt_source_subwords_total {Interlocked.Read(ref sourceSubwords)}\n");
        Header(text, "tt_target_subwords_total", "counter", "Subwords of the best outputs, </s> excluded.");
        text.Append($"tt_target_subwords_total {Interlocked.Read(ref targetSubwords)}\n");
        Header(text, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        text.Append($"process_resident_memory_bytes {Environment.WorkingSet}\n");
        return text.ToString();
    }

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append($"# HELP {name} {help}\n# TYPE {name} {type}\n");

    /// <summary>A Prometheus histogram: cumulative counts per upper bound, the sum and the count.</summary>
    private sealed class Histogram(double[] bounds)
    {
        private readonly long[] counts = new long[bounds.Length + 1];
        private double sum;
        private long count;

        public double Mean { get { lock (counts) return count == 0 ? 0 : sum / count; } }

        public void Observe(double value)
        {
            lock (counts)
            {
                int bucket = Array.FindIndex(bounds, bound => value <= bound);
                counts[bucket < 0 ? bounds.Length : bucket]++;
                sum += value;
                count++;
            }
        }

        public void Render(StringBuilder text, string name, string? labels)
        {
            lock (counts)
            {
                string prefix = labels is null ? "" : labels + ",";
                long cumulative = 0;
                for (int i = 0; i < bounds.Length; i++)
                {
                    cumulative += counts[i];
                    text.Append($"{name}_bucket{{{prefix}le=\"{bounds[i].ToString(CultureInfo.InvariantCulture)}\"}} {cumulative}\n");
                }
                text.Append($"{name}_bucket{{{prefix}le=\"+Inf\"}} {count}\n");
                string braces = labels is null ? "" : $"{{{labels}}}";
                text.Append($"{name}_sum{braces} {sum.ToString("R", CultureInfo.InvariantCulture)}\n{name}_count{braces} {count}\n");
            }
        }
    }
}
