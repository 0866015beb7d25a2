using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using TranslationTrainer.Tests.Cli;
using TranslationTrainer.Tests.Training;

namespace TranslationTrainer.Tests.Serving;

[Collection(TorchCollection.Name)]
public class ServeCommandTests
{
    private static void AssertOneLineError(CliRunner.Result result, string expected)
    {
        Assert.Equal(1, result.ExitCode);
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got: {result.Error}");
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
    }

    [Fact]
    public void BadOptionsAndCheckpointsAreOneLineErrorsBeforeListening()
    {
        var run = TinyRun.TrainedRunDirectory;
        AssertOneLineError(CliRunner.Run("serve", "--checkpoint", Path.Combine(run, "missing.pt")), "missing.pt");
        AssertOneLineError(CliRunner.Run("serve", "--checkpoint", run, "--port", "70000"), "--port must be between 0 and 65535");
        AssertOneLineError(CliRunner.Run("serve", "--checkpoint", run, "--host", "example.org"), "--host must be an IP address or localhost");
        AssertOneLineError(CliRunner.Run("serve", "--checkpoint", run, "--max-queue", "0"), "--max-queue must be at least 1");
        AssertOneLineError(CliRunner.Run("serve", "--checkpoint", run, "--beam", "0"), "--beam must be at least 1");
        AssertOneLineError(CliRunner.Run("serve", "--checkpoint", run, "--api-key", ""), "--api-key must not be empty");

        var damaged = Path.Combine(Directory.CreateTempSubdirectory("tt-serve").FullName, "damaged.pt");
        File.WriteAllText(damaged, "not a checkpoint");
        AssertOneLineError(CliRunner.Run("serve", "--checkpoint", damaged, "--vocab", Path.Combine(run, "vocab")), damaged);

        // A checkpoint outside a run directory has no config.json to tell its languages.
        var copy = Path.Combine(Directory.CreateTempSubdirectory("tt-serve").FullName, "model.pt");
        File.Copy(Path.Combine(run, "checkpoint_last.pt"), copy);
        AssertOneLineError(CliRunner.Run("serve", "--checkpoint", copy, "--vocab", Path.Combine(run, "vocab")), "give --source-lang and --target-lang");

        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        AssertOneLineError(CliRunner.Run("serve", "--checkpoint", run, "--port", port.ToString()), $"cannot listen on 127.0.0.1:{port}");
    }

    /// <summary>The real process: it prints where it listens, translates, and exits 0 on SIGTERM.</summary>
    [Fact]
    public async Task SigtermStopsTheServerProcessWithExitCodeZero()
    {
        var error = new StringBuilder();
        using var child = FaultTests.StartCli(["serve", "--checkpoint", TinyRun.TrainedRunDirectory, "--port", "0", "--threads", "1", .. TestServer.DecodingArgs], error);
        Uri? address = null;
        var waited = Stopwatch.StartNew();
        while (address is null && !child.HasExited && waited.Elapsed < TimeSpan.FromSeconds(60))
        {
            lock (child.StartInfo) address = Regex.Match(error.ToString(), @"Listening on (http://\S+/)") is { Success: true } m ? new Uri(m.Groups[1].Value) : null;
            await Task.Delay(20);
        }
        Assert.True(address is not null, $"no address printed: {error}");
        using var client = new HttpClient { BaseAddress = address };
        while ((await client.GetAsync("/health")).StatusCode != HttpStatusCode.OK) await Task.Delay(20);
        var answer = await client.PostAsync("/translate", new FormUrlEncodedContent([new("q", "hola"), new("source", "es"), new("target", "en")]));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);

        Process.Start("kill", ["-TERM", child.Id.ToString()])!.WaitForExit();
        Assert.True(child.WaitForExit(30_000), "serve did not stop after SIGTERM");
        child.WaitForExit(); // drains the redirected output, which a timed wait does not
        Assert.Equal(0, child.ExitCode);
        Assert.Contains("Stopped after translating 1 sentences", error.ToString());
    }
}
