using System.Globalization;
using System.Text;
using static TranslationTrainer.Report.ReportPage;

namespace TranslationTrainer.Report;

/// <summary>The comparison as one HTML page in the report's look: the runs side by side (a column each), the charts embedded.</summary>
public static class ComparisonPage
{
    public const string RunsHeading = "Runs side by side", TrainingHeading = "Training", TestHeading = "Test scores",
        LengthHeading = "Test scores by source length", DecodingHeading = "Decoding speed", ParallelismHeading = "Parallelism", ModelsHeading = "Models";

    public static readonly IReadOnlyList<string> Headings = [RunsHeading, TrainingHeading, TestHeading, LengthHeading, DecodingHeading, ParallelismHeading, ModelsHeading];

    public static string Html(ComparisonContent c)
    {
        var html = new StringBuilder();
        var title = $"Comparison of {c.Runs.Count} run{(c.Runs.Count == 1 ? "" : "s")}";
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        html.Append($"<title>{E(title)}</title>\n<style>\n{Style}</style>\n</head>\n<body>\n<main>\n");
        html.Append($"<h1>{E(title)}</h1>\n<p class=\"muted\">{E(string.Join(", ", c.Runs.Select(r => r.Name)))}: written {E(c.WrittenUtc.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture))} UTC "
            + $"on {E(c.Device)} with {c.Threads} thread{(c.Threads == 1 ? "" : "s")}.</p>\n");
        Runs(html, c);
        Training(html, c);
        Test(html, c);
        Lengths(html, c);
        Decoding(html, c);
        Parallelism(html, c);
        Models(html, c);
        html.Append("</main>\n</body>\n</html>\n");
        return html.ToString();
    }

