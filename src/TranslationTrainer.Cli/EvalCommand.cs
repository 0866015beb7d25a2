using System.CommandLine;
using TranslationTrainer.Decoding;
using TranslationTrainer.Evaluation;

namespace TranslationTrainer.Cli;

/// <summary>
/// <c>eval</c>: sacreBLEU's scoring from the command line. One --hyp scores a system; several with
/// --paired-bs/--paired-ar test each against the first (the baseline); several without print a table.
/// </summary>
public static class EvalCommand
{
    public static Command Create(CliContext context)
    {
        var hyp = new Option<string[]>("--hyp") { Description = "Hypothesis file(s); '-' or none reads standard input. With several, the first is the baseline of paired tests.", AllowMultipleArgumentsPerToken = true, Arity = ArgumentArity.ZeroOrMore };
        var refs = new Option<string[]>("--ref") { Description = "Reference file(s), one per reference set.", Required = true, AllowMultipleArgumentsPerToken = true, Arity = ArgumentArity.OneOrMore };
        var metrics = new Option<string>("--metrics") { Description = "Comma-separated: bleu, chrf, ter, wer, cer (word and character error rate).", DefaultValueFactory = _ => "bleu" };
        var tokenize = new Option<string>("--tokenize") { Description = "BLEU tokenizer: 13a, intl, char, none.", DefaultValueFactory = _ => "13a" };
        var lowercase = new Option<bool>("--lowercase") { Description = "Case-insensitive BLEU." };
        var smoothMethod = new Option<string>("--smooth-method") { Description = "BLEU smoothing: exp, floor, add-k, none.", DefaultValueFactory = _ => "exp" };
        var smoothValue = new Option<double?>("--smooth-value") { Description = "Value for floor (default 0.1) and add-k (default 1)." };
        var force = new Option<bool>("--force") { Description = "Do not warn about hypotheses that look tokenized." };
        var chrfWordOrder = new Option<int>("--chrf-word-order") { Description = "chrF word n-gram order; 2 gives chrF++.", DefaultValueFactory = _ => 0 };
        var chrfEps = new Option<bool>("--chrf-eps-smoothing") { Description = "chrF++.py-style epsilon smoothing instead of effective order." };
        var werNormalize = new Option<bool>("--wer-normalize") { Description = "WER and CER: lowercase and delete punctuation (Unicode P*) on both sides first." };
        var format = new Option<string>("--format") { Description = "text or json.", DefaultValueFactory = _ => "text" };
        var width = new Option<int>("--width") { Description = "Decimals printed.", DefaultValueFactory = _ => 1 };
        var sentenceLevel = new Option<bool>("--sentence-level") { Description = "One score per line (one metric, one system)." };
        var confidence = new Option<bool>("--confidence") { Description = "95% confidence interval by bootstrap resampling." };
        var confidenceN = new Option<int>("--confidence-n") { Description = "Bootstrap resamples for --confidence.", DefaultValueFactory = _ => Significance.DefaultBootstrapSamples };
        var pairedBs = new Option<bool>("--paired-bs") { Description = "Paired bootstrap test of each system against the first." };
        var pairedBsN = new Option<int>("--paired-bs-n") { Description = "Resamples for --paired-bs.", DefaultValueFactory = _ => Significance.DefaultBootstrapSamples };
        var pairedAr = new Option<bool>("--paired-ar") { Description = "Paired approximate randomization test of each system against the first." };
        var pairedArN = new Option<int>("--paired-ar-n") { Description = "Trials for --paired-ar.", DefaultValueFactory = _ => Significance.DefaultRandomizationTrials };
        var seed = new Option<int>("--seed") { Description = "Seed of the resampling.", DefaultValueFactory = _ => Significance.DefaultSeed };
        var checkpoint = new Option<string[]>("--checkpoint")
        {
            Description = "Translate --src with this checkpoint (or run directory) and score the detokenized output instead of --hyp. Repeat it to translate with an ensemble.",
            Arity = ArgumentArity.ZeroOrMore, AllowMultipleArgumentsPerToken = false,
        };
        var source = new Option<string?>("--src") { Description = "Source file to translate with --checkpoint." };
        var decoding = new TranslateCommand.DecodingOptionSet();

        var command = new Command("eval", "Score translations with sacreBLEU's BLEU, chrF and TER, or transcripts with WER and CER.")
        {
            hyp, refs, metrics, tokenize, lowercase, smoothMethod, smoothValue, force, chrfWordOrder, chrfEps,
            werNormalize, format, width, sentenceLevel, confidence, confidenceN, pairedBs, pairedBsN, pairedAr, pairedArN, seed, checkpoint, source,
        };
        decoding.AddTo(command);
        command.SetAction(parse => context.Guard(() =>
        {
            var metricNames = parse.GetValue(metrics)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(m => m.ToLowerInvariant()).ToList();
            var options = new EvalOptions
            {
                Metrics = metricNames,
                Bleu = new BleuOptions(
                    Tokenize: parse.GetValue(tokenize)!, Lowercase: parse.GetValue(lowercase),
                    SmoothMethod: parse.GetValue(smoothMethod)!, SmoothValue: parse.GetValue(smoothValue), Force: parse.GetValue(force)),
                Chrf = new ChrfOptions(WordOrder: parse.GetValue(chrfWordOrder), EpsSmoothing: parse.GetValue(chrfEps)),
                Wer = new WerOptions(Lowercase: parse.GetValue(werNormalize), RemovePunctuation: parse.GetValue(werNormalize)),
                ConfidenceSamples = parse.GetValue(confidence) ? parse.GetValue(confidenceN) : 0,
                Seed = parse.GetValue(seed),
            };
            var request = new Request(
                parse.GetValue(hyp) ?? [], parse.GetValue(refs)!, options, parse.GetValue(format)!, parse.GetValue(width),
                parse.GetValue(sentenceLevel), parse.GetValue(pairedBs), parse.GetValue(pairedAr),
                parse.GetValue(pairedBs) ? parse.GetValue(pairedBsN) : parse.GetValue(pairedArN));
            if (parse.GetValue(checkpoint) is { Length: > 0 } checkpoints)
            {
                // Translate-and-score: the output is detokenized text, scored exactly like a --hyp file.
                var sourcePath = parse.GetValue(source) ?? throw new UserError("--checkpoint needs --src, the source file to translate");
                if (request.Hyps.Length > 0) throw new UserError("--checkpoint replaces --hyp; give one or the other");
                var sourceLines = EvalInput.ReadFile(sourcePath);
                var translator = decoding.CreateTranslator(parse, checkpoints, decoding.Read(parse), context.Error);
                var hypotheses = translator.TranslateAll(translator.ReadsSpeech ? [.. Translator.AudioPaths(sourceLines, sourcePath)] : sourceLines).Select(r => r.Best).ToList();
                return Run(request with { Translated = (string.Join(" + ", checkpoints), hypotheses) }, context);
            }
            if (parse.GetValue(source) is not null) throw new UserError("--src is only used with --checkpoint");
            return Run(request, context);
        }));
        return command;
    }

