using static TorchSharp.torch;

namespace TranslationTrainer.Model;

/// <summary>
/// What a recurrent encoder made of a source batch: its states (B,S,H) and the mask of real positions (B,S), the keys
/// W_a·h̄_s of rnn-attention (B,S,H) in the matmul type (null for rnn-bottleneck), and each encoder layer's final
/// states, both directions side by side (layers,B,H): hidden, and for an LSTM cell states.
/// </summary>
public sealed record RecurrentSource(Tensor Memory, Tensor SourceKeep, Tensor? Keys, Tensor Hidden, Tensor? Cell) : EncodedSource(Memory, SourceKeep)
{
    /// <summary>Sources `index` (new row i = old row index[i]).</summary>
    public RecurrentSource Select(Tensor index) =>
        new(Memory.index_select(0, index), SourceKeep.index_select(0, index), Keys?.index_select(0, index), Hidden.index_select(1, index), Cell?.index_select(1, index));

    /// <summary>The same tensors under handles of its own, outside any dispose scope.</summary>
    internal RecurrentSource Own() =>
        new(Owned(Memory), Owned(SourceKeep), Keys is null ? null : Owned(Keys), Owned(Hidden), Cell is null ? null : Owned(Cell));

    /// <summary>A new handle to the same tensor, owned by its holder: disposing it leaves the caller's handle alone.</summary>
    internal static Tensor Owned(Tensor t) => t.alias().DetachFromDisposeScope();

    internal void DisposeAll()
    {
        foreach (var t in new[] { Memory, SourceKeep, Keys, Hidden, Cell }) t?.Dispose();
    }
}

/// <summary>
/// The recurrent decoder's state between steps, one row per hypothesis: every layer's state, and the feed that goes
/// with the next input — the previous attentional vector (rnn-attention) or the summary c (rnn-bottleneck), (R,H).
/// </summary>
public sealed record DecoderState(RecurrentState Layers, Tensor Feed)
{
    public DecoderState Select(Tensor rows) => new(Layers.Select(rows), Feed.index_select(0, rows));

    /// <summary>Each row `times` times (row r → rows r·times … r·times+times−1): a sentence's state for each of its beams.</summary>
    public DecoderState Repeat(long times) => times == 1 ? this : new(Layers.Repeat(times), Feed.repeat_interleave(times, dim: 0));

    internal DecoderState Own() =>
        new(new RecurrentState(RecurrentSource.Owned(Layers.Hidden), Layers.Cell is null ? null : RecurrentSource.Owned(Layers.Cell)), RecurrentSource.Owned(Feed));

    internal void DisposeAll()
    {
        Layers.Hidden.Dispose();
        Layers.Cell?.Dispose();
        Feed.Dispose();
    }
}

/// <summary>
/// What rnn-attention's attention reads of N sources, in the matmul type: the encoder states (N,S,H), the keys W_a·h̄_s
/// transposed and contiguous for the step's batched multiply (N,H,S), and the padding (N,1,S), true where a position is not real.
/// </summary>
public sealed record AttentionMemory(Tensor Values, Tensor KeysTransposed, Tensor Padding)
{
    public AttentionMemory Select(Tensor index) => new(Values.index_select(0, index), KeysTransposed.index_select(0, index), Padding.index_select(0, index));

    internal AttentionMemory Own() => new(RecurrentSource.Owned(Values), RecurrentSource.Owned(KeysTransposed), RecurrentSource.Owned(Padding));

    internal void DisposeAll()
    {
        Values.Dispose();
        KeysTransposed.Dispose();
        Padding.Dispose();
    }
}

/// <summary>
/// A recurrent model prepared for inference, decoding with one backend's matrix multiplies (`path`); made by
/// <see cref="RecurrentModel.ForInference"/>.
/// </summary>
public sealed class RecurrentInference : IDecodingModel
{
    private readonly RecurrentModel model;

    internal RecurrentInference(RecurrentModel model, IMatmulPath path)
    {
        this.model = model;
        Path = path;
    }

    public IMatmulPath Path { get; }
    public string Architecture => model.Architecture;
    public int MaxPositions => model.MaxPositions;
    public string Backend => Path.Backend;

