using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using TranslationTrainer.Model;
using TranslationTrainer.Text;

namespace TranslationTrainer.Decoding;

/// <summary>A finished translation in subword ids (without &lt;/s&gt;); Score is length-normalised.</summary>
public sealed record Hypothesis(int[] Tokens, double Score, double LogProbability);

/// <summary>
/// Greedy and beam search over the model's incremental step. Both see the same constraints: no &lt;pad&gt;,
/// &lt;s&gt; or (unless allowed) &lt;unk&gt;, no &lt;/s&gt; before MinLen, no repeated n-gram of size NoRepeatNgram,
/// and only &lt;/s&gt; once a row reaches its maximum length, so every hypothesis ends properly.
/// </summary>
public static class Search
{
    /// <summary>
    /// Decodes a padded source batch (B,S); maxLengths[b] bounds sentence b's output. A benchmark passes `profile` to
    /// learn where the time goes.
    /// </summary>
    public static List<Hypothesis>[] Decode(IDecodingModel model, Tensor source, int[] maxLengths, DecodingOptions options, DecodeProfile? profile = null) =>
        options.Beam == 1 ? Greedy(model, source, maxLengths, options, profile) : Beam(model, source, maxLengths, options, profile);

    /// <summary>Greedy search; a sentence leaves the batch (and the cache) when it outputs &lt;/s&gt;.</summary>
    public static List<Hypothesis>[] Greedy(IDecodingModel model, Tensor source, int[] maxLengths, DecodingOptions options, DecodeProfile? profile = null)
    {
        int sentences = (int)source.shape[0];
        var tokens = Enumerable.Range(0, sentences).Select(_ => new List<int>()).ToArray();
        var logProbabilities = new double[sentences];
        using var scope = NewDisposeScope();
        var constraints = new Constraints(options, source.device);
        using var decoder = StartDecoder(model, source, options, profile);
        var active = Enumerable.Range(0, sentences).ToArray(); // row r decodes sentence active[r]
        for (int step = 1; active.Length > 0; step++)
        {
            using var stepScope = NewDisposeScope();
            var last = active.Select(s => tokens[s].Count == 0 ? Vocabulary.BosId : tokens[s][^1]).ToArray();
            var (bestValues, bestIndices) = NextBestTokens(decoder, last, step, active.Select(s => maxLengths[s]).ToArray(),
                active.Select(s => tokens[s]).ToArray(), constraints, count: 1, profile);

            var continues = new bool[active.Length];
            using (profile?.Time("bookkeeping"))
            {
                for (int r = 0; r < active.Length; r++)
                {
                    int sentence = active[r], token = (int)bestIndices[r];
                    logProbabilities[sentence] += bestValues[r];
                    if (token == Vocabulary.EosId) continue;
                    tokens[sentence].Add(token);
                    continues[r] = true;
                }
            }
            var order = Compact(continues);
            if (order.Length > 0 && order.Length < active.Length) Reorder(decoder, order, order, profile);
            active = order.Select(r => active[(int)r]).ToArray();
        }
        return Enumerable.Range(0, sentences).Select(s => new List<Hypothesis>
        {
            new([.. tokens[s]], logProbabilities[s] / options.LengthNormaliser(tokens[s].Count + 1), logProbabilities[s]),
        }).ToArray();
    }

