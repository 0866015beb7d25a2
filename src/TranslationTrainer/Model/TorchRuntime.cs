using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace TranslationTrainer.Model;

/// <summary>Device and thread choices, made once at the start of a command.</summary>
public static class TorchRuntime
{
    /// <summary>auto = CUDA when a GPU is usable, else CPU; cuda without a GPU is a user error.</summary>
    public static Device ResolveDevice(string name)
    {
        return name switch
        {
            "cpu" => CPU,
            "cuda" => cuda.is_available() ? CUDA : throw new UserError("--device cuda: no CUDA device is available (this build or machine has none); use --device cpu"),
            "auto" => cuda.is_available() ? CUDA : CPU,
            _ => throw new UserError($"--device must be auto, cpu or cuda, got '{name}'"),
        };
    }

    /// <summary>0 means all cores; libtorch otherwise picks its own, often oversubscribing small machines.</summary>
    public static void SetThreads(int threads)
    {
        if (threads < 0) throw new UserError("--threads must not be negative");
        set_num_threads(threads == 0 ? Environment.ProcessorCount : threads);
    }

    /// <summary>
    /// Whether libtorch's MKL runs its AVX2/AVX-512 float32 kernels: always on Intel CPUs; on AMD only when
    /// scripts/native/mkl-intel-cpu.c is preloaded (scripts/translation-trainer does it), else its generic ones.
    /// The preloaded answer is the only copy of the vendor check in the global symbol scope (libtorch is loaded
    /// locally), so finding it there means it is in use.
    /// </summary>
    public static string MklKernels()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64) return "not used (not x86-64)";
        if (NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), "mkl_serv_intel_cpu_true", out _))
            return "fast (vendor check preloaded)";
        return IsAmdCpu() ? "generic (AMD CPU; run through scripts/translation-trainer for the fast ones)" : "fast (Intel CPU)";
    }

    private static bool IsAmdCpu() =>
        File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo").Any(line => line.StartsWith("vendor_id", StringComparison.Ordinal) && line.Contains("AuthenticAMD"));
}
