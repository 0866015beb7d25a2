namespace TranslationTrainer.Checkpoints;

/// <summary>The names of what a run directory holds; a run directory is the unit of work.</summary>
public static class RunDirectory
{
    public const string Config = "config.json";
    public const string Vocab = "vocab";
    public const string LastCheckpoint = "checkpoint_last.pt";
    public const string BestCheckpoint = "checkpoint_best.pt";
    public const string Metrics = "metrics.jsonl";
    public const string Log = "train.log";
    public const string TensorBoard = "tensorboard";
    /// <summary>What `plot` writes unless told otherwise.</summary>
    public const string Plot = "metrics.png";
    /// <summary>What `average --run-dir` writes unless told otherwise.</summary>
    public const string AveragedCheckpoint = "checkpoint_avg.pt";

    /// <summary>The log of rank N &gt; 0 of a distributed run; rank 0 writes train.log.</summary>
    public static string RankLog(int rank) => $"train.rank{rank}.log";

    public static string IntervalCheckpoint(long update) => $"checkpoint_{update}.pt";
}
