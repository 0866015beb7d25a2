using System.Text;
using TranslationTrainer.Speech;

namespace TranslationTrainer.Tests.Speech;

public sealed class SpeechManifestTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tt-manifest-").FullName;

    public SpeechManifestTests()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "wav"));
        File.WriteAllBytes(Path.Combine(_dir, "wav", "a.wav"), WavFile.EncodePcm16(new float[800], 16000));
        File.WriteAllBytes(Path.Combine(_dir, "b.wav"), WavFile.EncodePcm16(new float[800], 16000));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Manifest(string text)
    {
        var path = Path.Combine(_dir, "m.tsv");
        File.WriteAllText(path, text, new UTF8Encoding(false));
        return path;
    }

    private string Error(string text)
    {
        var path = Manifest(text);
        var message = Assert.Throws<UserError>(() => SpeechManifest.Read(path)).Message;
        Assert.DoesNotContain('\n', message);
        Assert.StartsWith(path + " ", message);
        return message[(path.Length + 1)..];
    }

    [Fact]
    public void ReadsPathsAgainstTheManifestsDirectory()
    {
        var absolute = Path.Combine(_dir, "b.wav");
        var utterances = SpeechManifest.Read(Manifest($"wav/a.wav\tIn the beginning\r\n{absolute}\tY dijo Dios: Sea la luz\ttab kept\n"));
        Assert.Equal([Path.Combine(_dir, "wav", "a.wav"), absolute], utterances.Select(u => u.WavPath));
        Assert.Equal(["In the beginning", "Y dijo Dios: Sea la luz\ttab kept"], utterances.Select(u => u.Text));
        Assert.Equal([1, 2], utterances.Select(u => u.Line));
    }

    [Fact]
    public void ResolvesAgainstTheManifestNotTheWorkingDirectory()
    {
        var sub = Directory.CreateDirectory(Path.Combine(_dir, "sub")).FullName;
        File.WriteAllText(Path.Combine(sub, "m.tsv"), "../b.wav\tok\n");
        Assert.Equal(Path.Combine(_dir, "b.wav"), SpeechManifest.Read(Path.Combine(sub, "m.tsv"))[0].WavPath);
    }

    [Fact]
    public void ErrorsNameTheFileAndLine()
    {
        Assert.Equal("line 2: no tab (expected 'wav path<TAB>text')", Error("wav/a.wav\tone\nwav/a.wav two\n"));
        Assert.Equal("line 1: wav/missing.wav: WAV file not found (" + Path.Combine(_dir, "wav", "missing.wav") + ")", Error("wav/missing.wav\tone\n"));
        Assert.Equal("line 3: empty wav path", Error("b.wav\tone\nb.wav\ttwo\n\tthree\n"));
        Assert.Equal("line 1: empty text for b.wav", Error("b.wav\t \n"));
        Assert.Equal("line 2: no tab (expected 'wav path<TAB>text')", Error("b.wav\tone\n\nb.wav\tthree\n"));
    }

    [Fact]
    public void EmptyManifestIsAnError()
    {
        var path = Manifest("");
        Assert.Equal($"{path}: empty manifest", Assert.Throws<UserError>(() => SpeechManifest.Read(path)).Message);
    }
}
