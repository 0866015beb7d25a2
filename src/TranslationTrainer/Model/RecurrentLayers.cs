using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using PackedSequence = TorchSharp.torch.nn.utils.rnn.PackedSequence;

namespace TranslationTrainer.Model;

/// <summary>
/// The state a stack of recurrent layers carries: hidden states (layers, rows, size) and, for an LSTM, its cell
/// states of the same shape (null for a GRU or a plain RNN).
/// </summary>
public sealed record RecurrentState(Tensor Hidden, Tensor? Cell)
{
    /// <summary>Rows `index` of every layer's state (dimension 1).</summary>
    public RecurrentState Select(Tensor index) => new(Hidden.index_select(1, index), Cell?.index_select(1, index));

    /// <summary>Layers `index` (dimension 0), in that order.</summary>
    public RecurrentState SelectLayers(Tensor index) => new(Hidden.index_select(0, index), Cell?.index_select(0, index));

    /// <summary>Each row repeated `times` times in place (row r becomes rows r·times … r·times+times−1), as beams need.</summary>
    public RecurrentState Repeat(long times) =>
        times == 1 ? this : new(Hidden.repeat_interleave(times, dim: 1), Cell?.repeat_interleave(times, dim: 1));
}

/// <summary>
/// A stack of recurrent layers of one cell type — lstm, gru or rnn (Elman, tanh) — through libtorch's fused
/// nn.LSTM / nn.GRU / nn.RNN, batch-first: a whole (packed or padded) sequence per call. With several layers,
/// libtorch applies dropout to every layer's output but the last.
/// </summary>
public sealed class RecurrentLayers : nn.Module
{
    private readonly LSTM? lstm;
    private readonly GRU? gru;
    private readonly RNN? rnn;

    public string Cell { get; }
    public int Layers { get; }
    public bool Bidirectional { get; }

    public RecurrentLayers(string name, string cell, long inputSize, long hiddenSize, int layers, double dropout, bool bidirectional) : base(name)
    {
        Cell = cell;
        Layers = layers;
        Bidirectional = bidirectional;
        // libtorch warns about dropout on a single layer (there is nothing between layers to drop): not asked then.
        double between = layers > 1 ? dropout : 0;
        switch (cell)
        {
            case "lstm": lstm = nn.LSTM(inputSize, hiddenSize, layers, batchFirst: true, dropout: between, bidirectional: bidirectional); break;
            case "gru": gru = nn.GRU(inputSize, hiddenSize, layers, batchFirst: true, dropout: between, bidirectional: bidirectional); break;
            case "rnn": rnn = nn.RNN(inputSize, hiddenSize, layers, nn.NonLinearities.Tanh, batchFirst: true, dropout: between, bidirectional: bidirectional); break;
            default: throw new ArgumentException($"unknown cell '{cell}'", nameof(cell));
        }
        RegisterComponents();
    }

    /// <summary>A packed batch → the packed outputs of the top layer and each layer's (and direction's) final state.</summary>
    public (PackedSequence Output, RecurrentState Final) forward(PackedSequence input)
    {
        if (lstm is not null)
        {
            var (output, hidden, cell) = lstm.call(input, null);
            return (output, new RecurrentState(hidden, cell));
        }
        var (outputs, final) = gru is not null ? gru.call(input, null) : rnn!.call(input, null);
        return (outputs, new RecurrentState(final, null));
    }

    /// <summary>A padded batch (B,T,in) from `initial` (zeros when null) → the top layer's outputs (B,T,size) and the final state.</summary>
    public (Tensor Output, RecurrentState Final) forward(Tensor input, RecurrentState? initial)
    {
        if (lstm is not null)
        {
            var (output, hidden, cell) = lstm.call(input, initial is null ? null : (initial.Hidden, initial.Cell!));
            return (output, new RecurrentState(hidden, cell));
        }
        var (outputs, final) = gru is not null ? gru.call(input, initial?.Hidden) : rnn!.call(input, initial?.Hidden);
        return (outputs, new RecurrentState(final, null));
    }

    /// <summary>Layer `layer`'s weights, as libtorch names them (weight_ih_lK, weight_hh_lK, bias_ih_lK, bias_hh_lK).</summary>
    public CellWeights LayerWeights(int layer, bool reverse = false)
    {
        string suffix = $"_l{layer}{(reverse ? "_reverse" : "")}";
        var module = (nn.Module?)lstm ?? (nn.Module?)gru ?? rnn!;
        Tensor Of(string name) => module.get_parameter(name + suffix) ?? throw new InvalidOperationException($"no parameter {name}{suffix}");
        return new CellWeights(Cell, Of("weight_ih"), Of("weight_hh"), Of("bias_ih"), Of("bias_hh"));
    }
}

/// <summary>
/// One recurrent cell (LSTMCell, GRUCell or RNNCell with tanh) for one step of one layer: the decoder's steps, where
/// each layer's input depends on the step before (input feeding) and a whole-sequence call cannot be made.
/// </summary>
public sealed class RecurrentCell : nn.Module
{
    private readonly LSTMCell? lstm;
    private readonly GRUCell? gru;
    private readonly RNNCell? rnn;

