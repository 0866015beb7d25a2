using System.Text;

namespace TranslationTrainer.Text;

/// <summary>
/// Learns byte-pair-encoding merges (Sennrich et al. 2016) over unique words with counts.
/// Pair counts are computed once and then updated incrementally: each merge only revisits the words that
/// contain the merged pair (an index from pair to words), and the next pair comes from a priority queue.
/// Ties are broken by where the pair first appeared (word in order of first appearance, then position),
/// which is what the paper's reference code does, so learning is deterministic.
/// </summary>
public static class BpeLearner
{
    /// <summary>Normalises and splits the lines into words, then learns a vocabulary of <see cref="VocabularyOptions.VocabSize"/> pieces.</summary>
    public static BpeModel Learn(IEnumerable<string> lines, VocabularyOptions options)
    {
        Validate(options);
        var (words, counts) = CountWords(lines, options.Normalization);
        if (words.Count == 0)
        {
            throw new UserError("no text to learn from: the input files are empty");
        }

        List<string> alphabet = ChooseAlphabet(words, counts, options.CharacterCoverage);
        var pieces = new List<string>(BpeModel.SpecialPieces);
        if (options.ByteFallback)
        {
            pieces.AddRange(Enumerable.Range(0, 256).Select(BpeModel.BytePiece));
        }
        pieces.AddRange(alphabet);
        if (options.VocabSize < pieces.Count)
        {
            throw new UserError($"`vocab-size` {options.VocabSize} is smaller than the alphabet: {pieces.Count} pieces "
                + $"(4 special{(options.ByteFallback ? " + 256 byte" : "")} + {alphabet.Count} characters); "
                + "raise it or lower `character-coverage`");
        }

        var symbolWords = words.Select((w, i) => ((IReadOnlyList<string>)Runes(w), counts[i]));
        var merges = LearnMerges(symbolWords, options.VocabSize - pieces.Count, options.MinFrequency, alphabet.ToHashSet());
        var known = pieces.ToHashSet();
        foreach (var (left, right) in merges)
        {
            if (known.Add(left + right))
            {
                pieces.Add(left + right);
            }
        }
        return new BpeModel(pieces, merges);
    }

    /// <summary>
    /// The merge loop alone: words as symbol sequences with counts (in order of first appearance), at most
    /// <paramref name="maxNewPieces"/> new pieces, no merge of a pair seen fewer than <paramref name="minFrequency"/> times.
    /// Symbols outside <paramref name="alphabet"/> (when given) never take part in a merge.
    /// </summary>
    public static List<(string Left, string Right)> LearnMerges(
        IEnumerable<(IReadOnlyList<string> Symbols, long Count)> words, int maxNewPieces, int minFrequency,
        IReadOnlySet<string>? alphabet = null)
    {
        var table = new PairTable();
        foreach (var (symbols, count) in words)
        {
            table.AddWord(symbols.Select(s => alphabet is null || alphabet.Contains(s) ? table.SymbolId(s) : -1).ToArray(), count);
        }
        return table.Learn(maxNewPieces, minFrequency);
    }

    private static void Validate(VocabularyOptions options)
    {
        if (options.VocabSize < 1)
        {
            throw new UserError($"`vocab-size` must be positive (got {options.VocabSize})");
        }
        if (options.MinFrequency < 1)
        {
            throw new UserError($"`min-frequency` must be at least 1 (got {options.MinFrequency})");
        }
        if (!(options.CharacterCoverage > 0 && options.CharacterCoverage <= 1))
        {
            throw new UserError($"`character-coverage` must be in (0, 1] (got {options.CharacterCoverage})");
        }
    }

