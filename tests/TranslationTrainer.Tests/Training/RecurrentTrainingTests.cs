using System.Text.Json.Nodes;
using TranslationTrainer.Checkpoints;
using TranslationTrainer.Data;
using TranslationTrainer.Model;
using TranslationTrainer.Training;
using static TorchSharp.torch;

namespace TranslationTrainer.Tests.Training;

/// <summary>Training, checkpoints and averaging of rnn-attention and rnn-bottleneck: the architecture-generic machinery.</summary>
[Collection(TorchCollection.Name)]
public class RecurrentTrainingTests
{
    private static ModelConfig Recurrent(string arch) => TinyRun.Config().Model with
    {
        Arch = arch, RnnCell = "lstm", RnnHiddenSize = 40, EncoderLayers = 2, DecoderLayers = 2, // two layers: libtorch's dropout between them too
    };

    [Fact]
    public void TheArchitecturesAreKnownByName()
    {
        Assert.Equal(["transformer", "decoder-only", "rnn-attention", "rnn-bottleneck", "speech-transformer"], ModelArchitecture.All.Select(a => a.Name));
        Assert.IsType<RecurrentModel>(ModelArchitecture.Find("rnn-bottleneck")!.Create(TinyModels.RecurrentConfig("rnn-bottleneck"), 10, 10));
    }

    [Fact]
    public void ResumingAnRnnAttentionRunReproducesTheUninterruptedRunBitForBit()
    {
        var config = TinyRun.Config() with { Model = Recurrent(RecurrentModel.AttentionName), LogEvery = 4 };
        string straight = TinyRun.NewRunDirectory(), split = TinyRun.NewRunDirectory();
        TinyRun.Train(config, straight);
        TinyRun.Train(config with { MaxUpdates = 6 }, split);
        var resumed = TinyRun.Train(config, split);

        Assert.Equal(12, resumed.Updates);
        Assert.Equal(RecurrentModel.AttentionName, Checkpoint.ReadHeader(Path.Combine(split, RunDirectory.LastCheckpoint)).Architecture);
        var expected = TinyRun.Parameters(Path.Combine(straight, RunDirectory.LastCheckpoint));
        var actual = TinyRun.Parameters(Path.Combine(split, RunDirectory.LastCheckpoint));
        Assert.Equal(expected.Keys, actual.Keys);
        Assert.Contains(expected.Keys, name => name.StartsWith("decoderCells.1."));
        foreach (var (name, value) in expected)
            Assert.True(value.eq(actual[name]).all().item<bool>(), $"{name} differs after resume");
    }

    private static CheckpointHeader Header(ModelConfig model) => new()
    {
        Model = model, SourceVocabSize = TinyModels.Vocab, TargetVocabSize = TinyModels.Vocab, VocabFingerprint = "vocab-1",
    };

    private static string Save(string dir, string name, ITranslationModel model, ModelConfig config)
    {
        var path = Path.Combine(dir, name);
        Checkpoint.Save(path, Header(config), model, optim.Adam(model.Module.parameters(), 1e-3));
        return path;
    }

