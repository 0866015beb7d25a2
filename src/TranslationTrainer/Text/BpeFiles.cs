using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace TranslationTrainer.Text;

/// <summary>
/// A <see cref="BpeModel"/> on disk in the Hugging Face layout that Microsoft.ML.Tokenizers' BpeTokenizer reads:
/// vocab.json ({"piece": id, …} in id order) and merges.txt ("#version: 0.2" then "left right" per merge).
/// Pieces never contain a space (spaces are ▁), so the merges format is unambiguous.
/// </summary>
public static class BpeFiles
{
    public const string VocabFile = "vocab.json", MergesFile = "merges.txt";

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    public static void Write(BpeModel model, string directory)
    {
        Directory.CreateDirectory(directory);
        using (var stream = File.Create(Path.Combine(directory, VocabFile)))
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions
        {
            Indented = true,
            NewLine = "\n",
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // keep "▁de" readable instead of "\u2581de"
        }))
        {
            json.WriteStartObject();
            for (int id = 0; id < model.Pieces.Count; id++)
            {
                json.WriteNumber(model.Pieces[id], id);
            }
            json.WriteEndObject();
        }
        var merges = new StringBuilder("#version: 0.2\n");
        foreach (var (left, right) in model.Merges)
        {
            merges.Append(left).Append(' ').Append(right).Append('\n');
        }
        File.WriteAllText(Path.Combine(directory, MergesFile), merges.ToString(), Utf8);
    }

    /// <summary>Microsoft.ML.Tokenizers' BpeTokenizer over the two files, with the pre-tokenizer used in learning.</summary>
    public static BpeTokenizer Load(string directory)
    {
        string vocab = Path.Combine(directory, VocabFile), merges = Path.Combine(directory, MergesFile);
        foreach (string file in new[] { vocab, merges })
        {
            if (!File.Exists(file))
            {
                throw new UserError($"{file}: missing");
            }
        }
        try
        {
            return BpeTokenizer.Create(vocab, merges,
                preTokenizer: new RegexPreTokenizer(WordSplitter.Regex, null),
                normalizer: null, // TextNormalizer runs first; see Vocabulary.Encode
                specialTokens: null, // "<s>" typed in text is text, not a control token
                unknownToken: BpeModel.Unk);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new UserError($"{directory}: cannot load {VocabFile} + {MergesFile} ({e.Message})", e);
        }
    }

    /// <summary>The same tokenizer as <see cref="Load"/>, built in memory from a learned model.</summary>
    public static BpeTokenizer CreateTokenizer(BpeModel model)
        => BpeTokenizer.Create(new Microsoft.ML.Tokenizers.BpeOptions(model.Pieces.Select((piece, id) => KeyValuePair.Create(piece, id)))
        {
            Merges = model.Merges.Select(m => $"{m.Left} {m.Right}"),
            PreTokenizer = new RegexPreTokenizer(WordSplitter.Regex, null),
            UnknownToken = BpeModel.Unk,
        });
}
