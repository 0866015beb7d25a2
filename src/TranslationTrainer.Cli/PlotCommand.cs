using System.CommandLine;
using TranslationTrainer.Training;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Cli;

/// <summary>`plot`: draws a run's training and validation curves from metrics.jsonl into a PNG.</summary>
public static class PlotCommand
{
    public static Command Create(CliContext context)
    {
        var defaults = new MetricsPlot.Options();
        var runDir = new Option<string>("--run-dir") { Description = "run directory whose metrics.jsonl is drawn", Required = true };
        var output = new Option<string?>("--output") { Description = $"PNG file (default: RUN/{RunDirectory.Plot})" };
        var width = new Option<int>("--width") { Description = "image width in pixels", DefaultValueFactory = _ => defaults.Width };
        var height = new Option<int>("--height") { Description = "image height in pixels", DefaultValueFactory = _ => defaults.Height };
        var command = new Command("plot", "Plot training loss, validation loss and validation BLEU against updates as a PNG.") { runDir, output, width, height };
        command.SetAction(parse => context.Guard(() =>
        {
            var dir = parse.GetValue(runDir)!;
            var path = parse.GetValue(output) ?? Path.Combine(dir, RunDirectory.Plot);
            int w = parse.GetValue(width), h = parse.GetValue(height);
            if (w is < 100 or > 10_000 || h is < 100 or > 10_000) throw new UserError("--width and --height must be between 100 and 10000 pixels");
            MetricsPlot.Write(dir, path, new MetricsPlot.Options(w, h));
            context.Out.WriteLine($"wrote {path}");
            return 0;
        }));
        return command;
    }
}
