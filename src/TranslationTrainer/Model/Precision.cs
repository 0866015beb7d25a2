using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace TranslationTrainer.Model;

/// <summary>
/// The mixed-precision policy, in one place (TorchSharp has no autocast). With bf16, every matrix multiply —
/// projections, feed-forward, attention, output layer — runs in bfloat16, while parameters and optimiser state
/// stay float32 (a weight is cast on use, so its gradient arrives in float32), and LayerNorm, the residual
/// stream (float32 + bfloat16 promotes to float32), softmax and the loss stay float32. bfloat16 has float32's
/// exponent range, so gradients neither underflow nor overflow and no loss scaling is needed.
/// </summary>
public sealed class Precision
{
    public string Name { get; }
    /// <summary>The type matrix multiplies run in.</summary>
    public ScalarType MatmulType { get; }

    /// <summary>Linears go through MKL's bf16 gemm (float32 results); inference only.</summary>
    public bool UsesMkl { get; }
    /// <summary>A decoding model's packed bf16 weights: linears on one thread go through the bf16 kernel (float32 results).</summary>
    public PackedBFloat16? Packed { get; }

    private Precision(string name, ScalarType matmulType, bool usesMkl = false, PackedBFloat16? packed = null)
    {
        Name = name;
        MatmulType = matmulType;
        UsesMkl = usesMkl;
        Packed = packed;
    }

    public static readonly Precision Float32 = new("fp32", ScalarType.Float32);
    public static readonly Precision BFloat16 = new("bf16", ScalarType.BFloat16);
    /// <summary>
    /// bf16 for decoding on a CPU: linears through a model's packed weights (<see cref="PackedBFloat16"/>, where libtorch
    /// has one thread), else MKL's bf16 gemm if `mkl` (<see cref="MklBFloat16"/>), else libtorch. The first two give
    /// float32 results that feed LayerNorm and the residual stream directly; attention still multiplies in bfloat16
    /// over a bfloat16 cache. Made by Transformer.CastForInference, which owns `packed`. No autograd: never for training.
    /// </summary>
    public static Precision CpuDecoding(PackedBFloat16? packed, bool mkl) => new("bf16", ScalarType.BFloat16, usesMkl: mkl, packed);

    public bool IsBFloat16 => MatmulType == ScalarType.BFloat16;

    /// <summary>
    /// x·wᵀ + b, then ReLU if `relu`, in the matmul type; inputs already of that type (a model cast for decoding) are not
    /// copied. The result is of the matmul type, or float32 from the packed kernel or MKL; `feedsMatmul` (the result only
    /// feeds another matrix multiply) lets the packed kernel write it in the matmul type, saving a cast.
    /// </summary>
    public Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null, bool relu = false, bool feedsMatmul = false)
    {
        if (Packed is not null && Packed.TryLinear(x, weight, bias, out var packedResult, relu, feedsMatmul ? MatmulType : ScalarType.Float32))
            return packedResult;
        var result = UsesMkl ? MklBFloat16.Linear(x, Cast(weight, MatmulType), bias)
            : x.dtype == MatmulType && weight.dtype == MatmulType && (bias is null || bias.dtype == MatmulType)
                ? F.linear(x, weight, bias)
                : F.linear(Cast(x, MatmulType), Cast(weight, MatmulType), bias is null ? null : Cast(bias, MatmulType));
        return relu ? F.relu(result) : result;
    }

    /// <summary>t in the given type; a tensor already of that type is returned as it is (no libtorch call).</summary>
    public static Tensor Cast(Tensor t, ScalarType type) => t.dtype == type ? t : t.to(type);

    /// <summary>
    /// fp32, bf16, or auto (bf16 where the hardware runs it fast, else fp32). bf16 on a CPU without AVX512_BF16 or
    /// AMX is refused: libtorch would emulate it, slower than float32.
    /// </summary>
    public static Precision Resolve(string name, Device device, IReadOnlySet<string>? cpuFlags = null) => name switch
    {
        "fp32" => Float32,
        "bf16" => BFloat16Supported(device, cpuFlags) ? BFloat16
            : throw new UserError("--precision bf16: this CPU has no AVX512_BF16 or AMX instructions, so bfloat16 would be slower than float32; use --precision fp32"),
        "auto" => BFloat16Supported(device, cpuFlags) ? BFloat16 : Float32,
        _ => throw new UserError($"--precision must be fp32, bf16 or auto, got '{name}'"),
    };

    /// <summary>CUDA GPUs are trusted to have bf16 (Ampere or newer); a CPU must report AVX512_BF16 or AMX_BF16.</summary>
    public static bool BFloat16Supported(Device device, IReadOnlySet<string>? cpuFlags = null) =>
        device.type == DeviceType.CUDA || (cpuFlags ?? CpuFlags()).Overlaps(["avx512_bf16", "amx_bf16"]);

    /// <summary>The flags line of /proc/cpuinfo (empty elsewhere, which means no bf16).</summary>
    public static HashSet<string> CpuFlags()
    {
        const string cpuinfo = "/proc/cpuinfo";
        if (!File.Exists(cpuinfo)) return [];
        var flags = File.ReadLines(cpuinfo).FirstOrDefault(line => line.StartsWith("flags", StringComparison.Ordinal));
        return flags is null ? [] : flags[(flags.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
    }

    public override string ToString() => Name;
}