    /// <summary>
    /// Beam search batched over sentences × beams (rows b·K … b·K+K−1 belong to sentence b). Each step keeps
    /// the best 2K continuations per sentence: &lt;/s&gt; among the top K finishes a hypothesis, the best K others
    /// continue. A sentence leaves the batch (and the cache) once it has K finished hypotheses.
    /// </summary>
    public static List<Hypothesis>[] Beam(IDecodingModel model, Tensor source, int[] maxLengths, DecodingOptions options, DecodeProfile? profile = null)
    {
        int sentences = (int)source.shape[0], k = options.Beam;
        var results = Enumerable.Range(0, sentences).Select(_ => new List<Hypothesis>()).ToArray();
        using var scope = NewDisposeScope();
        var constraints = new Constraints(options, source.device);
        using var decoder = StartDecoder(model, source, options, profile); // one encoder row per sentence, K decoder rows

        var active = Enumerable.Range(0, sentences).ToList();
        var prefixes = Enumerable.Range(0, sentences * k).Select(_ => Array.Empty<int>()).ToList();
        // Only the first beam of each sentence is live at the start, so the first step does not pick K copies.
        var scores = Enumerable.Range(0, sentences * k).Select(r => r % k == 0 ? 0.0 : double.NegativeInfinity).ToList();
        for (int step = 1; active.Count > 0; step++)
        {
            using var stepScope = NewDisposeScope();
            var last = prefixes.Select(p => p.Length == 0 ? Vocabulary.BosId : p[^1]).ToArray();
            var rowMaxLengths = Enumerable.Range(0, active.Count * k).Select(r => maxLengths[active[r / k]]).ToArray();
            // A sentence's best 2K continuations are among its rows' best 2K tokens each, so only those reach the host.
            var (rowBest, rowTokens) = NextBestTokens(decoder, last, step, rowMaxLengths, prefixes, constraints, count: 2 * k, profile);

            var bookkeeping = profile?.Time("bookkeeping");
            var continuations = new List<(long Row, int[] Prefix, double Score)>?[active.Count]; // null: the sentence is done
            for (int s = 0; s < active.Count; s++)
            {
                int sentence = active[s];
                var candidates = new List<(double Score, int Row, int Token)>(2 * k * k);
                for (int row = s * k; row < (s + 1) * k; row++)
                    for (int j = 0; j < 2 * k; j++)
                        candidates.Add((scores[row] + rowBest[row * 2 * k + j], row, (int)rowTokens[row * 2 * k + j]));
                // Best first; among equal scores the lower row, then the better-ranked token (a stable sort keeps that order).
                var best = candidates.OrderByDescending(c => c.Score).Take(2 * k).ToList();
                var continuing = new List<(long Row, int[] Prefix, double Score)>();
                for (int j = 0; j < best.Count && continuing.Count < k; j++)
                {
                    var (score, row, token) = best[j];
                    if (double.IsNegativeInfinity(score)) break;
                    if (token != Vocabulary.EosId) continuing.Add((row, [.. prefixes[row], token], score));
                    else if (j < k) results[sentence].Add(new Hypothesis(prefixes[row], score / options.LengthNormaliser(prefixes[row].Length + 1), score));
                }
                if (results[sentence].Count < k && continuing.Count > 0) continuations[s] = continuing;
            }
            var order = Compact(continuations.Select(c => c is not null).ToArray()); // order[new position] = old position
            var nextActive = new List<int>();
            var nextRows = new List<long>();
            var nextPrefixes = new List<int[]>();
            var nextScores = new List<double>();
            foreach (int s in order)
            {
                nextActive.Add(active[s]);
                foreach (var (row, prefix, score) in AssignSlots(continuations[s]!, s * k, k, prefixes))
                {
                    nextRows.Add(row);
                    nextPrefixes.Add(prefix);
                    nextScores.Add(score);
                }
            }
            bookkeeping?.Dispose();
            if (nextActive.Count > 0) Reorder(decoder, [.. nextRows], order.Length < active.Count ? order : null, profile);
            (active, prefixes, scores) = (nextActive, nextPrefixes, nextScores);
        }
        return results.Select(r => r.OrderByDescending(h => h.Score).Take(options.NBest).ToList()).ToArray();
    }

    /// <summary>
    /// Where the items that continue go when others leave: order[new position] = old position. An item keeps its
    /// position while that still exists; items past the new end fill the holes, so the cache moves only those rows.
    /// </summary>
    private static long[] Compact(bool[] continues)
    {
        var order = new long[continues.Count(c => c)];
        var holes = new Queue<int>();
        for (int position = 0; position < order.Length; position++)
            if (continues[position]) order[position] = position;
            else holes.Enqueue(position);
        for (int position = order.Length; position < continues.Length; position++)
            if (continues[position]) order[holes.Dequeue()] = position;
        return order;
    }

