using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace TranslationTrainer.Model;

/// <summary>
/// Multi-head scaled dot-product attention. One fused input projection holds the query, key and value
/// matrices: self-attention applies it whole (one matmul), cross-attention applies its query rows to the
/// decoder state and its key/value rows to the encoder output.
/// </summary>
public sealed class MultiHeadAttention : nn.Module
{
    private readonly Linear inputProjection;
    private readonly Linear outputProjection;
    private readonly int modelSize, heads;
    private readonly double dropout;

    public MultiHeadAttention(string name, int modelSize, int heads, double dropout) : base(name)
    {
        this.modelSize = modelSize;
        this.heads = heads;
        this.dropout = dropout;
        inputProjection = nn.Linear(modelSize, 3 * modelSize);
        outputProjection = nn.Linear(modelSize, modelSize);
        RegisterComponents();
        nn.init.xavier_uniform_(inputProjection.weight);
        nn.init.zeros_(inputProjection.bias!);
        nn.init.xavier_uniform_(outputProjection.weight);
        nn.init.zeros_(outputProjection.bias!);
    }

    /// <summary>Self-attention over a whole sequence. keepKeys (B,1,1,S) is true where a key is real.</summary>
    public Tensor SelfAttend(IMatmulPath path, Tensor x, Tensor? keepKeys, bool causal)
    {
        var (q, k, v) = SplitQueryKeyValue(InMatmulType(path, path.Linear(x, inputProjection.weight, inputProjection.bias, feedsMatmul: true)));
        return Attend(path, q, k, v, keepKeys, causal);
    }

    /// <summary>
    /// Self-attention over a whole sequence without a causal mask that also returns the keys and values it attended
    /// to (B,H,L,dh, views into the projection): the decoder-only's prefill keeps them for later steps to read.
    /// </summary>
    public (Tensor Output, Tensor Keys, Tensor Values) SelfAttendKeepingKeys(IMatmulPath path, Tensor x, Tensor? keepKeys)
    {
        var (q, k, v) = SplitQueryKeyValue(InMatmulType(path, path.Linear(x, inputProjection.weight, inputProjection.bias, feedsMatmul: true)));
        return (Attend(path, q, k, v, keepKeys, causal: false), k, v);
    }

    /// <summary>Self-attention for the newest position only, appending its key and value to the cache.</summary>
    public Tensor SelfAttendStep(IMatmulPath path, Tensor x, LayerCache cache)
    {
        var qkv = InMatmulType(path, path.Linear(x, inputProjection.weight, inputProjection.bias, feedsMatmul: true));
        var (q, k, v) = SplitQueryKeyValue(qkv);
        cache.Append(k, v);
        // bf16 decoding in a worker: the whole attention in one native call (BFloat16Kernels), no libtorch operations.
        if (path.AttendStep(qkv, 3 * modelSize, cache.KeyBuffer!, cache.ValueBuffer!, cache.Count, null, 1.0 / Math.Sqrt(modelSize / heads)) is { } native)
            return path.Linear(native.unsqueeze(1), outputProjection.weight, outputProjection.bias);
        // One query per row: two small matmuls beat SDPA here. bfloat16 matmuls copy a strided view first, which costs
        // more than reading the whole contiguous buffers with the empty positions masked; float32 ones read the filled
        // part in place. Softmax runs in float32. Timings in docs/performance.md.
        bool wholeBuffers = q.dtype == ScalarType.BFloat16;
        var (keys, values) = wholeBuffers ? (cache.KeyBuffer!, cache.ValueBuffer!) : (cache.Keys!, cache.Values!);
        var scores = (q * (1.0 / Math.Sqrt(modelSize / heads))).matmul(keys.transpose(-2, -1)); // (B,H,1,positions)
        if (wholeBuffers) scores.narrow(-1, cache.Count, scores.shape[^1] - cache.Count).fill_(double.NegativeInfinity);
        var context = Precision.Cast(F.softmax(scores, -1, float32), q.dtype).matmul(values);
        return Output(path, context);
    }

