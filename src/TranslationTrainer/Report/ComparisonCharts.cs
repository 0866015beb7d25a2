using System.Globalization;
using ScottPlot;
using TranslationTrainer.Evaluation;

namespace TranslationTrainer.Report;

/// <summary>The comparison's charts, as PNGs: one bar per run, or one line per run; a chart with nothing to draw is left out.</summary>
public static class ComparisonCharts
{
    /// <summary>Run i's colour in every chart.</summary>
    private static readonly Color[] Palette =
        [Colors.SteelBlue, Colors.DarkOrange, Colors.SeaGreen, Colors.Crimson, Colors.Purple, Colors.DarkGoldenRod, Colors.Teal, Colors.SlateGray];

    public static Color RunColor(int i) => Palette[i % Palette.Length];

    /// <summary>One line of a chart: its legend, its run's colour, and its points.</summary>
    public sealed record Line(string Label, Color Color, IReadOnlyList<(double X, double Y)> Points);

    /// <summary>Every chart the page shows, in its order.</summary>
    public static IReadOnlyList<ReportImage> All(ComparisonContent c)
    {
        var runs = c.Runs;
        var names = runs.Select(r => r.Name).ToList();
        var images = new List<ReportImage?>
        {
            Image("parameters.png", "Parameters", Bars("Parameters", "millions", names, [.. runs.Select(r => (double?)(r.Parameters / 1e6))], "F2")),
            Image("train-speed.png", "Training speed", Bars("Training speed (median of the progress lines)", "target tokens per second", names,
                [.. runs.Select(r => r.TargetTokensPerSecond)], "F0")),
            Image("time-to-best.png", "Wall time to the best validation BLEU", Bars("Wall time to the best validation BLEU", "minutes", names,
                [.. runs.Select(r => r.BestValidation?.ElapsedSeconds / 60)], "F1")),
            Image("valid-bleu-time.png", "Validation BLEU over wall time", Lines("Validation BLEU over wall time", "minutes of training", "BLEU",
                [.. runs.Select((r, i) => new Line(r.Name, RunColor(i), [.. r.Validation.Select(v => (v.ElapsedSeconds / 60, v.Bleu))]))], fromZero: true,
                // The clock starts at 0 for every run, so the curves are read from the same origin.
                axes: plot => plot.Axes.SetLimitsX(0, plot.Axes.GetLimits().Right))),
        };
        if (runs.Any(r => r.Test is not null))
        {
            images.Add(Image("test-scores.png", "Test BLEU and chrF", GroupedBars("Test BLEU and chrF", "score", names,
                [("BLEU", Colors.SteelBlue, [.. runs.Select(r => r.Test?.Bleu)]), ("chrF", Colors.DarkOrange, [.. runs.Select(r => r.Test?.Chrf)])])));
            var buckets = runs.First(r => r.Test is not null).Test!.Buckets;
            images.Add(Image("length-bleu.png", "Test BLEU by source length", ByLength("Test BLEU by source length", "BLEU", runs, buckets, b => b.Bleu)));
            images.Add(Image("length-chrf.png", "Test chrF by source length", ByLength("Test chrF by source length", "chrF", runs, buckets, b => b.Chrf)));
            images.Add(Image("decode-speed.png", "Decoding speed", GroupedBars("Decoding speed on the test set", "sentences per second", names,
                [("greedy", Colors.SeaGreen, [.. runs.Select(r => r.Speed?.GreedySentencesPerSecond)]), ("beam 5", Colors.Purple, [.. runs.Select(r => r.Speed?.Beam5SentencesPerSecond)])])));
        }
        if (runs.Any(r => r.Parallelism is not null))
        {
            images.Add(Image("parallelism-train.png", "Training forward+backward time per token as sentences grow", Lines(
                "Training forward+backward, same tokens per batch", "sentence length (tokens)", "ms per 1,000 target tokens",
                [.. runs.Select((r, i) => new Line(r.Name, RunColor(i), Points(r.Parallelism, row => row.TrainMsPerThousandTokens)))], fromZero: true)));
            images.Add(Image("parallelism-encode.png", "Encoding time per token as sentences grow", Lines(
                "Encoding, same tokens per batch", "sentence length (tokens)", "ms per 1,000 source tokens",
                [.. runs.Select((r, i) => new Line(r.Name, RunColor(i), Points(r.Parallelism, row => row.EncodeMsPerThousandTokens)))], fromZero: true)));
        }
        return images.OfType<ReportImage>().ToList();
    }

    private static ReportImage? Image(string file, string caption, byte[]? png) => png is null ? null : new ReportImage(file, caption, png);

    private static List<(double X, double Y)> Points(IReadOnlyList<Training.ParallelismRow>? rows, Func<Training.ParallelismRow, double?> value) =>
        rows is null ? [] : [.. rows.Where(r => value(r) is not null).Select(r => ((double)r.Length, value(r)!.Value))];

