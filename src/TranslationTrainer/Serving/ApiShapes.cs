using System.Globalization;
using System.Text.Json.Serialization;

namespace TranslationTrainer.Serving;

/// <summary>
/// The request and answer shapes /openapi/v1.json describes. The endpoints read their bodies field by field
/// (<see cref="RequestFields"/>: q is a string or an array, forms are accepted too), so these records document them.
/// </summary>
public static class ApiShapes
{
    public sealed record LibreTranslateRequest(
        [property: JsonPropertyName("q")] string[] Q,
        [property: JsonPropertyName("source")] string Source,
        [property: JsonPropertyName("target")] string Target,
        [property: JsonPropertyName("format")] string? Format,
        [property: JsonPropertyName("alternatives")] int? Alternatives,
        [property: JsonPropertyName("api_key")] string? ApiKey);

    public sealed record LibreTranslateResponse(
        [property: JsonPropertyName("translatedText")] string TranslatedText,
        [property: JsonPropertyName("alternatives")] string[]? Alternatives,
        [property: JsonPropertyName("detectedLanguage")] DetectedLanguage? DetectedLanguage);

    public sealed record DetectedLanguage(
        [property: JsonPropertyName("language")] string Language,
        [property: JsonPropertyName("confidence")] double Confidence);

    public sealed record TranslateRequest(
        [property: JsonPropertyName("texts")] string[] Texts,
        [property: JsonPropertyName("beam")] int? Beam,
        [property: JsonPropertyName("length_penalty")] double? LengthPenalty,
        [property: JsonPropertyName("nbest")] int? NBest,
        [property: JsonPropertyName("alignment")] bool? Alignment,
        [property: JsonPropertyName("attention")] bool? Attention,
        [property: JsonPropertyName("api_key")] string? ApiKey);

    public sealed record TranslateResponse(
        [property: JsonPropertyName("translations")] Translation[] Translations,
        [property: JsonPropertyName("beam")] int Beam,
        [property: JsonPropertyName("nbest")] int NBest,
        [property: JsonPropertyName("length_penalty")] double LengthPenalty);

    public sealed record Translation(
        [property: JsonPropertyName("source")] string Source,
        [property: JsonPropertyName("translation")] string Text,
        [property: JsonPropertyName("nbest")] Hypothesis[] NBest,
        [property: JsonPropertyName("alignment")] int[][]? Alignment);

    public sealed record Hypothesis(
        [property: JsonPropertyName("translation")] string Text,
        [property: JsonPropertyName("score")] double Score,
        [property: JsonPropertyName("attention")] Attention? Attention);

    /// <summary>weights[t][s]: how much output subword t attended to source subword s (last decoder layer, mean over heads).</summary>
    public sealed record Attention(
        [property: JsonPropertyName("source_tokens")] string[] SourceTokens,
        [property: JsonPropertyName("target_tokens")] string[] TargetTokens,
        [property: JsonPropertyName("weights")] double[][] Weights);

    public sealed record Language(
        [property: JsonPropertyName("code")] string Code,
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("targets")] string[] Targets);

    public sealed record Error([property: JsonPropertyName("error")] string Message);

    /// <summary>The English name of a language code ("es" → "Spanish"), or the code itself when ICU does not know it.</summary>
    public static string LanguageName(string code)
    {
        try
        {
            var culture = CultureInfo.GetCultureInfo(code, predefinedOnly: true);
            return culture.EnglishName;
        }
        catch (CultureNotFoundException)
        {
            return code;
        }
    }
}
