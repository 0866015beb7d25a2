using TranslationTrainer.Model;
using TranslationTrainer.Speech;
using TranslationTrainer.Text;
using static TorchSharp.torch;

namespace TranslationTrainer.Decoding;

/// <summary>
/// Speech model + search: log-mel features in, text out (a transcript for asr, a translation for st). Utterances are
/// sorted by frames into batches of `batch-size`, which <see cref="Workers"/> decode several at a time, and the
/// results come back in input order. With `ctc` the encoder's CTC head decodes (<see cref="CtcSearch"/>); else an output is at most `max-len-a` × encoder positions + `max-len-b` subwords.
/// </summary>
public sealed class SpeechTranscriber(IDecodingModel model, Vocabulary target, DecodingOptions options, Device device)
{
    /// <summary>Each utterance's n-best; `names` (file names, shown as the source) and `utterances` ([frames × bins] row-major) line for line.</summary>
    public List<TranslationResult> TranscribeAll(IReadOnlyList<string> names, IReadOnlyList<float[]> utterances, int bins)
    {
        options.Validate();
        var results = new TranslationResult[utterances.Count];
        int Frames(int i) => utterances[i].Length / bins;
        var batches = Enumerable.Range(0, utterances.Count).OrderBy(Frames).Chunk(options.BatchSize).ToArray();
        Workers.Run(batches.Length, Workers.Resolve(options.Workers, device), (b, threads) =>
        {
            var batch = batches[b];
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var source = SpeechBatch.Pad([.. batch.Select(i => utterances[i])], bins, device);
            var maxLengths = batch.Select(i => options.MaxLength(SpeechCorpus.EncoderPositions(Frames(i)), model.MaxPositions)).ToArray();
            var hypotheses = options.Ctc ? CtcSearch.Greedy(model.ForWorker(threads), source) : Search.Decode(model.ForWorker(threads), source, maxLengths, options);
            for (int j = 0; j < batch.Length; j++)
                results[batch[j]] = new TranslationResult(names[batch[j]], hypotheses[j].Select(h => (target.Decode(h.Tokens), h.Score)).ToList())
                    { Subwords = hypotheses[j][0].Tokens.Length };
        });
        return [.. results];
    }
}
