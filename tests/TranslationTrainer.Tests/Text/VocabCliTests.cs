using TranslationTrainer.Cli;

namespace TranslationTrainer.Tests.Text;

/// <summary>vocab / encode / decode run in-process through CliApp.</summary>
public class VocabCliTests
{
    private static (int Code, string Out, string Error) Run(string stdin, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, new CliContext(new StringReader(stdin), output, error));
        return (code, output.ToString(), error.ToString());
    }

    private static string Learn(string dir, params string[] extra)
    {
        string input = Path.Combine(dir, "input.txt");
        File.WriteAllLines(input, Corpus.Lines("valid.es").Take(800).Concat(Corpus.Lines("valid.en").Take(800)));
        string output = Path.Combine(dir, "vocab");
        var (code, stdout, stderr) = Run("", ["vocab", "--input", input, "--output", output, "--vocab-size", "600", .. extra]);
        Assert.True(code == 0, stderr);
        Assert.Contains("joint vocabulary, 600 pieces, fingerprint ", stdout);
        return output;
    }

    [Fact]
    public void EncodeThenDecodeRestoresTheText()
    {
        string vocab = Learn(Corpus.NewTemporaryDirectory());
        string text = "Y dijo Dios: Sea la luz.\n“Behold,” he said —  twice.\n";

        var pieces = Run(text, "encode", "--vocab", vocab);
        var ids = Run(text, "encode", "--vocab", vocab, "--ids");
        var fromPieces = Run(pieces.Out, "decode", "--vocab", vocab);
        var fromIds = Run(ids.Out, "decode", "--vocab", vocab, "--ids");

        Assert.Equal(0, pieces.Code);
        Assert.StartsWith("▁Y ▁d ij o ▁Dios : ", pieces.Out);
        Assert.Matches(@"^[0-9 ]+\n[0-9 ]+\n$", ids.Out);
        Assert.Equal("Y dijo Dios: Sea la luz.\n“Behold,” he said — twice.\n", fromPieces.Out);
        Assert.Equal(fromPieces.Out, fromIds.Out);
    }

    [Fact]
    public void SeparateVocabulariesArePickedWithSide()
    {
        string dir = Corpus.NewTemporaryDirectory();
        string es = Path.Combine(dir, "es.txt"), en = Path.Combine(dir, "en.txt"), vocab = Path.Combine(dir, "vocab");
        File.WriteAllLines(es, Corpus.Lines("valid.es").Take(800));
        File.WriteAllLines(en, Corpus.Lines("valid.en").Take(800));

        var built = Run("", "vocab", "--separate", "--source-input", es, "--target-input", en, "--output", vocab, "--vocab-size", "500");
        var source = Run("the house\n", "encode", "--vocab", vocab, "--side", "source");
        var target = Run("the house\n", "encode", "--vocab", vocab, "--side", "target");

        Assert.True(built.Code == 0, built.Error);
        Assert.Contains("source 500 + target 500 pieces", built.Out);
        Assert.NotEqual(source.Out, target.Out);
    }

    [Fact]
    public void UserErrorsAreOneLineWithExitCodeOne()
    {
        string dir = Corpus.NewTemporaryDirectory();
        string vocab = Learn(dir);
        string empty = Path.Combine(dir, "empty.txt");
        File.WriteAllText(empty, "");

        var cases = new[]
        {
            Run("", "vocab", "--input", empty, "--output", Path.Combine(dir, "out")),
            Run("", "vocab", "--separate", "--input", empty, "--output", Path.Combine(dir, "out")),
            Run("", "encode", "--vocab", Path.Combine(dir, "missing")),
            Run("1 2 x\n", "decode", "--vocab", vocab, "--ids"),
            Run("5 99999\n", "decode", "--vocab", vocab, "--ids"),
            Run("▁Y ▁no-such-piece\n", "decode", "--vocab", vocab),
        };

        Assert.All(cases, c =>
        {
            Assert.Equal(1, c.Code);
            Assert.StartsWith("error: ", c.Error);
            Assert.Single(c.Error.TrimEnd('\n').Split('\n'));
        });
        Assert.Contains("empty file", cases[0].Error);
        Assert.Contains("stdin:1: 'x' is not an id", cases[3].Error);
        Assert.Contains("stdin:1: id 99999 is outside the vocabulary", cases[4].Error);
        Assert.Contains("unknown piece '▁no-such-piece'", cases[5].Error);
        Assert.False(Directory.Exists(Path.Combine(dir, "out")));
    }

    [Fact]
    public void HelpDocumentsTheOptions()
    {
        var (code, stdout, _) = Run("", "vocab", "--help");

        Assert.Equal(0, code);
        foreach (string option in new[] { "--input", "--separate", "--source-input", "--target-input", "--vocab-size", "--min-frequency", "--character-coverage", "--normalization" })
        {
            Assert.Contains(option, stdout);
        }
    }
}
