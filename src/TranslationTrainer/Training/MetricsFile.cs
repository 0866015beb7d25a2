using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp.Modules;
using static TorchSharp.torch.utils.tensorboard;

namespace TranslationTrainer.Training;

/// <summary>
/// metrics.jsonl: one JSON object per line with at least "update". On resume, lines after the
/// checkpoint's update are dropped, so the file always describes the run that the checkpoint continues.
/// Given a TensorBoard directory, every numeric field is also written there as a scalar (train/loss, valid/bleu, ...)
/// at step "update"; each call starts a new event file, so after a resume TensorBoard sees the dropped steps twice.
/// </summary>
public sealed class MetricsFile : IDisposable
{
    private readonly StreamWriter writer;
    private readonly SummaryWriter? tensorBoard;

    public MetricsFile(string path, long keepThroughUpdate, string? tensorBoardDirectory = null)
    {
        var kept = File.Exists(path)
            ? File.ReadAllLines(path).Where(line => UpdateOf(line) is { } u && u <= keepThroughUpdate).ToList()
            : [];
        TextFile.WriteLinesAtomically(path, kept);
        writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { NewLine = "\n" };
        if (tensorBoardDirectory is not null) tensorBoard = SummaryWriter(tensorBoardDirectory);
    }

    public void Write(JsonObject record)
    {
        writer.WriteLine(record.ToJsonString());
        writer.Flush();
        if (tensorBoard is null) return;
        int step = (int)Math.Min(record["update"]!.GetValue<long>(), int.MaxValue);
        foreach (var (key, value) in record)
        {
            if (key is "update" or "epoch" || value is not JsonValue number || !number.TryGetValue<double>(out var x)) continue;
            tensorBoard.add_scalar(TensorBoardTag(key), (float)x, step);
        }
    }

    /// <summary>valid_loss → valid/loss, loss → train/loss: TensorBoard groups scalars by the part before the slash.</summary>
    public static string TensorBoardTag(string key) => key.StartsWith("valid_") ? $"valid/{key["valid_".Length..]}" : $"train/{key}";

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

    /// <summary>The records of a metrics file; a line cut short by a kill is skipped, as resuming drops it.</summary>
    public static List<JsonObject> Read(string path) =>
        TextFile.ReadLines(path).Where(line => UpdateOf(line) is not null).Select(line => (JsonObject)JsonNode.Parse(line)!).ToList();

    public void Dispose() => writer.Dispose();
}
