using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using TranslationTrainer.Text;
using F = TorchSharp.torch.nn.functional;

namespace TranslationTrainer.Model;

/// <summary>
/// The recurrent encoder-decoders, batch-first, in the papers' order: embeddings, a bidirectional encoder, a decoder
/// that starts from the encoder's final states, the output layer. Two architectures share the encoder and differ in
/// what the decoder reads of the source:
/// <list type="bullet">
/// <item>rnn-attention (Luong, Pham and Manning 2015, "Effective Approaches to Attention-based Neural Machine
/// Translation", in the shape of OpenNMT-py's brnn encoder and InputFeedRNNDecoder): at every step the top decoder
/// layer's state h_t attends over all encoder states with the "general" score h_tᵀ·W_a·h̄_s — chosen because it is one
/// matrix multiply per step (W_a·h̄_s is computed once per source) and OpenNMT-py's default; the attentional vector
/// h̃_t = tanh(W_c·[c_t ; h_t]) gives the output and is fed with the next input (input feeding).</item>
/// <item>rnn-bottleneck (Cho et al. 2014, "Learning Phrase Representations using RNN Encoder–Decoder"): no attention,
/// the decoder sees the source only as one summary vector c, the top encoder layer's final states [forward ; backward].
/// In Cho's form rather than Sutskever et al.'s (2014), where c only initialises the decoder: c initialises it AND is
/// fed with every input, and the output reads tanh(W_c·[c ; h_t]), so that the summary does not fade over a long output.
/// The decoder starts from the encoder's final states directly (as in Sutskever et al. and OpenNMT-py) rather than
/// Cho's tanh(V·c), which an LSTM's cell state has no counterpart for.</item>
/// </list>
/// Sizes: embeddings `d-model`, recurrent states `rnn-hidden-size` (ModelConfig.HiddenSize; each encoder direction
/// gets half, and the final states of both directions, side by side, start the decoder layer of the same depth,
/// counted from the top when the stacks differ in depth). Dropout (`dropout`) on embeddings, between recurrent layers
/// and on the attentional (readout) vector. With tied embeddings of another size than the states, the output vector
/// is projected to `d-model` before the output layer.
/// Training runs the recurrent layers in float32 through libtorch's fused modules (nn.LSTM with packed sequences for
/// the encoder, an LSTMCell per decoder layer and step); `precision` bf16 runs the other matrix multiplies (attention,
/// W_c, projection, output layer) in bfloat16. Decoding backends: <see cref="ForInference"/>.
/// </summary>
public sealed class RecurrentModel : nn.Module, ITranslationModel
{
    public const string AttentionName = "rnn-attention";
    public const string BottleneckName = "rnn-bottleneck";

    public ModelConfig Config { get; }
    public int SourceVocabSize { get; }
    public int TargetVocabSize { get; }
    public string Architecture => Config.Arch;
    public int MaxPositions => Config.MaxPositions;
    public string Backend => Precision.Backend;
    /// <summary>rnn-attention; false for rnn-bottleneck.</summary>
    public bool Attentional { get; }

    /// <summary>This model as a module, for the optimiser and checkpoints; refused once it was prepared for inference.</summary>
    public nn.Module Module => preparedForInference
        ? throw new InvalidOperationException("this model was prepared for inference (ForInference): it cannot be trained or saved")
        : this;

    private readonly Embedding sourceEmbedding;
    private readonly Embedding? targetEmbedding;        // null when all embeddings are tied
    private readonly RecurrentLayers encoder;           // bidirectional, rnn-hidden-size / 2 per direction
    private readonly Linear? attentionIn;               // W_a of the general score (rnn-attention)
    private readonly ModuleList<RecurrentCell>? decoderCells; // one cell per layer, stepped with input feeding (rnn-attention)
    private readonly RecurrentLayers? decoderLayers;    // a whole target sequence per call (rnn-bottleneck)
    private readonly Linear combine;                    // W_c: [context ; h_t] → the attentional (readout) vector
    private readonly Linear? outputProjection;          // rnn-hidden-size → d-model, for a tied output layer of another size
    private readonly Linear? outputLayer;               // null when the output shares the target embedding
    private readonly int hiddenSize;
    private readonly long[]? decoderStartLayers;        // the encoder layer each decoder layer starts from, when not the same depth
    private FusedCell[]? fusedCells;                    // set by ForInference: the decoder's layers, one multiply per step
    private RecurrentLayers? encoderBFloat16;           // set by ForInference for bf16: the encoder for batches of BFloat16EncoderBatch+
    private Tensor? outputWeightForDecoding;            // set by ForInference when the output layer is tied
    private PackedBFloat16? packedWeights;              // set by ForInference for bf16 on a CPU with AVX512_BF16
    private bool preparedForInference;
    private Precision precision = Precision.Float32;

