using System.CommandLine;

namespace TranslationTrainer.Cli;

/// <summary>The command tree; Program.Main and the in-process tests both enter here.</summary>
public static class CliApp
{
    public static int Run(string[] args, CliContext context)
    {
        var root = new RootCommand("Train, run and score Transformer translation models.")
        {
            EvalCommand.Create(context),
        };
        var config = new InvocationConfiguration { Output = context.Out, Error = context.Error };
        return root.Parse(args).Invoke(config);
    }
}
