using TranslationTrainer.Text;

namespace TranslationTrainer.Tests.Text;

public class RoundTripTests
{
    [Theory]
    [InlineData("train.es")]
    [InlineData("train.en")]
    [InlineData("valid.es")]
    [InlineData("valid.en")]
    [InlineData("test.es")]
    [InlineData("test.en")]
    public void DecodingTheEncodingGivesBackTheNormalisedLine(string file)
    {
        // Learned on 4,000 + 4,000 training lines (~0.3 s); every line of every file must survive, unseen characters included.
        var vocabulary = Corpus.Small.Value;
        int lineNumber = 0;
        foreach (string line in Corpus.Lines(file))
        {
            lineNumber++;
            string expected = TextNormalizer.Normalize(line, Normalization.Nfkc);
            string actual = vocabulary.Decode(vocabulary.Encode(line));
            Assert.True(expected == actual, $"{file}:{lineNumber}\nexpected: {expected}\nactual:   {actual}");
        }
    }

    [Theory]
    [InlineData("  Dijo:   «¿Quién?»  \t", "Dijo: «¿Quién?»")]
    [InlineData("“Quotes” and ‘single’ — dashes… 12,345.6", "“Quotes” and ‘single’ — dashes... 12,345.6")]
    [InlineData("ﬁne ① Ｆｕｌｌ", "fine 1 Full")] // NFKC folds compatibility characters
    [InlineData("emoji 🙂 and Ωμέγα and 漢字 ▁ marker", "emoji 🙂 and Ωμέγα and 漢字 marker")] // unseen: byte pieces
    [InlineData("", "")]
    [InlineData("x", "x")]
    public void WhitespaceIsCollapsedAndEverythingElseSurvives(string line, string expected)
    {
        var vocabulary = Corpus.Small.Value;

        Assert.Equal(expected, vocabulary.Decode(vocabulary.Encode(line)));
    }

    [Fact]
    public void UnseenCharactersBecomeUtf8BytePieces()
    {
        var vocabulary = Corpus.Small.Value;

        Assert.Equal(["▁", "<0xF0>", "<0x9F>", "<0x99>", "<0x82>"], vocabulary.EncodeToPieces("🙂"));
    }

    [Fact]
    public void SpecialIdsAreSkippedWhenDecoding()
    {
        var vocabulary = Corpus.Small.Value;
        int[] ids = vocabulary.Encode("Y dijo Dios");

        string text = vocabulary.Decode([Vocabulary.BosId, .. ids, Vocabulary.EosId, Vocabulary.PadId, Vocabulary.PadId]);

        Assert.Equal("Y dijo Dios", text);
        Assert.Equal("<s>", vocabulary.IdToPiece(Vocabulary.BosId));
        Assert.DoesNotContain(ids, id => id <= Vocabulary.EosId);
    }
}
