using System.CommandLine;
using System.Globalization;
using TranslationTrainer.Decoding;
using TranslationTrainer.Report;
using TranslationTrainer.Training;

namespace TranslationTrainer.Cli;

/// <summary>`compare`: several runs side by side on one HTML page (PNGs and compare.json next to it); the work is ArchitectureComparison's.</summary>
public static class CompareCommand
{
    public static Command Create(CliContext context)
    {
        var defaults = new ParallelismOptions();
        var runs = new Option<string[]>("--runs") { Description = "run directories to compare (one is fine)", Required = true, AllowMultipleArgumentsPerToken = true, Arity = ArgumentArity.OneOrMore };
        var testSrc = new Option<string?>("--test-src") { Description = "test source file; without it the test scores, scores by length and decoding speeds are omitted" };
        var testRef = new Option<string?>("--test-ref") { Description = "test reference file, line by line with --test-src" };
        var maxSentences = new Option<int>("--max-sentences") { Description = "score only the first N test sentences (0 = all)", DefaultValueFactory = _ => 0 };
        var output = new Option<string?>("--output") { Description = $"output directory (default: {ArchitectureComparison.DefaultDirectory}/ beside the first run); gets {ArchitectureComparison.PageFile}, {ArchitectureComparison.JsonFile} and the PNGs" };
        var lengths = new Option<string>("--parallelism-lengths") { Description = "sentence lengths (tokens) of the parallelism timing, comma-separated; none = leave it out", DefaultValueFactory = _ => string.Join(",", defaults.Lengths) };
        var tokens = new Option<int>("--parallelism-tokens") { Description = "tokens per batch of the parallelism timing, at every length", DefaultValueFactory = _ => defaults.TokensPerBatch };
        var repeats = new Option<int>("--parallelism-repeats") { Description = "timed repetitions of the parallelism timing (the median is reported)", DefaultValueFactory = _ => defaults.Repetitions };
        var warmup = new Option<int>("--parallelism-warmup") { Description = "untimed repetitions before them", DefaultValueFactory = _ => defaults.Warmup };
        var decoding = new TranslateCommand.DecodingOptionSet();
        var command = new Command("compare", "Compare runs side by side (size, training speed, validation BLEU over time, test scores by length, decoding speed, parallelism) on one HTML page.")
        {
            runs, testSrc, testRef, maxSentences, output, lengths, tokens, repeats, warmup,
        };
        decoding.AddTo(command);
        command.SetAction(parse => context.Guard(() =>
        {
            var options = decoding.Read(parse);
            var parallelism = ParseLengths(parse.GetValue(lengths)!) is { } list
                ? new ParallelismOptions { Lengths = list, TokensPerBatch = parse.GetValue(tokens), Repetitions = parse.GetValue(repeats), Warmup = parse.GetValue(warmup) }
                : null;
            parallelism?.Validate();
            var (device, precision) = TranslatorLoader.Apply(decoding.Runtime(parse));
            var page = ArchitectureComparison.Write(new CompareRequest
            {
                Runs = parse.GetValue(runs)!, TestSrc = parse.GetValue(testSrc), TestRef = parse.GetValue(testRef), Output = parse.GetValue(output),
                MaxSentences = parse.GetValue(maxSentences), Decoding = options, Device = device, Precision = precision, Parallelism = parallelism,
                Progress = line => context.Out.WriteLine(line),
            });
            context.Out.WriteLine($"wrote {page} and {Path.Combine(Path.GetDirectoryName(page)!, ArchitectureComparison.JsonFile)}");
            return 0;
        }));
        return command;
    }

    /// <summary>"10,25,50" as lengths; "none" as no timing.</summary>
    private static List<int>? ParseLengths(string text)
    {
        if (text.Trim() == "none") return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var lengths = new List<int>();
        foreach (var part in parts)
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
                throw new UserError($"`parallelism-lengths`: '{part}' is not a length; expected comma-separated token counts such as 10,50,200, or none");
            lengths.Add(n);
        }
        return lengths;
    }
}
