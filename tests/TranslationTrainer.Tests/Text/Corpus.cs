using TranslationTrainer.Text;

namespace TranslationTrainer.Tests.Text;

/// <summary>The bundled corpus (data/bible-es-en) and a scratch directory per test.</summary>
internal static class Corpus
{
    public static readonly string Directory = Find();

    public static string File(string name) => Path.Combine(Directory, name);

    public static IEnumerable<string> Lines(string name) => System.IO.File.ReadLines(File(name));

    public static readonly string[] AllFiles =
        ["train.es", "train.en", "valid.es", "valid.en", "test.es", "test.en"];

    /// <summary>A vocabulary learned once per test run on the first 4,000 lines of each training side.</summary>
    public static readonly Lazy<Vocabulary> Small = new(() => Vocabulary.FromModel(
        BpeLearner.Learn(Lines("train.es").Take(4000).Concat(Lines("train.en").Take(4000)), new VocabularyOptions(VocabSize: 2000)),
        Normalization.Nfkc));

    public static string NewTemporaryDirectory()
    {
        string path = Path.Combine(Path.GetTempPath(), "tt-vocab-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(path);
        return path;
    }

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "data", "bible-es-en");
            if (System.IO.Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException("data/bible-es-en not found above " + AppContext.BaseDirectory);
    }
}
