using TranslationTrainer.Tests.Training;
using TranslationTrainer.Training;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Tests.Cli;

[Collection(TorchCollection.Name)]
public class AverageCommandTests
{
    [Fact]
    public void AveragingTheLastCheckpointsOfARunGivesACheckpointThatTranslates()
    {
        string run = TinyRun.TrainedRunDirectory, output = Path.Combine(run, RunDirectory.AveragedCheckpoint);
        var averaged = CliRunner.Run("average", "--run-dir", run, "--last", "3");
        Assert.True(averaged.ExitCode == 0, averaged.Error);
        Assert.Contains("averaged 3 checkpoints (checkpoint_6.pt, checkpoint_9.pt, checkpoint_12.pt)", averaged.Out);
        var header = Checkpoint.ReadHeader(output);
        Assert.False(header.HasOptimizer);
        Assert.Equal(12, header.Progress.Update);

        // Inside the run directory the vocabulary is found next to the checkpoint.
        var translated = CliRunner.RunWithInput("Y dijo Dios\n", "translate", "--checkpoint", output, "--beam", "1", "--threads", "1");
        Assert.True(translated.ExitCode == 0, translated.Error);
        Assert.Single(translated.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void NamedCheckpointsAreAveragedIntoAFileElsewhereThatTranslatesWithTheRunsVocabulary()
    {
        string run = TinyRun.TrainedRunDirectory, elsewhere = Directory.CreateTempSubdirectory("tt-average-cli").FullName;
        var output = Path.Combine(elsewhere, "averaged.pt");
        var averaged = CliRunner.Run("average", "--checkpoints", Path.Combine(run, "checkpoint_9.pt"), Path.Combine(run, "checkpoint_12.pt"), "--output", output);
        Assert.True(averaged.ExitCode == 0, averaged.Error);

        var translated = CliRunner.RunWithInput("Sea la luz\n", "translate", "--checkpoint", output, "--vocab", Path.Combine(run, RunDirectory.Vocab), "--beam", "1", "--threads", "1");
        Assert.True(translated.ExitCode == 0, translated.Error);
    }
}
