using System.ComponentModel;
using System.Text.Json.Serialization;
using TranslationTrainer.Model;

namespace TranslationTrainer.Training;

/// <summary>Marks a config value that is a path: in a config file it is relative to that file.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class PathValueAttribute : Attribute;

/// <summary>Marks a value that may change when a run is resumed (how a run is extended, as in fairseq).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ResumableAttribute : Attribute;

/// <summary>
/// Everything `train` needs. JSON keys are these names in camelCase (model values under "model"); every
/// value is also a CLI option in kebab-case (--max-tokens, --d-model), generated from this record.
/// </summary>
public sealed record TrainConfig
{
    [Description("translation (text to text), asr (speech to its transcript) or st (speech to a translation); asr and st read manifests (`wav path<TAB>text`) as train-src and valid-src, and need `arch` speech-transformer")]
    public string Task { get; init; } = "translation";
    [PathValue, Description("source side of the training corpus (asr, st: its manifest)")] public string TrainSrc { get; init; } = "";
    [PathValue, Description("target side of the training corpus (not for asr and st: the manifest holds the text)")] public string TrainTgt { get; init; } = "";
    [PathValue, Description("source side of the validation set (asr, st: its manifest)")] public string ValidSrc { get; init; } = "";
    [PathValue, Description("target side of the validation set (not for asr and st)")] public string ValidTgt { get; init; } = "";
    [PathValue, Description("vocabulary directory made by `vocab`")] public string Vocab { get; init; } = "";

    public ModelConfig Model { get; init; } = new();

    [Description("padded source + target tokens per batch")] public int MaxTokens { get; init; } = 4096;
    [Description("longest sentence in subwords; longer training pairs are skipped and counted")] public int MaxLen { get; init; } = 256;
    [Description("skip pairs whose subword length ratio exceeds this (0 = keep all)")] public double MaxLengthRatio { get; init; } = 9;
    [Description("adam or adamw")] public string Optimizer { get; init; } = "adam";
    [Description("peak learning rate")] public double LearningRate { get; init; } = 7e-4;
    [Description("Adam beta1")] public double Beta1 { get; init; } = 0.9;
    [Description("Adam beta2")] public double Beta2 { get; init; } = 0.98;
    [Description("Adam epsilon")] public double AdamEps { get; init; } = 1e-9;
    [Description("weight decay")] public double WeightDecay { get; init; }
    [Description("inverse-sqrt (linear warmup, then 1/sqrt(update)), noam, or constant")] public string Schedule { get; init; } = "inverse-sqrt";
    [Description("learning-rate warmup updates")] public int WarmupUpdates { get; init; } = 4000;
    [Description("clip the gradient norm to this (0 = off)")] public double ClipNorm { get; init; } = 1.0;
    [Description("label smoothing of the cross-entropy")] public double LabelSmoothing { get; init; } = 0.1;
    [Description("asr and st: SpecAugment's frequency and time masks on training utterances")] public bool SpecAugment { get; init; } = true;
    [Description("asr: weight of a CTC loss on the encoder, the rest on the decoder's cross-entropy (ESPnet uses 0.3; 0 = off)")] public double CtcWeight { get; init; }
    [Description("batches accumulated per update")] public int UpdateFreq { get; init; } = 1;
    [Resumable, Description("stop after this many updates (0 = no limit)")] public int MaxUpdates { get; init; }
    [Resumable, Description("stop after this many epochs (0 = no limit)")] public int MaxEpochs { get; init; }
    [Resumable, Description("stop after this many minutes of training (0 = no limit)")] public double MaxTime { get; init; }
    [Resumable, Description("validate every N updates (0 = only at the end)")] public int ValidateEvery { get; init; } = 1000;
    [Resumable, Description("at each validation, greedy-translate the validation set and score BLEU and chrF (asr: WER)")] public bool ValidBleu { get; init; } = true;
    [Resumable, Description("metric that picks checkpoint_best and drives --patience: bleu, loss, or wer (asr)")] public string BestMetric { get; init; } = "bleu";
    [Resumable, Description("stop after N validations without improvement (0 = never)")] public int Patience { get; init; }
    [Resumable, Description("write checkpoint_last every N updates (0 = at validations only)")] public int SaveEvery { get; init; }
    [Resumable, Description("keep the last N interval checkpoints")] public int KeepLast { get; init; } = 5;
    [Resumable, Description("log progress every N updates")] public int LogEvery { get; init; } = 50;
    [Resumable, Description("also write the metrics as TensorBoard scalars under RUN/tensorboard")] public bool Tensorboard { get; init; } = true;
    [Description("seed for initialisation, dropout and data order")] public int Seed { get; init; } = 1;
    [Resumable, Description("CPU threads (0 = all cores; with several ranks on a machine, its cores shared out among them)")] public int Threads { get; init; }
    [Resumable, Description("auto, cpu or cuda")] public string Device { get; init; } = "auto";
    // auto since bf16 matched fp32 on the Bible recipe at equal updates (docs/experiments.md).
    [Resumable, Description("auto (bf16 where the CPU has AVX512_BF16/AMX or on a GPU, else fp32), fp32, or bf16 (bfloat16 matrix multiplies, float32 weights)")]
    public string Precision { get; init; } = "auto";
    [Resumable, Description("data-parallel training: auto (MPI when launched by MPICH's mpiexec), mpi, or none")] public string Distributed { get; init; } = "auto";
    [Resumable, Description("minutes a rank waits for the others in one MPI call before it aborts the job (a rank died or hangs)")] public double DistributedTimeout { get; init; } = 30;