    private sealed record Request(
        string[] Hyps, string[] Refs, EvalOptions Options, string Format, int Width,
        bool SentenceLevel, bool PairedBs, bool PairedAr, int PairedSamples)
    {
        /// <summary>With --checkpoint: the translated source, which stands in for --hyp.</summary>
        public (string Name, IReadOnlyList<string> Lines)? Translated { get; init; }
    }

    private static int Run(Request r, CliContext context)
    {
        Validate(r);
        var references = r.Refs.Select(EvalInput.ReadFile).ToList();
        var systems = ReadSystems(r, context);
        foreach (var (name, lines) in systems)
            for (int i = 0; i < references.Count; i++)
                EvalInput.CheckSameLength(name, lines.Count, r.Refs[i], references[i].Count);

        bool json = r.Format == "json";
        if (r.SentenceLevel)
        {
            foreach (var result in Evaluator.ScoreSentences(systems[0].Lines, references, r.Options))
                context.Out.WriteLine(json ? ScoreFormat.JsonLine(result, r.Width) : ScoreFormat.TextLine(result, r.Width));
            return 0;
        }
        if (systems.Count == 1)
        {
            var report = Evaluator.Score(systems[0].Lines, references, r.Options);
            foreach (var warning in report.Warnings) context.Error.WriteLine($"warning: {warning}");
            if (json) context.Out.WriteLine(ScoreFormat.Json(report.Results, r.Width));
            else foreach (var line in ScoreFormat.TextLines(report.Results, r.Width)) context.Out.WriteLine(line);
            return 0;
        }

        var named = systems.Select(s => (s.Name, s.Lines)).ToList();
        PairedReport table;
        if (r.PairedBs || r.PairedAr)
        {
            table = Evaluator.PairedTest(named, references, r.Options,
                r.PairedBs ? PairedTestKind.Bootstrap : PairedTestKind.ApproximateRandomization, r.PairedSamples);
            named[0] = ($"Baseline: {named[0].Name}", named[0].Lines);
            table = table with { Systems = [.. named.Select(s => s.Item1)] };
        }
        else table = Evaluator.ScoreTable(named, references, r.Options);
        context.Out.Write(json ? ScoreFormat.TableJson(table, r.Width) : ScoreFormat.TableText(table, r.Width));
        return 0;
    }

