using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace TranslationTrainer.Model;

/// <summary>
/// x·wᵀ + b through MKL's bfloat16 matrix multiply with a float32 result (cblas_gemm_bf16bf16f32, exported by
/// libtorch_cpu), for decoding on a CPU. libtorch sends a bf16 linear to oneDNN, which repacks the weight on every
/// call, so on a decoding step's few rows MKL is faster (docs/performance.md), and its float32 result needs no cast
/// for LayerNorm, the residual stream and log-softmax. Inference only: no autograd.
/// </summary>
public static unsafe class MklBFloat16
{
    private const int RowMajor = 101, NoTranspose = 111, Transpose = 112;
    private static readonly delegate* unmanaged<int, int, int, int, int, int, float, void*, int, void*, int, float, float*, int, void> Gemm = Resolve();

    /// <summary>Whether libtorch carries the MKL function (x86-64 Linux builds do).</summary>
    public static bool Available => Gemm != null;

    /// <summary>
    /// Worth using: available, and MKL runs its fast kernels here (on AMD CPUs only with the vendor shim that
    /// scripts/translation-trainer preloads; its generic bf16 kernel is slower than oneDNN's).
    /// </summary>
    public static bool Fast => Available && TorchRuntime.MklRunsFastKernels();

    private static delegate* unmanaged<int, int, int, int, int, int, float, void*, int, void*, int, float, float*, int, void> Resolve()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return null;
        // The copy of libtorch_cpu that TorchSharp loads, found by its soname; RTLD_NOLOAD never loads a second one.
        InitializeDeviceType(DeviceType.CPU);
        if (!NativeLibrary.TryLoad("libc.so.6", out var libc) || !NativeLibrary.TryGetExport(libc, "dlopen", out var dlopen)) return null;
        const int RtldLazy = 1, RtldNoLoad = 4;
        nint library;
        fixed (byte* name = "libtorch_cpu.so\0"u8)
            library = ((delegate* unmanaged<byte*, int, nint>)dlopen)(name, RtldLazy | RtldNoLoad);
        if (library == 0) return null;
        return NativeLibrary.TryGetExport(library, "cblas_gemm_bf16bf16f32", out var gemm)
            ? (delegate* unmanaged<int, int, int, int, int, int, float, void*, int, void*, int, float, float*, int, void>)gemm
            : null;
    }

    /// <summary>
    /// x (…, K) of any floating type, a bfloat16 weight (N, K) stored row- or column-major, a float32 bias (N) or
    /// none → float32 (…, N). All on the CPU.
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        if (!Available) throw new InvalidOperationException("MKL's bfloat16 gemm is not available in this libtorch");
        if (weight.dtype != ScalarType.BFloat16 || weight.dim() != 2 || weight.device_type != DeviceType.CPU)
            throw new ArgumentException("the weight must be a bfloat16 matrix on the CPU", nameof(weight));
        int n = (int)weight.shape[0], k = (int)weight.shape[1];
        var outputShape = x.shape.ToArray();
        outputShape[^1] = n;
        var input = Precision.Cast(x, ScalarType.BFloat16).reshape(-1, k).contiguous();
        int m = (int)input.shape[0];
        // The bias is the initial C (beta 1), so it is added in float32 inside the multiply. A new tensor: with one
        // row, bias.expand(1, n).contiguous() would be the bias itself, and MKL would write into it.
        var output = empty(m, n);
        if (bias is not null) output.copy_(bias);
        if (m == 0) return output.view(outputShape);
        bool rowMajorWeight = weight.is_contiguous();
        var w = rowMajorWeight ? weight : weight.t().contiguous(); // a column-major weight is a contiguous wᵀ: no copy
        Gemm(RowMajor, NoTranspose, rowMajorWeight ? Transpose : NoTranspose, m, n, k,
            1f, Pointer(input), k, Pointer(w), rowMajorWeight ? k : n, bias is null ? 0f : 1f, (float*)Pointer(output), n);
        return output.view(outputShape);
    }

    private static void* Pointer(Tensor t) => Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));
}
