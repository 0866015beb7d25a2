using System.Diagnostics;
using System.Text.Json.Nodes;
using Serilog;
using TorchSharp.Modules;
using TranslationTrainer.Data;
using TranslationTrainer.Distributed;
using TranslationTrainer.Model;
using TranslationTrainer.Speech;
using TranslationTrainer.Text;
using static TorchSharp.torch;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Training;

public sealed record TrainResult(long Updates, int Epoch, string StopReason, bool Interrupted, double? ValidLoss);

/// <summary>What a live progress display shows after each update; Eta is null without --max-updates or --max-time.</summary>
public sealed record TrainingStatus(long Update, int Epoch, double Loss, double LearningRate, double TokensPerSecond, TimeSpan Elapsed, TimeSpan? Eta);

/// <summary>
/// The training loop: one dispose scope per update, dropout reseeded from (seed, update) and data order
/// a function of (seed, epoch), so a run resumed from checkpoint_last continues bit for bit.
/// With several ranks (MPI), each trains on its share of every batch and the gradients are summed, so an
/// update is the same whatever the number of ranks; rank 0 alone validates and writes the run directory.
/// </summary>
public sealed class Trainer
{
    private readonly TrainConfig config;
    private readonly string runDir;
    private readonly ILogger log;
    private readonly IWorld world;
    private readonly Device device;
    private readonly ParallelCorpus train;
    private readonly ITranslationModel model;
    private readonly OptimizerHelper optimizer;
    private readonly Parameter[] parameters;
    /// <summary>Sums gradients over the ranks; null in a single process.</summary>
    private readonly GradientReducer? reducer;
    /// <summary>Rank 0's validation; null on the other ranks and without a validation set.</summary>
    private readonly Validator? validator;
    private readonly CheckpointPolicy checkpoints;
    private TrainingProgress progress;
    /// <summary>SpecAugment's settings for speech training; null for text or with it off.</summary>
    private readonly SpecAugmentOptions? augment;

    /// <summary>Trains in a run directory prepared by RunSetup.Prepare, resuming from checkpoint_last when asked.</summary>
    /// <summary>status, when given, is called after every update (the CLI draws it on a terminal); world, the ranks of a distributed run.</summary>
    public static TrainResult Run(TrainConfig config, string runDir, bool resume, ILogger log, CancellationToken cancel,
        Action<TrainingStatus>? status = null, IWorld? world = null) =>
        new Trainer(config, runDir, log, resume, world ?? new SingleProcess()).Train(cancel, status);

    private Trainer(TrainConfig config, string runDir, ILogger log, bool resume, IWorld world)
    {
        this.config = config;
        this.runDir = runDir;
        this.log = log;
        this.world = world;
        var setup = TrainingSetup.Load(config, runDir, resume, log, world);
        device = setup.Device;
        train = setup.Train;
        model = setup.Model;
        optimizer = setup.Optimizer;
        parameters = setup.Parameters;
        reducer = setup.Reducer;
        progress = setup.Progress;
        validator = setup.Valid is null ? null : new Validator(config, setup.Valid, model, setup.Vocab, device, log);
        augment = config.IsSpeech && config.SpecAugment ? new SpecAugmentOptions() : null;
        checkpoints = new CheckpointPolicy(config, runDir, model, optimizer, setup.Vocab);
    }

    private bool HasValidation => config.ValidSrc != "";

