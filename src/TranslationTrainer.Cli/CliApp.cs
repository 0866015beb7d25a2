using System.CommandLine;

namespace TranslationTrainer.Cli;

/// <summary>The command tree; Program.Main and the in-process tests both enter here.</summary>
public static class CliApp
{
    public static int Run(string[] args, CliContext context)
    {
        var root = new RootCommand("Train, run and score Transformer translation models.")
        {
            VocabCommand.Create(context),
            EncodeCommand.Create(context),
            DecodeCommand.Create(context),
            TrainCommand.Create(context),
            TranslateCommand.Create(context),
            EvalCommand.Create(context),
        };
        // Signals are handled by the commands that have work to save (train), not by a forced exit.
        var config = new InvocationConfiguration { Output = context.Out, Error = context.Error, ProcessTerminationTimeout = null };
        return root.Parse(args).Invoke(config);
    }
}
