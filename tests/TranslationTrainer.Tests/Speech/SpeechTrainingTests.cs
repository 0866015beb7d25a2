using System.Text.Json.Nodes;
using TranslationTrainer.Checkpoints;
using TranslationTrainer.Model;
using TranslationTrainer.Tests.Cli;
using TranslationTrainer.Tests.Training;
using TranslationTrainer.Training;

namespace TranslationTrainer.Tests.Speech;

/// <summary>`train --task asr` on the fixture WAVs, and `translate` on audio: the speech path end to end, with tiny models.</summary>
[Collection(TorchCollection.Name)]
public class SpeechTrainingTests
{
    private static readonly Lazy<string> manifest = new(() =>
    {
        var directory = Path.Combine(TinyRun.Directory, "speech");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "manifest.tsv");
        // Absolute paths: the fixtures stay where the test build copied them.
        File.WriteAllLines(path, File.ReadLines(LogMelFeaturesTests.Fixture("manifest.tsv"))
            .Select(line => line.Split('\t'))
            .Select(field => $"{LogMelFeaturesTests.Fixture(field[0])}\t{field[1]}"));
        return path;
    });

    private static string Manifest => manifest.Value;

    private static TrainConfig Config() => TinyRun.Config() with
    {
        Task = "asr", TrainSrc = Manifest, TrainTgt = "", ValidSrc = Manifest, ValidTgt = "",
        Model = TinyRun.Config().Model with { Arch = ModelConfig.SpeechArch, TieEmbeddings = "decoder", ConvChannels = 16 },
        MaxTokens = 200, MaxUpdates = 6, ValidateEvery = 3, ValidBleu = true, BestMetric = "wer", CtcWeight = 0.3,
    };

    [Fact]
    public void AResumedAsrRunWithSpecAugmentAndCtcReproducesTheUninterruptedRun()
    {
        string straight = TinyRun.NewRunDirectory(), split = TinyRun.NewRunDirectory();
        TinyRun.Train(Config(), straight);
        TinyRun.Train(Config() with { MaxUpdates = 3 }, split);
        var resumed = TinyRun.Train(Config(), split);

        Assert.Equal(6, resumed.Updates);
        var expected = TinyRun.Parameters(Path.Combine(straight, RunDirectory.LastCheckpoint));
        var actual = TinyRun.Parameters(Path.Combine(split, RunDirectory.LastCheckpoint));
        Assert.Contains(expected.Keys, name => name.StartsWith("subsampler"));
        foreach (var (name, value) in expected)
            Assert.True(value.eq(actual[name]).all().item<bool>(), $"{name} differs after resume");
        var validations = File.ReadLines(Path.Combine(straight, RunDirectory.Metrics)).Select(l => JsonNode.Parse(l)!).Where(r => r["valid_loss"] is not null).ToList();
        Assert.Equal(2, validations.Count);
        Assert.All(validations, v => Assert.True(v["valid_wer"]!.GetValue<double>() >= 0)); // an untrained model may say far more than the reference: WER over 100
        Assert.All(validations, v => Assert.True(v["valid_ctc_wer"]!.GetValue<double>() >= 0)); // trained with CTC: its head's WER too
        Assert.Equal(ModelConfig.SpeechArch, Checkpoint.ReadHeader(Path.Combine(straight, RunDirectory.BestCheckpoint)).Architecture);
    }

    [Fact]
    public void AnStRunValidatesByBleuAndChrfAndRefusesCtc()
    {
        var run = TinyRun.NewRunDirectory();
        TinyRun.Train(Config() with { Task = "st", MaxUpdates = 2, ValidateEvery = 2, BestMetric = "bleu", CtcWeight = 0 }, run);
        var validation = File.ReadLines(Path.Combine(run, RunDirectory.Metrics)).Select(l => JsonNode.Parse(l)!).First(r => r["valid_loss"] is not null);
        Assert.NotNull(validation["valid_bleu"]);
        Assert.NotNull(validation["valid_chrf"]);
        Assert.Null(validation["valid_wer"]);
        var error = Assert.Throws<UserError>(() => (Config() with { Task = "st", BestMetric = "bleu" }).Validate());
        Assert.Contains("ctc-weight", error.Message);
    }

    [Fact]
    public void SpecAugmentChangesTrainingAndItsSwitchTurnsItOff()
    {
        string with = TinyRun.NewRunDirectory(), without = TinyRun.NewRunDirectory(), againWithout = TinyRun.NewRunDirectory();
        var config = Config() with { MaxUpdates = 2, ValidateEvery = 0, ValidBleu = false, BestMetric = "loss" };
        TinyRun.Train(config, with);
        TinyRun.Train(config with { SpecAugment = false }, without);
        TinyRun.Train(config with { SpecAugment = false }, againWithout);
        double Loss(string run) => File.ReadLines(Path.Combine(run, RunDirectory.Metrics)).Select(l => JsonNode.Parse(l)!)
            .First(r => r["loss"] is not null)["loss"]!.GetValue<double>();
        Assert.NotEqual(Loss(with), Loss(without));
        Assert.Equal(Loss(without), Loss(againWithout));
    }

    [Fact]
    public void TranslateReadsAManifestOrAWavListAndRefusesAFileOverMaxSeconds()
    {
        var run = TinyRun.NewRunDirectory();
        TinyRun.Train(Config() with { MaxUpdates = 2, ValidateEvery = 0 }, run);

        var fromManifest = CliRunner.Run("translate", "--checkpoint", run, "--input", Manifest, "--beam", "2", "--threads", "1", "--device", "cpu");
        Assert.True(fromManifest.ExitCode == 0, fromManifest.Error);
        Assert.Equal(3, fromManifest.Out.Split('\n').Length - 1);

        // A WAV list relative to the list's directory decodes the same utterances to the same outputs.
        var list = Path.Combine(Path.GetDirectoryName(LogMelFeaturesTests.Fixture("manifest.tsv"))!, $"list-{Guid.NewGuid():N}.txt");
        File.WriteAllLines(list, File.ReadLines(LogMelFeaturesTests.Fixture("manifest.tsv")).Select(l => l.Split('\t')[0]));
        try
        {
            var fromList = CliRunner.Run("translate", "--checkpoint", run, "--input", list, "--beam", "2", "--threads", "1", "--device", "cpu");
            Assert.Equal(fromManifest.Out, fromList.Out);
        }
        finally
        {
            File.Delete(list);
        }

        var ctc = CliRunner.Run("translate", "--checkpoint", run, "--input", Manifest, "--ctc", "--threads", "1", "--device", "cpu");
        Assert.True(ctc.ExitCode == 0, ctc.Error);
        Assert.True(3 == ctc.Out.Split('\n').Length - 1, ctc.Out);
        var ctcNBest = CliRunner.Run("translate", "--checkpoint", run, "--input", Manifest, "--ctc", "--nbest", "2", "--threads", "1", "--device", "cpu");
        Assert.Equal(1, ctcNBest.ExitCode);
        Assert.Contains("--nbest needs the decoder's beam search", ctcNBest.Error);

        var served = CliRunner.Run("serve", "--checkpoint", run, "--port", "0", "--source-lang", "en", "--target-lang", "en", "--threads", "1", "--device", "cpu");
        Assert.Equal(1, served.ExitCode);
        Assert.Contains("a speech model; serve translates text", served.Error);

        var output = Path.Combine(run, "out.txt");
        var tooLong = CliRunner.Run("translate", "--checkpoint", run, "--input", Manifest, "--max-seconds", "0.5", "--output", output, "--threads", "1", "--device", "cpu");
        Assert.Equal(1, tooLong.ExitCode);
        Assert.Single(tooLong.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("en-01694.wav", tooLong.Error);
        Assert.Contains("longer than --max-seconds 0.5", tooLong.Error);
        Assert.False(File.Exists(output));
    }

    [Theory]
    [InlineData("--arch", "transformer", "--task asr reads speech: --arch must be speech-transformer")]
    [InlineData("--train-tgt", "MANIFEST", "--task asr takes its text from the manifests: give no --train-tgt or --valid-tgt")]
    [InlineData("--best-metric", "bleu", "--task asr validates by WER: --best-metric must be wer or loss")]
    [InlineData("--tie-embeddings", "all", "speech-transformer has no source embedding to share")]
    public void ASpeechConfigThatCannotWorkIsAOneLineErrorAndWritesNothing(string option, string value, string expected)
    {
        var run = TinyRun.NewRunDirectory();
        var options = new Dictionary<string, string>
        {
            ["--run-dir"] = run, ["--task"] = "asr", ["--arch"] = ModelConfig.SpeechArch, ["--tie-embeddings"] = "decoder", ["--train-src"] = Manifest,
            ["--vocab"] = Path.Combine(TinyRun.Directory, "vocab"), ["--best-metric"] = "wer", ["--max-updates"] = "1", ["--d-model"] = "32",
            ["--threads"] = "1", ["--device"] = "cpu",
        };
        options[option] = value == "MANIFEST" ? Manifest : value;
        var result = CliRunner.Run(["train", .. options.SelectMany(o => new[] { o.Key, o.Value })]);
        Assert.Equal(1, result.ExitCode);
        Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, result.Error);
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void AManifestLineNamingATruncatedWavIsRefusedBeforeTheRunDirectoryIsMade()
    {
        var directory = Path.Combine(TinyRun.Directory, "speech-bad-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, "cut.wav"), File.ReadAllBytes(LogMelFeaturesTests.Fixture("en-00469.wav"))[..30]);
        File.Copy(LogMelFeaturesTests.Fixture("en-01694.wav"), Path.Combine(directory, "good.wav"));
        var bad = Path.Combine(directory, "train.tsv");
        File.WriteAllLines(bad, ["good.wav\tThen Job answered Yahweh:", "cut.wav\tShallum, Amariah, and Joseph."]);
        var run = TinyRun.NewRunDirectory();
        var result = CliRunner.Run("train", "--run-dir", run, "--task", "asr", "--arch", ModelConfig.SpeechArch, "--tie-embeddings", "decoder",
            "--train-src", bad, "--vocab", Path.Combine(TinyRun.Directory, "vocab"), "--best-metric", "wer", "--max-updates", "1", "--threads", "1", "--device", "cpu");
        Assert.Equal(1, result.ExitCode);
        Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"{bad} line 2:", result.Error);
        Assert.Contains("cut.wav", result.Error);
        Assert.False(Directory.Exists(run));
    }
}
