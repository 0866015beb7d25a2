using System.Text;
using TranslationTrainer.Tests.Training;
using TranslationTrainer.Training;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Tests.Cli;

/// <summary>
/// The "Reliability" suite: each bad input to each command gives one line on stderr naming the file, line or option,
/// a non-zero exit code, no stack trace, and leaves the files where it would write exactly as they were.
/// </summary>
[Collection(TorchCollection.Name)]
public class ReliabilityTests
{
    private static string Data(string name) => Path.Combine(TinyRun.Directory, name);
    private static string Trained => TinyRun.TrainedRunDirectory;
    private static string Checkpoint12 => Path.Combine(Trained, "checkpoint_12.pt");

    /// <summary>Tests run as root in CI containers, and root reads files whatever their mode.</summary>
    private static bool IsRoot => Environment.UserName == "root";

    private static string Scratch() => Directory.CreateTempSubdirectory("tt-reliability").FullName;

    private static string Write(string dir, string name, params string[] lines)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    /// <summary>Every file under a directory with its length and write time, to prove a failed command changed nothing.</summary>
    private static List<string> Snapshot(string dir) => Directory.Exists(dir)
        ? Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(f => $"{f} {new FileInfo(f).Length} {File.GetLastWriteTimeUtc(f):O}").ToList()
        : [];

    private static void AssertOneLineError(CliRunner.Result result, string expected)
    {
        Assert.True(result.ExitCode != 0, $"exit code 0; stderr: {result.Error}");
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got: {result.Error}");
        Assert.StartsWith("error: ", lines[0]);
        Assert.True(lines[0].Contains(expected, StringComparison.Ordinal), $"expected '{expected}' in: {lines[0]}");
        Assert.DoesNotContain("   at ", result.Error);
    }

    /// <summary>Runs a command that must fail, checking that nothing in <paramref name="watched"/> is created or changed.</summary>
    private static void Fails(string watched, string expected, params string[] args) => FailsWithInput(watched, expected, "", args);

    private static void FailsWithInput(string watched, string expected, string stdin, params string[] args)
    {
        var before = Snapshot(watched);
        bool existed = Directory.Exists(watched);
        AssertOneLineError(CliRunner.RunWithInput(stdin, args), expected);
        Assert.Equal(existed, Directory.Exists(watched));
        Assert.Equal(before, Snapshot(watched));
    }

    internal static string[] Train(string runDir, params string[] replaced)
    {
        var options = new Dictionary<string, string>
        {
            ["--run-dir"] = runDir, ["--train-src"] = Data("train.es"), ["--train-tgt"] = Data("train.en"), ["--vocab"] = Data("vocab"),
            ["--max-updates"] = "1", ["--d-model"] = "32", ["--heads"] = "2", ["--ffn-size"] = "64", ["--threads"] = "1",
            ["--encoder-layers"] = "1", ["--decoder-layers"] = "1", ["--valid-bleu"] = "false", ["--best-metric"] = "loss",
            ["--tensorboard"] = "false", ["--device"] = "cpu", ["--max-tokens"] = "700",
        };
        for (int i = 0; i < replaced.Length; i += 2) options[replaced[i]] = replaced[i + 1];
        return ["train", .. options.SelectMany(o => new[] { o.Key, o.Value })];
    }

    internal static string[] Translate(string input, string output, params string[] more) =>
        ["translate", "--checkpoint", Trained, "--input", input, "--output", output, "--beam", "1", "--threads", "1", .. more];

    // 1. Missing input file, a directory where a file is expected, an unreadable file.

