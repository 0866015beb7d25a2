using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TranslationTrainer.Model;

/// <summary>
/// What ForInference does to the weights of a model built of Linear layers, with an output layer that may share an
/// embedding table (the Transformer's and the decoder-only's), and the matrix-multiply path that decodes with them.
/// </summary>
internal static class InferenceWeights
{
    /// <summary>
    /// Rewrites every Linear weight of `model` for `backend`, in place: bfloat16 for bf16 (packed too, for bf16-packed,
    /// on a CPU with the kernel), column-major float32 for fp32. `tiedOutputTable` (null for an output layer of its own)
    /// is the embedding table the output layer shares; it stays as it is for the lookups, and the output gets the copy
    /// returned, laid out like the other weights.
    /// </summary>
    public static (Tensor? OutputWeight, PackedBFloat16? Packed) Prepare(nn.Module model, Tensor? tiedOutputTable, InferenceBackend backend, DeviceType device)
    {
        using var noGrad = no_grad();
        Tensor? outputWeight = null;
        PackedBFloat16? packed = null;
        if (backend.Precision.IsBFloat16)
        {
            foreach (var linear in model.modules().OfType<Linear>())
                linear.weight = new Parameter(linear.weight.to(bfloat16), requires_grad: false);
            outputWeight = tiedOutputTable?.to(bfloat16).DetachFromDisposeScope();
            if (device == DeviceType.CPU && PackedBFloat16.Available)
            {
                packed = new PackedBFloat16();
                foreach (var weight in model.modules().OfType<Linear>().Select(l => l.weight).Append(outputWeight))
                    if (weight is not null && PackedBFloat16.Packable(weight)) packed.Add(weight);
            }
        }
        else
        {
            // float32 weights stored column-major (same values and shape): F.linear computes x·Wᵀ, and MKL multiplies a
            // contiguous Wᵀ much faster on a decoding step's few rows (docs/performance.md, "bfloat16").
            foreach (var linear in model.modules().OfType<Linear>())
                linear.weight = new Parameter(ColumnMajor(linear.weight), requires_grad: false);
            // A tied output layer shares the embedding table, whose lookups want it row-major: the output gets a copy.
            if (tiedOutputTable is not null) outputWeight = ColumnMajor(tiedOutputTable).DetachFromDisposeScope();
        }
        return (outputWeight, packed);
    }

    /// <summary>The path a model prepared for `backend` decodes through (bf16-packed is chosen per worker, on top of it).</summary>
    public static IMatmulPath PathFor(InferenceBackend backend) => backend == InferenceBackend.BFloat16Mkl ? new MklPath() : backend.Precision;

    private static Tensor ColumnMajor(Tensor matrix) => matrix.t().contiguous().t();
}
