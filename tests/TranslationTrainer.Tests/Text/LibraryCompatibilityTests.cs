using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using TranslationTrainer.Text;

namespace TranslationTrainer.Tests.Text;

/// <summary>The saved files are a plain Microsoft.ML.Tokenizers BpeTokenizer model: no project code needed to use them.</summary>
public class LibraryCompatibilityTests
{
    [Fact]
    public void BpeTokenizerOnTheSavedFilesGivesTheProjectsIds()
    {
        string dir = Path.Combine(Corpus.NewTemporaryDirectory(), "vocab");
        var training = Corpus.Lines("train.es").Take(4000).Concat(Corpus.Lines("train.en").Take(4000));
        string trainingFile = Path.Combine(Path.GetDirectoryName(dir)!, "train.txt");
        File.WriteAllLines(trainingFile, training);
        var project = VocabularyBuilder.Build(new VocabularyRequest([trainingFile], null, dir, new VocabularyOptions(VocabSize: 2000))).Source;

        // Everything below is Microsoft.ML.Tokenizers plus the recipe written in manifest.json.
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")));
        string pattern = manifest.RootElement.GetProperty("pre_tokenizer").GetString()!;
        var library = BpeTokenizer.Create(Path.Combine(dir, "vocab.json"), Path.Combine(dir, "merges.txt"),
            preTokenizer: new RegexPreTokenizer(new Regex(pattern), null), normalizer: null, specialTokens: null, unknownToken: "<unk>");
        int exact = 0, lines = 0;
        foreach (string line in Corpus.Lines("test.es").Concat(Corpus.Lines("test.en")))
        {
            string normalized = Regex.Replace(line.Normalize(NormalizationForm.FormKC), @"\s+", " ").Trim();
            var expected = library.EncodeToIds("▁" + normalized.Replace(' ', '▁'), considerPreTokenization: true, considerNormalization: false);
            int[] actual = project.Encode(line);
            lines++;
            if (!expected.Contains(Vocabulary.UnkId))
            {
                Assert.Equal(expected, actual);
                exact++;
            }
            else
            {
                // A character outside the alphabet: <unk> for the bare library, UTF-8 byte pieces (ids 4–259) for us.
                Assert.Equal(expected.Where(id => id != Vocabulary.UnkId), actual.Where(id => id is < 4 or > 259));
            }
        }
        Assert.True(exact > lines * 0.95, $"{exact} of {lines} lines without unknown characters");
    }
}
