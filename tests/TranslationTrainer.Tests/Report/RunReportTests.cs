using TranslationTrainer.Report;
using TranslationTrainer.Tests.Cli;
using TranslationTrainer.Tests.Training;

namespace TranslationTrainer.Tests.Report;

[Collection(TorchCollection.Name)]
public class RunReportTests
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
    private const string EmbeddedPng = "data:image/png;base64,";

    private static string Data(string name) => Path.Combine(TinyRun.Directory, name);

    private static string NewOutput() => Path.Combine(Directory.CreateTempSubdirectory("tt-report").FullName, "report");

    /// <summary>A tiny test set whose first line, long enough to be drawn, is markup that must be escaped.</summary>
    private static (string Src, string Ref) TestSet()
    {
        var dir = Directory.CreateTempSubdirectory("tt-report-test").FullName;
        string src = Path.Combine(dir, "test.es"), reference = Path.Combine(dir, "test.en");
        File.WriteAllLines(src, ["<script>alert(1)</script> y dijo Dios & sea la luz", .. File.ReadLines(Data("valid.es")).Take(5)]);
        File.WriteAllLines(reference, ["and God said <b>let there be light</b>", .. File.ReadLines(Data("valid.en")).Take(5)]);
        return (src, reference);
    }

    [Fact]
    public void AReportOfATinyRunHasEverySectionAndEveryImageEmbedded()
    {
        var (src, reference) = TestSet();
        var output = NewOutput();
        var result = CliRunner.Run("report", "--run-dir", TinyRun.TrainedRunDirectory, "--test-src", src, "--test-ref", reference,
            "--output", output, "--attention-sentences", "2", "--beam", "2", "--threads", "1");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains(Path.Combine(output, RunReport.PageFile), result.Out);

        int heads = TinyRun.Config().Model.Heads;
        var expected = new List<string> { "loss.png", "learning-rate.png", "throughput.png", "valid-scores.png", "length-buckets.png" };
        for (int n = 1; n <= 2; n++)
            expected.AddRange([$"attention-{n}-average.png", .. Enumerable.Range(1, heads).Select(h => $"attention-{n}-head-{h}.png")]);
        var files = Directory.GetFiles(output).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(expected.Append(RunReport.PageFile).Order(), files);
        foreach (var png in expected) Assert.Equal(PngSignature, File.ReadAllBytes(Path.Combine(output, png))[..8]);

        var html = File.ReadAllText(Path.Combine(output, RunReport.PageFile));
        foreach (var heading in ReportPage.Headings) Assert.Contains($"<h2>{heading}</h2>", html);
        Assert.Equal(expected.Count, html.Split(EmbeddedPng).Length - 1);
        Assert.DoesNotContain("src=\"attention", html); // embedded, not linked: the page stands alone
        Assert.Contains("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:", html);
        Assert.Contains("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:", html);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt; y dijo Dios &amp; sea la luz", html);
        Assert.DoesNotContain("<script>", html);
        Assert.DoesNotContain("<b>let", html);
    }

    [Fact]
    public void WithoutATestSetTheTestSectionsSaySoAndOnlyTheCurvesAreDrawn()
    {
        var output = NewOutput();
        var result = CliRunner.Run("report", "--run-dir", TinyRun.TrainedRunDirectory, "--output", output, "--threads", "1");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal(["learning-rate.png", "loss.png", RunReport.PageFile, "throughput.png", "valid-scores.png"],
            Directory.GetFiles(output).Select(Path.GetFileName).Order());
        var html = File.ReadAllText(Path.Combine(output, RunReport.PageFile));
        foreach (var heading in ReportPage.Headings) Assert.Contains($"<h2>{heading}</h2>", html);
        Assert.Contains("Omitted: no test set was given", html);
        Assert.Equal(4, html.Split(EmbeddedPng).Length - 1);
    }

    [Fact]
    public void MaxSentencesScoresOnlyTheFirstLines()
    {
        var output = NewOutput();
        var result = CliRunner.Run("report", "--run-dir", TinyRun.TrainedRunDirectory, "--test-src", Data("valid.es"), "--test-ref", Data("valid.en"),
            "--max-sentences", "4", "--attention-sentences", "1", "--beam", "1", "--output", output, "--threads", "1");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("4 sentences (the first 4 of its 12 lines)", File.ReadAllText(Path.Combine(output, RunReport.PageFile)));
    }

    [Fact]
    public void WritingAgainLeavesNoPictureThePageDoesNotShow()
    {
        var output = NewOutput();
        string[] common = ["report", "--run-dir", TinyRun.TrainedRunDirectory, "--output", output, "--beam", "1", "--threads", "1"];
        var first = CliRunner.Run([.. common, "--test-src", Data("valid.es"), "--test-ref", Data("valid.en"), "--attention-sentences", "2"]);
        Assert.True(first.ExitCode == 0, first.Error);
        File.WriteAllText(Path.Combine(output, "mine.png"), "not the report's");
        var second = CliRunner.Run(common);
        Assert.True(second.ExitCode == 0, second.Error);
        Assert.Equal(["learning-rate.png", "loss.png", "mine.png", RunReport.PageFile, "throughput.png", "valid-scores.png"],
            Directory.GetFiles(output).Select(Path.GetFileName).Order());
    }

    /// <summary>Exit 1, one line on stderr holding `expected`, and `output` not created (compare's tests too).</summary>
    internal static void AssertOneLineError(CliRunner.Result result, string expected, string output)
    {
        Assert.Equal(1, result.ExitCode);
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got: {result.Error}");
        Assert.Contains(expected, lines[0]);
        Assert.False(Path.Exists(output), $"{output} was created");
    }

    [Fact]
    public void BadInputIsOneLineAndWritesNothing()
    {
        var run = TinyRun.TrainedRunDirectory;
        var output = NewOutput();
        AssertOneLineError(CliRunner.Run("report", "--run-dir", Data("no-such-run"), "--output", output), "no-such-run: run directory not found", output);

        var bare = Directory.CreateTempSubdirectory("tt-report-bare").FullName;
        AssertOneLineError(CliRunner.Run("report", "--run-dir", bare, "--output", output), "metrics file not found", output);
        File.WriteAllText(Path.Combine(bare, "metrics.jsonl"), "");
        AssertOneLineError(CliRunner.Run("report", "--run-dir", bare, "--output", output), "no metrics logged yet", output);

        AssertOneLineError(CliRunner.Run("report", "--run-dir", run, "--test-src", Data("valid.es"), "--output", output), "give both or neither", output);
        AssertOneLineError(CliRunner.Run("report", "--run-dir", run, "--test-src", Data("nope.es"), "--test-ref", Data("valid.en"), "--output", output),
            "nope.es: test source file not found", output);
        AssertOneLineError(CliRunner.Run("report", "--run-dir", run, "--test-src", Data("train.es"), "--test-ref", Data("valid.en"), "--output", output),
            "has 64 lines but --test-ref", output);
        AssertOneLineError(CliRunner.Run("report", "--run-dir", run, "--checkpoint", Data("nope.pt"), "--output", output), "nope.pt: checkpoint not found", output);
    }
}
