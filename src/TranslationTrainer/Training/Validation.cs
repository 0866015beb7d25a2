using System.Text.Json.Nodes;
using Serilog;
using TranslationTrainer.Data;
using TranslationTrainer.Decoding;
using TranslationTrainer.Evaluation;
using TranslationTrainer.Speech;
using TranslationTrainer.Text;
using static TorchSharp.torch;
using TranslationTrainer.Model;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Training;

/// <summary>The validation set: its pairs as ids, and with --valid-bleu its lines to translate and score (else empty).</summary>
internal sealed record ValidationSet(ParallelCorpus Pairs, string[] SourceLines, string[] ReferenceLines)
{
    /// <summary>Loaded like the training data, but without its length-ratio filter.</summary>
    public static ValidationSet Load(TrainConfig config, VocabularyPair vocab, ParallelCorpus.LoadOptions options, ILogger log)
    {
        if (config.IsSpeech)
        {
            var (utterances, texts) = SpeechCorpus.Load(config.ValidSrc, vocab.Target.Encode, config.MaxLen, config.Model.MaxPositions, out var skippedAudio);
            SpeechCorpus.LogSummary(log, "valid", utterances, skippedAudio);
            return new ValidationSet(utterances, [], config.ValidBleu ? texts : []);
        }
        var pairs = ParallelCorpus.Load(config.ValidSrc, config.ValidTgt, vocab.Source.Encode, vocab.Target.Encode, options with { MaxLengthRatio = 0 }, out var skipped);
        pairs.LogSummary(log, "valid", skipped);
        return config.ValidBleu
            ? new ValidationSet(pairs, TextFile.ReadLines(config.ValidSrc).ToArray(), TextFile.ReadLines(config.ValidTgt).ToArray())
            : new ValidationSet(pairs, [], []);
    }
}

/// <summary>What one validation found: its loss, whether its score beat the best so far, and the progress that records it.</summary>
internal sealed record ValidationResult(double Loss, bool Improved, TrainingProgress Progress);

/// <summary>
/// Validation (rank 0 only): loss and perplexity, with --valid-bleu greedy BLEU and chrF, logged and written to
/// metrics.jsonl; the best score (--best-metric, kept so that higher is better) and --patience's count go into the progress.
/// </summary>
internal sealed class Validator(TrainConfig config, ValidationSet set, ITranslationModel model, VocabularyPair vocab, Device device, ILogger log)
{
    public ValidationResult Run(TrainingProgress progress, MetricsFile metrics)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        model.Module.eval();
        double lossSum = 0;
        long tokens = 0;
        foreach (var indices in Batching.ForEpoch(set.Pairs, config.MaxTokens, seed: 0, epoch: 0))
        {
            using var batchScope = NewDisposeScope();
            var batch = Batching.ToTensors(set.Pairs, indices, device);
            var logits = model.forward(batch.Source, batch.TargetInput);
            lossSum += Loss.SummedCrossEntropy(logits, batch.TargetOutput, 0.0, Vocabulary.PadId).item<float>();
            tokens += batch.TargetTokens;
        }
        double loss = lossSum / tokens, perplexity = Math.Exp(loss);
        var record = new JsonObject { ["update"] = progress.Update, ["epoch"] = progress.Epoch, ["valid_loss"] = Math.Round(loss, 5), ["valid_ppl"] = Math.Round(perplexity, 4) };
        var scores = config.ValidBleu ? TranslateAndScore() : [];
        foreach (var (name, value) in scores) record["valid_" + name.ToLowerInvariant().Replace('-', '_')] = Math.Round(value, 2);
        double ScoreOf(string name) => scores.First(s => s.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;
        // Kept so that higher is better: WER and loss go in negated.
        double score = config.BestMetric switch { "bleu" => ScoreOf("bleu"), "wer" => -ScoreOf("wer"), _ => -loss };
        bool improved = progress.BestScore is not { } best || score > best;
        progress = progress with
        {
            BestScore = improved ? score : progress.BestScore,
            ValidationsWithoutImprovement = improved ? 0 : progress.ValidationsWithoutImprovement + 1,
        };
        log.Information("Validation at update {Update}: loss {Loss:F3}, perplexity {Perplexity:F2}{Bleu}{Best}", progress.Update, loss, perplexity,
            string.Concat(scores.Select(x => $", {x.Name} {x.Value:F2}")), improved ? " (best)" : "");
        metrics.Write(record);
        return new ValidationResult(loss, improved, progress);
    }

    /// <summary>
    /// Greedy translations (asr: transcripts) of the validation set, detokenized and scored as `eval` scores them:
    /// BLEU and chrF, or for asr WER (lowercased, punctuation removed: `eval --metrics wer --wer-normalize`).
    /// </summary>
    private (string Name, double Value)[] TranslateAndScore()
    {
        var greedy = new DecodingOptions { Beam = 1 };
        string[] metrics = config.Task == "asr" ? ["wer"] : ["bleu", "chrf"];
        var scores = Score(Decode(greedy), metrics).Select((value, i) => (metrics[i] == "chrf" ? "chrF" : metrics[i].ToUpperInvariant(), value)).ToList();
        // A CTC head learns to listen before the decoder does: its own WER shows how far the encoder has got.
        if (config.CtcWeight > 0) scores.Add(("CTC-WER", Score(Decode(greedy with { Ctc = true }), metrics)[0]));
        return [.. scores];
    }

    private List<string> Decode(DecodingOptions options) => set.Pairs.IsSpeech
        ? new SpeechTranscriber(model, vocab.Target, options, device).TranscribeAll(set.ReferenceLines, set.Pairs.SourceFrames, set.Pairs.FeatureBins).Select(r => r.Best).ToList()
        : new Translator(model, vocab, options, device).TranslateAll(set.SourceLines).Select(r => r.Best).ToList();

    // WER as speech recognition reports it: case and punctuation (which audio barely shows) not counted.
    private double[] Score(List<string> hypotheses, string[] metrics) =>
        [.. Evaluator.Score(hypotheses, [set.ReferenceLines], new EvalOptions { Metrics = metrics, Wer = new WerOptions(Lowercase: true, RemovePunctuation: true) })
            .Results.Select(r => r.Score.Score)];
}
