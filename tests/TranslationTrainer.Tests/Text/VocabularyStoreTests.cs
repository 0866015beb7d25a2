using TranslationTrainer.Text;

namespace TranslationTrainer.Tests.Text;

public class VocabularyStoreTests
{
    private static string TrainingFile(string dir, string name, string corpusFile, int lines)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllLines(path, Corpus.Lines(corpusFile).Take(lines));
        return path;
    }

    [Fact]
    public void SavedFilesAreByteIdenticalForTheSameInputAndOptions()
    {
        string dir = Corpus.NewTemporaryDirectory();
        string input = TrainingFile(dir, "input.txt", "valid.es", 1500);
        var options = new VocabularyOptions(VocabSize: 1200);

        var first = VocabularyBuilder.Build(new VocabularyRequest([input], null, Path.Combine(dir, "a"), options));
        var second = VocabularyBuilder.Build(new VocabularyRequest([input], null, Path.Combine(dir, "b"), options));

        foreach (string file in new[] { "vocab.json", "merges.txt", "manifest.json" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "a", file)), File.ReadAllBytes(Path.Combine(dir, "b", file)));
        }
        Assert.Equal(first.Fingerprint, second.Fingerprint);
        Assert.Equal(first.Fingerprint, VocabularyPair.Load(Path.Combine(dir, "a")).Fingerprint);
        Assert.Equal(64, first.Fingerprint.Length);
    }

    [Fact]
    public void SeparateVocabulariesAreSavedPerSideAndDifferFromJoint()
    {
        string dir = Corpus.NewTemporaryDirectory();
        string es = TrainingFile(dir, "es.txt", "valid.es", 1500), en = TrainingFile(dir, "en.txt", "valid.en", 1500);
        var options = new VocabularyOptions(VocabSize: 800);

        var separate = VocabularyBuilder.Build(new VocabularyRequest([es], [en], Path.Combine(dir, "separate"), options));
        var joint = VocabularyBuilder.Build(new VocabularyRequest([es, en], null, Path.Combine(dir, "joint"), options));

        Assert.False(separate.Joint);
        Assert.True(File.Exists(Path.Combine(dir, "separate", "source", "merges.txt")));
        Assert.True(File.Exists(Path.Combine(dir, "separate", "target", "vocab.json")));
        Assert.NotEqual(separate.Source.EncodeToPieces("Y dijo Dios"), separate.Target.EncodeToPieces("Y dijo Dios"));
        Assert.True(joint.Joint);
        Assert.Same(joint.Source, joint.Target);
        Assert.NotEqual(joint.Fingerprint, separate.Fingerprint);
        var manifest = VocabularyManifest.Read(Path.Combine(dir, "separate"));
        Assert.Equal(["source", "target"], manifest.TrainingFiles.Select(f => f.Side));
        Assert.Equal(64, manifest.TrainingFiles[0].Sha256.Length);
    }

    [Fact]
    public void OverwriteReplacesTheWholeDirectory()
    {
        string dir = Corpus.NewTemporaryDirectory();
        string input = TrainingFile(dir, "input.txt", "valid.en", 500);
        string output = Path.Combine(dir, "vocab");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "stale.txt"), "old");

        VocabularyBuilder.Build(new VocabularyRequest([input], null, output, new VocabularyOptions(VocabSize: 500), Overwrite: true));

        Assert.False(File.Exists(Path.Combine(output, "stale.txt")));
        Assert.Equal(["input.txt", "vocab"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void BareHuggingFaceStyleFilesLoadWithoutAManifest()
    {
        string dir = Corpus.NewTemporaryDirectory();
        string input = TrainingFile(dir, "input.txt", "valid.en", 500);
        string output = Path.Combine(dir, "vocab");
        var built = VocabularyBuilder.Build(new VocabularyRequest([input], null, output, new VocabularyOptions(VocabSize: 500)));
        File.Delete(Path.Combine(output, "manifest.json"));

        var bare = VocabularyPair.Load(output);

        Assert.Equal(built.Source.Encode("In the beginning, God created"), bare.Source.Encode("In the beginning, God created"));
    }
}
