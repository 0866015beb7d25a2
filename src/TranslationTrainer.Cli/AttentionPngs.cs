using TranslationTrainer.Decoding;
using TranslationTrainer.Report;

namespace TranslationTrainer.Cli;

/// <summary>`translate --attention-png DIR`: one heat map per input line, written as each translation comes out.</summary>
public static class AttentionPngs
{
    /// <summary>Checks the directory before any decoding, and creates it (not its parents) if missing.</summary>
    public static void Prepare(string directory)
    {
        if (File.Exists(directory)) throw new UserError($"--attention-png {directory}: is a file, expected a directory");
        var parent = Path.GetDirectoryName(Path.GetFullPath(directory))!;
        if (!Directory.Exists(parent)) throw new UserError($"--attention-png {directory}: directory {parent} does not exist");
        Directory.CreateDirectory(directory);
    }

    public static IEnumerable<TranslationResult> WriteEach(IEnumerable<TranslationResult> results, string directory)
    {
        int line = 0;
        foreach (var result in results)
        {
            line++;
            var map = result.Attention!;
            var title = map.Heads.Count == 0 ? $"Line {line}" : $"Line {line}: average of {map.Heads.Count} heads, last decoder layer";
            var png = AttentionHeatmap.Png(map.Average(), map.SourceTokens, map.TargetTokens, title);
            AtomicFile.Write(Path.Combine(directory, $"{line:D4}.png"), stream => stream.Write(png));
            yield return result;
        }
    }
}
