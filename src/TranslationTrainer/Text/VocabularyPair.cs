using System.Security.Cryptography;
using System.Text;

namespace TranslationTrainer.Text;

/// <summary>
/// The source and target vocabularies of a model (the same object twice when joint). A directory holds one of:
/// <list type="bullet">
/// <item>manifest.json + vocab.json + merges.txt (joint) or manifest.json + source/ + target/ (separate), made by `vocab`;</item>
/// <item>one SentencePiece *.model (joint) or source.model + target.model (separate), trained with
/// --pad_id=0 --unk_id=1 --bos_id=2 --eos_id=3;</item>
/// <item>a bare Hugging Face-style vocab.json + merges.txt in our conventions (▁ word prefix, &lt;pad&gt; &lt;unk&gt; &lt;s&gt; &lt;/s&gt;
/// at ids 0–3), read with NFKC normalisation.</item>
/// </list>
/// </summary>
/// <param name="Fingerprint">SHA-256 of the model files' content (and the normalisation), recorded by checkpoints.</param>
public sealed record VocabularyPair(Vocabulary Source, Vocabulary Target, bool Joint, string Fingerprint)
{
    public const string SourceDirectory = "source", TargetDirectory = "target";

    public static VocabularyPair Load(string directory)
    {
        if (File.Exists(directory))
        {
            throw new UserError($"{directory}: is a file, expected a vocabulary directory");
        }
        if (!Directory.Exists(directory))
        {
            throw new UserError($"{directory}: vocabulary directory not found");
        }
        if (File.Exists(Path.Combine(directory, VocabularyManifest.FileName)))
        {
            return LoadBpe(directory, VocabularyManifest.Read(directory));
        }
        string[] models = Directory.GetFiles(directory, "*.model").Order(StringComparer.Ordinal).ToArray();
        if (models.Length > 0)
        {
            return LoadSentencePiece(directory, models);
        }
        if (File.Exists(Path.Combine(directory, BpeFiles.VocabFile)))
        {
            var vocabulary = new Vocabulary(new BpeSubwordModel(BpeFiles.Load(directory), Normalization.Nfkc));
            return new VocabularyPair(vocabulary, vocabulary, true, ComputeFingerprint(Normalization.Nfkc, directory, BpeFiles.VocabFile, BpeFiles.MergesFile));
        }
        throw new UserError($"{directory}: no vocabulary here (expected {VocabularyManifest.FileName}, a SentencePiece .model, or {BpeFiles.VocabFile} + {BpeFiles.MergesFile})");
    }

    private static VocabularyPair LoadBpe(string directory, VocabularyManifest manifest)
    {
        if (manifest.Model != "bpe" || manifest.SpecialIds != SpecialIds.Fixed || manifest.PreTokenizer != WordSplitter.Pattern)
        {
            throw new UserError($"{Path.Combine(directory, VocabularyManifest.FileName)}: unsupported model '{manifest.Model}', "
                + "special ids or pre-tokenizer (made by another version?)");
        }
        Vocabulary Side(string dir) => new(new BpeSubwordModel(BpeFiles.Load(dir), manifest.Normalization));
        switch (manifest.Kind)
        {
            case VocabularyManifest.Joint:
                var joint = Side(directory);
                return new VocabularyPair(joint, joint, true, ComputeFingerprint(manifest.Normalization, directory, BpeFiles.VocabFile, BpeFiles.MergesFile));
            case VocabularyManifest.Separate:
                string s = SourceDirectory, t = TargetDirectory;
                return new VocabularyPair(Side(Path.Combine(directory, s)), Side(Path.Combine(directory, t)), false,
                    ComputeFingerprint(manifest.Normalization, directory,
                        $"{s}/{BpeFiles.VocabFile}", $"{s}/{BpeFiles.MergesFile}", $"{t}/{BpeFiles.VocabFile}", $"{t}/{BpeFiles.MergesFile}"));
            default:
                throw new UserError($"{Path.Combine(directory, VocabularyManifest.FileName)}: unknown kind '{manifest.Kind}'");
        }
    }

    private static VocabularyPair LoadSentencePiece(string directory, string[] models)
    {
        string source = Path.Combine(directory, "source.model"), target = Path.Combine(directory, "target.model");
        if (models.Length == 1)
        {
            var joint = new Vocabulary(SentencePieceSubwordModel.Load(models[0]));
            return new VocabularyPair(joint, joint, true, ComputeFingerprint(Normalization.None, directory, Path.GetFileName(models[0])));
        }
        if (models.Length == 2 && File.Exists(source) && File.Exists(target))
        {
            return new VocabularyPair(new Vocabulary(SentencePieceSubwordModel.Load(source)), new Vocabulary(SentencePieceSubwordModel.Load(target)),
                false, ComputeFingerprint(Normalization.None, directory, "source.model", "target.model"));
        }
        throw new UserError($"{directory}: expected one SentencePiece .model, or source.model + target.model (found {models.Length})");
    }

    /// <summary>SHA-256 over each file's name and bytes, in a fixed order, plus the normalisation that encoding applies.</summary>
    private static string ComputeFingerprint(Normalization normalization, string directory, params string[] files)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"normalization={TextNormalizer.Name(normalization)}\n"));
        foreach (string file in files)
        {
            byte[] content;
            try
            {
                content = File.ReadAllBytes(Path.Combine(directory, file));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UserError($"{Path.Combine(directory, file)}: cannot read ({e.Message})", e);
            }
            hash.AppendData(Encoding.UTF8.GetBytes($"{file} {content.Length}\n"));
            hash.AppendData(content);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
