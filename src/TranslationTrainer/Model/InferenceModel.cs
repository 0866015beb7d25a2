namespace TranslationTrainer.Model;

/// <summary>
/// A model prepared for decoding only (<see cref="ITranslationModel.ForInference"/>): it decodes on a named backend and
/// offers no way to its parameters, so it can be neither trained nor saved. It owns the model it was made from.
/// </summary>
public sealed class InferenceModel : IDecodingModel, IDisposable
{
    private readonly IDisposable owner;
    private readonly IDecodingModel decoder;
    private readonly IDecodingModel? oneThreadDecoder;

    /// <param name="owner">The model whose weights were rewritten; disposed with this one.</param>
    /// <param name="decoder">The model decoding on the backend it was prepared for.</param>
    /// <param name="oneThreadDecoder">The same weights on bf16-packed, for workers with one libtorch thread; null without the kernel.</param>
    /// <param name="parameters">The number of parameter values, for reports.</param>
    public InferenceModel(IDisposable owner, IDecodingModel decoder, IDecodingModel? oneThreadDecoder, long parameters)
    {
        this.owner = owner;
        this.decoder = decoder;
        this.oneThreadDecoder = oneThreadDecoder;
        Parameters = parameters;
    }

    public string Architecture => decoder.Architecture;
    public int MaxPositions => decoder.MaxPositions;
    /// <summary>The backend it was prepared for, which workers with several threads (and direct calls) use.</summary>
    public string Backend => decoder.Backend;
    public long Parameters { get; }

    public EncodedSource Encode(TorchSharp.torch.Tensor source) => decoder.Encode(source);
    public IDecodingState StartDecoding(EncodedSource encoded, bool cached) => decoder.StartDecoding(encoded, cached);
    public TorchSharp.torch.Tensor? CrossAttention(EncodedSource encoded, TorchSharp.torch.Tensor targetInput) => decoder.CrossAttention(encoded, targetInput);
    public TorchSharp.torch.Tensor? CtcLogProbs(EncodedSource encoded) => decoder.CtcLogProbs(encoded);

    /// <summary>A worker with one libtorch thread decodes on bf16-packed where the weights were packed; any other on the backend chosen.</summary>
    public IDecodingModel ForWorker(int threads) => threads == 1 && oneThreadDecoder is not null ? oneThreadDecoder : decoder;

    public void Dispose() => owner.Dispose();
}
