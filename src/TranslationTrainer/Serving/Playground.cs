namespace TranslationTrainer.Serving;

/// <summary>The page at GET /: one self-contained HTML file (script and style inline, no external assets).</summary>
internal static class Playground
{
    private static readonly Lazy<string> Page = new(() =>
    {
        using var stream = typeof(Playground).Assembly.GetManifestResourceStream("TranslationTrainer.Serving.Playground.html")!;
        return new StreamReader(stream).ReadToEnd();
    });

    public static string Html(ServerOptions options) => Page.Value
        .Replace("{{SOURCE}}", System.Net.WebUtility.HtmlEncode(options.SourceLanguage))
        .Replace("{{TARGET}}", System.Net.WebUtility.HtmlEncode(options.TargetLanguage));
}
