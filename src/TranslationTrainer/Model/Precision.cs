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
/// Training runs its matrix multiplies this way; so does validation's decoding (backend fp32 or bf16-libtorch).
/// </summary>
public sealed class Precision : IMatmulPath
{
    public string Name { get; }
    /// <summary>The type matrix multiplies run in.</summary>
    public ScalarType MatmulType { get; }

    /// <summary>The matrix multiplies run in libtorch, cast on use: fp32 or bf16-libtorch.</summary>
    public string Backend => IsBFloat16 ? InferenceBackend.BFloat16Libtorch.Name : InferenceBackend.Fp32.Name;

    private Precision(string name, ScalarType matmulType)
    {
        Name = name;
        MatmulType = matmulType;
    }

    public static readonly Precision Float32 = new("fp32", ScalarType.Float32);
    public static readonly Precision BFloat16 = new("bf16", ScalarType.BFloat16);
    public bool IsBFloat16 => MatmulType == ScalarType.BFloat16;

    /// <summary>
    /// x·wᵀ + b, then ReLU if `relu`, in the matmul type, through libtorch; inputs already of that type (a model prepared
    /// for inference) are not copied. The result is of the matmul type.
    /// </summary>
    public Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null, bool relu = false, bool feedsMatmul = false)
    {
        var result = x.dtype == MatmulType && weight.dtype == MatmulType && (bias is null || bias.dtype == MatmulType)
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
            : throw new UserError("`precision` bf16: this CPU has no AVX512_BF16 or AMX instructions, so bfloat16 would be slower than float32; use `precision` fp32"),
        "auto" => BFloat16Supported(device, cpuFlags) ? BFloat16 : Float32,
        _ => throw new UserError($"`precision` must be fp32, bf16 or auto, got '{name}'"),
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
