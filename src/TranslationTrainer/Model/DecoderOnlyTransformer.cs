using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using TranslationTrainer.Text;

namespace TranslationTrainer.Model;

/// <summary>
/// One causal Transformer stack over the source followed by the target, as a prefix language model (Raffel et al.'s
/// prefix LM; Wang et al. 2021, "Language models are good translators"): the source part attends both ways, the target
/// part to the whole source and causally to itself, and the loss is on the target only. There is no separator token:
/// the batch's source ends with &lt;/s&gt; and the target input starts with &lt;s&gt;, which act as the separator, so a row
/// reads `x₁ … xₙ &lt;/s&gt; &lt;s&gt; y₁ … yₘ` and predicts `y₁ … yₘ &lt;/s&gt;` from the positions from &lt;s&gt; on.
/// One embedding matrix serves the source, the target and the output layer, so source and target share one
/// vocabulary. Layers: `decoder-layers` (`encoder-layers` is not used).
/// <para>
/// The source is right-padded (B,S): every token sits at its row's real position (the target starts right after that
/// row's source, not after the padding), and padded keys are never attended, so padding changes nothing. Encode runs the
/// stack over the source once (the prefill) and keeps each layer's keys and values; a decoding step feeds one target
/// token, which attends to those and to the target positions cached so far (<see cref="MultiHeadAttention.PrefixAttendStep"/>).
/// The building blocks are the Transformer's (MultiHeadAttention, FeedForward, Residual, Dropout, the IMatmulPath backends,
/// DecoderCache), so bf16 training and decoding, the packed one-thread path and checkpoints work as for the Transformer.
/// </para>
/// </summary>
public sealed class DecoderOnlyTransformer : nn.Module, ITranslationModel
{
    /// <summary>The architecture's name in checkpoint headers.</summary>
    public const string ArchitectureName = "decoder-only";

    public ModelConfig Config { get; }
    public int SourceVocabSize { get; }
    public int TargetVocabSize { get; }
    public string Architecture => ArchitectureName;
    /// <summary>The longest source or target, as for the Transformer; the position table covers twice that, their concatenation.</summary>
    public int MaxPositions => Config.MaxPositions;
    public string Backend => Precision.Backend;

    /// <summary>This model as a module, for the optimiser and checkpoints; refused once it was prepared for inference.</summary>
    public nn.Module Module => preparedForInference
        ? throw new InvalidOperationException("this model was prepared for inference (ForInference): it cannot be trained or saved")
        : this;

    private readonly Embedding embedding;           // source, target and output
    private readonly ModuleList<DecoderOnlyLayer> layers;
    private readonly LayerNorm? finalNorm;          // a pre-norm stack ends with a LayerNorm
    private readonly double embeddingScale;
    private Tensor? outputWeightForDecoding;        // set by ForInference: the embedding laid out for the output layer
    private PackedBFloat16? packedWeights;          // set by ForInference for bf16 on a CPU with AVX512_BF16
    private bool preparedForInference;
    private Precision precision = Precision.Float32;

    /// <summary>The type matrix multiplies run in during training; parameters stay float32.</summary>
    public Precision Precision
    {
        get => precision;
        set => precision = preparedForInference ? throw new InvalidOperationException("a model prepared for inference keeps its backend") : value;
    }

    public DecoderOnlyTransformer(ModelConfig config, int sourceVocabSize, int targetVocabSize) : base("decoder_only")
    {
        config.Validate(); // which also refuses `tie-embeddings` other than all
        if (sourceVocabSize != targetVocabSize)
            throw new UserError($"`arch` decoder-only shares one embedding matrix (`tie-embeddings` all) between source and target and needs a joint `vocab`; "
                + $"the source vocabulary has {sourceVocabSize} pieces and the target {targetVocabSize}");
        Config = config;
        SourceVocabSize = sourceVocabSize;
        TargetVocabSize = targetVocabSize;
        int d = config.DModel;
        embeddingScale = Math.Sqrt(d);
        embedding = Transformer.NewEmbedding(sourceVocabSize, d);
        layers = nn.ModuleList(Enumerable.Range(0, config.DecoderLayers).Select(i => new DecoderOnlyLayer($"layer{i}", config)).ToArray());
        if (config.PreNorm) finalNorm = nn.LayerNorm(d);
        // A source and a target of up to max-positions each; not saved (see Transformer).
        register_buffer("positions", Transformer.SinusoidalPositions(2 * config.MaxPositions, d), persistent: false);
        RegisterComponents();
    }

