using System.Text.Json.Nodes;
using Serilog;
using TranslationTrainer.Data;
using TranslationTrainer.Distributed;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Training;

/// <summary>Creates a run directory, or checks that an existing one continues the same run.</summary>
public static class RunSetup
{
    /// <summary>
    /// The config a `train` call means: the --config file, else the run directory's saved config.json
    /// (so `train --run-dir R --max-updates N` extends a run), with the command-line values on top.
    /// </summary>
    public static TrainConfig LoadConfig(string? configPath, IReadOnlyDictionary<string, string> overrides, string runDir)
    {
        var saved = Path.Combine(runDir, RunDirectory.Config);
        if (configPath is null && File.Exists(saved))
        {
            var root = ConfigLoader.ReadObject(saved);
            ConfigLoader.ApplyOverrides(root, overrides);
            return ConfigLoader.Parse(root, saved);
        }
        return ConfigLoader.Load(configPath, overrides);
    }

    /// <summary>Checks inputs, then locks the run directory and writes config.json (and vocab/ for a new run).</summary>
    public static (TrainConfig Config, bool Resume, RunLock Lock) Prepare(TrainConfig config, string runDir, bool force, ILogger log)
    {
        if (File.Exists(runDir)) throw new UserError($"`run-dir` {runDir}: is a file, expected a directory");
        // --device cuda without a GPU, or bf16 without hardware for it, fails here, before anything is written.
        Model.Precision.Resolve(config.Precision, Model.TorchRuntime.ResolveDevice(config.Device));
        var configPath = Path.Combine(runDir, RunDirectory.Config);
        bool resume = File.Exists(Path.Combine(runDir, RunDirectory.LastCheckpoint)) && File.Exists(configPath);
        if (resume)
        {
            var saved = ConfigLoader.Parse(ConfigLoader.ReadObject(configPath), configPath);
            if (ConfigLoader.FirstIdentityDifference(saved, config) is { } difference)
            {
                if (!force)
                    throw new UserError($"`run-dir` {runDir} holds a run with another config ({difference}); use a new `run-dir`, or `force` to continue it anyway");
                log.Warning("Continuing {RunDir} with a changed config because of --force: {Difference}", runDir, difference);
            }
        }
        else
        {
            // Checked before anything is written, so bad input leaves no half-made run directory behind.
            if (config.IsSpeech)
            {
                Speech.SpeechManifest.CheckAudio(config.TrainSrc);
                if (config.ValidSrc != "") Speech.SpeechManifest.CheckAudio(config.ValidSrc);
            }
            else
            {
                ParallelCorpus.CheckLineCounts(config.TrainSrc, config.TrainTgt);
                if (config.ValidSrc != "") ParallelCorpus.CheckLineCounts(config.ValidSrc, config.ValidTgt);
            }
            if (!Directory.Exists(config.Vocab)) throw new UserError($"`vocab` {config.Vocab}: vocabulary directory not found");
            Text.VocabularyPair.Load(config.Vocab);
            Directory.CreateDirectory(runDir);
        }
        var runLock = RunLock.Acquire(runDir);
        try
        {
            // A kill during a save leaves a temporary file behind; it is never read, so it is removed here.
            foreach (var leftover in Directory.GetFiles(runDir, ".*.tmp")) File.Delete(leftover);
            if (!resume) CopyDirectoryAtomically(config.Vocab, Path.Combine(runDir, RunDirectory.Vocab));
            AtomicFile.Write(configPath, stream =>
            {
                using var writer = new StreamWriter(stream, leaveOpen: true);
                writer.Write(ConfigLoader.Serialize(config));
            });
        }
        catch
        {
            runLock.Dispose();
            throw;
        }
        return (config, resume, runLock);
    }

    /// <summary>
    /// Prepare for the ranks of a distributed run: rank 0 alone checks and writes the run directory, the others
    /// take its config and its resume decision. Null on the other ranks when rank 0 failed (it says why).
    /// </summary>
    public static (TrainConfig Config, bool Resume, RunLock? Lock)? Prepare(IWorld world, TrainConfig config, string runDir, bool force, ILogger log)
    {
        if (world.Size == 1) return Prepare(config, runDir, force, log);
        (TrainConfig Config, bool Resume, RunLock? Lock)? prepared = null;
        UserError? error = null;
        if (world.IsMain)
        {
            try
            {
                prepared = Prepare(config, runDir, force, log);
            }
            catch (UserError e)
            {
                error = e;
            }
        }
        if (!world.FromMain(error is null))
            return world.IsMain ? throw error! : null;
        bool resume = world.FromMain(prepared?.Resume ?? false);
        var json = world.FromMain(prepared is { } p ? ConfigLoader.Serialize(p.Config) : "");
        return world.IsMain ? prepared : (ConfigLoader.Parse((JsonObject)JsonNode.Parse(json)!, "rank 0's config"), resume, null);
    }

    /// <summary>Copies a directory tree under a temporary name, then renames it into place.</summary>
    private static void CopyDirectoryAtomically(string from, string to)
    {
        var temp = to + ".tmp";
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(temp, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        if (Directory.Exists(to)) Directory.Delete(to, recursive: true);
        Directory.Move(temp, to);
    }
}
