using System.Text.RegularExpressions;

namespace TranslationTrainer.Text;

/// <summary>
/// Splits escaped text ("▁Dijo:▁«Sí»") into the words BPE learns and encodes independently:
/// an optional ▁ followed by a run of letters, of digits, or of anything else ("▁Dijo", ":", "▁«", "Sí", "»").
/// Like SentencePiece's split_by_unicode_script / split_by_number, no piece mixes letters, digits and
/// punctuation, and ▁ only starts a piece. Learning and encoding (Microsoft.ML.Tokenizers' RegexPreTokenizer)
/// use this same pattern, so they agree by construction; it matches every character, so nothing is dropped.
/// </summary>
public static class WordSplitter
{
    public const string Pattern = @"▁?[\p{L}\p{M}]+|▁?\p{N}+|▁?[^\p{L}\p{M}\p{N}▁]+|▁";

    public static readonly Regex Regex = new(Pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);

    public static List<string> Words(string escaped)
    {
        var words = new List<string>();
        foreach (ValueMatch match in Regex.EnumerateMatches(escaped))
        {
            words.Add(escaped.Substring(match.Index, match.Length));
        }
        return words;
    }
}
