namespace TranslationTrainer.Text;

/// <summary>
/// One tokenizer (joint, or one side of a separate pair). Encoding and decoding run through Microsoft.ML.Tokenizers;
/// the special ids are the same in every kind of vocabulary.
/// </summary>
public sealed class Vocabulary
{
    /// <summary>The special token ids, the one definition every model, batch and search uses.</summary>
    public const int PadId = 0, UnkId = 1, BosId = 2, EosId = 3;

    private readonly ISubwordModel _model;

    internal Vocabulary(ISubwordModel model) => _model = model;

    /// <summary>An in-memory vocabulary over a freshly learned model (same encoder as the saved files).</summary>
    public static Vocabulary FromModel(BpeModel model, Normalization normalization)
        => new(new BpeSubwordModel(BpeFiles.CreateTokenizer(model), normalization));

    public int Size => _model.Size;

    /// <summary>Normalises, then subword ids; adds no &lt;s&gt;/&lt;/s&gt;.</summary>
    public int[] Encode(string line) => _model.Encode(line);

    public string[] EncodeToPieces(string line) => Array.ConvertAll(Encode(line), _model.IdToPiece);

    /// <summary>The normalised text back, byte for byte; special ids are skipped.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var kept = new List<int>();
        foreach (int id in ids)
        {
            if (id < 0 || id >= Size)
            {
                throw new UserError($"id {id} is outside the vocabulary (0–{Size - 1})");
            }
            if (id > EosId)
            {
                kept.Add(id);
            }
        }
        return _model.Decode(kept);
    }

    public string IdToPiece(int id)
        => id >= 0 && id < Size ? _model.IdToPiece(id) : throw new ArgumentOutOfRangeException(nameof(id), id, $"vocabulary has {Size} pieces");

    /// <summary>The id of a piece as printed by <see cref="EncodeToPieces"/>, or null if there is none.</summary>
    public int? PieceToId(string piece) => _model.PieceToId(piece);
}