    /// <summary>The type the matrix multiplies outside the recurrent layers run in during training; parameters stay float32.</summary>
    public Precision Precision
    {
        get => precision;
        set => precision = preparedForInference ? throw new InvalidOperationException("a model prepared for inference keeps its backend") : value;
    }

    public RecurrentModel(ModelConfig config, int sourceVocabSize, int targetVocabSize) : base(config.Arch)
    {
        config.Validate();
        if (!config.IsRecurrent) throw new ArgumentException($"not a recurrent architecture: {config.Arch}", nameof(config));
        if (config.TieEmbeddings == "all" && sourceVocabSize != targetVocabSize)
            throw new UserError("`tie-embeddings` all needs a joint vocabulary (source and target sizes differ); use decoder or none");
        Config = config;
        SourceVocabSize = sourceVocabSize;
        TargetVocabSize = targetVocabSize;
        Attentional = config.Arch == AttentionName;
        int d = config.DModel, h = hiddenSize = config.HiddenSize;

        sourceEmbedding = NewEmbedding(sourceVocabSize, d);
        targetEmbedding = config.TieEmbeddings == "all" ? null : NewEmbedding(targetVocabSize, d);
        encoder = new RecurrentLayers("encoder", config.Cell, d, h / 2, config.EncoderLayers, config.Dropout, bidirectional: true);
        // Every decoder input is [target embedding ; feed]: the previous attentional vector, or the summary c.
        if (Attentional)
        {
            attentionIn = NewLinear(h, h);
            decoderCells = nn.ModuleList(Enumerable.Range(0, config.DecoderLayers).Select(i => new RecurrentCell($"decoder{i}", config.Cell, i == 0 ? d + h : h, h)).ToArray());
        }
        else decoderLayers = new RecurrentLayers("decoder", config.Cell, d + h, h, config.DecoderLayers, config.Dropout, bidirectional: false);
        combine = NewLinear(2 * h, h);
        if (config.TieEmbeddings == "none")
        {
            outputLayer = nn.Linear(h, targetVocabSize, hasBias: false);
            nn.init.normal_(outputLayer.weight, 0, Math.Pow(h, -0.5));
        }
        else if (h != d) outputProjection = NewLinear(h, d);
        // Decoder layer l starts from encoder layer l + E − D (clamped): the top layers pair up when the depths differ.
        int e = config.EncoderLayers, layers = config.DecoderLayers;
        if (e != layers) decoderStartLayers = Enumerable.Range(0, layers).Select(l => (long)Math.Clamp(l + e - layers, 0, e - 1)).ToArray();
        RegisterComponents();
    }

    /// <summary>
    /// Whether a checkpoint whose header describes this model could hold `storedElements` parameter values, so that a
    /// damaged or crafted header is refused before the model is allocated: a lower bound (embeddings, the recurrent
    /// layers' matrices, attention and W_c; no biases).
    /// </summary>
    public static bool FitsStoredParameters(ModelConfig config, int sourceVocabSize, int targetVocabSize, long storedElements)
    {
        double d = config.DModel, h = config.HiddenSize, half = Math.Floor(h / 2);
        double gates = config.Cell switch { "lstm" => 4, "gru" => 3, _ => 1 };
        double minimum = Math.Max(sourceVocabSize, targetVocabSize) * d + 2 * h * h + (config.Arch == AttentionName ? h * h : 0);
        for (int l = 0; l < config.EncoderLayers; l++) minimum += 2 * gates * half * ((l == 0 ? d : h) + half);
        for (int l = 0; l < config.DecoderLayers; l++) minimum += gates * h * ((l == 0 ? d + h : h) + h);
        return minimum <= storedElements;
    }

