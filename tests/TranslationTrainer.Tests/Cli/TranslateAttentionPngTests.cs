using TranslationTrainer.Tests.Training;

namespace TranslationTrainer.Tests.Cli;

[Collection(TorchCollection.Name)]
public class TranslateAttentionPngTests
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    [Fact]
    public void TranslateAttentionPngWritesOnePicturePerInputLine()
    {
        var dir = Path.Combine(Directory.CreateTempSubdirectory("tt-attention").FullName, "maps");
        var result = CliRunner.RunWithInput("Y dijo Dios\n\nSea la luz y fue la luz\n", "translate", "--checkpoint", TinyRun.TrainedRunDirectory,
            "--attention-png", dir, "--beam", "2", "--threads", "1");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal(3, result.Out.Split('\n').Length - 1);
        Assert.Equal(["0001.png", "0002.png", "0003.png"], Directory.GetFiles(dir).Select(Path.GetFileName).Order());
        foreach (var png in Directory.GetFiles(dir)) Assert.Equal(PngSignature, File.ReadAllBytes(png)[..8]);
    }

    [Fact]
    public void TranslateAttentionPngIntoAFileIsOneLine()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("tt-attention").FullName, "taken");
        File.WriteAllText(file, "");
        var result = CliRunner.RunWithInput("Y dijo Dios\n", "translate", "--checkpoint", TinyRun.TrainedRunDirectory, "--attention-png", file, "--threads", "1");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("is a file, expected a directory", result.Error);
    }
}
