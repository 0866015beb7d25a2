using TranslationTrainer.Data;
using TranslationTrainer.Training;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Tests.Training;

[Collection(TorchCollection.Name)]
public class CheckpointTests
{
    [Fact]
    public void AnInterruptedWriteLeavesThePreviousFileIntactAndNoTemporaryFile()
    {
        var dir = Directory.CreateTempSubdirectory("tt-atomic").FullName;
        var path = Path.Combine(dir, "checkpoint_last.pt");
        File.WriteAllText(path, "previous");
        var error = Assert.Throws<UserError>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write("half of the new"u8);
            throw new IOException("No space left on device");
        }));
        Assert.Equal($"{path}: cannot write (No space left on device)", error.Message);
        Assert.Equal("previous", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(dir));
    }

    [Fact]
    public void TruncatedOrForeignCheckpointsAreUserErrors()
    {
        string runDir = TinyRun.NewRunDirectory();
        TinyRun.Train(TinyRun.Config() with { MaxUpdates = 1 }, runDir);
        var good = Path.Combine(runDir, RunDirectory.LastCheckpoint);
        var bytes = File.ReadAllBytes(good);

        var truncated = Path.Combine(runDir, "truncated.pt");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 5)]); // inside the model parameters
        Assert.Contains("truncated or corrupted checkpoint", Assert.Throws<UserError>(() => Checkpoint.LoadModel(truncated, TorchSharp.torch.CPU)).Message);

        var random = Path.Combine(runDir, "random.pt");
        File.WriteAllBytes(random, Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251)).ToArray());
        Assert.Equal($"{random}: not a TranslationTrainer checkpoint", Assert.Throws<UserError>(() => Checkpoint.ReadHeader(random)).Message);
    }
}
