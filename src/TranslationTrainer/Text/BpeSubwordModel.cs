using System.Text;
using Microsoft.ML.Tokenizers;

namespace TranslationTrainer.Text;

/// <summary>
/// Our learned BPE, encoded by Microsoft.ML.Tokenizers' BpeTokenizer. The text is normalised and ▁-escaped
/// first (<see cref="TextNormalizer"/>). A character outside the alphabet comes out of BpeTokenizer as &lt;unk&gt;;
/// when the vocabulary has byte pieces it is replaced by the UTF-8 bytes of that character (byte fallback).
/// </summary>
internal sealed class BpeSubwordModel : ISubwordModel
{
    private const int FirstByteId = Vocabulary.EosId + 1;

    private readonly BpeTokenizer _tokenizer;
    private readonly Normalization _normalization;
    private readonly string[] _pieces;
    private readonly bool _byteFallback;

    public BpeSubwordModel(BpeTokenizer tokenizer, Normalization normalization)
    {
        _tokenizer = tokenizer;
        _normalization = normalization;
        _pieces = new string[tokenizer.Vocabulary.Count];
        foreach (var (piece, id) in tokenizer.Vocabulary)
        {
            if (id < 0 || id >= _pieces.Length || _pieces[id] is not null)
            {
                throw new UserError($"vocabulary ids are not 0…{_pieces.Length - 1} without gaps (id {id} for '{piece}')");
            }
            _pieces[id] = piece;
        }
        for (int id = 0; id < BpeModel.SpecialPieces.Length; id++)
        {
            if (_pieces.Length <= id || _pieces[id] != BpeModel.SpecialPieces[id])
            {
                throw new UserError($"vocabulary must have {BpeModel.SpecialPieces[id]} at id {id}");
            }
        }
        _byteFallback = _pieces.Length > FirstByteId + 255 && _pieces[FirstByteId] == BpeModel.BytePiece(0);
    }

    public int Size => _pieces.Length;

    public int[] Encode(string line)
    {
        string escaped = TextNormalizer.Escape(TextNormalizer.Normalize(line, _normalization));
        if (escaped.Length == 0)
        {
            return [];
        }
        var ids = _tokenizer.EncodeToIds(escaped, considerPreTokenization: true, considerNormalization: false);
        if (!_byteFallback || !ids.Contains(Vocabulary.UnkId))
        {
            return [.. ids];
        }
        var withBytes = new List<int>(ids.Count + 8);
        foreach (EncodedToken token in _tokenizer.EncodeToTokens(escaped, out _, considerPreTokenization: true, considerNormalization: false))
        {
            if (token.Id != Vocabulary.UnkId)
            {
                withBytes.Add(token.Id);
                continue;
            }
            foreach (byte b in Encoding.UTF8.GetBytes(escaped[token.Offset]))
            {
                withBytes.Add(FirstByteId + b);
            }
        }
        return [.. withBytes];
    }

    public string Decode(IEnumerable<int> ids)
    {
        var text = new StringBuilder();
        var pieces = new List<int>();
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            bool isByte = _byteFallback && id >= FirstByteId && id < FirstByteId + 256;
            if (isByte)
            {
                Flush(pieces, text);
                bytes.Add((byte)(id - FirstByteId));
            }
            else
            {
                Flush(bytes, text);
                pieces.Add(id);
            }
        }
        Flush(pieces, text);
        Flush(bytes, text);
        return TextNormalizer.Unescape(text.ToString());
    }

    private void Flush(List<int> pieces, StringBuilder text)
    {
        if (pieces.Count > 0)
        {
            text.Append(_tokenizer.Decode(pieces, considerSpecialTokens: false));
            pieces.Clear();
        }
    }

    private static void Flush(List<byte> bytes, StringBuilder text)
    {
        if (bytes.Count > 0)
        {
            text.Append(Encoding.UTF8.GetString(bytes.ToArray())); // a broken sequence becomes U+FFFD
            bytes.Clear();
        }
    }

    public string IdToPiece(int id) => _pieces[id];

    public int? PieceToId(string piece) => _tokenizer.Vocabulary.TryGetValue(piece, out int id) ? id : null;
}
