using TranslationTrainer.Tests.Training;

namespace TranslationTrainer.Tests.Cli;

[Collection(TorchCollection.Name)]
public class EndToEndTests
{
    private static readonly string[] TinyModel =
    [
        "--d-model", "32", "--heads", "2", "--ffn-size", "64", "--encoder-layers", "1", "--decoder-layers", "1",
        "--max-tokens", "700", "--warmup-updates", "4", "--validate-every", "4", "--log-every", "2", "--threads", "1", "--device", "cpu",
    ];

    [Fact]
    public void VocabTrainTranslateEvalRunInProcess()
    {
        string data = TinyRun.Directory, work = Path.Combine(data, "cli", Guid.NewGuid().ToString("N"));
        string vocab = Path.Combine(work, "vocab"), run = Path.Combine(work, "run"), hypotheses = Path.Combine(work, "valid.hyp.en");
        Directory.CreateDirectory(work);

        var learned = CliRunner.Run("vocab", "--input", Path.Combine(data, "train.es"), Path.Combine(data, "train.en"), "--output", vocab, "--vocab-size", "450");
        Assert.True(learned.ExitCode == 0, learned.Error);

        var trained = CliRunner.Run([
            "train", "--run-dir", run, "--train-src", Path.Combine(data, "train.es"), "--train-tgt", Path.Combine(data, "train.en"),
            "--valid-src", Path.Combine(data, "valid.es"), "--valid-tgt", Path.Combine(data, "valid.en"), "--vocab", vocab,
            "--max-updates", "8", .. TinyModel]);
        Assert.True(trained.ExitCode == 0, trained.Error);
        Assert.True(File.Exists(Path.Combine(run, "checkpoint_best.pt")));
        Assert.Contains("\"valid_bleu\"", File.ReadAllText(Path.Combine(run, "metrics.jsonl")));
        Assert.Contains("update 8 |", File.ReadAllText(Path.Combine(run, "train.log")));

        var translated = CliRunner.Run("translate", "--checkpoint", run, "--input", Path.Combine(data, "valid.es"), "--output", hypotheses, "--beam", "2", "--threads", "1");
        Assert.True(translated.ExitCode == 0, translated.Error);
        Assert.Equal(12, File.ReadAllLines(hypotheses).Length);

        var fromStdin = CliRunner.RunWithInput("Y dijo Dios\nSea la luz\n", "translate", "--checkpoint", run, "--beam", "1", "--output-format", "json");
        Assert.True(fromStdin.ExitCode == 0, fromStdin.Error);
        Assert.Equal(2, fromStdin.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.StartsWith("{\"source\":\"Y dijo Dios\"", fromStdin.Out);

        var scored = CliRunner.Run("eval", "--hyp", hypotheses, "--ref", Path.Combine(data, "valid.en"), "--metrics", "bleu,chrf");
        Assert.True(scored.ExitCode == 0, scored.Error);
        Assert.Contains("BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp", scored.Out);
        Assert.Contains("chrF2|nrefs:1", scored.Out);

        // Translating and scoring in one go gives the same figures as translate followed by eval.
        var oneGo = CliRunner.Run("eval", "--checkpoint", run, "--src", Path.Combine(data, "valid.es"), "--ref", Path.Combine(data, "valid.en"),
            "--metrics", "bleu,chrf", "--beam", "2", "--threads", "1");
        Assert.True(oneGo.ExitCode == 0, oneGo.Error);
        Assert.Equal(scored.Out, oneGo.Out);
    }
}