    /// <summary>
    /// Puts a sentence's continuations into its K rows (old rows firstRow … firstRow+K−1). The order of a beam's
    /// rows does not matter, so a continuation stays in its parent's row when it can, and the cache copies only the
    /// rows that change. With fewer than K continuations the spare rows are dead (score −∞) and keep what they hold.
    /// </summary>
    private static IEnumerable<(long Row, int[] Prefix, double Score)> AssignSlots(
        List<(long Row, int[] Prefix, double Score)> continuing, int firstRow, int k, IReadOnlyList<int[]> prefixes)
    {
        var slots = new (long Row, int[] Prefix, double Score)?[k];
        var homeless = new Queue<(long Row, int[] Prefix, double Score)>();
        foreach (var c in continuing)
        {
            int slot = (int)c.Row - firstRow;
            if (slots[slot] is null) slots[slot] = c;
            else homeless.Enqueue(c);
        }
        for (int slot = 0; slot < k; slot++)
            yield return slots[slot] ?? (homeless.Count > 0 ? homeless.Dequeue() : (firstRow + slot, prefixes[firstRow + slot], double.NegativeInfinity));
    }

    private static IDecodingState StartDecoder(IDecodingModel model, Tensor source, DecodingOptions options, DecodeProfile? profile)
    {
        using var timer = profile?.Time("encode");
        return model.StartDecoding(model.Encode(source), cached: !options.Uncached);
    }

    /// <summary>
    /// One decoder step for every row, and each row's `count` most probable next tokens under the constraints, as
    /// log-probabilities (rows × count, best first) on the host. log p = logit − logsumexp(logits), so the best
    /// tokens by logit are the best by log-probability and only those are normalised (no (rows, V) log-softmax).
    /// </summary>
    private static (float[] Values, long[] Tokens) NextBestTokens(IDecodingState decoder, int[] lastTokens, int step, int[] maxLengths,
        IReadOnlyList<IReadOnlyList<int>> prefixes, Constraints constraints, int count, DecodeProfile? profile)
    {
        Tensor logits, normaliser;
        using (profile?.Time("decoder step"))
            logits = decoder.Step(tensor(lastTokens.Select(i => (long)i).ToArray(), dtype: int64, device: constraints.Device));
        using (profile?.Time("log_softmax + constraints"))
        {
            normaliser = logits.logsumexp(-1, keepdim: true); // over the whole vocabulary: banned tokens keep their mass, as in fairseq
            logits = constraints.Apply(logits, normaliser, step, maxLengths, prefixes);
        }
        using var timer = profile?.Time("topk + copy to host");
        var (values, tokens) = count == 1 ? logits.max(1, keepdim: true) : TopK(logits, count);
        return ToHost((values - normaliser, tokens));
    }

    /// <summary>
    /// logits.topk(count, dim 1), best first. On the CPU (float32) in C#, over vectorised block maxima (see RowTopK),
    /// several times faster than libtorch's topk and faster than ChunkedTopK (docs/performance.md). Elsewhere
    /// ChunkedTopK.
    /// </summary>
    public static (Tensor Values, Tensor Indices) TopK(Tensor logits, int count)
    {
        if (logits.device.type != DeviceType.CPU || logits.dtype != ScalarType.Float32 || logits.shape[1] < count)
            return ChunkedTopK(logits, count);
        var scores = logits.contiguous();
        int rows = (int)scores.shape[0], vocab = (int)scores.shape[1];
        var values = new float[rows * count];
        var indices = new long[rows * count];
        var data = MemoryMarshal.Cast<byte, float>(scores.bytes);
        for (int row = 0; row < rows; row++)
            RowTopK(data.Slice(row * vocab, vocab), values.AsSpan(row * count, count), indices.AsSpan(row * count, count));
        return (tensor(values, [rows, count]), tensor(indices, [rows, count]));
    }

