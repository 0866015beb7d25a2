using ScottPlot;

namespace TranslationTrainer.Report;

/// <summary>The report's plots share one look.</summary>
internal static class Plots
{
    // SkiaSharp's default typeface is a serif one on some Linux systems; labels read better in a sans-serif font.
    private static readonly string? SansFont = new[] { "DejaVu Sans", "Liberation Sans", "Arial", "Helvetica" }.FirstOrDefault(f => Fonts.GetTypeface(f, false, false) is { } typeface && typeface.FamilyName == f);

    public static Plot New()
    {
        var plot = new Plot();
        if (SansFont is not null) plot.Font.Set(SansFont);
        return plot;
    }
}
