using TranslationTrainer.Model;
using static TorchSharp.torch;

namespace TranslationTrainer.Tests.Model;

[Collection(TorchCollection.Name)]
public class DropoutTests
{
    /// <summary>The mask drops a fraction p and scales the rest so that the mean is kept, in both types.</summary>
    [Theory]
    [InlineData(ScalarType.Float32, 0.1)]
    [InlineData(ScalarType.BFloat16, 0.1)]
    [InlineData(ScalarType.Float32, 0.3)]
    [InlineData(ScalarType.BFloat16, 0.5)]
    public void DropsAboutPAndKeepsTheMean(ScalarType type, double p)
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var x = ones(200, 1001, dtype: type); // odd sizes: the vectorised pass leaves a scalar tail
        var y = Dropout.Apply(x, p, training: true).to(float64);
        double dropped = y.eq(0).to(float64).mean().item<double>();
        Assert.InRange(dropped, p - 0.005, p + 0.005); // 200,200 draws: the standard error is ~0.001
        Assert.InRange(y.mean().item<double>(), 0.99, 1.01);
        // Kept elements are all scaled by the same 1/(1 − p) (as rounded in the type).
        var kept = y.masked_select(y.ne(0));
        Assert.Equal(kept.min().item<double>(), kept.max().item<double>());
        Assert.Equal(1 / (1 - p), kept.max().item<double>(), type == ScalarType.BFloat16 ? 0.01 : 1e-6);
    }

    /// <summary>Masks follow torch's generator (so runs and resumes repeat them) and differ from call to call.</summary>
    [Fact]
    public void MasksFollowTheSeedAndDifferBetweenCalls()
    {
        using var scope = NewDisposeScope();
        var x = ones(64, 33);
        manual_seed(7);
        var first = Dropout.Apply(x, 0.2, training: true);
        var second = Dropout.Apply(x, 0.2, training: true);
        manual_seed(7);
        var again = Dropout.Apply(x, 0.2, training: true);
        Assert.True(first.equal(again).all().item<bool>());
        Assert.False(first.equal(second).all().item<bool>());
    }

    /// <summary>The gradient passes through kept elements with the same scale and is zero where dropped.</summary>
    [Fact]
    public void GradientIsTheMask()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var x = randn(16, 40).requires_grad_(true);
        var y = Dropout.Apply(x, 0.25, training: true);
        y.sum().backward();
        var mask = y.detach() / x.detach(); // 0 or 1/(1 − p) everywhere (randn has no exact zeros)
        Assert.True(x.grad!.allclose(mask, rtol: 1e-5, atol: 1e-6));
    }

    /// <summary>Outside training, or with p = 0, dropout is the identity: the same tensor, no libtorch call.</summary>
    [Fact]
    public void IsTheIdentityOutsideTraining()
    {
        using var scope = NewDisposeScope();
        var x = randn(4, 5);
        Assert.Same(x, Dropout.Apply(x, 0.1, training: false));
        Assert.Same(x, Dropout.Apply(x, 0.0, training: true));
        // p = 1 drops everything, as F.dropout does.
        Assert.Equal(0.0, Dropout.Apply(x, 1.0, training: true).abs().sum().item<float>());
    }
}