    /// <summary>
    /// Self-attention for the newest position (R,1,d) of a sequence whose first part, a prefix with one row per
    /// source, was computed once (the decoder-only's source, <see cref="SelfAttendKeepingKeys"/>): the query sees that
    /// prefix's keys (prefixPadding (sources,1,1,S) true where masked) and the positions cached since, under one
    /// softmax, and its own key and value join the cache. As in CrossAttend, row r reads prefix r / beams. Explicit
    /// matmuls as in SelfAttendStep; there is no native kernel for two key sets, so bf16-packed runs only its linears
    /// through the packed kernel here.
    /// </summary>
    public Tensor PrefixAttendStep(IMatmulPath path, Tensor x, LayerCache cache, Tensor prefixKeys, Tensor prefixValues, Tensor prefixPadding)
    {
        var (q, k, v) = SplitQueryKeyValue(InMatmulType(path, path.Linear(x, inputProjection.weight, inputProjection.bias, feedsMatmul: true)));
        cache.Append(k, v);
        long rows = q.shape[0], sources = prefixKeys.shape[0], beams = rows / sources, prefixLength = prefixKeys.shape[2], headSize = modelSize / heads;
        q = q * (1.0 / Math.Sqrt(headSize)); // (R,H,1,dh)
        // Each source's beams become its query positions over the prefix, (sources,H,beams,S), then back to rows, (R,H,1,S).
        var folded = q.reshape(sources, beams, heads, headSize).transpose(1, 2);
        var prefixScores = folded.matmul(prefixKeys.transpose(-2, -1)).masked_fill_(prefixPadding, double.NegativeInfinity)
            .transpose(1, 2).reshape(rows, heads, 1, prefixLength);
        // As in SelfAttendStep: bfloat16 reads the whole buffers with the empty positions masked, float32 the filled part.
        bool wholeBuffers = q.dtype == ScalarType.BFloat16;
        var (keys, values) = wholeBuffers ? (cache.KeyBuffer!, cache.ValueBuffer!) : (cache.Keys!, cache.Values!);
        var cachedScores = q.matmul(keys.transpose(-2, -1)); // (R,H,1,positions)
        if (wholeBuffers) cachedScores.narrow(-1, cache.Count, cachedScores.shape[^1] - cache.Count).fill_(double.NegativeInfinity);
        var weights = Precision.Cast(F.softmax(cat([prefixScores, cachedScores], -1), -1, float32), q.dtype);
        var prefixWeights = weights.narrow(-1, 0, prefixLength).reshape(sources, beams, heads, prefixLength).transpose(1, 2); // (sources,H,beams,S)
        var prefixContext = prefixWeights.matmul(prefixValues).transpose(1, 2).reshape(rows, heads, 1, headSize);
        var context = weights.narrow(-1, prefixLength, weights.shape[^1] - prefixLength).matmul(values) + prefixContext;
        return Output(path, context);
    }

    /// <summary>Projects the encoder output to per-head keys and values, once per source batch.</summary>
    public (Tensor Keys, Tensor Values) ProjectMemory(IMatmulPath path, Tensor memory)
    {
        var weight = inputProjection.weight.narrow(0, modelSize, 2 * modelSize);
        var bias = inputProjection.bias!.narrow(0, modelSize, 2 * modelSize);
        var kv = InMatmulType(path, path.Linear(memory, weight, bias, feedsMatmul: true));
        var (batch, length) = (memory.shape[0], memory.shape[1]);
        var split = kv.view(batch, length, 2, heads, modelSize / heads).permute(2, 0, 3, 1, 4);
        return (split[0], split[1]);
    }

    /// <summary>
    /// Attention from decoder states (R,T,d) to projected encoder keys/values of R/beams sources: with a beam, row
    /// r reads source r / beams, whose keys and values are then read once for all its beams.
    /// </summary>
    public Tensor CrossAttend(IMatmulPath path, Tensor x, Tensor memoryKeys, Tensor memoryValues, Tensor keepKeys)
    {
        var q = SplitHeads(Query(path, x));
        long rows = q.shape[0], sources = memoryKeys.shape[0];
        if (rows == sources) return Attend(path, q, memoryKeys, memoryValues, keepKeys, causal: false);
        // Each source's beams become more query positions of that source (cross-attention has no causal mask).
        long beams = rows / sources, length = q.shape[2], headSize = q.shape[3];
        var folded = q.view(sources, beams, heads, length, headSize).permute(0, 2, 1, 3, 4).reshape(sources, heads, beams * length, headSize);
        var context = F.scaled_dot_product_attention(folded, memoryKeys, memoryValues, keepKeys, training ? dropout : 0.0);
        var unfolded = context.view(sources, heads, beams, length, headSize).permute(0, 2, 3, 1, 4).reshape(rows, length, modelSize);
        return path.Linear(unfolded, outputProjection.weight, outputProjection.bias);
    }