    /// <summary>
    /// The best values of one row, best first; among equal values the lower index first. The row is cut into blocks of
    /// 64: the best `count` values lie in the `count` blocks with the highest maxima, so only those are searched. A
    /// block (or 16 values) with nothing above the worst kept so far is passed over with one vector comparison.
    /// </summary>
    private static void RowTopK(ReadOnlySpan<float> row, Span<float> best, Span<long> bestIndex)
    {
        const int block = 64;
        int count = best.Length, blocks = row.Length / block, width = Vector512<float>.Count;
        if (blocks <= count)
        {
            for (int i = 0; i < row.Length; i++) Offer(row[i], i, best, bestIndex, i);
            return;
        }
        Span<float> blockBest = stackalloc float[count];
        Span<long> blockIndex = stackalloc long[count];
        ref float first = ref MemoryMarshal.GetReference(row);
        for (int b = 0; b < blocks; b++)
        {
            int start = b * block;
            var max = Vector512.MaxNative(
                Vector512.MaxNative(Vector512.LoadUnsafe(ref first, (nuint)start), Vector512.LoadUnsafe(ref first, (nuint)(start + width))),
                Vector512.MaxNative(Vector512.LoadUnsafe(ref first, (nuint)(start + 2 * width)), Vector512.LoadUnsafe(ref first, (nuint)(start + 3 * width))));
            if (b >= count && !Vector512.GreaterThanAny(max, Vector512.Create(blockBest[^1]))) continue;
            var half = Vector256.MaxNative(max.GetLower(), max.GetUpper());
            var quarter = Vector128.MaxNative(half.GetLower(), half.GetUpper());
            Offer(MathF.Max(MathF.Max(quarter[0], quarter[1]), MathF.Max(quarter[2], quarter[3])), b, blockBest, blockIndex, b);
        }
        // The chosen blocks, highest maximum first, so that the worst kept rises fast and most vectors are passed over.
        int offered = 0;
        foreach (long b in blockIndex)
        {
            for (int start = (int)b * block; start < (int)b * block + block; start += width)
            {
                // Only the values that reach the worst kept are offered (all of them while fewer than `count` are kept).
                ulong candidates = offered < count ? ulong.MaxValue
                    : Vector512.GreaterThanOrEqual(Vector512.LoadUnsafe(ref first, (nuint)start), Vector512.Create(best[^1])).ExtractMostSignificantBits();
                for (; candidates != 0; candidates &= candidates - 1)
                {
                    int i = start + BitOperations.TrailingZeroCount(candidates);
                    if (i >= start + width) break;
                    Offer(row[i], i, best, bestIndex, offered++);
                }
            }
        }
        for (int i = blocks * block; i < row.Length; i++) Offer(row[i], i, best, bestIndex, offered++);
    }

    /// <summary>Keeps (value, index) if it is among the best so far; `offered` values came before it.</summary>
    private static void Offer(float value, long index, Span<float> best, Span<long> bestIndex, int offered)
    {
        if (offered >= best.Length && !Before(value, index, best[^1], bestIndex[^1])) return;
        int position = Math.Min(offered, best.Length - 1);
        for (; position > 0 && Before(value, index, best[position - 1], bestIndex[position - 1]); position--)
        {
            best[position] = best[position - 1];
            bestIndex[position] = bestIndex[position - 1];
        }
        best[position] = value;
        bestIndex[position] = index;
    }

    /// <summary>Ranks first: the higher value, and of equal values the lower index (whatever order they came in).</summary>
    private static bool Before(float value, long index, float other, long otherIndex) =>
        value > other || (value == other && index < otherIndex);

    /// <summary>
    /// logits.topk(count, dim 1) in libtorch operations (for CUDA), faster on a vocabulary-sized row than topk itself: each row is cut into chunks, and the best `count` tokens lie in the `count` chunks with the
    /// highest maxima, so topk only searches those.
    /// </summary>
    public static (Tensor Values, Tensor Indices) ChunkedTopK(Tensor logits, int count)
    {
        long rows = logits.shape[0], vocab = logits.shape[1];
        long chunk = ChunkSize(vocab), chunks = vocab / chunk;
        if (chunks <= count) return logits.topk(count, dim: 1);
        var chunked = logits.view(rows, chunks, chunk);
        var bestChunks = chunked.amax([2]).topk(count, dim: 1).indexes;                        // (rows, count)
        // The chosen chunks' rows of `chunk` values, copied whole (index_select is faster than gather here).
        var firstChunkOfRow = arange(rows, dtype: int64, device: logits.device).unsqueeze(1) * chunks;
        var candidates = chunked.view(rows * chunks, chunk).index_select(0, (firstChunkOfRow + bestChunks).view(-1)).view(rows, count * chunk);
        var (values, positions) = candidates.topk(count, dim: 1);
        var chosenChunk = bestChunks.gather(1, positions.div(chunk, rounding_mode: RoundingMode.floor));
        return (values, chosenChunk * chunk + positions.remainder(chunk));
    }

