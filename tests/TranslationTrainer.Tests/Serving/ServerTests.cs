using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Serilog.Core;
using TranslationTrainer.Decoding;
using TranslationTrainer.Model;
using TranslationTrainer.Serving;
using TranslationTrainer.Tests.Cli;
using TranslationTrainer.Tests.Training;
using static TorchSharp.torch;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Tests.Serving;

/// <summary>A real Kestrel on a loopback port in front of the tiny trained run, and a client for it.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    /// <summary>Short outputs, so that the tests take milliseconds; `translate` is run with the same values.</summary>
    public static readonly DecodingOptions Decoding = new() { Beam = 3, MaxLenA = 0, MaxLenB = 10 };
    public static readonly string[] DecodingArgs = ["--beam", "3", "--max-len-a", "0", "--max-len-b", "10", "--precision", "fp32", "--device", "cpu"];

    public TranslationServer Server { get; }
    public HttpClient Client { get; }

    private TestServer(TranslationServer server)
    {
        Server = server;
        Client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public static ServedModel LoadTinyRun(int workers = 1)
    {
        var (model, vocab) = ModelLoader.LoadModel(TinyRun.TrainedRunDirectory, null, CPU, Precision.Float32);
        return new ServedModel(new Translator(model, vocab, Decoding, CPU), workers, new JsonObject { ["checkpoint"] = "tiny" });
    }

    public static async Task<TestServer> StartAsync(ServerOptions? options = null, Func<ServedModel>? load = null)
    {
        options ??= new ServerOptions();
        var server = await TranslationServer.StartAsync(options with { Port = 0, SourceLanguage = "es", TargetLanguage = "en" }, load ?? (() => LoadTinyRun()), Logger.None);
        await server.Loaded;
        return new TestServer(server);
    }

    public Task<HttpResponseMessage> PostJson(string path, object body, string? apiKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        if (apiKey is not null) request.Headers.Add("X-API-Key", apiKey);
        return Client.SendAsync(request);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
    }
}

[Collection(TorchCollection.Name)]
public class ServerTests
{
    private static string[] Sentences(int count) => [.. File.ReadLines(Path.Combine(TinyRun.Directory, "valid.es")).Take(count)];

