using System.Text.Json.Nodes;
using ScottPlot;
using TranslationTrainer.Evaluation;

namespace TranslationTrainer.Report;

/// <summary>The report's line and bar charts, as PNG bytes; null where the run logged nothing to draw.</summary>
public static class ReportCharts
{
    public const int Width = 900, Height = 420, HalfWidth = 560, HalfHeight = 380;

    /// <summary>One metrics.jsonl key drawn as a line against updates.</summary>
    public sealed record Series(string Key, string Label, Color Color);

    public static byte[]? Lines(IReadOnlyList<JsonObject> records, string title, string yLabel, IReadOnlyList<Series> series, bool fromZero = false, Alignment legend = Alignment.UpperRight, bool half = false)
    {
        var plot = Plots.New();
        plot.Title(title, size: 16);
        plot.XLabel("update");
        plot.YLabel(yLabel);
        int drawn = 0;
        foreach (var s in series)
        {
            var points = records.Where(r => r[s.Key] is JsonValue && r["update"] is JsonValue)
                .Select(r => (X: (double)r["update"]!.GetValue<long>(), Y: r[s.Key]!.GetValue<double>())).ToList();
            if (points.Count == 0) continue;
            var line = plot.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray(), s.Color);
            line.LegendText = s.Label;
            line.LineWidth = 2;
            // Validation points are few: markers show where each one was measured.
            line.MarkerSize = points.Count <= 40 ? 6 : 0;
            drawn++;
        }
        if (drawn == 0) return null;
        plot.ShowLegend(legend);
        plot.Axes.AutoScale();
        // Every chart's update axis starts at 0, so charts of one run line up when read one under the other.
        plot.Axes.SetLimitsX(0, plot.Axes.GetLimits().Right);
        if (fromZero) plot.Axes.SetLimitsY(0, plot.Axes.GetLimits().Top * 1.05);
        return half ? plot.GetImageBytes(HalfWidth, HalfHeight, ImageFormat.Png) : plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    /// <summary>BLEU and chrF side by side for each length bucket; an empty bucket gets no bars and says so.</summary>
    public static byte[] LengthBuckets(IReadOnlyList<BucketScore> buckets)
    {
        var plot = Plots.New();
        plot.Title("Test BLEU and chrF by source length", size: 16);
        plot.YLabel("score");
        var bleu = new List<Bar>();
        var chrf = new List<Bar>();
        for (int i = 0; i < buckets.Count; i++)
        {
            double center = i * 3;
            if (buckets[i].Bleu is { } b) bleu.Add(new Bar { Position = center - 0.5, Value = b, FillColor = Colors.SteelBlue, Label = b.ToString("F1") });
            if (buckets[i].Chrf is { } c) chrf.Add(new Bar { Position = center + 0.5, Value = c, FillColor = Colors.DarkOrange, Label = c.ToString("F1") });
        }
        var bleuBars = plot.Add.Bars(bleu);
        bleuBars.LegendText = "BLEU";
        bleuBars.Color = Colors.SteelBlue;
        var chrfBars = plot.Add.Bars(chrf);
        chrfBars.LegendText = "chrF";
        chrfBars.Color = Colors.DarkOrange;
        plot.Axes.Bottom.SetTicks([.. buckets.Select((_, i) => i * 3.0)],
            [.. buckets.Select(b => $"{b.Bucket.Label} words\n{(b.Sentences == 0 ? "no sentences" : $"{b.Sentences} sentences")}")]);
        plot.Axes.Bottom.MinimumSize = 50;
        plot.ShowLegend(Alignment.UpperRight);
        double top = buckets.Select(b => Math.Max(b.Bleu ?? 0, b.Chrf ?? 0)).DefaultIfEmpty(0).Max();
        plot.Axes.SetLimits(-1.5, buckets.Count * 3 - 1.5, 0, Math.Max(10, top * 1.2));
        plot.HideGrid();
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }
}
