using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace TranslationTrainer.Model;

/// <summary>
/// The bf16 decoding kernels of Model/Native/bf16_kernels.c (AVX512_BF16, one thread), built with this project when a C
/// compiler is present: the packed matrix multiply behind <see cref="PackedBFloat16"/> and one step's attention over
/// the bfloat16 cache. They run on the calling thread alone: decoding gives them to workers with one libtorch thread.
/// </summary>
public static unsafe class BFloat16Kernels
{
    private const string LibraryName = "libtt_bf16_kernels.so";
    private static readonly (nint Pack, nint Gemm, nint Attend) Functions = Load();

    /// <summary>Whether the kernels were built (a C compiler at build time, x86-64 Linux) and this CPU has AVX512_BF16.</summary>
    public static readonly bool Available = Functions.Attend != 0 && Precision.CpuFlags().Contains("avx512_bf16");

    internal static delegate* unmanaged<void*, void*, int, int, void> Pack => (delegate* unmanaged<void*, void*, int, int, void>)Functions.Pack;
    internal static delegate* unmanaged<void*, void*, float*, void*, int, int, int, int, int, void> Gemm => (delegate* unmanaged<void*, void*, float*, void*, int, int, int, int, int, void>)Functions.Gemm;

    private static (nint, nint, nint) Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, LibraryName);
        if (!OperatingSystem.IsLinux() || !File.Exists(path) || !NativeLibrary.TryLoad(path, out var library)) return (0, 0, 0);
        return NativeLibrary.TryGetExport(library, "tt_bf16_pack", out var pack) && NativeLibrary.TryGetExport(library, "tt_bf16_gemm", out var gemm)
            && NativeLibrary.TryGetExport(library, "tt_bf16_attend", out var attend) ? (pack, gemm, attend) : (0, 0, 0);
    }

    /// <summary>
    /// One decoding step's attention, per head: row r's query (heads·dh bfloat16 values at r·queryStride of `queries`,
    /// contiguous, rows on dim 0) against the first `positions` keys and values (sources, heads, capacity, dh; bfloat16,
    /// contiguous) of source r / (rows / sources), leaving out the positions where `padding` (sources · positions
    /// values) is true. Returns the contexts (rows, heads·dh) in float32, or null where the kernel does not apply.
    /// </summary>
    public static Tensor? AttendStep(Tensor queries, long queryStride, Tensor keys, Tensor values, int positions, Tensor? padding, double scale)
    {
        if (!Available) return null;
        if (queries.dtype != ScalarType.BFloat16 || keys.dtype != ScalarType.BFloat16 || values.dtype != ScalarType.BFloat16
            || !queries.is_contiguous() || !keys.is_contiguous() || !values.is_contiguous() || (padding is not null && !padding.is_contiguous()))
            return null;
        long rows = queries.shape[0], sources = keys.shape[0], heads = keys.shape[1], capacity = keys.shape[2], headSize = keys.shape[3];
        if (headSize % 16 != 0 || headSize > 256 || rows % sources != 0 || queries.numel() != rows * queryStride || queryStride < heads * headSize
            || positions > capacity || (padding is not null && padding.numel() != sources * positions))
            return null;
        var output = empty(rows, heads * headSize);
        var scores = new float[Math.Max(1, positions)];
        fixed (float* scoresPointer = scores)
            ((delegate* unmanaged<void*, long, void*, void*, long, long, void*, float*, float*, int, int, int, int, int, float, void>)Functions.Attend)(
                Pointer(queries), queryStride, Pointer(keys), Pointer(values), heads * capacity * headSize, capacity * headSize,
                padding is null ? null : Pointer(padding), (float*)Pointer(output), scoresPointer,
                (int)rows, (int)(rows / sources), (int)heads, (int)headSize, positions, (float)scale);
        return output;
    }

    internal static void* Pointer(Tensor t) => Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));
}
