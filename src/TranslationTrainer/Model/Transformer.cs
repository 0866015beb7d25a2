using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using TranslationTrainer.Text;
using TranslationTrainer.Speech;
using F = TorchSharp.torch.nn.functional;

namespace TranslationTrainer.Model;

/// <summary>
/// The encoder-decoder Transformer of "Attention Is All You Need", batch-first, in the paper's order:
/// embeddings and positions, the encoder, the decoder (attending to the last encoder layer's output),
/// the output projection. The full forward pass and the incremental step share every layer.
/// As speech-transformer (fairseq's s2t_transformer), the source embedding is replaced by a convolutional front end
/// over log-mel frames (<see cref="ConvSubsampler"/>, a <see cref="SpeechBatch"/> in); all else is the same.
/// </summary>
public sealed class Transformer : nn.Module, ITranslationModel, ICtcModel
{
    /// <summary>The architecture's name in checkpoint headers.</summary>
    public const string ArchitectureName = "transformer";

    public ModelConfig Config { get; }
    public int SourceVocabSize { get; }
    public int TargetVocabSize { get; }
    public string Architecture => Config.Arch;
    public int MaxPositions => Config.MaxPositions;
    public string Backend => Precision.Backend;

    /// <summary>This model as a module, for the optimiser and checkpoints; refused once it was prepared for inference.</summary>
    public nn.Module Module => preparedForInference
        ? throw new InvalidOperationException("this model was prepared for inference (ForInference): it cannot be trained or saved")
        : this;

    private readonly Embedding? sourceEmbedding;    // null for speech, whose source is frames
    private readonly ConvSubsampler? subsampler;    // speech only: frames → encoder states, 4× fewer
    private readonly Linear? ctcProjection;         // speech only: encoder states → target tokens and blank, for `ctc-weight`
    private readonly Embedding? targetEmbedding;    // null when all embeddings are tied
    private readonly Linear? outputProjection;      // null when the output shares the target embedding
    private readonly ModuleList<EncoderLayer> encoderLayers;
    private readonly ModuleList<DecoderLayer> decoderLayers;
    private readonly LayerNorm? encoderNorm, decoderNorm; // pre-norm stacks end with a LayerNorm
    private readonly double embeddingScale;
    private Tensor? outputWeightForDecoding;        // set by ForInference when the output layer is tied
    private PackedBFloat16? packedWeights;          // set by ForInference for bf16 on a CPU with AVX512_BF16
    private bool preparedForInference;
    private Precision precision = Precision.Float32;

    /// <summary>The type matrix multiplies run in during training; parameters stay float32.</summary>
    public Precision Precision
    {
        get => precision;
        set => precision = preparedForInference ? throw new InvalidOperationException("a model prepared for inference keeps its backend") : value;
    }

    public Transformer(ModelConfig config, int sourceVocabSize, int targetVocabSize) : base("transformer")
    {
        config.Validate();
        if (config.TieEmbeddings == "all" && sourceVocabSize != targetVocabSize)
            throw new UserError("`tie-embeddings` all needs a joint vocabulary (source and target sizes differ); use decoder or none");
        Config = config;
        SourceVocabSize = sourceVocabSize;
        TargetVocabSize = targetVocabSize;
        int d = config.DModel;
        embeddingScale = Math.Sqrt(d);

        if (config.IsSpeech)
        {
            subsampler = new ConvSubsampler(config.Bins, d, config.SubsamplerChannels);
            ctcProjection = nn.Linear(d, targetVocabSize);
        }
        else sourceEmbedding = NewEmbedding(sourceVocabSize, d);
        targetEmbedding = config.TieEmbeddings == "all" ? null : NewEmbedding(targetVocabSize, d);
        outputProjection = config.TieEmbeddings == "none" ? nn.Linear(d, targetVocabSize, hasBias: false) : null;
        if (outputProjection is not null) nn.init.normal_(outputProjection.weight, 0, Math.Pow(d, -0.5));
        encoderLayers = nn.ModuleList(Enumerable.Range(0, config.EncoderLayers).Select(i => new EncoderLayer($"encoder{i}", config)).ToArray());
        decoderLayers = nn.ModuleList(Enumerable.Range(0, config.DecoderLayers).Select(i => new DecoderLayer($"decoder{i}", config)).ToArray());
        if (config.PreNorm)
        {
            encoderNorm = nn.LayerNorm(d);
            decoderNorm = nn.LayerNorm(d);
        }
        // Registered before RegisterComponents so that it moves with the model but is not saved.
        register_buffer("positions", SinusoidalPositions(config.MaxPositions, d), persistent: false);
        RegisterComponents();
    }

