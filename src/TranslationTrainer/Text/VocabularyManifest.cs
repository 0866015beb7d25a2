using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace TranslationTrainer.Text;

/// <summary>manifest.json: what a vocabulary directory holds and how it was made.</summary>
/// <param name="Kind">"joint" (vocab.json + merges.txt at the top) or "separate" (source/ and target/ each with both files).</param>
/// <param name="Whitespace">How spaces are marked, for readers of the files.</param>
/// <param name="PreTokenizer">The regular expression that splits escaped text into words (RegexPreTokenizer).</param>
public sealed record VocabularyManifest(
    int FormatVersion,
    string Kind,
    string Model,
    Normalization Normalization,
    string Whitespace,
    string PreTokenizer,
    SpecialIds SpecialIds,
    VocabularyOptions Options,
    IReadOnlyList<TrainingFile> TrainingFiles)
{
    public const string FileName = "manifest.json";
    public const string Joint = "joint", Separate = "separate";

    public const string WhitespaceRule =
        "whitespace runs collapse to one space, leading/trailing spaces are dropped; every word starts with U+2581 (▁)";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NewLine = "\n",
    };

    public void Write(string directory)
        => File.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, Json) + "\n");

    public static VocabularyManifest Read(string directory)
    {
        string path = Path.Combine(directory, FileName);
        try
        {
            return JsonSerializer.Deserialize<VocabularyManifest>(File.ReadAllText(path), Json)
                ?? throw new UserError($"{path}: empty manifest");
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new UserError($"{path}: unreadable manifest ({e.Message})", e);
        }
    }
}

public sealed record SpecialIds(int Pad, int Unk, int Bos, int Eos)
{
    public static readonly SpecialIds Fixed = new(Vocabulary.PadId, Vocabulary.UnkId, Vocabulary.BosId, Vocabulary.EosId);
}

/// <param name="Side">"joint", "source" or "target".</param>
public sealed record TrainingFile(string Side, string Path, string Sha256, long Bytes);
