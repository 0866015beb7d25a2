using ScottPlot;

namespace TranslationTrainer.Report;

/// <summary>
/// A PNG of one cross-attention map: source subwords along the bottom, output subwords down the left side in the
/// order they were produced, darker where an output subword looked harder at a source subword.
/// </summary>
public static class AttentionHeatmap
{
    /// <summary>map[t, s] in [0, 1]: output token t's attention to source token s.</summary>
    public static byte[] Png(float[,] map, IReadOnlyList<string> sourceTokens, IReadOnlyList<string> targetTokens, string title)
    {
        int rows = targetTokens.Count, columns = sourceTokens.Count;
        var plot = Plots.New();
        if (rows == 0 || columns == 0)
        {
            plot.HideGrid();
            plot.Axes.Frameless();
            var text = plot.Add.Text($"{title}\n\nempty input: nothing was translated", 0, 0);
            text.LabelFontSize = 16;
            text.LabelAlignment = Alignment.MiddleCenter;
            plot.Axes.SetLimits(-1, 1, -1, 1);
            return plot.GetImageBytes(500, 200, ImageFormat.Png);
        }
        plot.Title(title, size: 16);
        var intensities = new double[rows, columns];
        for (int t = 0; t < rows; t++)
            for (int s = 0; s < columns; s++) intensities[t, s] = map[t, s];
        var heatmap = plot.Add.Heatmap(intensities);
        heatmap.Colormap = new ScottPlot.Colormaps.Reversed(new ScottPlot.Colormaps.Blues()); // white for 0, dark blue for 1
        // A fixed 0–1 scale, so the heads and the average can be compared by eye.
        heatmap.ManualRange = new ScottPlot.Range(0, 1);
        heatmap.Rectangle = new CoordinateRect(0, columns, 0, rows);  // cell (t, s) spans [s, s+1] × [rows-t-1, rows-t]
        var colorBar = plot.Add.ColorBar(heatmap);
        colorBar.Axis.SetTicks([0, 0.25, 0.5, 0.75, 1], ["0", "0.25", "0.5", "0.75", "1"]);

        // Large enough cells for a 13 px label, smaller ones for long sentences so the picture stays on a screen.
        int cell = Math.Clamp(1200 / Math.Max(rows, columns), 9, 24);
        float fontSize = Math.Min(14, cell - 2);
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, columns).Select(s => s + 0.5)], [.. sourceTokens]);
        plot.Axes.Left.SetTicks([.. Enumerable.Range(0, rows).Select(t => rows - t - 0.5)], [.. targetTokens]);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 90;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.TickLabelStyle.FontSize = fontSize;
        plot.Axes.Left.TickLabelStyle.FontSize = fontSize;
        int sourceLabel = LabelPixels(sourceTokens, fontSize), targetLabel = LabelPixels(targetTokens, fontSize);
        plot.Axes.Bottom.MinimumSize = sourceLabel + 30;
        plot.Axes.Left.MinimumSize = targetLabel + 30;
        plot.Axes.Bottom.Label.Text = "source subwords (▁ starts a word)";
        plot.Axes.Left.Label.Text = "output subwords, in order";
        plot.Axes.Bottom.Label.FontSize = 14;
        plot.Axes.Left.Label.FontSize = 14;
        plot.Axes.SetLimits(0, columns, 0, rows);
        plot.HideGrid();

        int width = targetLabel + 30 + 20 + columns * cell + 100, height = 50 + rows * cell + sourceLabel + 30 + 20;
        return plot.GetImageBytes(Math.Max(width, 420), Math.Max(height, 300), ImageFormat.Png);
    }

    /// <summary>A generous estimate of the longest label's width, as tick labels are not always measured when rotated.</summary>
    private static int LabelPixels(IReadOnlyList<string> labels, float fontSize) =>
        (int)Math.Ceiling(labels.Max(l => l.Length) * fontSize * 0.6) + 4;
}
