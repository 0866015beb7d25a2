using TranslationTrainer.Evaluation;

namespace TranslationTrainer.Tests.Evaluation;

// Where the expected values come from (sacreBLEU repository, github.com/mjpost/sacrebleu):
// - test/test_ter.py: test_ter (perfect match, no overlap, empty sides, a single shift, and the
//   five-sentence WMT19 dev example 0.136), EPSILON 1e-3 on the 0-100 scale as there.
// - test.sh (last present at commit 77ca43d): the TER table, `Total TER` of tercom.7.25.jar for the
//   WMT17 en-de systems printed to three decimals.
public class TerTests
{
    [Theory]
    [InlineData(new[] { "aaaa bbbb cccc dddd" }, new[] { "aaaa bbbb cccc dddd" }, 0.0)]
    [InlineData(new[] { "dddd eeee ffff" }, new[] { "aaaa bbbb cccc" }, 1.0)]
    [InlineData(new[] { "" }, new[] { "a" }, 1.0)]
    [InlineData(new[] { "a" }, new[] { "" }, 1.0)]
    [InlineData(new[] { "" }, new[] { "" }, 0.0)]
    [InlineData(new[] { "d e f g h a b c" }, new[] { "a b c d e f g h" }, 1.0 / 8)]
    [InlineData(new[]
    {
        "wählen Sie \" Bild neu berechnen , \" um beim Ändern der Bildgröße Pixel hinzuzufügen oder zu entfernen , damit das Bild ungefähr dieselbe Größe aufweist wie die andere Größe .",
        "wenn Sie alle Aufgaben im aktuellen Dokument aktualisieren möchten , wählen Sie im Menü des Aufgabenbedienfelds die Option \" Alle Aufgaben aktualisieren . \"",
        "klicken Sie auf der Registerkarte \" Optionen \" auf die Schaltfläche \" Benutzerdefiniert \" und geben Sie Werte für \" Fehlerkorrektur-Level \" und \" Y / X-Verhältnis \" ein .",
        "Sie können beispielsweise ein Dokument erstellen , das ein Auto über die Bühne enthält .",
        "wählen Sie im Dialogfeld \" Neu aus Vorlage \" eine Vorlage aus und klicken Sie auf \" Neu . \"",
    }, new[]
    {
        "wählen Sie \" Bild neu berechnen , \" um beim Ändern der Bildgröße Pixel hinzuzufügen oder zu entfernen , damit die Darstellung des Bildes in einer anderen Größe beibehalten wird .",
        "wenn Sie alle Aufgaben im aktuellen Dokument aktualisieren möchten , wählen Sie im Menü des Aufgabenbedienfelds die Option \" Alle Aufgaben aktualisieren . \"",
        "klicken Sie auf der Registerkarte \" Optionen \" auf die Schaltfläche \" Benutzerdefiniert \" und geben Sie für \" Fehlerkorrektur-Level \" und \" Y / X-Verhältnis \" niedrigere Werte ein .",
        "Sie können beispielsweise ein Dokument erstellen , das ein Auto enthalt , das sich über die Bühne bewegt .",
        "wählen Sie im Dialogfeld \" Neu aus Vorlage \" eine Vorlage aus und klicken Sie auf \" Neu . \"",
    }, 0.136)]
    public void Ter(string[] hyps, string[] refs, double expected) =>
        Assert.Equal(100 * expected, new Ter([refs]).CorpusScore(hyps).Score, 1e-3);

    [Theory]
    [InlineData("uedin-nmt.4722", 0.612)]
    [InlineData("online-F.0", 0.756)]
    [InlineData("C-3MA.4959", 0.669)]
    public void Wmt17Tercom(string system, double expected) =>
        Assert.Equal(expected, Wmt17.Ter.CorpusScore(Wmt17.System(system)).Score / 100, 0.0005 + 1e-9);

    [Fact]
    public void Signature() =>
        Assert.Equal($"nrefs:1|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:{TranslationTrainer.Evaluation.Signature.Version}",
            new Ter([["a"]]).Signature.ToString());
}
