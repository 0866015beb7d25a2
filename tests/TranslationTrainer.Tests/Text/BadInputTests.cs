using TranslationTrainer.Text;

namespace TranslationTrainer.Tests.Text;

public class BadInputTests
{
    private static (string Dir, string Output) Scratch()
    {
        string dir = Corpus.NewTemporaryDirectory();
        return (dir, Path.Combine(dir, "vocab"));
    }

    private static UserError Fails(string dir, VocabularyRequest request)
    {
        var error = Assert.Throws<UserError>(() => VocabularyBuilder.Build(request));
        Assert.DoesNotContain('\n', error.Message);
        Assert.Equal(["input.txt"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName)); // nothing written
        return error;
    }

    [Fact]
    public void EmptyFile()
    {
        var (dir, output) = Scratch();
        string input = Path.Combine(dir, "input.txt");
        File.WriteAllText(input, "\n  \n");

        var error = Fails(dir, new VocabularyRequest([input], null, output, new VocabularyOptions()));

        Assert.Equal($"{input}: empty file", error.Message);
    }

    [Fact]
    public void VocabularySmallerThanTheAlphabet()
    {
        var (dir, output) = Scratch();
        string input = Path.Combine(dir, "input.txt");
        File.WriteAllText(input, "abcdef ghij\n");

        var error = Fails(dir, new VocabularyRequest([input], null, output, new VocabularyOptions(VocabSize: 100)));

        Assert.Contains("--vocab-size 100 is smaller than the alphabet: 271 pieces (4 special + 256 byte + 11 characters)", error.CommandLineMessage);
    }

    [Fact]
    public void InvalidUtf8IsReportedWithItsLineNumber()
    {
        var (dir, output) = Scratch();
        string input = Path.Combine(dir, "input.txt");
        File.WriteAllBytes(input, [.. "first line\nsecond line\n"u8, (byte)'b', 0xC3, 0x28, (byte)'\n', .. "fourth\n"u8]);

        var error = Fails(dir, new VocabularyRequest([input], null, output, new VocabularyOptions(VocabSize: 300)));

        Assert.Equal($"{input}:3: invalid UTF-8", error.Message);
    }

    [Fact]
    public void UnreadableSentencePieceModel()
    {
        string dir = Corpus.NewTemporaryDirectory();
        File.WriteAllText(Path.Combine(dir, "broken.model"), "this is not a protobuf");

        var error = Assert.Throws<UserError>(() => VocabularyPair.Load(dir));

        Assert.StartsWith($"{Path.Combine(dir, "broken.model")}: not a readable SentencePiece model", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void DamagedMergesFile()
    {
        var (dir, output) = Scratch();
        string input = Path.Combine(dir, "input.txt");
        File.WriteAllLines(input, Corpus.Lines("valid.en").Take(200));
        VocabularyBuilder.Build(new VocabularyRequest([input], null, output, new VocabularyOptions(VocabSize: 400)));
        File.AppendAllText(Path.Combine(output, "merges.txt"), "▁nope zzz\n");

        var error = Assert.Throws<UserError>(() => VocabularyPair.Load(output));

        Assert.Contains("cannot load vocab.json + merges.txt", error.Message);
    }

    [Fact]
    public void MissingDirectoryOrFiles()
    {
        string dir = Corpus.NewTemporaryDirectory();

        Assert.Contains("vocabulary directory not found", Assert.Throws<UserError>(() => VocabularyPair.Load(Path.Combine(dir, "nope"))).Message);
        Assert.Contains("no vocabulary here", Assert.Throws<UserError>(() => VocabularyPair.Load(dir)).Message);
    }

    [Fact]
    public void ExistingOutputIsNotReplacedWithoutOverwrite()
    {
        var (dir, output) = Scratch();
        string input = Path.Combine(dir, "input.txt");
        File.WriteAllLines(input, Corpus.Lines("valid.en").Take(200));
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "keep.txt"), "mine");

        Assert.Contains("already exists", Assert.Throws<UserError>(() =>
            VocabularyBuilder.Build(new VocabularyRequest([input], null, output, new VocabularyOptions(VocabSize: 400)))).Message);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(output, "keep.txt")));
    }
}
