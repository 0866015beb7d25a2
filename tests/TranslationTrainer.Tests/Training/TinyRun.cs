using Serilog.Core;
using TranslationTrainer.Model;
using TranslationTrainer.Text;
using TranslationTrainer.Training;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Tests.Training;

/// <summary>A 64-pair slice of the bundled corpus with a small vocabulary, made once per test run.</summary>
internal static class TinyRun
{
    private static readonly Lazy<string> directory = new(Create);
    private static readonly Lazy<string> trained = new(() =>
    {
        var runDir = NewRunDirectory();
        Train(Config() with { ValidateEvery = 3, ValidBleu = true }, runDir);
        return runDir;
    });

    public static string Directory => directory.Value;

    /// <summary>A finished 12-update run validated (with BLEU) every 3 updates, shared by tests that only read it or add files to it.</summary>
    public static string TrainedRunDirectory => trained.Value;

    public static string NewRunDirectory() => Path.Combine(Directory, "runs", Guid.NewGuid().ToString("N"));

    public static TrainConfig Config() => new()
    {
        TrainSrc = Path.Combine(Directory, "train.es"),
        TrainTgt = Path.Combine(Directory, "train.en"),
        ValidSrc = Path.Combine(Directory, "valid.es"),
        ValidTgt = Path.Combine(Directory, "valid.en"),
        Vocab = Path.Combine(Directory, "vocab"),
        Model = new ModelConfig { DModel = 32, Heads = 2, FfnSize = 64, EncoderLayers = 1, DecoderLayers = 1, Dropout = 0.1, MaxPositions = 256 },
        MaxTokens = 700,
        MaxUpdates = 12,
        LogEvery = 2,
        ValidateEvery = 6,
        WarmupUpdates = 4,
        LearningRate = 2e-3,
        Threads = 1,
        Device = "cpu",
        Precision = "fp32", // the same numbers on every CPU, with or without bf16 instructions
        ValidBleu = false,
        BestMetric = "loss",
        Seed = 3,
    };

    public static TrainResult Train(TrainConfig config, string runDir, CancellationToken cancel = default, Action<TrainingStatus>? status = null)
    {
        var (prepared, resume, runLock) = RunSetup.Prepare(config, runDir, force: false, Logger.None);
        using (runLock) return Trainer.Run(prepared, runDir, resume, Logger.None, cancel, status);
    }

    private static readonly List<TranslationTrainer.Model.ITranslationModel> KeptAlive = [];

    /// <summary>A checkpoint's parameters by name; the model is kept alive, as its finalizer would free them.</summary>
    public static Dictionary<string, TorchSharp.torch.Tensor> Parameters(string checkpoint)
    {
        var (_, model) = Checkpoint.LoadModel(checkpoint, TorchSharp.torch.CPU);
        lock (KeptAlive) KeptAlive.Add(model);
        return model.Module.state_dict();
    }

    private static string Create()
    {
        var dir = Path.Combine(Path.GetTempPath(), "tt-training-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(dir);
        foreach (var (name, count) in new[] { ("train.es", 64), ("train.en", 64), ("valid.es", 12), ("valid.en", 12) })
            File.WriteAllLines(Path.Combine(dir, name), File.ReadLines(Path.Combine(Text.Corpus.Directory, name)).Take(count));
        VocabularyBuilder.Build(new VocabularyRequest([Path.Combine(dir, "train.es"), Path.Combine(dir, "train.en")], null,
            Path.Combine(dir, "vocab"), new VocabularyOptions(VocabSize: 450)));
        return dir;
    }
}
