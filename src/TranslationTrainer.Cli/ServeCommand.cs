using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using TranslationTrainer.Decoding;
using TranslationTrainer.Serving;
using TranslationTrainer.Training;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Cli;

/// <summary>`serve`: an HTTP translation server (LibreTranslate's /translate, our /v1/translate, a playground) until SIGINT/SIGTERM.</summary>
public static class ServeCommand
{
    public static Command Create(CliContext context)
    {
        var defaults = new ServerOptions();
        var checkpoint = new Option<string>("--checkpoint") { Description = "checkpoint file, or run directory (its best checkpoint)", Required = true };
        var host = new Option<string>("--host") { Description = "address to listen on (an IP address or localhost; 0.0.0.0 for every interface)", DefaultValueFactory = _ => defaults.Host };
        var port = new Option<int>("--port") { Description = "port to listen on (0 = any free port, printed at start)", DefaultValueFactory = _ => defaults.Port };
        var batchWait = new Option<double>("--batch-wait-ms") { Description = "how long a sentence waits for others to join its batch", DefaultValueFactory = _ => defaults.BatchWaitMs };
        var maxBatchTokens = new Option<int>("--max-batch-tokens") { Description = "padded source subwords per batch (sentences × the longest)", DefaultValueFactory = _ => defaults.MaxBatchTokens };
        var maxQueue = new Option<int>("--max-queue") { Description = "sentences waiting for a worker; beyond it requests get 503 with Retry-After", DefaultValueFactory = _ => defaults.MaxQueue };
        var maxBody = new Option<long>("--max-body-bytes") { Description = "largest request body (413 above)", DefaultValueFactory = _ => defaults.MaxBodyBytes };
        var maxSentences = new Option<int>("--max-sentences") { Description = "texts (and lines within them) per request", DefaultValueFactory = _ => defaults.MaxSentences };
        var maxCharacters = new Option<int>("--max-characters") { Description = "characters per text", DefaultValueFactory = _ => defaults.MaxCharacters };
        var maxAlternatives = new Option<int>("--max-alternatives") { Description = "largest LibreTranslate 'alternatives' (and /v1 n-best − 1)", DefaultValueFactory = _ => defaults.MaxAlternatives };
        var maxBeam = new Option<int>("--max-beam") { Description = "largest beam a /v1 request may ask for", DefaultValueFactory = _ => defaults.MaxBeam };
        var timeout = new Option<double>("--request-timeout") { Description = "seconds a request may wait for its translation (503 after)", DefaultValueFactory = _ => defaults.RequestTimeoutSeconds };
        var apiKey = new Option<string?>("--api-key") { Description = "require this key on the translate endpoints (X-API-Key, Authorization: Bearer, or api_key)" };
        var sourceLang = new Option<string?>("--source-lang") { Description = "the model's source language code (default: the extension of the run's training source file)" };
        var targetLang = new Option<string?>("--target-lang") { Description = "the model's target language code (default: the extension of the run's training target file)" };
        var decoding = new TranslateCommand.DecodingOptionSet();
        var command = new Command("serve", "Serve a trained model over HTTP: LibreTranslate-compatible POST /translate, POST /v1/translate, a playground at /, /health, /metrics.")
            { checkpoint, host, port, batchWait, maxBatchTokens, maxQueue, maxBody, maxSentences, maxCharacters, maxAlternatives, maxBeam, timeout, apiKey, sourceLang, targetLang };
        decoding.AddTo(command);
        command.SetAction(parse => context.Guard(() =>
        {
            var decodingOptions = decoding.Read(parse);
            // A missing or damaged checkpoint, or the wrong vocabulary, is refused before the server listens.
            var (checkpointPath, _) = ModelLoader.Open(parse.GetValue(checkpoint)!, parse.GetValue(decoding.Vocab));
            var (source, target) = Languages(checkpointPath, parse.GetValue(sourceLang), parse.GetValue(targetLang));
            var options = new ServerOptions
            {
                Host = parse.GetValue(host)!, Port = parse.GetValue(port), BatchWaitMs = parse.GetValue(batchWait), MaxBatchTokens = parse.GetValue(maxBatchTokens),
                MaxQueue = parse.GetValue(maxQueue), MaxBodyBytes = parse.GetValue(maxBody), MaxSentences = parse.GetValue(maxSentences),
                MaxCharacters = parse.GetValue(maxCharacters), MaxAlternatives = parse.GetValue(maxAlternatives), MaxBeam = parse.GetValue(maxBeam),
                RequestTimeoutSeconds = parse.GetValue(timeout), ApiKey = parse.GetValue(apiKey), SourceLanguage = source, TargetLanguage = target,
            };
            options.Validate();
            using var log = RunLog.Create(null);
            using var signals = new SignalCancellation();
            ServedModel Load()
            {
                var (translator, device, precision) = decoding.Load(parse, checkpointPath, decodingOptions, message => log.Warning("{Message}", message));
                // Requests carry text: a speech model would read their lines as paths of files on this machine.
                if (translator.ReadsSpeech) throw new UserError($"{checkpointPath}: a speech model; serve translates text (translate --input FILE decodes audio)");
                int workers = Workers.Resolve(decodingOptions.Workers, device);
                var backend = translator.WorkerBackend(workers);
                log.Information("Model {Checkpoint} loaded: {Source} → {Target}, device {Device}, precision {Precision}, backend {Backend}, {Workers} decoding worker(s), beam {Beam}",
                    checkpointPath, source, target, device.type.ToString().ToLowerInvariant(), precision.Name, backend, workers, decodingOptions.Beam);
                return new ServedModel(translator, workers, new JsonObject
                {
                    ["checkpoint"] = checkpointPath, ["device"] = device.type.ToString().ToLowerInvariant(), ["precision"] = precision.Name, ["backend"] = backend,
                    ["beam"] = decodingOptions.Beam,
                });
            }
            var server = TranslationServer.StartAsync(options, Load, log).GetAwaiter().GetResult();
            log.Information("Listening on {Address} (playground: {Address}, LibreTranslate API: POST {Address}translate); Ctrl-C stops", server.Address, server.Address, server.Address);
            try
            {
                // Until a signal, or until loading the model fails.
                Task.WaitAny(server.Loaded.ContinueWith(_ => { }, TaskScheduler.Default), Task.Delay(Timeout.Infinite, signals.Token));
                if (server.Loaded.IsFaulted) throw server.Loaded.Exception!.InnerException!;
                signals.Token.WaitHandle.WaitOne();
                log.Information("Stopping: no new connections; answering the requests in flight");
                return 0;
            }
            finally
            {
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
                log.Information("Stopped after translating {Sentences} sentences", server.Metrics.Sentences);
            }
        }));
        return command;
    }

    /// <summary>The model's language codes: as given, else the extensions of the run's training files (train.es → es).</summary>
    private static (string Source, string Target) Languages(string checkpointPath, string? source, string? target)
    {
        if (source is not null && target is not null) return (source, target);
        var config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(checkpointPath))!, RunDirectory.Config);
        string? FromConfig(string key)
        {
            if (!File.Exists(config)) return null;
            try
            {
                using var document = JsonDocument.Parse(File.ReadAllText(config));
                return document.RootElement.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.String
                    && Path.GetExtension(value.GetString()!).TrimStart('.') is { Length: >= 2 and <= 8 } extension && extension.All(char.IsLetter) ? extension : null;
            }
            catch (JsonException)
            {
                return null;
            }
        }
        source ??= FromConfig("trainSrc");
        target ??= FromConfig("trainTgt");
        if (source is null || target is null)
            throw new UserError($"cannot tell the model's languages from {config}; give --source-lang and --target-lang");
        return (source, target);
    }
}
