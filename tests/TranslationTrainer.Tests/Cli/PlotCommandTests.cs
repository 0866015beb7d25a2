using TranslationTrainer.Tests.Training;
using TranslationTrainer.Training;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Tests.Cli;

[Collection(TorchCollection.Name)]
public class PlotCommandTests
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    [Fact]
    public void APlotOfATinyRunIsAPngFile()
    {
        var output = Path.Combine(Directory.CreateTempSubdirectory("tt-plot").FullName, "curves.png");
        var plotted = CliRunner.Run("plot", "--run-dir", TinyRun.TrainedRunDirectory, "--output", output, "--width", "400", "--height", "300");
        Assert.True(plotted.ExitCode == 0, plotted.Error);
        var bytes = File.ReadAllBytes(output);
        Assert.True(bytes.Length > 1000, $"only {bytes.Length} bytes");
        Assert.Equal(PngSignature, bytes[..8]);
        Assert.Equal([output], Directory.GetFiles(Path.GetDirectoryName(output)!));
    }

    [Fact]
    public void ByDefaultThePlotLandsInTheRunDirectory()
    {
        var plotted = CliRunner.Run("plot", "--run-dir", TinyRun.TrainedRunDirectory);
        Assert.True(plotted.ExitCode == 0, plotted.Error);
        Assert.Equal(PngSignature, File.ReadAllBytes(Path.Combine(TinyRun.TrainedRunDirectory, RunDirectory.Plot))[..8]);
    }
}
