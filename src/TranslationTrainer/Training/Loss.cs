using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace TranslationTrainer.Training;

public static class Loss
{
    /// <summary>
    /// Label-smoothed cross-entropy summed over real target tokens (padding ignored): the caller divides by
    /// the token count of the whole update, so accumulated batches weigh every token equally.
    /// </summary>
    public static Tensor SummedCrossEntropy(Tensor logits, Tensor target, double labelSmoothing, int padId) =>
        F.cross_entropy(logits.reshape(-1, logits.shape[^1]), target.reshape(-1), ignore_index: padId,
            reduction: nn.Reduction.Sum, label_smoothing: labelSmoothing);
}
