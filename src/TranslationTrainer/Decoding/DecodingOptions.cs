namespace TranslationTrainer.Decoding;

/// <summary>How `translate` (and validation) searches; every value is a `translate` option.</summary>
public sealed record DecodingOptions
{
    /// <summary>1 = greedy search.</summary>
    public int Beam { get; init; } = 5;
    /// <summary>Sentences per batch (sorted by length first).</summary>
    public int BatchSize { get; init; } = 64;
    /// <summary>Batches decoded at once, each on its own thread (<see cref="Workers"/>); 0 = auto.</summary>
    public int Workers { get; init; }
    /// <summary>α of the length penalty; 0 ranks by plain log-probability.</summary>
    public double LengthPenalty { get; init; } = 1.0; // Sockeye's default; tuned on valid it beat 0.6 (docs/experiments.md)
    /// <summary>gnmt: score / ((5+|y|)/6)^α (Sockeye, OpenNMT); simple: score / |y|^α (fairseq, Marian).</summary>
    public string LengthPenaltyStyle { get; init; } = "gnmt";
    /// <summary>At most MaxLenA·|x| + MaxLenB target tokens.</summary>
    public double MaxLenA { get; init; } = 1.5;
    public int MaxLenB { get; init; } = 10;
    public int MinLen { get; init; }
    public int NBest { get; init; } = 1;
    /// <summary>Lets the model output &lt;unk&gt;; off by default, as a reader cannot use it.</summary>
    public bool AllowUnk { get; init; }
    /// <summary>fairseq's --no-repeat-ngram-size: no output repeats an n-gram of this size; 0 = off.</summary>
    public int NoRepeatNgram { get; init; }
    /// <summary>Also compute subword alignments from the last decoder layer's cross-attention (an extra pass).</summary>
    public bool Alignment { get; init; }
    /// <summary>Also keep the last decoder layer's cross-attention, every head, for heat maps (an extra pass).</summary>
    public bool AttentionMaps { get; init; }
    /// <summary>Re-run the decoder over the whole prefix each step instead of using the key/value cache:
    /// the same results, much slower; for `benchmark decode` and tests only.</summary>
    public bool Uncached { get; init; }
    /// <summary>A speech model refuses audio longer than this (no streaming: a long file would be decoded in one pass).</summary>
    public double MaxSeconds { get; init; } = 60;
    /// <summary>Speech models trained with `ctc-weight`: decode from the encoder's CTC head (best path), not with the decoder.</summary>
    public bool Ctc { get; init; }

    public void Validate()
    {
        if (Beam < 1) throw new UserError("`beam` must be at least 1");
        if (!(MaxSeconds > 0)) throw new UserError("`max-seconds` must be positive");
        if (BatchSize < 1) throw new UserError("`batch-size` must be at least 1");
        if (Workers < 0) throw new UserError("`workers` must not be negative (0 = auto)");
        if (Ctc && NBest > 1) throw new UserError("`nbest` needs the decoder's beam search; `ctc` gives one output per input");
        if (NBest < 1 || NBest > Beam) throw new UserError($"`nbest` must be between 1 and `beam` ({Beam})");
        if (LengthPenaltyStyle is not ("gnmt" or "simple")) throw new UserError($"`length-penalty-style` must be gnmt or simple, got '{LengthPenaltyStyle}'");
        if (NoRepeatNgram < 0) throw new UserError("`no-repeat-ngram` must not be negative");
        if (MaxLenA < 0 || MaxLenB < 0 || MinLen < 0) throw new UserError("`max-len-a`, `max-len-b` and `min-len` must not be negative");
    }

    /// <summary>The normaliser a hypothesis score is divided by; length counts &lt;/s&gt;.</summary>
    public double LengthNormaliser(int length) => LengthPenaltyStyle == "gnmt"
        ? Math.Pow((5.0 + length) / 6.0, LengthPenalty)
        : Math.Pow(length, LengthPenalty);

    public int MaxLength(int sourceLength, int modelMaxPositions) =>
        Math.Max(1, Math.Min(modelMaxPositions - 1, (int)(MaxLenA * sourceLength) + MaxLenB));
}