    private static void Validate(Request r)
    {
        if (!Tokenizers.Names.Contains(r.Options.Bleu.Tokenize))
            throw new UserError($"--tokenize: unknown tokenizer '{r.Options.Bleu.Tokenize}' (expected one of: {string.Join(", ", Tokenizers.Names)})");
        if (!BleuOptions.SmoothMethods.Contains(r.Options.Bleu.SmoothMethod))
            throw new UserError($"--smooth-method: unknown method '{r.Options.Bleu.SmoothMethod}' (expected one of: {string.Join(", ", BleuOptions.SmoothMethods)})");
        var unknown = r.Options.Metrics.FirstOrDefault(m => !EvalOptions.MetricNames.Contains(m));
        if (unknown is not null || r.Options.Metrics.Count == 0)
            throw new UserError($"--metrics: unknown metric '{unknown}' (expected a comma-separated list of: {string.Join(", ", EvalOptions.MetricNames)})");
        if (r.Format is not ("text" or "json")) throw new UserError($"--format: expected text or json, not '{r.Format}'");
        if (r.Width is < 0 or > 15) throw new UserError($"--width: expected 0 to 15, not {r.Width}");
        if (r.Options.Chrf.WordOrder < 0) throw new UserError($"--chrf-word-order: expected 0 or more, not {r.Options.Chrf.WordOrder}");
        if (r.PairedBs && r.PairedAr) throw new UserError("--paired-bs and --paired-ar exclude each other");
        if ((r.PairedBs || r.PairedAr) && r.PairedSamples < 1) throw new UserError("paired tests need at least one resample");
        if (r.Options.ConfidenceSamples is > 0 and < 2) throw new UserError("--confidence-n: expected at least 2 resamples");
        bool paired = r.PairedBs || r.PairedAr;
        if (r.SentenceLevel)
        {
            if (r.Hyps.Length > 1) throw new UserError("only one system can be evaluated in sentence-level mode");
            if (r.Options.Metrics.Count > 1) throw new UserError("only one metric can be used in sentence-level mode");
            if (paired || r.Options.ConfidenceSamples > 0) throw new UserError("statistical tests are unavailable in sentence-level mode");
        }
        if (paired && r.Hyps.Length < 2) throw new UserError("paired tests need several --hyp files, the first being the baseline");
        if (r.Hyps.Length > 1 && r.Options.ConfidenceSamples > 0) throw new UserError("use --paired-bs or --paired-ar for several systems, not --confidence");
    }

    private static List<(string Name, IReadOnlyList<string> Lines)> ReadSystems(Request r, CliContext context)
    {
        if (r.Translated is { } translated) return [translated];
        if (r.Hyps.Length == 0 || (r.Hyps.Length == 1 && r.Hyps[0] == "-"))
            return [("stdin", EvalInput.ReadText(context.In.ReadToEnd(), "stdin"))];
        var systems = new List<(string Name, IReadOnlyList<string> Lines)>();
        foreach (var path in r.Hyps)
        {
            if (systems.Any(s => s.Name == path))
            {
                if ((r.PairedBs || r.PairedAr) && path == systems[0].Name) continue;  // the baseline named again, as sacreBLEU allows
                throw new UserError($"--hyp: '{path}' given twice");
            }
            systems.Add((path, path == "-" ? EvalInput.ReadText(context.In.ReadToEnd(), "stdin") : EvalInput.ReadFile(path)));
        }
        return systems;
    }
}