    private static Embedding NewEmbedding(int vocabSize, int d)
    {
        var embedding = nn.Embedding(vocabSize, d, padding_idx: Vocabulary.PadId);
        using (no_grad())
        {
            nn.init.normal_(embedding.weight!, 0, Math.Pow(d, -0.5));
            embedding.weight![Vocabulary.PadId].zero_();
        }
        return embedding;
    }

    private static Linear NewLinear(int inputs, int outputs)
    {
        var linear = nn.Linear(inputs, outputs, hasBias: false); // as OpenNMT-py's general attention: no biases
        nn.init.xavier_uniform_(linear.weight);
        return linear;
    }

    private void CheckLength(long length)
    {
        if (length > Config.MaxPositions)
            throw new UserError($"sequence of {length} tokens exceeds `max-positions` {Config.MaxPositions}");
    }

    // ---- Encoder ----

    public EncodedSource Encode(Tensor source) => Encode(source, Precision);

    /// <summary>
    /// Source tokens (B,S), right-padded → encoder states (B,S,H), zero at padding, through a packed sequence so that
    /// padding changes nothing; the final states of each layer's two directions; and, for attention, the keys W_a·h̄_s.
    /// </summary>
    public RecurrentSource Encode(Tensor source, IMatmulPath path)
    {
        long length = source.shape[1];
        CheckLength(length);
        var keep = source.ne(Vocabulary.PadId);
        // pack_padded_sequence takes no empty row; a row of padding alone (never decoded) is read as one token.
        var lengths = keep.sum(1).clamp_min(1).cpu();
        var embedded = Dropout.Apply(sourceEmbedding.forward(source), Config.Dropout, training);
        // A model prepared for bf16 encodes batches of several sentences in bfloat16, where that is faster (ForInference).
        bool bfloat16 = encoderBFloat16 is not null && path.MatmulType == ScalarType.BFloat16 && source.shape[0] >= BFloat16EncoderBatch;
        if (bfloat16) embedded = embedded.to(ScalarType.BFloat16);
        var packed = nn.utils.rnn.pack_padded_sequence(embedded, lengths, batch_first: true, enforce_sorted: false);
        var (output, final) = (bfloat16 ? encoderBFloat16! : encoder).forward(packed);
        var memory = Precision.Cast(nn.utils.rnn.pad_packed_sequence(output, batch_first: true, total_length: length).Item1, float32);
        var keys = attentionIn is null ? null : Precision.Cast(path.Linear(memory, attentionIn.weight, feedsMatmul: true), path.MatmulType);
        var (hidden, cell) = (Precision.Cast(final.Hidden, float32), final.Cell is null ? null : Precision.Cast(final.Cell, float32));
        return new RecurrentSource(memory, keep, keys, BothDirections(hidden), cell is null ? null : BothDirections(cell));
    }

    /// <summary>(layers·2, B, H/2), a layer's forward state before its backward one → (layers, B, H), [forward ; backward].</summary>
    private static Tensor BothDirections(Tensor final)
    {
        var byLayer = final.view(final.shape[0] / 2, 2, final.shape[1], final.shape[2]);
        return cat([byLayer.select(1, 0), byLayer.select(1, 1)], -1);
    }

    // ---- Decoder ----

    /// <summary>The decoder's state before the first target token, one row per sentence.</summary>
    internal DecoderState StartState(RecurrentSource source)
    {
        RecurrentState encoderFinal = new(source.Hidden, source.Cell);
        var layers = decoderStartLayers is null ? encoderFinal : encoderFinal.SelectLayers(tensor(decoderStartLayers, device: source.Hidden.device));
        // rnn-attention feeds the previous attentional vector, zeros at the start; rnn-bottleneck the summary, always.
        var feed = Attentional ? zeros([source.Hidden.shape[1], hiddenSize], device: source.Hidden.device) : source.Hidden[^1];
        return new DecoderState(layers, feed);
    }

