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
            ServeCommand.Create(context),
            EvalCommand.Create(context),
            AverageCommand.Create(context),
            PlotCommand.Create(context),
            ReportCommand.Create(context),
            CompareCommand.Create(context),
            BenchmarkCommand.Create(context),
        };
        // Signals are handled by the commands that have work to save (train), not by a forced exit.
        var config = new InvocationConfiguration { Output = context.Out, Error = context.Error, ProcessTerminationTimeout = null };
        if (args.Length == 0) args = ["--help"];
        var parse = root.Parse(args);
        var command = parse.CommandResult.Command;
        // An option that takes several values (eval --ref A B) swallows a misspelled option after it as one more value.
        var swallowed = parse.Errors.Count == 0 ? SwallowedOption(parse, command) : null;
        if (parse.Errors.Count == 0 && swallowed is null) return parse.Invoke(config);
        // One line, like every other user error, instead of the error followed by the whole help text.
        var name = command == root ? "translation-trainer" : $"translation-trainer {command.Name}";
        var unknown = swallowed ?? parse.UnmatchedTokens.FirstOrDefault();
        var candidates = command.Options.Select(o => o.Name).Concat(command.Subcommands.Select(c => c.Name));
        var suggestion = unknown is null ? null : Closest(unknown, candidates);
        context.Error.WriteLine(suggestion is null
            ? $"error: {parse.Errors[0].Message} (see {name} --help)"
            : $"error: unknown option or command '{unknown}'; did you mean {suggestion}? (see {name} --help)");
        return 1;
    }

    /// <summary>A "--name" token taken as an option's value although no option of the command has that name.</summary>
    private static string? SwallowedOption(ParseResult parse, Command command)
    {
        var known = command.Options.SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet(StringComparer.Ordinal);
        return parse.Tokens.Where(t => t.Type == System.CommandLine.Parsing.TokenType.Argument)
            .Select(t => t.Value)
            .FirstOrDefault(v => v.Length > 2 && v.StartsWith("--", StringComparison.Ordinal) && char.IsLetter(v[2]) && !known.Contains(v));
    }

    /// <summary>The candidate nearest to a mistyped word by edit distance, if it is plausibly a typo.</summary>
    private static string? Closest(string word, IEnumerable<string> candidates) =>
        candidates.Select(c => (Name: c, Distance: EditDistance(word, c)))
            .Where(c => c.Distance <= Math.Max(2, c.Name.Length / 3))
            .OrderBy(c => c.Distance).ThenBy(c => c.Name, StringComparer.Ordinal)
            .Select(c => c.Name).FirstOrDefault();

    private static int EditDistance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            previous = current;
        }
        return previous[b.Length];
    }
}
