using System.Text.Json;
using System.Text.Json.Serialization;

namespace TranslationTrainer;

/// <summary>How the files we write as JSON (config.json, checkpoint headers) are spelled and read.</summary>
public static class JsonFiles
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        WriteIndented = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };
}
