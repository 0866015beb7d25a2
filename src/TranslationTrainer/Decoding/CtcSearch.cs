using TranslationTrainer.Model;
using TranslationTrainer.Text;
using static TorchSharp.torch;

namespace TranslationTrainer.Decoding;

/// <summary>
/// Decoding from a speech model's CTC head alone (`translate --ctc`): at each encoder position the most probable
/// label, repeats merged and blanks dropped — the best path of Graves et al. (2006), as ESPnet decodes with
/// ctc_weight 1 and greedy search. One encoder pass and no decoder steps, so far faster than the decoder's search.
/// </summary>
public static class CtcSearch
{
    /// <summary>The best path of each row of a padded speech batch; Score and LogProbability are its log-probability.</summary>
    public static List<Hypothesis>[] Greedy(IDecodingModel model, Tensor source)
    {
        using var scope = NewDisposeScope();
        var encoded = model.Encode(source);
        var logProbs = model.CtcLogProbs(encoded)
            ?? throw new UserError("`ctc` decodes with a speech model's CTC head; this model has none");
        var (best, labels) = logProbs.max(-1); // (B,S')
        long[] lengths = encoded.SourceKeep.flatten(1).sum(1).to(int64).cpu().data<long>().ToArray();
        return BestPaths(labels.cpu().data<long>().ToArray(), best.cpu().data<float>().ToArray(), lengths, (int)labels.shape[1]);
    }

    /// <summary>
    /// Row b's labels[b·positions + t] for t below lengths[b] collapsed into tokens: a label equal to the one before it
    /// merges with it, the blank (&lt;pad&gt;) separates, &lt;s&gt; and &lt;/s&gt; (which no CTC target holds) are dropped.
    /// </summary>
    public static List<Hypothesis>[] BestPaths(long[] labels, float[] logProbs, long[] lengths, int positions)
    {
        var results = new List<Hypothesis>[lengths.Length];
        for (int b = 0; b < lengths.Length; b++)
        {
            var tokens = new List<int>();
            double logProbability = 0;
            long previous = Vocabulary.PadId;
            for (int t = 0; t < lengths[b]; t++)
            {
                long label = labels[b * positions + t];
                logProbability += logProbs[b * positions + t];
                if (label != previous && label is not (Vocabulary.PadId or Vocabulary.BosId or Vocabulary.EosId)) tokens.Add((int)label);
                previous = label;
            }
            results[b] = [new Hypothesis([.. tokens], logProbability, logProbability)];
        }
        return results;
    }
}