    public string Cell { get; }

    public RecurrentCell(string name, string cell, long inputSize, long hiddenSize) : base(name)
    {
        Cell = cell;
        switch (cell)
        {
            case "lstm": lstm = nn.LSTMCell(inputSize, hiddenSize); break;
            case "gru": gru = nn.GRUCell(inputSize, hiddenSize); break;
            case "rnn": rnn = nn.RNNCell(inputSize, hiddenSize, nn.NonLinearities.Tanh); break;
            default: throw new ArgumentException($"unknown cell '{cell}'", nameof(cell));
        }
        RegisterComponents();
    }

    /// <summary>Input (R,in), hidden and (LSTM) cell state (R,size) → the next hidden and cell state.</summary>
    public (Tensor Hidden, Tensor? Cell) forward(Tensor input, Tensor hidden, Tensor? cell)
    {
        if (lstm is not null)
        {
            var (h, c) = lstm.call(input, (hidden, cell!));
            return (h, c);
        }
        return (gru is not null ? gru.forward(input, hidden) : rnn!.forward(input, hidden), null);
    }

    public CellWeights Weights =>
        lstm is not null ? new(Cell, lstm.weight_ih!, lstm.weight_hh!, lstm.bias_ih!, lstm.bias_hh!)
        : gru is not null ? new(Cell, gru.weight_ih!, gru.weight_hh!, gru.bias_ih!, gru.bias_hh!)
        : new(Cell, rnn!.weight_ih!, rnn.weight_hh!, rnn.bias_ih!, rnn.bias_hh!);
}

/// <summary>One layer's weights as libtorch lays them out: gates stacked in rows (LSTM i, f, g, o; GRU r, z, n).</summary>
public sealed record CellWeights(string Cell, Tensor InputWeight, Tensor HiddenWeight, Tensor InputBias, Tensor HiddenBias);

/// <summary>
/// A recurrent layer prepared for decoding: the input and hidden matrices side by side, so that a step is one matrix
/// multiply of [input ; hidden] through the backend's linear (<see cref="IMatmulPath"/>) — bf16 through MKL or the packed
/// kernel, or float32 column-major — followed by the gates, in float32. libtorch's cells make two multiplies and cannot
/// take the backends' weights. A GRU's candidate gate needs W_hn·h apart (it is scaled by the reset gate), so its matrix
/// has four blocks of rows, [W_ir W_hr; W_iz W_hz; W_in 0; 0 W_hn], and one multiply still does the whole step.
/// </summary>
public sealed class FusedCell : IDisposable
{
    public string Cell { get; }
    /// <summary>(gates·size, in + size), in the backend's layout; a float32 bias (gates·size).</summary>
    public Tensor Weight { get; }
    public Tensor Bias { get; }

    public FusedCell(CellWeights weights, Func<Tensor, Tensor> prepare)
    {
        Cell = weights.Cell;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (wi, wh, bi, bh) = (weights.InputWeight.detach(), weights.HiddenWeight.detach(), weights.InputBias.detach(), weights.HiddenBias.detach());
        Tensor weight, bias;
        if (Cell == "gru")
        {
            long size = wh.shape[1];
            var (wiRz, whRz, wiN, whN) = (wi.narrow(0, 0, 2 * size), wh.narrow(0, 0, 2 * size), wi.narrow(0, 2 * size, size), wh.narrow(0, 2 * size, size));
            weight = cat([cat([wiRz, whRz], 1), cat([wiN, zeros_like(whN)], 1), cat([zeros_like(wiN), whN], 1)], 0);
            bias = cat([bi.narrow(0, 0, 2 * size) + bh.narrow(0, 0, 2 * size), bi.narrow(0, 2 * size, size), bh.narrow(0, 2 * size, size)]);
        }
        else
        {
            weight = cat([wi, wh], 1);
            bias = bi + bh;
        }
        Weight = prepare(weight.contiguous()).DetachFromDisposeScope();
        Bias = bias.to(float32).contiguous().DetachFromDisposeScope();
    }

    /// <summary>One step: input (R,in), hidden and (LSTM) cell state (R,size), float32 → the next ones, float32.</summary>
    public (Tensor Hidden, Tensor? Cell) Step(IMatmulPath path, Tensor input, Tensor hidden, Tensor? cell)
    {
        var gates = Precision.Cast(path.Linear(cat([input, hidden], -1), Weight, Bias), float32);
        switch (Cell)
        {
            case "lstm":
            {
                var g = gates.chunk(4, -1);
                var next = g[1].sigmoid() * cell! + g[0].sigmoid() * g[2].tanh();
                return (g[3].sigmoid() * next.tanh(), next);
            }
            case "gru":
            {
                var g = gates.chunk(4, -1);
                var reset = g[0].sigmoid();
                var update = g[1].sigmoid();
                var candidate = (g[2] + reset * g[3]).tanh();
                return (candidate + update * (hidden - candidate), null); // (1 − z)·n + z·h
            }
            default:
                return (gates.tanh(), null);
        }
    }

    public void Dispose()
    {
        Weight.Dispose();
        Bias.Dispose();
    }
}
