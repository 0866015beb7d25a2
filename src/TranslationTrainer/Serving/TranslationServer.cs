using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TranslationTrainer.Decoding;

namespace TranslationTrainer.Serving;

/// <summary>A loaded model as `serve` offers it: the translator, its decoding workers, and what /health tells about it.</summary>
public sealed record ServedModel(Translator Translator, int Workers, JsonObject Description);

/// <summary>
/// `serve`: Kestrel on one address with LibreTranslate's POST /translate, our POST /v1/translate, GET /languages,
/// /health, /metrics, /openapi/v1.json and the playground page at /. It listens at once and loads the model in the
/// background, so /health tells an orchestrator when it is ready. Stopping refuses new connections, answers the
/// requests in flight, then stops the decoding workers.
/// </summary>
public sealed class TranslationServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly ServerOptions options;
    private readonly ServerMetrics metrics = new();
    private readonly Serilog.ILogger log;
    private volatile BatchingTranslator? translator;
    private JsonObject description = []; // what /health tells about the loaded model
    private volatile bool stopping;

    private TranslationServer(WebApplication app, ServerOptions options, Serilog.ILogger log)
    {
        this.app = app;
        this.options = options;
        this.log = log;
    }

    /// <summary>The address it listens on (with the real port when <see cref="ServerOptions.Port"/> is 0).</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Completes when the model is loaded; faults with the loading error.</summary>
    public Task Loaded { get; private set; } = null!;

    public ServerMetrics Metrics => metrics;

    public static async Task<TranslationServer> StartAsync(ServerOptions options, Func<ServedModel> loadModel, Serilog.ILogger log)
    {
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders(); // what matters is logged through Serilog here, the rest is in /metrics
        builder.Services.AddSingleton<IHostLifetime, CallerStopsLifetime>();
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(options.RequestTimeoutSeconds + 5));
        builder.Services.AddOpenApi();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // Room beyond our own limit (RequestFields) lets Kestrel drain a refused body, so the 413 is not lost in a reset.
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes + (1 << 20);
            kestrel.AddServerHeader = false;
            if (options.Host == "localhost") kestrel.ListenLocalhost(options.Port);
            else if (IPAddress.TryParse(options.Host, out var address)) kestrel.Listen(address, options.Port);
            else throw new UserError($"`host` must be an IP address or localhost, got '{options.Host}'");
        });
        var server = new TranslationServer(builder.Build(), options, log);
        server.MapEndpoints();
        try
        {
            await server.app.StartAsync();
        }
        catch (IOException e)
        {
            await server.app.DisposeAsync();
            throw new UserError($"cannot listen on {options.Host}:{options.Port}: {e.Message}");
        }
        server.Address = new Uri(server.app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        server.Loaded = Task.Run(() =>
        {
            ServedModel model;
            try { model = loadModel(); }
            catch (Exception e) when (e is not UserError) { log.Error(e, "Loading the model failed"); throw; } // a UserError is the caller's one line
            server.description = model.Description;
            server.translator = new BatchingTranslator(model.Translator, model.Workers, options, server.metrics); // last: it means ready
        });
        return server;
    }

    private void MapEndpoints()
    {
        app.Use(Answer);
        app.MapGet("/", () => Results.Content(Playground.Html(options), "text/html; charset=utf-8"))
            .WithSummary("The playground: a page to try the model in a browser.").ExcludeFromDescription();
        app.MapGet("/health", Health).WithSummary("200 once the model is loaded, 503 while it loads or the server stops.");
        app.MapGet("/languages", Languages).WithSummary("LibreTranslate's language list: the model's source language and its target.")
            .Produces<ApiShapes.Language[]>();
        app.MapPost("/translate", (Func<HttpContext, Task<IResult>>)(context => TranslateEndpoints.LibreTranslate(context, this)))
            .WithSummary("LibreTranslate-compatible translation (JSON or form body).")
            .Accepts<ApiShapes.LibreTranslateRequest>("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
            .Produces<ApiShapes.LibreTranslateResponse>().Produces<ApiShapes.Error>(400).Produces<ApiShapes.Error>(403).Produces<ApiShapes.Error>(503);
        app.MapPost("/v1/translate", (Func<HttpContext, Task<IResult>>)(context => TranslateEndpoints.Translate(context, this)))
            .WithSummary("Translation with decoding options, scored n-best lists, alignments and cross-attention.")
            .Accepts<ApiShapes.TranslateRequest>("application/json", "application/x-www-form-urlencoded")
            .Produces<ApiShapes.TranslateResponse>().Produces<ApiShapes.Error>(400).Produces<ApiShapes.Error>(403).Produces<ApiShapes.Error>(503);
        app.MapGet("/metrics", () => Results.Text(metrics.Render(), "text/plain; version=0.0.4; charset=utf-8"))
            .WithSummary("Prometheus metrics.");
        app.MapOpenApi();
    }

    internal ServerOptions Options => options;

    /// <summary>The batching translator, or 503 while the model loads (or after it failed to).</summary>
    internal BatchingTranslator Translator => translator ?? throw (Loaded.IsFaulted
        ? new HttpError(503, "the model failed to load")
        : new HttpError(503, "the model is still loading; retry later", retryAfterSeconds: 1));

    private IResult Health()
    {
        if (stopping) return Results.Json(new JsonObject { ["status"] = "stopping" }, statusCode: 503);
        if (Loaded.IsFaulted) return Results.Json(new JsonObject { ["status"] = "failed" }, statusCode: 503);
        if (translator is null) return Results.Json(new JsonObject { ["status"] = "loading" }, statusCode: 503);
        var health = (JsonObject)description.DeepClone();
        health["status"] = "ready";
        health["source"] = options.SourceLanguage;
        health["target"] = options.TargetLanguage;
        health["workers"] = translator.Workers;
        health["api_key_required"] = options.ApiKey is not null;
        return Results.Json(health);
    }

    private IResult Languages() => Results.Json(new JsonArray(new JsonObject
    {
        ["code"] = options.SourceLanguage,
        ["name"] = ApiShapes.LanguageName(options.SourceLanguage),
        ["targets"] = new JsonArray(options.TargetLanguage),
    }));

    /// <summary>
    /// Every request passes here: user errors become {"error": ...} with their status, anything else a logged 500;
    /// empty 404/405 answers get a JSON error too; each request is counted in the metrics.
    /// </summary>
    private async Task Answer(HttpContext context, RequestDelegate next)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            await next(context);
            if (!context.Response.HasStarted && context.Response.StatusCode is 404 or 405 && context.Response.ContentLength is null)
                await Error(context, context.Response.StatusCode, context.Response.StatusCode == 404
                    ? $"no such endpoint: {context.Request.Path}" : $"{context.Request.Method} is not allowed on {context.Request.Path}");
        }
        catch (HttpError e) when (!context.Response.HasStarted)
        {
            if (e.RetryAfterSeconds is { } seconds) context.Response.Headers.RetryAfter = seconds.ToString();
            await Error(context, e.Status, e.Message);
        }
        catch (UserError e) when (!context.Response.HasStarted)
        {
            await Error(context, 400, e.Message);
        }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            await Error(context, e.StatusCode, e.Message);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer.
        }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            log.Error(e, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
            await Error(context, 500, "internal error (logged by the server)");
        }
        finally
        {
            var endpoint = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "other";
            metrics.Request(endpoint, context.Response.StatusCode, clock.Elapsed.TotalSeconds);
        }
    }

    private static Task Error(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        // One line, as every user-facing error of the tool.
        return context.Response.WriteAsJsonAsync(new JsonObject { ["error"] = message.ReplaceLineEndings(" ") });
    }

    /// <summary>Stops listening, answers the requests in flight, then stops the decoding workers.</summary>
    public async Task StopAsync()
    {
        if (stopping) return;
        stopping = true;
        await app.StopAsync();
        try { await Loaded; } catch (Exception) { } // a failed load has nothing to stop
        translator?.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await app.DisposeAsync();
    }

    /// <summary>The host's default lifetime would take SIGINT/SIGTERM; the caller decides when to stop instead.</summary>
    private sealed class CallerStopsLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancel) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancel) => Task.CompletedTask;
    }
}
