using System.CommandLine;
using System.Globalization;
using Serilog.Events;
using TranslationTrainer.Distributed;
using TranslationTrainer.Training;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Cli;

/// <summary>`train`: every config value is also an option, generated from TrainConfig in one place.</summary>
public static class TrainCommand
{
    public static Command Create(CliContext context, CancellationToken? cancellation = null)
    {
        var config = new Option<string?>("--config") { Description = "JSON config file under configs/; options below override its values" };
        var runDir = new Option<string>("--run-dir") { Description = "run directory: created, or resumed when it holds checkpoint_last.pt", Required = true };
        var force = new Option<bool>("--force") { Description = "continue a run directory even though the config differs" };
        var values = ConfigLoader.Values.Select(v => new Option<string?>(v.OptionName) { Description = $"{v.Description} (default: {Format(v.Default)})" }).ToList();

        var command = new Command("train", "Train a Transformer on a parallel corpus, or resume a run.") { config, runDir, force };
        values.ForEach(command.Options.Add);
        command.SetAction(parse => context.Guard(() =>
        {
            var overrides = values.Where(o => parse.GetValue(o) is not null).ToDictionary(o => o.Name, o => parse.GetValue(o)!);
            var dir = parse.GetValue(runDir)!;
            var requested = RunSetup.LoadConfig(parse.GetValue(config), overrides, dir);
            using var world = World.Start(requested.Distributed, requested.DistributedTimeout, context.Error);
            using var consoleLog = RunLog.Create(null);
            if (RunSetup.Prepare(world, requested, dir, parse.GetValue(force), consoleLog) is not var (trainConfig, resume, runLock))
                return 1; // rank 0 could not prepare the run directory and said why
            using var heldLock = runLock;
            try
            {
                // On a terminal a live status line sits under rank 0's log lines (the console log goes through it);
                // redirected output gets the log lines only.
                using var statusLine = world.IsMain && context.Error == Console.Error && !Console.IsErrorRedirected ? StatusLine.Attach() : null;
                // Rank 0 writes train.log; the other ranks their own file, and only their errors on the console.
                using var log = world.IsMain
                    ? RunLog.Create(Path.Combine(dir, RunDirectory.Log))
                    : RunLog.Create(Path.Combine(dir, RunDirectory.RankLog(world.Rank)), LogEventLevel.Error);
                using var signals = new SignalCancellation();
                var token = cancellation ?? signals.Token;
                var result = Trainer.Run(trainConfig, dir, resume, log, token, statusLine is null ? null : statusLine.Show, world);
                if (!result.Interrupted) return 0;
                if (world.IsMain) context.Error.WriteLine($"interrupted at update {result.Updates}; resume with: translation-trainer train --run-dir {dir}");
                return signals.ExitCode;
            }
            catch (Exception e) when (world.Size > 1)
            {
                // The other ranks are waiting for this one in a collective call: end the whole job, saying why.
                context.Error.WriteLine(e is UserError userError ? $"error: {(world.IsMain ? "" : $"rank {world.Rank}: ")}{userError.CommandLineMessage}" : $"rank {world.Rank}: {e}");
                world.Abort(1);
                throw;
            }
        }));
        return command;
    }

    private static string Format(object? value) => value switch
    {
        null or "" => "none",
        double d => d.ToString("G", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };
}