    /// <summary>
    /// Whether a checkpoint whose header describes this model could hold `storedElements` parameter values (see
    /// <see cref="Transformer.FitsStoredParameters"/>): a lower bound on the parameters (the embedding, attention and
    /// feed-forward of `decoder-layers` layers), and a position table no larger than the file's parameters or 2^26 values.
    /// </summary>
    public static bool FitsStoredParameters(ModelConfig config, int sourceVocabSize, int targetVocabSize, long storedElements)
    {
        double d = config.DModel, ffn = config.FfnSize;
        double minimum = Math.Max(sourceVocabSize, targetVocabSize) * d + config.DecoderLayers * (4 * d * d + 2 * d * ffn);
        return minimum <= storedElements && 2.0 * config.MaxPositions * config.DModel <= Math.Max(storedElements, 1L << 26);
    }

    /// <summary>Token embeddings (B,L), scaled, plus the sinusoids of their positions (B,L), with dropout.</summary>
    private Tensor Embed(Tensor tokens, Tensor positions)
    {
        var embedded = embedding.forward(tokens) * embeddingScale;
        var table = get_buffer("positions")!;
        var x = embedded + Precision.Cast(table.index_select(0, positions.reshape(-1)).view(positions.shape[0], positions.shape[1], table.shape[1]), embedded.dtype);
        return Dropout.Apply(x, Config.Dropout, training);
    }

    private void CheckLength(long length)
    {
        if (length > Config.MaxPositions)
            throw new UserError($"sequence of {length} tokens exceeds `max-positions` {Config.MaxPositions}");
    }

    /// <summary>
    /// The whole sequence, source (B,S) then target input (B,T): its tokens' positions (B,S+T), each row's target
    /// starting right after that row's real source, and the prefix-LM mask (B,1,S+T,S+T), true where a query (row) may
    /// see a key (column): every position sees the real source positions; a target position also sees the target
    /// positions up to itself. A padded source position is seen by none.
    /// </summary>
    private (Tensor Tokens, Tensor Positions, Tensor Mask) Sequence(Tensor source, Tensor targetInput)
    {
        long batch = source.shape[0], sourceLength = source.shape[1], targetLength = targetInput.shape[1], length = sourceLength + targetLength;
        CheckLength(sourceLength);
        CheckLength(targetLength);
        var device = source.device;
        var sourceKeep = source.ne(Vocabulary.PadId);
        var realLengths = sourceKeep.sum(1, keepdim: true, type: int64); // (B,1)
        var positions = cat([
            arange(sourceLength, dtype: int64, device: device).unsqueeze(0).expand(batch, sourceLength),
            realLengths + arange(targetLength, dtype: int64, device: device).unsqueeze(0),
        ], 1);
        // Target key j is seen from query i when j ≤ i − S: by no source query, by target query t up to t.
        var causal = ones(length, targetLength, dtype: ScalarType.Bool, device: device).tril(-sourceLength);
        var mask = cat([sourceKeep.unsqueeze(1).expand(batch, length, sourceLength), causal.unsqueeze(0).expand(batch, length, targetLength)], 2);
        return (cat([source, targetInput], 1), positions, mask.unsqueeze(1));
    }

    /// <summary>The states (B,T,d) after the stack at the target positions: what the output layer reads.</summary>
    private Tensor TargetStates(IMatmulPath path, Tensor source, Tensor targetInput)
    {
        var (tokens, positions, mask) = Sequence(source, targetInput);
        var x = Embed(tokens, positions);
        foreach (var layer in layers) x = layer.forward(path, x, mask);
        x = x.narrow(1, source.shape[1], targetInput.shape[1]);
        return finalNorm?.forward(x) ?? x;
    }

    /// <summary>Teacher-forced logits (B,T,V) of the target positions only, so the loss is on the target only.</summary>
    public Tensor forward(Tensor source, Tensor targetInput) => Decode(source, targetInput, Precision);

    /// <summary>forward through `path`.</summary>
    public Tensor Decode(Tensor source, Tensor targetInput, IMatmulPath path) => Project(path, TargetStates(path, source, targetInput));

    /// <summary>The whole sequence recomputed, but only the last position's logits (B,V): decoding without a cache.</summary>
    internal Tensor DecodeLast(Tensor source, Tensor targetInput, IMatmulPath path) =>
        Project(path, TargetStates(path, source, targetInput).select(1, -1));

    /// <summary>
    /// The prefill: one pass of the stack over the source (B,S) alone, which is exactly the source part of the full
    /// pass (source positions never see the target), keeping every layer's keys and values for the steps.
    /// </summary>
    public EncodedSource Encode(Tensor source) => Encode(source, Precision);

