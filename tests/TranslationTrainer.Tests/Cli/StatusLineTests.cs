using TranslationTrainer.Cli;
using TranslationTrainer.Tests.Training;
using TranslationTrainer.Training;

namespace TranslationTrainer.Tests.Cli;

public class StatusLineTests
{
    private static TrainingStatus Status(long update) =>
        new(update, 2, 3.14159, 5e-4, 2712.4, TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(45));

    [Fact]
    public void TheStatusShowsProgressSpeedAndEta()
    {
        var text = StatusLine.Format(Status(1234), width: 200);
        Assert.Equal("[#####...............]  25% update 1,234 | epoch 2 | loss 3.142 | lr 5.0e-04 | 2,712 tok/s | 00:15:00 | ETA 00:45:00", text);
        Assert.Equal(40, StatusLine.Format(Status(1234), width: 40).Length);
        Assert.EndsWith("ETA ?", StatusLine.Format(Status(1) with { Eta = null }, width: 200));
    }

    [Fact]
    public void ALogLineClearsTheStatusAndTheStatusComesBackBelowIt()
    {
        var terminal = new StringWriter();
        using (var line = new StatusLine(terminal, redrawInterval: TimeSpan.Zero, width: 200))
        {
            line.Show(Status(1));
            line.Write("12:00:00 INF validation");
            line.Write("\n");
            line.Flush();
            line.Show(Status(2));
        }
        string clear = "\r\u001b[2K", one = StatusLine.Format(Status(1), 200), two = StatusLine.Format(Status(2), 200);
        // Drawn; cleared for the log line; redrawn below it; replaced by the next status; cleared at the end.
        Assert.Equal(clear + one + clear + "12:00:00 INF validation\n" + clear + one + clear + two + clear, terminal.ToString());
    }

    [Fact]
    public void AThrottledStatusIsDrawnAfterTheNextLogLine()
    {
        var terminal = new StringWriter();
        var line = new StatusLine(terminal, redrawInterval: TimeSpan.FromHours(1), width: 200);
        line.Show(Status(1));
        line.Show(Status(2)); // within the redraw interval: not drawn yet
        Assert.DoesNotContain("update 2 ", terminal.ToString());
        line.Write("log\n");
        line.Flush();
        Assert.EndsWith("log\n\r\u001b[2K" + StatusLine.Format(Status(2), 200), terminal.ToString());
    }
}

[Collection(TorchCollection.Name)]
public class TrainerStatusTests
{
    [Fact]
    public void TrainingReportsEveryUpdateWithAnEta()
    {
        var seen = new List<TrainingStatus>();
        TinyRun.Train(TinyRun.Config() with { MaxUpdates = 5, ValidateEvery = 0 }, TinyRun.NewRunDirectory(), status: seen.Add);
        Assert.Equal([1, 2, 3, 4, 5], seen.Select(s => s.Update).ToArray());
        Assert.All(seen, s => Assert.True(double.IsFinite(s.Loss) && s.Loss > 0));
        Assert.All(seen.Skip(1), s => Assert.True(s.TokensPerSecond > 0 && s.Eta is not null));
        Assert.Equal(TimeSpan.Zero, seen[^1].Eta);
    }
}
