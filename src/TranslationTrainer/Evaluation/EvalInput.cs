
namespace TranslationTrainer.Evaluation;

/// <summary>
/// Reads hypothesis and reference files the way sacreBLEU's command line does: UTF-8, lines split on
/// '\n' only, a final newline ends the last line rather than starting an empty one, each line
/// right-stripped of whitespace (so '\r' goes), empty lines kept. A leading BOM is dropped.
/// </summary>
public static class EvalInput
{
    /// <summary>Lines of text already decoded (standard input); <paramref name="name"/> labels errors.</summary>
    public static IReadOnlyList<string> ReadText(string text, string name)
    {
        if (text.StartsWith('\uFEFF')) text = text[1..];
        if (text.Length == 0) throw new UserError($"{name}: empty input");
        return SplitLines(text);
    }

    public static IReadOnlyList<string> ReadFile(string path) => NonEmpty(TextFile.ReadLines(path), path);

    public static IReadOnlyList<string> Decode(byte[] bytes, string name) => NonEmpty(TextFile.ReadLines(new MemoryStream(bytes), name), name);

    private static List<string> NonEmpty(IEnumerable<string> lines, string name)
    {
        var stripped = lines.Select(PyText.RStrip).ToList();
        if (stripped.Count == 0) throw new UserError($"{name}: file is empty");
        return stripped;
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