    internal EncodedSource Encode(Tensor source, IMatmulPath path)
    {
        long batch = source.shape[0], sourceLength = source.shape[1];
        CheckLength(sourceLength);
        var keep = source.ne(Vocabulary.PadId);
        var lengths = keep.sum(1, type: int64).cpu().data<long>().ToArray();
        var sourceKeep = keep.unsqueeze(1).unsqueeze(1); // (B,1,1,S)
        var x = Embed(source, arange(sourceLength, dtype: int64, device: source.device).unsqueeze(0).expand(batch, sourceLength));
        var keys = new Tensor[layers.Count];
        var values = new Tensor[layers.Count];
        for (int i = 0; i < layers.Count; i++) (x, keys[i], values[i]) = layers[i].Prefill(path, x, sourceKeep);
        return new DecoderOnlySource(x, sourceKeep, source, lengths, keys, values);
    }

    public IDecodingState StartDecoding(EncodedSource encoded, bool cached) => StartDecoding(encoded, cached, Precision);

    /// <summary>Incremental decoding whose steps run their matrix multiplies through `path`.</summary>
    internal IDecodingState StartDecoding(EncodedSource encoded, bool cached, IMatmulPath path)
    {
        var prefilled = Prefilled(encoded);
        return cached
            ? new CachedDecoderOnlyDecoding(this, StartCache(prefilled), prefilled.Lengths, path)
            : new RecomputingDecoderOnlyDecoding(this, prefilled.Source, path);
    }

    /// <summary>
    /// A <see cref="DecoderCache"/> whose encoder side holds the prefill's keys and values per layer, copied contiguous
    /// (a step's matmuls copy a strided view first, and the cache moves rows in place: the encoded source stays as it was).
    /// </summary>
    internal static DecoderCache StartCache(DecoderOnlySource prefilled)
    {
        static Tensor Copy(Tensor t) => empty(t.shape, dtype: t.dtype, device: t.device).copy_(t);
        return new DecoderCache([.. prefilled.Keys.Select(Copy)], [.. prefilled.Values.Select(Copy)], prefilled.SourceKeep);
    }

    /// <summary>
    /// Feeds one target token per row (R) at target position cache.Length and returns the next-token logits (R,V).
    /// Row r continues source r / (R / sources), whose real length `sourceLengths` gives its position.
    /// </summary>
    internal Tensor DecodeStep(Tensor lastTokens, DecoderCache cache, long[] sourceLengths, IMatmulPath path)
    {
        CheckLength(cache.Length + 1);
        long rows = lastTokens.shape[0], beams = rows / sourceLengths.Length;
        var positions = new long[rows];
        for (int r = 0; r < rows; r++) positions[r] = sourceLengths[r / beams] + cache.Length;
        var x = Embed(lastTokens.unsqueeze(1), tensor(positions, [rows, 1], device: lastTokens.device));
        for (int i = 0; i < layers.Count; i++)
            x = layers[i].Step(path, x, cache.Layers[i], cache.MemoryKeys[i], cache.MemoryValues[i], cache.SourcePadding);
        cache.Length++;
        return Project(path, finalNorm?.forward(x) ?? x).squeeze(1);
    }

    /// <summary>
    /// Alignments and heat maps read the last layer's self-attention from the target positions of a teacher-forced
    /// pass to the source positions, one map per head (B,H,T,S), renormalised over the source: a softmax over the
    /// source keys alone, which is the full attention restricted to the source and divided by its sum there (the
    /// share a target position gives the target prefix is left out). The model has no cross-attention; this is its
    /// nearest equivalent, and what a prefix LM's alignments are usually read from.
    /// </summary>
    public Tensor? CrossAttention(EncodedSource encoded, Tensor targetInput) => CrossAttention(encoded, targetInput, Precision);

    internal Tensor CrossAttention(EncodedSource encoded, Tensor targetInput, IMatmulPath path)
    {
        var prefilled = Prefilled(encoded);
        var (tokens, positions, mask) = Sequence(prefilled.Source, targetInput);
        var x = Embed(tokens, positions);
        for (int i = 0; i < layers.Count - 1; i++) x = layers[i].forward(path, x, mask);
        return layers[layers.Count - 1].SourceAttentionWeights(path, x, prefilled.Source.shape[1], prefilled.SourceKeep);
    }

    private static DecoderOnlySource Prefilled(EncodedSource encoded) =>
        encoded as DecoderOnlySource ?? throw new ArgumentException("not a source a decoder-only model encoded", nameof(encoded));

    /// <summary>Logits in float32 whatever the precision: log-softmax and the loss need its accuracy.</summary>
    private Tensor Project(IMatmulPath path, Tensor x) =>
        Precision.Cast(path.Linear(x, outputWeightForDecoding ?? embedding.weight!), float32);

