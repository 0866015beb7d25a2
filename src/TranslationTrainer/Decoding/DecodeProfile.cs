using System.Diagnostics;

namespace TranslationTrainer.Decoding;

/// <summary>
/// Wall time per search stage, collected only while a benchmark has switched it on (libtorch on the CPU runs
/// each operation synchronously, so a stopwatch around a stage measures it), summed over decoding workers. Off, a
/// stage costs one null check.
/// </summary>
public static class DecodeProfile
{
    private static Dictionary<string, long>? ticks;

    public static void Start() => ticks = [];

    /// <summary>Stops collecting and returns seconds per stage, in the order stages were first seen.</summary>
    public static IReadOnlyDictionary<string, double> Stop()
    {
        var result = (ticks ?? []).ToDictionary(p => p.Key, p => (double)p.Value / Stopwatch.Frequency);
        ticks = null;
        return result;
    }

    public static Timer Time(string stage) => new(stage, ticks is null ? 0 : Stopwatch.GetTimestamp());

    public readonly struct Timer(string stage, long start) : IDisposable
    {
        public void Dispose()
        {
            var collecting = ticks;
            if (collecting is null || start == 0) return;
            long elapsed = Stopwatch.GetTimestamp() - start;
            lock (collecting) collecting[stage] = collecting.GetValueOrDefault(stage) + elapsed;
        }
    }
}
