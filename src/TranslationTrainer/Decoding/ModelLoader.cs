using TranslationTrainer.Model;
using TranslationTrainer.Text;
using TranslationTrainer.Training;
using static TorchSharp.torch;
using Transformer = TranslationTrainer.Model.Transformer;

namespace TranslationTrainer.Decoding;

public static class ModelLoader
{
    /// <summary>
    /// Loads a checkpoint (a file, or a run directory meaning its best checkpoint) and its vocabulary:
    /// the given one, else the run directory's copy. A vocabulary other than the training one is refused.
    /// With bf16 the weights are cast once here; the checkpoint itself is always float32.
    /// </summary>
    public static (ITranslationModel Model, VocabularyPair Vocab) LoadModel(string checkpoint, string? vocabDirectory, Device device, Precision? precision = null)
    {
        var (path, vocab) = Open(checkpoint, vocabDirectory);
        var (_, model) = Checkpoint.LoadModel(path, device);
        model.CastForInference(precision ?? Precision.Float32);
        return (model, vocab);
    }

    /// <summary>
    /// <see cref="LoadModel"/> for a Transformer checkpoint only: `benchmark decode` measures the Transformer itself
    /// (its bf16 kernels and cache).
    /// </summary>
    public static (Transformer Model, VocabularyPair Vocab) Load(string checkpoint, string? vocabDirectory, Device device, Precision? precision = null)
    {
        var (model, vocab) = LoadModel(checkpoint, vocabDirectory, device, precision);
        if (model is Transformer transformer) return (transformer, vocab);
        model.Dispose();
        throw new UserError($"{checkpoint}: a {model.Architecture} model; this command measures Transformers only");
    }

    /// <summary>The checkpoint's path and its vocabulary, checked against each other; no parameter is read.</summary>
    public static (string Path, VocabularyPair Vocab) Open(string checkpoint, string? vocabDirectory)
    {
        var path = Checkpoint.ResolvePath(checkpoint);
        vocabDirectory ??= Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, RunDirectory.Vocab);
        var vocab = VocabularyPair.Load(vocabDirectory);
        var header = Checkpoint.ReadHeader(path);
        if (header.VocabFingerprint != vocab.Fingerprint)
            throw new UserError($"--vocab {vocabDirectory} is not the vocabulary {path} was trained with");
        return (path, vocab);
    }
}
