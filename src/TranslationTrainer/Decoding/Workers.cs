using System.Runtime.ExceptionServices;
using TorchSharp;
using static TorchSharp.torch;

namespace TranslationTrainer.Decoding;

/// <summary>
/// Decodes batches on several threads at once, as Marian's CPU workers do: each worker takes the next batch and
/// runs it with threads/workers libtorch threads. A decoding step is hundreds of small operations that run one
/// after another while the other threads wait (half the time on 2 cores), so on a CPU two single-threaded workers
/// translate the Bible test set 1.1–1.4× faster than one worker with both threads; a single-threaded worker also
/// lets decoding use the bf16 kernels (Model/BFloat16Kernels.cs).
/// </summary>
public static class Workers
{
    private const int StackSize = 8 << 20; // a main thread's, where libtorch's kernels usually run (.NET's default is 1.5 MB)

    /// <summary>auto (0): one single-threaded worker per libtorch thread on a CPU, one worker on a GPU.</summary>
    public static int Resolve(int requested, Device device) =>
        requested > 0 ? requested : device.type == DeviceType.CPU ? get_num_threads() : 1;

    /// <summary>The libtorch threads each of `workers` workers gets: an equal share of this thread's, at least one.</summary>
    public static int ThreadsEach(int workers) => Math.Max(1, get_num_threads() / Math.Max(1, workers));

    /// <summary>
    /// Runs work(item, threads) for item 0 … items − 1, each item on one worker, in inference mode; `threads` is the
    /// worker's libtorch thread count, from which the work picks its backend (a model's ForWorker). With fewer items
    /// than workers each worker gets more threads (one item: the caller's thread, with all of them). The first failure
    /// is rethrown here once every worker has stopped.
    /// libtorch's thread count is process-wide state: set_num_threads on a worker also sets the count that threads
    /// started later begin with, so Run sets the caller's count back before it returns, failure or not.
    /// </summary>
    public static void Run(int items, int workers, Action<int, int> work)
    {
        workers = Math.Clamp(workers, 1, Math.Max(1, items));
        int callersThreads = get_num_threads();
        if (workers == 1)
        {
            using var inference = inference_mode();
            for (int i = 0; i < items; i++) work(i, callersThreads);
            return;
        }
        int threadsEach = ThreadsEach(workers), next = -1;
        ExceptionDispatchInfo? failure = null;
        var pool = Enumerable.Range(0, workers).Select(_ => new Thread(() =>
        {
            try
            {
                // libtorch gives a new thread its thread count on the first parallel operation: asked here first, so
                // that the count set next is not overwritten then.
                get_num_threads();
                set_num_threads(threadsEach);
                using var inference = inference_mode();
                for (int i; Volatile.Read(ref failure) is null && (i = Interlocked.Increment(ref next)) < items;) work(i, threadsEach);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
            }
        }, StackSize) { Name = "decoding worker" }).ToList();
        try
        {
            pool.ForEach(thread => thread.Start());
            pool.ForEach(thread => thread.Join());
        }
        finally
        {
            set_num_threads(callersThreads); // the workers changed the count libtorch gives new threads
        }
        failure?.Throw();
    }
}
