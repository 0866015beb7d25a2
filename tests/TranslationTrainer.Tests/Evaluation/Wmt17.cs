using TranslationTrainer.Evaluation;

namespace TranslationTrainer.Tests.Evaluation;

/// <summary>The WMT17 en-de fixture files, read once per test run the way the CLI reads them.</summary>
internal static class Wmt17
{
    private static readonly Dictionary<string, IReadOnlyList<string>> Cache = [];

    public static string Path(string file) => global::System.IO.Path.Combine(AppContext.BaseDirectory, "Evaluation", "Fixtures", file);

    public static IReadOnlyList<string> Lines(string file)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(file, out var lines))
                Cache[file] = lines = EvalInput.ReadFile(Path(file));
            return lines;
        }
    }

    public static IReadOnlyList<string> System(string name) => Lines($"{name}.hyp.de");

    public static IReadOnlyList<IReadOnlyList<string>> References => [Lines("newstest2017.ref.de")];

    // Metrics with their references prepared once for all the tests that share them.
    private static readonly Lazy<Bleu> Bleu13aLazy = new(() => new Bleu(new BleuOptions(), References));
    private static readonly Lazy<Bleu> BleuNoneLazy = new(() => new Bleu(new BleuOptions(Tokenize: "none"), References));
    private static readonly Lazy<Ter> TerLazy = new(() => new Ter(References));

    public static Bleu Bleu13a => Bleu13aLazy.Value;

    public static Bleu BleuNone => BleuNoneLazy.Value;

    public static Ter Ter => TerLazy.Value;
}
