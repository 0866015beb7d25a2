using Serilog;
using TranslationTrainer.Data;
using TranslationTrainer.Text;

namespace TranslationTrainer.Speech;

/// <summary>
/// A speech manifest loaded for training or validation: each utterance's log-mel features as the source of a
/// <see cref="ParallelCorpus"/>, its text (the transcript for asr, the translation for st) as the target ids.
/// Utterances whose text is longer than `max-len` subwords, or whose frames exceed the model's positions after the
/// front end's 4× subsampling, are skipped and counted, as long sentences are.
/// </summary>
public static class SpeechCorpus
{
    /// <summary>The encoder positions of an utterance of `frames` frames after the two stride-2 convolutions.</summary>
    public static int EncoderPositions(int frames) =>
        (int)ConvSubsampler.OneLayerLength(ConvSubsampler.OneLayerLength(frames));

    /// <summary>The corpus and, line for line with it, the texts of the utterances it kept (validation scores against them).</summary>
    public static (ParallelCorpus Corpus, string[] Texts) Load(string manifestPath, Func<string, int[]> encodeTarget, int maxLength,
        int maxPositions, out ParallelCorpus.Skipped skipped)
    {
        var corpus = new ParallelCorpus { FeatureBins = LogMelFeatures.MelBins };
        var texts = new List<string>();
        int tooLong = 0;
        foreach (var utterance in SpeechManifest.Read(manifestPath))
        {
            var target = encodeTarget(utterance.Text);
            var audio = WavFile.Read(utterance.WavPath);
            if (target.Length + 1 > maxLength || EncoderPositions(LogMelFeatures.FrameCount(audio.Samples.Length)) > maxPositions)
            {
                tooLong++;
                continue;
            }
            corpus.SourceFrames.Add(LogMelFeatures.Frames(audio, $"{manifestPath} line {utterance.Line}: {utterance.WavPath}"));
            corpus.Target.Add(target);
            texts.Add(utterance.Text);
        }
        if (corpus.Count == 0)
            throw new UserError($"{manifestPath}: no usable utterances ({tooLong} longer than `max-len` {maxLength} subwords or `max-positions` {maxPositions} encoder positions)");
        skipped = new ParallelCorpus.Skipped(0, tooLong, 0);
        return (corpus, [.. texts]);
    }

    /// <summary>Seconds of audio a corpus holds (10 ms a frame), for the log.</summary>
    public static double Hours(ParallelCorpus corpus) =>
        corpus.SourceFrames.Sum(f => (double)f.Length / corpus.FeatureBins) * LogMelFeatures.HopLength / LogMelFeatures.SampleRate / 3600;

    public static void LogSummary(ILogger log, string name, ParallelCorpus corpus, ParallelCorpus.Skipped skipped) =>
        log.Information("{Name}: {Utterances} utterances, {Hours:F2} hours of audio; skipped {TooLong} too long", name, corpus.Count, Hours(corpus), skipped.TooLong);
}
