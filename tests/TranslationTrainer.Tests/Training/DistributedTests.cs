using System.Diagnostics;
using TranslationTrainer.Distributed;
using TranslationTrainer.Training;
using static TorchSharp.torch;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Tests.Training;

/// <summary>
/// Data-parallel training: the CLI under `mpiexec.mpich -n 2` against one in-process rank. Without MPICH
/// these tests are reported as skipped, with the reason; CI installs it (scripts/install-deps).
/// </summary>
[Collection(TorchCollection.Name)]
public class DistributedTests
{
    private const string Mpiexec = "mpiexec.mpich";

    /// <summary>
    /// No dropout: each rank draws its own masks, so only then are 2 ranks the same updates as 1. Adam epsilon
    /// 1e-5: gradients that are zero but for float rounding (attention key biases, which softmax ignores) get
    /// steps of ±lr at epsilon 1e-9 from their rounding noise, which depends on how a batch is split (4e-3 apart
    /// after 20 updates; 6e-7 at 1e-5).
    /// </summary>
    private static TrainConfig Config() => TinyRun.Config() with
    {
        Model = TinyRun.Config().Model with { Dropout = 0 },
        AdamEps = 1e-5,
        MaxUpdates = 20,
        ValidateEvery = 10,
        LogEvery = 5,
    };

    /// <summary>20 updates in one process, with the whole batch.</summary>
    private static readonly Lazy<string> OneRank = new(() =>
    {
        var runDir = TinyRun.NewRunDirectory();
        TinyRun.Train(Config(), runDir);
        return runDir;
    });

    [SkippableFact]
    public void TwoRanksMakeTheSameUpdatesAsOneRankWithTheWholeBatch()
    {
        SkipWithoutMpiexec();
        var runDir = TinyRun.NewRunDirectory();
        var (exitCode, output) = RunRanks(2, Config(), runDir);

        Assert.True(exitCode == 0, output);
        AssertSameParameters(OneRank.Value, runDir);
        // One writer: rank 1 logs to its own file and neither validates nor writes metrics or event files.
        var rankLog = File.ReadAllText(Path.Combine(runDir, RunDirectory.RankLog(1)));
        Assert.Contains("Rank 1 of 2", rankLog);
        Assert.DoesNotContain("Validation", rankLog);
        Assert.Contains("Rank 0 of 2", File.ReadAllText(Path.Combine(runDir, RunDirectory.Log)));
        var records = MetricsFile.Read(Path.Combine(runDir, RunDirectory.Metrics));
        Assert.Equal([5, 10, 10, 15, 20, 20], records.Select(r => r["update"]!.GetValue<long>()));
        Assert.Single(Directory.GetFiles(Path.Combine(runDir, RunDirectory.TensorBoard)));
    }

    /// <summary>The decoder-only model through the same data parallelism: nothing in it is architecture-specific.</summary>
    [SkippableFact]
    public void TwoRanksTrainADecoderOnlyModelAsOneRankDoes()
    {
        SkipWithoutMpiexec();
        var config = Config() with { Model = Config().Model with { Arch = "decoder-only", DecoderLayers = 2 }, MaxUpdates = 10 };
        string oneRank = TinyRun.NewRunDirectory(), twoRanks = TinyRun.NewRunDirectory();
        TinyRun.Train(config, oneRank);
        var (exitCode, output) = RunRanks(2, config, twoRanks);

        Assert.True(exitCode == 0, output);
        Assert.Equal("decoder-only", Checkpoint.ReadHeader(Path.Combine(twoRanks, RunDirectory.LastCheckpoint)).Architecture);
        AssertSameParameters(oneRank, twoRanks);
    }