    /// <summary>What attention reads of a source, in the matmul type: values (N,S,H), keys transposed (N,H,S), padding (N,1,S); null without attention.</summary>
    internal AttentionMemory? MemoryOf(RecurrentSource source, IMatmulPath path) =>
        attentionIn is null
            ? null
            : new AttentionMemory(Precision.Cast(source.Memory, path.MatmulType), Precision.Cast(source.Keys!, path.MatmulType).transpose(1, 2).contiguous(),
                source.SourceKeep.logical_not().unsqueeze(1));

    /// <summary>
    /// Feeds target tokens (R,T) to the decoder from `state`: the vectors the output layer reads (R,T,H) — attentional
    /// (rnn-attention) or readout (rnn-bottleneck) — and the state after the last token. With R = N·beams rows for N
    /// sources, row r reads source r / beams. `weights`, when given, receives each step's attention weights (R,S).
    /// </summary>
    internal (Tensor Outputs, DecoderState State) Decode(IMatmulPath path, Tensor tokens, DecoderState state, AttentionMemory? memory, List<Tensor>? weights = null)
    {
        var embedded = Dropout.Apply((targetEmbedding ?? sourceEmbedding).forward(tokens), Config.Dropout, training);
        if (decoderLayers is not null && fusedCells is null)
        {
            // rnn-bottleneck in training: the input does not depend on earlier outputs, so one libtorch call runs the whole sequence.
            var summary = state.Feed.unsqueeze(1).expand(-1, tokens.shape[1], -1);
            var (top, final) = decoderLayers.forward(cat([embedded, summary], -1), state.Layers);
            return (Dropout.Apply(Readout(path, summary, top), Config.Dropout, training), new DecoderState(final, state.Feed));
        }
        var outputs = new Tensor[tokens.shape[1]];
        for (int t = 0; t < outputs.Length; t++)
        {
            var layers = StepLayers(path, cat([embedded.select(1, t), state.Feed], -1), state.Layers);
            var top = layers.Hidden[^1];
            var output = Dropout.Apply(Readout(path, memory is null ? state.Feed : Attend(path, top, memory, weights), top), Config.Dropout, training);
            state = new DecoderState(layers, memory is null ? state.Feed : output);
            outputs[t] = output;
        }
        return (stack(outputs, 1), state);
    }

    /// <summary>One step of every decoder layer: libtorch's cells in training, the fused ones (one multiply each) after ForInference.</summary>
    private RecurrentState StepLayers(IMatmulPath path, Tensor input, RecurrentState state)
    {
        int layerCount = Config.DecoderLayers;
        var hidden = new Tensor[layerCount];
        var cells = state.Cell is null ? null : new Tensor[layerCount];
        for (int l = 0; l < layerCount; l++)
        {
            var (h, c) = fusedCells is not null
                ? fusedCells[l].Step(path, input, state.Hidden[l], state.Cell?[l])
                : decoderCells![l].forward(input, state.Hidden[l], state.Cell?[l]);
            hidden[l] = h;
            if (cells is not null) cells[l] = c!;
            input = l < layerCount - 1 ? Dropout.Apply(h, Config.Dropout, training) : h;
        }
        return new RecurrentState(stack(hidden), cells is null ? null : stack(cells));
    }

    /// <summary>
    /// Luong's global attention with the general score, for rows (R,H) of N·beams: a_t = softmax_s(h_tᵀ·W_a·h̄_s) over the
    /// real source positions, and the context c_t = Σ_s a_t(s)·h̄_s (R,H). Softmax in float32.
    /// </summary>
    private Tensor Attend(IMatmulPath path, Tensor top, AttentionMemory memory, List<Tensor>? weights)
    {
        long rows = top.shape[0], sources = memory.Values.shape[0];
        var query = Precision.Cast(top, path.MatmulType).view(sources, rows / sources, hiddenSize);
        var scores = query.bmm(memory.KeysTransposed).masked_fill(memory.Padding, double.NegativeInfinity); // (N, beams, S)
        var attention = F.softmax(scores, -1, float32);
        weights?.Add(attention.view(rows, -1));
        return Precision.Cast(attention, path.MatmulType).bmm(memory.Values).view(rows, hiddenSize);
    }

    /// <summary>h̃ = tanh(W_c·[context ; h]), float32: the attentional vector, or with the summary as context, the readout.</summary>
    private Tensor Readout(IMatmulPath path, Tensor context, Tensor top)
    {
        var joined = cat([Precision.Cast(context, path.MatmulType), Precision.Cast(top, path.MatmulType)], -1);
        return Precision.Cast(path.Linear(joined, combine.weight), float32).tanh();
    }

