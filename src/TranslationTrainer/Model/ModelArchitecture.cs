namespace TranslationTrainer.Model;

/// <summary>
/// A kind of model a checkpoint can hold, by the name its header stores: how to build one from the header's config
/// and vocabulary sizes (source, target), and whether a header could describe the parameters its file stores.
/// A new architecture is one more entry in <see cref="All"/>.
/// </summary>
public sealed record ModelArchitecture(
    string Name,
    Func<ModelConfig, int, int, ITranslationModel> Create,
    Func<ModelConfig, int, int, long, bool> FitsStoredParameters)
{
    public static readonly IReadOnlyList<ModelArchitecture> All =
    [
        new(Transformer.ArchitectureName, (config, source, target) => new Transformer(config, source, target), Transformer.FitsStoredParameters),
        new(DecoderOnlyTransformer.ArchitectureName, (config, source, target) => new DecoderOnlyTransformer(config, source, target), DecoderOnlyTransformer.FitsStoredParameters),
        new(RecurrentModel.AttentionName, (config, source, target) => new RecurrentModel(config, source, target), RecurrentModel.FitsStoredParameters),
        new(RecurrentModel.BottleneckName, (config, source, target) => new RecurrentModel(config, source, target), RecurrentModel.FitsStoredParameters),
        new(ModelConfig.SpeechArch, (config, source, target) => new Transformer(config, source, target), Transformer.FitsStoredParameters),
    ];

    /// <summary>The architecture of that name; null when there is none.</summary>
    public static ModelArchitecture? Find(string name) => All.FirstOrDefault(a => a.Name == name);
}