    /// <summary>
    /// Whether a checkpoint whose header describes this model could hold `storedElements` parameter values, so that a
    /// damaged or crafted header is refused before the model is allocated: a lower bound on the parameters
    /// (embeddings, attention, feed-forward), and a position table no larger than the file's parameters or 2^26 values.
    /// </summary>
    public static bool FitsStoredParameters(ModelConfig config, int sourceVocabSize, int targetVocabSize, long storedElements)
    {
        double d = config.DModel, ffn = config.FfnSize;
        double kernel = ConvSubsampler.KernelSize, channels = config.SubsamplerChannels;
        double minimum = (config.IsSpeech ? targetVocabSize * d + kernel * (config.Bins * channels + channels / 2 * 2 * d) : Math.Max(sourceVocabSize, targetVocabSize) * d)
            + config.EncoderLayers * (4 * d * d + 2 * d * ffn)
            + config.DecoderLayers * (8 * d * d + 2 * d * ffn);
        return minimum <= storedElements && (double)config.MaxPositions * config.DModel <= Math.Max(storedElements, 1L << 26);
    }

    internal static Embedding NewEmbedding(int vocabSize, int d)
    {
        var embedding = nn.Embedding(vocabSize, d, padding_idx: Vocabulary.PadId);
        using (no_grad())
        {
            nn.init.normal_(embedding.weight!, 0, Math.Pow(d, -0.5));
            embedding.weight![Vocabulary.PadId].zero_();
        }
        return embedding;
    }

    /// <summary>PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(same).</summary>
    internal static Tensor SinusoidalPositions(int maxPositions, int d)
    {
        var position = arange(maxPositions, dtype: float32).unsqueeze(1);
        var frequency = exp(arange(0, d, 2, dtype: float32) * (-Math.Log(10000.0) / d));
        var table = zeros(maxPositions, d);
        table[.., TensorIndex.Slice(0, null, 2)] = sin(position * frequency);
        table[.., TensorIndex.Slice(1, null, 2)] = cos(position * frequency);
        return table;
    }

    /// <summary>The table target tokens are looked up in (the shared one when all embeddings are tied).</summary>
    private Embedding TargetEmbedding => targetEmbedding ?? sourceEmbedding!;

    private Tensor Embed(Embedding embedding, Tensor tokens, int firstPosition) =>
        AddPositions(embedding.forward(tokens) * embeddingScale, firstPosition, "tokens");

    private Tensor AddPositions(Tensor embedded, int firstPosition, string unit)
    {
        long length = embedded.shape[1];
        if (firstPosition + length > Config.MaxPositions)
            throw new UserError($"sequence of {firstPosition + length} {unit} exceeds `max-positions` {Config.MaxPositions}");
        // The table stays float32 (Module.to leaves non-persistent buffers alone); a bf16 model reads it cast.
        var x = embedded + get_buffer("positions")!.narrow(0, firstPosition, length).to(embedded.dtype);
        return Dropout.Apply(x, Config.Dropout, training);
    }

    /// <summary>The encoder's input: embedded tokens, or for speech the front end's output, scaled as fairseq S2T does; and the keep mask (B,1,1,S).</summary>
    private (Tensor X, Tensor Keep) EncoderInput(Tensor source)
    {
        if (subsampler is null)
            return (Embed(sourceEmbedding!, source, 0), source.ne(Vocabulary.PadId).unsqueeze(1).unsqueeze(1));
        var (features, frames) = SpeechBatch.Split(source);
        var (x, lengths) = subsampler.forward(features, frames);
        var keep = arange(x.shape[1], device: x.device).unsqueeze(0) < tensor(lengths, device: x.device).unsqueeze(1);
        return (AddPositions(x * embeddingScale, 0, "encoder positions (40 ms of audio each)"), keep.unsqueeze(1).unsqueeze(1));
    }

    /// <summary>
    /// Source tokens (B,S) → encoder output (B,S,d) and the mask of real source positions (B,1,1,S). This method and
    /// the ones below run their matrix multiplies through `path`, by default the training precision.
    /// </summary>
    public EncodedSource Encode(Tensor source, IMatmulPath? path = null)
    {
        path ??= Precision;
        var (x, keep) = EncoderInput(source);
        foreach (var layer in encoderLayers) x = layer.forward(path, x, keep);
        return new EncodedSource(encoderNorm?.forward(x) ?? x, keep);
    }

    public EncodedSource Encode(Tensor source) => Encode(source, null);

