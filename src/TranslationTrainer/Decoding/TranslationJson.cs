using System.Text.Json.Nodes;

namespace TranslationTrainer.Decoding;

/// <summary>
/// A translation as JSON, the one shape `translate --output-format json` prints and `serve`'s /v1/translate answers:
/// {"source", "translation", "nbest": [{"translation", "score", "attention"?}], "alignment"?}.
/// </summary>
public static class TranslationJson
{
    public static JsonObject Create(TranslationResult result)
    {
        var json = new JsonObject
        {
            ["source"] = result.Source,
            ["translation"] = result.Best,
            ["nbest"] = new JsonArray([.. result.NBest.Select((h, k) =>
            {
                var entry = new JsonObject { ["translation"] = h.Text, ["score"] = Math.Round(h.Score, 5) };
                if (result.Attentions is { } maps) entry["attention"] = Attention(maps[k]);
                return (JsonNode)entry;
            })]),
        };
        if (result.Alignment is { } alignment)
            json["alignment"] = new JsonArray([.. alignment.Select(a => (JsonNode)new JsonArray(a.Target, a.Source))]);
        return json;
    }

    /// <summary>{"source_tokens", "target_tokens", "weights"}: weights[t][s], the mean over heads, rounded to 4 places.</summary>
    private static JsonObject Attention(AttentionMap map)
    {
        var average = map.Average();
        return new JsonObject
        {
            ["source_tokens"] = new JsonArray([.. map.SourceTokens.Select(t => (JsonNode)t)]),
            ["target_tokens"] = new JsonArray([.. map.TargetTokens.Select(t => (JsonNode)t)]),
            ["weights"] = new JsonArray([.. Enumerable.Range(0, map.TargetTokens.Count).Select(t =>
                (JsonNode)new JsonArray([.. Enumerable.Range(0, map.SourceTokens.Count).Select(s => (JsonNode)Math.Round(average[t, s], 4))]))]),
        };
    }
}
