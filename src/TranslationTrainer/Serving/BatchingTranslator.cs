using System.Diagnostics;
using TranslationTrainer.Decoding;

namespace TranslationTrainer.Serving;

/// <summary>A failure the HTTP layer answers with this status and {"error": message}.</summary>
public sealed class HttpError(int status, string message, int? retryAfterSeconds = null) : Exception(message)
{
    public int Status => status;
    public int? RetryAfterSeconds => retryAfterSeconds;
}

/// <summary>
/// One queue in front of the <see cref="Translator"/>: sentences of concurrent requests wait up to
/// <see cref="ServerOptions.BatchWaitMs"/> for others to join them, then a decoding worker takes them as one batch
/// (same decoding options, at most <see cref="ServerOptions.MaxBatchTokens"/> padded subwords). The workers are
/// <see cref="Workers"/>' threads, as in `translate`: each decodes its batch with its share of the libtorch threads.
/// </summary>
public sealed class BatchingTranslator : IDisposable
{
    private sealed record Sentence(string Line, int[] Ids, DecodingOptions Options, long Arrived, TaskCompletionSource<TranslationResult> Result, CancellationToken Cancel);

    private readonly Translator translator;
    private readonly ServerOptions options;
    private readonly ServerMetrics metrics;
    private readonly LinkedList<Sentence> waiting = new();
    private readonly object gate = new();
    private readonly Thread pool;
    private readonly long batchWaitTicks;
    private int idleWorkers;
    private bool completed;
    private Exception? failure;

    public BatchingTranslator(Translator translator, int workers, ServerOptions options, ServerMetrics metrics)
    {
        this.translator = translator;
        this.options = options;
        this.metrics = metrics;
        Workers = workers;
        batchWaitTicks = (long)(options.BatchWaitMs * Stopwatch.Frequency / 1000);
        // Workers.Run blocks until every worker has stopped, so it gets a thread of its own.
        pool = new Thread(() =>
        {
            try { Decoding.Workers.Run(workers, workers, (_, _) => Work()); }
            catch (Exception e) { failure = e; }
        }) { Name = "serve batching", IsBackground = true };
        pool.Start();
    }

    public int Workers { get; }

    /// <summary>The decoding options of requests that do not choose their own.</summary>
    public DecodingOptions Defaults => translator.Options;

    public int QueueLength { get { lock (gate) return waiting.Count; } }

    /// <summary>
    /// Translates the lines, in order. Throws <see cref="HttpError"/> 503 when the queue has no room for all of them
    /// (nothing is queued then) and when they are not done within the request timeout.
    /// </summary>
    public async Task<TranslationResult[]> TranslateAsync(IReadOnlyList<string> lines, DecodingOptions decoding, CancellationToken aborted)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.RequestTimeoutSeconds));
        var results = Enqueue(lines, decoding with { Workers = 1 }, timeout.Token);
        try
        {
            return await Task.WhenAll(results).WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
        {
            throw new HttpError(503, $"not translated within the {options.RequestTimeoutSeconds:0.###} s request timeout; retry later", retryAfterSeconds: 1);
        }
    }

    private Task<TranslationResult>[] Enqueue(IReadOnlyList<string> lines, DecodingOptions decoding, CancellationToken cancel)
    {
        // The tokenizer's thread safety is not documented; encoding takes microseconds, so one request at a time.
        int[][] encoded;
        lock (translator) encoded = [.. lines.Select(line => translator.Encode(line).Ids)];
        var now = Stopwatch.GetTimestamp();
        var sentences = lines.Select((line, i) => new Sentence(line, encoded[i], decoding, now, new(TaskCreationOptions.RunContinuationsAsynchronously), cancel)).ToArray();
        lock (gate)
        {
            if (completed) throw new HttpError(503, "the server is shutting down", retryAfterSeconds: 1);
            if (failure is not null) throw new HttpError(503, "the decoding workers have stopped");
            if (waiting.Count + sentences.Length > options.MaxQueue)
                throw new HttpError(503, $"the queue is full ({waiting.Count} sentences waiting, at most {options.MaxQueue}); retry later", retryAfterSeconds: 1);
            foreach (var sentence in sentences) waiting.AddLast(sentence);
            metrics.QueueLength(waiting.Count);
            Monitor.PulseAll(gate);
        }
        return [.. sentences.Select(s => s.Result.Task)];
    }

    /// <summary>One worker: takes batches until the queue is completed and empty.</summary>
    private void Work()
    {
        while (Take() is { } batch)
        {
            try
            {
                var results = translator.Translate([.. batch.Select(s => s.Line)], [.. batch.Select(s => s.Ids)], batch[0].Options);
                metrics.Batch(batch.Count, batch.Sum(s => s.Ids.Length), results.Sum(r => r.Subwords));
                for (int i = 0; i < batch.Count; i++) batch[i].Result.TrySetResult(results[i]);
            }
            catch (Exception e)
            {
                foreach (var sentence in batch) sentence.Result.TrySetException(e);
            }
        }
    }

    /// <summary>The next batch, once its oldest sentence has waited long enough or it is full; null when stopped.</summary>
    private List<Sentence>? Take()
    {
        lock (gate)
        {
            idleWorkers++;
            try
            {
                while (true)
                {
                    DropCancelled();
                    if (waiting.Count == 0)
                    {
                        if (completed) return null;
                        Monitor.Wait(gate);
                        continue;
                    }
                    var batch = Collect(waiting.First!.Value.Options);
                    long wait = waiting.First.Value.Arrived + batchWaitTicks - Stopwatch.GetTimestamp();
                    if (wait > 0 && !completed && !batch.Full)
                    {
                        Monitor.Wait(gate, (int)Math.Ceiling(1000.0 * wait / Stopwatch.Frequency)); // whole ms: a 0 ms wait would spin
                        continue;
                    }
                    foreach (var node in batch.Sentences) waiting.Remove(node);
                    metrics.QueueLength(waiting.Count);
                    return [.. batch.Sentences.Select(node => node.Value)];
                }
            }
            finally
            {
                idleWorkers--;
            }
        }
    }

    /// <summary>
    /// The oldest waiting sentences with these options that fit one batch, and whether that batch is full. Taken,
    /// it leaves the other idle workers an equal share (so that 32 waiting sentences become two batches of 16 for two
    /// workers, not one of 32 and an idle worker).
    /// </summary>
    private (List<LinkedListNode<Sentence>> Sentences, bool Full) Collect(DecodingOptions decoding)
    {
        var batch = new List<LinkedListNode<Sentence>>();
        int longest = 0, alike = 0;
        for (var node = waiting.First; node is not null; node = node.Next)
        {
            if (node.Value.Options != decoding) continue;
            alike++;
            int length = Math.Max(longest, node.Value.Ids.Length);
            if (batch.Count == decoding.BatchSize || (batch.Count > 0 && (batch.Count + 1) * length > options.MaxBatchTokens)) return (batch, true);
            batch.Add(node);
            longest = length;
        }
        int share = (alike + idleWorkers - 1) / idleWorkers;
        return (batch[..Math.Min(batch.Count, share)], false);
    }

    private void DropCancelled()
    {
        for (var node = waiting.First; node is not null;)
        {
            var next = node.Next;
            if (node.Value.Cancel.IsCancellationRequested)
            {
                node.Value.Result.TrySetCanceled(node.Value.Cancel);
                waiting.Remove(node);
            }
            node = next;
        }
    }

    /// <summary>Lets the workers finish what is queued, then stops them.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            completed = true;
            Monitor.PulseAll(gate);
        }
        pool.Join();
    }
}
