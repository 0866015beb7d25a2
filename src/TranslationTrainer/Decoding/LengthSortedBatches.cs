using TranslationTrainer.Data;
using TranslationTrainer.Model;
using static TorchSharp.torch;

namespace TranslationTrainer.Decoding;

/// <summary>One decoded batch, on its worker: which inputs it holds, their ids, the padded source, the decoder it ran on and each input's n-best.</summary>
public sealed record DecodedBatch(int[] Inputs, int[][] SourceIds, Tensor Source, IDecodingModel Decoder, List<Hypothesis>[] Hypotheses);

/// <summary>
/// Encoded sources (ids ending in &lt;/s&gt;) sorted by length into batches of `batchSize`, as `translate` decodes them
/// (less padding); a source with nothing before &lt;/s&gt; is in no batch. Translator and DecodeBenchmark both decode through it.
/// </summary>
public sealed class LengthSortedBatches(IReadOnlyList<int[]> sources, int batchSize)
{
    private readonly int[][] batches = [.. Enumerable.Range(0, sources.Count).Where(i => sources[i].Length > 1).OrderBy(i => sources[i].Length).Chunk(batchSize)];

    /// <summary>The backend the batches' workers run on (bf16-packed when each has one thread).</summary>
    public string Backend(IDecodingModel model, int workers) => model.ForWorker(Workers.ThreadsEach(Math.Min(workers, batches.Length))).Backend;

    /// <summary>
    /// Searches every batch, `workers` at a time; `decoded` gets each batch on its worker inside the batch's dispose
    /// scope (its tensors are freed after). maxLength(source subwords without &lt;/s&gt;) bounds each output.
    /// </summary>
    public void Decode(IDecodingModel model, DecodingOptions options, Func<int, int> maxLength, Device device, int workers, Action<DecodedBatch> decoded, DecodeProfile? profile = null)
    {
        Workers.Run(batches.Length, workers, (b, threads) =>
        {
            var batch = batches[b];
            using var scope = NewDisposeScope();
            var sourceIds = batch.Select(i => sources[i]).ToArray();
            var source = Batching.Pad(sourceIds, device);
            var maxLengths = batch.Select(i => maxLength(sources[i].Length - 1)).ToArray();
            var decoder = model.ForWorker(threads);
            decoded(new DecodedBatch(batch, sourceIds, source, decoder, Search.Decode(decoder, source, maxLengths, options, profile)));
        });
    }
}
