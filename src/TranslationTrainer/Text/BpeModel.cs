namespace TranslationTrainer.Text;

/// <summary>A learned BPE vocabulary: the pieces in id order and the merges in the order they were learned.</summary>
public sealed record BpeModel(IReadOnlyList<string> Pieces, IReadOnlyList<(string Left, string Right)> Merges)
{
    public const string Pad = "<pad>", Unk = "<unk>", Bos = "<s>", Eos = "</s>";

    /// <summary>The four special pieces, at ids 0–3 (see <see cref="Vocabulary.PadId"/>).</summary>
    public static readonly string[] SpecialPieces = [Pad, Unk, Bos, Eos];

    /// <summary>Byte piece names, SentencePiece style: &lt;0x00&gt; … &lt;0xFF&gt;.</summary>
    public static string BytePiece(int value) => $"<0x{value:X2}>";
}
