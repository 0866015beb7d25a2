using System.CommandLine;
using TranslationTrainer.Decoding;

namespace TranslationTrainer.Cli;

/// <summary>`translate`: decodes a file or stdin with a checkpoint, in input order.</summary>
public static class TranslateCommand
{
    /// <summary>The decoding options shared by `translate` and `eval --checkpoint`.</summary>
    public sealed class DecodingOptionSet
    {
        private static readonly DecodingOptions Defaults = new();
        public Option<int> Beam { get; } = new("--beam") { Description = "beam size; 1 = greedy", DefaultValueFactory = _ => Defaults.Beam };
        public Option<int> BatchSize { get; } = new("--batch-size") { Description = "sentences per batch (sorted by length)", DefaultValueFactory = _ => Defaults.BatchSize };
        public Option<double> LengthPenalty { get; } = new("--length-penalty") { Description = "length penalty α (0 = none)", DefaultValueFactory = _ => Defaults.LengthPenalty };
        public Option<string> LengthPenaltyStyle { get; } = new("--length-penalty-style") { Description = "gnmt: ((5+|y|)/6)^α, or simple: |y|^α", DefaultValueFactory = _ => Defaults.LengthPenaltyStyle };
        public Option<double> MaxLenA { get; } = new("--max-len-a") { Description = "output at most a·|source| + b subwords", DefaultValueFactory = _ => Defaults.MaxLenA };
        public Option<int> MaxLenB { get; } = new("--max-len-b") { Description = "see --max-len-a", DefaultValueFactory = _ => Defaults.MaxLenB };
        public Option<int> MinLen { get; } = new("--min-len") { Description = "output at least this many subwords", DefaultValueFactory = _ => Defaults.MinLen };
        public Option<int> NoRepeatNgram { get; } = new("--no-repeat-ngram") { Description = "never repeat an n-gram of this many subwords in one output (0 = off)", DefaultValueFactory = _ => Defaults.NoRepeatNgram };
        public Option<bool> AllowUnk { get; } = new("--allow-unk") { Description = "let the model output <unk>" };
        public Option<string> Device { get; } = new("--device") { Description = "auto, cpu or cuda", DefaultValueFactory = _ => "auto" };
        public Option<int> Threads { get; } = new("--threads") { Description = "CPU threads (0 = all cores)", DefaultValueFactory = _ => 0 };
        public Option<int> Workers { get; } = new("--workers") { Description = "batches decoded at once, sharing the threads (0 = auto: one single-threaded worker per thread on a CPU, 1 on a GPU)", DefaultValueFactory = _ => Defaults.Workers };
        public Option<string> Precision { get; } = new("--precision") { Description = "auto (bf16 where the hardware runs it fast, else fp32), fp32, or bf16 (weights cast to bfloat16 once; needs AVX512_BF16/AMX or a GPU)", DefaultValueFactory = _ => "auto" };
        public Option<string?> Vocab { get; } = new("--vocab") { Description = "vocabulary directory (default: the run directory's copy)" };
        public Option<double> MaxSeconds { get; } = new("--max-seconds") { Description = "speech models: refuse audio files longer than this", DefaultValueFactory = _ => Defaults.MaxSeconds };
        public Option<bool> Ctc { get; } = new("--ctc") { Description = "speech models trained with --ctc-weight: decode from the encoder's CTC head (best path; no decoder, --beam ignored)" };

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { Beam, BatchSize, LengthPenalty, LengthPenaltyStyle, MaxLenA, MaxLenB, MinLen, NoRepeatNgram, AllowUnk, Device, Threads, Workers, Precision, Vocab, MaxSeconds, Ctc })
                command.Options.Add(option);
        }

        public DecodingOptions Read(ParseResult parse, int nbest = 1)
        {
            var options = new DecodingOptions
            {
                Beam = parse.GetValue(Beam), BatchSize = parse.GetValue(BatchSize), Workers = parse.GetValue(Workers), LengthPenalty = parse.GetValue(LengthPenalty),
                LengthPenaltyStyle = parse.GetValue(LengthPenaltyStyle)!, MaxLenA = parse.GetValue(MaxLenA), MaxLenB = parse.GetValue(MaxLenB),
                MinLen = parse.GetValue(MinLen), NoRepeatNgram = parse.GetValue(NoRepeatNgram), AllowUnk = parse.GetValue(AllowUnk), NBest = nbest,
                MaxSeconds = parse.GetValue(MaxSeconds), Ctc = parse.GetValue(Ctc),
            };
            options.Validate();
            return options;
        }

        /// <summary>Where the model runs: --device, --threads, --precision and --vocab.</summary>
        public RuntimeSettings Runtime(ParseResult parse) =>
            new(parse.GetValue(Device)!, parse.GetValue(Threads), parse.GetValue(Precision)!, parse.GetValue(Vocab));

        /// <summary>Loads the checkpoints (several: an ensemble) and vocabulary on the chosen device and returns a ready translator.</summary>
        public Translator CreateTranslator(ParseResult parse, IReadOnlyList<string> checkpoints, DecodingOptions options, TextWriter warnings) =>
            TranslatorLoader.Load(checkpoints, Runtime(parse), options, message => warnings.WriteLine($"warning: {message}")).Translator;

        /// <summary>The translator with the device and precision it runs on.</summary>
        public LoadedTranslator Load(ParseResult parse, string checkpoint, DecodingOptions options, Action<string> warn) =>
            TranslatorLoader.Load(checkpoint, Runtime(parse), options, warn);
    }

    public static Command Create(CliContext context)
    {
        var checkpoint = new Option<string[]>("--checkpoint")
        {
            Description = "checkpoint file, or run directory (its best checkpoint); repeat it to decode with an ensemble, which averages the models' probabilities",
            Required = true, Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false,
        };
        var input = new Option<string>("--input")
        {
            Description = "source text, one sentence per line; - = stdin. A speech model reads WAV paths, one per line, or a manifest (wav path<TAB>text), paths relative to the file",
            DefaultValueFactory = _ => "-",
        };
        var output = new Option<string>("--output") { Description = "translations; - = stdout (a file is written whole or not at all)", DefaultValueFactory = _ => "-" };
        var nbest = new Option<int>("--nbest") { Description = "output the N best translations per line (with --output-format json)", DefaultValueFactory = _ => 1 };
        var format = new Option<string>("--output-format") { Description = "text (one translation per line) or json (one object per line with n-best and scores)", DefaultValueFactory = _ => "text" };
        var alignment = new Option<bool>("--alignment") { Description = "with --output-format json: add \"alignment\": [[target, source], ...], subword indices (without </s>) from the last decoder layer's cross-attention" };
        var attentionPng = new Option<string?>("--attention-png") { Description = "write DIR/NNNN.png per input line (1-based): a heat map of the last decoder layer's cross-attention, averaged over heads" };
        var buffer = new Option<int>("--buffer-size") { Description = "lines read before decoding a chunk (default: 1 on an interactive terminal, else 2000)", DefaultValueFactory = _ => 0 };
        var decoding = new DecodingOptionSet();
        var command = new Command("translate", "Translate a file or stdin with a trained model.") { checkpoint, input, output, nbest, format, alignment, attentionPng, buffer };
        decoding.AddTo(command);
        command.SetAction(parse => context.Guard(() =>
        {
            var outputFormat = parse.GetValue(format)!;
            if (outputFormat is not ("text" or "json")) throw new UserError($"--output-format must be text or json, got '{outputFormat}'");
            if (parse.GetValue(alignment) && outputFormat != "json") throw new UserError("--alignment needs --output-format json");
            var pngDirectory = parse.GetValue(attentionPng);
            var options = decoding.Read(parse, parse.GetValue(nbest)) with { Alignment = parse.GetValue(alignment), AttentionMaps = pngDirectory is not null };
            string inputPath = parse.GetValue(input)!, outputPath = parse.GetValue(output)!;
            if (inputPath != "-") TextFile.RequireFile(inputPath, "input file");
            if (outputPath != "-" && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(outputPath))))
                throw new UserError($"--output {outputPath}: directory does not exist");
            if (pngDirectory is not null) AttentionPngs.Prepare(pngDirectory);
            var translator = decoding.CreateTranslator(parse, parse.GetValue(checkpoint)!, options, context.Error);

            bool interactive = inputPath == "-" && context.In == Console.In && !Console.IsInputRedirected;
            int chunk = parse.GetValue(buffer) is > 0 and var size ? size : interactive ? 1 : 2000;
            // With --output FILE, SIGINT/SIGTERM stop the work at the next line read or written, so the file is never renamed
            // into place and its temporary file is removed; on stdout a signal ends the process as usual.
            using var signals = outputPath == "-" ? null : new SignalCancellation();
            var token = signals?.Token ?? CancellationToken.None;
            var lines = Cancellable(inputPath == "-" ? ReadAll(context.In) : TextFile.ReadLines(inputPath), token);
            if (translator.ReadsSpeech && inputPath != "-") lines = Translator.AudioPaths(lines, inputPath);
            var results = translator.Translate(lines, chunk);
            if (pngDirectory is not null) results = AttentionPngs.WriteEach(results, pngDirectory);
            // A byte-level subword can decode to a line break; the text format keeps one output line per input line.
            var formatted = Cancellable(results.Select(r => outputFormat == "json" ? TranslationJson.Create(r).ToJsonString() : r.Best.ReplaceLineEndings(" ")), token);
            try
            {
                if (outputPath == "-")
                {
                    foreach (var line in formatted)
                    {
                        context.Out.WriteLine(line);
                        if (interactive) context.Out.Flush();
                    }
                }
                else
                {
                    TextFile.WriteLinesAtomically(outputPath, formatted);
                }
            }
            catch (OperationCanceledException) when (signals is not null && token.IsCancellationRequested)
            {
                context.Error.WriteLine($"interrupted; {outputPath} was not written");
                return signals.ExitCode;
            }
            return 0;
        }));
        return command;
    }

    private static IEnumerable<string> Cancellable(IEnumerable<string> lines, CancellationToken token)
    {
        foreach (var line in lines)
        {
            token.ThrowIfCancellationRequested();
            yield return line;
        }
    }

    private static IEnumerable<string> ReadAll(TextReader reader)
    {
        while (reader.ReadLine() is { } line) yield return line;
    }
}