    /// <summary>Teacher-forced decoding of a whole target prefix (B,T) → logits (B,T,V).</summary>
    public Tensor Decode(Tensor targetInput, Tensor memory, Tensor sourceKeep, IMatmulPath? path = null)
    {
        path ??= Precision;
        return Project(path, DecoderStates(path, targetInput, memory, sourceKeep));
    }

    /// <summary>The whole prefix (B,T) recomputed, but only the last position's logits (B,V): decoding without a cache.</summary>
    public Tensor DecodeLast(Tensor targetInput, Tensor memory, Tensor sourceKeep, IMatmulPath? path = null)
    {
        path ??= Precision;
        return Project(path, DecoderStates(path, targetInput, memory, sourceKeep).select(1, -1));
    }

    private Tensor DecoderStates(IMatmulPath path, Tensor targetInput, Tensor memory, Tensor sourceKeep)
    {
        var x = Embed(TargetEmbedding, targetInput, 0);
        foreach (var layer in decoderLayers) x = layer.forward(path, x, memory, sourceKeep);
        return decoderNorm?.forward(x) ?? x;
    }

    /// <summary>
    /// Teacher-forced pass over (B,T) that returns the last decoder layer's cross-attention weights, averaged over
    /// heads, (B,T,S): where each target position looked in the source. Computed explicitly (SDPA does not return
    /// weights), so only callers that want alignments pay for it.
    /// </summary>
    public Tensor LastCrossAttention(Tensor targetInput, Tensor memory, Tensor sourceKeep, IMatmulPath? path = null) =>
        LastCrossAttentionPerHead(targetInput, memory, sourceKeep, path).mean([1]);

    /// <summary>The same pass, one map per head of the last decoder layer: (B,H,T,S), for heat maps.</summary>
    public Tensor LastCrossAttentionPerHead(Tensor targetInput, Tensor memory, Tensor sourceKeep, IMatmulPath? path = null)
    {
        path ??= Precision;
        var x = Embed(TargetEmbedding, targetInput, 0);
        for (int i = 0; i < decoderLayers.Count - 1; i++) x = decoderLayers[i].forward(path, x, memory, sourceKeep);
        return decoderLayers[decoderLayers.Count - 1].CrossAttentionWeights(path, x, memory, sourceKeep);
    }

    public Tensor? CrossAttention(EncodedSource encoded, Tensor targetInput) =>
        LastCrossAttentionPerHead(targetInput, encoded.Memory, encoded.SourceKeep);

    /// <summary>
    /// Teacher-forced logits and the CTC loss of the encoder's states against `targets` (B,S; row b's first
    /// targetLengths[b] ids, no specials), summed over the batch. The blank is <see cref="Vocabulary.PadId"/>, which no
    /// target holds; an utterance too short for its target adds 0 rather than infinity.
    /// </summary>
    public (Tensor Logits, Tensor CtcLoss) ForwardWithCtc(Tensor source, Tensor targetInput, Tensor targets, Tensor targetLengths)
    {
        if (ctcProjection is null) throw new InvalidOperationException("only a speech-transformer has a CTC head");
        var encoded = Encode(source);
        var (memory, keep) = encoded;
        var logProbs = CtcLogProbs(encoded)!.transpose(0, 1); // (S', B, V), as ctc_loss reads
        var inputLengths = keep.flatten(1).sum(1).to(int64);
        var ctc = F.ctc_loss(logProbs, targets, inputLengths, targetLengths, blank: Vocabulary.PadId, reduction: nn.Reduction.Sum, zero_infinity: true);
        return (Decode(targetInput, memory, keep), ctc);
    }

    /// <summary>The CTC head's log-probabilities (B,S',V) over the encoder's states; null for a text model.</summary>
    public Tensor? CtcLogProbs(EncodedSource encoded)
    {
        if (ctcProjection is null) return null;
        var weight = ctcProjection.weight!;
        return F.log_softmax(ctcProjection.forward(encoded.Memory.to(weight.dtype)).to(float32), -1);
    }

    public Tensor forward(Tensor source, Tensor targetInput)
    {
        var (memory, keep) = Encode(source);
        return Decode(targetInput, memory, keep);
    }

    public IDecodingState StartDecoding(EncodedSource encoded, bool cached) => StartDecoding(encoded, cached, Precision);

    /// <summary>Incremental decoding whose steps run their matrix multiplies through `path`.</summary>
    internal IDecodingState StartDecoding(EncodedSource encoded, bool cached, IMatmulPath path) =>
        cached
            ? new CachedTransformerDecoding(this, StartDecoding(encoded.Memory, encoded.SourceKeep, path), path)
            : new RecomputingTransformerDecoding(this, encoded.Memory, encoded.SourceKeep, path);

