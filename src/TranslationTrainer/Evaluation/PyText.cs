using System.Runtime.CompilerServices;
using System.Text;

namespace TranslationTrainer.Evaluation;

/// <summary>
/// The few Python <c>str</c> rules sacreBLEU's numbers depend on: what counts as whitespace for
/// <c>split()</c>/<c>rstrip()</c>, and <c>lower()</c>.
/// </summary>
public static class PyText
{
    /// <summary>Python's <c>str.isspace</c>: .NET whitespace plus the ASCII separators U+001C..U+001F.</summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || (c >= '\u001c' && c <= '\u001f');

    /// <summary>Python's <c>str.split()</c> with no argument: runs of whitespace separate, none kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // hot loop: skip tier-0 code in a short-lived process
    public static List<string> Split(string s)
    {
        var parts = new List<string>();
        int i = 0;
        while (i < s.Length)
        {
            while (i < s.Length && IsSpace(s[i])) i++;
            int start = i;
            while (i < s.Length && !IsSpace(s[i])) i++;
            if (i > start) parts.Add(s.Substring(start, i - start));
        }
        return parts;
    }

    /// <summary>Python's <c>str.rstrip()</c>.</summary>
    public static string RStrip(string s)
    {
        int end = s.Length;
        while (end > 0 && IsSpace(s[end - 1])) end--;
        return end == s.Length ? s : s.Substring(0, end);
    }

    /// <summary>Python's <c>' '.join(s.split())</c>: trims and collapses whitespace runs to one space.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // hot loop: skip tier-0 code in a short-lived process
    public static string NormalizeSpaces(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var part in Split(s))
        {
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(part);
        }
        return sb.ToString();
    }

    /// <summary>Python's <c>''.join(s.split())</c>: all whitespace removed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // hot loop: skip tier-0 code in a short-lived process
    public static string RemoveSpaces(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var c in s)
            if (!IsSpace(c)) sb.Append(c);
        return sb.ToString();
    }

    /// <summary>Python's <c>str.lower()</c> up to context rules (final sigma) that .NET does not apply.</summary>
    public static string Lower(string s) => s.ToLowerInvariant();

    /// <summary>Python's <c>f"{value:.{width}f}"</c>: fixed point, exact ties rounded to even (.NET rounds them away).</summary>
    public static string Fixed(double value, int width)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var text = value.ToString("F" + width, inv);
        // .NET prints the exact binary value's digits, so a tie shows as "5" then zeros.
        var longer = value.ToString("F" + (width + 30), inv);
        var tail = longer.AsSpan(longer.Length - 30);
        if (tail[0] != '5' || tail[1..].ContainsAnyExcept('0')) return text;
        var truncated = decimal.Parse(longer.AsSpan(0, longer.Length - 30).TrimEnd('.'), inv);
        var step = width == 0 ? 1m : 1m / (decimal)Math.Pow(10, width);
        var lastDigit = (long)(Math.Abs(truncated) / step) % 10;
        return lastDigit % 2 == 0 ? truncated.ToString("F" + width, inv) : (truncated + Math.Sign(value) * step).ToString("F" + width, inv);
    }
}
