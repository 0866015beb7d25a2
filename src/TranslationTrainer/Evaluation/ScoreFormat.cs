using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace TranslationTrainer.Evaluation;

/// <summary>sacreBLEU's output: the text score line (<c>Score.format</c>) and its JSON object, plus our BLEU details; the table of several systems.</summary>
public static class ScoreFormat
{
    private static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonWriterOptions Compact = new() { Indented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary><c>NAME|signature = score (μ = mean ± ci) verbose</c>, as sacreBLEU prints a single system.</summary>
    public static string TextLine(MetricResult result, int width)
    {
        var line = new StringBuilder($"{result.Score.Name}|{result.Signature} = {PyText.Fixed(result.Score.Score, width)}");
        if (result.Confidence is { } ci)
            line.Append($" (μ = {PyText.Fixed(ci.Mean, width)} ± {PyText.Fixed(ci.HalfWidth, width)})");
        if (result.Score.Verbose.Length > 0) line.Append(' ').Append(result.Score.Verbose);
        return line.ToString();
    }

    /// <summary>Several metrics' lines, right-aligned on their " = " as sacreBLEU's print_single_results does.</summary>
    public static IReadOnlyList<string> TextLines(IReadOnlyList<MetricResult> results, int width)
    {
        var lines = results.Select(r => TextLine(r, width)).ToList();
        if (lines.Count < 2) return lines;
        var cuts = lines.Select(l => l.IndexOf('=') - 1).ToList();
        int column = cuts.Max();
        return [.. lines.Select((l, i) => l[..cuts[i]].PadLeft(column) + l[cuts[i]..])];
    }

    /// <summary>A JSON list with one object per metric.</summary>
    public static string Json(IReadOnlyList<MetricResult> results, int width)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, Indented))
        {
            writer.WriteStartArray();
            foreach (var result in results) WriteResult(writer, result, width);
            writer.WriteEndArray();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>One metric's JSON object on one line (sentence-level output).</summary>
    public static string JsonLine(MetricResult result, int width)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, Compact))
            WriteResult(writer, result, width);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>sacreBLEU's JSON fields (name, score, signature, confidence, verbose_score, signature fields) and the statistics.</summary>
    public static void WriteResult(Utf8JsonWriter writer, MetricResult result, int width)
    {
        writer.WriteStartObject();
        writer.WriteString("name", result.Score.Name);
        writer.WriteNumber("score", Rounded(result.Score.Score, width));
        writer.WriteString("signature", result.Signature.ToString());
        if (result.Confidence is { } ci)
        {
            writer.WriteNumber("confidence_mean", Rounded(ci.Mean, width));
            writer.WriteNumber("confidence_var", Rounded(ci.HalfWidth, width));
            writer.WriteString("confidence", $"μ = {PyText.Fixed(ci.Mean, width)} ± {PyText.Fixed(ci.HalfWidth, width)}");
        }
        if (result.Score.Verbose.Length > 0) writer.WriteString("verbose_score", result.Score.Verbose);
        foreach (var (key, value) in result.Signature.Fields) writer.WriteString(key, value);
        switch (result.Score)
        {
            case BleuScore bleu:
                WriteArray(writer, "counts", bleu.Counts);
                WriteArray(writer, "totals", bleu.Totals);
                WriteArray(writer, "precisions", bleu.Precisions);
                writer.WriteNumber("bp", bleu.Bp);
                writer.WriteNumber("sys_len", bleu.SysLen);
                writer.WriteNumber("ref_len", bleu.RefLen);
                writer.WriteNumber("ratio", bleu.Ratio);
                break;
            case TerScore ter:
                writer.WriteNumber("num_edits", ter.NumEdits);
                writer.WriteNumber("ref_length", ter.RefLength);
                break;
            case ErrorRateScore rate:
                writer.WriteNumber("num_edits", rate.Errors);
                writer.WriteNumber("ref_length", rate.RefLength);
                writer.WriteNumber("insertions", rate.Insertions);
                writer.WriteNumber("deletions", rate.Deletions);
                writer.WriteNumber("substitutions", rate.Substitutions);
                break;
        }
        writer.WriteEndObject();
    }

    /// <summary>Cells as sacreBLEU's _format_score_lines writes them: score, (mean ± ci), (p = ...)* when p ≤ 0.05.</summary>
    private static string Cell(PairedResult result, int width)
    {
        var cell = PyText.Fixed(result.Score.Score, width);
        if (result.Confidence is { } ci) cell += $" ({PyText.Fixed(ci.Mean, width)} ± {PyText.Fixed(ci.HalfWidth, width)})";
        if (result.PValue is { } p) cell += $" (p = {PyText.Fixed(p, 4)})" + (p > 0.05 ? "" : "*");
        return cell;
    }

    /// <summary>Several systems' table as sacreBLEU prints it: a header, one row per system, then each metric's signature.</summary>
    public static string TableText(PairedReport table, int width)
    {
        var header = new List<string> { "System" };
        header.AddRange(table.Metrics.Select(m => m.Rows[0].Score.Name + (m.Rows[0].Confidence is null ? "" : " (μ ± 95% CI)")));
        var rows = table.Systems.Select((name, i) => new List<string> { name }.Concat(table.Metrics.Select(m => Cell(m.Rows[i], width))).ToList()).ToList();
        var all = new List<List<string>> { header };
        all.AddRange(rows);
        var widths = Enumerable.Range(0, header.Count).Select(c => all.Max(row => row[c].Length)).ToList();
        var text = new StringBuilder();
        foreach (var row in all)
            text.AppendLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
        text.AppendLine();
        foreach (var (signature, rowsOfMetric) in table.Metrics)
            text.AppendLine($"{rowsOfMetric[0].Score.Name}: {signature}");
        return text.ToString();
    }

    /// <summary>Several systems as a JSON list, one object per system with each metric's score, test and signature.</summary>
    public static string TableJson(PairedReport table, int width)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, Indented))
        {
            writer.WriteStartArray();
            for (int i = 0; i < table.Systems.Count; i++)
            {
                writer.WriteStartObject();
                writer.WriteString("system", table.Systems[i]);
                foreach (var (signature, rows) in table.Metrics)
                {
                    var row = rows[i];
                    writer.WriteStartObject(row.Score.Name);
                    writer.WriteNumber("score", Rounded(row.Score.Score, width));
                    if (row.PValue is { } p) writer.WriteNumber("p_value", p);
                    if (row.Confidence is { } ci)
                    {
                        writer.WriteNumber("mean", ci.Mean);
                        writer.WriteNumber("ci", ci.HalfWidth);
                    }
                    writer.WriteString("signature", signature.ToString());
                    writer.WriteEndObject();
                }
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + Environment.NewLine;
    }

    /// <summary>The score as sacreBLEU's JSON holds it: <c>float(f"{score:.{width}f}")</c>.</summary>
    public static double Rounded(double value, int width) =>
        double.Parse(PyText.Fixed(value, width), System.Globalization.CultureInfo.InvariantCulture);

    private static void WriteArray(Utf8JsonWriter writer, string name, double[] values)
    {
        writer.WriteStartArray(name);
        foreach (var v in values) writer.WriteNumberValue(v);
        writer.WriteEndArray();
    }
}