    /// <summary>Logits in float32 whatever the precision: log-softmax and the loss need its accuracy.</summary>
    internal Tensor Logits(IMatmulPath path, Tensor outputs)
    {
        var x = outputProjection is null ? outputs : path.Linear(outputs, outputProjection.weight, feedsMatmul: true);
        return Precision.Cast(path.Linear(x, outputLayer?.weight ?? outputWeightForDecoding ?? (targetEmbedding ?? sourceEmbedding).weight!), float32);
    }

    /// <summary>Teacher-forced logits (B,T,V) of target prefixes, through `path`.</summary>
    public Tensor Decode(Tensor targetInput, RecurrentSource source, IMatmulPath path)
    {
        CheckLength(targetInput.shape[1]);
        return Logits(path, Decode(path, targetInput, StartState(source), MemoryOf(source, path)).Outputs);
    }

    /// <summary>The whole prefix (R,T) recomputed from the source, but only the last position's logits (R,V): decoding without a cache.</summary>
    internal Tensor DecodeLast(IMatmulPath path, Tensor prefix, RecurrentSource source)
    {
        CheckLength(prefix.shape[1]);
        var state = StartState(source).Repeat(prefix.shape[0] / source.Memory.shape[0]);
        return Logits(path, Decode(path, prefix, state, MemoryOf(source, path)).Outputs.select(1, -1));
    }

    public Tensor forward(Tensor source, Tensor targetInput) => Decode(targetInput, Encode(source, Precision), Precision);

    public Tensor? CrossAttention(EncodedSource encoded, Tensor targetInput) => CrossAttention(encoded, targetInput, Precision);

    /// <summary>rnn-attention's attention weights over a teacher-forced pass, (B,1,T,S): one "head"; null for rnn-bottleneck.</summary>
    internal Tensor? CrossAttention(EncodedSource encoded, Tensor targetInput, IMatmulPath path)
    {
        if (!Attentional) return null;
        var source = SourceOf(encoded);
        CheckLength(targetInput.shape[1]);
        var weights = new List<Tensor>();
        Decode(path, targetInput, StartState(source), MemoryOf(source, path), weights);
        return stack(weights, 1).unsqueeze(1);
    }

    internal static RecurrentSource SourceOf(EncodedSource encoded) =>
        encoded as RecurrentSource ?? throw new ArgumentException("not a source a recurrent model encoded", nameof(encoded));

    public IDecodingState StartDecoding(EncodedSource encoded, bool cached) => StartDecoding(encoded, cached, Precision);

    /// <summary>Incremental decoding whose steps run their matrix multiplies through `path`.</summary>
    internal IDecodingState StartDecoding(EncodedSource encoded, bool cached, IMatmulPath path)
    {
        var source = SourceOf(encoded);
        return cached
            ? new CachedRecurrentDecoding(this, path, StartState(source), MemoryOf(source, path))
            : new RecomputingRecurrentDecoding(this, path, source);
    }

    // ---- Decoding backends ----

    /// <summary>
    /// The smallest batch a model prepared for bf16 encodes with its bfloat16 encoder: below it the float32 one is faster.
    /// </summary>
    public const int BFloat16EncoderBatch = 8;