    private static (List<string> Words, List<long> Counts) CountWords(IEnumerable<string> lines, Normalization form)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var words = new List<string>();
        var counts = new List<long>();
        foreach (string line in lines)
        {
            foreach (string word in WordSplitter.Words(TextNormalizer.Escape(TextNormalizer.Normalize(line, form))))
            {
                if (index.TryGetValue(word, out int i))
                {
                    counts[i]++;
                }
                else
                {
                    index.Add(word, words.Count);
                    words.Add(word);
                    counts.Add(1);
                }
            }
        }
        return (words, counts);
    }

    /// <summary>Most frequent characters first, until they cover the requested share of all character occurrences.</summary>
    private static List<string> ChooseAlphabet(List<string> words, List<long> counts, double coverage)
    {
        var frequency = new Dictionary<string, long>(StringComparer.Ordinal);
        long total = 0;
        for (int i = 0; i < words.Count; i++)
        {
            foreach (string c in Runes(words[i]))
            {
                frequency[c] = frequency.GetValueOrDefault(c) + counts[i];
                total += counts[i];
            }
        }
        var alphabet = new List<string>();
        long covered = 0;
        foreach (var (c, n) in frequency.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (alphabet.Count > 0 && (double)covered / total >= coverage)
            {
                break;
            }
            alphabet.Add(c);
            covered += n;
        }
        return alphabet;
    }

    /// <summary>A word's characters as strings, one per code point (surrogate pairs stay together, as in Microsoft.ML.Tokenizers).</summary>
    private static string[] Runes(string word)
    {
        var runes = new List<string>(word.Length);
        foreach (Rune rune in word.EnumerateRunes())
        {
            runes.Add(rune.ToString());
        }
        return runes.ToArray();
    }

    /// <summary>The mutable state of the merge loop: words as symbol ids, pair counts, pair → words index, queue.</summary>
    private sealed class PairTable
    {
        private readonly List<string> _symbols = [];
        private readonly Dictionary<string, int> _symbolIds = new(StringComparer.Ordinal);
        private readonly List<int[]> _words = [];
        private readonly List<int> _lengths = [];
        private readonly List<long> _counts = [];
        private readonly Dictionary<long, long> _pairCounts = [];
        private readonly Dictionary<long, List<int>> _pairWords = [];
        private readonly Dictionary<long, (int Word, int Position)> _firstSeen = [];
        private readonly PriorityQueue<long, Rank> _queue = new(RankOrder.Instance);

        public int SymbolId(string symbol)
        {
            if (!_symbolIds.TryGetValue(symbol, out int id))
            {
                id = _symbols.Count;
                _symbols.Add(symbol);
                _symbolIds.Add(symbol, id);
            }
            return id;
        }

        public void AddWord(int[] symbols, long count)
        {
            int word = _words.Count;
            _words.Add(symbols);
            _lengths.Add(symbols.Length);
            _counts.Add(count);
            for (int i = 0; i + 1 < symbols.Length; i++)
            {
                if (symbols[i] >= 0 && symbols[i + 1] >= 0)
                {
                    long pair = Pack(symbols[i], symbols[i + 1]);
                    _pairCounts[pair] = _pairCounts.GetValueOrDefault(pair) + count;
                    NoteWord(pair, word, i);
                }
            }
        }

        public List<(string Left, string Right)> Learn(int maxNewPieces, int minFrequency)
        {
            foreach (var (pair, count) in _pairCounts)
            {
                Push(pair, count);
            }
            var merges = new List<(string, string)>();
            int newPieces = 0;
            var changes = new Dictionary<long, long>();
            while (newPieces < maxNewPieces && _queue.TryDequeue(out long pair, out Rank rank))
            {
                if (_pairCounts.GetValueOrDefault(pair) != rank.Count)
                {
                    continue; // stale entry: the count changed after it was queued
                }
                if (rank.Count < minFrequency)
                {
                    break;
                }
                var (left, right) = Unpack(pair);
                int before = _symbols.Count;
                int merged = SymbolId(_symbols[left] + _symbols[right]);
                newPieces += _symbols.Count - before;
                merges.Add((_symbols[left], _symbols[right]));
                Merge(pair, left, right, merged, changes);
            }
            return merges;
        }

        /// <summary>Rewrites every word holding (left, right) and applies the resulting count changes.</summary>
        private void Merge(long pair, int left, int right, int merged, Dictionary<long, long> changes)
        {
            changes.Clear();
            int previousWord = -1;
            foreach (int word in _pairWords[pair])
            {
                if (word == previousWord)
                {
                    continue;
                }
                previousWord = word;
                int[] s = _words[word];
                int length = _lengths[word];
                if (!Contains(s, length, left, right))
                {
                    continue; // the word lost this pair to an earlier merge
                }
                long count = _counts[word];
                CountPairs(s, length, -count, changes);
                int j = 0;
                for (int i = 0; i < length; j++)
                {
                    if (i + 1 < length && s[i] == left && s[i + 1] == right)
                    {
                        s[j] = merged;
                        i += 2;
                    }
                    else
                    {
                        s[j] = s[i++];
                    }
                }
                _lengths[word] = j;
                CountPairs(s, j, count, changes);
                for (int i = 0; i + 1 < j; i++)
                {
                    if ((s[i] == merged || s[i + 1] == merged) && s[i] >= 0 && s[i + 1] >= 0)
                    {
                        NoteWord(Pack(s[i], s[i + 1]), word, i);
                    }
                }
            }
            foreach (var (changed, delta) in changes)
            {
                if (delta == 0)
                {
                    continue;
                }
                long count = _pairCounts.GetValueOrDefault(changed) + delta;
                if (count > 0)
                {
                    _pairCounts[changed] = count;
                    Push(changed, count);
                }
                else
                {
                    _pairCounts.Remove(changed);
                }
            }
            _pairWords.Remove(pair);
        }

        private static bool Contains(int[] s, int length, int left, int right)
        {
            for (int i = 0; i + 1 < length; i++)
            {
                if (s[i] == left && s[i + 1] == right)
                {
                    return true;
                }
            }
            return false;
        }

        private static void CountPairs(int[] s, int length, long count, Dictionary<long, long> changes)
        {
            for (int i = 0; i + 1 < length; i++)
            {
                if (s[i] >= 0 && s[i + 1] >= 0)
                {
                    long pair = Pack(s[i], s[i + 1]);
                    changes[pair] = changes.GetValueOrDefault(pair) + count;
                }
            }
        }

        /// <summary>Records that <paramref name="word"/> holds the pair; word lists stay in ascending order.</summary>
        private void NoteWord(long pair, int word, int position)
        {
            if (!_pairWords.TryGetValue(pair, out var list))
            {
                list = [];
                _pairWords.Add(pair, list);
            }
            if (list.Count == 0 || list[^1] != word)
            {
                list.Add(word);
            }
            _firstSeen.TryAdd(pair, (word, position));
        }

        private void Push(long pair, long count)
        {
            var (word, position) = _firstSeen[pair];
            var (left, right) = Unpack(pair);
            _queue.Enqueue(pair, new Rank(count, word, position, left, right));
        }

        private static long Pack(int left, int right) => ((long)left << 32) | (uint)right;

        private static (int Left, int Right) Unpack(long pair) => ((int)(pair >> 32), (int)(pair & 0xFFFFFFFF));
    }

    private readonly record struct Rank(long Count, int Word, int Position, int Left, int Right);

    /// <summary>Highest count first; ties go to the pair that appeared first.</summary>
    private sealed class RankOrder : IComparer<Rank>
    {
        public static readonly RankOrder Instance = new();

        public int Compare(Rank x, Rank y)
        {
            int c = y.Count.CompareTo(x.Count);
            if (c == 0) c = x.Word.CompareTo(y.Word);
            if (c == 0) c = x.Position.CompareTo(y.Position);
            if (c == 0) c = x.Left.CompareTo(y.Left);
            if (c == 0) c = x.Right.CompareTo(y.Right);
            return c;
        }
    }
}
