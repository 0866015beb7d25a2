using System.CommandLine;
using TranslationTrainer.Training;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Cli;

/// <summary>`average`: averages the last interval checkpoints of a run, or named checkpoints, into one.</summary>
public static class AverageCommand
{
    private const int DefaultLast = 5;

    public static Command Create(CliContext context)
    {
        var runDir = new Option<string?>("--run-dir") { Description = "run directory whose last interval checkpoints (checkpoint_<update>.pt) are averaged" };
        var last = new Option<int?>("--last") { Description = $"with --run-dir: how many of the last interval checkpoints (default: {DefaultLast})" };
        var checkpoints = new Option<string[]>("--checkpoints") { Description = "checkpoint files to average instead of --run-dir", AllowMultipleArgumentsPerToken = true, Arity = ArgumentArity.OneOrMore };
        var output = new Option<string?>("--output") { Description = $"averaged checkpoint (default with --run-dir: RUN/{RunDirectory.AveragedCheckpoint}; required with --checkpoints)" };
        var command = new Command("average", "Average the parameters of several checkpoints of one model into a new checkpoint.") { runDir, last, checkpoints, output };
        command.SetAction(parse => context.Guard(() =>
        {
            var dir = parse.GetValue(runDir);
            var files = parse.GetValue(checkpoints) ?? [];
            if ((dir is null) == (files.Length == 0)) throw new UserError("give either --run-dir or --checkpoints");
            if (dir is null && parse.GetValue(last) is not null) throw new UserError("--last goes with --run-dir, not --checkpoints");
            var outputPath = parse.GetValue(output) ?? (dir is null
                ? throw new UserError("--output is required with --checkpoints")
                : Path.Combine(dir, RunDirectory.AveragedCheckpoint));
            var inputs = dir is null ? files.ToList() : CheckpointAveraging.LastIntervalCheckpoints(dir, parse.GetValue(last) ?? DefaultLast);
            var header = CheckpointAveraging.Average(inputs, outputPath);
            context.Out.WriteLine($"averaged {inputs.Count} checkpoint{(inputs.Count == 1 ? "" : "s")} ({string.Join(", ", inputs.Select(Path.GetFileName))}) into {outputPath} (update {header.Progress.Update})");
            return 0;
        }));
        return command;
    }
}