    /// <summary>The recurrent models through the same data parallelism (their fused libtorch LSTMs included).</summary>
    [SkippableTheory]
    [InlineData("rnn-attention")]
    [InlineData("rnn-bottleneck")]
    public void TwoRanksTrainARecurrentModelAsOneRankDoes(string arch)
    {
        SkipWithoutMpiexec();
        var config = Config() with
        {
            Model = Config().Model with { Arch = arch, RnnCell = "lstm", RnnHiddenSize = 40, EncoderLayers = 2, DecoderLayers = 2 },
            MaxUpdates = 10,
        };
        string oneRank = TinyRun.NewRunDirectory(), twoRanks = TinyRun.NewRunDirectory();
        TinyRun.Train(config, oneRank);
        var (exitCode, output) = RunRanks(2, config, twoRanks);

        Assert.True(exitCode == 0, output);
        Assert.Equal(arch, Checkpoint.ReadHeader(Path.Combine(twoRanks, RunDirectory.LastCheckpoint)).Architecture);
        AssertSameParameters(oneRank, twoRanks);
    }

    [SkippableFact]
    public void ATwoRankRunResumedWithOneRankContinuesTheSameRun()
    {
        SkipWithoutMpiexec();
        var runDir = TinyRun.NewRunDirectory();
        var (exitCode, output) = RunRanks(2, Config() with { MaxUpdates = 10 }, runDir);
        Assert.True(exitCode == 0, output);

        var resumed = TinyRun.Train(Config(), runDir);

        Assert.Equal(20, resumed.Updates);
        AssertSameParameters(OneRank.Value, runDir);
    }

    [SkippableFact]
    public void ATwoRankRunResumedWithTwoRanksContinuesItBitForBit()
    {
        SkipWithoutMpiexec();
        // With dropout: each rank's masks must also come back the same after a resume.
        var config = Config() with { Model = TinyRun.Config().Model };
        string straight = TinyRun.NewRunDirectory(), split = TinyRun.NewRunDirectory();
        foreach (var (runDir, updates) in new[] { (straight, 20), (split, 10), (split, 20) })
        {
            var (exitCode, output) = RunRanks(2, config with { MaxUpdates = updates }, runDir);
            Assert.True(exitCode == 0, output);
        }

        var expected = TinyRun.Parameters(Path.Combine(straight, RunDirectory.LastCheckpoint));
        var actual = TinyRun.Parameters(Path.Combine(split, RunDirectory.LastCheckpoint));
        foreach (var (name, value) in expected)
            Assert.True(value.eq(actual[name]).all().item<bool>(), $"{name} differs after a resume with 2 ranks");
    }

    [SkippableFact]
    public void AKilledRankEndsTheJobInsteadOfHanging()
    {
        SkipWithoutMpiexec();
        var runDir = TinyRun.NewRunDirectory();
        using var job = StartRanks(2, Config() with { MaxUpdates = 1_000_000, ValidateEvery = 0 }, runDir);
        Process.GetProcessById(RankPid(runDir, 1)).Kill();

        Assert.True(job.WaitForExit(TimeSpan.FromSeconds(60)), "the other rank still runs a minute after rank 1 was killed");
        Assert.NotEqual(0, job.ExitCode);
    }

    [SkippableFact]
    public void ARankThatHangsMakesTheOthersAbortAfterTheTimeout()
    {
        SkipWithoutMpiexec();
        var runDir = TinyRun.NewRunDirectory();
        var errors = new System.Text.StringBuilder();
        using var job = StartRanks(2, Config() with { MaxUpdates = 1_000_000, ValidateEvery = 0, DistributedTimeout = 0.05 }, runDir, errors);
        int pid = RankPid(runDir, 1);
        Signal("STOP", pid); // alive but silent, which mpiexec cannot notice
        try
        {
            Assert.True(job.WaitForExit(TimeSpan.FromSeconds(60)), "rank 0 still waits a minute after rank 1 stopped");
            job.WaitForExit(); // the output is complete
            Assert.NotEqual(0, job.ExitCode);
            lock (errors) Assert.Contains("error: rank 0 waited 0.05 minutes for the other ranks in Allreduce", errors.ToString());
        }
        finally
        {
            Signal("KILL", pid);
        }
    }

    [SkippableFact]
    public void BadInputUnderMpiexecIsOneErrorLineFromRankZero()
    {
        SkipWithoutMpiexec();
        var runDir = TinyRun.NewRunDirectory();
        var missing = Path.Combine(TinyRun.Directory, "nope.es");
        var errors = new System.Text.StringBuilder();
        using var job = StartRanks(2, Config() with { TrainSrc = missing }, runDir, errors);
        Assert.True(job.WaitForExit(TimeSpan.FromMinutes(1)), "the job still runs a minute after a bad input");
        job.WaitForExit();

        Assert.Equal(1, job.ExitCode);
        lock (errors) Assert.Equal($"error: {missing}: file not found", errors.ToString().Trim());
        Assert.False(Directory.Exists(runDir));
    }

