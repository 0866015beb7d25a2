using TranslationTrainer.Text;

namespace TranslationTrainer.Tests.Text;

/// <summary>Models trained by spm_train, loaded through the project; see Fixtures/README.md for how they were made.</summary>
public class SentencePieceTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Text", "Fixtures", name);

    [Fact]
    public void GivesTheSameIdsAsSpmEncode()
    {
        var pair = VocabularyPair.Load(Fixture("spm-bpe"));
        string[] input = File.ReadAllLines(Path.Combine(Fixture("spm-bpe"), "input.txt"));
        string[] expected = File.ReadAllLines(Path.Combine(Fixture("spm-bpe"), "expected.ids"));

        Assert.True(pair.Joint);
        Assert.Equal(1000, pair.Source.Size);
        Assert.Equal(expected.Length, input.Length);
        for (int i = 0; i < input.Length; i++)
        {
            Assert.True(expected[i] == string.Join(' ', pair.Source.Encode(input[i])), $"line {i + 1}: {input[i]}");
        }
    }

    [Fact]
    public void DecodesBackToTheNormalisedText()
    {
        var vocabulary = VocabularyPair.Load(Fixture("spm-bpe")).Source;

        Assert.Equal("Dijo: «¿Quién?»", vocabulary.Decode(vocabulary.Encode("  Dijo:   «¿Quién?»  ")));
        Assert.Equal("emoji 🙂", vocabulary.Decode([Vocabulary.BosId, .. vocabulary.Encode("emoji 🙂"), Vocabulary.EosId]));
        Assert.Equal("<pad>", vocabulary.IdToPiece(Vocabulary.PadId));
    }

    [Fact]
    public void RefusesAModelWithSentencePiecesDefaultIds()
    {
        var error = Assert.Throws<UserError>(() => VocabularyPair.Load(Fixture("spm-default-ids")));

        Assert.Contains("--pad_id=0 --unk_id=1 --bos_id=2 --eos_id=3", error.Message);
    }
}