    [Fact]
    public void ACheckpointOfOneArchitectureRefusesToLoadAsAnotherWithAOneLineError()
    {
        var dir = Directory.CreateTempSubdirectory("tt-rnn-checkpoint").FullName;
        var rnnConfig = TinyModels.RecurrentConfig(RecurrentModel.AttentionName);
        using var rnn = TinyModels.CreateRecurrent(RecurrentModel.AttentionName);
        using var transformer = TinyModels.Create();
        using var bottleneck = TinyModels.CreateRecurrent(RecurrentModel.BottleneckName);
        string rnnPath = Save(dir, "rnn.pt", rnn, rnnConfig), transformerPath = Save(dir, "transformer.pt", transformer, TinyModels.Config());

        Assert.Equal($"{rnnPath}: a checkpoint of a rnn-attention model, not of a transformer",
            Assert.Throws<UserError>(() => Checkpoint.LoadInto(rnnPath, transformer, null)).Message);
        Assert.Equal($"{transformerPath}: a checkpoint of a transformer model, not of a rnn-attention",
            Assert.Throws<UserError>(() => Checkpoint.LoadInto(transformerPath, rnn, null)).Message);
        Assert.Equal($"{rnnPath}: a checkpoint of a rnn-attention model, not of a rnn-bottleneck",
            Assert.Throws<UserError>(() => Checkpoint.LoadInto(rnnPath, bottleneck, null)).Message);

        // A header that names the other architecture over these parameters is refused before anything is built.
        foreach (var (path, other) in new[] { (rnnPath, TinyModels.Config() with { FfnSize = 4096 }), (transformerPath, rnnConfig with { RnnHiddenSize = 400 }) })
        {
            var edited = WithHeader(path, header =>
            {
                header["architecture"] = other.Arch;
                header["model"] = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(other, JsonFiles.Options));
            });
            var message = Assert.Throws<UserError>(() => Checkpoint.LoadModel(edited, CPU)).Message;
            Assert.Equal($"{edited}: the header describes a larger model than the file holds (another architecture, or a damaged or crafted file)", message);
        }
        // And one that fits the bound still fails on the parameters' names, in one line.
        var renamed = WithHeader(rnnPath, header =>
        {
            header["architecture"] = "transformer";
            header["model"] = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(TinyModels.Config() with { EncoderLayers = 1, DecoderLayers = 1 }, JsonFiles.Options));
        });
        var mismatch = Assert.Throws<UserError>(() => Checkpoint.LoadModel(renamed, CPU)).Message;
        Assert.StartsWith($"{renamed}: the parameters do not match the model in its header", mismatch);
        Assert.DoesNotContain('\n', mismatch);
    }

    private static string WithHeader(string checkpoint, Action<JsonObject> edit)
    {
        var bytes = File.ReadAllBytes(checkpoint);
        int length = BitConverter.ToInt32(bytes, 8);
        var header = JsonNode.Parse(bytes.AsSpan(12, length))!.AsObject();
        edit(header);
        var json = System.Text.Encoding.UTF8.GetBytes(header.ToJsonString());
        var path = Path.Combine(Directory.CreateTempSubdirectory("tt-rnn-header").FullName, "checkpoint.pt");
        File.WriteAllBytes(path, [.. bytes[..8], .. BitConverter.GetBytes(json.Length), .. json, .. bytes[(12 + length)..]]);
        return path;
    }

    [Theory]
    [InlineData(RecurrentModel.AttentionName)]
    [InlineData(RecurrentModel.BottleneckName)]
    public void TheAverageOfTwoRecurrentCheckpointsIsTheirMeanAndDecodes(string arch)
    {
        var dir = Directory.CreateTempSubdirectory("tt-rnn-average").FullName;
        var config = TinyModels.RecurrentConfig(arch);
        using var first = TinyModels.CreateRecurrent(arch, seed: 1);
        using var second = TinyModels.CreateRecurrent(arch, seed: 2);
        string a = Save(dir, "checkpoint_10.pt", first, config), b = Save(dir, "checkpoint_20.pt", second, config);
        var output = Path.Combine(dir, "averaged.pt");

        var header = CheckpointAveraging.Average([a, b], output);
        Assert.Equal(arch, header.Architecture);
        var (p1, p2, average) = (TinyRun.Parameters(a), TinyRun.Parameters(b), TinyRun.Parameters(output));
        Assert.Equal(p1.Keys, average.Keys);
        foreach (var (name, value) in average)
            Assert.True(value.allclose((p1[name] + p2[name]) / 2, rtol: 1e-6, atol: 1e-7), $"{name} is not the mean");

        var (_, loaded) = Checkpoint.LoadModel(output, CPU);
        using (loaded)
        {
            Assert.IsType<RecurrentModel>(loaded);
            using var inference = inference_mode();
            var results = TranslationTrainer.Decoding.Search.Decode(loaded, TinyModels.RandomTokens(1, 2, 5), [6, 6], new TranslationTrainer.Decoding.DecodingOptions { Beam = 2 });
            Assert.Equal(2, results.Length);
        }
    }
}
