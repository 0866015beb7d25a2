using System.Diagnostics;
using TorchSharp;
using TranslationTrainer.Model;
using TranslationTrainer.Text;
using static TorchSharp.torch;

namespace TranslationTrainer.Training;

/// <summary>
/// What the parallelism timing measures: sentence lengths (source = target, in tokens), the tokens of every batch
/// (sentences = tokens / length, at least 1), and the timed repetitions after the warm-up ones.
/// </summary>
public sealed record ParallelismOptions
{
    public static readonly IReadOnlyList<int> DefaultLengths = [10, 25, 50, 100, 200];

    public IReadOnlyList<int> Lengths { get; init; } = DefaultLengths;
    public int TokensPerBatch { get; init; } = 2000;
    public int Repetitions { get; init; } = 5;
    public int Warmup { get; init; } = 1;

    /// <summary>Throws a UserError naming the first option that cannot be measured.</summary>
    public void Validate()
    {
        if (Lengths.Count == 0 || Lengths.Any(n => n < 2))
            throw new UserError("`parallelism-lengths` must be a comma-separated list of lengths of at least 2 tokens");
        if (TokensPerBatch < 1) throw new UserError("`parallelism-tokens` must be at least 1");
        if (Repetitions < 1) throw new UserError("`parallelism-repeats` must be at least 1");
        if (Warmup < 0) throw new UserError("`parallelism-warmup` must not be negative");
    }
}

/// <summary>
/// One sentence length's timings: a training forward+backward (label-smoothed loss included) and an encoder pass over
/// a batch of `Sentences` sentences of `Length` tokens, in milliseconds per 1,000 (target, resp. source) tokens; both
/// null, with the reason, when the model cannot take sentences that long.
/// </summary>
public sealed record ParallelismRow(int Length, int Sentences, double? TrainMsPerThousandTokens, double? EncodeMsPerThousandTokens, string? Skipped = null)
{
    public int Tokens => Length * Sentences;
}

/// <summary>
/// The "sequential operations" row of Vaswani et al. 2017's table 1, measured: how the time of one training
/// forward+backward and of encoding grows with the sentence length at the same tokens per batch. Self-attention
/// handles all positions of a sentence at once (O(1) sequential steps), so its time per token grows slowly with the
/// length; a recurrent encoder takes one step per token (O(n)), so fewer, longer sentences give it less to do at
/// once and its time per token rises. A fresh model is built from the configuration (random weights do for timing) and
/// fed synthetic token batches; each figure is the median of the repetitions that follow the warm-up.
/// </summary>
public static class ParallelismTiming
{
    public static IReadOnlyList<ParallelismRow> Measure(ModelArchitecture architecture, ModelConfig config, int sourceVocabSize, int targetVocabSize,
        Precision precision, Device device, ParallelismOptions options)
    {
        options.Validate();
        manual_seed(0);
        using var model = architecture.Create(config, sourceVocabSize, targetVocabSize);
        model.Module.to(device);
        model.Precision = precision;
        var generator = new Generator(0);
        var rows = new List<ParallelismRow>();
        foreach (int length in options.Lengths)
        {
            int sentences = Math.Max(1, options.TokensPerBatch / length);
            if (length > model.MaxPositions)
            {
                rows.Add(new ParallelismRow(length, sentences, null, null, $"longer than the model's {model.MaxPositions} positions"));
                continue;
            }
            using var scope = NewDisposeScope();
            // Ordinary tokens (ids 4 and up); a source ends in </s> and a target input starts with <s>, as in training.
            var source = randint(4, sourceVocabSize, [sentences, length], generator: generator, dtype: int64).to(device);
            source[.., length - 1] = Vocabulary.EosId;
            var targetInput = randint(4, targetVocabSize, [sentences, length], generator: generator, dtype: int64).to(device);
            targetInput[.., 0] = Vocabulary.BosId;
            var targetOutput = randint(4, targetVocabSize, [sentences, length], generator: generator, dtype: int64).to(device);
            double tokens = (double)sentences * length;
            try
            {
                model.Module.train();
                double train = Median(options, () =>
                {
                    model.Module.zero_grad();
                    return Time(device, () =>
                    {
                        using var step = NewDisposeScope();
                        var loss = Loss.SummedCrossEntropy(model.forward(source, targetInput), targetOutput, 0.1, Vocabulary.PadId) / tokens;
                        loss.backward();
                    });
                });
                model.Module.eval();
                double encode = Median(options, () =>
                {
                    using var noGrad = no_grad();
                    return Time(device, () =>
                    {
                        using var step = NewDisposeScope();
                        model.Encode(source);
                    });
                });
                rows.Add(new ParallelismRow(length, sentences, train * 1000 / tokens * 1000, encode * 1000 / tokens * 1000));
            }
            catch (UserError e)
            {
                // An architecture may take fewer positions than MaxPositions says for some input (a decoder-only model reads source and target as one sequence).
                rows.Add(new ParallelismRow(length, sentences, null, null, e.Message));
            }
            finally
            {
                model.Module.zero_grad();
            }
        }
        return rows;
    }

    /// <summary>The median of the timed repetitions (seconds), after the warm-up ones.</summary>
    private static double Median(ParallelismOptions options, Func<double> run)
    {
        for (int i = 0; i < options.Warmup; i++) run();
        var times = Enumerable.Range(0, options.Repetitions).Select(_ => run()).Order().ToList();
        return times.Count % 2 == 1 ? times[times.Count / 2] : (times[times.Count / 2 - 1] + times[times.Count / 2]) / 2;
    }

    /// <summary>Seconds of one run; on a GPU the clock stops once the queued work has finished.</summary>
    private static double Time(Device device, Action work)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize();
        var clock = Stopwatch.StartNew();
        work();
        if (device.type == DeviceType.CUDA) cuda.synchronize();
        return clock.Elapsed.TotalSeconds;
    }
}
