using System.Text.Json.Serialization;

namespace TranslationTrainer.Model;

/// <summary>The shape of a model; saved in every checkpoint so a model can be rebuilt exactly.</summary>
public sealed record ModelConfig
{
    /// <summary>Which <see cref="ModelArchitecture"/>: transformer, rnn-attention, rnn-bottleneck, decoder-only or speech-transformer.</summary>
    public string Arch { get; init; } = "transformer";
    public int DModel { get; init; } = 256;
    public int Heads { get; init; } = 4;
    public int FfnSize { get; init; } = 1024;
    /// <summary>The encoder's layers; not used by decoder-only, which has one stack of `decoder-layers`.</summary>
    public int EncoderLayers { get; init; } = 3;
    /// <summary>The decoder's layers; for decoder-only, the layers of its one stack over source and target.</summary>
    public int DecoderLayers { get; init; } = 3;
    /// <summary>Dropout on embeddings and every residual branch.</summary>
    public double Dropout { get; init; } = 0.1;
    public double AttentionDropout { get; init; }
    /// <summary>Dropout after the feed-forward activation.</summary>
    public double ActivationDropout { get; init; }
    /// <summary>LayerNorm before each sublayer (stable without long warmup) or after it, as in the paper.</summary>
    public bool PreNorm { get; init; } = true;
    /// <summary>
    /// all: source, target and output share one matrix (joint vocabulary); decoder: target and output; none.
    /// decoder-only has one matrix for all three and takes only all.
    /// </summary>
    public string TieEmbeddings { get; init; } = "all";
    public string Activation { get; init; } = "relu";
    /// <summary>The longest source or target in tokens; decoder-only's positions cover a source and a target of this length.</summary>
    public int MaxPositions { get; init; } = 1024;
    /// <summary>The recurrent cell of rnn-attention and rnn-bottleneck (lstm when not given); null for the others.</summary>
    public string? RnnCell { get; init; }
    /// <summary>The recurrent state size of rnn-attention and rnn-bottleneck (d-model when not given); null for the others.</summary>
    public int? RnnHiddenSize { get; init; }

    /// <summary>The log-mel bins a speech-transformer reads per frame (80 when not given); null for the others.</summary>
    public int? FeatureBins { get; init; }
    /// <summary>The channels of a speech-transformer's convolutional front end (fairseq S2T's default 1024 when not given); null for the others.</summary>
    public int? ConvChannels { get; init; }

    [JsonIgnore] public bool IsSpeech => Arch == SpeechArch;
    /// <summary>The name of the Transformer whose encoder reads log-mel frames through a convolutional front end.</summary>
    public const string SpeechArch = "speech-transformer";
    /// <summary>The bins a speech model reads.</summary>
    [JsonIgnore] public int Bins => FeatureBins ?? 80;
    /// <summary>The front end's channels in a speech model.</summary>
    [JsonIgnore] public int SubsamplerChannels => ConvChannels ?? 1024;

    public bool IsRecurrent => Arch is "rnn-attention" or "rnn-bottleneck";
    /// <summary>The cell a recurrent model uses.</summary>
    public string Cell => RnnCell ?? "lstm";
    /// <summary>The state size a recurrent model uses.</summary>
    public int HiddenSize => RnnHiddenSize ?? DModel;

    public int HeadSize => DModel / Heads;

    /// <summary>Throws a UserError naming the first option that makes the model impossible.</summary>
    public void Validate()
    {
        var known = ModelArchitecture.All.Select(a => a.Name).ToArray();
        Require(known.Contains(Arch), $"`arch` must be one of {string.Join(", ", known)}, got '{Arch}'");
        if (!IsRecurrent)
        {
            Require(RnnCell is null, $"`rnn-cell` is an option of rnn-attention and rnn-bottleneck, not of `arch` {Arch}");
            Require(RnnHiddenSize is null, $"`rnn-hidden-size` is an option of rnn-attention and rnn-bottleneck, not of `arch` {Arch}");
        }
        if (!IsSpeech)
        {
            Require(FeatureBins is null, $"`feature-bins` is an option of speech-transformer, not of `arch` {Arch}");
            Require(ConvChannels is null, $"`conv-channels` is an option of speech-transformer, not of `arch` {Arch}");
        }
        Require(Bins > 0, "`feature-bins` must be positive");
        Require(SubsamplerChannels > 0 && SubsamplerChannels % 2 == 0, $"`conv-channels` must be positive and even (a GLU halves them), got {SubsamplerChannels}");
        Require(!IsSpeech || TieEmbeddings != "all",
            "`arch` speech-transformer has no source embedding to share: `tie-embeddings` must be decoder or none, got 'all'");
        Require(Cell is "lstm" or "gru" or "rnn", $"`rnn-cell` must be lstm, gru or rnn, got '{Cell}'");
        Require(HiddenSize > 0, "`rnn-hidden-size` must be positive");
        Require(!IsRecurrent || HiddenSize % 2 == 0,
            $"`rnn-hidden-size` ({HiddenSize}{(RnnHiddenSize is null ? ", d-model when not given" : "")}) must be even: each direction of the bidirectional encoder gets half");
        Require(DModel > 0, "`d-model` must be positive");
        Require(Heads > 0, "`heads` must be positive");
        Require(DModel % Heads == 0, $"`d-model` ({DModel}) must be divisible by `heads` ({Heads})");
        Require(DModel % 2 == 0, $"`d-model` ({DModel}) must be even for sinusoidal positions");
        Require(FfnSize > 0, "`ffn-size` must be positive");
        Require(EncoderLayers > 0, "`encoder-layers` must be at least 1");
        Require(DecoderLayers > 0, "`decoder-layers` must be at least 1");
        foreach (var (name, p) in new[] { ("`dropout`", Dropout), ("`attention-dropout`", AttentionDropout), ("`activation-dropout`", ActivationDropout) })
            Require(p is >= 0 and < 1, $"{name} must be in [0, 1), got {p}");
        Require(TieEmbeddings is "all" or "decoder" or "none", $"`tie-embeddings` must be all, decoder or none, got '{TieEmbeddings}'");
        Require(Arch != "decoder-only" || TieEmbeddings == "all",
            $"`arch` decoder-only has one embedding matrix for the source, the target and the output: `tie-embeddings` must be all, got '{TieEmbeddings}'");
        Require(Activation is "relu" or "gelu", $"`activation` must be relu or gelu, got '{Activation}'");
        Require(MaxPositions > 0, "`max-positions` must be positive");
    }

    private static void Require(bool condition, string message)
    {
        if (!condition) throw new UserError(message);
    }
}