    [Fact]
    public void EachRankTakesEveryNthSentenceOfABatch()
    {
        int[] batch = [7, 3, 9, 1, 4];
        var shares = Enumerable.Range(0, 3).Select(rank => ((IWorld)new FakeRank(rank, 3)).Share(batch)).ToArray();
        Assert.Equal([[7, 1], [3, 4], [9]], shares);
        Assert.Same(batch, ((IWorld)new SingleProcess()).Share(batch));
    }

    private sealed class FakeRank(int rank, int size) : IWorld
    {
        public int Rank => rank;
        public int Size => size;
        public int LocalRank => rank;
        public int LocalSize => size;
        public void SumInPlace(Tensor buffer) => throw new NotSupportedException();
        public void Broadcast(Tensor buffer) => throw new NotSupportedException();
        public void Abort(int exitCode) => throw new NotSupportedException();
        public void Dispose() { }
    }

    private static void SkipWithoutMpiexec() =>
        Skip.If(FindOnPath(Mpiexec) is null, $"{Mpiexec} not found: install MPICH (apt-get install mpich, as scripts/install-deps does) to run the distributed tests");

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists);

    private static void AssertSameParameters(string expectedRun, string actualRun)
    {
        var expected = TinyRun.Parameters(Path.Combine(expectedRun, RunDirectory.LastCheckpoint));
        var actual = TinyRun.Parameters(Path.Combine(actualRun, RunDirectory.LastCheckpoint));
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (name, value) in expected)
        {
            double difference = (value - actual[name]).abs().max().item<float>();
            Assert.True(difference <= 1e-5, $"{name} differs by {difference:E2}");
        }
    }

    private static (int ExitCode, string Output) RunRanks(int ranks, TrainConfig config, string runDir)
    {
        var output = new System.Text.StringBuilder();
        using var job = StartRanks(ranks, config, runDir, output, output);
        if (!job.WaitForExit(TimeSpan.FromMinutes(5))) job.Kill(entireProcessTree: true);
        job.WaitForExit();
        lock (output) return (job.ExitCode, output.ToString());
    }

    /// <summary>`mpiexec.mpich -n N dotnet translation-trainer.dll train ...` (the test's output folder holds the CLI).</summary>
    private static Process StartRanks(int ranks, TrainConfig config, string runDir, System.Text.StringBuilder? errors = null, System.Text.StringBuilder? output = null)
    {
        var configFile = Path.Combine(TinyRun.Directory, $"distributed-{Guid.NewGuid():N}.json");
        File.WriteAllText(configFile, ConfigLoader.Serialize(config));
        var cli = Path.Combine(AppContext.BaseDirectory, "translation-trainer.dll");
        var start = new ProcessStartInfo(Mpiexec) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-n", ranks.ToString(), "dotnet", cli, "train", "--config", configFile, "--run-dir", runDir })
            start.ArgumentList.Add(argument);
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(errors, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static void Append(System.Text.StringBuilder? text, string? line)
    {
        if (text is null || line is null) return;
        lock (text) text.AppendLine(line);
    }

    /// <summary>The pid a rank logs once it trains (a minute at most on a busy machine).</summary>
    private static int RankPid(string runDir, int rank)
    {
        var log = Path.Combine(runDir, RunDirectory.RankLog(rank));
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMinutes(1))
        {
            var text = File.Exists(log) ? File.ReadAllText(log) : "";
            // Past the first progress line, the ranks are inside the training loop.
            var match = System.Text.RegularExpressions.Regex.Match(text, @"pid (\d+)\)[\s\S]*update 5 \|");
            if (match.Success) return int.Parse(match.Groups[1].Value);
            Thread.Sleep(100);
        }
        throw new TimeoutException($"rank {rank} did not start training within a minute");
    }

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start("kill", ["-" + signal, pid.ToString()]);
        kill.WaitForExit();
    }
}