    /// <summary>What `translate` prints for these lines with the test server's decoding options.</summary>
    private static string[] TranslateCli(string[] lines, params string[] more)
    {
        var input = Path.Combine(Directory.CreateTempSubdirectory("tt-serve").FullName, "input.es");
        File.WriteAllLines(input, lines);
        var result = CliRunner.Run(["translate", "--checkpoint", TinyRun.TrainedRunDirectory, "--input", input, .. TestServer.DecodingArgs, .. more]);
        Assert.True(result.ExitCode == 0, result.Error);
        return result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private static async Task<JsonNode> Json(HttpResponseMessage response, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!;
    }

    /// <summary>An error answer: the status, one line of JSON {"error": ...} containing the words expected, no stack trace.</summary>
    private static async Task AssertError(HttpResponseMessage response, HttpStatusCode status, string expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.DoesNotContain('\n', text);
        var error = JsonNode.Parse(text)!["error"]!.GetValue<string>();
        Assert.Contains(expected, error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public async Task LibreTranslateRequestShapesGiveTranslatesOutputs()
    {
        var lines = Sentences(4);
        var expected = TranslateCli(lines);
        await using var server = await TestServer.StartAsync();

        var one = await Json(await server.PostJson("/translate", new { q = lines[0], source = "es", target = "en", format = "text" }));
        Assert.Equal(expected[0], one["translatedText"]!.GetValue<string>());
        Assert.Null(one["alternatives"]);

        var many = await Json(await server.PostJson("/translate", new { q = lines, source = "es", target = "en" }));
        Assert.Equal(expected, many["translatedText"]!.AsArray().Select(t => t!.GetValue<string>()));

        var form = new FormUrlEncodedContent([new("q", lines[1]), new("source", "es"), new("target", "en")]);
        var fromForm = await Json(await server.Client.PostAsync("/translate", form));
        Assert.Equal(expected[1], fromForm["translatedText"]!.GetValue<string>());

        var multipart = new MultipartFormDataContent { { new StringContent(lines[2]), "q" }, { new StringContent("auto"), "source" }, { new StringContent("en"), "target" } };
        var fromMultipart = await Json(await server.Client.PostAsync("/translate", multipart));
        Assert.Equal(expected[2], fromMultipart["translatedText"]!.GetValue<string>());
        Assert.Equal("es", fromMultipart["detectedLanguage"]!["language"]!.GetValue<string>());

        // A text of several lines is translated line by line.
        var paragraph = await Json(await server.PostJson("/translate", new { q = $"{lines[0]}\n{lines[3]}", source = "es", target = "en" }));
        Assert.Equal($"{expected[0]}\n{expected[3]}", paragraph["translatedText"]!.GetValue<string>());
    }

    [Fact]
    public async Task AlternativesAreTheNextBestOfTheNBestList()
    {
        var lines = Sentences(2);
        await using var server = await TestServer.StartAsync();
        var answer = await Json(await server.PostJson("/translate", new { q = lines, source = "es", target = "en", alternatives = 2 }));
        var v1 = await Json(await server.PostJson("/v1/translate", new { texts = lines, beam = 3, nbest = 3 }));
        for (int i = 0; i < lines.Length; i++)
        {
            var nbest = v1["translations"]![i]!["nbest"]!.AsArray().Select(h => h!["translation"]!.GetValue<string>()).ToArray();
            Assert.Equal(nbest[0], answer["translatedText"]![i]!.GetValue<string>());
            Assert.Equal(nbest[1..], answer["alternatives"]![i]!.AsArray().Select(a => a!.GetValue<string>()));
        }
    }

    [Fact]
    public async Task V1TranslateMatchesTranslatesJsonWithScoresAlignmentsAndAttention()
    {
        var lines = Sentences(3);
        var expected = TranslateCli(lines, "--nbest", "2", "--output-format", "json", "--alignment").Select(l => JsonNode.Parse(l)!).ToArray();
        await using var server = await TestServer.StartAsync();
        var answer = await Json(await server.PostJson("/v1/translate", new { texts = lines, nbest = 2, alignment = true, attention = true }));
        Assert.Equal(3, answer["beam"]!.GetValue<int>());
        var translations = answer["translations"]!.AsArray();
        for (int i = 0; i < lines.Length; i++)
        {
            var got = translations[i]!;
            Assert.Equal(expected[i]["translation"]!.GetValue<string>(), got["translation"]!.GetValue<string>());
            Assert.Equal(expected[i]["alignment"]!.ToJsonString(), got["alignment"]!.ToJsonString());
            for (int k = 0; k < 2; k++)
            {
                var hypothesis = got["nbest"]![k]!;
                Assert.Equal(expected[i]["nbest"]![k]!["translation"]!.GetValue<string>(), hypothesis["translation"]!.GetValue<string>());
                Assert.Equal(expected[i]["nbest"]![k]!["score"]!.GetValue<double>(), hypothesis["score"]!.GetValue<double>(), 1e-4);
                // One row per output subword and </s>, one column per source subword and </s>; each row sums to 1.
                var attention = hypothesis["attention"]!;
                int rows = attention["target_tokens"]!.AsArray().Count, columns = attention["source_tokens"]!.AsArray().Count;
                var weights = attention["weights"]!.AsArray();
                Assert.Equal(rows, weights.Count);
                Assert.Equal("</s>", attention["target_tokens"]![rows - 1]!.GetValue<string>());
                Assert.All(weights, row =>
                {
                    Assert.Equal(columns, row!.AsArray().Count);
                    Assert.Equal(1.0, row.AsArray().Sum(w => w!.GetValue<double>()), 2);
                });
            }
        }
        // The n-best's second entry has its own map: its rows follow its own output.
        var second = translations[0]!["nbest"]![1]!;
        Assert.Equal(second["attention"]!["target_tokens"]!.AsArray().Count, second["attention"]!["weights"]!.AsArray().Count);
    }

    [Fact]
    public async Task BadRequestsGetOneLineJsonErrorsNamingTheField()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { MaxSentences = 3, MaxCharacters = 50, MaxBodyBytes = 2000, MaxAlternatives = 2 });
        async Task Post(string body, HttpStatusCode status, string expected, string path = "/translate") =>
            await AssertError(await server.Client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json")), status, expected);

        await Post("{\"q\": \"hola\", \"source\": \"es\"", HttpStatusCode.BadRequest, "not valid JSON");
        await Post("[1, 2]", HttpStatusCode.BadRequest, "must be a JSON object");
        await Post("", HttpStatusCode.BadRequest, "no body");
        await Post("{\"source\": \"es\", \"target\": \"en\"}", HttpStatusCode.BadRequest, "missing field 'q'");
        await Post("{\"q\": 5, \"source\": \"es\", \"target\": \"en\"}", HttpStatusCode.BadRequest, "'q' must be a string or an array of strings");
        await Post("{\"q\": [\"a\", 1], \"source\": \"es\", \"target\": \"en\"}", HttpStatusCode.BadRequest, "'q' must be a string or an array of strings");
        await Post("{\"q\": \"hola\", \"target\": \"en\"}", HttpStatusCode.BadRequest, "missing field 'source'");
        await Post("{\"q\": \"hola\", \"source\": \"es\", \"target\": \"de\"}", HttpStatusCode.BadRequest, "translates es to en, not es to de");
        await Post("{\"q\": \"hola\", \"source\": \"es\", \"target\": \"en\", \"format\": \"html\"}", HttpStatusCode.BadRequest, "'format' must be text");
        await Post("{\"q\": \"hola\", \"source\": \"es\", \"target\": \"en\", \"alternatives\": 3}", HttpStatusCode.BadRequest, "'alternatives' must be between 0 and 2");
        await Post("{\"q\": \"hola\", \"source\": \"es\", \"target\": \"en\", \"alternatives\": \"many\"}", HttpStatusCode.BadRequest, "'alternatives' must be a number");
        await Post("{\"q\": \"hola\", \"source\": \"es\", \"target\": \"en\", \"alternatives\": 1.5}", HttpStatusCode.BadRequest, "'alternatives' must be an integer");
        await Post("{\"q\": [\"a\", \"b\", \"c\", \"d\"], \"source\": \"es\", \"target\": \"en\"}", HttpStatusCode.BadRequest, "at most 3 per request");
        await Post("{\"q\": \"a\\nb\\nc\\nd\", \"source\": \"es\", \"target\": \"en\"}", HttpStatusCode.BadRequest, "at most 3 per request");
        await Post($"{{\"q\": \"{new string('a', 51)}\", \"source\": \"es\", \"target\": \"en\"}}", HttpStatusCode.BadRequest, "q[0] has 51 characters; at most 50");
        await Post($"{{\"q\": \"{new string('a', 3000)}\", \"source\": \"es\", \"target\": \"en\"}}", HttpStatusCode.RequestEntityTooLarge, "over 2,000 bytes");
        var chunked = new HttpRequestMessage(HttpMethod.Post, "/translate") { Content = new StringContent($"{{\"q\": \"{new string('a', 3000)}\"}}", Encoding.UTF8, "application/json") };
        chunked.Headers.TransferEncodingChunked = true; // no Content-Length: the limit is found while reading
        await AssertError(await server.Client.SendAsync(chunked), HttpStatusCode.RequestEntityTooLarge, "over 2,000 bytes");
        await Post("{\"texts\": [\"hola\"], \"beam\": 0}", HttpStatusCode.BadRequest, "'beam' must be between 1 and 16", "/v1/translate");
        await Post("{\"texts\": [\"hola\"], \"beam\": 2, \"nbest\": 3}", HttpStatusCode.BadRequest, "'nbest' must be between 1 and 2", "/v1/translate");
        await Post("{\"texts\": [\"hola\"], \"attention\": \"yes\"}", HttpStatusCode.BadRequest, "'attention' must be true or false", "/v1/translate");
        await Post("{\"texts\": [\"hola\\nadios\"]}", HttpStatusCode.BadRequest, "texts[0] has a line break", "/v1/translate");
        await Post("{\"beam\": 2}", HttpStatusCode.BadRequest, "missing field 'texts'", "/v1/translate");
        await AssertError(await server.Client.GetAsync("/nowhere"), HttpStatusCode.NotFound, "no such endpoint: /nowhere");
        await AssertError(await server.Client.GetAsync("/translate"), HttpStatusCode.MethodNotAllowed, "GET is not allowed on /translate");
    }

    [Fact]
    public async Task AnApiKeyIsNeededWhenSet()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { ApiKey = "s3cret" });
        var body = new { q = "hola", source = "es", target = "en" };
        await AssertError(await server.PostJson("/translate", body), HttpStatusCode.Forbidden, "needs an API key");
        await AssertError(await server.PostJson("/translate", body, apiKey: "wrong"), HttpStatusCode.Forbidden, "invalid API key");
        await AssertError(await server.PostJson("/v1/translate", new { texts = new[] { "hola" } }), HttpStatusCode.Forbidden, "needs an API key");
        await Json(await server.PostJson("/translate", body, apiKey: "s3cret"));
        await Json(await server.PostJson("/translate", new { q = "hola", source = "es", target = "en", api_key = "s3cret" }));
        var bearer = new HttpRequestMessage(HttpMethod.Post, "/v1/translate") { Content = JsonContent.Create(new { texts = new[] { "hola" } }) };
        bearer.Headers.Authorization = new("Bearer", "s3cret");
        await Json(await server.Client.SendAsync(bearer));
        // What tells a client about the server needs no key.
        Assert.True((await Json(await server.Client.GetAsync("/health")))["api_key_required"]!.GetValue<bool>());
        await Json(await server.Client.GetAsync("/languages"));
    }