    private static void Runs(StringBuilder html, ComparisonContent c)
    {
        html.Append($"<h2>{RunsHeading}</h2>\n");
        html.Append("<p class=\"muted\">Each run is represented by its averaged checkpoint (checkpoint_avg.pt) when it has one, else by its best "
            + "(checkpoint_best.pt, else checkpoint_last.pt); the row <i>checkpoint compared</i> says which. Training figures come from metrics.jsonl: "
            + "the speed is the median of the progress lines' target tokens per second, wall times are the training clock's (validation included).</p>\n");
        html.Append("<table>\n<tr><th></th>");
        foreach (var r in c.Runs) html.Append($"<th>{E(r.Name)}</th>");
        html.Append("</tr>\n");
        void Row(string label, Func<ComparedRun, string> value, bool number = true)
        {
            html.Append($"<tr><th>{E(label)}</th>");
            foreach (var r in c.Runs) html.Append($"<td{(number ? " class=\"num\"" : "")}>{E(value(r))}</td>");
            html.Append("</tr>\n");
        }
        Row("architecture", r => r.Architecture, number: false);
        Row("checkpoint compared", r => $"{Path.GetFileName(r.CheckpointPath)} ({r.CheckpointKind}, update {r.Checkpoint.Progress.Update:N0})", number: false);
        Row("parameters", r => r.Parameters.ToString("N0", CultureInfo.InvariantCulture));
        Row("vocabulary", r => r.JointVocab ? $"{r.SourceVocabSize:N0} joint" : $"{r.SourceVocabSize:N0} + {r.TargetVocabSize:N0}", number: false);
        Row("updates", r => r.Updates.ToString("N0", CultureInfo.InvariantCulture));
        Row("training time", r => r.TrainingSeconds is { } s ? Duration(s) : "–");
        Row("training precision", r => r.TrainingPrecision, number: false);
        Row("training target tokens/s", r => Fixed(r.TargetTokensPerSecond, "N0"));
        Row("best valid BLEU", r => Fixed(r.BestValidation?.Bleu, "F1"));
        Row("… at update", r => r.BestValidation is { } b ? b.Update.ToString("N0", CultureInfo.InvariantCulture) : "–");
        Row("… after (wall time)", r => r.BestValidation is { } b ? Duration(b.ElapsedSeconds) : "–");
        if (c.Test is not null)
        {
            Row($"test BLEU (beam {c.Decoding.Beam})", r => Fixed(r.Test?.Bleu, "F1"));
            Row($"test chrF (beam {c.Decoding.Beam})", r => Fixed(r.Test?.Chrf, "F1"));
            Row("decoding sentences/s, greedy", r => Fixed(r.Speed?.GreedySentencesPerSecond, "F1"));
            Row("decoding sentences/s, beam 5", r => Fixed(r.Speed?.Beam5SentencesPerSecond, "F1"));
        }
        html.Append("</table>\n");
        Pair(html, c, "parameters.png", "train-speed.png");
        Pair(html, c, "time-to-best.png");
    }

    private static void Training(StringBuilder html, ComparisonContent c)
    {
        html.Append($"<h2>{TrainingHeading}</h2>\n");
        html.Append("<p class=\"muted\">Validation BLEU (greedy, as training measures it) against the wall time of training, all runs on one chart: "
            + "with the same budget, the run whose curve lies higher got more out of each minute.</p>\n");
        if (!Images(html, c, "valid-bleu-time.png")) html.Append("<p>No run logged validation BLEU (train with --valid-bleu true).</p>\n");
    }

    private static void Test(StringBuilder html, ComparisonContent c)
    {
        html.Append($"<h2>{TestHeading}</h2>\n");
        if (c.Test is not { } t)
        {
            html.Append("<p class=\"muted\">Omitted: no test set was given (--test-src, --test-ref); so are the scores by length and the decoding speeds.</p>\n");
            return;
        }
        var limited = t.Sentences < t.LinesInFile ? $" (the first {t.Sentences} of its {t.LinesInFile} lines)" : "";
        html.Append($"<p>Test set: <code>{E(t.SourcePath)}</code> → <code>{E(t.ReferencePath)}</code>, {t.Sentences} sentences{E(limited)}, "
            + $"translated by every run with beam {c.Decoding.Beam} and length penalty {c.Decoding.LengthPenalty.ToString(CultureInfo.InvariantCulture)} ({E(c.Decoding.LengthPenaltyStyle)}).</p>\n");
        html.Append("<table>\n<tr><th>run</th><th>BLEU</th><th>chrF</th><th>sacreBLEU signatures</th></tr>\n");
        foreach (var r in c.Runs.Where(r => r.Test is not null))
            html.Append($"<tr><td>{E(r.Name)}</td><td class=\"num\">{Fixed(r.Test!.Bleu, "F1")}</td><td class=\"num\">{Fixed(r.Test.Chrf, "F1")}</td>"
                + $"<td class=\"sig\">{string.Join("<br>", r.Test.Scores.Select(s => E(s.Signature.ToString())))}</td></tr>\n");
        html.Append("</table>\n");
        Images(html, c, "test-scores.png");
    }

    private static void Lengths(StringBuilder html, ComparisonContent c)
    {
        html.Append($"<h2>{LengthHeading}</h2>\n");
        var tested = c.Runs.Where(r => r.Test is not null).ToList();
        if (tested.Count == 0)
        {
            html.Append("<p class=\"muted\">Omitted: no test set was given (--test-src, --test-ref).</p>\n");
            return;
        }
        html.Append("<p class=\"muted\">The report's buckets: each is scored as a corpus of its own (source words counted at whitespace), one line per run — "
            + "the comparison of Bahdanau et al. 2015's figure 2, where the encoder-decoder without attention fell off on long sentences.</p>\n");
        var buckets = tested[0].Test!.Buckets;
        html.Append("<table>\n<tr><th>source words</th><th>sentences</th>");
        foreach (var r in tested) html.Append($"<th>{E(r.Name)}<br>BLEU</th><th>{E(r.Name)}<br>chrF</th>");
        html.Append("</tr>\n");
        for (int k = 0; k < buckets.Count; k++)
        {
            html.Append($"<tr><td>{E(buckets[k].Bucket.Label)}</td><td class=\"num\">{buckets[k].Sentences}</td>");
            foreach (var r in tested)
                html.Append($"<td class=\"num\">{Fixed(r.Test!.Buckets[k].Bleu, "F1")}</td><td class=\"num\">{Fixed(r.Test.Buckets[k].Chrf, "F1")}</td>");
            html.Append("</tr>\n");
        }
        html.Append("</table>\n");
        Images(html, c, "length-bleu.png", "length-chrf.png");
    }

    private static void Decoding(StringBuilder html, ComparisonContent c)
    {
        html.Append($"<h2>{DecodingHeading}</h2>\n");
        if (c.Test is null)
        {
            html.Append("<p class=\"muted\">Omitted: decoding is timed on the test set (--test-src, --test-ref).</p>\n");
            return;
        }
        html.Append($"<p class=\"muted\">The whole test set translated as <code>translate</code> does (sorted by length, batches of {c.Decoding.BatchSize} sentences), "
            + $"text in and text out, after a warm-up, greedy and with beam 5; decoding precision {E(c.DecodingPrecision)}, {c.Threads} thread{(c.Threads == 1 ? "" : "s")}. "
            + "Backends: " + E(string.Join(", ", c.Runs.Where(r => r.Speed is not null).Select(r => $"{r.Name} {r.Speed!.Backend}"))) + ".</p>\n");
        Images(html, c, "decode-speed.png");
    }

    private static void Parallelism(StringBuilder html, ComparisonContent c)
    {
        html.Append($"<h2>{ParallelismHeading}</h2>\n");
        if (c.Parallelism is not { } options)
        {
            html.Append("<p class=\"muted\">Not measured (--parallelism-lengths none).</p>\n");
            return;
        }
        html.Append("<p class=\"muted\">The \"sequential operations\" row of Vaswani et al. 2017's table 1, measured: the time of one training forward+backward "
            + $"(label-smoothed loss included) and of encoding alone, as sentences grow from {options.Lengths[0]} to {options.Lengths[^1]} tokens with the same "
            + $"{options.TokensPerBatch:N0} tokens per batch (fewer, longer sentences), in milliseconds per 1,000 tokens. Self-attention takes every position of a "
            + "sentence at once, so its time per token stays nearly flat (its attention grows with the length, but in parallel); a recurrent network takes one step per "
            + "token, so its time per token rises as the batch's sentences become fewer and longer. Each run's model is built afresh from its checkpoint's "
            + $"configuration with random weights and fed synthetic tokens, in its training precision; each figure is the median of {options.Repetitions} repetitions "
            + $"after {options.Warmup} warm-up{(options.Warmup == 1 ? "" : "s")}.</p>\n");
        html.Append("<table>\n<tr><th>tokens per sentence</th><th>sentences</th>");
        foreach (var r in c.Runs) html.Append($"<th>{E(r.Name)}<br>train</th><th>{E(r.Name)}<br>encode</th>");
        html.Append("</tr>\n");
        for (int k = 0; k < options.Lengths.Count; k++)
        {
            var first = c.Runs.Select(r => r.Parallelism?.ElementAtOrDefault(k)).OfType<Training.ParallelismRow>().FirstOrDefault();
            html.Append($"<tr><td class=\"num\">{options.Lengths[k]}</td><td class=\"num\">{first?.Sentences}</td>");
            foreach (var r in c.Runs)
            {
                var row = r.Parallelism?.ElementAtOrDefault(k);
                var why = row?.Skipped is { } skipped ? $" title=\"{E(skipped)}\"" : "";
                html.Append($"<td class=\"num\"{why}>{Fixed(row?.TrainMsPerThousandTokens, "F1")}</td><td class=\"num\"{why}>{Fixed(row?.EncodeMsPerThousandTokens, "F1")}</td>");
            }
            html.Append("</tr>\n");
        }
        html.Append("</table>\n");
        Images(html, c, "parallelism-train.png", "parallelism-encode.png");
    }

    private static void Models(StringBuilder html, ComparisonContent c)
    {
        html.Append($"<h2>{ModelsHeading}</h2>\n<p class=\"muted\">Each model's shape as its checkpoint header stores it.</p>\n");
        var shapes = c.Runs.Select(r => Flatten(ArchitectureComparison.ModelShape(r), "").ToDictionary(p => p.Key, p => p.Value)).ToList();
        var keys = shapes.SelectMany(s => s.Keys).Distinct().ToList();
        html.Append("<table>\n<tr><th></th>");
        foreach (var r in c.Runs) html.Append($"<th>{E(r.Name)}</th>");
        html.Append("</tr>\n");
        foreach (var key in keys)
        {
            html.Append($"<tr><td><code>{E(key)}</code></td>");
            foreach (var shape in shapes) html.Append($"<td><code>{E(shape.GetValueOrDefault(key, "–"))}</code></td>");
            html.Append("</tr>\n");
        }
        html.Append("</table>\n");
    }

    /// <summary>The named images that were drawn, two to a row; false when none was.</summary>
    private static bool Images(StringBuilder html, ComparisonContent c, params string[] files)
    {
        var drawn = files.Select(f => c.Images.FirstOrDefault(i => i.File == f)).OfType<ReportImage>().ToList();
        foreach (var image in drawn) Image(html, image);
        return drawn.Count > 0;
    }

    private static void Pair(StringBuilder html, ComparisonContent c, params string[] files)
    {
        var drawn = files.Select(f => c.Images.FirstOrDefault(i => i.File == f)).OfType<ReportImage>().ToList();
        if (drawn.Count == 0) return;
        html.Append("<div class=\"pair\">\n");
        foreach (var image in drawn) Image(html, image);
        html.Append("</div>\n");
    }

    private static string Fixed(double? x, string format) => x is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "–";
}
