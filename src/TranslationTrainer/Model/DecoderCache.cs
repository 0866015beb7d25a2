using static TorchSharp.torch;

namespace TranslationTrainer.Model;

/// <summary>
/// One decoder layer's self-attention keys and values for the prefix decoded so far, (B,H,t,dh). They live in
/// zero-filled buffers with room for more positions (doubled when full), so a step writes one position in place
/// instead of copying the whole prefix into a new tensor.
/// </summary>
public sealed class LayerCache : IDisposable
{
    private const int InitialCapacity = 16;
    private Tensor? keyBuffer, valueBuffer;

    /// <summary>Positions cached so far.</summary>
    public int Count { get; private set; }
    /// <summary>Views of the filled part of the buffers; valid until the next Append or Reorder.</summary>
    public Tensor? Keys => keyBuffer?.narrow(2, 0, Count);
    public Tensor? Values => valueBuffer?.narrow(2, 0, Count);
    /// <summary>
    /// The whole buffers (B,H,capacity,dh), contiguous: positions from Count on are zeros and must be masked.
    /// </summary>
    public Tensor? KeyBuffer => keyBuffer;
    public Tensor? ValueBuffer => valueBuffer;

    /// <summary>Adds the newest position (B,H,1,dh); the cache owns its buffers, outside any dispose scope.</summary>
    public void Append(Tensor keys, Tensor values)
    {
        if (keyBuffer is null || Count == keyBuffer.shape[2])
        {
            long capacity = keyBuffer is null ? InitialCapacity : 2 * keyBuffer.shape[2];
            Replace(Grow(keyBuffer, keys, capacity), Grow(valueBuffer, values, capacity));
        }
        keyBuffer!.narrow(2, Count, 1).copy_(keys);
        valueBuffer!.narrow(2, Count, 1).copy_(values);
        Count++;
    }

    private Tensor Grow(Tensor? buffer, Tensor like, long capacity)
    {
        var grown = zeros([like.shape[0], like.shape[1], capacity, like.shape[3]], dtype: like.dtype, device: like.device);
        if (buffer is not null) grown.narrow(2, 0, Count).copy_(buffer.narrow(2, 0, Count));
        return grown;
    }

    public void Reorder(Tensor index)
    {
        if (keyBuffer is null || valueBuffer is null) return;
        Replace(keyBuffer.index_select(0, index), valueBuffer.index_select(0, index));
    }

    /// <summary>In place: row targets[i] becomes a copy of row parents[i], and the first `count` rows are kept.</summary>
    public void KeepRows(Tensor parents, Tensor targets, long count)
    {
        if (keyBuffer is null || valueBuffer is null) return;
        DecoderCache.CopyRows(Keys!, parents, targets); // only the positions filled so far
        DecoderCache.CopyRows(Values!, parents, targets);
        Replace(keyBuffer.narrow(0, 0, count), valueBuffer.narrow(0, 0, count));
    }

    private void Replace(Tensor keys, Tensor values)
    {
        keyBuffer?.Dispose();
        valueBuffer?.Dispose();
        keyBuffer = keys.DetachFromDisposeScope();
        valueBuffer = values.DetachFromDisposeScope();
    }

    public void Dispose()
    {
        keyBuffer?.Dispose();
        valueBuffer?.Dispose();
    }
}

/// <summary>
/// Everything incremental decoding carries between steps, passed explicitly as in fairseq: per-layer
/// self-attention caches, the encoder keys/values (computed once) and the source padding mask.
/// Rows are hypotheses; Reorder follows beam re-ranking and finished sentences leaving the batch.
/// </summary>
public sealed class DecoderCache : IDisposable
{
    public LayerCache[] Layers { get; }
    public Tensor[] MemoryKeys { get; }
    public Tensor[] MemoryValues { get; }
    /// <summary>(B,1,1,S), true at source padding: the keys cross-attention must not see.</summary>
    public Tensor SourcePadding { get; private set; }
    /// <summary>Number of target positions already fed to the decoder.</summary>
    public int Length { get; set; }

