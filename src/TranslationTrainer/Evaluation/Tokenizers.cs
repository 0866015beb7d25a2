using System.Runtime.CompilerServices;
using System.Globalization;
using System.Text;

namespace TranslationTrainer.Evaluation;

/// <summary>
/// sacreBLEU's BLEU tokenizers, as hand-written scanners that make the same replacements as its
/// regular expressions (each pass scans left to right without overlapping matches, like re.sub).
/// </summary>
public static class Tokenizers
{
    public static readonly IReadOnlyList<string> Names = ["13a", "intl", "char", "none"];

    /// <summary>The tokenizer function for a name given on the command line.</summary>
    public static Func<string, string> Get(string name) => name switch
    {
        "13a" => Tokenize13a,
        "intl" => TokenizeIntl,
        "char" => TokenizeChar,
        "none" => s => s,
        _ => throw new UserError($"unknown tokenizer '{name}' (expected one of: {string.Join(", ", Names)})"),
    };

    /// <summary>mteval-v13a: unescape a few entities, split ASCII punctuation, periods/commas not next to digits, dashes after digits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // hot loop: skip tier-0 code in a short-lived process
    public static string Tokenize13a(string line)
    {
        line = line.Replace("<skipped>", "").Replace("-\n", "").Replace("\n", " ");
        if (line.Contains('&'))
            line = line.Replace("&quot;", "\"").Replace("&amp;", "&").Replace("&lt;", "<").Replace("&gt;", ">");
        var s = " " + line + " ";

        // ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> ' \1 '
        var sb = new StringBuilder(s.Length * 2);
        foreach (var c in s)
        {
            if (Is13aPunct(c)) sb.Append(' ').Append(c).Append(' ');
            else sb.Append(c);
        }
        s = sb.ToString();

        // ([^0-9])([\.,]) -> '\1 \2 '
        sb.Clear();
        for (int i = 0; i < s.Length; i++)
        {
            if (i + 1 < s.Length && !IsAsciiDigit(s[i]) && IsPeriodComma(s[i + 1]))
            {
                sb.Append(s[i]).Append(' ').Append(s[i + 1]).Append(' ');
                i++;
            }
            else sb.Append(s[i]);
        }
        s = sb.ToString();

        // ([\.,])([^0-9]) -> ' \1 \2'
        sb.Clear();
        for (int i = 0; i < s.Length; i++)
        {
            if (i + 1 < s.Length && IsPeriodComma(s[i]) && !IsAsciiDigit(s[i + 1]))
            {
                sb.Append(' ').Append(s[i]).Append(' ').Append(s[i + 1]);
                i++;
            }
            else sb.Append(s[i]);
        }
        s = sb.ToString();

        // ([0-9])(-) -> '\1 \2 '
        sb.Clear();
        for (int i = 0; i < s.Length; i++)
        {
            if (i + 1 < s.Length && IsAsciiDigit(s[i]) && s[i + 1] == '-')
            {
                sb.Append(s[i]).Append(" - ");
                i++;
            }
            else sb.Append(s[i]);
        }
        return PyText.NormalizeSpaces(sb.ToString());
    }

    /// <summary>mteval-v14 international: split Unicode punctuation unless between digits, and every symbol.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // hot loop: skip tier-0 code in a short-lived process
    public static string TokenizeIntl(string line)
    {
        var cps = CodePoints(line);

        // (\P{N})(\p{P}) -> '\1 \2 '
        var a = new List<int>(cps.Count * 2);
        for (int i = 0; i < cps.Count; i++)
        {
            if (i + 1 < cps.Count && !IsNumber(cps[i]) && IsPunct(cps[i + 1]))
            {
                a.Add(cps[i]); a.Add(' '); a.Add(cps[i + 1]); a.Add(' ');
                i++;
            }
            else a.Add(cps[i]);
        }

        // (\p{P})(\P{N}) -> ' \1 \2'
        var b = new List<int>(a.Count * 2);
        for (int i = 0; i < a.Count; i++)
        {
            if (i + 1 < a.Count && IsPunct(a[i]) && !IsNumber(a[i + 1]))
            {
                b.Add(' '); b.Add(a[i]); b.Add(' '); b.Add(a[i + 1]);
                i++;
            }
            else b.Add(a[i]);
        }

        // (\p{S}) -> ' \1 '
        var sb = new StringBuilder(b.Count * 2);
        foreach (var cp in b)
        {
            if (IsSymbol(cp)) sb.Append(' ').Append(char.ConvertFromUtf32(cp)).Append(' ');
            else AppendCodePoint(sb, cp);
        }
        return PyText.NormalizeSpaces(sb.ToString());
    }

    /// <summary>Every character (code point) a token: <c>" ".join(line)</c>.</summary>
    public static string TokenizeChar(string line)
    {
        var sb = new StringBuilder(line.Length * 2);
        for (int i = 0; i < line.Length; i++)
        {
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(line[i]);
            if (char.IsHighSurrogate(line[i]) && i + 1 < line.Length && char.IsLowSurrogate(line[i + 1]))
                sb.Append(line[++i]);
        }
        return sb.ToString();
    }

    private static bool Is13aPunct(char c) =>
        (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&')
        || (c >= '(' && c <= '+') || (c >= ':' && c <= '@') || c == '/';

    private static bool IsAsciiDigit(char c) => c >= '0' && c <= '9';

    private static bool IsPeriodComma(char c) => c == '.' || c == ',';

    private static List<int> CodePoints(string s)
    {
        var cps = new List<int>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                cps.Add(char.ConvertToUtf32(s[i], s[i + 1]));
                i++;
            }
            else cps.Add(s[i]);
        }
        return cps;
    }

    private static void AppendCodePoint(StringBuilder sb, int cp)
    {
        if (cp < 0x10000) sb.Append((char)cp);
        else sb.Append(char.ConvertFromUtf32(cp));
    }

    private static UnicodeCategory Category(int cp) =>
        cp is >= 0xD800 and <= 0xDFFF ? UnicodeCategory.Surrogate : CharUnicodeInfo.GetUnicodeCategory(cp);

    private static bool IsNumber(int cp) => Category(cp) is UnicodeCategory.DecimalDigitNumber
        or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber;

    private static bool IsPunct(int cp) => Category(cp) is UnicodeCategory.ConnectorPunctuation
        or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation
        or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
        or UnicodeCategory.OtherPunctuation;

    private static bool IsSymbol(int cp) => Category(cp) is UnicodeCategory.MathSymbol
        or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol;
}