    /// <summary>Prepares incremental decoding: encoder keys/values are projected once here.</summary>
    public DecoderCache StartDecoding(Tensor memory, Tensor sourceKeep, IMatmulPath? path = null)
    {
        path ??= Precision;
        // Contiguous, because a step's matmuls over a strided view copy it first.
        var projected = decoderLayers.Select(layer => layer.ProjectMemory(path, memory)).ToArray();
        return new DecoderCache(projected.Select(p => p.Keys.contiguous()).ToArray(), projected.Select(p => p.Values.contiguous()).ToArray(), sourceKeep);
    }

    /// <summary>Feeds one token per row (B) at position cache.Length and returns the next-token logits (B,V).</summary>
    public Tensor DecodeStep(Tensor lastTokens, DecoderCache cache, IMatmulPath? path = null)
    {
        path ??= Precision;
        var x = Embed(TargetEmbedding, lastTokens.unsqueeze(1), cache.Length);
        for (int i = 0; i < decoderLayers.Count; i++)
            x = decoderLayers[i].Step(path, x, cache.Layers[i], cache.MemoryKeys[i], cache.MemoryValues[i], cache.SourcePadding);
        cache.Length++;
        return Project(path, decoderNorm?.forward(x) ?? x).squeeze(1);
    }

    /// <summary>Logits in float32 whatever the precision: log-softmax and the loss need its accuracy.</summary>
    private Tensor Project(IMatmulPath path, Tensor x) =>
        Precision.Cast(path.Linear(x, outputProjection?.weight ?? outputWeightForDecoding ?? TargetEmbedding.weight!), float32);

    /// <summary>
    /// For decoding only, on `backend`: with bf16, casts the matrices to bfloat16 once, so steps copy no weights (LayerNorm, biases,
    /// embeddings and the residual stream stay float32, as in training; the attention cache is bfloat16), and on a CPU
    /// with the kernel also packs them for bf16-packed (<see cref="PackedBFloat16"/>); with fp32, lays the weights out
    /// for small matrix multiplies. Checkpoints stay float32: this model refuses training and saving afterwards.
    /// </summary>
    public InferenceModel ForInference(InferenceBackend backend)
    {
        if (preparedForInference) throw new InvalidOperationException("this model was already prepared for inference");
        long parameterCount = parameters().Sum(p => p.numel());
        eval();
        (outputWeightForDecoding, packedWeights) = InferenceWeights.Prepare(this,
            outputProjection is null ? TargetEmbedding.weight! : null, backend, TargetEmbedding.weight!.device_type);
        preparedForInference = true;
        var path = InferenceWeights.PathFor(backend);
        // The packed kernel runs on one thread and cannot share libtorch's: only one-thread workers get it (InferenceModel.ForWorker).
        var packed = packedWeights is null ? null : new TransformerInference(this, new PackedPath(packedWeights, path));
        return new InferenceModel(this, new TransformerInference(this, path), packed, parameterCount);
    }

