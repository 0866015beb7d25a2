using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.RegularExpressions;

namespace TranslationTrainer.Serving;

/// <summary>What one load phase measured: requests answered, wall time and each request's latency.</summary>
public sealed record LoadResult(int Requests, double Seconds, double[] LatencySeconds, int Failures)
{
    public double RequestsPerSecond => Requests / Seconds;

    /// <summary>The q-quantile of the latencies (nearest rank), in milliseconds.</summary>
    public double PercentileMs(double q)
    {
        var sorted = LatencySeconds.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : 1000 * sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>
/// `benchmark serve`'s clients: N concurrent loopback clients, each sending one sentence per LibreTranslate request and
/// waiting for its answer before sending the next, until a request count is reached. Also reads the server's /metrics.
/// </summary>
public sealed class LoadGenerator(Uri server, string source, string target) : IDisposable
{
    private readonly HttpClient client = new(new SocketsHttpHandler { MaxConnectionsPerServer = 1024, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
    {
        BaseAddress = server, Timeout = TimeSpan.FromMinutes(5),
    };

    /// <summary>
    /// Sends sentences[i % count] for i = 0 … requests − 1 from `clients` concurrent clients; no request is started
    /// after `limit`, so a slow server bounds the run by time as well as by count.
    /// </summary>
    public async Task<LoadResult> Run(IReadOnlyList<string> sentences, int clients, int requests, TimeSpan limit)
    {
        var latencies = new double[requests];
        int next = -1, failures = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            for (int i; clock.Elapsed < limit && (i = Interlocked.Increment(ref next)) < requests;)
            {
                var sent = Stopwatch.GetTimestamp();
                using var response = await client.PostAsJsonAsync("translate", new { q = sentences[i % sentences.Count], source, target, format = "text" });
                await response.Content.ReadAsByteArrayAsync();
                latencies[i] = Stopwatch.GetElapsedTime(sent).TotalSeconds;
                if (!response.IsSuccessStatusCode) Interlocked.Increment(ref failures);
            }
        }));
        int sentCount = Math.Min(next + 1, requests);
        // A client that saw the time limit took no index; each index below next + 1 was sent and answered.
        return new LoadResult(sentCount, clock.Elapsed.TotalSeconds, latencies[..sentCount], failures);
    }

    /// <summary>The server's metrics that have no labels, by name (histograms as name_sum and name_count).</summary>
    public async Task<Dictionary<string, double>> Metrics()
    {
        var text = await client.GetStringAsync("metrics");
        return Regex.Matches(text, @"^([a-z_]+) ([0-9.eE+-]+)$", RegexOptions.Multiline)
            .ToDictionary(m => m.Groups[1].Value, m => double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>The target language a ready server names on /health, which LibreTranslate requests must give.</summary>
    public static async Task<string> TargetLanguage(Uri server)
    {
        using var probe = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            using var health = await probe.GetAsync("health");
            var json = System.Text.Json.Nodes.JsonNode.Parse(await health.Content.ReadAsStringAsync());
            return health.IsSuccessStatusCode && json?["target"] is { } target ? target.GetValue<string>()
                : throw new UserError($"{server}: the server is not ready ({(int)health.StatusCode})");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            throw new UserError($"{server}: no translation server answers ({e.Message})");
        }
    }

    public void Dispose() => client.Dispose();
}
