namespace TranslationTrainer.Text;

/// <summary>One way of turning text into ids (our BPE files or a SentencePiece model); <see cref="Vocabulary"/> wraps it.</summary>
internal interface ISubwordModel
{
    int Size { get; }
    int[] Encode(string line);
    string Decode(IEnumerable<int> ids); // special ids already removed
    string IdToPiece(int id);
    int? PieceToId(string piece);
}
