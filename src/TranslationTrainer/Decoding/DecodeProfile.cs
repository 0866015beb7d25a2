using System.Diagnostics;

namespace TranslationTrainer.Decoding;

/// <summary>
/// Wall time per search stage, for a benchmark that hands one to the search (libtorch on the CPU runs each operation
/// synchronously, so a stopwatch around a stage measures it), summed over decoding workers. Without one, a stage
/// costs one null check.
/// </summary>
public sealed class DecodeProfile
{
    private readonly Dictionary<string, long> ticks = [];

    /// <summary>Seconds per stage so far, in the order stages were first seen.</summary>
    public IReadOnlyDictionary<string, double> Seconds()
    {
        lock (ticks) return ticks.ToDictionary(p => p.Key, p => (double)p.Value / Stopwatch.Frequency);
    }

    /// <summary>Times `stage` until the returned timer is disposed.</summary>
    public Timer Time(string stage) => new(this, stage, Stopwatch.GetTimestamp());

    public readonly struct Timer(DecodeProfile profile, string stage, long start) : IDisposable
    {
        public void Dispose()
        {
            long elapsed = Stopwatch.GetTimestamp() - start;
            lock (profile.ticks) profile.ticks[stage] = profile.ticks.GetValueOrDefault(stage) + elapsed;
        }
    }
}