    /// <summary>One bar per run, its value written above it; null when no run has a value.</summary>
    public static byte[]? Bars(string title, string yLabel, IReadOnlyList<string> runs, IReadOnlyList<double?> values, string format)
    {
        if (values.All(v => v is null)) return null;
        var plot = Plots.New();
        plot.Title(title, size: 16);
        plot.YLabel(yLabel);
        var bars = runs.Select((_, i) => values[i] is { } v
            ? new Bar { Position = i, Value = v, FillColor = RunColor(i), Label = v.ToString(format, CultureInfo.InvariantCulture) }
            : null).OfType<Bar>().ToList();
        plot.Add.Bars(bars);
        RunTicks(plot, runs, values.Select(v => v is null ? "\n(not measured)" : "").ToList());
        double top = values.Max(v => v ?? 0);
        plot.Axes.SetLimits(-0.7, runs.Count - 0.3, 0, top > 0 ? top * 1.2 : 1);
        plot.HideGrid();
        return plot.GetImageBytes(ReportCharts.HalfWidth, ReportCharts.HalfHeight, ImageFormat.Png);
    }

    /// <summary>Each run's group of bars, one per series; null when no value at all.</summary>
    public static byte[]? GroupedBars(string title, string yLabel, IReadOnlyList<string> runs, IReadOnlyList<(string Label, Color Color, IReadOnlyList<double?> Values)> series)
    {
        if (series.All(s => s.Values.All(v => v is null))) return null;
        var plot = Plots.New();
        plot.Title(title, size: 16);
        plot.YLabel(yLabel);
        double width = 0.8 / series.Count;
        for (int k = 0; k < series.Count; k++)
        {
            var (label, color, values) = series[k];
            var bars = plot.Add.Bars(runs.Select((_, i) => values[i] is { } v
                ? new Bar { Position = i - 0.4 + width * (k + 0.5), Value = v, Size = width * 0.95, FillColor = color, Label = v.ToString("F1", CultureInfo.InvariantCulture) }
                : null).OfType<Bar>().ToList());
            bars.LegendText = label;
            bars.Color = color;
        }
        RunTicks(plot, runs, runs.Select((_, i) => series.All(s => s.Values[i] is null) ? "\n(not measured)" : "").ToList());
        double top = series.SelectMany(s => s.Values).Max(v => v ?? 0);
        plot.Axes.SetLimits(-0.7, runs.Count - 0.3, 0, top > 0 ? top * 1.25 : 1);
        plot.ShowLegend(Alignment.UpperRight);
        plot.HideGrid();
        return plot.GetImageBytes(ReportCharts.HalfWidth, ReportCharts.HalfHeight, ImageFormat.Png);
    }

    /// <summary>One line per run through the length buckets (Bahdanau et al. 2015, figure 2); an empty bucket breaks no line, it has no point.</summary>
    public static byte[]? ByLength(string title, string yLabel, IReadOnlyList<ComparedRun> runs, IReadOnlyList<BucketScore> buckets, Func<BucketScore, double?> score)
    {
        var lines = runs.Select((r, i) => new Line(r.Name, RunColor(i),
            r.Test is null ? [] : [.. r.Test.Buckets.Select((b, k) => (X: (double)k, Y: score(b))).Where(p => p.Y is not null).Select(p => (p.X, p.Y!.Value))])).ToList();
        var png = Lines(title, "source sentence length (words)", yLabel, lines, fromZero: true, plot =>
        {
            plot.Axes.Bottom.SetTicks([.. buckets.Select((_, k) => (double)k)],
                [.. buckets.Select(b => $"{b.Bucket.Label}\n{(b.Sentences == 0 ? "no sentences" : $"{b.Sentences} sentences")}")]);
            plot.Axes.Bottom.MinimumSize = 50;
            plot.Axes.SetLimitsX(-0.3, buckets.Count - 0.7);
        });
        return png;
    }

    /// <summary>One line per run with markers at its points; null when no run has a point.</summary>
    public static byte[]? Lines(string title, string xLabel, string yLabel, IReadOnlyList<Line> lines, bool fromZero, Action<Plot>? axes = null)
    {
        if (lines.All(l => l.Points.Count == 0)) return null;
        var plot = Plots.New();
        plot.Title(title, size: 16);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        foreach (var line in lines.Where(l => l.Points.Count > 0))
        {
            var scatter = plot.Add.Scatter(line.Points.Select(p => p.X).ToArray(), line.Points.Select(p => p.Y).ToArray(), line.Color);
            scatter.LegendText = line.Label;
            scatter.LineWidth = 2;
            scatter.MarkerSize = line.Points.Count <= 60 ? 6 : 0;
        }
        plot.ShowLegend(Alignment.LowerRight);
        plot.Axes.AutoScale();
        if (fromZero) plot.Axes.SetLimitsY(0, Math.Max(1e-9, plot.Axes.GetLimits().Top * 1.08));
        axes?.Invoke(plot);
        return plot.GetImageBytes(ReportCharts.Width, ReportCharts.Height, ImageFormat.Png);
    }

    private static void RunTicks(Plot plot, IReadOnlyList<string> runs, IReadOnlyList<string> notes)
    {
        plot.Axes.Bottom.SetTicks([.. runs.Select((_, i) => (double)i)], [.. runs.Select((r, i) => r + notes[i])]);
        plot.Axes.Bottom.MinimumSize = 40;
    }
}
