using TorchSharp;
using static TorchSharp.torch;

namespace TranslationTrainer.Model;

/// <summary>
/// A model's bf16 weight matrices packed once for the matrix multiply of <see cref="BFloat16Kernels"/> (AVX512_BF16, one
/// thread). MKL and oneDNN repack a bf16 weight on every call, which costs as much as the multiply on a decoding
/// step's few rows (timings in docs/performance.md). It runs on the calling thread alone, so only decoding workers with
/// one libtorch thread are given it (the bf16-packed backend, <see cref="InferenceModel.ForWorker"/>).
/// </summary>
public sealed unsafe class PackedBFloat16 : IDisposable
{
    private readonly List<Entry> entries = [];
    private long kernelMultiplies, kernelAttentionSteps;

    /// <summary>A packed weight: where its bfloat16 rows live, and the packed copy (blocks of 16 rows).</summary>
    private sealed record Entry(nint Start, long Rows, long Inputs, Tensor Weight, Tensor Packed);

    /// <summary>Whether the kernel was built and this CPU has AVX512_BF16 (<see cref="BFloat16Kernels"/>).</summary>
    public static bool Available => BFloat16Kernels.Available;

    /// <summary>How many linears ran through the kernel: tells the kernel from a silent fallback to MKL or libtorch.</summary>
    public long KernelMultiplies => Interlocked.Read(ref kernelMultiplies);

    /// <summary>How many attention steps ran through <see cref="BFloat16Kernels.AttendStep"/> for this model.</summary>
    public long KernelAttentionSteps => Interlocked.Read(ref kernelAttentionSteps);

    /// <summary>Whether a weight (N, K) fits the kernel: bfloat16, contiguous, on the CPU, N a multiple of 16, K even.</summary>
    public static bool Packable(Tensor weight) =>
        weight.dtype == ScalarType.BFloat16 && weight.dim() == 2 && weight.is_contiguous() && weight.device_type == DeviceType.CPU
        && weight.shape[0] % 16 == 0 && weight.shape[1] % 2 == 0;

    /// <summary>Packs a weight; it is kept alive here, so its memory cannot be reused while the packed copy is looked up by address.</summary>
    public void Add(Tensor weight)
    {
        if (!Available) throw new InvalidOperationException("the bf16 kernel is not available here");
        if (!Packable(weight)) throw new ArgumentException("the weight must be a contiguous bfloat16 (N, K) matrix with N % 16 == 0 and K even", nameof(weight));
        var packed = empty_like(weight).DetachFromDisposeScope();
        BFloat16Kernels.Pack(Pointer(weight), Pointer(packed), (int)weight.shape[0], (int)weight.shape[1]);
        entries.Add(new Entry((nint)Pointer(weight), weight.shape[0], weight.shape[1], weight.alias().DetachFromDisposeScope(), packed));
    }

    /// <summary>
    /// x·wᵀ + b, then ReLU if `relu`, in float32 or bfloat16 (`output`), when w is (a block of 16-row groups of) a packed
    /// weight; otherwise false. x (…, K) of any floating type, bias float32 (N) or none.
    /// </summary>
    public bool TryLinear(Tensor x, Tensor weight, Tensor? bias, out Tensor result, bool relu = false, ScalarType output = ScalarType.Float32)
    {
        result = null!;
        if (!Packable(weight)) return false;
        long rows = weight.shape[0], inputs = weight.shape[1];
        if (x.device_type != DeviceType.CPU || x.dim() == 0 || x.shape[^1] != inputs || (bias is not null && bias.numel() != rows)) return false;
        nint start = (nint)Pointer(weight);
        var entry = entries.Find(e => e.Inputs == inputs && start >= e.Start && start < e.Start + e.Rows * inputs * 2);
        if (entry is null) return false;
        long firstRow = (start - entry.Start) / (inputs * 2);
        if (firstRow % 16 != 0 || firstRow + rows > entry.Rows) return false;

        var outputShape = x.shape.ToArray();
        outputShape[^1] = rows;
        var input = Precision.Cast(x, ScalarType.BFloat16).reshape(-1, inputs).contiguous();
        int m = (int)input.shape[0];
        bool bfloat16 = output == ScalarType.BFloat16;
        var y = empty(m, rows, dtype: bfloat16 ? ScalarType.BFloat16 : ScalarType.Float32);
        if (m > 0)
        {
            var biasValues = bias is null ? null : Precision.Cast(bias, ScalarType.Float32).contiguous();
            var packedRows = (byte*)Pointer(entry.Packed) + firstRow * inputs * 2;
            BFloat16Kernels.Gemm(Pointer(input), packedRows, biasValues is null ? null : (float*)Pointer(biasValues), Pointer(y), m, (int)rows, (int)inputs,
                relu ? 1 : 0, bfloat16 ? 1 : 0);
            Interlocked.Increment(ref kernelMultiplies);
        }
        result = y.view(outputShape);
        return true;
    }

    /// <summary><see cref="BFloat16Kernels.AttendStep"/>, counted in <see cref="KernelAttentionSteps"/> when the kernel ran.</summary>
    public Tensor? TryAttendStep(Tensor queries, long queryStride, Tensor keys, Tensor values, int positions, Tensor? padding, double scale)
    {
        var context = BFloat16Kernels.AttendStep(queries, queryStride, keys, values, positions, padding, scale);
        if (context is not null) Interlocked.Increment(ref kernelAttentionSteps);
        return context;
    }

    private static void* Pointer(Tensor t) => BFloat16Kernels.Pointer(t);

    public void Dispose()
    {
        foreach (var entry in entries)
        {
            entry.Weight.Dispose();
            entry.Packed.Dispose();
        }
        entries.Clear();
    }
}
