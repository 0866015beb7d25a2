using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using TranslationTrainer.Evaluation;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Report;

/// <summary>The report as one HTML page: inline CSS, images embedded as data URIs, every piece of text escaped.</summary>
public static class ReportPage
{
    public const string SummaryHeading = "Summary", TrainingHeading = "Training", ValidationHeading = "Validation",
        LengthHeading = "Test scores by source length", AttentionHeading = "Attention", ConfigHeading = "Configuration";

    public static readonly IReadOnlyList<string> Headings = [SummaryHeading, TrainingHeading, ValidationHeading, LengthHeading, AttentionHeading, ConfigHeading];

    /// <summary>The look of the report, which the comparison page shares.</summary>
    internal const string Style = """
        body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #222; background: #fafafa; margin: 0; }
        main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 64px; background: #fff; }
        h1 { font-size: 1.7em; margin-bottom: 0.2em; }
        h2 { font-size: 1.3em; border-bottom: 2px solid #e3e3e3; padding-bottom: 4px; margin-top: 2.2em; }
        h3 { font-size: 1.05em; margin-bottom: 0.4em; }
        .muted { color: #666; }
        .figures { display: flex; gap: 16px; flex-wrap: wrap; margin: 16px 0; }
        .figure { border: 1px solid #ddd; border-radius: 6px; padding: 10px 18px; min-width: 140px; }
        .figure .value { font-size: 2em; font-weight: 600; }
        .figure .label { color: #666; font-size: 0.9em; }
        table { border-collapse: collapse; margin: 10px 0; }
        th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; vertical-align: top; }
        th { background: #f2f2f2; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        code, .sig { font-family: "DejaVu Sans Mono", monospace; font-size: 0.85em; word-break: break-all; }
        img { max-width: 100%; height: auto; display: block; margin: 8px 0; border: 1px solid #eee; }
        .heads { display: grid; grid-template-columns: repeat(2, 1fr); gap: 8px; }
        .sentence { margin: 4px 0; }
        .sentence b { display: inline-block; width: 7em; color: #555; font-weight: 600; }
        .pair { display: grid; grid-template-columns: repeat(2, 1fr); gap: 8px; }
        .config { display: flex; gap: 24px; align-items: flex-start; }
        .config table { flex: 1; margin-top: 0; }
        details { margin: 8px 0; }
        """;

