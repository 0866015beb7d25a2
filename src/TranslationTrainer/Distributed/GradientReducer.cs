using System.Diagnostics;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TranslationTrainer.Distributed;

/// <summary>
/// Sums the gradients of all ranks with one Allreduce per update: every gradient is copied into one
/// contiguous CPU float32 buffer, a few extra values (the loss) ride along at its end, the buffer is summed
/// and copied back. On a GPU the gradients go through host memory (docs/design.md, "Distributed training").
/// </summary>
public sealed class GradientReducer : IDisposable
{
    private readonly IWorld world;
    private readonly Parameter[] parameters;
    private readonly Tensor buffer;
    private readonly Tensor[] slices;
    private readonly Tensor extras;

    /// <summary>Time spent in the last Allreduce (waiting for the slowest rank included).</summary>
    public TimeSpan LastAllreduce { get; private set; }

    public GradientReducer(IWorld world, Parameter[] parameters, int extraValues)
    {
        this.world = world;
        this.parameters = parameters;
        long gradients = parameters.Sum(p => p.numel());
        buffer = zeros(gradients + extraValues, dtype: float32);
        long offset = 0;
        slices = parameters.Select(p =>
        {
            var slice = buffer.narrow(0, offset, p.numel());
            offset += p.numel();
            return slice;
        }).ToArray();
        extras = buffer.narrow(0, gradients, extraValues);
    }

    /// <summary>Replaces every parameter's gradient by its sum over the ranks; returns the extra values summed the same way.</summary>
    public float[] Sum(params float[] values)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        for (int i = 0; i < parameters.Length; i++)
        {
            // A rank whose share of the update was empty has no gradient: it adds zeros.
            if (parameters[i].grad is { } grad) slices[i].copy_(grad.reshape(-1));
            else slices[i].zero_();
        }
        extras.copy_(tensor(values));
        var clock = Stopwatch.StartNew();
        world.SumInPlace(buffer);
        LastAllreduce = clock.Elapsed;
        for (int i = 0; i < parameters.Length; i++)
        {
            var summed = slices[i].view_as(parameters[i]);
            if (parameters[i].grad is { } grad) grad.copy_(summed);
            else parameters[i].grad = summed.to(parameters[i].device, copy: true).DetachFromDisposeScope();
        }
        return extras.data<float>().ToArray();
    }

    /// <summary>Gives every rank rank 0's parameters: at the start and after a resume, so that all ranks train one model.</summary>
    public static void BroadcastParameters(IWorld world, IEnumerable<Parameter> parameters)
    {
        if (world.Size == 1) return;
        using var noGrad = no_grad();
        foreach (var parameter in parameters)
        {
            using var host = parameter.detach().cpu().contiguous();
            world.Broadcast(host);
            parameter.copy_(host);
        }
    }

    public void Dispose()
    {
        foreach (var slice in slices) slice.Dispose();
        extras.Dispose();
        buffer.Dispose();
    }
}