    /// <summary>
    /// For decoding only, on `backend`, as <see cref="Transformer.ForInference"/>: bf16 casts the matrices to bfloat16 once
    /// (and packs them for bf16-packed on a CPU with the kernel), fp32 lays them out column-major; the output layer gets
    /// its own copy of the embedding. Only the linears run through the packed kernel: the attention step, over the
    /// prefill's keys and the target's, stays in libtorch (<see cref="MultiHeadAttention.PrefixAttendStep"/>).
    /// </summary>
    public InferenceModel ForInference(InferenceBackend backend)
    {
        if (preparedForInference) throw new InvalidOperationException("this model was already prepared for inference");
        long parameterCount = parameters().Sum(p => p.numel());
        eval();
        (outputWeightForDecoding, packedWeights) = InferenceWeights.Prepare(this, embedding.weight!, backend, embedding.weight!.device_type);
        preparedForInference = true;
        var path = InferenceWeights.PathFor(backend);
        var packed = packedWeights is null ? null : new DecoderOnlyInference(this, new PackedPath(packedWeights, path));
        return new InferenceModel(this, new DecoderOnlyInference(this, path), packed, parameterCount);
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

/// <summary>
/// What the decoder-only's prefill made of a source batch: the source states after the stack (Memory, which nothing
/// reads), the mask of real source positions (B,1,1,S), the source tokens (B,S) and real lengths (with &lt;/s&gt;), and every
/// layer's keys and values over the source (B,H,S,dh).
/// </summary>
public sealed record DecoderOnlySource(Tensor Memory, Tensor SourceKeep, Tensor Source, long[] Lengths, Tensor[] Keys, Tensor[] Values)
    : EncodedSource(Memory, SourceKeep);

/// <summary>One layer of the decoder-only stack: self-attention and feed-forward, each with its residual and LayerNorm.</summary>
public sealed class DecoderOnlyLayer : nn.Module
{
    private readonly MultiHeadAttention selfAttention;
    private readonly FeedForward feedForward;
    private readonly LayerNorm selfAttentionNorm, feedForwardNorm;
    private readonly ModelConfig config;

    public DecoderOnlyLayer(string name, ModelConfig config) : base(name)
    {
        this.config = config;
        selfAttention = new MultiHeadAttention("self_attention", config.DModel, config.Heads, config.AttentionDropout);
        feedForward = new FeedForward("feed_forward", config);
        selfAttentionNorm = nn.LayerNorm(config.DModel);
        feedForwardNorm = nn.LayerNorm(config.DModel);
        RegisterComponents();
    }

    /// <summary>The whole sequence (B,L,d) under `keep`, (B,1,L,L) or (B,1,1,L), true where a key may be seen.</summary>
    public Tensor forward(IMatmulPath path, Tensor x, Tensor keep)
    {
        x = Residual.Apply(x, selfAttentionNorm, config.PreNorm, config.Dropout, training, h => selfAttention.SelfAttend(path, h, keep, causal: false));
        return FeedForwardBlock(path, x);
    }

    /// <summary>The source alone (B,S,d) under its key mask (B,1,1,S); also returns the attention's keys and values (B,H,S,dh).</summary>
    public (Tensor Output, Tensor Keys, Tensor Values) Prefill(IMatmulPath path, Tensor x, Tensor sourceKeep)
    {
        Tensor keys = null!, values = null!;
        x = Residual.Apply(x, selfAttentionNorm, config.PreNorm, config.Dropout, training, h =>
        {
            (var output, keys, values) = selfAttention.SelfAttendKeepingKeys(path, h, sourceKeep);
            return output;
        });
        return (FeedForwardBlock(path, x), keys, values);
    }

    /// <summary>One new target position per row (R,1,d): it sees its source's keys and the target positions cached so far.</summary>
    public Tensor Step(IMatmulPath path, Tensor x, LayerCache cache, Tensor sourceKeys, Tensor sourceValues, Tensor sourcePadding)
    {
        x = Residual.Apply(x, selfAttentionNorm, config.PreNorm, config.Dropout, training,
            h => selfAttention.PrefixAttendStep(path, h, cache, sourceKeys, sourceValues, sourcePadding));
        return FeedForwardBlock(path, x);
    }

    /// <summary>
    /// The attention weights (B,H,T,S) of this layer's target positions x[:, S:] over its source positions x[:, :S],
    /// a softmax over the real source keys alone.
    /// </summary>
    public Tensor SourceAttentionWeights(IMatmulPath path, Tensor x, long sourceLength, Tensor sourceKeep)
    {
        var h = config.PreNorm ? selfAttentionNorm.forward(x) : x;
        var (keys, _) = selfAttention.ProjectMemory(path, h.narrow(1, 0, sourceLength));
        return selfAttention.AttentionWeightsPerHead(path, h.narrow(1, sourceLength, h.shape[1] - sourceLength), keys, sourceKeep);
    }

    private Tensor FeedForwardBlock(IMatmulPath path, Tensor x) =>
        Residual.Apply(x, feedForwardNorm, config.PreNorm, config.Dropout, training, h => feedForward.forward(path, h));
}
