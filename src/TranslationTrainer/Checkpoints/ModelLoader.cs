using TranslationTrainer.Model;
using TranslationTrainer.Text;
using static TorchSharp.torch;

namespace TranslationTrainer.Checkpoints;

public static class ModelLoader
{
    /// <summary>
    /// Loads a checkpoint (a file, or a run directory meaning its best checkpoint) and its vocabulary (the given one,
    /// else the run directory's copy), prepared for decoding in `precision` (default fp32) on the backend
    /// <see cref="InferenceBackend.Choose"/> picks. A vocabulary other than the training one is refused. The
    /// checkpoint itself is always float32.
    /// </summary>
    public static (InferenceModel Model, VocabularyPair Vocab) LoadModel(string checkpoint, string? vocabDirectory, Device device, Precision? precision = null)
    {
        var (path, vocab) = Open(checkpoint, vocabDirectory);
        return (Prepare(path, device, precision), vocab);
    }

    /// <summary>
    /// Loads several checkpoints as one <see cref="EnsembleModel"/> (one checkpoint: that model itself, as
    /// <see cref="LoadModel"/>). They must share a vocabulary: the given one, else the first's run directory copy.
    /// </summary>
    public static (IDecodingModel Model, VocabularyPair Vocab) LoadEnsemble(IReadOnlyList<string> checkpoints, string? vocabDirectory, Device device, Precision? precision = null)
    {
        if (checkpoints.Count == 1) return LoadModel(checkpoints[0], vocabDirectory, device, precision);
        var (first, vocab) = Open(checkpoints[0], vocabDirectory);
        string[] paths = [first, .. checkpoints.Skip(1).Select(Checkpoint.ResolvePath)];
        foreach (var path in paths.Skip(1))
            if (Checkpoint.ReadHeader(path).VocabFingerprint != vocab.Fingerprint)
                throw new UserError($"{path} was trained with another vocabulary than {first}; an ensemble's checkpoints need the same one");
        return (new EnsembleModel([.. paths.Select(path => Prepare(path, device, precision))]), vocab);
    }

    private static InferenceModel Prepare(string path, Device device, Precision? precision) =>
        Checkpoint.LoadModel(path, device).Model.ForInference(InferenceBackend.Choose(precision ?? Precision.Float32, device));

    /// <summary>The checkpoint's path and its vocabulary, checked against each other; no parameter is read.</summary>
    public static (string Path, VocabularyPair Vocab) Open(string checkpoint, string? vocabDirectory)
    {
        var path = Checkpoint.ResolvePath(checkpoint);
        vocabDirectory ??= Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, RunDirectory.Vocab);
        var vocab = VocabularyPair.Load(vocabDirectory);
        var header = Checkpoint.ReadHeader(path);
        if (header.VocabFingerprint != vocab.Fingerprint)
            throw new UserError($"`vocab` {vocabDirectory} is not the vocabulary {path} was trained with");
        return (path, vocab);
    }
}
