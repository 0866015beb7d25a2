using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace TranslationTrainer.Model;

/// <summary>
/// Several models of one vocabulary decoding as one, as fairseq's EnsembleModel does: each step's output is the log of
/// the members' mean next-token probability, log(mean_i softmax(logits_i)) = logsumexp_i(log_softmax(logits_i)) − log n.
/// Search normalises what a step returns, which leaves these log-probabilities as they are (their logsumexp is 0).
/// </summary>
public sealed class EnsembleModel : IDecodingModel
{
    private readonly IDecodingModel[] members;

    public EnsembleModel(IReadOnlyList<IDecodingModel> members)
    {
        if (members.Count == 0) throw new ArgumentException("an ensemble needs at least one model", nameof(members));
        this.members = [.. members];
    }

    public IReadOnlyList<IDecodingModel> Members => members;
    public string Architecture => string.Join("+", members.Select(m => m.Architecture).Distinct());
    public int MaxPositions => members.Min(m => m.MaxPositions);
    public string Backend => string.Join("+", members.Select(m => m.Backend).Distinct());

    public EncodedSource Encode(Tensor source) => new EnsembleSource([.. members.Select(m => m.Encode(source))]);

    public IDecodingState StartDecoding(EncodedSource encoded, bool cached)
    {
        var sources = MembersOf(encoded);
        return new EnsembleState([.. members.Select((m, i) => m.StartDecoding(sources[i], cached))]);
    }

    /// <summary>The mean of the members' maps (B,H,T,S); with different head counts, of their head means (B,1,T,S).</summary>
    public Tensor? CrossAttention(EncodedSource encoded, Tensor targetInput)
    {
        var sources = MembersOf(encoded);
        var maps = members.Select((m, i) => m.CrossAttention(sources[i], targetInput)).ToList();
        if (maps.Any(map => map is null)) return null;
        bool sameHeads = maps.All(map => map!.shape[1] == maps[0]!.shape[1]);
        return stack(maps.Select(map => sameHeads ? map! : map!.mean([1], keepdim: true)), 0).mean([0]);
    }

    /// <summary>The log of the members' mean CTC probability at each encoder position; null unless every member has a CTC head.</summary>
    public Tensor? CtcLogProbs(EncodedSource encoded)
    {
        var sources = MembersOf(encoded);
        var logProbs = members.Select((m, i) => m.CtcLogProbs(sources[i])).ToList();
        if (logProbs.Any(p => p is null)) return null;
        if (logProbs.Count == 1) return logProbs[0];
        if (logProbs.Any(p => p!.shape[1] != logProbs[0]!.shape[1])) throw new UserError("the ensemble's models shorten audio differently; CTC decoding needs the same encoder positions");
        return stack(logProbs!, 0).logsumexp(0) - Math.Log(logProbs.Count);
    }

    public IDecodingModel ForWorker(int threads) => new EnsembleModel([.. members.Select(m => m.ForWorker(threads))]);

    private IReadOnlyList<EncodedSource> MembersOf(EncodedSource encoded) =>
        encoded is EnsembleSource ensemble && ensemble.Members.Count == members.Length
            ? ensemble.Members
            : throw new ArgumentException("not a source this ensemble encoded", nameof(encoded));

    /// <summary>Each member's encoding of the batch; the first member's stands for the whole where one is read.</summary>
    private sealed record EnsembleSource(IReadOnlyList<EncodedSource> Members) : EncodedSource(Members[0].Memory, Members[0].SourceKeep);

    private sealed class EnsembleState(IDecodingState[] states) : IDecodingState
    {
        public Tensor Step(Tensor lastTokens)
        {
            if (states.Length == 1) return states[0].Step(lastTokens); // search normalises logits itself, so one model's scores stay exactly its own
            var logProbabilities = stack(states.Select(s => F.log_softmax(s.Step(lastTokens), -1)), 0); // (members, rows, V)
            return logProbabilities.logsumexp(0) - Math.Log(states.Length);
        }

        public void Reorder(long[] rows, long[]? sources)
        {
            foreach (var state in states) state.Reorder(rows, sources);
        }

        public void Dispose()
        {
            foreach (var state in states) state.Dispose();
        }
    }
}