    private TrainResult Train(CancellationToken cancel, Action<TrainingStatus>? status)
    {
        using var metrics = world.IsMain ? new MetricsFile(Path.Combine(runDir, RunDirectory.Metrics), progress.Update,
            config.Tensorboard ? Path.Combine(runDir, RunDirectory.TensorBoard) : null) : null;
        using var disposeReducer = reducer;
        var clock = Stopwatch.StartNew();
        double startElapsed = progress.ElapsedSeconds;
        double Elapsed() => startElapsed + clock.Elapsed.TotalSeconds;
        var window = new LogWindow(progress.LossSinceLog, progress.UpdatesSinceLog, Elapsed());
        var live = new LiveRate(progress.Update);
        double? validLoss = null;
        // A resumed run may already be done (e.g. killed after its last save): it does no further update.
        if (StopReason(TimeUp(Elapsed()), epochDone: progress.NextBatch == 0 && progress.Update > 0) is { } alreadyDone)
        {
            log.Information("Nothing to do at update {Update}: {Reason}", progress.Update, alreadyDone);
            return new TrainResult(progress.Update, progress.Epoch, alreadyDone, false, validLoss);
        }

        while (true)
        {
            var batches = Batching.ForEpoch(train, config.MaxTokens, config.Seed, progress.Epoch);
            for (int b = progress.NextBatch; b < batches.Count; b += config.UpdateFreq)
            {
                var group = batches.Skip(b).Take(config.UpdateFreq).ToArray();
                double loss = Update(group, progress.Update + 1);
                bool epochDone = b + config.UpdateFreq >= batches.Count;
                progress = progress with
                {
                    Update = progress.Update + 1,
                    Epoch = epochDone ? progress.Epoch + 1 : progress.Epoch,
                    NextBatch = epochDone ? 0 : b + config.UpdateFreq,
                    ElapsedSeconds = Elapsed(),
                };
                int targetTokens = group.Sum(batch => batch.Sum(i => train.Target[i].Length + 1));
                window.Add(loss, targetTokens, train.IsSpeech ? group.Sum(batch => batch.Sum(i => train.SourceFrames[i].Length / train.FeatureBins)) : 0);
                if (status is not null) status(live.Add(progress, loss, targetTokens, Schedule.LearningRate(config, progress.Update), Elapsed(), Eta));
                if (progress.Update % config.LogEvery == 0) window = LogProgress(window, metrics, Elapsed());

                // Every decision below is the same on all ranks: what one rank alone sees (its clock, a signal,
                // rank 0's validation) is shared first.
                string? stop = StopReason(TimeUp(Elapsed()), epochDone);
                bool validate = HasValidation && config.ValidateEvery > 0 && progress.Update % config.ValidateEvery == 0;
                ValidationResult? validation = null;
                if (validate || (stop is not null && HasValidation))
                {
                    if (world.IsMain)
                    {
                        validation = validator!.Run(progress, metrics!);
                        progress = validation.Progress;
                        validLoss = validation.Loss;
                    }
                    if (world.FromMain(progress.ValidationsWithoutImprovement >= config.Patience && config.Patience > 0))
                        stop ??= $"no improvement in {config.Patience} validations";
                }
                bool interrupted = world.AnyRank(cancel.IsCancellationRequested);
                if (world.IsMain && checkpoints.IsDue(progress.Update, scheduledValidation: validate, stopping: stop is not null, interrupted))
                {
                    // Carried in checkpoint_last, so that a resumed run's progress lines match.
                    progress = progress with { LossSinceLog = window.LossSum, UpdatesSinceLog = window.Updates };
                    checkpoints.Save(progress, intervalCopy: validate, newBest: validation?.Improved == true);
                }
                if (validate) ReleaseValidationMemory();
                if (interrupted)
                {
                    if (world.IsMain) log.Warning("Interrupted at update {Update}; checkpoint_last saved in {RunDir}", progress.Update, runDir); // the CLI says how to resume
                    else log.Warning("Interrupted at update {Update}; rank 0 saved checkpoint_last", progress.Update);
                    return new TrainResult(progress.Update, progress.Epoch, "interrupted", true, validLoss);
                }
                if (stop is not null)
                {
                    log.Information("Stopping at update {Update}: {Reason}", progress.Update, stop);
                    return new TrainResult(progress.Update, progress.Epoch, stop, false, validLoss);
                }
                if (epochDone) break;
            }
        }
    }

