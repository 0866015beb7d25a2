using System.Reflection;

namespace TranslationTrainer.Evaluation;

/// <summary>
/// A sacreBLEU reproducibility signature: <c>key:value</c> pairs joined by '|', in sacreBLEU's order
/// (nrefs, bs, ar, seed, then the metric's own fields, version last). Our version field reads
/// <c>version:tt-X.Y.Z</c> so a score from this tool is never mistaken for one from sacreBLEU itself.
/// </summary>
public sealed class Signature
{
    private readonly List<KeyValuePair<string, string>> _metricFields;

    public Signature(int numRefs, IEnumerable<KeyValuePair<string, string>> metricFields)
    {
        NumRefs = numRefs;
        _metricFields = [.. metricFields];
    }

    public int NumRefs { get; }

    /// <summary>Bootstrap resamples (confidence intervals, paired bootstrap), if any.</summary>
    public int? Bootstrap { get; init; }

    /// <summary>Approximate randomization trials, if any.</summary>
    public int? Randomization { get; init; }

    /// <summary>The resampling seed, if any resampling was done.</summary>
    public int? Seed { get; init; }

    public static string Version { get; } = "tt-" + ProductVersion();

    /// <summary>The fields in print order, as sacreBLEU's <c>Signature.format()</c> emits them.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Fields
    {
        get
        {
            var fields = new List<KeyValuePair<string, string>> { new("nrefs", NumRefs.ToString()) };
            if (Bootstrap is { } bs) fields.Add(new("bs", bs.ToString()));
            if (Randomization is { } ar) fields.Add(new("ar", ar.ToString()));
            if (Seed is { } seed) fields.Add(new("seed", seed.ToString()));
            fields.AddRange(_metricFields);
            fields.Add(new("version", Version));
            return fields;
        }
    }

    public override string ToString() => string.Join("|", Fields.Select(f => $"{f.Key}:{f.Value}"));

    private static string ProductVersion()
    {
        var info = typeof(Signature).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(Signature).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        var plus = info.IndexOf('+');  // the SDK appends "+<commit>"; the signature keeps the release number only
        return plus < 0 ? info : info[..plus];
    }
}