    [Fact]
    public void MissingInputFiles()
    {
        var dir = Scratch();
        var missing = Path.Combine(dir, "missing.txt");
        var reference = Write(dir, "ref.txt", "a");
        Fails(dir, $"{missing}: input file not found", "vocab", "--input", missing, "--output", Path.Combine(dir, "vocab"));
        Fails(dir, $"{missing}: vocabulary directory not found", "encode", "--vocab", missing);
        Fails(dir, $"{missing}: vocabulary directory not found", "decode", "--vocab", missing);
        Fails(dir, $"{missing}: input file not found", Translate(missing, Path.Combine(dir, "out.txt")));
        Fails(dir, $"{missing}: file not found", "eval", "--hyp", missing, "--ref", reference);
        Fails(dir, $"{missing}: file not found", "eval", "--hyp", reference, "--ref", missing);
        Fails(dir, $"{missing}: checkpoint not found", "average", "--checkpoints", Checkpoint12, missing, "--output", Path.Combine(dir, "avg.pt"));
        Fails(dir, $"{missing}: config file not found", Train(Path.Combine(dir, "run"), "--config", missing));
    }

    [Fact]
    public void ADirectoryWhereAFileIsExpected()
    {
        var dir = Scratch();
        var sub = Directory.CreateDirectory(Path.Combine(dir, "sub")).FullName;
        var reference = Write(dir, "ref.txt", "a");
        Fails(dir, $"{sub}: is a directory, not a file (input file)", "vocab", "--input", sub, "--output", Path.Combine(dir, "vocab"));
        Fails(dir, $"{sub}: is a directory", Translate(sub, Path.Combine(dir, "out.txt")));
        Fails(dir, $"{sub}: is a directory", "eval", "--hyp", sub, "--ref", reference);
        Fails(dir, $"{sub}: is a directory", "average", "--checkpoints", Checkpoint12, sub, "--output", Path.Combine(dir, "avg.pt"));
        Fails(dir, $"{sub}: is a directory", Train(Path.Combine(dir, "run"), "--config", sub));
        Fails(dir, $"{reference}: is a file, expected a vocabulary directory", "encode", "--vocab", reference);
    }

    [Fact]
    public void AnUnreadableFile()
    {
        var dir = Scratch();
        var locked = Write(dir, "locked.txt", "hola");
        if (OperatingSystem.IsWindows()) return;
        File.SetUnixFileMode(locked, UnixFileMode.None);
        var reference = Write(dir, "ref.txt", "hola");
        // Root reads files whatever their mode (tests run as root in the CI container), so the refusal can only be
        // observed as another user; as root this test checks nothing beyond the file existing.
        if (IsRoot) return;
        Fails(dir, $"{locked}: cannot read", "vocab", "--input", locked, "--output", Path.Combine(dir, "vocab"));
        Fails(dir, $"{locked}: cannot read", Translate(locked, Path.Combine(dir, "out.txt")));
        Fails(dir, $"{locked}: cannot read", "eval", "--hyp", locked, "--ref", reference);
        Fails(dir, $"{locked}: cannot read", Train(Path.Combine(dir, "run"), "--train-src", locked));
    }

    // 2. Line counts differ.

    [Fact]
    public void ValidationLineCountsDiffer()
    {
        var dir = Scratch();
        var shorter = Write(dir, "valid3.en", "a", "b", "c");
        Fails(dir, $"{Data("valid.es")} has 12 lines but {shorter} has 3",
            Train(Path.Combine(dir, "run"), "--valid-src", Data("valid.es"), "--valid-tgt", shorter));
    }

    // 3. Empty corpus, a corpus of only empty lines.

    [Fact]
    public void ACorpusOfOnlyEmptyLines()
    {
        var dir = Scratch();
        var blankSource = Write(dir, "blank.es", "", "  ", "");
        var blankTarget = Write(dir, "blank.en", "", "", "\t");
        Fails(dir, $"{blankSource}: empty corpus", Train(Path.Combine(dir, "run"), "--train-src", blankSource, "--train-tgt", blankTarget));
        Fails(dir, $"{blankSource}: empty file", "vocab", "--input", blankSource, "--output", Path.Combine(dir, "vocab"));
        // eval keeps sacreBLEU's behaviour: empty hypothesis lines are valid (they score 0), only a file with no line is refused.
        Assert.Equal(0, CliRunner.Run("eval", "--hyp", blankSource, "--ref", blankTarget, "--metrics", "bleu").ExitCode);
    }