    /// <summary>
    /// Validation and saving leave garbage behind: managed memory that the GC would keep committed and native blocks
    /// of the decoder's shapes. Both go back to the system here, so that resident memory stays flat over a long run
    /// (scripts/bench-memory; figures in docs/performance.md).
    /// </summary>
    private static void ReleaseValidationMemory()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        TorchRuntime.ReleaseFreeMemory();
    }

    /// <summary>One optimiser update over a group of batches (gradient accumulation); returns the mean loss per token.</summary>
    private double Update(int[][] group, long update)
    {
        using var scope = NewDisposeScope();
        // Rank 0 draws the dropout masks of a single process; the other ranks draw their own.
        manual_seed(unchecked(config.Seed * 1_000_003L + update + world.Rank * 7_919_000_003L));
        model.Module.train();
        optimizer.zero_grad();
        // The target tokens of the whole update, all ranks together: each rank knows every batch.
        int tokens = group.Sum(batch => batch.Sum(i => train.Target[i].Length + 1));
        Tensor? total = null;
        foreach (var indices in group.Select(world.Share).Where(share => share.Length > 0))
        {
            var batch = Batching.ToTensors(train, indices, device, augment, augmentSeed: unchecked(config.Seed * 1_000_003L + update));
            var loss = config.CtcWeight > 0 ? HybridLoss(batch, indices) / tokens
                : Loss.SummedCrossEntropy(model.forward(batch.Source, batch.TargetInput), batch.TargetOutput, config.LabelSmoothing, Vocabulary.PadId) / tokens;
            loss.backward();
            total = total is null ? loss.detach() : total + loss.detach();
        }
        double lossValue = total?.item<float>() ?? 0;
        if (reducer is not null) lossValue = reducer.Sum((float)lossValue)[0];
        // The gradient norm is computed even without clipping: it is how a NaN/inf is caught before the step.
        // With several ranks it is taken after the sum, so all ranks clip alike and stop alike.
        double norm = nn.utils.clip_grad_norm_(parameters, config.ClipNorm > 0 ? config.ClipNorm : double.PositiveInfinity);
        if (!double.IsFinite(norm))
            throw new UserError($"loss became NaN/inf at update {update}; stopped without saving that state (try a lower `learning-rate` or longer `warmup-updates`)");
        double lr = Schedule.LearningRate(config, update);
        foreach (var group_ in optimizer.ParamGroups) group_.LearningRate = lr;
        optimizer.step();
        return lossValue;
    }

    /// <summary>ESPnet's hybrid CTC/attention loss, summed over the batch: (1 − w) · cross-entropy + w · CTC.</summary>
    private Tensor HybridLoss(TrainingBatch batch, int[] indices)
    {
        var targetLengths = tensor(indices.Select(i => (long)train.Target[i].Length).ToArray(), device: device);
        var (logits, ctc) = ((ICtcModel)model).ForwardWithCtc(batch.Source, batch.TargetInput, batch.TargetOutput, targetLengths);
        var crossEntropy = Loss.SummedCrossEntropy(logits, batch.TargetOutput, config.LabelSmoothing, Vocabulary.PadId);
        return (1 - config.CtcWeight) * crossEntropy + config.CtcWeight * ctc;
    }

    /// <summary>checkpoint_N.pt files of a run directory, oldest first.</summary>
    public static List<(long Update, string Path)> IntervalCheckpoints(string runDir) =>
        Directory.GetFiles(runDir, "checkpoint_*.pt")
            .Select(p => (Name: Path.GetFileNameWithoutExtension(p)["checkpoint_".Length..], Path: p))
            .Where(c => long.TryParse(c.Name, out _))
            .Select(c => (long.Parse(c.Name), c.Path))
            .OrderBy(c => c.Item1)
            .ToList();

    private string? StopReason(bool timeUp, bool epochDone)
    {
        if (config.MaxUpdates > 0 && progress.Update >= config.MaxUpdates) return $"reached --max-updates {config.MaxUpdates}";
        if (config.MaxEpochs > 0 && epochDone && progress.Epoch > config.MaxEpochs) return $"reached --max-epochs {config.MaxEpochs}";
        if (timeUp) return $"reached --max-time {config.MaxTime} minutes";
        return null;
    }

    /// <summary>Whether --max-time has passed on any rank's clock.</summary>
    private bool TimeUp(double elapsedSeconds) => world.AnyRank(config.MaxTime > 0 && elapsedSeconds >= config.MaxTime * 60);

    private LogWindow LogProgress(LogWindow window, MetricsFile? metrics, double elapsed)
    {
        double seconds = Math.Max(1e-9, elapsed - window.StartSeconds);
        double loss = window.LossSum / Math.Max(1, window.Updates), tokensPerSecond = window.Tokens / seconds;
        double lr = Schedule.LearningRate(config, progress.Update);
        string etaText = Eta(seconds / Math.Max(1, window.Updates), elapsed)?.ToString(@"hh\:mm\:ss") ?? "?";
        // Resident memory is logged so that a long run shows whether it stays flat; free blocks go back to the system first.
        TorchRuntime.ReleaseFreeMemory();
        double rssMb = Environment.WorkingSet / 1048576.0, peakRssMb = TorchRuntime.PeakRssMegabytes();
        // Speech also counts input frames (10 ms each): frames/s over 100 is how many times faster than real time it trains.
        string frames = train.IsSpeech ? $" | {window.Frames / seconds:F0} frames/s" : "";
        log.Information("update {Update} | epoch {Epoch} | loss {Loss:F3} | lr {Lr:E2} | {TokensPerSecond:F0} tgt tok/s{Frames} | RSS {Rss:F0} MB | elapsed {Elapsed} | ETA {Eta}",
            progress.Update, progress.Epoch, loss, lr, tokensPerSecond, frames, rssMb, TimeSpan.FromSeconds(elapsed).ToString(@"hh\:mm\:ss"), etaText);
        var record = new JsonObject
        {
            ["update"] = progress.Update, ["epoch"] = progress.Epoch, ["loss"] = Math.Round(loss, 5), ["lr"] = lr,
            ["tgt_tok_per_s"] = Math.Round(tokensPerSecond, 1), ["elapsed_s"] = Math.Round(elapsed, 2), ["rss_mb"] = Math.Round(rssMb, 1), ["peak_rss_mb"] = Math.Round(peakRssMb, 1),
        };
        if (train.IsSpeech) record["frames_per_s"] = Math.Round(window.Frames / seconds, 1);
        metrics?.Write(record);
        return new LogWindow(0, 0, elapsed);
    }

    /// <summary>Time left until the first of --max-updates and --max-time; null when neither is set.</summary>
    private TimeSpan? Eta(double secondsPerUpdate, double elapsed)
    {
        var left = new List<double>();
        if (config.MaxUpdates > 0) left.Add((config.MaxUpdates - progress.Update) * secondsPerUpdate);
        if (config.MaxTime > 0) left.Add(config.MaxTime * 60 - elapsed);
        return left.Count == 0 ? null : TimeSpan.FromSeconds(Math.Max(0, left.Min()));
    }

    /// <summary>Smoothed loss and speed for the live display (exponential moving averages, so it moves calmly).</summary>
    private sealed class LiveRate(long firstUpdate)
    {
        private double loss = double.NaN, tokensPerSecond, lastElapsed = double.NaN, secondsPerUpdate;

        public TrainingStatus Add(TrainingProgress progress, double updateLoss, int tokens, double lr, double elapsed, Func<double, double, TimeSpan?> eta)
        {
            loss = double.IsNaN(loss) ? updateLoss : 0.95 * loss + 0.05 * updateLoss;
            if (!double.IsNaN(lastElapsed))
            {
                double seconds = Math.Max(1e-9, elapsed - lastElapsed);
                bool first = progress.Update <= firstUpdate + 2;
                secondsPerUpdate = first ? seconds : 0.95 * secondsPerUpdate + 0.05 * seconds;
                tokensPerSecond = first ? tokens / seconds : 0.95 * tokensPerSecond + 0.05 * tokens / seconds;
            }
            lastElapsed = elapsed;
            return new TrainingStatus(progress.Update, progress.Epoch, loss, lr, tokensPerSecond, TimeSpan.FromSeconds(elapsed),
                secondsPerUpdate > 0 ? eta(secondsPerUpdate, elapsed) : null);
        }
    }

    /// <summary>Loss and tokens since the last progress line; carried in checkpoints so resumed lines match.</summary>
    private sealed class LogWindow(double lossSum, int updates, double startSeconds)
    {
        public double LossSum { get; private set; } = lossSum;
        public int Updates { get; private set; } = updates;
        public long Tokens { get; private set; }
        public long Frames { get; private set; }
        public double StartSeconds { get; } = startSeconds;

        public void Add(double loss, int tokens, int frames)
        {
            LossSum += loss;
            Updates++;
            Tokens += tokens;
            Frames += frames;
        }
    }
}
