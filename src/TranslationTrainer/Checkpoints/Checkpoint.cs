using System.Text;
using System.Text.Json;
using TorchSharp;
using TranslationTrainer.Data;
using TranslationTrainer.Model;
using static TorchSharp.torch;

namespace TranslationTrainer.Checkpoints;

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
    /// <summary>Which <see cref="ModelArchitecture"/> the parameters belong to; checkpoints written before it was stored are Transformers.</summary>
    public string Architecture { get; init; } = Transformer.ArchitectureName;
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

    /// <summary>Writes the model's parameters (and the optimiser's state, when given) under `header`, which gets the model's architecture.</summary>
    public static void Save(string path, CheckpointHeader header, ITranslationModel model, TorchSharp.Modules.OptimizerHelper? optimizer)
    {
        header = header with { Architecture = model.Architecture, HasOptimizer = optimizer is not null };
        AtomicFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            var json = JsonSerializer.SerializeToUtf8Bytes(header, JsonFiles.Options);
            writer.Write(json.Length);
            writer.Write(json);
            model.Module.save(writer);
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
    public static CheckpointHeader LoadInto(string path, ITranslationModel model, TorchSharp.Modules.OptimizerHelper? optimizer)
    {
        using var reader = Open(path);
        var header = ReadHeader(reader, path);
        if (header.Architecture != model.Architecture)
            throw new UserError($"{path}: a checkpoint of a {header.Architecture} model, not of a {model.Architecture}");
        var stored = ScanParameters(reader, path);
        var expected = model.Module.state_dict();
        if (stored.Count != expected.Count || expected.Any(p => !stored.TryGetValue(p.Key, out var shape) || !shape.SequenceEqual(p.Value.shape)))
        {
            var (name, tensor) = expected.FirstOrDefault(p => !stored.TryGetValue(p.Key, out var shape) || !shape.SequenceEqual(p.Value.shape));
            var detail = name is null
                ? $"it stores {stored.Count} tensors, the model has {expected.Count}"
                : stored.TryGetValue(name, out var shape) ? $"'{name}' is [{string.Join(", ", shape)}] in the file but [{string.Join(", ", tensor.shape)}] in the model" : $"it has no '{name}'";
            throw new UserError($"{path}: the parameters do not match the model in its header ({detail}); another architecture or a damaged file");
        }
        try
        {
            model.Module.load(reader, strict: true);
            if (optimizer is not null && header.HasOptimizer) optimizer.load_state_dict(reader);
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or ArgumentException or InvalidOperationException or System.Runtime.InteropServices.ExternalException)
        {
            throw new UserError($"{path}: truncated or corrupted checkpoint ({e.Message.Split('\n')[0]})");
        }
        return header;
    }

    /// <summary>Rebuilds the model a checkpoint describes and loads its parameters, for decoding.</summary>
    public static (CheckpointHeader Header, ITranslationModel Model) LoadModel(string path, Device device)
    {
        CheckpointHeader header;
        ModelArchitecture architecture;
        using (var reader = Open(path))
        {
            header = ReadHeader(reader, path);
            architecture = ModelArchitecture.Find(header.Architecture)!; // ReadHeader refuses an unknown one
            // The header decides how much memory the model takes: refuse one that claims more than the file holds.
            long storedElements = ScanParameters(reader, path).Values.Sum(shape => shape.Aggregate(1L, (a, b) => a * b));
            if (!architecture.FitsStoredParameters(header.Model, header.SourceVocabSize, header.TargetVocabSize, storedElements))
                throw new UserError($"{path}: the header describes a larger model than the file holds (another architecture, or a damaged or crafted file)");
        }
        var model = architecture.Create(header.Model, header.SourceVocabSize, header.TargetVocabSize);
        LoadInto(path, model, optimizer: null);
        model.Module.to(device);
        model.Module.eval();
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
            var header = JsonSerializer.Deserialize<CheckpointHeader>(reader.ReadBytes(length), JsonFiles.Options)
                ?? throw new UserError($"{path}: corrupted checkpoint header");
            if (header.Format != 1) throw new UserError($"{path}: checkpoint format {header.Format} is not supported");
            if (header.Architecture is null) throw new UserError($"{path}: corrupted checkpoint header");
            if (ModelArchitecture.Find(header.Architecture) is null)
                throw new UserError($"{path}: unknown architecture '{header.Architecture}' (known: {string.Join(", ", ModelArchitecture.All.Select(a => a.Name))})");
            if (header.Model is null || header.SourceVocabSize <= 0 || header.TargetVocabSize <= 0)
                throw new UserError($"{path}: corrupted checkpoint header");
            try
            {
                header.Model.Validate();
            }
            catch (UserError e)
            {
                throw new UserError($"{path}: corrupted checkpoint header ({e.Template})");
            }
            return header;
        }
        catch (Exception e) when (e is EndOfStreamException or JsonException)
        {
            throw new UserError($"{path}: truncated or corrupted checkpoint header");
        }
    }

    /// <summary>
    /// Walks TorchSharp's state-dict encoding (LEB128 count; per tensor: name, dtype, rank, dims, raw bytes) without
    /// allocating from any size field: TorchSharp's own reader allocates the shape array from the stored rank, so a
    /// crafted rank or size must be refused before it runs. Returns each tensor's shape; the stream is left where it was.
    /// </summary>
    private static Dictionary<string, long[]> ScanParameters(BinaryReader reader, string path)
    {
        var stream = reader.BaseStream;
        long start = stream.Position, length = stream.Length;
        UserError Corrupted(string what) => new($"{path}: truncated or corrupted checkpoint ({what})");
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        try
        {
            long count = DecodeLeb128(reader);
            if (count < 0 || count > length - stream.Position) throw Corrupted("impossible tensor count");
            for (long i = 0; i < count; i++)
            {
                var name = reader.ReadString();
                int elementSize = ElementSize(DecodeLeb128(reader)) ?? throw Corrupted($"'{name}' has an unknown data type");
                long rank = DecodeLeb128(reader);
                if (rank is < 0 or > 8) throw Corrupted($"'{name}' has rank {rank}");
                var shape = new long[rank];
                long bytes = elementSize;
                for (int d = 0; d < rank; d++)
                {
                    shape[d] = DecodeLeb128(reader);
                    if (shape[d] < 0 || shape[d] > length) throw Corrupted($"'{name}' has dimension {shape[d]}");
                    bytes = checked(bytes * shape[d]);
                    if (bytes > length) throw Corrupted($"'{name}' is larger than the file");
                }
                if (bytes > length - stream.Position) throw Corrupted($"'{name}' is cut short");
                stream.Seek(bytes, SeekOrigin.Current);
                if (!shapes.TryAdd(name, shape)) throw Corrupted($"'{name}' stored twice");
            }
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or OverflowException or FormatException)
        {
            throw new UserError($"{path}: truncated or corrupted checkpoint");
        }
        stream.Position = start;
        return shapes;
    }

    private static long DecodeLeb128(BinaryReader reader)
    {
        long result = 0;
        for (int shift = 0; ; shift += 7)
        {
            if (shift > 56) throw new FormatException("LEB128 value too long");
            long b = reader.ReadByte();
            result |= (b & 0x7f) << shift;
            if ((b & 0x80) == 0) return result;
        }
    }

    /// <summary>Bytes per element of TorchSharp's ScalarType codes (null: not one a model holds).</summary>
    private static int? ElementSize(long scalarType) => scalarType switch
    {
        0 or 1 or 11 => 1,      // uint8, int8, bool
        2 or 5 or 15 => 2,      // int16, float16, bfloat16
        3 or 6 => 4,            // int32, float32
        4 or 7 => 8,            // int64, float64
        _ => null,
    };
}