    /// <summary>
    /// CrossAttend for one new position per row (R,1,d), as incremental decoding needs: explicit matmuls instead of
    /// SDPA, which is slow for so few queries (bfloat16 most of all); memoryKeys/Values must be contiguous.
    /// </summary>
    public Tensor CrossAttendStep(IMatmulPath path, Tensor x, Tensor memoryKeys, Tensor memoryValues, Tensor padding)
    {
        long rows = x.shape[0], sources = memoryKeys.shape[0], beams = rows / sources, headSize = modelSize / heads;
        var query = Query(path, x);
        if (path.AttendStep(query, modelSize, memoryKeys, memoryValues, (int)memoryKeys.shape[2], padding, 1.0 / Math.Sqrt(headSize)) is { } native)
            return path.Linear(native.unsqueeze(1), outputProjection.weight, outputProjection.bias);
        // Row r = source r / beams: that source's beams become its query positions, (sources,H,beams,dh).
        var q = query.view(sources, beams, heads, headSize).transpose(1, 2);
        var scores = (q * (1.0 / Math.Sqrt(headSize))).matmul(memoryKeys.transpose(-2, -1)); // (sources,H,beams,S)
        var weights = Precision.Cast(F.softmax(scores.masked_fill_(padding, double.NegativeInfinity), -1, float32), q.dtype);
        var context = weights.matmul(memoryValues).transpose(1, 2).reshape(rows, 1, modelSize);
        return path.Linear(context, outputProjection.weight, outputProjection.bias);
    }

    /// <summary>softmax(q·kᵀ/√dh) of the decoder states x against projected encoder keys, one map per head: (B,H,T,S).</summary>
    public Tensor AttentionWeightsPerHead(IMatmulPath path, Tensor x, Tensor memoryKeys, Tensor keepKeys)
    {
        var q = SplitHeads(Query(path, x));
        var scores = q.matmul(memoryKeys.transpose(-2, -1)).to(float32) / Math.Sqrt(modelSize / heads);
        return F.softmax(scores.masked_fill(keepKeys.logical_not(), double.NegativeInfinity), -1);
    }

    private Tensor Attend(IMatmulPath path, Tensor q, Tensor k, Tensor v, Tensor? keepKeys, bool causal)
    {
        var p = training ? dropout : 0.0;
        return Output(path, F.scaled_dot_product_attention(q, k, v, keepKeys, p, is_casual: causal));
    }

    /// <summary>Per-head contexts (B,H,T,dh) → heads concatenated (B,T,d) → output projection.</summary>
    private Tensor Output(IMatmulPath path, Tensor context)
    {
        var (batch, length) = (context.shape[0], context.shape[2]);
        return path.Linear(context.transpose(1, 2).reshape(batch, length, modelSize), outputProjection.weight, outputProjection.bias);
    }

    /// <summary>The query rows of the fused input projection applied to x (cross-attention's decoder side).</summary>
    private Tensor Query(IMatmulPath path, Tensor x) =>
        InMatmulType(path, path.Linear(x, inputProjection.weight.narrow(0, 0, modelSize), inputProjection.bias!.narrow(0, 0, modelSize), feedsMatmul: true));

    /// <summary>Projections come out float32 with MKL; attention multiplies them (and caches keys/values) in the matmul type.</summary>
    private static Tensor InMatmulType(IMatmulPath path, Tensor t) => Precision.Cast(t, path.MatmulType);

    private (Tensor, Tensor, Tensor) SplitQueryKeyValue(Tensor qkv)
    {
        var (batch, length) = (qkv.shape[0], qkv.shape[1]);
        var split = qkv.view(batch, length, 3, heads, modelSize / heads).permute(2, 0, 3, 1, 4);
        return (split[0], split[1], split[2]);
    }

    private Tensor SplitHeads(Tensor x) =>
        x.view(x.shape[0], x.shape[1], heads, modelSize / heads).transpose(1, 2);
}
