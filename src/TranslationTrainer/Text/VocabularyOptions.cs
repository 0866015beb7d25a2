namespace TranslationTrainer.Text;

/// <summary>How a vocabulary is learned; recorded in manifest.json.</summary>
/// <param name="VocabSize">Total pieces, special and byte pieces included.</param>
/// <param name="MinFrequency">A pair seen fewer times than this is never merged.</param>
/// <param name="CharacterCoverage">Share of character occurrences the alphabet must cover (SentencePiece's
/// character_coverage); the rarest characters beyond it get no piece of their own and are encoded as bytes.</param>
/// <param name="ByteFallback">Encode characters outside the alphabet as UTF-8 byte pieces &lt;0xNN&gt; instead of &lt;unk&gt;.</param>
public sealed record VocabularyOptions(
    int VocabSize = 8000,
    int MinFrequency = 2,
    double CharacterCoverage = 0.9995,
    Normalization Normalization = Normalization.Nfkc,
    bool ByteFallback = true);
