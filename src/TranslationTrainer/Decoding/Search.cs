using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Transformer = TranslationTrainer.Model.Transformer;

namespace TranslationTrainer.Decoding;

/// <summary>A finished translation in subword ids (without &lt;/s&gt;); Score is length-normalised.</summary>
public sealed record Hypothesis(int[] Tokens, double Score, double LogProbability);

/// <summary>
/// Greedy and beam search over the model's incremental step. Both see the same constraints: no &lt;pad&gt;,
/// &lt;s&gt; or (unless allowed) &lt;unk&gt;, no &lt;/s&gt; before MinLen, and only &lt;/s&gt; once a row reaches its
/// maximum length, so every hypothesis ends properly.
/// </summary>
public static class Search
{
    private const int PadId = 0, UnkId = 1, BosId = 2, EosId = 3;

    /// <summary>Decodes a padded source batch (B,S); maxLengths[b] bounds sentence b's output.</summary>
    public static List<Hypothesis>[] Decode(Transformer model, Tensor source, int[] maxLengths, DecodingOptions options) =>
        options.Beam == 1 ? Greedy(model, source, maxLengths, options) : Beam(model, source, maxLengths, options);

    public static List<Hypothesis>[] Greedy(Transformer model, Tensor source, int[] maxLengths, DecodingOptions options)
    {
        int rows = (int)source.shape[0];
        var tokens = Enumerable.Range(0, rows).Select(_ => new List<int>()).ToArray();
        var logProbabilities = new double[rows];
        var finished = new bool[rows];
        using var scope = NewDisposeScope();
        var (memory, keep) = model.Encode(source);
        using var cache = model.StartDecoding(memory, keep);
        var last = Enumerable.Repeat(BosId, rows).ToArray();
        for (int step = 1; finished.Contains(false); step++)
        {
            using var stepScope = NewDisposeScope();
            var logp = Constrain(F.log_softmax(model.DecodeStep(Ids(last, source.device), cache), -1), step, maxLengths, options);
            var (best, index) = logp.max(-1);
            var bestValues = best.cpu().data<float>().ToArray();
            var bestIndex = index.cpu().data<long>().ToArray();
            for (int r = 0; r < rows; r++)
            {
                if (finished[r]) continue;
                int token = (int)bestIndex[r];
                logProbabilities[r] += bestValues[r];
                if (token == EosId) finished[r] = true;
                else tokens[r].Add(token);
                last[r] = token;
            }
        }
        return Enumerable.Range(0, rows).Select(r => new List<Hypothesis>
        {
            new([.. tokens[r]], logProbabilities[r] / options.LengthNormaliser(tokens[r].Count + 1), logProbabilities[r]),
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
        var (memory, keep) = model.Encode(source);
        var expand = arange(sentences, device: source.device).repeat_interleave(k);
        using var cache = model.StartDecoding(memory.index_select(0, expand), keep.index_select(0, expand));

        var active = Enumerable.Range(0, sentences).ToList();
        var prefixes = Enumerable.Range(0, sentences * k).Select(_ => Array.Empty<int>()).ToList();
        // Only the first beam of each sentence is live at the start, so the first step does not pick K copies.
        var scores = Enumerable.Range(0, sentences * k).Select(r => r % k == 0 ? 0.0 : double.NegativeInfinity).ToList();
        for (int step = 1; active.Count > 0; step++)
        {
            using var stepScope = NewDisposeScope();
            var last = prefixes.Select(p => p.Length == 0 ? BosId : p[^1]).ToArray();
            var rowMaxLengths = Enumerable.Range(0, active.Count * k).Select(r => maxLengths[active[r / k]]).ToArray();
            var logp = Constrain(F.log_softmax(model.DecodeStep(Ids(last, source.device), cache), -1), step, rowMaxLengths, options);
            int vocab = (int)logp.shape[1];
            var candidates = (logp + tensor(scores.ToArray(), dtype: float32, device: logp.device).unsqueeze(1)).view(active.Count, k * vocab);
            var (topScores, topIndices) = candidates.topk(2 * k, dim: 1);
            var bestScores = topScores.cpu().data<float>().ToArray();
            var bestIndices = topIndices.cpu().data<long>().ToArray();

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
            if (nextActive.Count > 0) cache.Reorder(tensor(nextRows.ToArray(), device: source.device));
            (active, prefixes, scores) = (nextActive, nextPrefixes, nextScores);
        }
        return results.Select(r => r.OrderByDescending(h => h.Score).Take(options.NBest).ToList()).ToArray();
    }

    private static Tensor Ids(int[] ids, Device device) =>
        tensor(ids.Select(i => (long)i).ToArray(), dtype: int64, device: device);

    /// <summary>Applies the search constraints to log-probabilities (rows, V) for output position `step`.</summary>
    private static Tensor Constrain(Tensor logp, int step, int[] maxLengths, DecodingOptions options)
    {
        var banned = new List<long> { PadId, BosId };
        if (!options.AllowUnk) banned.Add(UnkId);
        if (step <= options.MinLen) banned.Add(EosId);
        logp = logp.index_fill(1, tensor(banned.ToArray(), device: logp.device), double.NegativeInfinity);
        if (!maxLengths.Any(max => step >= max)) return logp;
        var atLimit = tensor(maxLengths.Select(max => step >= max).ToArray(), device: logp.device).unsqueeze(1);
        var onlyEos = full(1, logp.shape[1], double.NegativeInfinity, dtype: logp.dtype, device: logp.device).index_fill(1, tensor(new long[] { EosId }, device: logp.device), 0.0);
        return where(atLimit, onlyEos, logp);
    }
}
