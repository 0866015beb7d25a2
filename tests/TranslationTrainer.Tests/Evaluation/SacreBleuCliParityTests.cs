using System.Text.Json;
using TranslationTrainer.Cli;
using TranslationTrainer.Evaluation;

namespace TranslationTrainer.Tests.Evaluation;

// Expected values: Fixtures/sacrebleu-expected.json, produced by running the sacreBLEU 2.6.0 CLI on
// the WMT17 en-de fixtures (commands, commit and date in Fixtures/README.md). Every system × variant
// there must come out of our Evaluator within 0.01, and every signature must be sacreBLEU's with our
// version field (version:tt-X.Y.Z) in place of sacreBLEU's.
public class SacreBleuCliParityTests
{
    private const double Tolerance = 0.01;

    private static readonly Lazy<JsonElement> Expected = new(() =>
        JsonDocument.Parse(File.ReadAllText(Wmt17.Path("sacrebleu-expected.json"))).RootElement);

    /// <summary>Our options for a variant name of the JSON file (the sacreBLEU arguments are stored beside it).</summary>
    private static EvalOptions Options(string variant) => variant switch
    {
        "bleu-13a" => new() { Metrics = ["bleu"], Bleu = new BleuOptions(Tokenize: "13a") },
        "bleu-intl" => new() { Metrics = ["bleu"], Bleu = new BleuOptions(Tokenize: "intl") },
        "bleu-char" => new() { Metrics = ["bleu"], Bleu = new BleuOptions(Tokenize: "char") },
        "bleu-none" => new() { Metrics = ["bleu"], Bleu = new BleuOptions(Tokenize: "none") },
        "bleu-13a-lc" => new() { Metrics = ["bleu"], Bleu = new BleuOptions(Tokenize: "13a", Lowercase: true) },
        "chrf" => new() { Metrics = ["chrf"] },
        "chrf++" => new() { Metrics = ["chrf"], Chrf = new ChrfOptions(WordOrder: 2) },
        "ter" => new() { Metrics = ["ter"] },
        _ => throw new ArgumentException($"unknown variant {variant}"),
    };

    private static string OurSignature(string sacreBleuSignature)
    {
        int at = sacreBleuSignature.LastIndexOf("|version:", StringComparison.Ordinal);
        Assert.True(at >= 0, sacreBleuSignature);
        return sacreBleuSignature[..at] + "|version:" + Signature.Version;
    }

    private static IReadOnlyList<IReadOnlyList<string>> References(JsonElement files) =>
        [.. files.EnumerateArray().Select(f => Wmt17.Lines(f.GetString()!))];

    private static TheoryData<string, string> Cases(string section)
    {
        var data = new TheoryData<string, string>();
        foreach (var variant in Expected.Value.GetProperty(section).GetProperty("corpus").EnumerateObject())
            foreach (var system in variant.Value.GetProperty("scores").EnumerateObject())
                data.Add(variant.Name, system.Name);
        return data;
    }

    public static TheoryData<string, string> SingleReferenceCases => Cases("single");

    public static TheoryData<string, string> MultiReferenceCases => Cases("multiref");

    // One metric per (section, variant), so each variant's references are prepared once for all six systems.
    private static readonly Dictionary<(string, string), IMetric> Metrics = [];

    private static IMetric Metric(string section, string variant)
    {
        lock (Metrics)
        {
            if (!Metrics.TryGetValue((section, variant), out var metric))
            {
                var references = References(Expected.Value.GetProperty(section).GetProperty("references"));
                Metrics[(section, variant)] = metric = Assert.Single(Evaluator.CreateMetrics(Options(variant), references));
            }
            return metric;
        }
    }

    private static void AssertCorpus(string section, string variant, string system)
    {
        var expected = Expected.Value.GetProperty(section).GetProperty("corpus").GetProperty(variant);
        var metric = Metric(section, variant);
        Assert.Equal(expected.GetProperty("scores").GetProperty(system).GetDouble(), metric.CorpusScore(Wmt17.System(system)).Score, Tolerance);
        Assert.Equal(OurSignature(expected.GetProperty("signature").GetString()!), metric.Signature.ToString());
    }

