using Microsoft.ML.Tokenizers;

namespace TranslationTrainer.Text;

/// <summary>
/// A model trained by SentencePiece's spm_train, read by Microsoft.ML.Tokenizers' SentencePieceTokenizer; ids are
/// spm_encode's. The library's normaliser (2.0.1) skips the model's normalisation rules and drops one-character lines,
/// so normalising and ▁-escaping happen here: NFKC for nmt_nfkc/nfkc models (plus lower case for *_cf), none for
/// identity, whitespace collapsed as spm's remove_extra_whitespaces does; the library then does BPE and byte fallback. Ids are not remapped, so that they stay identical to spm_encode's: the model must have been trained with
/// --pad_id=0 --unk_id=1 --bos_id=2 --eos_id=3, or loading fails with a message saying so.
/// </summary>
internal sealed class SentencePieceSubwordModel : ISubwordModel
{
    private readonly SentencePieceTokenizer _tokenizer;
    private readonly string[] _pieces;
    private readonly Normalization _normalization;
    private readonly bool _lowerCase;

    private SentencePieceSubwordModel(SentencePieceTokenizer tokenizer, string normalizerName)
    {
        _tokenizer = tokenizer;
        _normalization = normalizerName.Contains("nfkc") ? Normalization.Nfkc : Normalization.None;
        _lowerCase = normalizerName.EndsWith("_cf", StringComparison.Ordinal);
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
        string normalizerName;
        try
        {
            byte[] bytes = File.ReadAllBytes(path);
            normalizerName = SentencePieceModelFile.NormalizerName(bytes);
            tokenizer = SentencePieceTokenizer.Create(new MemoryStream(bytes), false, false);
        }
        catch (Exception e) when (e is not UserError)
        {
            throw new UserError($"{path}: not a readable SentencePiece model ({e.Message})", e);
        }
        var model = new SentencePieceSubwordModel(tokenizer, normalizerName);
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
    {
        string text = TextNormalizer.Normalize(line, _normalization);
        if (_lowerCase)
        {
            text = text.ToLowerInvariant();
        }
        if (text.Length == 0)
        {
            return [];
        }
        if (_tokenizer.EscapeWhiteSpaces)
        {
            text = text.Replace(' ', TextNormalizer.SpaceMarker);
        }
        if (_tokenizer.AddDummyPrefix)
        {
            text = _tokenizer.TreatWhitespaceAsSuffix ? text + TextNormalizer.SpaceMarker : TextNormalizer.SpaceMarker + text;
        }
        return [.. _tokenizer.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false,
            considerPreTokenization: true, considerNormalization: false)];
    }

    public string Decode(IEnumerable<int> ids) => _tokenizer.Decode(ids, considerSpecialTokens: false) ?? "";

    public string IdToPiece(int id) => _pieces[id];

    public int? PieceToId(string piece) => _tokenizer.Vocabulary.TryGetValue(piece, out int id) ? id : null;
}