    public DecoderCache(Tensor[] memoryKeys, Tensor[] memoryValues, Tensor sourceKeep)
    {
        Layers = memoryKeys.Select(_ => new LayerCache()).ToArray();
        MemoryKeys = memoryKeys.Select(t => t.DetachFromDisposeScope()).ToArray();
        MemoryValues = memoryValues.Select(t => t.DetachFromDisposeScope()).ToArray();
        SourcePadding = sourceKeep.logical_not().DetachFromDisposeScope(); // once, not in every step
    }

    /// <summary>
    /// Keeps hypothesis rows `rows` (new row i = old row rows[i]), and encoder rows `sources` when sentences leave
    /// (null: the sources are unchanged, as when beams are re-ranked). With a beam, the encoder side has one row
    /// per sentence and hypothesis row r reads sentence r / beam (see MultiHeadAttention.CrossAttend).
    /// </summary>
    public void Reorder(long[] rows, long[]? sources)
    {
        using var scope = NewDisposeScope();
        var device = SourcePadding.device;
        // Search keeps hypotheses in their rows where it can, so usually only a few rows change: copy just those.
        var changedRows = Moved(rows);
        var changedSources = sources is null ? [] : Moved(sources);
        if (changedRows.Length <= rows.Length / 2 && changedSources.Length <= (sources?.Length ?? 0) / 2)
        {
            var (rowTargets, rowParents) = Indices(rows, changedRows, device);
            foreach (var layer in Layers) layer.KeepRows(rowParents, rowTargets, rows.Length);
            if (sources is null) return;
            var (sourceTargets, sourceParents) = Indices(sources, changedSources, device);
            for (int i = 0; i < MemoryKeys.Length; i++)
            {
                MemoryKeys[i] = KeepRows(MemoryKeys[i], sourceParents, sourceTargets, sources.Length);
                MemoryValues[i] = KeepRows(MemoryValues[i], sourceParents, sourceTargets, sources.Length);
            }
            SourcePadding = KeepRows(SourcePadding, sourceParents, sourceTargets, sources.Length);
            return;
        }
        var index = tensor(rows, device: device);
        foreach (var layer in Layers) layer.Reorder(index);
        if (sources is null) return;
        var sourceIndex = tensor(sources, device: device);
        for (int i = 0; i < MemoryKeys.Length; i++)
        {
            MemoryKeys[i] = ReplaceRows(MemoryKeys[i], sourceIndex);
            MemoryValues[i] = ReplaceRows(MemoryValues[i], sourceIndex);
        }
        SourcePadding = ReplaceRows(SourcePadding, sourceIndex);
    }

    /// <summary>New positions whose row comes from elsewhere.</summary>
    private static long[] Moved(long[] order) => Enumerable.Range(0, order.Length).Where(i => order[i] != i).Select(i => (long)i).ToArray();

    private static (Tensor Targets, Tensor Parents) Indices(long[] order, long[] moved, Device device) =>
        (tensor(moved, device: device), tensor(moved.Select(i => order[i]).ToArray(), device: device));

    /// <summary>In place: row targets[i] becomes a copy of row parents[i] (all parents are read before any write).</summary>
    internal static void CopyRows(Tensor t, Tensor parents, Tensor targets)
    {
        if (targets.numel() > 0) t.index_copy_(0, targets, t.index_select(0, parents));
    }

    /// <summary>Moves rows in place, then keeps the first `count` (a view: no copy).</summary>
    private static Tensor KeepRows(Tensor t, Tensor parents, Tensor targets, long count)
    {
        CopyRows(t, parents, targets);
        var kept = t.narrow(0, 0, count).DetachFromDisposeScope();
        t.Dispose();
        return kept;
    }

    private static Tensor ReplaceRows(Tensor old, Tensor index)
    {
        var selected = old.index_select(0, index).DetachFromDisposeScope();
        old.Dispose();
        return selected;
    }

    public void Dispose()
    {
        foreach (var layer in Layers) layer.Dispose();
        foreach (var t in MemoryKeys.Concat(MemoryValues)) t.Dispose();
        SourcePadding.Dispose();
    }
}