    [Fact]
    public void EmptyFiles()
    {
        var dir = Scratch();
        var empty = Write(dir, "empty.txt");
        var reference = Write(dir, "ref.txt", "a");
        Fails(dir, $"{empty}: empty file", "vocab", "--input", empty, "--output", Path.Combine(dir, "vocab"));
        Fails(dir, "empty", "eval", "--hyp", empty, "--ref", reference);
        // translate: an empty input is not an error, it has an empty translation.
        var output = Path.Combine(dir, "out.txt");
        Assert.Equal(0, CliRunner.Run(Translate(empty, output)).ExitCode);
        Assert.Equal("", File.ReadAllText(output));
    }

    // 4. Invalid UTF-8 (file and line); a BOM is accepted and stripped. 5. CRLF line ends are accepted.

    [Fact]
    public void InvalidUtf8NamesFileAndLine()
    {
        var dir = Scratch();
        var bad = Path.Combine(dir, "bad.es");
        var good = File.ReadLines(Data("train.es")).Take(4).ToArray();
        File.WriteAllBytes(bad, [.. Encoding.UTF8.GetBytes(string.Join('\n', good.Take(2)) + "\n"), 0xC3, 0x28, (byte)'\n', .. Encoding.UTF8.GetBytes(good[3] + "\n")]);
        var target = Write(dir, "ok.en", File.ReadLines(Data("train.en")).Take(4).ToArray());
        Fails(dir, $"{bad}:3: invalid UTF-8", Train(Path.Combine(dir, "run"), "--train-src", bad, "--train-tgt", target));
        Fails(dir, $"{bad}:3: invalid UTF-8", Translate(bad, Path.Combine(dir, "out.txt")));
    }

    [Fact]
    public void ByteOrderMarkAndWindowsLineEndsAreAccepted()
    {
        var dir = Scratch();
        var lines = File.ReadLines(Data("valid.es")).Take(3).ToArray();
        var plain = Write(dir, "plain.es", lines);
        var windows = Path.Combine(dir, "windows.es");
        File.WriteAllBytes(windows, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(string.Join("\r\n", lines) + "\r\n")]);
        Assert.Equal(lines, TextFile.ReadLines(windows));

        string plainOut = Path.Combine(dir, "plain.en"), windowsOut = Path.Combine(dir, "windows.en");
        Assert.Equal(0, CliRunner.Run(Translate(plain, plainOut)).ExitCode);
        Assert.Equal(0, CliRunner.Run(Translate(windows, windowsOut)).ExitCode);
        Assert.Equal(File.ReadAllText(plainOut), File.ReadAllText(windowsOut));

