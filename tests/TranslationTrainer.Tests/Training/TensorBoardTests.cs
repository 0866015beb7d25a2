using TranslationTrainer.Training;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Tests.Training;

[Collection(TorchCollection.Name)]
public class TensorBoardTests
{
    /// <summary>Reads TFRecord framing (length, crc, event, crc) back into (tag, step, value) triples.</summary>
    private static List<(string Tag, long Step, float Value)> Scalars(string eventFile)
    {
        var scalars = new List<(string, long, float)>();
        using var reader = new BinaryReader(File.OpenRead(eventFile));
        while (reader.BaseStream.Position < reader.BaseStream.Length)
        {
            long length = reader.ReadInt64();
            reader.ReadUInt32();
            var evnt = Tensorboard.Event.Parser.ParseFrom(reader.ReadBytes((int)length));
            reader.ReadUInt32();
            if (evnt.Summary is null) continue;
            scalars.AddRange(evnt.Summary.Value.Select(v => (v.Tag, evnt.Step, v.SimpleValue)));
        }
        return scalars;
    }

    [Fact]
    public void ARunWritesItsMetricsAsTensorBoardScalars()
    {
        var eventFile = Assert.Single(Directory.GetFiles(Path.Combine(TinyRun.TrainedRunDirectory, RunDirectory.TensorBoard), "events.out.tfevents.*"));
        Assert.True(new FileInfo(eventFile).Length > 0);
        var scalars = Scalars(eventFile);

        var metrics = MetricsFile.Read(Path.Combine(TinyRun.TrainedRunDirectory, RunDirectory.Metrics));
        var expected = metrics.SelectMany(m => m.Where(f => f.Key is not ("update" or "epoch"))
            .Select(f => (MetricsFile.TensorBoardTag(f.Key), m["update"]!.GetValue<long>(), (float)f.Value!.GetValue<double>()))).ToList();
        Assert.Equal(expected, scalars);
        Assert.Contains(scalars, s => s.Tag == "train/loss");
        Assert.Contains(scalars, s => s.Tag == "valid/bleu");
    }

    [Fact]
    public void TensorBoardCanBeTurnedOff()
    {
        string runDir = TinyRun.NewRunDirectory();
        TinyRun.Train(TinyRun.Config() with { MaxUpdates = 2, Tensorboard = false }, runDir);
        Assert.False(Directory.Exists(Path.Combine(runDir, RunDirectory.TensorBoard)));
        Assert.True(File.Exists(Path.Combine(runDir, RunDirectory.Metrics)));
    }
}
