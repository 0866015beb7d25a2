using TranslationTrainer.Model;
using static TorchSharp.torch;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Training;

/// <summary>
/// Averages the parameters of several checkpoints of one model into a new checkpoint without optimiser
/// state (fairseq's average_checkpoints, Sockeye's average): usually a little better than any one of them.
/// </summary>
public static class CheckpointAveraging
{
    /// <summary>The last <paramref name="count"/> interval checkpoints (checkpoint_&lt;update&gt;.pt) of a run directory, oldest first.</summary>
    public static List<string> LastIntervalCheckpoints(string runDir, int count)
    {
        if (count < 1) throw new UserError($"`last` must be at least 1, got {count}");
        if (!Directory.Exists(runDir)) throw new UserError($"{runDir}: run directory not found");
        var available = Trainer.IntervalCheckpoints(runDir);
        if (available.Count == 0)
            throw new UserError($"{runDir}: no interval checkpoints (checkpoint_<update>.pt); they are written at each validation, see `keep-last`");
        if (count > available.Count)
            throw new UserError($"`last` {count}, but {runDir} holds only {available.Count} interval checkpoint{(available.Count == 1 ? "" : "s")} (updates {string.Join(", ", available.Select(c => c.Update))})");
        return available.TakeLast(count).Select(c => c.Path).ToList();
    }

    /// <summary>Writes the average of <paramref name="inputs"/> to <paramref name="output"/> and returns its header (the newest input's).</summary>
    public static CheckpointHeader Average(IReadOnlyList<string> inputs, string output)
    {
        if (inputs.Count == 0) throw new UserError("no checkpoints to average");
        var directory = Path.GetDirectoryName(Path.GetFullPath(output))!;
        if (!Directory.Exists(directory)) throw new UserError($"`output` {output}: directory {directory} does not exist");
        var headers = inputs.Select(Checkpoint.ReadHeader).ToList();
        var first = headers[0];
        for (int i = 1; i < inputs.Count; i++)
        {
            var header = headers[i];
            if (header.Architecture != first.Architecture || header.Model != first.Model || header.SourceVocabSize != first.SourceVocabSize || header.TargetVocabSize != first.TargetVocabSize)
                throw new UserError($"{inputs[i]}: model config differs from {inputs[0]}; only checkpoints of one model can be averaged");
            if (header.VocabFingerprint != first.VocabFingerprint)
                throw new UserError($"{inputs[i]}: trained with another vocabulary than {inputs[0]}");
        }
        // The newest is the furthest-trained input, so the output carries the progress it was averaged up to.
        var newest = headers.Select((h, i) => (h, i)).MaxBy(x => (x.h.Progress.Update, x.i)).h;

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var model = ModelArchitecture.Find(first.Architecture)!.Create(first.Model, first.SourceVocabSize, first.TargetVocabSize);
        // Summed in float64 so the average of many checkpoints loses no precision.
        var sums = new Dictionary<string, Tensor>();
        foreach (var path in inputs)
        {
            Checkpoint.LoadInto(path, model, optimizer: null);
            foreach (var (name, value) in model.Module.state_dict())
            {
                var asDouble = value.to(float64, copy: true);
                sums[name] = sums.TryGetValue(name, out var sum) ? sum.add_(asDouble) : asDouble;
            }
        }
        foreach (var (name, value) in model.Module.state_dict())
            value.copy_((sums[name] / inputs.Count).to(value.dtype));
        Checkpoint.Save(output, newest, model, optimizer: null);
        return newest with { HasOptimizer = false };
    }
}