    /// <summary>train() is refused on a model prepared for inference; eval() is not.</summary>
    public override void train(bool train = true)
    {
        if (train && preparedForInference) throw new InvalidOperationException("this model was prepared for inference (ForInference): it cannot be trained");
        base.train(train);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            outputWeightForDecoding?.Dispose();
            packedWeights?.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>Residual + LayerNorm around a sublayer, in pre-norm or post-norm order.</summary>
internal static class Residual
{
    public static Tensor Apply(Tensor x, LayerNorm norm, bool preNorm, double dropout, bool training, Func<Tensor, Tensor> sublayer) =>
        preNorm
            ? x + Dropout.Apply(sublayer(norm.forward(x)), dropout, training)
            : norm.forward(x + Dropout.Apply(sublayer(x), dropout, training));
}

public sealed class FeedForward : nn.Module
{
    private readonly Linear inner, outer;
    private readonly ModelConfig config;

    public FeedForward(string name, ModelConfig config) : base(name)
    {
        this.config = config;
        inner = nn.Linear(config.DModel, config.FfnSize);
        outer = nn.Linear(config.FfnSize, config.DModel);
        RegisterComponents();
        foreach (var linear in new[] { inner, outer })
        {
            nn.init.xavier_uniform_(linear.weight);
            nn.init.zeros_(linear.bias!);
        }
    }

    public Tensor forward(IMatmulPath path, Tensor x)
    {
        var h = config.Activation == "gelu"
            ? F.gelu(path.Linear(x, inner.weight, inner.bias))
            : path.Linear(x, inner.weight, inner.bias, relu: true, feedsMatmul: true);
        return path.Linear(Dropout.Apply(h, config.ActivationDropout, training), outer.weight, outer.bias);
    }
}

public sealed class EncoderLayer : nn.Module
{
    private readonly MultiHeadAttention selfAttention;
    private readonly FeedForward feedForward;
    private readonly LayerNorm selfAttentionNorm, feedForwardNorm;
    private readonly ModelConfig config;

    public EncoderLayer(string name, ModelConfig config) : base(name)
    {
        this.config = config;
        selfAttention = new MultiHeadAttention("self_attention", config.DModel, config.Heads, config.AttentionDropout);
        feedForward = new FeedForward("feed_forward", config);
        selfAttentionNorm = nn.LayerNorm(config.DModel);
        feedForwardNorm = nn.LayerNorm(config.DModel);
        RegisterComponents();
    }

    public Tensor forward(IMatmulPath path, Tensor x, Tensor sourceKeep)
    {
        x = Residual.Apply(x, selfAttentionNorm, config.PreNorm, config.Dropout, training, h => selfAttention.SelfAttend(path, h, sourceKeep, causal: false));
        return Residual.Apply(x, feedForwardNorm, config.PreNorm, config.Dropout, training, h => feedForward.forward(path, h));
    }
}

public sealed class DecoderLayer : nn.Module
{
    private readonly MultiHeadAttention selfAttention, crossAttention;
    private readonly FeedForward feedForward;
    private readonly LayerNorm selfAttentionNorm, crossAttentionNorm, feedForwardNorm;
    private readonly ModelConfig config;

    public DecoderLayer(string name, ModelConfig config) : base(name)
    {
        this.config = config;
        selfAttention = new MultiHeadAttention("self_attention", config.DModel, config.Heads, config.AttentionDropout);
        crossAttention = new MultiHeadAttention("cross_attention", config.DModel, config.Heads, config.AttentionDropout);
        feedForward = new FeedForward("feed_forward", config);
        selfAttentionNorm = nn.LayerNorm(config.DModel);
        crossAttentionNorm = nn.LayerNorm(config.DModel);
        feedForwardNorm = nn.LayerNorm(config.DModel);
        RegisterComponents();
    }

    public (Tensor Keys, Tensor Values) ProjectMemory(IMatmulPath path, Tensor memory) => crossAttention.ProjectMemory(path, memory);

    /// <summary>Whole-prefix pass: the causal mask keeps each position from seeing later ones.</summary>
    public Tensor forward(IMatmulPath path, Tensor x, Tensor memory, Tensor sourceKeep)
    {
        var (keys, values) = crossAttention.ProjectMemory(path, memory);
        x = Residual.Apply(x, selfAttentionNorm, config.PreNorm, config.Dropout, training, h => selfAttention.SelfAttend(path, h, null, causal: true));
        return CrossAndFeedForward(path, x, h => crossAttention.CrossAttend(path, h, keys, values, sourceKeep));
    }

    /// <summary>One new position: its self-attention sees the cached prefix, which is causal by construction.</summary>
    public Tensor Step(IMatmulPath path, Tensor x, LayerCache cache, Tensor memoryKeys, Tensor memoryValues, Tensor sourcePadding)
    {
        x = Residual.Apply(x, selfAttentionNorm, config.PreNorm, config.Dropout, training, h => selfAttention.SelfAttendStep(path, h, cache));
        return CrossAndFeedForward(path, x, h => crossAttention.CrossAttendStep(path, h, memoryKeys, memoryValues, sourcePadding));
    }

    /// <summary>The cross-attention weights (B,H,T,S), one map per head, that forward would use.</summary>
    public Tensor CrossAttentionWeights(IMatmulPath path, Tensor x, Tensor memory, Tensor sourceKeep)
    {
        x = Residual.Apply(x, selfAttentionNorm, config.PreNorm, config.Dropout, training, h => selfAttention.SelfAttend(path, h, null, causal: true));
        var (keys, _) = crossAttention.ProjectMemory(path, memory);
        return crossAttention.AttentionWeightsPerHead(path, config.PreNorm ? crossAttentionNorm.forward(x) : x, keys, sourceKeep);
    }

    private Tensor CrossAndFeedForward(IMatmulPath path, Tensor x, Func<Tensor, Tensor> crossAttend)
    {
        x = Residual.Apply(x, crossAttentionNorm, config.PreNorm, config.Dropout, training, crossAttend);
        return Residual.Apply(x, feedForwardNorm, config.PreNorm, config.Dropout, training, h => feedForward.forward(path, h));
    }
}