    public EncodedSource Encode(Tensor source) => model.Encode(source, Path);
    public IDecodingState StartDecoding(EncodedSource encoded, bool cached) => model.StartDecoding(encoded, cached, Path);
    public Tensor? CrossAttention(EncodedSource encoded, Tensor targetInput) => model.CrossAttention(encoded, targetInput, Path);

    /// <summary>Teacher-forced logits (B,T,V) of a whole target prefix.</summary>
    public Tensor Decode(Tensor targetInput, EncodedSource encoded) => model.Decode(targetInput, RecurrentModel.SourceOf(encoded), Path);
}

/// <summary>
/// Cached recurrent decoding: the decoder's state (every layer's, and the input feed) is all a step needs, so a step
/// feeds one token per row and keeps the new state. It starts with one row per sentence; the first step of a beam
/// repeats each sentence's state for its beams.
/// </summary>
internal sealed class CachedRecurrentDecoding : IDecodingState
{
    private readonly RecurrentModel model;
    private readonly IMatmulPath path;
    private DecoderState state;
    private AttentionMemory? memory; // per sentence; hypothesis row r reads sentence r / beams

    public CachedRecurrentDecoding(RecurrentModel model, IMatmulPath path, DecoderState state, AttentionMemory? memory)
    {
        this.model = model;
        this.path = path;
        this.state = state.Own();
        this.memory = memory?.Own();
    }

    public Tensor Step(Tensor lastTokens)
    {
        long rows = lastTokens.shape[0], current = state.Feed.shape[0];
        if (rows != current)
        {
            if (rows % current != 0) throw new ArgumentException($"{rows} tokens for {current} decoding rows", nameof(lastTokens));
            using var scope = NewDisposeScope();
            Replace(state.Repeat(rows / current));
        }
        var (outputs, next) = model.Decode(path, lastTokens.unsqueeze(1), state, memory);
        Replace(next);
        return model.Logits(path, outputs.squeeze(1));
    }

    public void Reorder(long[] rows, long[]? sources)
    {
        using var scope = NewDisposeScope();
        var device = state.Feed.device;
        Replace(state.Select(tensor(rows, device: device)));
        if (sources is null || memory is null) return;
        var old = memory;
        memory = memory.Select(tensor(sources, device: device)).Own();
        old.DisposeAll();
    }

    private void Replace(DecoderState next)
    {
        var old = state;
        state = next.Own();
        old.DisposeAll();
    }

    public void Dispose()
    {
        state.DisposeAll();
        memory?.DisposeAll();
    }
}

/// <summary>
/// Recurrent decoding without a cache: re-runs the decoder over the whole prefix from the encoder's final states at
/// every step (for the speed comparison in `benchmark decode` and for tests).
/// </summary>
internal sealed class RecomputingRecurrentDecoding : IDecodingState
{
    private readonly RecurrentModel model;
    private readonly IMatmulPath path;
    private RecurrentSource source; // per sentence
    private Tensor? prefix;         // per hypothesis row

    public RecomputingRecurrentDecoding(RecurrentModel model, IMatmulPath path, RecurrentSource source)
    {
        this.model = model;
        this.path = path;
        this.source = source.Own();
    }

    public Tensor Step(Tensor lastTokens)
    {
        var next = lastTokens.unsqueeze(1);
        var old = prefix;
        prefix = (prefix is null ? next.clone() : cat([prefix, next], 1)).DetachFromDisposeScope();
        old?.Dispose();
        return model.DecodeLast(path, prefix, source);
    }

    public void Reorder(long[] rows, long[]? sources)
    {
        using var scope = NewDisposeScope();
        var device = source.Memory.device;
        if (prefix is not null)
        {
            var old = prefix;
            prefix = prefix.index_select(0, tensor(rows, device: device)).DetachFromDisposeScope();
            old.Dispose();
        }
        if (sources is null) return;
        var oldSource = source;
        source = source.Select(tensor(sources, device: device)).Own();
        oldSource.DisposeAll();
    }

    public void Dispose()
    {
        prefix?.Dispose();
        source.DisposeAll();
    }
}
