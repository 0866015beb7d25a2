using System.Text.Json;
using System.Text.Json.Nodes;

namespace TranslationTrainer.Training;

/// <summary>
/// metrics.jsonl: one JSON object per line with at least "update". On resume, lines after the
/// checkpoint's update are dropped, so the file always describes the run that the checkpoint continues.
/// </summary>
public sealed class MetricsFile : IDisposable
{
    private readonly StreamWriter writer;

    public MetricsFile(string path, long keepThroughUpdate)
    {
        var kept = File.Exists(path)
            ? File.ReadAllLines(path).Where(line => UpdateOf(line) is { } u && u <= keepThroughUpdate).ToList()
            : [];
        TextFile.WriteLinesAtomically(path, kept);
        writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { NewLine = "\n" };
    }

    public void Write(JsonObject record)
    {
        writer.WriteLine(record.ToJsonString());
        writer.Flush();
    }

    public static long? UpdateOf(string line)
    {
        try
        {
            return JsonNode.Parse(line)?["update"]?.GetValue<long>();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    public static List<JsonObject> Read(string path) =>
        File.ReadAllLines(path).Select(line => JsonNode.Parse(line) as JsonObject).OfType<JsonObject>().ToList();

    public void Dispose() => writer.Dispose();
}
