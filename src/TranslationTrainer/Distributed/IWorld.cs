using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace TranslationTrainer.Distributed;

/// <summary>
/// The processes (ranks) of one training run and the few collective calls data-parallel training needs.
/// Every rank must make the same calls in the same order: a call one rank skips leaves the others waiting.
/// </summary>
public interface IWorld : IDisposable
{
    int Rank { get; }
    int Size { get; }
    /// <summary>This rank's number among the ranks on its machine: it picks the GPU.</summary>
    int LocalRank { get; }
    /// <summary>How many ranks run on this machine: they share its cores.</summary>
    int LocalSize { get; }
    /// <summary>Rank 0 writes the run directory and validates; the others only train.</summary>
    bool IsMain => Rank == 0;

    /// <summary>Sums a contiguous CPU float32 tensor over all ranks, in place.</summary>
    void SumInPlace(Tensor buffer);

    /// <summary>Overwrites a contiguous CPU tensor with rank 0's.</summary>
    void Broadcast(Tensor buffer);

    /// <summary>Ends every rank of the job now: for an error on one rank that the others, waiting for it, cannot see.</summary>
    void Abort(int exitCode);

    /// <summary>This rank's share of a batch: every Size-th sentence, so the shares of a length-sorted batch are alike.</summary>
    int[] Share(int[] indices) => Size == 1 ? indices : indices.Where((_, k) => k % Size == Rank).ToArray();

    /// <summary>Whether the flag is set on any rank: for decisions (stop, save) that all ranks must take together.</summary>
    bool AnyRank(bool flag)
    {
        if (Size == 1) return flag;
        using var value = tensor(new[] { flag ? 1f : 0f });
        SumInPlace(value);
        return value.item<float>() > 0;
    }

    /// <summary>Rank 0's flag, on every rank.</summary>
    bool FromMain(bool flag)
    {
        if (Size == 1) return flag;
        using var value = tensor(new byte[] { flag ? (byte)1 : (byte)0 });
        Broadcast(value);
        return value.item<byte>() != 0;
    }

    /// <summary>Rank 0's text, on every rank (the others pass anything).</summary>
    string FromMain(string text)
    {
        if (Size == 1) return text;
        var bytes = Encoding.UTF8.GetBytes(IsMain ? text : "");
        using var length = tensor(new long[] { bytes.Length });
        Broadcast(length);
        if (!IsMain) bytes = new byte[length.item<long>()];
        if (bytes.Length == 0) return "";
        using var data = tensor(bytes);
        Broadcast(data);
        return Encoding.UTF8.GetString(data.data<byte>().ToArray());
    }

    /// <summary>The device this rank trains on: with several ranks on a GPU machine, GPU number local rank.</summary>
    Device LocalDevice(Device device) =>
        device.type == DeviceType.CUDA && Size > 1 ? new Device(DeviceType.CUDA, LocalRank % Math.Max(1, cuda.device_count())) : device;
}
