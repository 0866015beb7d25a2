using System.CommandLine;
using TranslationTrainer.Decoding;
using TranslationTrainer.Report;

namespace TranslationTrainer.Cli;

/// <summary>`report`: one self-contained HTML page about a run (curves, test scores, attention maps), PNGs next to it.</summary>
public static class ReportCommand
{
    public static Command Create(CliContext context)
    {
        var runDir = new Option<string>("--run-dir") { Description = "run directory to report on", Required = true };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "checkpoint to test (default: the run's best, else last)" };
        var testSrc = new Option<string?>("--test-src") { Description = "test source file; without it the test sections are omitted" };
        var testRef = new Option<string?>("--test-ref") { Description = "test reference file, line by line with --test-src" };
        var maxSentences = new Option<int>("--max-sentences") { Description = "score only the first N test sentences (0 = all)", DefaultValueFactory = _ => 0 };
        var attention = new Option<int>("--attention-sentences") { Description = "test sentences drawn as attention heat maps", DefaultValueFactory = _ => 3 };
        var output = new Option<string?>("--output") { Description = $"output directory (default: RUN/{RunReport.DefaultDirectory}); gets {RunReport.PageFile} and the PNGs" };
        var decoding = new TranslateCommand.DecodingOptionSet();
        var command = new Command("report", "Write an HTML report of a run: training curves, test scores by sentence length, attention heat maps.")
        {
            runDir, checkpoint, testSrc, testRef, maxSentences, attention, output,
        };
        decoding.AddTo(command);
        command.SetAction(parse => context.Guard(() =>
        {
            var options = decoding.Read(parse);
            var (device, precision) = TranslatorLoader.Apply(decoding.Runtime(parse));
            var page = RunReport.Write(new ReportRequest
            {
                RunDir = parse.GetValue(runDir)!, Checkpoint = parse.GetValue(checkpoint), Vocab = parse.GetValue(decoding.Vocab),
                TestSrc = parse.GetValue(testSrc), TestRef = parse.GetValue(testRef), Output = parse.GetValue(output),
                MaxSentences = parse.GetValue(maxSentences), AttentionSentences = parse.GetValue(attention),
                Decoding = options, Device = device, Precision = precision,
            });
            context.Out.WriteLine($"wrote {page}");
            return 0;
        }));
        return command;
    }
}
