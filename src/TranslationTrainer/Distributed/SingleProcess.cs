using static TorchSharp.torch;

namespace TranslationTrainer.Distributed;

/// <summary>Training in one process: the collective calls have nothing to do, and no MPI library is loaded.</summary>
public sealed class SingleProcess : IWorld
{
    public int Rank => 0;
    public int Size => 1;
    public int LocalRank => 0;
    public int LocalSize => 1;

    public void SumInPlace(Tensor buffer) { }

    public void Broadcast(Tensor buffer) { }

    public void Abort(int exitCode) => Environment.Exit(exitCode);

    public void Dispose() { }
}