    public void Validate()
    {
        Model.Validate();
        Require(Task is "translation" or "asr" or "st", $"`task` must be translation, asr or st, got '{Task}'");
        Require(IsSpeech == Model.IsSpeech, IsSpeech
            ? $"`task` {Task} reads speech: `arch` must be {ModelConfig.SpeechArch}, got '{Model.Arch}'"
            : $"`arch` {ModelConfig.SpeechArch} reads speech: `task` must be asr or st");
        if (IsSpeech)
        {
            Require(TrainSrc != "", "`train-src` (a speech manifest) is required");
            Require(Model.Bins == Speech.LogMelFeatures.MelBins, $"`feature-bins` must be {Speech.LogMelFeatures.MelBins}: training reads {Speech.LogMelFeatures.MelBins}-bin log-mel features");
            Require(TrainTgt == "" && ValidTgt == "", $"`task` {Task} takes its text from the manifests: give no `train-tgt` or `valid-tgt`");
        }
        else Require(TrainSrc != "" && TrainTgt != "", "`train-src` and `train-tgt` are required");
        Require(Vocab != "", "`vocab` is required");
        Require(IsSpeech || (ValidSrc == "") == (ValidTgt == ""), "`valid-src` and `valid-tgt` go together");
        Require(MaxTokens > 0, "`max-tokens` must be positive");
        Require(MaxLen > 1, "`max-len` must be at least 2");
        Require(Optimizer is "adam" or "adamw", $"`optimizer` must be adam or adamw, got '{Optimizer}'");
        Require(Schedule is "inverse-sqrt" or "noam" or "constant", $"`schedule` must be inverse-sqrt, noam or constant, got '{Schedule}'");
        Require(LearningRate > 0, "`learning-rate` must be positive");
        Require(WarmupUpdates >= 0, "`warmup-updates` must not be negative");
        Require(CtcWeight is >= 0 and < 1, $"`ctc-weight` must be in [0, 1), got {CtcWeight}");
        Require(CtcWeight == 0 || Task == "asr", "`ctc-weight` is for `task` asr (CTC needs an output that follows the audio in order)");
        Require(LabelSmoothing is >= 0 and < 1, "`label-smoothing` must be in [0, 1)");
        Require(UpdateFreq >= 1, "`update-freq` must be at least 1");
        Require(MaxUpdates >= 0 && MaxEpochs >= 0 && MaxTime >= 0, "`max-updates`, `max-epochs` and `max-time` must not be negative");
        Require(ValidateEvery >= 0 && SaveEvery >= 0 && KeepLast >= 0 && Patience >= 0, "`validate-every`, `save-every`, `keep-last` and `patience` must not be negative");
        Require(BestMetric is "bleu" or "loss" or "wer", $"`best-metric` must be bleu, loss or wer, got '{BestMetric}'");
        Require(BestMetric == "loss" || ValidBleu, $"`best-metric` {BestMetric} needs `valid-bleu` true");
        Require((BestMetric == "wer") == (Task == "asr") || BestMetric == "loss",
            Task == "asr" ? "`task` asr validates by WER: `best-metric` must be wer or loss" : "`best-metric` wer is for `task` asr");
        Require(LogEvery > 0, "`log-every` must be positive");
        Require(Threads >= 0, "`threads` must not be negative");
        Require(Device is "auto" or "cpu" or "cuda", $"`device` must be auto, cpu or cuda, got '{Device}'");
        Require(Precision is "fp32" or "bf16" or "auto", $"`precision` must be fp32, bf16 or auto, got '{Precision}'");
        Require(Distributed is "auto" or "mpi" or "none", $"`distributed` must be auto, mpi or none, got '{Distributed}'");
        Require(DistributedTimeout > 0, "`distributed-timeout` must be positive");
    }

    /// <summary>Whether the source is speech (asr, st) rather than text.</summary>
    [JsonIgnore] public bool IsSpeech => Task is "asr" or "st";

    private static void Require(bool condition, string message)
    {
        if (!condition) throw new UserError(message);
    }
}
