using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using TranslationTrainer.Decoding;

namespace TranslationTrainer.Serving;

/// <summary>The two translation endpoints: their fields, limits and answers.</summary>
internal static class TranslateEndpoints
{
    /// <summary>
    /// LibreTranslate's POST /translate: q (a text or an array of texts), source (the model's or "auto"), target,
    /// format (text), alternatives, api_key. A text of several lines is translated line by line.
    /// </summary>
    public static async Task<IResult> LibreTranslate(HttpContext context, TranslationServer server)
    {
        var options = server.Options;
        var translator = server.Translator;
        var fields = await RequestFields.ReadAsync(context.Request, options.MaxBodyBytes, context.RequestAborted);
        RequireKey(context, fields, options);
        var (texts, isArray) = fields.Texts("q") ?? throw new HttpError(400, "missing field 'q' (the text to translate)");
        var source = fields.String("source") ?? throw new HttpError(400, "missing field 'source'");
        var target = fields.String("target") ?? throw new HttpError(400, "missing field 'target'");
        if ((source != "auto" && source != options.SourceLanguage) || target != options.TargetLanguage)
            throw new HttpError(400, $"this server translates {options.SourceLanguage} to {options.TargetLanguage}, not {source} to {target}");
        if ((fields.String("format") ?? "text") is var format && format != "text")
            throw new HttpError(400, $"'format' must be text, got '{format}' (html is not supported)");
        int alternatives = fields.Int("alternatives") ?? 0;
        if (alternatives < 0 || alternatives > options.MaxAlternatives)
            throw new HttpError(400, $"'alternatives' must be between 0 and {options.MaxAlternatives}, got {alternatives}");

        CheckLengths(texts, "q", options);
        var lines = texts.Select(text => text.ReplaceLineEndings("\n").Split('\n')).ToArray();
        int count = lines.Sum(l => l.Length);
        if (count > options.MaxSentences) throw new HttpError(400, $"'q' has {count} lines; at most {options.MaxSentences} per request");
        var defaults = translator.Defaults;
        var decoding = defaults with { NBest = alternatives + 1, Beam = Math.Max(defaults.Beam, alternatives + 1), Alignment = false, AttentionMaps = false };
        var results = await translator.TranslateAsync([.. lines.SelectMany(l => l)], decoding, context.RequestAborted);

        // Each text's lines back together: its translation, then its k-th alternatives line by line.
        var translated = new List<string>();
        var alternativeLists = new List<List<string>>();
        int next = 0;
        foreach (var text in lines)
        {
            var own = results[next..(next += text.Length)];
            translated.Add(string.Join("\n", own.Select(r => r.Best)));
            alternativeLists.Add([.. Enumerable.Range(1, alternatives).Select(k => string.Join("\n", own.Select(r => r.NBest[Math.Min(k, r.NBest.Count - 1)].Text)))]);
        }
        var answer = new JsonObject
        {
            ["translatedText"] = isArray ? new JsonArray([.. translated.Select(t => (JsonNode)t)]) : translated[0],
        };
        if (alternatives > 0)
            answer["alternatives"] = isArray
                ? new JsonArray([.. alternativeLists.Select(a => (JsonNode)new JsonArray([.. a.Select(t => (JsonNode)t)]))])
                : new JsonArray([.. alternativeLists[0].Select(t => (JsonNode)t)]);
        // Nothing is detected: "auto" means the model's own source language, said with no confidence.
        if (source == "auto")
            answer["detectedLanguage"] = isArray
                ? new JsonArray([.. texts.Select(_ => (JsonNode)DetectedLanguage(options))])
                : DetectedLanguage(options);
        return Results.Json(answer);
    }

    private static JsonObject DetectedLanguage(ServerOptions options) => new() { ["language"] = options.SourceLanguage, ["confidence"] = 0 };

    /// <summary>
    /// Our POST /v1/translate: texts (or text), beam, length_penalty, nbest, alignment, attention, api_key.
    /// Answers {"translations": [...]} in `translate --output-format json`'s shape, with the chosen options.
    /// </summary>
    public static async Task<IResult> Translate(HttpContext context, TranslationServer server)
    {
        var options = server.Options;
        var translator = server.Translator;
        var fields = await RequestFields.ReadAsync(context.Request, options.MaxBodyBytes, context.RequestAborted);
        RequireKey(context, fields, options);
        var (texts, _) = fields.Texts("texts") ?? fields.Texts("text") ?? throw new HttpError(400, "missing field 'texts' (an array of sentences) or 'text'");
        if (texts.Count > options.MaxSentences) throw new HttpError(400, $"'texts' has {texts.Count} sentences; at most {options.MaxSentences} per request");
        CheckLengths(texts, "texts", options);
        for (int i = 0; i < texts.Count; i++)
            if (texts[i].AsSpan().IndexOfAny('\n', '\r') >= 0) throw new HttpError(400, $"texts[{i}] has a line break; send one sentence per text");
        var defaults = translator.Defaults;
        int beam = fields.Int("beam") ?? defaults.Beam;
        if (beam < 1 || beam > options.MaxBeam) throw new HttpError(400, $"'beam' must be between 1 and {options.MaxBeam}, got {beam}");
        int maxNBest = Math.Min(beam, options.MaxAlternatives + 1);
        int nbest = fields.Int("nbest") ?? 1;
        if (nbest < 1 || nbest > maxNBest) throw new HttpError(400, $"'nbest' must be between 1 and {maxNBest} (the beam, and --max-alternatives + 1), got {nbest}");
        double lengthPenalty = fields.Double("length_penalty") ?? defaults.LengthPenalty;
        if (lengthPenalty < 0) throw new HttpError(400, $"'length_penalty' must not be negative, got {lengthPenalty}");
        var decoding = defaults with
        {
            Beam = beam, NBest = nbest, LengthPenalty = lengthPenalty,
            Alignment = fields.Bool("alignment") ?? false, AttentionMaps = fields.Bool("attention") ?? false,
        };
        var results = await translator.TranslateAsync(texts, decoding, context.RequestAborted);
        return Results.Json(new JsonObject
        {
            ["translations"] = new JsonArray([.. results.Select(r => (JsonNode)TranslationJson.Create(r))]),
            ["beam"] = beam,
            ["nbest"] = nbest,
            ["length_penalty"] = lengthPenalty,
        });
    }

    private static void CheckLengths(IReadOnlyList<string> texts, string field, ServerOptions options)
    {
        for (int i = 0; i < texts.Count; i++)
            if (texts[i].Length > options.MaxCharacters)
                throw new HttpError(400, $"{field}[{i}] has {texts[i].Length:N0} characters; at most {options.MaxCharacters:N0}");
    }

    /// <summary>With --api-key, the key comes as X-API-Key, Authorization: Bearer, or the api_key field (LibreTranslate's).</summary>
    private static void RequireKey(HttpContext context, RequestFields fields, ServerOptions options)
    {
        if (options.ApiKey is null) return;
        string? given = context.Request.Headers["X-API-Key"].FirstOrDefault();
        if (given is null && context.Request.Headers.Authorization.FirstOrDefault() is { } authorization && authorization.StartsWith("Bearer ", StringComparison.Ordinal))
            given = authorization["Bearer ".Length..];
        given ??= fields.String("api_key");
        if (given is null) throw new HttpError(403, "this server needs an API key (X-API-Key header, Authorization: Bearer, or api_key field)");
        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(options.ApiKey)))
            throw new HttpError(403, "invalid API key");
    }
}
