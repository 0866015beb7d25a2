using Microsoft.ML.Tokenizers;

namespace TranslationTrainer.Text;

/// <summary>
/// A model trained by SentencePiece's spm_train, read by Microsoft.ML.Tokenizers' SentencePieceTokenizer; ids are
/// exactly spm_encode's. The model applies its own normaliser (e.g. nmt_nfkc), whitespace rules and byte fallback.
/// Ids are not remapped, so that they stay identical to spm_encode's: the model must have been trained with
/// --pad_id=0 --unk_id=1 --bos_id=2 --eos_id=3, or loading fails with a message saying so.
/// </summary>
internal sealed class SentencePieceSubwordModel : ISubwordModel
{
    private readonly SentencePieceTokenizer _tokenizer;
    private readonly string[] _pieces;

    private SentencePieceSubwordModel(SentencePieceTokenizer tokenizer)
    {
        _tokenizer = tokenizer;
        _pieces = new string[tokenizer.Vocabulary.Count];
        foreach (var (piece, id) in tokenizer.Vocabulary)
        {
            if (id >= 0 && id < _pieces.Length)
            {
                _pieces[id] = piece;
            }
        }
    }

    public static SentencePieceSubwordModel Load(string path)
    {
        SentencePieceTokenizer tokenizer;
        try
        {
            using Stream stream = File.OpenRead(path);
            tokenizer = SentencePieceTokenizer.Create(stream, false, false);
        }
        catch (Exception e) when (e is not UserError)
        {
            throw new UserError($"{path}: not a readable SentencePiece model ({e.Message})", e);
        }
        var model = new SentencePieceSubwordModel(tokenizer);
        int padId = tokenizer.Vocabulary.TryGetValue(BpeModel.Pad, out int p) ? p : -1;
        if (padId != Vocabulary.PadId || tokenizer.UnknownId != Vocabulary.UnkId
            || tokenizer.BeginningOfSentenceId != Vocabulary.BosId || tokenizer.EndOfSentenceId != Vocabulary.EosId)
        {
            throw new UserError($"{path}: special ids are pad={padId} unk={tokenizer.UnknownId} bos={tokenizer.BeginningOfSentenceId} "
                + $"eos={tokenizer.EndOfSentenceId}; train the model with --pad_id=0 --unk_id=1 --bos_id=2 --eos_id=3");
        }
        return model;
    }

    public int Size => _pieces.Length;

    public int[] Encode(string line)
        => [.. _tokenizer.EncodeToIds(line, addBeginningOfSentence: false, addEndOfSentence: false)];

    public string Decode(IEnumerable<int> ids) => _tokenizer.Decode(ids, considerSpecialTokens: false) ?? "";

    public string IdToPiece(int id) => _pieces[id];

    public int? PieceToId(string piece) => _tokenizer.Vocabulary.TryGetValue(piece, out int id) ? id : null;
}
