using System.Text;
using System.Text.Json.Nodes;
using TranslationTrainer.Decoding;
using TranslationTrainer.Model;
using TranslationTrainer.Training;
using static TorchSharp.torch;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Tests.Training;

/// <summary>The architecture a checkpoint header names, and checkpoints written before the header named one.</summary>
[Collection(TorchCollection.Name)]
public class CheckpointArchitectureTests
{
    private static string Trained => Path.Combine(TinyRun.TrainedRunDirectory, "checkpoint_12.pt");

    /// <summary>A copy of a checkpoint with its JSON header changed by `edit`; the parameters are the same bytes.</summary>
    private static string WithHeader(string checkpoint, Action<JsonObject> edit)
    {
        var bytes = File.ReadAllBytes(checkpoint);
        int length = BitConverter.ToInt32(bytes, 8); // after the 8-byte magic
        var header = JsonNode.Parse(bytes.AsSpan(12, length))!.AsObject();
        edit(header);
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var path = Path.Combine(Directory.CreateTempSubdirectory("tt-header").FullName, "checkpoint.pt");
        File.WriteAllBytes(path, [.. bytes[..8], .. BitConverter.GetBytes(json.Length), .. json, .. bytes[(12 + length)..]]);
        return path;
    }

    private static List<string> Translate(string checkpoint)
    {
        var (model, vocab) = ModelLoader.LoadModel(checkpoint, Path.Combine(TinyRun.TrainedRunDirectory, RunDirectory.Vocab), CPU);
        using var _ = model;
        var translator = new Translator(model, vocab, new DecodingOptions { Beam = 3 }, CPU);
        return translator.TranslateAll(File.ReadLines(Path.Combine(TinyRun.Directory, "valid.es")).ToList()).Select(r => r.Best).ToList();
    }

    [Fact]
    public void TheHeaderNamesTheArchitecture()
    {
        var bytes = File.ReadAllBytes(Trained);
        var header = JsonNode.Parse(bytes.AsSpan(12, BitConverter.ToInt32(bytes, 8)))!.AsObject();
        Assert.Equal("transformer", (string?)header["architecture"]);
        Assert.Equal(Transformer.ArchitectureName, Checkpoint.ReadHeader(Trained).Architecture);
    }

    /// <summary>A checkpoint written before the header named its architecture is this one without the field.</summary>
    [Fact]
    public void ACheckpointWithoutTheArchitectureLoadsAsATransformerAndTranslatesTheSame()
    {
        var old = WithHeader(Trained, header => Assert.True(header.Remove("architecture")));
        Assert.Equal(Transformer.ArchitectureName, Checkpoint.ReadHeader(old).Architecture);
        var (_, model) = Checkpoint.LoadModel(old, CPU);
        using (model) Assert.IsType<Transformer>(model);
        Assert.Equal(Translate(Trained), Translate(old));
    }

    [Fact]
    public void AnUnknownArchitectureIsAOneLineErrorNamingTheFileAndTheArchitecture()
    {
        var path = WithHeader(Trained, header => header["architecture"] = "quantum-lstm");
        var expected = $"{path}: unknown architecture 'quantum-lstm' (known: {string.Join(", ", ModelArchitecture.All.Select(a => a.Name))})";
        Assert.Contains("(known: transformer, ", expected);
        Assert.Equal(expected, Assert.Throws<UserError>(() => Checkpoint.LoadModel(path, CPU)).Message);
        Assert.Equal(expected, Assert.Throws<UserError>(() => Checkpoint.ReadHeader(path)).Message);
        Assert.Equal(expected, Assert.Throws<UserError>(() => CheckpointAveraging.Average([Trained, path], Path.Combine(Path.GetDirectoryName(path)!, "avg.pt"))).Message);
    }
}