    /// <summary>
    /// For decoding only, on `backend`, as the Transformer's ForInference. Whether bfloat16 helps an LSTM was measured
    /// on this project's CPU (AMD EPYC with AVX512_BF16, one thread, `taskset -c 0` on a core shared with other work, so
    /// the figures are rough: minima of 10–40 interleaved runs), in the comparison's shape (d-model 256, rnn-hidden-size
    /// 416, 2+2 LSTM layers, 8k joint vocabulary), random weights, 30-token sources:
    /// <list type="bullet">
    /// <item>A decoder step (both LSTM layers, attention, W_c, projection, output layer), per step: 1 sentence × beam 5,
    /// fp32 2.57 ms, bf16-mkl 1.54, bf16-packed 0.78 (3.3× faster); 16 × beam 5, fp32 9.5 ms, bf16-mkl 6.8, bf16-packed
    /// 6.0; 64 greedy, fp32 8.5 ms, bf16-mkl 6.1. bf16 helps: the steps' matrix multiplies — each decoder layer's, fused
    /// into one (<see cref="FusedCell"/>), and the linears' — run in bfloat16 (packed for bf16-packed), while the gates
    /// and the recurrent states stay float32, as the Transformer keeps its residual stream.</item>
    /// <item>The encoder (libtorch's nn.LSTM, 2 bidirectional layers, packed) in bfloat16 against float32: 1 sentence
    /// 4.9 ms against 4.0 (slower), 4 sentences 7.2 against 7.4 (even), 16 sentences 16.1 against 22.2 and 64 sentences
    /// 52 against 76 (1.4× faster); its outputs differ from float32's by 0.3% on average, after 30 or 120 steps alike.
    /// So a bf16 model keeps a bfloat16 copy of the encoder for batches of <see cref="BFloat16EncoderBatch"/> sentences
    /// or more (translate's batches of 64) and encodes smaller ones (a served sentence) in float32; a sentence's bf16
    /// translation can then differ slightly with the size of its batch.</item>
    /// </list>
    /// With fp32, the linears and fused layers are laid out column-major for small matrix multiplies. Checkpoints stay
    /// float32: this model refuses training and saving afterwards.
    /// </summary>
    public InferenceModel ForInference(InferenceBackend backend)
    {
        if (preparedForInference) throw new InvalidOperationException("this model was already prepared for inference");
        long parameterCount = parameters().Sum(p => p.numel());
        eval();
        bool bfloat16 = backend.Precision.IsBFloat16;
        using (no_grad())
        {
            Func<Tensor, Tensor> prepare = bfloat16 ? w => w.to(ScalarType.BFloat16) : ColumnMajor;
            var tableForOutput = outputLayer is null ? (targetEmbedding ?? sourceEmbedding).weight! : null;
            foreach (var linear in modules().OfType<Linear>())
                linear.weight = new Parameter(prepare(linear.weight), requires_grad: false);
            // A tied output layer shares the embedding table, whose lookups want it float32 and row-major: the output gets a copy.
            if (tableForOutput is not null) outputWeightForDecoding = prepare(tableForOutput).DetachFromDisposeScope();
            fusedCells = Enumerable.Range(0, Config.DecoderLayers)
                .Select(l => new FusedCell(decoderCells is not null ? decoderCells[l].Weights : decoderLayers!.LayerWeights(l), prepare)).ToArray();
            if (bfloat16)
            {
                // Not registered: it is no parameter of the model, only its encoder's weights in bfloat16.
                encoderBFloat16 = new RecurrentLayers("encoder", Config.Cell, Config.DModel, hiddenSize / 2, Config.EncoderLayers, 0, bidirectional: true);
                encoderBFloat16.load_state_dict(encoder.state_dict());
                encoderBFloat16.to(sourceEmbedding.weight!.device);
                encoderBFloat16.to(ScalarType.BFloat16);
                encoderBFloat16.eval();
            }
            if (bfloat16 && sourceEmbedding.weight!.device_type == DeviceType.CPU && PackedBFloat16.Available)
            {
                packedWeights = new PackedBFloat16();
                foreach (var weight in modules().OfType<Linear>().Select(l => l.weight).Append(outputWeightForDecoding).Concat(fusedCells.Select(c => c.Weight)))
                    if (weight is not null && PackedBFloat16.Packable(weight)) packedWeights.Add(weight);
            }
        }
        preparedForInference = true;
        IMatmulPath path = backend == InferenceBackend.BFloat16Mkl ? new MklPath() : backend.Precision;
        var packed = packedWeights is null ? null : new RecurrentInference(this, new PackedPath(packedWeights, path));
        return new InferenceModel(this, new RecurrentInference(this, path), packed, parameterCount);
    }

    private static Tensor ColumnMajor(Tensor matrix) => matrix.t().contiguous().t();

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
            foreach (var cell in fusedCells ?? []) cell.Dispose();
            encoderBFloat16?.Dispose();
            outputWeightForDecoding?.Dispose();
            packedWeights?.Dispose();
        }
        base.Dispose(disposing);
    }
}
