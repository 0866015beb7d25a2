using System.Diagnostics;
using TranslationTrainer.Training;
using static TorchSharp.torch;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Tests.Training;

/// <summary>
/// kill -9 at seeded random moments of a training process that checkpoints every update: the run directory
/// must always resume, and the finished run must equal one that was never interrupted. Iterations:
/// TT_KILL_ITERATIONS (default 5; run with 20+ by hand).
/// </summary>
[Collection(TorchCollection.Name)]
public class KillTests
{
    [Fact]
    public void ARunKilledAtRandomMomentsResumesToTheUninterruptedParameters()
    {
        int iterations = int.TryParse(Environment.GetEnvironmentVariable("TT_KILL_ITERATIONS"), out var n) ? n : 5;
        var config = TinyRun.Config() with { SaveEvery = 1, MaxUpdates = 150, ValidateEvery = 10, LogEvery = 5 };
        string straight = TinyRun.NewRunDirectory(), killed = TinyRun.NewRunDirectory();
        TinyRun.Train(config, straight);

        var configFile = Path.Combine(TinyRun.Directory, $"kill-{Guid.NewGuid():N}.json");
        File.WriteAllText(configFile, ConfigLoader.Serialize(config));
        var random = new Random(20261125);
        int kills = 0;
        for (int i = 0; i < iterations; i++)
        {
            using var child = StartTraining(configFile, killed);
            Thread.Sleep(random.Next(200, 1200)); // startup takes ~0.5 s, the whole run a few seconds
            if (!child.HasExited)
            {
                child.Kill(entireProcessTree: true);
                kills++;
            }
            child.WaitForExit();
            var last = Path.Combine(killed, RunDirectory.LastCheckpoint);
            if (File.Exists(last)) Checkpoint.LoadModel(last, CPU).Model.Dispose();
        }
        Assert.True(kills > 0, "every child finished before it could be killed");
        var finished = TinyRun.Train(config, killed);

        Assert.Equal(150, finished.Updates);
        var expected = TinyRun.Parameters(Path.Combine(straight, RunDirectory.LastCheckpoint));
        var actual = TinyRun.Parameters(Path.Combine(killed, RunDirectory.LastCheckpoint));
        foreach (var (name, value) in expected)
            Assert.True(value.eq(actual[name]).all().item<bool>(), $"{name} differs after {iterations} kills");
        Assert.Empty(Directory.GetFiles(killed, ".*.tmp"));
    }

    /// <summary>The CLI as a child process (the test's output folder holds translation-trainer.dll).</summary>
    private static Process StartTraining(string configFile, string runDir)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "translation-trainer.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { cli, "train", "--config", configFile, "--run-dir", runDir }) start.ArgumentList.Add(argument);
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }


}