    [Fact]
    public async Task HealthIsReadyOnlyOnceTheModelIsLoaded()
    {
        using var release = new ManualResetEventSlim();
        var server = await TranslationServer.StartAsync(new ServerOptions { Port = 0, SourceLanguage = "es", TargetLanguage = "en" },
            () => { release.Wait(); return TestServer.LoadTinyRun(); }, Logger.None);
        await using (server)
        {
            using var client = new HttpClient { BaseAddress = server.Address };
            var loading = await Json(await client.GetAsync("/health"), HttpStatusCode.ServiceUnavailable);
            Assert.Equal("loading", loading["status"]!.GetValue<string>());
            await AssertError(await client.PostAsync("/translate", JsonContent.Create(new { q = "hola", source = "es", target = "en" })),
                HttpStatusCode.ServiceUnavailable, "still loading");
            release.Set();
            await server.Loaded;
            var ready = await Json(await client.GetAsync("/health"));
            Assert.Equal("ready", ready["status"]!.GetValue<string>());
            Assert.Equal("es", ready["source"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task AModelThatFailsToLoadLeavesTheServerUnreadyWithAnError()
    {
        var server = await TranslationServer.StartAsync(new ServerOptions { Port = 0, SourceLanguage = "es", TargetLanguage = "en" },
            () => throw new UserError("checkpoint damaged"), Logger.None);
        await using (server)
        {
            await Assert.ThrowsAsync<UserError>(() => server.Loaded);
            using var client = new HttpClient { BaseAddress = server.Address };
            Assert.Equal("failed", (await Json(await client.GetAsync("/health"), HttpStatusCode.ServiceUnavailable))["status"]!.GetValue<string>());
            await AssertError(await client.PostAsync("/translate", JsonContent.Create(new { q = "hola", source = "es", target = "en" })),
                HttpStatusCode.ServiceUnavailable, "the model failed to load");
        }
    }

    [Fact]
    public async Task LanguagesMetricsAndOpenApiDescribeTheServer()
    {
        await using var server = await TestServer.StartAsync();
        var languages = await Json(await server.Client.GetAsync("/languages"));
        Assert.Equal("""[{"code":"es","name":"Spanish","targets":["en"]}]""", languages.ToJsonString());

        await Json(await server.PostJson("/translate", new { q = Sentences(2), source = "es", target = "en" }));
        await AssertError(await server.PostJson("/translate", new { q = "x" }), HttpStatusCode.BadRequest, "missing field 'source'");
        var metrics = await server.Client.GetStringAsync("/metrics");
        Assert.Contains("tt_http_requests_total{endpoint=\"/translate\",code=\"200\"} 1\n", metrics);
        Assert.Contains("tt_http_requests_total{endpoint=\"/translate\",code=\"400\"} 1\n", metrics);
        Assert.Contains("tt_http_request_errors_total{endpoint=\"/translate\"} 1\n", metrics);
        Assert.Contains("tt_sentences_translated_total 2\n", metrics);
        Assert.Contains("tt_queue_sentences 0\n", metrics);
        Assert.Contains("tt_batch_sentences_count ", metrics);
        Assert.Contains("tt_http_request_duration_seconds_bucket{endpoint=\"/translate\",le=\"+Inf\"} 2\n", metrics);
        Assert.Matches(@"process_resident_memory_bytes [1-9]\d+\n", metrics);

        var openApi = await Json(await server.Client.GetAsync("/openapi/v1.json"));
        var paths = openApi["paths"]!.AsObject().Select(p => p.Key).ToHashSet();
        Assert.Superset(paths, new HashSet<string>(["/translate", "/v1/translate", "/languages", "/health", "/metrics"]));
        Assert.NotNull(openApi["paths"]!["/translate"]!["post"]!["requestBody"]);

        var page = await server.Client.GetStringAsync("/");
        Assert.Contains("TranslationTrainer playground", page);
        Assert.DoesNotContain("http://", page.Replace("http://www.w3.org", "")); // no external assets
    }

    [Fact]
    public async Task ConcurrentRequestsJoinOneBatch()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { BatchWaitMs = 300 });
        var lines = Sentences(8);
        var expected = TranslateCli(lines);
        var answers = await Task.WhenAll(lines.Select(line => server.PostJson("/translate", new { q = line, source = "es", target = "en" })));
        for (int i = 0; i < lines.Length; i++)
            Assert.Equal(expected[i], (await Json(answers[i]))["translatedText"]!.GetValue<string>());
        Assert.True(server.Server.Metrics.MeanBatchSize >= 4, $"mean batch size {server.Server.Metrics.MeanBatchSize}");
    }

    [Fact]
    public async Task AFullQueueAnswers503WithRetryAfterAndALateRequestTimesOut()
    {
        // The first request's sentences wait 2 s for company: the queue stays full meanwhile.
        await using var server = await TestServer.StartAsync(new ServerOptions { MaxQueue = 2, BatchWaitMs = 2000, RequestTimeoutSeconds = 20 });
        var first = server.PostJson("/translate", new { q = Sentences(2), source = "es", target = "en" });
        while (server.Server.Metrics.Render().Contains("tt_queue_sentences 0\n")) await Task.Delay(5);
        var refused = await server.PostJson("/translate", new { q = "hola", source = "es", target = "en" });
        await AssertError(refused, HttpStatusCode.ServiceUnavailable, "the queue is full");
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter!.Delta);
        await Json(await first);

        await using var slow = await TestServer.StartAsync(new ServerOptions { BatchWaitMs = 5000, RequestTimeoutSeconds = 0.3 });
        await AssertError(await slow.PostJson("/translate", new { q = "hola", source = "es", target = "en" }), HttpStatusCode.ServiceUnavailable, "not translated within the 0.3 s");
    }

    [Fact]
    public async Task StoppingAnswersTheRequestInFlightThenRefusesConnections()
    {
        var server = await TestServer.StartAsync(new ServerOptions { BatchWaitMs = 1000 });
        var inFlight = server.PostJson("/translate", new { q = "hola", source = "es", target = "en" });
        while (server.Server.Metrics.Render().Contains("tt_queue_sentences 0\n")) await Task.Delay(5);
        var stopped = server.Server.StopAsync();
        var answer = await Json(await inFlight);
        Assert.False(string.IsNullOrEmpty(answer["translatedText"]!.GetValue<string>()));
        await stopped;
        await Assert.ThrowsAsync<HttpRequestException>(() => server.Client.GetAsync("/health"));
        await server.DisposeAsync();
    }

    [Fact]
    public async Task TwoWorkersShareTheQueueAndGiveTheSameTranslations()
    {
        var lines = Sentences(12);
        var expected = TranslateCli(lines);
        await using var server = await TestServer.StartAsync(new ServerOptions { BatchWaitMs = 50 }, () => TestServer.LoadTinyRun(workers: 2));
        var answers = await Task.WhenAll(lines.Select(line => server.PostJson("/v1/translate", new { text = line })));
        for (int i = 0; i < lines.Length; i++)
            Assert.Equal(expected[i], (await Json(answers[i]))["translations"]![0]!["translation"]!.GetValue<string>());
    }
}
