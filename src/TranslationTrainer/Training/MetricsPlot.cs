using System.Text.Json.Nodes;
using ScottPlot;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Training;

/// <summary>A PNG of a run's metrics.jsonl: training and validation loss on the left axis, validation BLEU on the right.</summary>
public static class MetricsPlot
{
    public sealed record Options(int Width = 1000, int Height = 600);

    /// <summary>Draws the run directory's metrics into <paramref name="output"/> (written whole or not at all).</summary>
    public static void Write(string runDir, string output, Options? options = null)
    {
        options ??= new Options();
        if (!Directory.Exists(runDir)) throw new UserError($"{runDir}: run directory not found");
        var metricsPath = Path.Combine(runDir, RunDirectory.Metrics);
        TextFile.RequireFile(metricsPath, "metrics file");
        var directory = Path.GetDirectoryName(Path.GetFullPath(output))!;
        if (!Directory.Exists(directory)) throw new UserError($"`output` {output}: directory {directory} does not exist");
        var records = MetricsFile.Read(metricsPath);
        if (records.Count == 0) throw new UserError($"{metricsPath}: no metrics logged yet (see `log-every`)");

        var plot = new Plot();
        plot.Title(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(runDir))));
        plot.XLabel("update");
        plot.YLabel("loss (nats per target token)");
        AddLine(plot, records, "loss", "training loss (label-smoothed)", Colors.SteelBlue, rightAxis: false);
        AddLine(plot, records, "valid_loss", "validation loss", Colors.DarkOrange, rightAxis: false);
        bool hasBleu = AddLine(plot, records, "valid_bleu", "validation BLEU (right axis)", Colors.SeaGreen, rightAxis: true);
        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.AutoScale();
        if (hasBleu)
        {
            // BLEU is never negative; starting its axis at 0 keeps a flat early BLEU from looking like a swing.
            double best = records.Where(r => r["valid_bleu"] is JsonValue).Max(r => r["valid_bleu"]!.GetValue<double>());
            plot.Axes.SetLimitsY(0, Math.Max(1, best * 1.1), plot.Axes.Right);
            plot.Axes.Right.Label.Text = "BLEU";
        }
        var png = plot.GetImageBytes(options.Width, options.Height, ImageFormat.Png);
        AtomicFile.Write(output, stream => stream.Write(png));
    }

    /// <summary>One series of the records that hold <paramref name="key"/>; false when none does.</summary>
    private static bool AddLine(Plot plot, List<JsonObject> records, string key, string label, Color color, bool rightAxis)
    {
        var points = records.Where(r => r[key] is JsonValue).Select(r => (X: (double)r["update"]!.GetValue<long>(), Y: r[key]!.GetValue<double>())).ToList();
        if (points.Count == 0) return false;
        var line = plot.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray(), color);
        line.LegendText = label;
        line.LineWidth = 2;
        line.MarkerSize = points.Count == 1 || key != "loss" ? 6 : 0;
        if (rightAxis) line.Axes.YAxis = plot.Axes.Right;
        return true;
    }
}
