using System.Runtime.CompilerServices;
using System.Text;

namespace TranslationTrainer.Evaluation;

/// <summary>
/// Reads hypothesis and reference files the way sacreBLEU's command line does: UTF-8, lines split on
/// '\n' only, a final newline ends the last line rather than starting an empty one, each line
/// right-stripped of whitespace (so '\r' goes), empty lines kept. A leading BOM is dropped.
/// </summary>
public static class EvalInput
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static IReadOnlyList<string> ReadFile(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"{path}: cannot read ({e.Message})", e);
        }
        return Decode(bytes, path);
    }

    /// <summary>Lines of text already decoded (standard input); <paramref name="name"/> labels errors.</summary>
    public static IReadOnlyList<string> ReadText(string text, string name)
    {
        if (text.StartsWith('\uFEFF')) text = text[1..];
        if (text.Length == 0) throw new UserError($"{name}: empty input");
        return SplitLines(text);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // hot loop: skip tier-0 code in a short-lived process
    public static IReadOnlyList<string> Decode(byte[] bytes, string name)
    {
        int offset = bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0;
        if (bytes.Length == offset) throw new UserError($"{name}: file is empty");
        var lines = new List<string>();
        int lineNumber = 0;
        while (offset < bytes.Length)
        {
            int end = Array.IndexOf(bytes, (byte)'\n', offset);
            if (end < 0) end = bytes.Length;
            lineNumber++;
            try
            {
                lines.Add(PyText.RStrip(StrictUtf8.GetString(bytes, offset, end - offset)));
            }
            catch (DecoderFallbackException)
            {
                throw new UserError($"{name}: line {lineNumber}: invalid UTF-8");
            }
            offset = end + 1;
        }
        return lines;
    }

    private static List<string> SplitLines(string text)
    {
        var lines = text.Split('\n').Select(PyText.RStrip).ToList();
        if (text.EndsWith('\n')) lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    /// <summary>Fails unless the hypothesis and reference line counts agree, naming both inputs.</summary>
    public static void CheckSameLength(string hypName, int hypLines, string refName, int refLines)
    {
        if (hypLines != refLines)
            throw new UserError($"{hypName} has {hypLines} lines but {refName} has {refLines}");
    }
}
