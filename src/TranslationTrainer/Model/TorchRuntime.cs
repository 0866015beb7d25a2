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
}