        var eval = CliRunner.Run("eval", "--hyp", windows, "--ref", plain, "--metrics", "bleu", "--format", "json");
        Assert.Equal(0, eval.ExitCode);
        Assert.Contains("\"score\": 100", eval.Out);
    }

    // 6. A line far longer than --max-len.

    [Fact]
    public void ATrainingLineLongerThanMaxLenIsSkippedAndCounted()
    {
        var dir = Scratch();
        var source = File.ReadLines(Data("train.es")).ToList();
        source[5] = string.Join(' ', Enumerable.Repeat(source[5], 40));
        var longSource = Write(dir, "long.es", [.. source]);
        var run = Path.Combine(dir, "run");
        var result = CliRunner.Run(Train(run, "--train-src", longSource));
        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"train: \d+ sentence pairs; skipped 0 with an empty side, 1 too long", File.ReadAllText(Path.Combine(run, RunDirectory.Log)));
    }

    [Fact]
    public void ATranslateLineLongerThanTheModelIsCutWithAWarning()
    {
        var dir = Scratch();
        var input = Write(dir, "long.es", "hola", string.Join(' ', Enumerable.Repeat(File.ReadLines(Data("valid.es")).First(), 30)), "adiós");
        var output = Path.Combine(dir, "out.txt");
        var result = CliRunner.Run(Translate(input, output, "--max-len-a", "0", "--max-len-b", "5"));
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("warning: input line 2 has", result.Error);
        Assert.Equal(3, File.ReadAllLines(output).Length);
    }

    // 7. Config and option mistakes.

    [Fact]
    public void AMisspelledOptionSuggestsTheClosest()
    {
        var dir = Scratch();
        Fails(dir, "unknown option or command '--max-update'; did you mean --max-updates?", [.. Train(Path.Combine(dir, "run")), "--max-update", "3"]);
        Fails(dir, "did you mean --beam?", [.. Translate(Data("valid.es"), Path.Combine(dir, "out.txt")), "--beem", "4"]);
        Fails(dir, "did you mean --metrics?", "eval", "--hyp", Data("valid.en"), "--ref", Data("valid.en"), "--metric", "bleu");
        Fails(dir, "did you mean --vocab-size?", "vocab", "--input", Data("train.en"), "--output", Path.Combine(dir, "v"), "--vocab-sise", "300");
        Fails(dir, "did you mean translate?", "translat", "--checkpoint", Trained);
    }

    [Fact]
    public void WrongJsonTypeInAConfig()
    {
        var dir = Scratch();
        var config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, "{ \"warmupUpdates\": \"lots\" }");
        Fails(dir, $"{config}: wrong type for 'warmupUpdates'", Train(Path.Combine(dir, "run"), "--config", config));
        File.WriteAllText(config, "{ \"model\": { \"maxPositions\": [32] } }");
        Fails(dir, $"{config}: wrong type for 'model.maxPositions'", Train(Path.Combine(dir, "run"), "--config", config));
    }

    // 8. Impossible model shapes (the others are in BadInputTests.InvalidValues).

    [Fact]
    public void ZeroLayers()
    {
        var dir = Scratch();
        Fails(dir, "--decoder-layers must be at least 1", Train(Path.Combine(dir, "run"), "--decoder-layers", "0"));
    }

    // 9. Damaged, foreign or crafted checkpoints; missing or mismatched vocabularies.

    [Fact]
    public void TranslateWithATruncatedOrRandomCheckpoint()
    {
        var dir = Scratch();
        var bytes = File.ReadAllBytes(Checkpoint12);
        var truncated = Path.Combine(dir, "truncated.pt");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 5)]); // inside the model parameters
        var random = Path.Combine(dir, "random.pt");
        File.WriteAllBytes(random, Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251)).ToArray());
        var vocab = Path.Combine(Trained, RunDirectory.Vocab);
        Fails(dir, $"{truncated}: truncated or corrupted checkpoint",
            ["translate", "--checkpoint", truncated, "--vocab", vocab, "--input", Data("valid.es"), "--output", Path.Combine(dir, "out.txt")]);
        Fails(dir, $"{random}: not a TranslationTrainer checkpoint",
            ["translate", "--checkpoint", random, "--vocab", vocab, "--input", Data("valid.es"), "--output", Path.Combine(dir, "out.txt")]);
        Fails(dir, $"{truncated}: truncated or corrupted checkpoint", "average", "--checkpoints", Checkpoint12, truncated, "--output", Path.Combine(dir, "avg.pt"));
    }

    [Fact]
    public void ACheckpointFromAnotherArchitectureIsRefused()
    {
        var dir = Scratch();
        var header = Checkpoint.ReadHeader(Checkpoint12);
        var (_, model) = Checkpoint.LoadModel(Checkpoint12, TorchSharp.torch.CPU);
        using var other = new TranslationTrainer.Model.Transformer(header.Model with { FfnSize = 96 }, header.SourceVocabSize, header.TargetVocabSize);
        var crafted = Path.Combine(dir, "crafted.pt");
        Checkpoint.Save(crafted, header, other, optimizer: null); // the header says ffn 64, the parameters are ffn 96
        model.Dispose();
        Fails(dir, $"{crafted}: the parameters do not match the model in its header",
            ["translate", "--checkpoint", crafted, "--vocab", Path.Combine(Trained, RunDirectory.Vocab), "--input", Data("valid.es"), "--output", Path.Combine(dir, "out.txt")]);
    }

    [Fact]
    public void VocabularyMissingAFileOrNotTheCheckpoints()
    {
        var dir = Scratch();
        var broken = Directory.CreateDirectory(Path.Combine(dir, "broken")).FullName;
        foreach (var file in Directory.GetFiles(Path.Combine(Trained, RunDirectory.Vocab))) File.Copy(file, Path.Combine(broken, Path.GetFileName(file)));
        File.Delete(Path.Combine(broken, "merges.txt"));
        Fails(dir, Path.Combine(broken, "merges.txt"), Translate(Data("valid.es"), Path.Combine(dir, "out.txt"), "--vocab", broken));

        var other = Path.Combine(dir, "other");
        Assert.Equal(0, CliRunner.Run("vocab", "--input", Data("train.en"), "--output", other, "--vocab-size", "400").ExitCode);
        Fails(dir, $"--vocab {other} is not the vocabulary", Translate(Data("valid.es"), Path.Combine(dir, "out.txt"), "--vocab", other));
    }

    // 10. Output in a directory that does not exist (as root, an unwritable directory cannot be made).

    [Fact]
    public void OutputIntoAMissingDirectory()
    {
        var dir = Scratch();
        var output = Path.Combine(dir, "no-such-dir", "out.txt");
        Fails(dir, $"--output {output}: directory does not exist", Translate(Data("valid.es"), output));
        Fails(dir, "directory", "average", "--checkpoints", Checkpoint12, "--output", output);
        Fails(dir, "directory", "plot", "--run-dir", Trained, "--output", output);
    }

    // 11. --device cuda without a GPU.

    [Fact]
    public void CudaWithoutAGpuSuggestsCpu()
    {
        if (TorchSharp.torch.cuda.is_available()) return; // the message can only be seen on a machine without CUDA
        var dir = Scratch();
        Fails(dir, "--device cuda: no CUDA device is available (this build or machine has none); use --device cpu", Train(Path.Combine(dir, "run"), "--device", "cuda"));
        Fails(dir, "use --device cpu", Translate(Data("valid.es"), Path.Combine(dir, "out.txt"), "--device", "cuda"));
    }

    // 12. A run directory of another config is refused unless --force.

    [Fact]
    public void ARunDirectoryOfAnotherConfigNeedsForce()
    {
        var run = TinyRun.NewRunDirectory();
        Assert.Equal(0, CliRunner.Run(Train(run)).ExitCode);
        Fails(run, $"--run-dir {run} holds a run with another config (--label-smoothing was 0.1 and is now 0.2); use a new --run-dir, or --force",
            Train(run, "--label-smoothing", "0.2", "--max-updates", "2"));
        var forced = CliRunner.Run([.. Train(run, "--label-smoothing", "0.2", "--max-updates", "2"), "--force"]);
        Assert.Equal(0, forced.ExitCode);
        Assert.Equal(2, Checkpoint.ReadHeader(Path.Combine(run, RunDirectory.LastCheckpoint)).Progress.Update);
    }

    // Paths in a config file are relative to the file.

    [Fact]
    public void ConfigPathsAreRelativeToTheConfigFile()
    {
        var dir = Scratch();
        var configDir = Directory.CreateDirectory(Path.Combine(dir, "configs")).FullName;
        var config = Path.Combine(configDir, "c.json");
        File.WriteAllText(config, "{ \"trainSrc\": \"../data/t.es\", \"trainTgt\": \"t.en\", \"vocab\": \"/abs/vocab\" }");
        var loaded = ConfigLoader.Load(config, new Dictionary<string, string>());
        Assert.Equal(Path.Combine(dir, "data", "t.es"), loaded.TrainSrc);
        Assert.Equal(Path.Combine(configDir, "t.en"), loaded.TrainTgt);
        Assert.Equal("/abs/vocab", loaded.Vocab);
    }
}
