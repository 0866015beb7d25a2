using System.Text;
using TranslationTrainer.Evaluation;

namespace TranslationTrainer.Tests.Evaluation;

// Expected behaviour: sacreBLEU's command line reads files with open(..., newline="\n") and
// line.rstrip() (sacrebleu/sacrebleu.py, main()); the BOM and error rules are this project's.
public class EvalInputTests
{
    private static IReadOnlyList<string> Decode(string text) => EvalInput.Decode(Encoding.UTF8.GetBytes(text), "f.txt");

    [Fact]
    public void TrailingNewlineEndsTheLastLineAndEmptyLinesStay() =>
        Assert.Equal(["a", "", "b"], Decode("a\n\nb\n"));

    [Fact]
    public void LastLineWithoutNewlineIsKept() => Assert.Equal(["a", "b"], Decode("a\nb"));

    [Fact]
    public void CarriageReturnsAndTrailingSpacesAreStripped() => Assert.Equal(["a b", " c"], Decode("a b \r\n c\t\n"));

    [Fact]
    public void ByteOrderMarkIsDropped() => Assert.Equal(["x"], Decode("\uFEFFx\n"));

    [Fact]
    public void InvalidUtf8NamesFileAndLine()
    {
        var bytes = Encoding.UTF8.GetBytes("ok\nalso ok\n").Concat(new byte[] { 0x61, 0xC3, 0x28, 0x0A }).ToArray();
        var error = Assert.Throws<UserError>(() => EvalInput.Decode(bytes, "hyp.txt"));
        Assert.Equal("hyp.txt:3: invalid UTF-8", error.Message);
    }

    [Fact]
    public void EmptyFileIsAnError()
    {
        Assert.Throws<UserError>(() => EvalInput.Decode([], "e.txt"));
        Assert.Throws<UserError>(() => EvalInput.Decode([0xEF, 0xBB, 0xBF], "e.txt"));
    }

    [Fact]
    public void StandardInputTextFollowsTheSameRules() => Assert.Equal(["a", ""], EvalInput.ReadText("\uFEFFa\r\n\n", "stdin"));
}
