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
            "cuda" => cuda.is_available() ? CUDA : throw new UserError("`device` cuda: no CUDA device is available (this build or machine has none); use `device` cpu"),
            "auto" => cuda.is_available() ? CUDA : CPU,
            _ => throw new UserError($"`device` must be auto, cpu or cuda, got '{name}'"),
        };
    }

    /// <summary>0 means all cores; libtorch otherwise picks its own, often oversubscribing small machines.</summary>
    public static void SetThreads(int threads)
    {
        if (threads < 0) throw new UserError("`threads` must not be negative");
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
        return IsAmdCpu() ? "generic (AMD CPU; the MKL vendor shim is not preloaded)" : "fast (Intel CPU)";
    }

    /// <summary>Whether MKL runs its fast kernels here (see MklKernels).</summary>
    public static bool MklRunsFastKernels() => MklKernels().StartsWith("fast", StringComparison.Ordinal);

    private static bool IsAmdCpu() =>
        File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo").Any(line => line.StartsWith("vendor_id", StringComparison.Ordinal) && line.Contains("AuthenticAMD"));

    /// <summary>
    /// Hands the allocator's free memory back to the system: tcmalloc's MallocExtension_ReleaseFreeMemory when it
    /// is preloaded, else glibc's malloc_trim. Batches of different shapes leave free blocks of many sizes behind,
    /// so without this resident memory follows the largest shapes seen so far plus fragmentation, even though
    /// every tensor is disposed. Costs a few milliseconds; training calls it at each progress line and after
    /// validation.
    /// </summary>
    public static unsafe void ReleaseFreeMemory()
    {
        if (!OperatingSystem.IsLinux()) return;
        var global = NativeLibrary.GetMainProgramHandle();
        if (NativeLibrary.TryGetExport(global, "MallocExtension_ReleaseFreeMemory", out var tcmalloc))
            ((delegate* unmanaged<void>)tcmalloc)();
        else if (NativeLibrary.TryGetExport(global, "malloc_trim", out var trim))
            ((delegate* unmanaged<nuint, int>)trim)(0);
    }

    /// <summary>Peak resident memory of this process so far (VmHWM), in MB; 0 where /proc is not available.</summary>
    public static double PeakRssMegabytes()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return 0;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024;
    }
}
