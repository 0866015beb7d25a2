using System.Text;
using System.Text.Json;
using TranslationTrainer.Cli;
using TranslationTrainer.Evaluation;

namespace TranslationTrainer.Tests.Evaluation;

// Runs `eval` in-process. Expected scores: sacreBLEU test/test_bleu.py test_corpus_bleu (README
// example with two references, 48.530827) and test/test_sentence_bleu.py (issue #98 example, 8.493);
// output shapes: sacreBLEU's Score.format() and print_single_results (sacrebleu/metrics/base.py, utils.py).
public sealed class EvalCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tt-eval-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, string.Join("\n", lines) + "\n", new UTF8Encoding(false));
        return path;
    }

    private static (int Code, string Out, string Err) Run(string stdin, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, new CliContext(new StringReader(stdin), output, error));
        return (code, output.ToString(), error.ToString());
    }

    private (string Hyp, string Ref1, string Ref2) Readme() => (
        File("hyp.txt", "The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."),
        File("ref1.txt", "The dog bit the man.", "It was not unexpected.", "The man bit him first."),
        File("ref2.txt", "The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."));

    [Fact]
    public void TextLineIsSacreBleus()
    {
        var (hyp, ref1, ref2) = Readme();
        var (code, output, error) = Run("", "eval", "--hyp", hyp, "--ref", ref1, ref2);
        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.Matches(
            @"^BLEU\|nrefs:2\|case:mixed\|eff:no\|tok:13a\|smooth:exp\|version:tt-[0-9.]+ = 48\.5 [0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+ \(BP = [0-9.]{5} ratio = [0-9.]{5} hyp_len = [0-9]+ ref_len = [0-9]+\)\n$",
            output);
    }

    [Fact]
    public void JsonHasScoreSignatureAndStatistics()
    {
        var (hyp, ref1, ref2) = Readme();
        var (code, output, _) = Run("", "eval", "--hyp", hyp, "--ref", ref1, ref2, "--format", "json", "--width", "2", "--metrics", "bleu,chrf,ter");
        Assert.Equal(0, code);
        var list = JsonDocument.Parse(output).RootElement;
        Assert.Equal(["BLEU", "chrF2", "TER"], list.EnumerateArray().Select(o => o.GetProperty("name").GetString()));
        var bleu = list[0];
        Assert.Equal(48.53, bleu.GetProperty("score").GetDouble());
        Assert.StartsWith("nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:", bleu.GetProperty("signature").GetString());
        Assert.Equal(4, bleu.GetProperty("counts").GetArrayLength());
        Assert.Equal(4, bleu.GetProperty("totals").GetArrayLength());
        Assert.Equal(4, bleu.GetProperty("precisions").GetArrayLength());
        foreach (var field in new[] { "bp", "sys_len", "ref_len" }) Assert.True(bleu.TryGetProperty(field, out _), field);
    }

    [Fact]
    public void ReadsHypothesesFromStandardInput()
    {
        var (_, ref1, ref2) = Readme();
        var (code, output, _) = Run("The dog bit the man.\nIt wasn't surprising.\nThe man had just bitten him.\n",
            "eval", "--ref", ref1, ref2, "--width", "4");
        Assert.Equal(0, code);
        Assert.Contains(" = 48.5308 ", output);
    }

    [Fact]
    public void SentenceLevelGivesOneScorePerLine()
    {
        var hyp = File("h.txt", "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;", "this is a cat");
        var reference = File("r.txt", "producţia de zahăr brut se exprimă în zahăr alb;", "okay thanks");
        var (code, output, _) = Run("", "eval", "--hyp", hyp, "--ref", reference, "--sentence-level", "--format", "json", "--width", "4");
        Assert.Equal(0, code);
        var lines = output.TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Equal(8.493, JsonDocument.Parse(lines[0]).RootElement.GetProperty("score").GetDouble(), 1e-3);
        Assert.Equal(0.0, JsonDocument.Parse(lines[1]).RootElement.GetProperty("score").GetDouble());
        Assert.Contains("|eff:yes|", lines[0]);
    }

    [Fact]
    public void PairedBootstrapTableMarksTheBaseline()
    {
        var (hyp, ref1, _) = Readme();
        var other = File("other.txt", "The dog bit a man.", "It was not surprising.", "The man bit him first.");
        var (code, output, _) = Run("", "eval", "--hyp", hyp, other, "--ref", ref1, "--paired-bs", "--paired-bs-n", "100");
        Assert.Equal(0, code);
        Assert.Contains($"Baseline: {hyp}", output);
        Assert.Matches(@"\(p = [01]\.[0-9]{4}\)", output);
        Assert.Contains("BLEU: nrefs:1|bs:100|seed:12345|case:mixed|eff:no|tok:13a|smooth:exp|version:", output);
    }

    [Theory]
    [InlineData("--tokenize", "zz", "unknown tokenizer 'zz'")]
    [InlineData("--smooth-method", "zz", "unknown method 'zz'")]
    [InlineData("--metrics", "bleu,zz", "unknown metric 'zz'")]
    [InlineData("--format", "xml", "expected text or json")]
    public void BadOptionsFailWithOneLine(string option, string value, string message)
    {
        var (hyp, ref1, _) = Readme();
        var (code, output, error) = Run("", "eval", "--hyp", hyp, "--ref", ref1, option, value);
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.Contains(message, error);
    }

    [Fact]
    public void LineCountMismatchNamesBothFilesAndCounts()
    {
        var hyp = File("short.txt", "a", "b");
        var reference = File("long.txt", "a", "b", "c");
        var (code, _, error) = Run("", "eval", "--hyp", hyp, "--ref", reference);
        Assert.Equal(1, code);
        Assert.Equal($"error: {hyp} has 2 lines but {reference} has 3\n", error);
    }

    [Fact]
    public void InvalidUtf8NamesFileAndLine()
    {
        var hyp = Path.Combine(_dir, "bad.txt");
        System.IO.File.WriteAllBytes(hyp, [(byte)'o', (byte)'k', (byte)'\n', 0xFF, (byte)'\n']);
        var reference = File("r.txt", "ok", "ok");
        var (code, _, error) = Run("", "eval", "--hyp", hyp, "--ref", reference);
        Assert.Equal(1, code);
        Assert.Equal($"error: {hyp}:2: invalid UTF-8\n", error);
    }

    [Fact]
    public void LibraryEntryPointMatchesTheCommand()
    {
        // The call a translate-then-score command makes: hypothesis lines and reference streams.
        var report = Evaluator.Score(
            ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."],
            [
                ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
                ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
            ],
            new EvalOptions { Metrics = ["bleu", "chrf"] });
        Assert.Equal(48.530827, report.Results[0].Score.Score, 1e-6);
        Assert.Equal("chrF2", report.Results[1].Score.Name);
    }
}
