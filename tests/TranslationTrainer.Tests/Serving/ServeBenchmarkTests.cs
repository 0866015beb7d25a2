using TranslationTrainer.Serving;
using TranslationTrainer.Tests.Training;

namespace TranslationTrainer.Tests.Serving;

[Collection(TorchCollection.Name)]
public class ServeBenchmarkTests
{
    [Fact]
    public void PercentilesAreNearestRank()
    {
        var result = new LoadResult(10, 1.0, [.. Enumerable.Range(1, 10).Select(i => i / 1000.0).Reverse()], 0);
        Assert.Equal(5, result.PercentileMs(0.5), 9);
        Assert.Equal(10, result.PercentileMs(0.95), 9);
        Assert.Equal(1, result.PercentileMs(0.01), 9);
        Assert.Equal(10, result.RequestsPerSecond);
    }

    [Fact]
    public async Task EveryPhaseSendsItsRequestsAndReadsTheServersMetrics()
    {
        await using var server = await TestServer.StartAsync();
        var lines = File.ReadLines(Path.Combine(TinyRun.Directory, "valid.es")).ToList();
        var translator = TestServer.LoadTinyRun().Translator;
        var progress = new StringWriter();
        var result = await Task.Run(() => ServeBenchmark.Run(server.Server.Address, translator, lines, new ServeLoad(Clients: 4, LatencyRequests: 5, Requests: 20, SoakRequests: 30), progress));
        Assert.Equal(5, result["c1_requests"]!.GetValue<int>());
        Assert.Equal(20, result["c4_requests"]!.GetValue<int>());
        Assert.Equal(30, result["soak_requests"]!.GetValue<int>());
        Assert.Equal(0, result["c1_failures"]!.GetValue<int>() + result["c4_failures"]!.GetValue<int>() + result["soak_failures"]!.GetValue<int>());
        Assert.Equal(1.0, result["c1_mean_batch"]!.GetValue<double>()); // one client: one sentence a batch
        Assert.InRange(result["c4_mean_batch"]!.GetValue<double>(), 1.0, 4.0);
        Assert.True(result["c4_throughput_ratio"]!.GetValue<double>() > 0);
        Assert.True(result["server_rss_mb_end"]!.GetValue<double>() > 0);
        Assert.Equal(4, progress.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }
}
