using Serilog;
using TorchSharp;
using TorchSharp.Modules;
using TranslationTrainer.Data;
using TranslationTrainer.Distributed;
using TranslationTrainer.Model;
using TranslationTrainer.Speech;
using TranslationTrainer.Text;
using static TorchSharp.torch;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Training;

/// <summary>
/// What a training run works on, built once from its config and run directory: the device, vocabulary and corpora,
/// the model and optimiser (restored from checkpoint_last on resume), and the gradient reducer of a distributed run.
/// </summary>
internal sealed class TrainingSetup
{
    public required Device Device { get; init; }
    public required VocabularyPair Vocab { get; init; }
    public required ParallelCorpus Train { get; init; }
    /// <summary>Loaded on rank 0 only (it alone validates), and only when the config names a validation set.</summary>
    public required ValidationSet? Valid { get; init; }
    public required ITranslationModel Model { get; init; }
    public required OptimizerHelper Optimizer { get; init; }
    public required Parameter[] Parameters { get; init; }
    /// <summary>Sums gradients over the ranks; null in a single process.</summary>
    public required GradientReducer? Reducer { get; init; }
    /// <summary>Where the run stands: checkpoint_last's progress on resume, else the start.</summary>
    public required TrainingProgress Progress { get; init; }

    public static TrainingSetup Load(TrainConfig config, string runDir, bool resume, ILogger log, IWorld world)
    {
        TorchRuntime.SetThreads(config.Threads > 0 ? config.Threads : Math.Max(1, Environment.ProcessorCount / world.LocalSize));
        var device = world.LocalDevice(TorchRuntime.ResolveDevice(config.Device));
        var vocab = VocabularyPair.Load(Path.Combine(runDir, RunDirectory.Vocab));

        if (config.Model.Arch == "decoder-only" && !vocab.Joint)
            throw new UserError($"`arch` decoder-only reads source and target as one sequence and needs a joint `vocab`; {Path.Combine(runDir, RunDirectory.Vocab)} is separate");
        var options = new ParallelCorpus.LoadOptions(config.MaxLen, config.MaxLengthRatio);
        ParallelCorpus train;
        if (config.IsSpeech)
        {
            (train, _) = SpeechCorpus.Load(config.TrainSrc, vocab.Target.Encode, config.MaxLen, config.Model.MaxPositions, out var skippedAudio);
            SpeechCorpus.LogSummary(log, "train", train, skippedAudio);
        }
        else
        {
            train = ParallelCorpus.Load(config.TrainSrc, config.TrainTgt, vocab.Source.Encode, vocab.Target.Encode, options, out var skipped);
            train.LogSummary(log, "train", skipped);
        }
        var valid = config.ValidSrc != "" && world.IsMain ? ValidationSet.Load(config, vocab, options, log) : null;

        manual_seed(config.Seed);
        var model = ModelArchitecture.Find(config.Model.Arch)!.Create(config.Model, vocab.Source.Size, vocab.Target.Size); // Validate refused an unknown one
        model.Module.to(device);
        model.Precision = Precision.Resolve(config.Precision, device);
        var parameters = model.Module.parameters().ToArray();
        OptimizerHelper optimizer = config.Optimizer == "adamw"
            ? optim.AdamW(parameters, config.LearningRate, config.Beta1, config.Beta2, config.AdamEps, config.WeightDecay)
            : optim.Adam(parameters, config.LearningRate, config.Beta1, config.Beta2, config.AdamEps, config.WeightDecay);
        var progress = new TrainingProgress();
        if (resume)
        {
            var path = Path.Combine(runDir, RunDirectory.LastCheckpoint);
            var header = Checkpoint.LoadInto(path, model, optimizer);
            if (header.VocabFingerprint != vocab.Fingerprint)
                throw new UserError($"{path}: trained with another vocabulary than {Path.Combine(runDir, RunDirectory.Vocab)}");
            progress = header.Progress;
            log.Information("Resuming {RunDir} at update {Update}, epoch {Epoch}, batch {Batch}", runDir, progress.Update, progress.Epoch, progress.NextBatch);
        }
        GradientReducer? reducer = null;
        if (world.Size > 1)
        {
            GradientReducer.BroadcastParameters(world, parameters);
            reducer = new GradientReducer(world, parameters, extraValues: 1);
            log.Information("Rank {Rank} of {Size} (local rank {LocalRank}, pid {Pid}); each trains on 1/{Size} of every --max-tokens {MaxTokens} batch",
                world.Rank, world.Size, world.LocalRank, Environment.ProcessId, world.Size, config.MaxTokens);
        }
        log.Information("Model: {Parameters:N0} parameters, {Config}; device {Device}, {Threads} threads, precision {Precision} (bf16 hardware: {Bf16}), "
            + "training and validation backend {Backend}; MKL kernels {Mkl}",
            parameters.Sum(p => p.numel()), config.Model, device.type, get_num_threads(), model.Precision, Precision.BFloat16Supported(device) ? "yes" : "no",
            model.Backend, TorchRuntime.MklKernels());
        return new TrainingSetup
        {
            Device = device, Vocab = vocab, Train = train, Valid = valid, Model = model, Optimizer = optimizer,
            Parameters = parameters, Reducer = reducer, Progress = progress,
        };
    }
}
