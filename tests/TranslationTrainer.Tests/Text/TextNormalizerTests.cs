using TranslationTrainer.Text;

namespace TranslationTrainer.Tests.Text;

public class TextNormalizerTests
{
    [Theory]
    [InlineData("  a \t b\u00A0\u2003c  ", Normalization.None, "a b c")]
    [InlineData("ﬁne ①", Normalization.None, "ﬁne ①")]
    [InlineData("ﬁne ①", Normalization.Nfc, "ﬁne ①")]
    [InlineData("ﬁne ①", Normalization.Nfkc, "fine 1")]
    [InlineData("Jose\u0301", Normalization.Nfc, "José")]
    [InlineData("a\u2581b", Normalization.Nfkc, "a b")] // the marker itself counts as a space
    public void NormalisesUnicodeAndWhitespace(string line, Normalization form, string expected)
        => Assert.Equal(expected, TextNormalizer.Normalize(line, form));

    [Fact]
    public void EscapingMarksEveryWordAndIsReversible()
    {
        Assert.Equal("▁Y▁dijo:", TextNormalizer.Escape("Y dijo:"));
        Assert.Equal("", TextNormalizer.Escape(""));
        Assert.Equal("Y dijo:", TextNormalizer.Unescape("▁Y▁dijo:"));
    }

    [Fact]
    public void WordsNeverMixLettersDigitsAndPunctuation()
        => Assert.Equal(["▁Dijo", ":", "▁«¿", "Sí", "?»", "▁12", "b", "▁🙂"], WordSplitter.Words("▁Dijo:▁«¿Sí?»▁12b▁🙂"));
}
