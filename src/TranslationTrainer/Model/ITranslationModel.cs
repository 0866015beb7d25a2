using TorchSharp;
using static TorchSharp.torch;

namespace TranslationTrainer.Model;

/// <summary>
/// What search needs of a model, whatever its architecture (in the spirit of fairseq's forward_encoder /
/// forward_decoder / reorder_incremental_state and Sockeye's inference model): an encoded batch and a decoding state
/// that steps one token per row and reorders its rows; where the model has it, cross-attention for alignments and
/// heat maps. A training model decodes in its training precision; an <see cref="InferenceModel"/> on its backend.
/// </summary>
public interface IDecodingModel
{
    /// <summary>The name a checkpoint header stores and <see cref="ModelArchitecture"/> builds the model from.</summary>
    string Architecture { get; }

    /// <summary>The longest source or target, in tokens, that the model takes.</summary>
    int MaxPositions { get; }

    /// <summary>How its matrix multiplies run: fp32, bf16-libtorch, bf16-mkl or bf16-packed.</summary>
    string Backend { get; }

    /// <summary>Encodes a padded source batch (B,S) once, for the decoding state and for cross-attention.</summary>
    EncodedSource Encode(Tensor source);

    /// <summary>
    /// Starts incremental decoding with one row per sentence of `encoded`. Cached (the default) keeps what earlier
    /// steps computed; uncached recomputes the whole prefix at every step, for the speed comparison and for tests.
    /// </summary>
    IDecodingState StartDecoding(EncodedSource encoded, bool cached);

    /// <summary>
    /// Cross-attention weights of a teacher-forced pass over targetInput (B,T): one map per head, (B,H,T,S), of the
    /// layer alignments read; null for a model without cross-attention.
    /// </summary>
    Tensor? CrossAttention(EncodedSource encoded, Tensor targetInput);

    /// <summary>The model a decoding worker with `threads` libtorch threads uses: this one, unless it picks a backend per worker.</summary>
    IDecodingModel ForWorker(int threads) => this;

    /// <summary>
    /// Per encoder position, the log-probabilities (B,S,V) of the CTC head a speech model trained with `ctc-weight` has
    /// (blank = &lt;pad&gt;), for decoding without the decoder; null for a model without one.
    /// </summary>
    Tensor? CtcLogProbs(EncodedSource encoded) => null;
}

/// <summary>
/// What training needs of a translation model besides search: teacher-forced logits for the loss, the parameters,
/// the training precision, and the way to a frozen copy for decoding.
/// </summary>
public interface ITranslationModel : IDecodingModel, IDisposable
{
    /// <summary>The parameters and the train/eval switch: for the optimiser, checkpoints and averaging.</summary>
    nn.Module Module { get; }

    /// <summary>The type matrix multiplies run in during training (and validation's decoding).</summary>
    Precision Precision { get; set; }

    /// <summary>Teacher-forced logits: source (B,S) and target input (B,T), &lt;s&gt; first → (B,T,V), float32.</summary>
    Tensor forward(Tensor source, Tensor targetInput);

    /// <summary>
    /// Rewrites this model's weights for decoding on `backend` (bfloat16, packed or column-major) and returns the model
    /// that decodes with them, which owns this one. This model cannot be trained or saved afterwards: its Module throws.
    /// </summary>
    InferenceModel ForInference(InferenceBackend backend);
}

/// <summary>A model with a CTC head on its encoder (speech-transformer), trained with `ctc-weight` (ESPnet's hybrid CTC/attention).</summary>
public interface ICtcModel
{
    /// <summary>Teacher-forced logits (B,T,V) and the CTC loss of the encoder against targets (B,S) of targetLengths (B), summed.</summary>
    (Tensor Logits, Tensor CtcLoss) ForwardWithCtc(Tensor source, Tensor targetInput, Tensor targets, Tensor targetLengths);
}

/// <summary>
/// What the encoder made of a source batch: its states (B,S,d) and the mask of real source positions. Only the model
/// that made it reads it.
/// </summary>
public record EncodedSource(Tensor Memory, Tensor SourceKeep);

/// <summary>
/// Everything incremental decoding carries between steps. Rows are hypotheses; Reorder follows beam re-ranking and
/// finished sentences leaving the batch.
/// </summary>
public interface IDecodingState : IDisposable
{
    /// <summary>Feeds one token per row (rows) and returns the next-token logits (rows, V), float32.</summary>
    Tensor Step(Tensor lastTokens);

    /// <summary>
    /// Keeps hypothesis rows `rows` (new row i = old row rows[i]) and encoder rows `sources`, one per sentence (null
    /// when no sentence left, as when beams are only re-ranked). With a beam, hypothesis row r reads sentence r / beam.
    /// </summary>
    void Reorder(long[] rows, long[]? sources);
}
