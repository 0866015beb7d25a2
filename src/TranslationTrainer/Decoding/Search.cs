using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Transformer = TranslationTrainer.Model.Transformer;

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
    private const int PadId = 0, UnkId = 1, BosId = 2, EosId = 3;

    /// <summary>Decodes a padded source batch (B,S); maxLengths[b] bounds sentence b's output.</summary>
    public static List<Hypothesis>[] Decode(Transformer model, Tensor source, int[] maxLengths, DecodingOptions options) =>
        options.Beam == 1 ? Greedy(model, source, maxLengths, options) : Beam(model, source, maxLengths, options);

    /// <summary>Greedy search; a sentence leaves the batch (and the cache) when it outputs &lt;/s&gt;.</summary>
    public static List<Hypothesis>[] Greedy(Transformer model, Tensor source, int[] maxLengths, DecodingOptions options)
    {
        int sentences = (int)source.shape[0];
        var tokens = Enumerable.Range(0, sentences).Select(_ => new List<int>()).ToArray();
        var logProbabilities = new double[sentences];
        using var scope = NewDisposeScope();
        var constraints = new Constraints(options, source.device);
        using var decoder = StartDecoder(model, source, options);
        var active = Enumerable.Range(0, sentences).ToArray(); // row r decodes sentence active[r]
        for (int step = 1; active.Length > 0; step++)
        {
            using var stepScope = NewDisposeScope();
            var last = active.Select(s => tokens[s].Count == 0 ? BosId : tokens[s][^1]).ToArray();
            var logp = NextLogProbabilities(decoder, last, step, active.Select(s => maxLengths[s]).ToArray(), active.Select(s => tokens[s]).ToArray(), constraints);
            float[] bestValues;
            long[] bestIndices;
            using (DecodeProfile.Time("topk + copy to host"))
                (bestValues, bestIndices) = ToHost(logp.max(-1));

            var continuing = new List<long>();
            using (DecodeProfile.Time("bookkeeping"))
            {
                for (int r = 0; r < active.Length; r++)
                {
                    int sentence = active[r], token = (int)bestIndices[r];
                    logProbabilities[sentence] += bestValues[r];
                    if (token == EosId) continue;
                    tokens[sentence].Add(token);
                    continuing.Add(r);
                }
            }
            if (continuing.Count > 0 && continuing.Count < active.Length) Reorder(decoder, continuing, continuing, source.device);
            active = continuing.Select(r => active[r]).ToArray();
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
    public static List<Hypothesis>[] Beam(Transformer model, Tensor source, int[] maxLengths, DecodingOptions options)
    {
        int sentences = (int)source.shape[0], k = options.Beam;
        var results = Enumerable.Range(0, sentences).Select(_ => new List<Hypothesis>()).ToArray();
        using var scope = NewDisposeScope();
        var constraints = new Constraints(options, source.device);
        using var decoder = StartDecoder(model, source, options); // one encoder row per sentence, K decoder rows

        var active = Enumerable.Range(0, sentences).ToList();
        var prefixes = Enumerable.Range(0, sentences * k).Select(_ => Array.Empty<int>()).ToList();
        // Only the first beam of each sentence is live at the start, so the first step does not pick K copies.
        var scores = Enumerable.Range(0, sentences * k).Select(r => r % k == 0 ? 0.0 : double.NegativeInfinity).ToList();
        for (int step = 1; active.Count > 0; step++)
        {
            using var stepScope = NewDisposeScope();
            var last = prefixes.Select(p => p.Length == 0 ? BosId : p[^1]).ToArray();
            var rowMaxLengths = Enumerable.Range(0, active.Count * k).Select(r => maxLengths[active[r / k]]).ToArray();
            var logp = NextLogProbabilities(decoder, last, step, rowMaxLengths, prefixes, constraints);
            int vocab = (int)logp.shape[1];
            float[] bestScores;
            long[] bestIndices;
            using (DecodeProfile.Time("topk + copy to host"))
            {
                var candidates = (logp + tensor(scores.ToArray(), dtype: float32, device: logp.device).unsqueeze(1)).view(active.Count, k * vocab);
                (bestScores, bestIndices) = ToHost(candidates.topk(2 * k, dim: 1));
            }

            var bookkeeping = DecodeProfile.Time("bookkeeping");
            var nextActive = new List<int>();
            var nextRows = new List<long>();
            var nextPrefixes = new List<int[]>();
            var nextScores = new List<double>();
            for (int s = 0; s < active.Count; s++)
            {
                int sentence = active[s];
                var continuing = new List<(long Row, int[] Prefix, double Score)>();
                for (int j = 0; j < 2 * k && continuing.Count < k; j++)
                {
                    double score = bestScores[s * 2 * k + j];
                    if (double.IsNegativeInfinity(score)) break;
                    long index = bestIndices[s * 2 * k + j];
                    int row = s * k + (int)(index / vocab), token = (int)(index % vocab);
                    if (token != EosId) continuing.Add((row, [.. prefixes[row], token], score));
                    else if (j < k) results[sentence].Add(new Hypothesis(prefixes[row], score / options.LengthNormaliser(prefixes[row].Length + 1), score));
                }
                if (results[sentence].Count >= k || continuing.Count == 0) continue;
                nextActive.Add(sentence);
                for (int c = 0; c < k; c++)
                {
                    // Fewer than K live continuations: pad with dead copies so every sentence keeps K rows.
                    var (row, prefix, score) = c < continuing.Count ? continuing[c] : (continuing[0].Row, continuing[0].Prefix, double.NegativeInfinity);
                    nextRows.Add(row);
                    nextPrefixes.Add(prefix);
                    nextScores.Add(score);
                }
            }
            bookkeeping.Dispose();
            // Sentences that stay keep their encoder rows: next sentence i was at position nextRows[i·K] / K.
            var sources = nextActive.Count < active.Count ? Enumerable.Range(0, nextActive.Count).Select(i => nextRows[i * k] / k).ToList() : null;
            if (nextActive.Count > 0) Reorder(decoder, nextRows, sources, source.device);
            (active, prefixes, scores) = (nextActive, nextPrefixes, nextScores);
        }
        return results.Select(r => r.OrderByDescending(h => h.Score).Take(options.NBest).ToList()).ToArray();
    }

    private static StepDecoder StartDecoder(Transformer model, Tensor source, DecodingOptions options)
    {
        using var timer = DecodeProfile.Time("encode");
        var (memory, keep) = model.Encode(source);
        return StepDecoder.Start(model, memory, keep, cached: !options.Uncached);
    }

    /// <summary>One decoder step for every row, as constrained log-probabilities (rows, V).</summary>
    private static Tensor NextLogProbabilities(StepDecoder decoder, int[] lastTokens, int step, int[] maxLengths,
        IReadOnlyList<IReadOnlyList<int>> prefixes, Constraints constraints)
    {
        Tensor logits;
        using (DecodeProfile.Time("decoder step"))
            logits = decoder.Step(tensor(lastTokens.Select(i => (long)i).ToArray(), dtype: int64, device: constraints.Device));
        using var timer = DecodeProfile.Time("log_softmax + constraints");
        return constraints.Apply(F.log_softmax(logits, -1), step, maxLengths, prefixes);
    }

    private static (float[] Values, long[] Indices) ToHost((Tensor Values, Tensor Indices) top) =>
        (top.Values.cpu().data<float>().ToArray(), top.Indices.cpu().data<long>().ToArray());

    private static void Reorder(StepDecoder decoder, List<long> rows, List<long>? sources, Device device)
    {
        using var timer = DecodeProfile.Time("cache reorder");
        decoder.Reorder(tensor(rows.ToArray(), device: device), sources is null ? null : tensor(sources.ToArray(), device: device));
    }

    /// <summary>The search constraints, with the tensors they need built once per search.</summary>
    private sealed class Constraints(DecodingOptions options, Device device)
    {
        public Device Device => device;
        private readonly Tensor alwaysBanned = tensor(options.AllowUnk ? new long[] { PadId, BosId } : [PadId, UnkId, BosId], device: device);
        private readonly Tensor eos = tensor(new long[] { EosId }, device: device);

        /// <summary>Applies the constraints to log-probabilities (rows, V) for output position `step`.</summary>
        public Tensor Apply(Tensor logp, int step, int[] maxLengths, IReadOnlyList<IReadOnlyList<int>> prefixes)
        {
            logp.index_fill_(1, alwaysBanned, double.NegativeInfinity); // logp is log_softmax's fresh output
            if (step <= options.MinLen) logp.index_fill_(1, eos, double.NegativeInfinity);
            if (options.NoRepeatNgram > 0 && step >= options.NoRepeatNgram) BanRepeatedNgrams(logp, prefixes, options.NoRepeatNgram);
            if (!maxLengths.Any(max => step >= max)) return logp;
            var atLimit = tensor(maxLengths.Select(max => step >= max).ToArray(), device: logp.device).unsqueeze(1);
            var onlyEos = full(1, logp.shape[1], double.NegativeInfinity, dtype: logp.dtype, device: logp.device).index_fill_(1, eos, 0.0);
            return where(atLimit, onlyEos, logp);
        }

        /// <summary>
        /// fairseq's --no-repeat-ngram-size over the output so far: a token that would complete an n-gram the row
        /// already contains gets −∞.
        /// </summary>
        private void BanRepeatedNgrams(Tensor logp, IReadOnlyList<IReadOnlyList<int>> prefixes, int n)
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
            logp.index_put_(tensor(double.NegativeInfinity, dtype: logp.dtype, device: device),
                tensor(rows.ToArray(), device: device), tensor(tokens.ToArray(), device: device));
        }
    }
}
