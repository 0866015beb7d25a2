using System.Runtime.CompilerServices;

namespace TranslationTrainer.Evaluation;

/// <summary>
/// Word-level Levenshtein distance to one reference for TER, as sacreBLEU's lib_ter computes it:
/// only a beam of 25 cells around the (length-ratio) diagonal per row, ties preferring
/// match/substitution, then deletion, then insertion, and a trie of already computed rows keyed by
/// hypothesis prefix (shifted candidates share long prefixes; the cache changes speed, not results).
/// </summary>
internal sealed class BeamEditDistance
{
    public const char Nop = ' ', Sub = 's', Ins = 'i', Del = 'd', Undefined = 'x';
    private const int BeamWidth = 25;
    private const int MaxCacheSize = 10000;
    private const long Infinity = 10_000_000_000_000_000;

    private readonly string[] _reference;
    private readonly Row _initialRow;
    private readonly Node _cache = new();
    private int _cacheSize;

    public BeamEditDistance(string[] reference)
    {
        _reference = reference;
        var initial = new Row(reference.Length + 1);
        for (int j = 0; j <= reference.Length; j++)
        {
            initial.Cost[j] = j;
            initial.Op[j] = Ins;
        }
        _initialRow = initial;
    }

    /// <summary>The distance of <paramref name="hyp"/> to the reference and its edit trace.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // hot loop: skip tier-0 code in a short-lived process
    public (long Cost, string Trace) Distance(string[] hyp)
    {
        var rows = new List<Row>(hyp.Length + 1) { _initialRow };
        var node = _cache;
        foreach (var word in hyp)
        {
            if (!node.Children.TryGetValue(word, out var next)) break;
            rows.Add(next.Row!);
            node = next;
        }
        int cached = rows.Count;

        int nRef = _reference.Length;
        double lengthRatio = hyp.Length > 0 ? (double)nRef / hyp.Length : 1;
        int beam = BeamWidth < lengthRatio / 2 ? (int)Math.Ceiling(lengthRatio / 2 + BeamWidth) : BeamWidth;
        for (int i = cached; i <= hyp.Length; i++)
        {
            var prev = rows[i - 1];
            var row = new Row(nRef + 1);
            Array.Fill(row.Cost, Infinity);
            Array.Fill(row.Op, Undefined);
            int diagonal = (int)Math.Floor(i * lengthRatio);
            int minJ = Math.Max(0, diagonal - beam);
            int maxJ = i == hyp.Length ? nRef + 1 : Math.Min(nRef + 1, diagonal + beam);
            for (int j = minJ; j < maxJ; j++)
            {
                if (j == 0)
                {
                    row.Cost[0] = prev.Cost[0] + 1;
                    row.Op[0] = Del;
                    continue;
                }
                bool same = hyp[i - 1] == _reference[j - 1];
                Consider(row, j, prev.Cost[j - 1] + (same ? 0 : 1), same ? Nop : Sub);
                Consider(row, j, prev.Cost[j] + 1, Del);
                Consider(row, j, row.Cost[j - 1] + 1, Ins);
            }
            rows.Add(row);
        }
        AddToCache(hyp, rows);
        return (rows[hyp.Length].Cost[nRef], Trace(rows, hyp.Length, nRef));
    }

    private static void Consider(Row row, int j, long cost, char op)
    {
        if (row.Cost[j] > cost)
        {
            row.Cost[j] = cost;
            row.Op[j] = op;
        }
    }

    private static string Trace(List<Row> rows, int i, int j)
    {
        var ops = new List<char>(i + j);
        while (i > 0 || j > 0)
        {
            char op = rows[i].Op[j];
            ops.Add(op);
            switch (op)
            {
                case Sub or Nop: i--; j--; break;
                case Ins: j--; break;
                case Del: i--; break;
                default: throw new InvalidOperationException($"unknown edit operation '{op}'");
            }
        }
        ops.Reverse();
        return new string([.. ops]);
    }

    private void AddToCache(string[] hyp, List<Row> rows)
    {
        if (_cacheSize >= MaxCacheSize) return;
        var node = _cache;
        for (int i = 0; i < hyp.Length; i++)
        {
            if (!node.Children.TryGetValue(hyp[i], out var next))
            {
                next = new Node { Row = rows[i + 1] };
                node.Children.Add(hyp[i], next);
                _cacheSize++;
            }
            node = next;
        }
    }

    private sealed class Row(int width)
    {
        public long[] Cost { get; } = new long[width];
        public char[] Op { get; } = new char[width];
    }

    private sealed class Node
    {
        public Dictionary<string, Node> Children { get; } = new(StringComparer.Ordinal);
        public Row? Row { get; init; }
    }
}
