using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using TranslationTrainer.Model;

namespace TranslationTrainer.Training;

/// <summary>One settable value of TrainConfig: its CLI name, JSON location, type, help and default.</summary>
public sealed record ConfigValue(string OptionName, string? Section, string JsonName, PropertyInfo Property, string Description, object? Default)
{
    public bool IsPath => Property.GetCustomAttribute<PathValueAttribute>() is not null;
    public bool IsResumable => Property.GetCustomAttribute<ResumableAttribute>() is not null;
}

/// <summary>
/// Reads a JSON config, applies CLI overrides and validates, so that a config file and the command line
/// are two spellings of the same values. The list of values is generated from the records.
/// </summary>
public static class ConfigLoader
{
    public static readonly JsonSerializerOptions Json = JsonFiles.Options;

    public static IReadOnlyList<ConfigValue> Values { get; } = Describe();

    private static List<ConfigValue> Describe()
    {
        var values = new List<ConfigValue>();
        void Add(Type type, object defaults, string? section)
        {
            foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
            {
                if (p.PropertyType == typeof(ModelConfig)) continue;
                var description = p.GetCustomAttribute<DescriptionAttribute>()?.Description ?? ModelHelp(p.Name);
                values.Add(new ConfigValue("--" + Kebab(p.Name), section, JsonNamingPolicy.CamelCase.ConvertName(p.Name), p, description, p.GetValue(defaults)));
            }
        }
        Add(typeof(TrainConfig), new TrainConfig(), null);
        Add(typeof(ModelConfig), new ModelConfig(), "model");
        return values;
    }

    private static string ModelHelp(string name) => name switch
    {
        "DModel" => "model width",
        "Heads" => "attention heads",
        "FfnSize" => "feed-forward inner size",
        "EncoderLayers" => "encoder layers (not used by decoder-only)",
        "DecoderLayers" => "decoder layers (decoder-only: the layers of its one stack)",
        "Dropout" => "dropout on embeddings and residual branches",
        "AttentionDropout" => "dropout on attention weights",
        "ActivationDropout" => "dropout after the feed-forward activation",
        "PreNorm" => "LayerNorm before each sublayer (true) or after (false, as in the paper)",
        "TieEmbeddings" => "all, decoder or none (decoder-only: all)",
        "Activation" => "relu or gelu",
        "MaxPositions" => "longest sequence the positional encoding covers",
        "Arch" => "transformer, rnn-attention, rnn-bottleneck, decoder-only, or speech-transformer (log-mel frames in: `task` asr or st)",
        "RnnCell" => "lstm, gru or rnn (rnn-attention and rnn-bottleneck only; default lstm)",
        "RnnHiddenSize" => "recurrent state size (rnn-attention and rnn-bottleneck only; default d-model)",
        "FeatureBins" => "log-mel bins per frame (speech-transformer only; default 80)",
        "ConvChannels" => "channels of the convolutional front end (speech-transformer only; default 1024)",
        _ => name,
    };

    public static string Kebab(string pascal) =>
        string.Concat(pascal.Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    /// <summary>Config file (optional) + overrides keyed by option name (--max-tokens) → validated config.</summary>
    public static TrainConfig Load(string? path, IReadOnlyDictionary<string, string> overrides)
    {
        var root = path is null ? new JsonObject() : ReadObject(path);
        if (path is not null) ResolvePaths(root, Path.GetDirectoryName(Path.GetFullPath(path))!);
        ApplyOverrides(root, overrides);
        return Parse(root, path ?? "command line");
    }

    public static JsonObject ReadObject(string path)
    {
        TextFile.RequireFile(path, "config file");
        try
        {
            return JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                ?? throw new UserError($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new UserError($"{path}:{e.LineNumber + 1}:{e.BytePositionInLine + 1}: malformed JSON");
        }
    }

    public static TrainConfig Parse(JsonObject root, string source)
    {
        TrainConfig? config;
        try
        {
            config = root.Deserialize<TrainConfig>(Json);
        }
        catch (JsonException e)
        {
            var key = e.Path?.TrimStart('$', '.') ?? "";
            throw new UserError(e.Message.Contains("could not be mapped")
                ? $"{source}: unknown config key '{UnmappedName(e.Message) ?? key}'"
                : $"{source}: wrong type for '{key}'");
        }
        config = config ?? throw new UserError($"{source}: empty config");
        config.Validate();
        return config;
    }

    private static string? UnmappedName(string message)
    {
        int start = message.IndexOf('\'');
        int end = start < 0 ? -1 : message.IndexOf('\'', start + 1);
        return end > start ? message[(start + 1)..end] : null;
    }

    private static void ResolvePaths(JsonObject root, string baseDirectory)
    {
        foreach (var value in Values.Where(v => v.IsPath && v.Section is null))
            if (root[value.JsonName] is JsonValue node && node.TryGetValue<string>(out var text) && text != "")
                root[value.JsonName] = Path.GetFullPath(Path.Combine(baseDirectory, text));
    }

    public static void ApplyOverrides(JsonObject root, IReadOnlyDictionary<string, string> overrides)
    {
        foreach (var (name, text) in overrides)
        {
            var value = Values.FirstOrDefault(v => v.OptionName == name) ?? throw new UserError($"unknown option {name}");
            var target = root;
            if (value.Section is not null)
            {
                target = root[value.Section] as JsonObject ?? new JsonObject();
                root[value.Section] = target;
            }
            target[value.JsonName] = ParseValue(value, text);
        }
    }

    private static JsonNode ParseValue(ConfigValue value, string text)
    {
        var type = Nullable.GetUnderlyingType(value.Property.PropertyType) ?? value.Property.PropertyType;
        var invariant = CultureInfo.InvariantCulture;
        if (type == typeof(int))
            return int.TryParse(text, NumberStyles.Integer, invariant, out var i) ? JsonValue.Create(i) : throw new UserError($"{value.OptionName}: '{text}' is not an integer");
        if (type == typeof(double))
            return double.TryParse(text, NumberStyles.Float, invariant, out var d) ? JsonValue.Create(d) : throw new UserError($"{value.OptionName}: '{text}' is not a number");
        if (type == typeof(bool))
            return bool.TryParse(text, out var b) ? JsonValue.Create(b) : throw new UserError($"{value.OptionName}: '{text}' is not true or false");
        if (value.IsPath && string.IsNullOrWhiteSpace(text)) throw new UserError($"{value.OptionName}: an empty path");
        return JsonValue.Create(value.IsPath ? Path.GetFullPath(text) : text);
    }

    public static string Serialize(TrainConfig config) => JsonSerializer.Serialize(config, Json);

    /// <summary>The first value that makes two configs different runs (resumable values may differ), or null.</summary>
    public static string? FirstIdentityDifference(TrainConfig a, TrainConfig b)
    {
        foreach (var value in Values.Where(v => !v.IsResumable))
        {
            object? Get(TrainConfig c) => value.Section is null ? value.Property.GetValue(c) : value.Property.GetValue(c.Model);
            var (x, y) = (Get(a), Get(b));
            if (!Equals(x, y)) return $"{value.OptionName} was {x} and is now {y}";
        }
        return null;
    }
}
