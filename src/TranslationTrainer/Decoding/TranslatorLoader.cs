using TranslationTrainer.Checkpoints;
using TranslationTrainer.Model;
using static TorchSharp.torch;

namespace TranslationTrainer.Decoding;

/// <summary>Where a loaded model runs: device (auto, cpu, cuda), libtorch threads (0 = all cores), precision (auto, fp32, bf16), and the vocabulary (null: the run directory's copy).</summary>
public sealed record RuntimeSettings(string Device = "auto", int Threads = 0, string Precision = "auto", string? VocabDirectory = null);

/// <summary>A translator ready to decode, with the device and precision it runs on.</summary>
public sealed record LoadedTranslator(Translator Translator, Device Device, Precision Precision);

/// <summary>Loads a checkpoint into a <see cref="Translator"/>: what `translate`, `eval`, `serve` and `benchmark serve` share.</summary>
public static class TranslatorLoader
{
    /// <summary>Sets libtorch's thread count and resolves the device and precision: the choices made once per command.</summary>
    public static (Device Device, Precision Precision) Apply(RuntimeSettings settings)
    {
        TorchRuntime.SetThreads(settings.Threads);
        var device = TorchRuntime.ResolveDevice(settings.Device);
        return (device, Precision.Resolve(settings.Precision, device));
    }

    /// <summary>Applies the settings, loads the checkpoint (a file or a run directory) with its vocabulary, and returns the translator; warnings go to `warn`.</summary>
    public static LoadedTranslator Load(string checkpoint, RuntimeSettings settings, DecodingOptions options, Action<string>? warn = null) =>
        Load([checkpoint], settings, options, warn);

    /// <summary>As for one checkpoint; several decode as an ensemble (<see cref="ModelLoader.LoadEnsemble"/>).</summary>
    public static LoadedTranslator Load(IReadOnlyList<string> checkpoints, RuntimeSettings settings, DecodingOptions options, Action<string>? warn = null)
    {
        var (device, precision) = Apply(settings);
        var (model, vocab) = ModelLoader.LoadEnsemble(checkpoints, settings.VocabDirectory, device, precision);
        return new LoadedTranslator(new Translator(model, vocab, options, device, warn), device, precision);
    }
}
