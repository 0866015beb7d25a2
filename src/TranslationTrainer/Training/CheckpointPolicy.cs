using TorchSharp.Modules;
using TranslationTrainer.Text;
using TranslationTrainer.Model;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Training;

/// <summary>
/// When a run saves and what it keeps: checkpoint_last at every save; after a scheduled validation a checkpoint_N copy,
/// the newest --keep-last of them; checkpoint_best when a validation beat the best score, or while there is none.
/// </summary>
internal sealed class CheckpointPolicy(TrainConfig config, string runDir, ITranslationModel model, OptimizerHelper optimizer, VocabularyPair vocab)
{
    /// <summary>After a scheduled validation, when the run stops or is interrupted, and every --save-every updates.</summary>
    public bool IsDue(long update, bool scheduledValidation, bool stopping, bool interrupted) =>
        scheduledValidation || stopping || interrupted || (config.SaveEvery > 0 && update % config.SaveEvery == 0);

    /// <summary>Writes checkpoint_last with `progress`, then the copies: checkpoint_N if `intervalCopy`, checkpoint_best if `newBest`.</summary>
    public void Save(TrainingProgress progress, bool intervalCopy, bool newBest)
    {
        var header = new CheckpointHeader
        {
            Model = config.Model,
            SourceVocabSize = vocab.Source.Size,
            TargetVocabSize = vocab.Target.Size,
            VocabFingerprint = vocab.Fingerprint,
            Progress = progress,
        };
        var last = Path.Combine(runDir, RunDirectory.LastCheckpoint);
        Checkpoint.Save(last, header, model, optimizer);
        if (intervalCopy && config.KeepLast > 0)
        {
            CopyAtomically(last, Path.Combine(runDir, RunDirectory.IntervalCheckpoint(progress.Update)));
            foreach (var old in Trainer.IntervalCheckpoints(runDir).SkipLast(config.KeepLast)) File.Delete(old.Path);
        }
        if (newBest || !File.Exists(Path.Combine(runDir, RunDirectory.BestCheckpoint)))
            CopyAtomically(last, Path.Combine(runDir, RunDirectory.BestCheckpoint));
    }

    private static void CopyAtomically(string from, string to) =>
        AtomicFile.Write(to, stream =>
        {
            using var source = File.OpenRead(from);
            source.CopyTo(stream);
        });
}
