using System.Diagnostics;
using System.Text;
using TranslationTrainer.Tests.Cli;
using TranslationTrainer.Training;
using static TorchSharp.torch;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Tests.Training;

/// <summary>Signals, concurrent trainers and crafted checkpoints: faults that must not leave damage or run away.</summary>
[Collection(TorchCollection.Name)]
public class FaultTests
{
    private static string Data(string name) => Path.Combine(TinyRun.Directory, name);

    /// <summary>The CLI as a child process (the test's output folder holds translation-trainer.dll).</summary>
    internal static Process StartCli(string[] args, StringBuilder? error = null)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "translation-trainer.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])[cli, .. args]) start.ArgumentList.Add(argument);
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (start) error?.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    [Fact]
    public void SigtermDuringTranslateLeavesNoPartialOutputAndNoTemporaryFile()
    {
        var dir = Directory.CreateTempSubdirectory("tt-sigterm").FullName;
        var sentences = File.ReadAllLines(Data("valid.es"));
        var input = Path.Combine(dir, "input.es");
        File.WriteAllLines(input, Enumerable.Range(0, 3000).Select(i => sentences[i % sentences.Length]));
        var output = Path.Combine(dir, "out.txt");
        using var child = StartCli(ReliabilityTests.Translate(input, output, "--buffer-size", "4", "--max-len-a", "0", "--max-len-b", "20"));
        var temp = Path.Combine(dir, $".out.txt.{child.Id}.tmp");
        var waited = Stopwatch.StartNew();
        while (!File.Exists(temp) && !child.HasExited && waited.Elapsed < TimeSpan.FromSeconds(120)) Thread.Sleep(20);
        if (!child.HasExited) Process.Start("kill", ["-TERM", child.Id.ToString()])!.WaitForExit();
        Assert.True(child.WaitForExit(60_000), "translate did not stop after SIGTERM");
        child.WaitForExit(); // drains the redirected output, which a timed wait does not

        // Either the signal came in time (exit 143, no file) or translation had finished (exit 0, every line).
        if (child.ExitCode == 143) Assert.False(File.Exists(output), "a partial output file was left");
        else
        {
            Assert.Equal(0, child.ExitCode);
            Assert.Equal(3000, File.ReadAllLines(output).Length);
        }
        Assert.Empty(Directory.GetFiles(dir, ".*.tmp"));
    }

    [Fact]
    public void ASecondTrainerOnTheSameRunDirectoryIsRefusedWithTheOwnersPid()
    {
        var run = TinyRun.NewRunDirectory();
        Directory.CreateDirectory(run);
        using var held = RunLock.Acquire(run);
        var error = new StringBuilder();
        using var child = StartCli(ReliabilityTests.Train(run), error);
        Assert.True(child.WaitForExit(120_000));
        child.WaitForExit(); // drains the redirected output, which a timed wait does not
        Assert.Equal(1, child.ExitCode);
        var lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Equal($"error: --run-dir {run} is in use by another train process (pid {Environment.ProcessId})", lines[0].TrimEnd('\r'));
        Assert.Equal([".lock"], Directory.GetFileSystemEntries(run).Select(Path.GetFileName));
    }

    [Fact]
    public void AStaleLockOfADeadProcessIsTakenOver()
    {
        var run = TinyRun.NewRunDirectory();
        Directory.CreateDirectory(run);
        using (var gone = Process.Start("true")!)
        {
            gone.WaitForExit();
            File.WriteAllText(Path.Combine(run, ".lock"), gone.Id.ToString());
        }
        var result = CliRunner.Run(ReliabilityTests.Train(run));
        Assert.Equal(0, result.ExitCode);
        Assert.True(File.Exists(Path.Combine(run, RunDirectory.LastCheckpoint)));
        Assert.False(File.Exists(Path.Combine(run, ".lock")));
    }

    /// <summary>A header that claims a huge model must be refused before the model is built from it.</summary>
    [Theory]
    [InlineData("vocab")]
    [InlineData("positions")]
    [InlineData("width")]
    public void AHeaderClaimingMoreThanTheFileHoldsIsRefusedBeforeAllocating(string field)
    {
        var source = Path.Combine(TinyRun.TrainedRunDirectory, "checkpoint_12.pt");
        var header = Checkpoint.ReadHeader(source);
        var (_, model) = Checkpoint.LoadModel(source, CPU);
        header = field switch
        {
            "vocab" => header with { SourceVocabSize = 2_000_000_000, TargetVocabSize = 2_000_000_000 },
            "positions" => header with { Model = header.Model with { MaxPositions = int.MaxValue } },
            _ => header with { Model = header.Model with { DModel = 1 << 20, Heads = 2 } },
        };
        var crafted = Path.Combine(Directory.CreateTempSubdirectory("tt-crafted").FullName, "crafted.pt");
        Checkpoint.Save(crafted, header, model, optimizer: null);
        model.Dispose();
        var error = Assert.Throws<UserError>(() => Checkpoint.LoadModel(crafted, CPU));
        Assert.Equal($"{crafted}: the header describes a larger model than the file holds (another architecture, or a damaged or crafted file)", error.Message);
    }

    /// <summary>TorchSharp allocates a tensor's shape array from the stored rank: a crafted rank or size must not reach it.</summary>
    [Theory]
    [InlineData(1L << 40, 4)]
    [InlineData(2, 1L << 50)]
    [InlineData(2, 100_000_000)]
    public void ACraftedTensorRankOrSizeIsRefused(long rank, long dimension)
    {
        var source = Path.Combine(TinyRun.TrainedRunDirectory, "checkpoint_12.pt");
        var header = Checkpoint.ReadHeader(source);
        var (_, model) = Checkpoint.LoadModel(source, CPU);
        var names = model.Module.state_dict().Keys.ToList();
        model.Dispose();
        var crafted = Path.Combine(Directory.CreateTempSubdirectory("tt-crafted").FullName, "crafted.pt");
        using (var writer = new BinaryWriter(File.Create(crafted), Encoding.UTF8))
        {
            writer.Write("TTCKPT01"u8);
            var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(header, ConfigLoader.Json);
            writer.Write(json.Length);
            writer.Write(json);
            Leb128(writer, names.Count);
            writer.Write(names[0]);
            Leb128(writer, 6); // float32
            Leb128(writer, rank);
            for (int i = 0; i < Math.Min(rank, 4); i++) Leb128(writer, dimension);
            writer.Write(new byte[64]);
        }
        var error = Assert.Throws<UserError>(() => Checkpoint.LoadModel(crafted, CPU));
        Assert.StartsWith($"{crafted}: truncated or corrupted checkpoint ('{names[0]}'", error.Message);
    }

    private static void Leb128(BinaryWriter writer, long value)
    {
        do
        {
            byte b = (byte)(value & 0x7f);
            value >>= 7;
            writer.Write(value == 0 ? b : (byte)(b | 0x80));
        } while (value != 0);
    }
}
