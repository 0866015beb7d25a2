using System.Text;

namespace TranslationTrainer.Text;

/// <summary>Unicode normal form applied to every line before learning or encoding.</summary>
public enum Normalization { None, Nfc, Nfkc }

/// <summary>
/// Turns a raw line into the text a vocabulary round-trips exactly, and marks word boundaries the
/// SentencePiece way: "a  b" → normalised "a b" → escaped "▁a▁b".
/// Normalising = Unicode normal form, then every whitespace character (and U+2581 itself) becomes a
/// space, runs of spaces collapse to one, leading/trailing spaces are dropped (spm's remove_extra_whitespaces).
/// </summary>
public static class TextNormalizer
{
    /// <summary>U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's visible space.</summary>
    public const char SpaceMarker = '\u2581';

    // Globalization-invariant .NET (no ICU) returns text unchanged from Normalize() instead of failing.
    private static readonly bool UnicodeNormalizationWorks = "\uFB01".Normalize(NormalizationForm.FormKC) == "fi";

    public static string Normalize(string line, Normalization form)
    {
        if (form != Normalization.None && !UnicodeNormalizationWorks)
        {
            throw new UserError($"normalisation {Name(form)} needs ICU, but this process runs in globalization-invariant mode: "
                + "set InvariantGlobalization to false in TranslationTrainer.Cli.csproj or run with DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=0");
        }
        string text = form switch
        {
            _ when Ascii.IsValid(line) => line, // ASCII is already in every normal form; skips a call into ICU
            Normalization.Nfc => line.Normalize(NormalizationForm.FormC),
            Normalization.Nfkc => line.Normalize(NormalizationForm.FormKC),
            _ => line,
        };
        if (!NeedsWhitespaceCleanup(text))
        {
            return text;
        }
        var result = new StringBuilder(text.Length);
        bool pendingSpace = false;
        foreach (char c in text)
        {
            if (char.IsWhiteSpace(c) || c == SpaceMarker)
            {
                pendingSpace = result.Length > 0;
                continue;
            }
            if (pendingSpace)
            {
                result.Append(' ');
                pendingSpace = false;
            }
            result.Append(c);
        }
        return result.ToString();
    }

    /// <summary>True unless the only whitespace is single spaces between words (the common case, left as is).</summary>
    private static bool NeedsWhitespaceCleanup(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if ((char.IsWhiteSpace(c) || c == SpaceMarker) && (c != ' ' || i == 0 || i == text.Length - 1 || text[i + 1] == ' '))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Normalised text → the form BPE sees: a ▁ before every word ("a b" → "▁a▁b"); "" stays "".</summary>
    public static string Escape(string normalized)
        => normalized.Length == 0 ? "" : SpaceMarker + normalized.Replace(' ', SpaceMarker);

    /// <summary>Inverse of <see cref="Escape"/>: ▁ back to spaces, without the leading one.</summary>
    public static string Unescape(string escaped)
    {
        string text = escaped.Replace(SpaceMarker, ' ');
        return text.StartsWith(' ') ? text[1..] : text;
    }

    public static Normalization Parse(string name) => name.ToLowerInvariant() switch
    {
        "none" => Normalization.None,
        "nfc" => Normalization.Nfc,
        "nfkc" => Normalization.Nfkc,
        _ => throw new UserError($"unknown normalisation '{name}' (expected none, nfc or nfkc)"),
    };

    public static string Name(Normalization form) => form.ToString().ToLowerInvariant();
}
