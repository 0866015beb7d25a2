namespace TranslationTrainer.Tests;

/// <summary>
/// libtorch's seed and thread count are process-wide, so tests that train or seed models run one at a time
/// (after the parallel ones); otherwise one test's manual_seed would change another's numbers.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchCollection
{
    public const string Name = "torch";
}