    /// <summary>The divisor of the vocabulary size nearest 100 (measured best at 8,000); the whole row (plain topk) when none is near.</summary>
    private static long ChunkSize(long vocab)
    {
        for (long offset = 0; offset <= 50; offset++)
        {
            if (vocab % (100 - offset) == 0) return 100 - offset;
            if (vocab % (100 + offset) == 0) return 100 + offset;
        }
        return vocab;
    }

    private static (float[] Values, long[] Indices) ToHost((Tensor Values, Tensor Indices) top) =>
        (top.Values.cpu().data<float>().ToArray(), top.Indices.cpu().data<long>().ToArray());

    private static void Reorder(IDecodingState decoder, long[] rows, long[]? sources, DecodeProfile? profile)
    {
        using var timer = profile?.Time("cache reorder");
        decoder.Reorder(rows, sources);
    }

    /// <summary>The search constraints, with the tensors they need built once per search.</summary>
    private sealed class Constraints(DecodingOptions options, Device device)
    {
        public Device Device => device;
        private readonly Tensor alwaysBanned = tensor(options.AllowUnk ? new long[] { Vocabulary.PadId, Vocabulary.BosId } : [Vocabulary.PadId, Vocabulary.UnkId, Vocabulary.BosId], device: device);
        private readonly Tensor eos = tensor(new long[] { Vocabulary.EosId }, device: device);

        /// <summary>
        /// Applies the constraints to fresh logits (rows, V) for output position `step`, in place where it can: a banned
        /// token gets −∞; a row at its maximum length keeps only &lt;/s&gt;, with log-probability 0 (logit = normaliser).
        /// </summary>
        public Tensor Apply(Tensor logits, Tensor normaliser, int step, int[] maxLengths, IReadOnlyList<IReadOnlyList<int>> prefixes)
        {
            logits.index_fill_(1, alwaysBanned, double.NegativeInfinity);
            if (step <= options.MinLen) logits.index_fill_(1, eos, double.NegativeInfinity);
            if (options.NoRepeatNgram > 0 && step >= options.NoRepeatNgram) BanRepeatedNgrams(logits, prefixes, options.NoRepeatNgram);
            if (!maxLengths.Any(max => step >= max)) return logits;
            var atLimit = tensor(maxLengths.Select(max => step >= max).ToArray(), device: logits.device).unsqueeze(1);
            var onlyEos = full_like(logits, double.NegativeInfinity).index_copy_(1, eos, normaliser);
            return where(atLimit, onlyEos, logits);
        }

        /// <summary>
        /// fairseq's --no-repeat-ngram-size over the output so far: a token that would complete an n-gram the row
        /// already contains gets −∞.
        /// </summary>
        private void BanRepeatedNgrams(Tensor logits, IReadOnlyList<IReadOnlyList<int>> prefixes, int n)
        {
            var rows = new List<long>();
            var tokens = new List<long>();
            for (int r = 0; r < prefixes.Count; r++)
            {
                var prefix = prefixes[r];
                int tail = prefix.Count - (n - 1); // where the last n−1 tokens start
                for (int start = 0; start < tail; start++)
                {
                    int i = 0;
                    while (i < n - 1 && prefix[start + i] == prefix[tail + i]) i++;
                    if (i < n - 1) continue;
                    rows.Add(r);
                    tokens.Add(prefix[start + n - 1]);
                }
            }
            if (rows.Count == 0) return;
            logits.index_put_(tensor(double.NegativeInfinity, dtype: logits.dtype, device: device),
                tensor(rows.ToArray(), device: device), tensor(tokens.ToArray(), device: device));
        }
    }
}