    [Theory]
    [MemberData(nameof(SingleReferenceCases))]
    public void CorpusScoreEqualsSacreBleu(string variant, string system) => AssertCorpus("single", variant, system);

    [Theory]
    [MemberData(nameof(MultiReferenceCases))]
    public void MultiReferenceCorpusScoreEqualsSacreBleu(string variant, string system) => AssertCorpus("multiref", variant, system);

    public static TheoryData<string> SentenceVariants
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var variant in Expected.Value.GetProperty("sentence").GetProperty("variants").EnumerateObject())
                data.Add(variant.Name);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(SentenceVariants))]
    public void SentenceScoresEqualSacreBleu(string variant)
    {
        var block = Expected.Value.GetProperty("sentence");
        var expected = block.GetProperty("variants").GetProperty(variant);
        int lines = block.GetProperty("lines").GetInt32();
        var hyps = Wmt17.System(block.GetProperty("system").GetString()!).Take(lines).ToList();
        IReadOnlyList<IReadOnlyList<string>> refs = [.. References(block.GetProperty("references")).Select(r => r.Take(lines).ToList())];
        var results = Evaluator.ScoreSentences(hyps, refs, Options(variant));
        var scores = expected.GetProperty("scores").EnumerateArray().Select(s => s.GetDouble()).ToList();
        Assert.Equal(lines, scores.Count);
        Assert.Equal(lines, results.Count);
        for (int i = 0; i < lines; i++)
            Assert.True(Math.Abs(scores[i] - results[i].Score.Score) <= Tolerance,
                $"line {i + 1}: sacreBLEU {scores[i]}, ours {results[i].Score.Score}");
        var signature = OurSignature(expected.GetProperty("signature").GetString()!);
        Assert.All(results, r => Assert.Equal(signature, r.Signature.ToString()));
    }

    [Fact]
    public void EvalCommandJsonEqualsSacreBleuJson()
    {
        // The same call as sacreBLEU's `-m bleu chrf ter --format json -w 4`, through our CLI.
        const string system = "uedin-nmt.4722";
        var output = new StringWriter();
        int code = CliApp.Run(
            ["eval", "--hyp", Wmt17.Path($"{system}.hyp.de"), "--ref", Wmt17.Path("newstest2017.ref.de"),
             "--metrics", "bleu,chrf,ter", "--format", "json", "--width", "4"],
            new CliContext(new StringReader(""), output, new StringWriter()));
        Assert.Equal(0, code);
        var corpus = Expected.Value.GetProperty("single").GetProperty("corpus");
        var results = JsonDocument.Parse(output.ToString()).RootElement.EnumerateArray().ToList();
        string[] variants = ["bleu-13a", "chrf", "ter"];
        Assert.Equal(variants.Length, results.Count);
        for (int i = 0; i < variants.Length; i++)
        {
            var expected = corpus.GetProperty(variants[i]);
            Assert.Equal(expected.GetProperty("scores").GetProperty(system).GetDouble(), results[i].GetProperty("score").GetDouble(), Tolerance);
            Assert.Equal(OurSignature(expected.GetProperty("signature").GetString()!), results[i].GetProperty("signature").GetString());
        }
    }

    [Fact]
    public void FixtureCoversEveryRequiredVariantForSixSystems()
    {
        var corpus = Expected.Value.GetProperty("single").GetProperty("corpus");
        string[] variants = ["bleu-13a", "bleu-intl", "bleu-char", "bleu-none", "bleu-13a-lc", "chrf", "chrf++", "ter"];
        foreach (var variant in variants)
            Assert.Equal(6, corpus.GetProperty(variant).GetProperty("scores").EnumerateObject().Count());
    }
}
