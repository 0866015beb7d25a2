using System.Numerics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace TranslationTrainer.Model;

/// <summary>
/// Inverted dropout, x · mask / (1 − p), with the mask drawn in .NET on the CPU. libtorch's CPU bernoulli draws one
/// element at a time on one thread (its parallel MKL generator runs on Intel CPUs only), a noticeable share of a
/// training step. Here a xoshiro256** stream fills the noise tensor in place and a vectorised pass turns each 16
/// (bfloat16) or 32 (float32) random bits into 0 or 1/(1 − p), several times faster (docs/performance.md). Each call
/// seeds its stream from torch's generator, so masks follow torch.manual_seed and a resumed run repeats them.
/// Elsewhere (CUDA, other types) it is F.dropout.
/// </summary>
public static class Dropout
{
    public static Tensor Apply(Tensor x, double p, bool training)
    {
        if (!training || p <= 0) return x; // each libtorch call costs microseconds, many in a decoding step
        bool fast = x.device.type == DeviceType.CPU && p < 1 && (x.dtype == ScalarType.Float32 || x.dtype == ScalarType.BFloat16)
            && x.numel() * x.ElementSize <= int.MaxValue;
        if (!fast) return F.dropout(x, p, training);
        using var scope = NewDisposeScope();
        var noise = empty(x.shape, x.dtype);
        ulong seed = (ulong)randint(long.MaxValue, [1], dtype: int64).item<long>();
        FillNoise(noise.bytes, x.dtype == ScalarType.BFloat16, p, seed);
        return (x * noise).MoveToOuterDisposeScope();
    }

    /// <summary>Fills a float32 or bfloat16 buffer with 0 (probability p) or 1/(1 − p).</summary>
    public static void FillNoise(Span<byte> buffer, bool bfloat16, double p, ulong seed)
    {
        var random = new Xoshiro256(seed);
        var words = MemoryMarshal.Cast<byte, ulong>(buffer);
        for (int i = 0; i < words.Length; i++) words[i] = random.Next();
        var tail = buffer[(words.Length * 8)..];
        for (int i = 0; i < tail.Length; i++) tail[i] = (byte)random.Next();

        float scale = (float)(1 / (1 - p));
        if (bfloat16)
        {
            // 1/(1 − p) rounds in bfloat16 (1/0.9 → 1.109375), so the drop rate is set to keep the mean exact.
            ushort scaleBits = ToBFloat16Bits(scale);
            double keep = 1 / BitConverter.UInt32BitsToSingle((uint)scaleBits << 16);
            Threshold(MemoryMarshal.Cast<byte, ushort>(buffer), (ushort)Math.Clamp(Math.Round((1 - keep) * 65536), 0, 65535), scaleBits);
        }
        else Threshold(MemoryMarshal.Cast<byte, uint>(buffer), (uint)Math.Min(Math.Round(p * 4294967296.0), uint.MaxValue), BitConverter.SingleToUInt32Bits(scale));
    }

    /// <summary>Each uniform random value below the threshold becomes 0 (dropped), the rest the scale's bits.</summary>
    private static void Threshold<T>(Span<T> values, T threshold, T scaleBits) where T : unmanaged, IBinaryInteger<T>
    {
        var vectors = MemoryMarshal.Cast<T, Vector<T>>(values);
        var thresholds = new Vector<T>(threshold);
        var scales = new Vector<T>(scaleBits);
        for (int i = 0; i < vectors.Length; i++)
            vectors[i] = Vector.GreaterThanOrEqual(vectors[i], thresholds) & scales;
        for (int i = vectors.Length * Vector<T>.Count; i < values.Length; i++)
            values[i] = values[i] >= threshold ? scaleBits : T.Zero;
    }

    /// <summary>float32 → bfloat16 bits, rounded to nearest even (as libtorch converts).</summary>
    private static ushort ToBFloat16Bits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>xoshiro256** (Blackman and Vigna), seeded through splitmix64: fast, and good enough for masks.</summary>
    private struct Xoshiro256
    {
        private ulong s0, s1, s2, s3;

        public Xoshiro256(ulong seed)
        {
            s0 = SplitMix(ref seed);
            s1 = SplitMix(ref seed);
            s2 = SplitMix(ref seed);
            s3 = SplitMix(ref seed);
        }

        private static ulong SplitMix(ref ulong state)
        {
            ulong z = state += 0x9E3779B97F4A7C15;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
            return z ^ (z >> 31);
        }

        public ulong Next()
        {
            ulong result = BitOperations.RotateLeft(s1 * 5, 7) * 9;
            ulong t = s1 << 17;
            s2 ^= s0;
            s3 ^= s1;
            s1 ^= s2;
            s0 ^= s3;
            s2 ^= t;
            s3 = BitOperations.RotateLeft(s3, 45);
            return result;
        }
    }
}
