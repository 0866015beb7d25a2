using static TorchSharp.torch;

namespace TranslationTrainer.Model;

/// <summary>One decoder layer's self-attention keys and values for the prefix decoded so far, (B,H,t,dh).</summary>
public sealed class LayerCache : IDisposable
{
    public Tensor? Keys { get; private set; }
    public Tensor? Values { get; private set; }

    /// <summary>Adds the newest position; the cache owns its tensors, outside any dispose scope.</summary>
    public void Append(Tensor keys, Tensor values)
    {
        var newKeys = Keys is null ? keys.contiguous() : cat([Keys, keys], 2);
        var newValues = Values is null ? values.contiguous() : cat([Values, values], 2);
        Replace(newKeys, newValues);
    }

    public void Reorder(Tensor index)
    {
        if (Keys is null || Values is null) return;
        Replace(Keys.index_select(0, index), Values.index_select(0, index));
    }

    private void Replace(Tensor keys, Tensor values)
    {
        Keys?.Dispose();
        Values?.Dispose();
        Keys = keys.DetachFromDisposeScope();
        Values = values.DetachFromDisposeScope();
    }

    public void Dispose()
    {
        Keys?.Dispose();
        Values?.Dispose();
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
    public Tensor SourceKeep { get; private set; }
    /// <summary>Number of target positions already fed to the decoder.</summary>
    public int Length { get; set; }

    public DecoderCache(Tensor[] memoryKeys, Tensor[] memoryValues, Tensor sourceKeep)
    {
        Layers = memoryKeys.Select(_ => new LayerCache()).ToArray();
        MemoryKeys = memoryKeys.Select(t => t.DetachFromDisposeScope()).ToArray();
        MemoryValues = memoryValues.Select(t => t.DetachFromDisposeScope()).ToArray();
        SourceKeep = sourceKeep.DetachFromDisposeScope();
    }

    /// <summary>
    /// Keeps rows `index` (a long tensor) in that order. The encoder keys/values and the source mask are only
    /// gathered when sourcesChanged: re-ranking the beams of the same sentences leaves them as they are.
    /// </summary>
    public void Reorder(Tensor index, bool sourcesChanged = true)
    {
        foreach (var layer in Layers) layer.Reorder(index);
        if (!sourcesChanged) return;
        for (int i = 0; i < MemoryKeys.Length; i++)
        {
            MemoryKeys[i] = ReplaceRows(MemoryKeys[i], index);
            MemoryValues[i] = ReplaceRows(MemoryValues[i], index);
        }
        SourceKeep = ReplaceRows(SourceKeep, index);
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
        SourceKeep.Dispose();
    }
}
