using System.Text;
using System.Text.Json;
using TorchSharp;
using TranslationTrainer.Data;
using TranslationTrainer.Model;
using static TorchSharp.torch;

namespace TranslationTrainer.Training;

/// <summary>Where a run stands: enough to continue it exactly where it stopped.</summary>
public sealed record TrainingProgress
{
    public long Update { get; init; }
    public int Epoch { get; init; } = 1;
    /// <summary>Index of the next batch to run in this epoch's batch list.</summary>
    public int NextBatch { get; init; }
    public double ElapsedSeconds { get; init; }
    public double? BestScore { get; init; }
    public int ValidationsWithoutImprovement { get; init; }
    /// <summary>Training loss summed since the last progress line, so resumed progress lines match.</summary>
    public double LossSinceLog { get; init; }
    public int UpdatesSinceLog { get; init; }
}

/// <summary>The JSON head of a checkpoint file: what the model is and what it was trained with.</summary>
public sealed record CheckpointHeader
{
    public int Format { get; init; } = 1;
    public required ModelConfig Model { get; init; }
    public required int SourceVocabSize { get; init; }
    public required int TargetVocabSize { get; init; }
    public required string VocabFingerprint { get; init; }
    public TrainingProgress Progress { get; init; } = new();
    public bool HasOptimizer { get; init; }
}

/// <summary>
/// One file per checkpoint: magic, JSON header, model parameters (TorchSharp's format), optimiser state.
/// Always written through a temporary file and a rename, so a kill at any instant keeps the previous one.
/// </summary>
public static class Checkpoint
{
    private static readonly byte[] Magic = "TTCKPT01"u8.ToArray();
    private const int MaxHeaderBytes = 1 << 20;

    public static void Save(string path, CheckpointHeader header, nn.Module model, TorchSharp.Modules.OptimizerHelper? optimizer)
    {
        header = header with { HasOptimizer = optimizer is not null };
        AtomicFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            var json = JsonSerializer.SerializeToUtf8Bytes(header, ConfigLoader.Json);
            writer.Write(json.Length);
            writer.Write(json);
            model.save(writer);
            optimizer?.save_state_dict(writer);
        });
    }

    /// <summary>A checkpoint path, or a run directory meaning its checkpoint_best (else checkpoint_last).</summary>
    public static string ResolvePath(string pathOrRunDir)
    {
        if (!Directory.Exists(pathOrRunDir))
        {
            TextFile.RequireFile(pathOrRunDir, "checkpoint");
            return pathOrRunDir;
        }
        foreach (var name in new[] { RunDirectory.BestCheckpoint, RunDirectory.LastCheckpoint })
        {
            var candidate = Path.Combine(pathOrRunDir, name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new UserError($"{pathOrRunDir}: no checkpoint in this run directory");
    }

    public static CheckpointHeader ReadHeader(string path)
    {
        using var reader = Open(path);
        return ReadHeader(reader, path);
    }

    /// <summary>Loads parameters (and optimiser state, when given and present) into existing objects.</summary>
    public static CheckpointHeader LoadInto(string path, nn.Module model, TorchSharp.Modules.OptimizerHelper? optimizer)
    {
        using var reader = Open(path);
        var header = ReadHeader(reader, path);
        try
        {
            model.load(reader, strict: true);
            if (optimizer is not null && header.HasOptimizer) optimizer.load_state_dict(reader);
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or ArgumentException or InvalidOperationException or System.Runtime.InteropServices.ExternalException)
        {
            throw new UserError($"{path}: truncated or corrupted checkpoint ({e.Message.Split('\n')[0]})");
        }
        return header;
    }

    /// <summary>Rebuilds the model a checkpoint describes and loads its parameters, for decoding.</summary>
    public static (CheckpointHeader Header, Transformer Model) LoadModel(string path, Device device)
    {
        var header = ReadHeader(path);
        var model = new Transformer(header.Model, header.SourceVocabSize, header.TargetVocabSize);
        LoadInto(path, model, optimizer: null);
        model.to(device);
        model.eval();
        return (header, model);
    }

    private static BinaryReader Open(string path)
    {
        TextFile.RequireFile(path, "checkpoint");
        try
        {
            return new BinaryReader(File.OpenRead(path), Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"{path}: cannot read ({e.Message})");
        }
    }

    private static CheckpointHeader ReadHeader(BinaryReader reader, string path)
    {
        try
        {
            if (!reader.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
                throw new UserError($"{path}: not a TranslationTrainer checkpoint");
            int length = reader.ReadInt32();
            if (length is <= 0 or > MaxHeaderBytes) throw new UserError($"{path}: corrupted checkpoint header");
            var header = JsonSerializer.Deserialize<CheckpointHeader>(reader.ReadBytes(length), ConfigLoader.Json)
                ?? throw new UserError($"{path}: corrupted checkpoint header");
            if (header.Format != 1) throw new UserError($"{path}: checkpoint format {header.Format} is not supported");
            return header;
        }
        catch (Exception e) when (e is EndOfStreamException or JsonException)
        {
            throw new UserError($"{path}: truncated or corrupted checkpoint header");
        }
    }
}