    public static string Html(ReportContent c)
    {
        var runName = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(c.RunDir)));
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        html.Append($"<title>{E(runName)}: training report</title>\n<style>\n{Style}</style>\n</head>\n<body>\n<main>\n");
        html.Append($"<h1>{E(runName)}</h1>\n<p class=\"muted\">Training report of <code>{E(Path.GetFullPath(c.RunDir))}</code>, written {E(DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture))} UTC.</p>\n");
        Summary(html, c);
        Training(html, c);
        Validation(html, c);
        LengthBuckets(html, c.Test);
        Attention(html, c.Test);
        Config(html, c);
        html.Append("</main>\n</body>\n</html>\n");
        return html.ToString();
    }

    private static void Summary(StringBuilder html, ReportContent c)
    {
        html.Append($"<h2>{SummaryHeading}</h2>\n<div class=\"figures\">\n");
        if (c.Test is { } test)
            foreach (var score in test.Scores)
                Figure(html, F1(score.Score.Score), $"test {score.Score.Name}");
        var train = c.Metrics.Where(r => r["loss"] is JsonValue).ToList();
        long updates = c.Metrics.Max(r => r["update"]!.GetValue<long>());
        Figure(html, updates.ToString("N0", CultureInfo.InvariantCulture), "updates");
        if (train.LastOrDefault()?["elapsed_s"] is JsonValue elapsed) Figure(html, Duration(elapsed.GetValue<double>()), "training time");
        var bestBleu = c.Metrics.Where(r => r["valid_bleu"] is JsonValue).MaxBy(r => r["valid_bleu"]!.GetValue<double>());
        if (bestBleu is not null) Figure(html, F1(bestBleu["valid_bleu"]!.GetValue<double>()), $"best valid BLEU (update {bestBleu["update"]})");
        Figure(html, $"{c.Parameters / 1e6:F1}M", "parameters");
        html.Append("</div>\n");

        if (c.Test is { } t)
        {
            var limited = t.Sentences < t.LinesInFile ? $" (the first {t.Sentences} of its {t.LinesInFile} lines)" : "";
            html.Append($"<p>Test set: <code>{E(t.SourcePath)}</code> → <code>{E(t.ReferencePath)}</code>, {t.Sentences} sentences{E(limited)}, "
                + $"translated with beam {c.Decoding.Beam} and length penalty {F(c.Decoding.LengthPenalty)} ({E(c.Decoding.LengthPenaltyStyle)}).</p>\n");
            html.Append("<table>\n<tr><th>metric</th><th>score</th><th>sacreBLEU signature</th></tr>\n");
            foreach (var score in t.Scores)
                html.Append($"<tr><td>{E(score.Score.Name)}</td><td class=\"num\">{F1(score.Score.Score)}</td><td class=\"sig\">{E(score.Signature.ToString())}</td></tr>\n");
            html.Append("</table>\n");
        }
        else html.Append("<p class=\"muted\">No test set was given (--test-src, --test-ref): test scores, scores by length and attention maps are omitted.</p>\n");

        html.Append("<table>\n");
        Row(html, "checkpoint", $"{c.CheckpointPath} (update {c.Checkpoint.Progress.Update}, epoch {c.Checkpoint.Progress.Epoch})");
        Row(html, "parameters", c.Parameters.ToString("N0", CultureInfo.InvariantCulture));
        Row(html, "vocabulary", c.JointVocab ? $"{c.SourceVocabSize:N0} subwords, joint" : $"{c.SourceVocabSize:N0} source and {c.TargetVocabSize:N0} target subwords");
        var m = c.Checkpoint.Model;
        Row(html, "model", $"{m.EncoderLayers} encoder and {m.DecoderLayers} decoder layers, d_model {m.DModel}, {m.Heads} heads, FFN {m.FfnSize}, "
            + $"{(m.PreNorm ? "pre-norm" : "post-norm")}, tied embeddings: {m.TieEmbeddings}");
        html.Append("</table>\n");
    }

    private static void Training(StringBuilder html, ReportContent c)
    {
        html.Append($"<h2>{TrainingHeading}</h2>\n");
        html.Append("<p class=\"muted\">From metrics.jsonl. The training loss includes label smoothing (and dropout), so it runs above the validation loss.</p>\n");
        var charts = c.TrainingCharts.OfType<ReportImage>().ToList();
        if (charts.Count == 0) html.Append("<p>No training progress was logged.</p>\n");
        // The loss gets the full width; learning rate and speed, read for their shape, share a row.
        if (charts.Count > 0) Image(html, charts[0]);
        if (charts.Count > 1)
        {
            html.Append("<div class=\"pair\">\n");
            foreach (var chart in charts.Skip(1)) Image(html, chart);
            html.Append("</div>\n");
        }
    }

    private static void Validation(StringBuilder html, ReportContent c)
    {
        html.Append($"<h2>{ValidationHeading}</h2>\n");
        if (c.ValidationChart is { } chart) Image(html, chart);
        else html.Append("<p class=\"muted\">No validation BLEU or chrF was logged (train with --valid-bleu true).</p>\n");
        var validations = c.Metrics.Where(r => r["valid_loss"] is JsonValue).ToList();
        if (validations.Count == 0) return;
        html.Append("<table>\n<tr><th>update</th><th>epoch</th><th>loss</th><th>BLEU</th><th>chrF</th></tr>\n");
        foreach (var r in validations)
            html.Append($"<tr><td class=\"num\">{E(Text(r["update"]))}</td><td class=\"num\">{E(Text(r["epoch"]))}</td><td class=\"num\">{Number(r["valid_loss"], "F3")}</td>"
                + $"<td class=\"num\">{Number(r["valid_bleu"], "F1")}</td><td class=\"num\">{Number(r["valid_chrf"], "F1")}</td></tr>\n");
        html.Append("</table>\n");
    }

    private static void LengthBuckets(StringBuilder html, TestSection? test)
    {
        html.Append($"<h2>{LengthHeading}</h2>\n");
        if (test is null)
        {
            html.Append("<p class=\"muted\">Omitted: no test set was given (--test-src, --test-ref).</p>\n");
            return;
        }
        html.Append("<p class=\"muted\">Each bucket is scored as a corpus of its own (source words counted at whitespace).</p>\n");
        html.Append("<table>\n<tr><th>source words</th><th>sentences</th><th>BLEU</th><th>chrF</th></tr>\n");
        foreach (var b in test.Buckets)
            html.Append($"<tr><td>{E(b.Bucket.Label)}</td><td class=\"num\">{b.Sentences}</td><td class=\"num\">{(b.Bleu is { } bleu ? F1(bleu) : "–")}</td>"
                + $"<td class=\"num\">{(b.Chrf is { } chrf ? F1(chrf) : "–")}</td></tr>\n");
        html.Append("</table>\n");
        Image(html, test.BucketChart);
    }

    private static void Attention(StringBuilder html, TestSection? test)
    {
        html.Append($"<h2>{AttentionHeading}</h2>\n");
        if (test is null)
        {
            html.Append("<p class=\"muted\">Omitted: no test set was given (--test-src, --test-ref).</p>\n");
            return;
        }
        if (test.AttentionOmitted is { } omitted)
        {
            html.Append($"<p class=\"muted\">{E(omitted)}</p>\n");
            return;
        }
        html.Append("<p class=\"muted\">Encoder-decoder attention of the last decoder layer while the model's own translation is read back: "
            + "each row is an output subword, each column a source subword; the darker the cell, the more that output looked at that source. "
            + "The average over heads comes first, then each head.</p>\n");
        if (test.Attention.Count == 0) html.Append("<p>No sentences were drawn (--attention-sentences 0).</p>\n");
        foreach (var example in test.Attention)
        {
            html.Append($"<h3>Test line {example.Line}</h3>\n");
            html.Append($"<p class=\"sentence\"><b>source</b>{E(example.Source)}</p>\n");
            html.Append($"<p class=\"sentence\"><b>translation</b>{E(example.Translation)}</p>\n");
            html.Append($"<p class=\"sentence\"><b>reference</b>{E(example.Reference)}</p>\n");
            Image(html, example.Average);
            html.Append("<details open><summary>Each head</summary>\n<div class=\"heads\">\n");
            foreach (var head in example.Heads) Image(html, head);
            html.Append("</div>\n</details>\n");
        }
    }

    private static void Config(StringBuilder html, ReportContent c)
    {
        html.Append($"<h2>{ConfigHeading}</h2>\n");
        if (c.Config is null)
        {
            html.Append("<p class=\"muted\">The run directory has no config.json.</p>\n");
            return;
        }
        html.Append("<p class=\"muted\">The run's config.json.</p>\n<div class=\"config\">\n");
        var rows = Flatten(c.Config, "").ToList();
        foreach (var half in rows.Chunk((rows.Count + 1) / 2))
        {
            html.Append("<table>\n");
            foreach (var (key, value) in half)
                html.Append($"<tr><td><code>{E(key)}</code></td><td><code>{E(value)}</code></td></tr>\n");
            html.Append("</table>\n");
        }
        html.Append("</div>\n");
    }

    /// <summary>Nested objects as dotted keys (model.dModel), so the table has one level.</summary>
    internal static IEnumerable<(string Key, string Value)> Flatten(JsonNode? node, string prefix)
    {
        if (node is JsonObject obj)
        {
            foreach (var (key, child) in obj)
                foreach (var row in Flatten(child, prefix.Length == 0 ? key : $"{prefix}.{key}")) yield return row;
        }
        else yield return (prefix, node is JsonValue v && v.TryGetValue<string>(out var s) ? s : node?.ToJsonString() ?? "null");
    }

    private static void Figure(StringBuilder html, string value, string label) =>
        html.Append($"<div class=\"figure\"><div class=\"value\">{E(value)}</div><div class=\"label\">{E(label)}</div></div>\n");

    private static void Row(StringBuilder html, string key, string value) =>
        html.Append($"<tr><th>{E(key)}</th><td>{E(value)}</td></tr>\n");

    internal static void Image(StringBuilder html, ReportImage image) =>
        html.Append($"<figure style=\"margin:0\"><img src=\"data:image/png;base64,{Convert.ToBase64String(image.Png)}\" alt=\"{E(image.Caption)}\" title=\"{E(image.File)}\"></figure>\n");

    internal static string Duration(double seconds)
    {
        var t = TimeSpan.FromSeconds(seconds);
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours} h {t.Minutes:D2} min" : $"{t.Minutes} min {t.Seconds:D2} s";
    }

    private static string Text(JsonNode? node) => node?.ToString() ?? "";

    private static string Number(JsonNode? node, string format) =>
        node is JsonValue v && v.TryGetValue<double>(out var x) ? x.ToString(format, CultureInfo.InvariantCulture) : "–";

    private static string F1(double x) => x.ToString("F1", CultureInfo.InvariantCulture);

    private static string F(double x) => x.ToString(CultureInfo.InvariantCulture);

    internal static string E(string text) => WebUtility.HtmlEncode(text);
}
