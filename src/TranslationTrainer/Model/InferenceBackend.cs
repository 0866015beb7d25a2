using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace TranslationTrainer.Model;

/// <summary>
/// How a model's matrix multiplies run, handed to every layer call: the training <see cref="Precision"/>, or one of
/// the decoding backends of a model prepared for inference (<see cref="InferenceBackend"/>).
/// </summary>
public interface IMatmulPath
{
    /// <summary>The backend's name: fp32, bf16-libtorch, bf16-mkl or bf16-packed.</summary>
    string Backend { get; }

    /// <summary>The type attention multiplies (and caches keys and values) in.</summary>
    ScalarType MatmulType { get; }

    /// <summary>
    /// x·wᵀ + b, then ReLU if `relu`: of the matmul type, or float32 where the backend gives it; `feedsMatmul` (the
    /// result only feeds another matrix multiply) lets a backend write it in the matmul type, saving a cast.
    /// </summary>
    Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null, bool relu = false, bool feedsMatmul = false);

    /// <summary>One decoding step's attention in one native call (<see cref="BFloat16Kernels.AttendStep"/>); null where the backend has none.</summary>
    Tensor? AttendStep(Tensor queries, long queryStride, Tensor keys, Tensor values, int positions, Tensor? padding, double scale) => null;
}

/// <summary>
/// A decoding backend by name, and the precision its weights are prepared in. fp32: float32 weights stored
/// column-major; bf16-libtorch: bfloat16 weights through libtorch's linear (oneDNN); bf16-mkl: through MKL's bf16 gemm
/// (<see cref="MklBFloat16"/>); bf16-packed: through our packed kernel (<see cref="PackedBFloat16"/>), one thread only.
/// </summary>
public sealed record InferenceBackend(string Name, Precision Precision)
{
    public static readonly InferenceBackend Fp32 = new("fp32", Precision.Float32);
    public static readonly InferenceBackend BFloat16Libtorch = new("bf16-libtorch", Precision.BFloat16);
    public static readonly InferenceBackend BFloat16Mkl = new("bf16-mkl", Precision.BFloat16);
    /// <summary>Never chosen for a whole model: what a bf16 model whose weights were packed runs on one thread.</summary>
    public static readonly InferenceBackend BFloat16Packed = new("bf16-packed", Precision.BFloat16);

    /// <summary>
    /// The backend for a precision on a device: for bf16 on a CPU, MKL where it runs its fast kernels, else libtorch.
    /// (A bf16 model on a CPU with the kernel also packs its weights for bf16-packed, see <see cref="InferenceModel"/>.)
    /// </summary>
    public static InferenceBackend Choose(Precision precision, Device device) =>
        !precision.IsBFloat16 ? Fp32 : device.type == DeviceType.CPU && MklBFloat16.Fast ? BFloat16Mkl : BFloat16Libtorch;

    public override string ToString() => Name;
}

/// <summary>bf16-mkl: linears through MKL's bf16 gemm, with float32 results that feed LayerNorm and the residual stream directly.</summary>
internal sealed class MklPath : IMatmulPath
{
    public string Backend => InferenceBackend.BFloat16Mkl.Name;
    public ScalarType MatmulType => ScalarType.BFloat16;

    public Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null, bool relu = false, bool feedsMatmul = false)
    {
        var result = MklBFloat16.Linear(x, Precision.Cast(weight, ScalarType.BFloat16), bias);
        return relu ? F.relu(result) : result;
    }
}

/// <summary>
/// bf16-packed: linears through a model's packed weights and attention steps through the native kernel; a weight the
/// kernel cannot take (not packed) goes to `fallback`, the backend the model was prepared for.
/// </summary>
public sealed class PackedPath(PackedBFloat16 packed, IMatmulPath fallback) : IMatmulPath
{
    public string Backend => InferenceBackend.BFloat16Packed.Name;
    public ScalarType MatmulType => ScalarType.BFloat16;
    /// <summary>The packed weights, whose counters tell the kernel ran.</summary>
    public PackedBFloat16 Packed => packed;

    public Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null, bool relu = false, bool feedsMatmul = false) =>
        packed.TryLinear(x, weight, bias, out var result, relu, feedsMatmul ? ScalarType.BFloat16 : ScalarType.Float32)
            ? result
            : fallback.Linear(x, weight, bias, relu, feedsMatmul);

    public Tensor? AttendStep(Tensor queries, long queryStride, Tensor keys, Tensor values, int positions, Tensor? padding, double scale) =>
        packed.TryAttendStep(queries, queryStride, keys, values, positions, padding, scale);
}
